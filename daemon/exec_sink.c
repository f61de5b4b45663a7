/* Exec sinks: a child per delivery, never waited for synchronously. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_sink.h"
#include "log.h"

struct exec_sink {
	struct ev_loop *loop;
	char *name;             /* the sink's, for the log */
	pid_t pid;
	int in;                 /* write end of the child's stdin, -1 once closed */
	int out;                /* read end of its stdout and stderr, -1 once closed */
	char *input;
	size_t len, off;
	bool timed_out;
	double timeout;
	ev_child child;
	ev_timer timer;
	ev_io writer;
	ev_io reader;
	exec_sink_done_fn *done;
	void *arg;
	char line[EXEC_SINK_LINE_MAX];   /* the output line being read, its first bytes */
	size_t line_len;
	bool line_cut;              /* longer than line: the rest is dropped */
	unsigned logged, suppressed;
	struct exec_sink_log_budget *budget;   /* the caller's rate over runs, or NULL */
};

static void
exec_sink_close_input(struct exec_sink *h)
{
	ev_io_stop(h->loop, &h->writer);
	if (h->in >= 0)
		close(h->in);
	h->in = -1;
}

static void
exec_sink_close_output(struct exec_sink *h)
{
	ev_io_stop(h->loop, &h->reader);
	if (h->out >= 0)
		close(h->out);
	h->out = -1;
}

static void
exec_sink_destroy(struct exec_sink *h)
{
	exec_sink_close_input(h);
	exec_sink_close_output(h);
	ev_child_stop(h->loop, &h->child);
	ev_timer_stop(h->loop, &h->timer);
	free(h->input);
	free(h->name);
	free(h);
}

/* The next code point of s (len > 0): its length, or 0 when s does not start with a
 * valid UTF-8 sequence (overlong forms, surrogates and values past U+10FFFF included),
 * -1 when it is the valid start of a sequence cut by the end of s. */
static int
exec_sink_utf8(const unsigned char *s, size_t len, uint32_t *cp)
{
	int n, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, *cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, *cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, *cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((size_t)i >= len)
			return -1;
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3F);
	}
	if ((n == 3 && *cp < 0x800) || (n == 4 && (*cp < 0x10000 || *cp > 0x10FFFF)) ||
	    (*cp >= 0xD800 && *cp <= 0xDFFF))
		return 0;
	return n;
}

/* What a terminal or log reader could be fooled by: controls (C0, DEL, C1), line and
 * paragraph separators, bidirectional embeddings, overrides and isolates. */
static bool
exec_sink_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
	    (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t
exec_sink_clean(const char *in, size_t len, bool cut, char *out, size_t cap)
{
	static const char repl[] = "\xEF\xBF\xBD", ell[] = "\xE2\x80\xA6";
	const unsigned char *s = (const unsigned char *)in;
	const char *sub;
	size_t i = 0, o = 0, sublen;
	uint32_t cp = 0;
	int n;

	while (i < len) {
		n = exec_sink_utf8(s + i, len - i, &cp);
		if (n < 0 && cut)
			break;   /* the caller's cut fell inside this character: drop its start */
		if (n > 0 && cp == '\t')
			sub = " ", sublen = 1;
		else if (n <= 0 || exec_sink_unsafe(cp))
			sub = repl, sublen = 3;
		else
			sub = in + i, sublen = (size_t)n;
		/* Room is kept for the ellipsis that marks a cut, and the NUL. */
		if (o + sublen > cap - 4) {
			cut = true;
			break;
		}
		memcpy(out + o, sub, sublen);
		o += sublen;
		i += n > 0 ? (size_t)n : 1;
	}
	if (cut) {
		memcpy(out + o, ell, 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

/* Takes one line from the budget, refilled at EXEC_SINK_LOG_RATE up to
 * EXEC_SINK_LOG_BURST; true when the line may be logged. */
static bool
exec_sink_budget_take(struct exec_sink *h)
{
	struct exec_sink_log_budget *b = h->budget;
	double now = ev_now(h->loop);

	if (b == NULL)
		return true;
	b->tokens = fmin(EXEC_SINK_LOG_BURST, b->tokens + (now - b->at) * EXEC_SINK_LOG_RATE);
	b->at = now;
	if (b->tokens < 1.)
		return false;
	b->tokens -= 1.;
	return true;
}

/* One line of the program's output to the log, prefixed and cleaned, while the run's
 * allowance and the budget last; blank lines are skipped. */
static void
exec_sink_emit(struct exec_sink *h)
{
	char clean[EXEC_SINK_LINE_MAX + 1];   /* the bound, ellipsis included */
	size_t len = h->line_len;

	if (len > 0 && h->line[len - 1] == '\r' && !h->line_cut)
		len--;
	if (len > 0) {
		if (h->logged < EXEC_SINK_LINES_MAX && exec_sink_budget_take(h)) {
			exec_sink_clean(h->line, len, h->line_cut, clean, sizeof(clean));
			log_notice("alert %s: hook: %s", h->name, clean);
			h->logged++;
		} else
			h->suppressed++;
	}
	h->line_len = 0;
	h->line_cut = false;
}

static void
exec_sink_take(struct exec_sink *h, const char *p, size_t n)
{
	const char *nl;
	size_t part, room;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		part = nl ? (size_t)(nl - p) : n;
		room = sizeof(h->line) - h->line_len;
		memcpy(h->line + h->line_len, p, part < room ? part : room);
		h->line_len += part < room ? part : room;
		if (part > room)
			h->line_cut = true;
		if (nl == NULL)
			return;
		exec_sink_emit(h);
		p = nl + 1;
		n -= part + 1;
	}
}

/* Reads what is there, at most max bytes: a chatty program must neither block on a
 * full pipe nor hold the loop. At the end of the output, the last line goes out. */
static void
exec_sink_read(struct exec_sink *h, size_t max)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (h->out >= 0 && total < max) {
		n = read(h->out, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			exec_sink_close_output(h);
			break;
		}
		exec_sink_take(h, buf, (size_t)n);
		total += (size_t)n;
	}
}

static void
exec_sink_reader_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	exec_sink_read(w->data, EXEC_SINK_READ_MAX);
}

/* How many lines went unlogged: this run's, with those an empty budget held back
 * before, in one line when the budget allows, else added to what it holds back. */
static void
exec_sink_report_suppressed(struct exec_sink *h)
{
	unsigned long n = h->suppressed + (h->budget != NULL ? h->budget->dropped : 0);

	if (n == 0)
		return;
	if (h->budget != NULL && !exec_sink_budget_take(h)) {
		h->budget->dropped = n;
		return;
	}
	if (h->budget != NULL)
		h->budget->dropped = 0;
	log_notice("alert %s: hook: %lu more lines suppressed", h->name, n);
}

/* The program has exited: what it wrote is in the pipe already, so what is there now
 * (bounded: what is left of its group could go on writing) is the rest. */
static void
exec_sink_finish_output(struct exec_sink *h)
{
	exec_sink_read(h, EXEC_SINK_READ_MAX);
	if (h->line_len > 0 || h->line_cut)
		exec_sink_emit(h);
	exec_sink_report_suppressed(h);
	exec_sink_close_output(h);
}

/* Feeds stdin without blocking; a program that does not read it is its own business. */
static void
exec_sink_write(struct exec_sink *h)
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
	exec_sink_close_input(h);
}

