/* Page parses in a child process, as OpenNTPD keeps its privilege-separated children:
 * one child, forked from the daemon (no exec) at the first page and kept, with no
 * descriptor but a socket to the daemon, a memory limit and a CPU limit per page. It
 * reads a page, parses it with untc_parse, writes the snapshot back in a compact
 * binary form and waits for the next. The daemon writes and reads that socket from its
 * loop and decodes each reply as untrusted input, with the state file's checks. A child that breaks a budget dies with its page; the next page forks another. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxml/xmlmemory.h>

#include "atomicfile.h"
#include "date.h"
#include "parser.h"
#include "state.h"
#include "utf8.h"

#define PARSER_MAX_PAGE ((size_t)64 << 20)   /* max_page_size goes no higher */
#define PARSER_MAX_REPLY ((uint32_t)4 << 20) /* 1,000 participants take about 60 kB */
#define PARSER_MAGIC 0x72617470u             /* "ratp": a request, not stray bytes */
#define PARSER_EXIT_MEMORY 3                 /* the child ran out of its memory budget */
#define PARSER_EXIT_BROKEN 4                 /* a request made no sense, or a write failed */

/* AddressSanitizer reserves terabytes of address space: RLIMIT_AS would stop it at
 * once, so a sanitized build parses without the memory limit. */
#if defined(__SANITIZE_ADDRESS__)
#define PARSER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PARSER_ASAN 1
#endif
#endif
#ifndef PARSER_ASAN
#define PARSER_ASAN 0
#endif

/* What the daemon sends before each page. */
struct parser_req {
	uint32_t magic;
	uint32_t fmt;
	uint64_t len;
};

struct parser_job {
	struct parser *p;
	struct parser_req head;
	char *page;                /* taken over from the caller */
	parser_done_fn *done;
	void *arg;
	struct parser_job *next;
};

struct parser {
	struct ev_loop *loop;
	pid_t pid;                 /* the child, 0 when there is none */
	int fd;                    /* the daemon's end of its socket, -1 when none */
	struct parser_job *head, *tail;   /* in order; head is in the child when busy */
	bool busy;
	bool timed_out;            /* the child was killed by the wall-clock timer */
	bool too_long;             /* ... for a reply over PARSER_MAX_REPLY */
	size_t sent;               /* bytes of the head job's request and page written */
	char *in;                  /* the reply being read: a 4-byte length, then the reply */
	size_t in_len, in_cap;
	ev_io reader, writer;
	ev_child child;
	ev_timer timer;            /* the page's wall-clock budget */
	ev_timer kick;             /* hands the next page over from the loop */
};

/* --- the child ----------------------------------------------------------------------- */

/* Set only in the parse child, by the allocator it gives libxml2: an allocation failed,
 * so a failed parse is the memory budget's doing, not a broken page (libxml2 would
 * report it as one). Process-wide because libxml2's allocator hooks take no context;
 * the daemon itself never sets or reads it. */
static bool parser_oom;

static void *
parser_malloc(size_t n)
{
	void *p = malloc(n);

	parser_oom = parser_oom || p == NULL;
	return p;
}

static void *
parser_realloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	parser_oom = parser_oom || q == NULL;
	return q;
}

static char *
parser_strdup(const char *s)
{
	char *d = strdup(s);

	parser_oom = parser_oom || d == NULL;
	return d;
}

