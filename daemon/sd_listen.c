/* Socket activation: validate and adopt the one listening socket systemd passes. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sd_listen.h"
#include "utf8.h"

#define LISTEN_MAX_FDS 65536       /* more is not a count systemd would pass */

static int sd_listen_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
sd_listen_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Decimal digits only, no sign, no blanks, at most max; 0 or -1. */
static int
sd_listen_parse(const char *s, long max, long *out)
{
	long n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > (max - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*out = n;
	return 0;
}

static int
sd_listen_sockopt(int fd, int opt, int *val)
{
	socklen_t len = sizeof(*val);

	return getsockopt(fd, SOL_SOCKET, opt, val, &len);
}

/* fd must be what ratd.socket describes: ListenStream= on a path, Accept=no. */
static int
sd_listen_check(int fd, char *err, size_t errlen)
{
	int domain, type, accepting, fl;

	if (fcntl(fd, F_GETFD) < 0)
		return sd_listen_fail(err, errlen, "LISTEN_FDS=1 but fd %d is not open", fd);
	if (sd_listen_sockopt(fd, SO_DOMAIN, &domain) < 0)
		return sd_listen_fail(err, errlen, "fd %d passed by systemd is not a socket (%s)",
		    fd, strerror(errno));
	if (domain != AF_UNIX)
		return sd_listen_fail(err, errlen, "fd %d passed by systemd is not a Unix socket "
		    "(family %d): make ListenStream= in ratd.socket a path such as "
		    "/run/ratd/ratd.sock", fd, domain);
	if (sd_listen_sockopt(fd, SO_TYPE, &type) < 0 || type != SOCK_STREAM)
		return sd_listen_fail(err, errlen, "fd %d passed by systemd is not a stream socket: "
		    "use ListenStream=, not ListenDatagram= or ListenSequentialPacket=", fd);
	if (sd_listen_sockopt(fd, SO_ACCEPTCONN, &accepting) < 0 || !accepting)
		return sd_listen_fail(err, errlen, "fd %d passed by systemd is not listening: set "
		    "Accept=no in ratd.socket", fd);
	if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    (fl = fcntl(fd, F_GETFD)) < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return sd_listen_fail(err, errlen, "fd %d passed by systemd: fcntl: %s", fd,
		    strerror(errno));
	return 0;
}

static int
sd_listen_take(int *fd, char *err, size_t errlen)
{
	const char *pid_env = getenv("LISTEN_PID"), *fds_env = getenv("LISTEN_FDS");
	long pid, nfds;

	if (pid_env == NULL && fds_env == NULL)
		return 0;
	if (pid_env == NULL)
		return sd_listen_fail(err, errlen, "LISTEN_FDS is set without LISTEN_PID: a socket "
		    "activator must set both, or neither");
	if (sd_listen_parse(pid_env, INT32_MAX, &pid) < 0)
		return sd_listen_fail(err, errlen, "LISTEN_PID='%.*s' is not a process id",
		    (int)utf8_cut(pid_env, 32), pid_env);
	/* Inherited from a parent the sockets were meant for: not ours. */
	if (pid != (long)getpid())
		return 0;
	if (fds_env == NULL)
		return sd_listen_fail(err, errlen, "LISTEN_PID is set without LISTEN_FDS: a socket "
		    "activator must set both, or neither");
	if (sd_listen_parse(fds_env, LISTEN_MAX_FDS, &nfds) < 0)
		return sd_listen_fail(err, errlen, "LISTEN_FDS='%.*s' is not a number of sockets",
		    (int)utf8_cut(fds_env, 32), fds_env);
	if (nfds == 0)
		return 0;
	if (nfds > 1)
		return sd_listen_fail(err, errlen, "systemd passed %ld sockets, ratd takes exactly "
		    "one: give ratd.socket a single ListenStream= line and make no other socket "
		    "unit start ratd.service", nfds);
	if (sd_listen_check(SD_LISTEN_FD, err, errlen) < 0)
		return -1;
	*fd = SD_LISTEN_FD;
	return 1;
}

int
sd_listen_inherited(int *fd, char *err, size_t errlen)
{
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	rc = sd_listen_take(fd, err, errlen);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}

int
sd_listen_path(int fd, char *buf, size_t len)
{
	struct sockaddr_un sa;
	socklen_t salen = sizeof(sa);
	size_t n;

	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0 || sa.sun_family != AF_UNIX ||
	    salen <= offsetof(struct sockaddr_un, sun_path) || salen > sizeof(sa))
		return -1;
	n = salen - offsetof(struct sockaddr_un, sun_path);
	if (sa.sun_path[0] == '\0')
		sa.sun_path[0] = '@';
	else
		n = strnlen(sa.sun_path, n);
	if (n >= len)
		return -1;
	memcpy(buf, sa.sun_path, n);
	buf[n] = '\0';
	return 0;
}