static void
exec_sink_writer_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	exec_sink_write(w->data);
}

static void
exec_sink_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct exec_sink *h = w->data;

	/* The whole process group: a script's own children go too. */
	h->timed_out = true;
	kill(-h->pid, SIGKILL);
	kill(h->pid, SIGKILL);
}

static void
exec_sink_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct exec_sink *h = w->data;
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
	exec_sink_finish_output(h);
	h->done(h->arg, ok, ok ? NULL : why);
	exec_sink_destroy(h);
}

static int
exec_sink_spawn(struct exec_sink *h, const char *program, char *const envp[], int fd0, int fd1,
    char *err, size_t errlen)
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
	/* stdin: the event; stdout and stderr: one pipe back, read line by line into the
	 * log (never the daemon's own stderr: a program could forge "<0>" lines there). */
	posix_spawn_file_actions_adddup2(&fa, fd0, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, fd1, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, fd1, STDERR_FILENO);
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

/* A close-on-exec pipe, both ends above 2: a dup2 onto 0-2 must not hit the other end
 * (ratd started with a standard descriptor closed gets those numbers back). */
static int
exec_sink_pipe(int fds[2])
{
	int i, fd;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if (fds[i] > STDERR_FILENO)
			continue;
		fd = fcntl(fds[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
		close(fds[i]);
		fds[i] = fd;
	}
	if (fds[0] < 0 || fds[1] < 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		if (fds[1] >= 0)
			close(fds[1]);
		return -1;
	}
	return 0;
}

/* Starts the child with both pipes; the parent keeps their other ends, non-blocking. */
static int
exec_sink_start(struct exec_sink *h, const char *program, char *const envp[], char *err,
    size_t errlen)
{
	int in[2], out[2];

	if (exec_sink_pipe(in) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if (exec_sink_pipe(out) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		return -1;
	}
	if (exec_sink_spawn(h, program, envp, in[0], out[1], err, errlen) < 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -1;
	}
	close(in[0]);
	close(out[1]);
	h->in = in[1];
	h->out = out[0];
	fcntl(h->in, F_SETFL, fcntl(h->in, F_GETFL) | O_NONBLOCK);
	fcntl(h->out, F_SETFL, fcntl(h->out, F_GETFL) | O_NONBLOCK);
	return 0;
}

struct exec_sink *
exec_sink_run(struct ev_loop *loop, const char *name, const char *program, char *const envp[],
    const char *input, size_t len, double timeout, struct exec_sink_log_budget *budget,
    exec_sink_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct exec_sink *h;

	if ((h = calloc(1, sizeof(*h))) == NULL || (h->input = malloc(len + 1)) == NULL ||
	    (h->name = strdup(name)) == NULL) {
		if (h != NULL)
			free(h->input);
		free(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(h->input, input, len);
	h->len = len;
	h->loop = loop;
	h->timeout = timeout;
	h->budget = budget;
	h->done = done;
	h->arg = arg;
	h->in = h->out = -1;
	if (exec_sink_start(h, program, envp, err, errlen) < 0) {
		free(h->name);
		free(h->input);
		free(h);
		return NULL;
	}
	ev_child_init(&h->child, exec_sink_child_cb, h->pid, 0);
	ev_timer_init(&h->timer, exec_sink_timer_cb, timeout, 0.);
	ev_io_init(&h->writer, exec_sink_writer_cb, h->in, EV_WRITE);
	ev_io_init(&h->reader, exec_sink_reader_cb, h->out, EV_READ);
	h->child.data = h->timer.data = h->writer.data = h->reader.data = h;
	ev_child_start(loop, &h->child);
	ev_timer_start(loop, &h->timer);
	ev_io_start(loop, &h->reader);
	exec_sink_write(h);
	return h;
}

void
exec_sink_cancel(struct exec_sink *h)
{
	if (h == NULL)
		return;
	kill(-h->pid, SIGKILL);
	kill(h->pid, SIGKILL);
	exec_sink_destroy(h);
}
