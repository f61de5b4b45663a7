/* Socket activation: what systemd passes on fd 3, and every way it can be wrong. */
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "sd_listen.h"

/* The fixture: a scratch directory and the socket path ratd.sock in it. */
static int
setup(void **state)
{
	struct helpers_dir *f = helpers_dir_new("ratd.sock");

	if (f == NULL)
		return -1;
	close(SD_LISTEN_FD);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	close(SD_LISTEN_FD);
	helpers_dir_free(*state);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 0;
}

/* Puts fd on SD_LISTEN_FD, as systemd does. */
static void
pass_fd(int fd)
{
	assert_true(fd >= 0);
	if (fd != SD_LISTEN_FD) {
		assert_int_equal(dup2(fd, SD_LISTEN_FD), SD_LISTEN_FD);
		close(fd);
	}
}

static int
unix_socket(const char *path, int type, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (listening)
		assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static void
set_env(const char *pid, const char *fds)
{
	helpers_setenv("LISTEN_PID", pid);
	helpers_setenv("LISTEN_FDS", fds);
	setenv("LISTEN_FDNAMES", "ratd.socket", 1);
}

static void
set_env_for_me(const char *fds)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	set_env(pid, fds);
}

static void
assert_env_cleared(void)
{
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_FDNAMES"));
}

/* Runs sd_listen_inherited expecting -1 and an error containing what. */
static void
assert_refused(const char *what)
{
	char err[SD_LISTEN_MAX_ERROR];
	int fd = -1;

	assert_int_equal(sd_listen_inherited(&fd, err, sizeof(err)), -1);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(err, what));
	assert_env_cleared();
}

/* sd_listen_inherited finds no socket of ours: 0, and fd is left -1. */
static void
assert_none_inherited(char *err, size_t size)
{
	int fd = -1;

	assert_int_equal(sd_listen_inherited(&fd, err, size), 0);
	assert_int_equal(fd, -1);
}

/* fd passed as systemd's one socket for this process, and refused with what. */
static void
assert_socket_refused(int fd, const char *what)
{
	pass_fd(fd);
	set_env_for_me("1");
	assert_refused(what);
}

static void
test_listening_unix_stream_socket_is_taken(void **state)
{
	struct helpers_dir *f = *state;
	char err[SD_LISTEN_MAX_ERROR], path[128];
	int fd = -1;

	pass_fd(unix_socket(f->path, SOCK_STREAM, true));
	set_env_for_me("1");
	assert_int_equal(sd_listen_inherited(&fd, err, sizeof(err)), 1);
	assert_int_equal(fd, 3);
	assert_string_equal(err, "");
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_env_cleared();
	assert_int_equal(sd_listen_path(fd, path, sizeof(path)), 0);
	assert_string_equal(path, f->path);
	/* Too small a buffer is an error, not a cut path. */
	assert_int_equal(sd_listen_path(fd, path, strlen(f->path)), -1);
}

static void
test_abstract_socket_path_has_an_at_sign(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64], path[128];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	socklen_t len;

	snprintf(name, sizeof(name), "ratd-test-%ld", (long)getpid());
	memcpy(sa.sun_path + 1, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(sd_listen_path(fd, path, sizeof(path)), 0);
	assert_int_equal(path[0], '@');
	assert_string_equal(path + 1, name);
	close(fd);
}

static void
test_nothing_passed(void **state)
{
	char err[SD_LISTEN_MAX_ERROR] = "stale";

	set_env(NULL, NULL);
	unsetenv("LISTEN_FDNAMES");
	assert_none_inherited(err, sizeof(err));
	assert_string_equal(err, "");
}

static void
test_sockets_for_another_process_are_not_ours(void **state)
{
	struct helpers_dir *f = *state;
	char err[SD_LISTEN_MAX_ERROR], pid[32];

	pass_fd(unix_socket(f->path, SOCK_STREAM, true));
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	set_env(pid, "1");
	assert_none_inherited(err, sizeof(err));
	/* Unset all the same: alert programs must not take them for theirs. */
	assert_env_cleared();
	/* And fd 3 is left alone. */
	assert_true(fcntl(SD_LISTEN_FD, F_GETFD) >= 0);
}

static void
test_zero_sockets_is_none(void **state)
{
	char err[SD_LISTEN_MAX_ERROR];

	set_env_for_me("0");
	assert_none_inherited(err, sizeof(err));
	assert_env_cleared();
}

static void
test_more_than_one_socket_is_refused(void **state)
{
	struct helpers_dir *f = *state;

	pass_fd(unix_socket(f->path, SOCK_STREAM, true));
	set_env_for_me("2");
	assert_refused("systemd passed 2 sockets, ratd takes exactly one");
	set_env_for_me("2");
	assert_refused("single ListenStream=");
}

static void
test_udp_socket_is_refused(void **state)
{
	assert_socket_refused(socket(AF_INET, SOCK_DGRAM, 0), "not a Unix socket (family 2)");
}

static void
test_tcp_listener_is_refused(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_socket_refused(fd, "make ListenStream= in ratd.socket a path");
}

static void
test_unix_datagram_socket_is_refused(void **state)
{
	struct helpers_dir *f = *state;

	assert_socket_refused(unix_socket(f->path, SOCK_DGRAM, false), "not a stream socket: use ListenStream=");
}

static void
test_socket_not_listening_is_refused(void **state)
{
	struct helpers_dir *f = *state;

	assert_socket_refused(unix_socket(f->path, SOCK_STREAM, false), "not listening: set Accept=no");
}

static void
test_connected_socket_of_accept_yes_is_refused(void **state)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_socket_refused(sv[0], "Accept=no");
	close(sv[1]);
}

static void
test_closed_fd_is_refused(void **state)
{
	set_env_for_me("1");
	assert_refused("fd 3 is not open");
}

static void
test_pipe_is_refused(void **state)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	pass_fd(p[0]);
	close(p[1]);
	set_env_for_me("1");
	assert_refused("is not a socket");
}

static void
test_garbage_is_refused(void **state)
{
	static const char *const bad[] = {
		"", "+1", "-1", " 1", "1 ", "1x", "0x1", "1e3", "\xd9\xa1", "99999999999999999999",
	};
	char pid[32];
	size_t i;

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_env(bad[i], "1");
		assert_refused("is not a process id");
		set_env(pid, bad[i]);
		assert_refused("is not a number of sockets");
	}
	/* A pid with our digits and junk after them is still junk. */
	snprintf(pid, sizeof(pid), "%ld ", (long)getpid());
	set_env(pid, "1");
	assert_refused("is not a process id");
}

static void
test_half_set_environment_is_refused(void **state)
{
	set_env(NULL, "1");
	assert_refused("LISTEN_FDS is set without LISTEN_PID");
	set_env_for_me(NULL);
	assert_refused("LISTEN_PID is set without LISTEN_FDS");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listening_unix_stream_socket_is_taken,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_abstract_socket_path_has_an_at_sign,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_passed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sockets_for_another_process_are_not_ours,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_sockets_is_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_more_than_one_socket_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_socket_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_listener_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_datagram_socket_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_not_listening_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_connected_socket_of_accept_yes_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_fd_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipe_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_set_environment_is_refused,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