/* Bytes of address space the process has mapped now, 0 when unknown. */
static size_t
parser_mapped(void)
{
	char buf[64];
	ssize_t n;
	int fd;

	if ((fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (size_t)strtoull(buf, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

/* Signals back to their defaults and unblocked (libev blocks or catches some), every
 * descriptor but the socket closed, the memory budget set. */
static void
parser_confine(int fd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD, SIGPIPE, SIGXCPU };
	struct rlimit none = { 0, 0 }, as;
	sigset_t empty;
	size_t i, mapped;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);
	/* A daemon killed outright must not leave its parser running. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if ((fd > 3 && close_range(3, (unsigned)fd - 1, 0) < 0) ||
	    close_range((unsigned)fd + 1, ~0U, 0) < 0)
		_exit(PARSER_EXIT_BROKEN);
	setrlimit(RLIMIT_CORE, &none);
	if (!PARSER_ASAN && (mapped = parser_mapped()) > 0) {
		as.rlim_cur = as.rlim_max = mapped + ((size_t)PARSER_MEMORY_MIB << 20);
		setrlimit(RLIMIT_AS, &as);
	}
	xmlMemSetup(free, parser_malloc, parser_realloc, parser_strdup);
}

static double
parser_cpu_used(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The next PARSER_CPU_SECONDS (to the next whole second) of CPU are this page's:
 * SIGXCPU, whose default ends the child, comes after them. */
static void
parser_cpu_budget(double used)
{
	struct rlimit cpu;

	getrlimit(RLIMIT_CPU, &cpu);
	cpu.rlim_cur = (rlim_t)ceil(used) + PARSER_CPU_SECONDS;
	if (cpu.rlim_max != RLIM_INFINITY && cpu.rlim_cur > cpu.rlim_max)
		cpu.rlim_cur = cpu.rlim_max;
	setrlimit(RLIMIT_CPU, &cpu);
}

static int
parser_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = read(fd, p, len)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* --- the reply ----------------------------------------------------------------------- */

/* The reply is a compact binary form of the snapshot, private to the daemon and its own
 * forked child (same machine, same byte order): JSON cost the pair 0.3 ms per page to
 * write and read back. After the 4-byte length: a tag (PARSER_SNAPSHOT or PARSER_ERROR),
 * the child's CPU time as a double, then the error text or the snapshot: its stated
 * counts and eif date, its eif text and stamp (length-prefixed, PARSER_ABSENT for none),
 * the participant count and each participant's name, withdrawn flag, withdrawal date
 * and whether the page gave it, its two cells (date, kind) and its notes. The daemon
 * checks every field as it checks the state file: lengths, UTF-8, dates, kinds, names
 * unique. */
#define PARSER_SNAPSHOT 1
#define PARSER_ERROR 2
#define PARSER_ABSENT UINT32_MAX

struct parser_buf {
	char *p;
	size_t len, cap;
};

static void
parser_put(struct parser_buf *b, const void *v, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *bigger;

	while (cap < b->len + n)
		cap *= 2;
	if (cap != b->cap) {
		if ((bigger = realloc(b->p, cap)) == NULL)
			_exit(PARSER_EXIT_MEMORY);
		b->p = bigger;
		b->cap = cap;
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void
parser_put_u8(struct parser_buf *b, unsigned v)
{
	uint8_t x = (uint8_t)v;

	parser_put(b, &x, 1);
}

static void
parser_put_i32(struct parser_buf *b, int32_t v)
{
	parser_put(b, &v, sizeof(v));
}

static void
parser_put_str(struct parser_buf *b, const char *s)
{
	uint32_t n = s != NULL ? (uint32_t)strlen(s) : PARSER_ABSENT;

	parser_put(b, &n, sizeof(n));
	if (s != NULL)
		parser_put(b, s, n);
}

static void
parser_put_snapshot(struct parser_buf *b, const struct snapshot *s)
{
	const struct participant *v;
	size_t i, k;

	parser_put_i32(b, s->stated_parties);
	parser_put_i32(b, s->stated_signatories);
	parser_put_i32(b, s->stated_eif_date);
	parser_put_str(b, s->stated_eif);
	parser_put_str(b, s->status_as_at);
	parser_put_i32(b, (int32_t)s->n);
	for (i = 0; i < s->n; i++) {
		v = &s->v[i];
		parser_put_str(b, v->name);
		parser_put_u8(b, v->withdrawn | (unsigned)v->withdrawal_from_page << 1);
		parser_put_i32(b, v->withdrawal_date);
		parser_put_i32(b, v->signature.date);
		parser_put_u8(b, v->signature.kind);
		parser_put_i32(b, v->instrument.date);
		parser_put_u8(b, v->instrument.kind);
		parser_put_u8(b, (unsigned)v->nnotes);
		for (k = 0; k < v->nnotes; k++)
			parser_put_str(b, v->notes[k]);
	}
}

/* Parses one page and writes the reply: a 4-byte length, then the snapshot or the
 * reason it was refused, with the CPU time it took (see "the reply" above). */
static void
parser_one(int fd, struct parser_buf *b, const char *page, size_t len, enum untc_format fmt)
{
	double used = parser_cpu_used(), cpu;
	struct snapshot *s;
	char why[512], *fixed;
	uint32_t n;

	parser_cpu_budget(used);
	parser_oom = false;
	s = untc_parse(page, len, fmt, why, sizeof(why));
	if (parser_oom || (s == NULL && strcmp(why, "out of memory") == 0))
		_exit(PARSER_EXIT_MEMORY);
	b->len = 0;
	parser_put(b, &n, sizeof(n));
	parser_put_u8(b, s != NULL ? PARSER_SNAPSHOT : PARSER_ERROR);
	cpu = parser_cpu_used() - used;
	parser_put(b, &cpu, sizeof(cpu));
	if (s != NULL)
		parser_put_snapshot(b, s);
	else {
		/* The daemon takes only UTF-8: a reason quoting a page's bytes is repaired. */
		if ((fixed = utf8_repair(why, strlen(why))) == NULL)
			_exit(PARSER_EXIT_MEMORY);
		parser_put_str(b, fixed);
		free(fixed);
	}
	snapshot_free(s);
	n = (uint32_t)(b->len - sizeof(n));
	memcpy(b->p, &n, sizeof(n));
	if (atomicfile_write_all(fd, b->p, b->len) < 0)
		_exit(PARSER_EXIT_BROKEN);
}

/* The child: pages in, replies out, until the daemon closes the socket. */
static void __attribute__((noreturn))
parser_child(int fd)
{
	struct parser_buf reply = { NULL, 0, 0 };
	struct parser_req h;
	char *page;

	parser_confine(fd);
	for (;;) {
		if (parser_read_all(fd, &h, sizeof(h)) < 0)
			_exit(0);
		if (h.magic != PARSER_MAGIC || h.len > PARSER_MAX_PAGE || h.fmt > UNTC_XML)
			_exit(PARSER_EXIT_BROKEN);
		if ((page = malloc(h.len + 1)) == NULL)
			_exit(PARSER_EXIT_MEMORY);
		if (parser_read_all(fd, page, h.len) < 0)
			_exit(0);
		page[h.len] = '\0';
		parser_one(fd, &reply, page, h.len, (enum untc_format)h.fmt);
		free(page);
		/* A big page leaves a big heap behind: give it back before the next. */
		if (h.len > ((size_t)1 << 20) || reply.cap > ((size_t)1 << 20)) {
			free(reply.p);
			reply = (struct parser_buf){ NULL, 0, 0 };
			malloc_trim(0);
		}
	}
}

/* --- the daemon's side --------------------------------------------------------------- */

static void parser_reader_cb(struct ev_loop *loop, ev_io *w, int revents);
static void parser_writer_cb(struct ev_loop *loop, ev_io *w, int revents);
static void parser_child_cb(struct ev_loop *loop, ev_child *w, int revents);
static void parser_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void parser_kick_cb(struct ev_loop *loop, ev_timer *w, int revents);

struct parser *
parser_new(struct ev_loop *loop)
{
	struct parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->loop = loop;
	p->fd = -1;
	ev_init(&p->reader, parser_reader_cb);
	ev_init(&p->writer, parser_writer_cb);
	ev_init(&p->child, parser_child_cb);
	ev_init(&p->timer, parser_timer_cb);
	ev_init(&p->kick, parser_kick_cb);
	p->reader.data = p->writer.data = p->child.data = p->timer.data = p->kick.data = p;
	return p;
}

/* Forgets the child (already reaped or to be reaped by the caller). */
static void
parser_drop_child(struct parser *p)
{
	ev_io_stop(p->loop, &p->reader);
	ev_io_stop(p->loop, &p->writer);
	ev_child_stop(p->loop, &p->child);
	ev_timer_stop(p->loop, &p->timer);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->pid = 0;
	p->busy = p->timed_out = p->too_long = false;
}

/* Kills the child and waits for it: prompt after SIGKILL. */
static void
parser_kill(struct parser *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		/* ECHILD when libev reaped it already. */
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	parser_drop_child(p);
}

static void
parser_job_free(struct parser_job *j)
{
	free(j->page);
	free(j);
}

void
parser_free(struct parser *p)
{
	struct parser_job *j, *next;

	if (p == NULL)
		return;
	parser_kill(p);
	ev_timer_stop(p->loop, &p->kick);
	for (j = p->head; j != NULL; j = next) {
		next = j->next;
		parser_job_free(j);
	}
	free(p->in);
	free(p);
}

static void
parser_kick(struct parser *p)
{
	if (p->head != NULL && !p->busy && !ev_is_active(&p->kick)) {
		ev_timer_set(&p->kick, 0., 0.);
		ev_timer_start(p->loop, &p->kick);
	}
}

/* Takes the head job off the queue and tells its owner; then the next page. */
static void
parser_finish(struct parser *p, struct snapshot *s, const char *why, double cpu)
{
	struct parser_job *j = p->head;

	p->head = j->next;
	if (p->head == NULL)
		p->tail = NULL;
	p->busy = false;
	ev_timer_stop(p->loop, &p->timer);
	parser_kick(p);
	j->done(j->arg, s, s != NULL ? NULL : why, cpu);
	parser_job_free(j);
}

/* Forks the child, with one end of a socket pair. 0, or -1 with err set. */
static int
parser_spawn(struct parser *p, char *err, size_t errlen)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "cannot start the page parser: socketpair: %s",
		    strerror(errno));
		return -1;
	}
	if ((p->pid = fork()) < 0) {
		snprintf(err, errlen, "cannot start the page parser: fork: %s", strerror(errno));
		p->pid = 0;
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (p->pid == 0) {
		close(sv[0]);
		parser_child(sv[1]);
	}
	close(sv[1]);
	p->fd = sv[0];
	fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
	ev_io_set(&p->reader, p->fd, EV_READ);
	ev_io_set(&p->writer, p->fd, EV_WRITE);
	ev_child_set(&p->child, p->pid, 0);
	ev_io_start(p->loop, &p->reader);
	ev_child_start(p->loop, &p->child);
	return 0;
}

static void
parser_write(struct parser *p)
{
	struct parser_job *j = p->head;
	size_t total = sizeof(j->head) + j->head.len, off;
	struct iovec iov[2];
	ssize_t n;

	while (p->sent < total) {
		off = p->sent < sizeof(j->head) ? p->sent : sizeof(j->head);
		iov[0].iov_base = (char *)&j->head + off;
		iov[0].iov_len = sizeof(j->head) - off;
		iov[1].iov_base = j->page + (p->sent - off);
		iov[1].iov_len = j->head.len - (p->sent - off);
		n = writev(p->fd, iov, 2);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ev_io_start(p->loop, &p->writer);
			return;
		}
		/* The child is gone: its watcher tells the rest. */
		if (n < 0)
			break;
		p->sent += (size_t)n;
	}
	ev_io_stop(p->loop, &p->writer);
}

static void
parser_writer_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	parser_write(w->data);
}

/* Hands the head job to the child, forking one when there is none. 0, or -1 with err
 * set when no child could be forked. */
static int
parser_send(struct parser *p, char *err, size_t errlen)
{
	if (p->pid == 0 && parser_spawn(p, err, errlen) < 0)
		return -1;
	p->busy = true;
	p->sent = 0;
	p->in_len = 0;
	ev_timer_set(&p->timer, PARSER_WALL_SECONDS, 0.);
	ev_timer_start(p->loop, &p->timer);
	parser_write(p);
	return 0;
}

/* The next page once the last is done, from the loop: its owner's callback may be
 * what is running now. */
static void
parser_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct parser *p = w->data;
	char err[256];

	if (p->head != NULL && !p->busy && parser_send(p, err, sizeof(err)) < 0)
		parser_finish(p, NULL, err, 0);
}

