/* sd_notify(3) without libsystemd: one datagram per message to $NOTIFY_SOCKET. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sd_notify.h"
#include "utf8.h"

#define NOTIFY_MIN_PING 0.001      /* seconds: a tiny WATCHDOG_USEC must not spin the loop */

/* Decimal digits only, no sign, no blanks, at most max; 0 or -1. */
static int
sd_notify_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*out = n;
	return 0;
}

/* "/path" or "@abstract"; the address length counts no trailing NUL, which matters for
 * abstract names: every byte of the length is part of the name. */
static int
sd_notify_address(struct sd_notify *n, const char *env)
{
	size_t len = strlen(env);

	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.sun_family = AF_UNIX;
	if (env[0] == '/' && len < sizeof(n->addr.sun_path))
		memcpy(n->addr.sun_path, env, len);
	else if (env[0] == '@' && len >= 2 && len <= sizeof(n->addr.sun_path))
		memcpy(n->addr.sun_path + 1, env + 1, len - 1);
	else
		return -1;
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	return 0;
}

/* The watchdog is for this process only when WATCHDOG_PID is unset or names it. */
static void
sd_notify_watchdog_env(struct sd_notify *n, const char *usec, const char *pid)
{
	uint64_t u, p;

	n->watchdog_usec = 0;
	if (usec == NULL)
		return;
	if (sd_notify_parse_u64(usec, UINT64_MAX, &u) < 0 || u == 0) {
		log_warn("notify: ignoring WATCHDOG_USEC=%.*s: not a positive number of "
		    "microseconds", (int)utf8_cut(usec, 32), usec);
		return;
	}
	if (pid != NULL && sd_notify_parse_u64(pid, INT32_MAX, &p) < 0) {
		log_warn("notify: ignoring the watchdog: WATCHDOG_PID=%.*s is not a process id",
		    (int)utf8_cut(pid, 32), pid);
		return;
	}
	if (pid != NULL && p != (uint64_t)getpid())
		return;
	n->watchdog_usec = u;
}

int
sd_notify_init(struct sd_notify *n)
{
	const char *env = getenv("NOTIFY_SOCKET");
	int rc = 0;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (env != NULL && sd_notify_address(n, env) < 0) {
		log_err("notify: NOTIFY_SOCKET=%.*s is neither an absolute path nor an "
		    "@abstract name that fits a socket address; not notifying systemd",
		    (int)utf8_cut(env, 120), env);
		rc = -1;
	} else if (env != NULL &&
	    (n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		log_err("notify: socket: %s; not notifying systemd", strerror(errno));
		rc = -1;
	} else if (env != NULL) {
		sd_notify_watchdog_env(n, getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"));
		rc = 1;
	}
	/* Alert programs are not the service's main process: they must not see these. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return rc;
}

/* Logs the first failure only: a watchdog ping every few seconds must not flood the log. */
static void
sd_notify_failed(struct sd_notify *n, const char *what, const char *why)
{
	if (n->failed)
		return;
	n->failed = true;
	log_warn("notify: cannot send %.*s to systemd: %s (later failures are not logged)",
	    (int)utf8_cut(what, 40), what, why);
}

static void
sd_notify_vsend(struct sd_notify *n, const char *fmt, va_list ap)
{
	char msg[SD_NOTIFY_MAX_MESSAGE];
	ssize_t sent;
	int len;

	if (n->fd < 0)
		return;
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (len < 0 || (size_t)len >= sizeof(msg)) {
		sd_notify_failed(n, fmt, "message too long");
		return;
	}
	do
		sent = sendto(n->fd, msg, (size_t)len, MSG_NOSIGNAL,
		    (const struct sockaddr *)&n->addr, n->addrlen);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		sd_notify_failed(n, msg, strerror(errno));
}

void
sd_notify_send(struct sd_notify *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sd_notify_vsend(n, fmt, ap);
	va_end(ap);
}

void
sd_notify_ready(struct sd_notify *n)
{
	sd_notify_send(n, "READY=1");
}

void
sd_notify_status(struct sd_notify *n, const char *text)
{
	char line[SD_NOTIFY_MAX_STATUS + 1];
	size_t len = strlen(text), i;

	if (len > SD_NOTIFY_MAX_STATUS) {
		len = SD_NOTIFY_MAX_STATUS;
		/* Back up to the first byte of a UTF-8 sequence. */
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(line, text, len);
	line[len] = '\0';
	/* A newline would end STATUS= and start a key of its own. */
	for (i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	sd_notify_send(n, "STATUS=%s", line);
}

void
sd_notify_reloading(struct sd_notify *n)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notify_send(n, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

void
sd_notify_stopping(struct sd_notify *n)
{
	sd_notify_send(n, "STOPPING=1");
}

static void
sd_notify_ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	sd_notify_send(w->data, "WATCHDOG=1");
}

void
sd_notify_watchdog_start(struct sd_notify *n, struct ev_loop *loop)
{
	double every = (double)n->watchdog_usec / 2e6;

	if (n->fd < 0 || n->watchdog_usec == 0 || n->loop != NULL)
		return;
	if (every < NOTIFY_MIN_PING)
		every = NOTIFY_MIN_PING;
	n->loop = loop;
	ev_timer_init(&n->watchdog, sd_notify_ping_cb, every, every);
	n->watchdog.data = n;
	ev_timer_start(loop, &n->watchdog);
	/* Start-up may have taken a while: the first ping should not wait another half. */
	sd_notify_send(n, "WATCHDOG=1");
}

void
sd_notify_close(struct sd_notify *n)
{
	if (n->loop != NULL)
		ev_timer_stop(n->loop, &n->watchdog);
	n->loop = NULL;
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
