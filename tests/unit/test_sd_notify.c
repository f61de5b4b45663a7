/* sd_notify without libsystemd: the exact datagrams systemd would receive. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "sd_notify.h"

/* A stand-in for systemd's notification socket. */
struct fixture {
	char dir[64];
	char path[128];
	int fd;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/test_notify.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
	strcpy(sa.sun_path, f->path);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	setenv("NOTIFY_SOCKET", f->path, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return 0;
}

/* The next datagram waiting on fd, NUL-terminated; asserts there is one. */
static const char *
next_msg(int fd)
{
	static char buf[SD_NOTIFY_MAX_MESSAGE + 1];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static void
assert_no_msg(int fd)
{
	char c;

	assert_int_equal(recv(fd, &c, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

static uint64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
test_messages_to_a_path_socket(void **state)
{
	struct fixture *f = *state;
	struct sd_notify n;

	assert_int_equal(sd_notify_init(&n), 1);
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_int_equal(n.addrlen, offsetof(struct sockaddr_un, sun_path) + strlen(f->path));
	sd_notify_ready(&n);
	assert_string_equal(next_msg(f->fd), "READY=1");
	sd_notify_status(&n, "tracking 1 treaty");
	assert_string_equal(next_msg(f->fd), "STATUS=tracking 1 treaty");
	sd_notify_stopping(&n);
	assert_string_equal(next_msg(f->fd), "STOPPING=1");
	sd_notify_send(&n, "STATUS=%s\nERRNO=%d", "cannot bind", 98);
	assert_string_equal(next_msg(f->fd), "STATUS=cannot bind\nERRNO=98");
	assert_no_msg(f->fd);
	assert_false(n.failed);
	sd_notify_close(&n);
	assert_int_equal(n.fd, -1);
	sd_notify_ready(&n);
	assert_no_msg(f->fd);
}

static void
test_messages_to_an_abstract_socket(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64], env[65];
	struct sd_notify n;
	socklen_t len;
	int fd;

	/* Bound with the exact length: a sender counting a trailing NUL or the whole of
	 * sun_path would name another socket and nothing would arrive. */
	snprintf(name, sizeof(name), "ratd-test-notify-%ld", (long)getpid());
	memcpy(sa.sun_path + 1, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	snprintf(env, sizeof(env), "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	assert_int_equal(sd_notify_init(&n), 1);
	assert_int_equal(n.addrlen, len);
	sd_notify_ready(&n);
	assert_string_equal(next_msg(fd), "READY=1");
	sd_notify_stopping(&n);
	assert_string_equal(next_msg(fd), "STOPPING=1");
	assert_false(n.failed);
	sd_notify_close(&n);
	close(fd);
}

static void
test_reloading_carries_the_monotonic_clock(void **state)
{
	struct fixture *f = *state;
	unsigned long long usec;
	uint64_t before, after;
	struct sd_notify n;
	const char *msg;
	int end = 0;

	assert_int_equal(sd_notify_init(&n), 1);
	before = now_usec();
	sd_notify_reloading(&n);
	after = now_usec();
	msg = next_msg(f->fd);
	assert_int_equal(strncmp(msg, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
	assert_int_equal(sscanf(msg + 27, "%llu%n", &usec, &end), 1);
	assert_int_equal(msg[27 + end], '\0');
	assert_true(usec >= before);
	assert_true(usec <= after);
	sd_notify_close(&n);
}

static void
test_status_is_one_line(void **state)
{
	struct fixture *f = *state;
	struct sd_notify n;

	assert_int_equal(sd_notify_init(&n), 1);
	sd_notify_status(&n, "IV-13: 59 parties\nREADY=1\r\nforged");
	assert_string_equal(next_msg(f->fd), "STATUS=IV-13: 59 parties READY=1  forged");
	sd_notify_close(&n);
}

static void
test_long_status_is_cut_on_a_character(void **state)
{
	struct fixture *f = *state;
	char text[2 * 300 + 2], want[8 + SD_NOTIFY_MAX_STATUS];
	struct sd_notify n;
	const char *msg;
	size_t i;

	assert_int_equal(sd_notify_init(&n), 1);
	memset(text, 'x', 600);
	text[600] = '\0';
	sd_notify_status(&n, text);
	msg = next_msg(f->fd);
	assert_int_equal(strlen(msg), strlen("STATUS=") + SD_NOTIFY_MAX_STATUS);
	/* "a" then 300 two-byte e-acutes: byte 512 falls inside one, which must go whole. */
	text[0] = 'a';
	for (i = 0; i < 300; i++)
		memcpy(text + 1 + 2 * i, "\xc3\xa9", 2);
	text[601] = '\0';
	sd_notify_status(&n, text);
	msg = next_msg(f->fd);
	snprintf(want, sizeof(want), "STATUS=%.*s", SD_NOTIFY_MAX_STATUS - 1, text);
	assert_string_equal(msg, want);
	assert_int_equal(strlen(msg), strlen("STATUS=") + SD_NOTIFY_MAX_STATUS - 1);
	sd_notify_close(&n);
}

static void
test_too_long_a_message_is_not_sent(void **state)
{
	struct fixture *f = *state;
	static char big[SD_NOTIFY_MAX_MESSAGE + 1];
	struct sd_notify n;

	assert_int_equal(sd_notify_init(&n), 1);
	memset(big, 'x', SD_NOTIFY_MAX_MESSAGE);
	sd_notify_send(&n, "X=%s", big);
	assert_no_msg(f->fd);
	assert_true(n.failed);
	sd_notify_close(&n);
}

static void
test_no_notify_socket_means_no_ops(void **state)
{
	struct fixture *f = *state;
	struct sd_notify n;

	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(sd_notify_init(&n), 0);
	assert_int_equal(n.fd, -1);
	/* Nobody to ping. */
	assert_int_equal(n.watchdog_usec, 0);
	assert_null(getenv("WATCHDOG_USEC"));
	sd_notify_ready(&n);
	sd_notify_status(&n, "x");
	sd_notify_reloading(&n);
	sd_notify_stopping(&n);
	sd_notify_watchdog_start(&n, EV_DEFAULT);
	assert_null(n.loop);
	assert_no_msg(f->fd);
	sd_notify_close(&n);
}

static void
test_unusable_notify_socket_is_refused(void **state)
{
	static const char *const bad[] = {
		"", "relative/notify", "@", "vsock:2:1234", "notify",
	};
	char longpath[sizeof(((struct sockaddr_un *)0)->sun_path) + 2] = { 0 };
	struct fixture *f = *state;
	struct sd_notify n;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("NOTIFY_SOCKET", bad[i], 1);
		assert_int_equal(sd_notify_init(&n), -1);
		assert_int_equal(n.fd, -1);
		assert_null(getenv("NOTIFY_SOCKET"));
		sd_notify_ready(&n);
	}
	/* A path needs its NUL inside sun_path; an abstract name does not. */
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 2] = '\0';
	setenv("NOTIFY_SOCKET", longpath, 1);
	assert_int_equal(sd_notify_init(&n), -1);
	longpath[0] = '@';
	setenv("NOTIFY_SOCKET", longpath, 1);
	assert_int_equal(sd_notify_init(&n), 1);
	sd_notify_close(&n);
	longpath[sizeof(longpath) - 2] = 'a';
	setenv("NOTIFY_SOCKET", longpath, 1);
	assert_int_equal(sd_notify_init(&n), -1);
	assert_no_msg(f->fd);
}

static uint64_t
watchdog_for(const struct fixture *f, const char *usec, const char *pid)
{
	struct sd_notify n;

	setenv("NOTIFY_SOCKET", f->path, 1);
	helpers_setenv("WATCHDOG_USEC", usec);
	helpers_setenv("WATCHDOG_PID", pid);
	assert_int_equal(sd_notify_init(&n), 1);
	assert_null(getenv("WATCHDOG_USEC"));
	assert_null(getenv("WATCHDOG_PID"));
	sd_notify_close(&n);
	return n.watchdog_usec;
}

static void
test_watchdog_environment(void **state)
{
	static const char *const bad_usec[] = {
		"", "0", "30s", "-1", "+30", " 30", "30 ", "3.5", "0x10",
		"18446744073709551616",
	};
	static const char *const bad_pid[] = { "", "abc", "-1", "12x", "99999999999" };
	struct fixture *f = *state;
	char me[32], other[32], padded[32];
	size_t i;

	snprintf(me, sizeof(me), "%ld", (long)getpid());
	snprintf(other, sizeof(other), "%ld", (long)getpid() + 1);
	snprintf(padded, sizeof(padded), "+%ld", (long)getpid());
	assert_int_equal(watchdog_for(f, NULL, NULL), 0);
	assert_int_equal(watchdog_for(f, "30000000", NULL), 30000000);
	assert_int_equal(watchdog_for(f, "30000000", me), 30000000);
	assert_int_equal(watchdog_for(f, "18446744073709551615", me), UINT64_MAX);
	assert_int_equal(watchdog_for(f, "30000000", other), 0);
	assert_int_equal(watchdog_for(f, "30000000", padded), 0);
	for (i = 0; i < sizeof(bad_usec) / sizeof(bad_usec[0]); i++)
		assert_int_equal(watchdog_for(f, bad_usec[i], me), 0);
	for (i = 0; i < sizeof(bad_pid) / sizeof(bad_pid[0]); i++)
		assert_int_equal(watchdog_for(f, "30000000", bad_pid[i]), 0);
	assert_no_msg(f->fd);
}

static void
stop_loop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop for the given seconds, or until a watcher breaks it. */
static void
run_loop_for(struct ev_loop *loop, double seconds)
{
	ev_timer stop;

	ev_timer_init(&stop, stop_loop_cb, seconds, 0.);
	ev_timer_start(loop, &stop);
	ev_run(loop, 0);
	ev_timer_stop(loop, &stop);
}

/* Counts the watchdog pings as they arrive; ends the loop once it has seen `want`. */
struct pings {
	ev_io io;
	int n, want;
};

static void
pings_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pings *p = (struct pings *)w;
	char c;

	while (recv(w->fd, &c, 0, MSG_DONTWAIT | MSG_PEEK) >= 0) {
		assert_string_equal(next_msg(w->fd), "WATCHDOG=1");
		p->n++;
	}
	if (p->want > 0 && p->n >= p->want)
		ev_break(loop, EVBREAK_ALL);
}

static void
test_watchdog_pings_from_the_loop(void **state)
{
	struct fixture *f = *state;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct sd_notify n;
	struct pings p = { .want = 0 };
	ev_tstamp t0;

	/* 40 ms: a ping every 20 ms, one at once. */
	setenv("WATCHDOG_USEC", "40000", 1);
	assert_int_equal(sd_notify_init(&n), 1);
	assert_int_equal(n.watchdog_usec, 40000);
	t0 = ev_time();
	sd_notify_watchdog_start(&n, loop);
	assert_ptr_equal(n.loop, loop);
	assert_string_equal(next_msg(f->fd), "WATCHDOG=1");
	ev_io_init(&p.io, pings_cb, f->fd, EV_READ);
	ev_io_start(loop, &p.io);
	/* 200 ms of the loop, longer if a busy machine held it back: three pings must come. */
	run_loop_for(loop, 0.2);
	if (p.n < 3) {
		p.want = 3;
		run_loop_for(loop, 5.0);
	}
	ev_io_stop(loop, &p.io);
	pings_cb(loop, &p.io, 0);
	assert_true(p.n >= 3);
	/* Never more often than every 20 ms (the one at once and one of slack aside). */
	assert_true(p.n <= (int)((ev_time() - t0) / 0.020) + 2);
	sd_notify_close(&n);
	assert_null(n.loop);
	ev_loop_destroy(loop);
}

static void
test_watchdog_off_sends_nothing(void **state)
{
	struct fixture *f = *state;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct sd_notify n;

	assert_int_equal(sd_notify_init(&n), 1);
	sd_notify_watchdog_start(&n, loop);
	assert_null(n.loop);
	run_loop_for(loop, 0.05);
	assert_no_msg(f->fd);
	sd_notify_close(&n);
	ev_loop_destroy(loop);
}

/* Counts occurrences of what in the file at path. */
static int
count_in_file(const char *path, const char *what)
{
	char buf[8192], *p;
	ssize_t len;
	int fd = open(path, O_RDONLY), count = 0;

	assert_true(fd >= 0);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(len >= 0);
	buf[len] = '\0';
	for (p = buf; (p = strstr(p, what)) != NULL; p += strlen(what))
		count++;
	return count;
}

static void
test_send_failures_are_logged_once(void **state)
{
	struct fixture *f = *state;
	char nobody[160], logpath[160];
	struct sd_notify n;
	int saved, logfd, i;

	snprintf(nobody, sizeof(nobody), "%s/nobody", f->dir);
	snprintf(logpath, sizeof(logpath), "%s/log", f->dir);
	setenv("NOTIFY_SOCKET", nobody, 1);
	assert_int_equal(sd_notify_init(&n), 1);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(logfd >= 0);
	dup2(logfd, STDERR_FILENO);
	for (i = 0; i < 5; i++)
		sd_notify_ready(&n);
	sd_notify_stopping(&n);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(logfd);
	assert_true(n.failed);
	assert_int_equal(count_in_file(logpath, "notify: cannot send"), 1);
	assert_int_equal(count_in_file(logpath, "READY=1"), 1);
	unlink(logpath);
	sd_notify_close(&n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_messages_to_a_path_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_messages_to_an_abstract_socket,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reloading_carries_the_monotonic_clock,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_is_one_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_status_is_cut_on_a_character,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long_a_message_is_not_sent,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_notify_socket_means_no_ops,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusable_notify_socket_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_pings_from_the_loop,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_off_sends_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_failures_are_logged_once,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