struct parser_job *
parser_start(struct parser *p, char *page, size_t len, enum untc_format fmt,
    parser_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct parser_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	j->head = (struct parser_req){ .magic = PARSER_MAGIC, .fmt = (uint32_t)fmt, .len = len };
	j->p = p;
	j->page = page;
	j->done = done;
	j->arg = arg;
	/* The usual case, no page ahead of this one: straight to the child. */
	if (p->head == NULL) {
		p->head = p->tail = j;
		if (parser_send(p, err, errlen) < 0) {
			p->head = p->tail = NULL;
			free(j);
			return NULL;
		}
	} else {
		p->tail->next = j;
		p->tail = j;
	}
	return j;
}

void
parser_cancel(struct parser_job *j)
{
	struct parser *p;
	struct parser_job **at;

	if (j == NULL)
		return;
	p = j->p;
	/* Its page is in the child: nothing else can stop a parse. */
	if (j == p->head && p->busy)
		parser_kill(p);
	for (at = &p->head; *at != j; at = &(*at)->next)
		;
	*at = j->next;
	if (p->tail == j) {
		for (p->tail = p->head; p->tail != NULL && p->tail->next != NULL;
		    p->tail = p->tail->next)
			;
	}
	parser_job_free(j);
	parser_kick(p);
}

