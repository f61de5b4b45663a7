/* Exec sinks: a child per delivery, never waited for synchronously. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hook.h"

struct hook {
	struct ev_loop *loop;
	pid_t pid;
	int in;                 /* write end of the child's stdin, -1 once closed */
	char *input;
	size_t len, off;
	bool timed_out;
	double timeout;
	ev_child child;
	ev_timer timer;
	ev_io writer;
	hook_done_fn *done;
	void *arg;
};

static void
hook_close_input(struct hook *h)
{
	ev_io_stop(h->loop, &h->writer);
	if (h->in >= 0)
		close(h->in);
	h->in = -1;
}

static void
hook_destroy(struct hook *h)
{
	hook_close_input(h);
	ev_child_stop(h->loop, &h->child);
	ev_timer_stop(h->loop, &h->timer);
	free(h->input);
	free(h);
}

/* Feeds stdin without blocking; a program that does not read it is its own business. */
static void
hook_write(struct hook *h)
{
	ssize_t n;

	while (h->off < h->len) {
		n = write(h->in, h->input + h->off, h->len - h->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ev_io_start(h->loop, &h->writer);
			return;
		}
		if (n < 0)
			break;
		h->off += (size_t)n;
	}
	hook_close_input(h);
}

static void
hook_writer_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	hook_write(w->data);
}

static void
hook_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hook *h = w->data;

	/* The whole process group: a script's own children go too. */
	h->timed_out = true;
	kill(-h->pid, SIGKILL);
	kill(h->pid, SIGKILL);
}

static void
hook_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct hook *h = w->data;
	int st = w->rstatus;
	char why[128];
	bool ok = false;

	if (WIFSTOPPED(st) || WIFCONTINUED(st))
		return;
	if (h->timed_out)
		snprintf(why, sizeof(why), "killed after its timeout of %.0f s", h->timeout);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		ok = true;
	else if (WIFEXITED(st))
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(st));
	else
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(st));
	/* Whatever it left running in its group must not outlive the delivery. */
	kill(-h->pid, SIGKILL);
	h->done(h->arg, ok, ok ? NULL : why);
	hook_destroy(h);
}

static int
hook_spawn(struct hook *h, const char *program, char *const envp[], int fd0, char *err,
    size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char *argv[] = { (char *)program, NULL };
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* stdin: the event; stdout joins stderr, so a hook's words reach the daemon's log. */
	posix_spawn_file_actions_adddup2(&fa, fd0, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	/* curl's sockets and wake-up pipe are not all close-on-exec: the hook gets 0-2 only. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	/* A clean slate: no blocked signals, default dispositions (ratd ignores SIGPIPE),
	 * and a process group of its own to kill as a whole. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&h->pid, program, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0)
		snprintf(err, errlen, "cannot run %s: %s", program, strerror(rc));
	return rc == 0 ? 0 : -1;
}

struct hook *
hook_run(struct ev_loop *loop, const char *program, char *const envp[], const char *input,
    size_t len, double timeout, hook_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct hook *h;
	int fds[2];

	if ((h = calloc(1, sizeof(*h))) == NULL || (h->input = malloc(len + 1)) == NULL) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(h->input, input, len);
	h->len = len;
	h->loop = loop;
	h->timeout = timeout;
	h->done = done;
	h->arg = arg;
	h->in = -1;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		free(h->input);
		free(h);
		return NULL;
	}
	if (hook_spawn(h, program, envp, fds[0], err, errlen) < 0) {
		close(fds[0]);
		close(fds[1]);
		free(h->input);
		free(h);
		return NULL;
	}
	close(fds[0]);
	h->in = fds[1];
	fcntl(h->in, F_SETFL, fcntl(h->in, F_GETFL) | O_NONBLOCK);
	ev_child_init(&h->child, hook_child_cb, h->pid, 0);
	ev_timer_init(&h->timer, hook_timer_cb, timeout, 0.);
	ev_io_init(&h->writer, hook_writer_cb, h->in, EV_WRITE);
	h->child.data = h->timer.data = h->writer.data = h;
	ev_child_start(loop, &h->child);
	ev_timer_start(loop, &h->timer);
	hook_write(h);
	return h;
}

void
hook_cancel(struct hook *h)
{
	if (h == NULL)
		return;
	kill(-h->pid, SIGKILL);
	kill(h->pid, SIGKILL);
	hook_destroy(h);
}