/* Reads the reply the child wrote (see "the reply" above) as untrusted input. */
struct parser_rd {
	const unsigned char *p, *end;
	bool bad;
};

static void
parser_get(struct parser_rd *r, void *v, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		memset(v, 0, n);
		return;
	}
	memcpy(v, r->p, n);
	r->p += n;
}

static unsigned
parser_get_u8(struct parser_rd *r)
{
	uint8_t x;

	parser_get(r, &x, 1);
	return x;
}

static int32_t
parser_get_i32(struct parser_rd *r)
{
	int32_t x;

	parser_get(r, &x, sizeof(x));
	return x;
}

/* A text of at most max bytes, UTF-8 without NUL, into out (max + 1 bytes); false when
 * it is absent (absent_ok) or malformed (then r->bad). */
static bool
parser_get_str(struct parser_rd *r, char *out, size_t max, bool absent_ok)
{
	const unsigned char *s, *end;
	uint32_t n;
	size_t u;

	parser_get(r, &n, sizeof(n));
	if (!r->bad && n == PARSER_ABSENT && absent_ok)
		return false;
	if (r->bad || n > max || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return false;
	}
	for (s = r->p, end = r->p + n; s < end; s += u)
		if (*s >= 0x01 && *s < 0x80)
			u = 1;
		else if (*s == 0 || (u = utf8_seq_len(s, end)) == 0) {
			r->bad = true;
			return false;
		}
	memcpy(out, r->p, n);
	out[n] = '\0';
	r->p += n;
	return true;
}

/* A day the state file could hold: DAY_NONE (when none_ok) or a date of years 1-9999. */
static bool
parser_day_ok(day_t d, bool none_ok)
{
	int y, m, dd;

	if (d == DAY_NONE)
		return none_ok;
	if (d < date_from_ymd(1, 1, 1) || d > date_from_ymd(9999, 12, 31))
		return false;
	date_to_ymd(d, &y, &m, &dd);
	return date_valid(y, m, dd) && date_from_ymd(y, m, dd) == d;
}

static struct action
parser_get_action(struct parser_rd *r, unsigned kinds)
{
	struct action a;

	a.date = parser_get_i32(r);
	a.kind = (enum kind)parser_get_u8(r);
	if (a.date == DAY_NONE ? a.kind != KIND_NONE :
	    !parser_day_ok(a.date, false) || a.kind >= KIND_COUNT_ ||
	    (kinds & (1u << a.kind)) == 0)
		r->bad = true;
	return a;
}

/* One participant, appended to s; -1 (r->bad) when malformed, or on out-of-memory. */
static int
parser_get_participant(struct parser_rd *r, struct snapshot *s)
{
	char name[SNAPSHOT_MAX_NAME + 1], note[SNAPSHOT_MAX_TEXT + 1];
	struct action sig, ins;
	unsigned flags, nnotes, k;
	day_t wd;

	if (!parser_get_str(r, name, SNAPSHOT_MAX_NAME, false) || name[0] == '\0')
		return r->bad = true, -1;
	flags = parser_get_u8(r);
	wd = parser_get_i32(r);
	sig = parser_get_action(r, SNAPSHOT_SIGNATURE_KINDS);
	ins = parser_get_action(r, SNAPSHOT_INSTRUMENT_KINDS);
	nnotes = parser_get_u8(r);
	if (r->bad || flags > 3 || !parser_day_ok(wd, true) || nnotes > SNAPSHOT_MAX_NOTES ||
	    snapshot_find(s, name) != -1)
		return r->bad = true, -1;
	if (snapshot_add(s, name, flags & 1, sig, ins) == -1)
		return -1;
	s->v[s->n - 1].withdrawal_date = wd;
	s->v[s->n - 1].withdrawal_from_page = (flags & 2) && wd != DAY_NONE;
	for (k = 0; k < nnotes; k++) {
		if (!parser_get_str(r, note, SNAPSHOT_MAX_TEXT, false))
			return r->bad = true, -1;
		if (snapshot_add_note(s, s->n - 1, note) == -1)
			return -1;
	}
	return 0;
}

/* The snapshot of a reply; NULL with why set when malformed or memory is short. */
static struct snapshot *
parser_get_snapshot(struct parser_rd *r, char *why, size_t whylen)
{
	char text[SNAPSHOT_MAX_TEXT + 1];
	struct snapshot *s;
	int32_t n, i;
	time_t t;

	if ((s = snapshot_new()) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	s->stated_parties = parser_get_i32(r);
	s->stated_signatories = parser_get_i32(r);
	s->stated_eif_date = parser_get_i32(r);
	if (parser_get_str(r, text, SNAPSHOT_MAX_TEXT, true) &&
	    (s->stated_eif = strdup(text)) == NULL)
		goto oom;
	if (parser_get_str(r, text, SNAPSHOT_MAX_TEXT, true)) {
		if (date_parse_time(text, &t) == -1)
			r->bad = true;
		else if ((s->status_as_at = strdup(text)) == NULL)
			goto oom;
	}
	n = parser_get_i32(r);
	if (r->bad || s->stated_parties < -1 || s->stated_signatories < -1 ||
	    !parser_day_ok(s->stated_eif_date, true) || n < 0 || n > SNAPSHOT_MAX_PARTICIPANTS)
		r->bad = true;
	for (i = 0; i < n && !r->bad; i++)
		if (parser_get_participant(r, s) == -1 && !r->bad)
			goto oom;
	if (!r->bad && r->p == r->end)
		return s;
	snprintf(why, whylen, "page parser gave an unreadable reply");
	snapshot_free(s);
	return NULL;
oom:
	snprintf(why, whylen, "out of memory");
	snapshot_free(s);
	return NULL;
}

/* The reply, decoded as untrusted input: a snapshot, or NULL with why set. */
static struct snapshot *
parser_decode(const char *text, size_t len, char *why, size_t whylen, double *cpu)
{
	struct parser_rd r = { (const unsigned char *)text, (const unsigned char *)text + len,
	    false };
	char msg[512];
	unsigned tag;
	double c;

	tag = parser_get_u8(&r);
	parser_get(&r, &c, sizeof(c));
	if (!r.bad && c >= 0 && c <= PARSER_WALL_SECONDS)
		*cpu = c;
	if (tag == PARSER_SNAPSHOT && !r.bad)
		return parser_get_snapshot(&r, why, whylen);
	if (tag == PARSER_ERROR && parser_get_str(&r, msg, sizeof(msg) - 1, false) &&
	    msg[0] != '\0' && r.p == r.end && strlen(msg) < whylen)
		snprintf(why, whylen, "%s", msg);
	else
		snprintf(why, whylen, "page parser gave an unreadable reply");
	return NULL;
}

/* A whole reply is in: the head job's result. */
static void
parser_reply(struct parser *p)
{
	struct snapshot *s;
	uint32_t n;
	double cpu = 0;
	char why[512];

	memcpy(&n, p->in, sizeof(n));
	s = parser_decode(p->in + sizeof(n), n, why, sizeof(why), &cpu);
	p->in_len = 0;
	parser_finish(p, s, why, cpu);
}

/* Kills a child that misbehaves or overran its time; its watcher tells the rest. */
static void
parser_abort(struct parser *p)
{
	if (p->pid > 0)
		kill(p->pid, SIGKILL);
}

/* Room for more of the reply; false (and the child killed) past PARSER_MAX_REPLY. */
static bool
parser_room(struct parser *p)
{
	size_t cap = p->in_cap ? p->in_cap * 2 : 65536;
	char *bigger;

	if (p->in_len < p->in_cap)
		return true;
	if (p->in_cap >= PARSER_MAX_REPLY + sizeof(uint32_t) ||
	    (bigger = realloc(p->in, cap)) == NULL) {
		p->too_long = true;
		parser_abort(p);
		return false;
	}
	p->in = bigger;
	p->in_cap = cap;
	return true;
}

static void
parser_reader_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct parser *p = w->data;
	uint32_t n;
	ssize_t got;

	while (parser_room(p)) {
		got = read(p->fd, p->in + p->in_len, p->in_cap - p->in_len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			return;
		if (got <= 0)
			break;
		/* The child writes only when it has a page. */
		if (!p->busy) {
			parser_abort(p);
			break;
		}
		p->in_len += (size_t)got;
		if (p->in_len < sizeof(n))
			continue;
		memcpy(&n, p->in, sizeof(n));
		if (n > PARSER_MAX_REPLY) {
			p->too_long = true;
			parser_abort(p);
			break;
		}
		/* The child writes nothing more until it has the next page. */
		if (p->in_len == sizeof(n) + n) {
			parser_reply(p);
			return;
		}
		if (p->in_len > sizeof(n) + n) {
			parser_abort(p);
			break;
		}
	}
	/* The end of the socket, or a child that misbehaves: its watcher tells the rest. */
	ev_io_stop(loop, &p->reader);
}

/* Why the child died under a page. */
static double
parser_death(const struct parser *p, int st, char *why, size_t whylen)
{
	if (p->timed_out)
		snprintf(why, whylen, "page parse exceeded its time budget (%d s)",
		    PARSER_WALL_SECONDS);
	else if (p->too_long)
		snprintf(why, whylen, "page parser gave a reply over %u MiB",
		    (unsigned)(PARSER_MAX_REPLY >> 20));
	else if (WIFSIGNALED(st) && (WTERMSIG(st) == SIGXCPU || WTERMSIG(st) == SIGKILL)) {
		snprintf(why, whylen, "page parse exceeded its CPU budget (%d s)",
		    PARSER_CPU_SECONDS);
		return PARSER_CPU_SECONDS;
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == PARSER_EXIT_MEMORY)
		snprintf(why, whylen, "page parse exceeded its memory budget (%d MiB)",
		    PARSER_MEMORY_MIB);
	else if (WIFEXITED(st))
		snprintf(why, whylen, "page parser exited with status %d", WEXITSTATUS(st));
	else
		snprintf(why, whylen, "page parser killed by signal %d", WTERMSIG(st));
	return 0;
}

static void
parser_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct parser *p = w->data;
	bool busy = p->busy;
	char why[512];
	double cpu;

	if (WIFSTOPPED(w->rstatus) || WIFCONTINUED(w->rstatus))
		return;
	cpu = parser_death(p, w->rstatus, why, sizeof(why));
	parser_drop_child(p);
	if (busy)
		parser_finish(p, NULL, why, cpu);
	else
		parser_kick(p);
}

static void
parser_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct parser *p = w->data;

	p->timed_out = true;
	parser_abort(p);
}
