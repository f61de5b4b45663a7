/* The control socket: bounded JSON-lines requests, answered from committed state. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include "proto.h"

#include "alert.h"
#include "control.h"
#include "sd_listen.h"
#include "journal.h"
#include "metrics.h"
#include "log.h"
#include "core.h"
#include "status.h"
#include "treaty.h"
#include "utf8.h"

struct client;

struct control {
	struct core *core;
	struct alerts *alerts;
	struct metrics *metrics;
	control_reload_fn *reload;  /* the owner's: reloads the configuration file */
	void *owner;
	int listen_fd;            /* the socket systemd passed, until bound; -1 */
	bool have_admin_gid;      /* admin_group names a group: its members are admins */
	gid_t admin_gid;
	int fd;
	char *path;               /* the socket file we created, unlinked at the end */
	ev_io accept_io;
	ev_timer accept_pause;    /* out of file descriptors: try again shortly */
	struct client *clients;
	size_t nclients;
	size_t max_clients;       /* from RLIMIT_NOFILE (control_limits), at most 64 */
	size_t reserved;          /* slots only privileged peers take */
	size_t per_uid;           /* connections of one unprivileged user */
	size_t unsent;            /* reply bytes queued over all clients */
	bool waiting;             /* some client waits for the output budget */
	ev_idle hist_idle;        /* one long history's step per turn, in rotation */
	uint64_t hist_turns;
	ev_timer budget_kick;     /* runs the clients that waited for it, from the loop */
	char *status_text;        /* the last whole status reply, and what it was for */
	size_t status_len;
	uint64_t status_gen;
	day_t status_day;
};

/* A refresh in progress: its reply is sent when every fetch it asked for has ended. */
struct refresh {
	struct client *client;    /* NULL once the client has gone */
	json_t *results;
	size_t pending;
	bool progress;            /* a line per fetch ended, before the reply */
	size_t done;
	size_t hint;              /* where the next result is looked for first */
};

struct client {
	struct control *ctl;
	int fd;
	ev_io rio, wio;
	ev_timer idle;
	ev_timer resume;          /* runs what waited behind a refresh, from the loop */
	char *in;                 /* bytes of requests not yet handled */
	size_t inlen, incap;
	char *out;                /* reply bytes; those before outoff are written */
	size_t outlen, outoff, outcap;
	bool eof;                 /* the peer will send nothing more */
	bool dead;                /* to be freed by client_settle */
	bool closing;             /* hang up once out is written */
	struct refresh *refresh;  /* stop reading until this one is answered */
	bool watching;            /* gets every new event (of watch_treaty, when set) */
	char *watch_treaty;
	struct ucred cred;
	bool privileged;          /* root, ratd's user or admin_group when it connected */
	bool budget_wait;         /* stopped until the output budget has room */
	struct history *hist;     /* a long history being written: stop reading until done */
	bool hist_ready;          /* its next step may run */
	uint64_t hist_turn;       /* when its last step ran: the longest waiting goes next */
	struct client *next, *prev;
};

/* A history longer than memory holds, read from the journal CONTROL_HISTORY_STEP lines
 * per turn of the loop (from an idle watcher, so that other clients' requests go first)
 * and written only as fast as the client reads: its cost is bounded whatever the limit
 * and however slow the reader. */
struct history {
	FILE *f;                  /* the journal as it was: a compaction does not disturb it */
	char *treaty;             /* NULL: every treaty */
	uint64_t since, upto;     /* ids in (since, upto]: upto was on disk at the request */
	size_t limit;
	off_t *ring;              /* offsets of the latest `limit` matching lines */
	size_t ringcap, matched;
	bool emitting;            /* counted; now writing `left` events from f */
	size_t left, written;
	char *line;
	size_t linecap;
};

static void client_process(struct client *c);
static void history_end(struct client *c);

static size_t
client_unsent(const struct client *c)
{
	return c->outlen - c->outoff;
}

/* Room for one more paused-size reply within the budget shared by every client. */
static bool
control_has_budget(const struct control *ctl)
{
	return ctl->unsent + CONTROL_PAUSE_OUTPUT <= CONTROL_OUTPUT_BUDGET;
}

/* n bytes were written or dropped: clients that waited for room may go on. */
static void
control_sent(struct control *ctl, size_t n)
{
	ctl->unsent -= n;
	if (ctl->waiting && control_has_budget(ctl) && !ev_is_active(&ctl->budget_kick))
		ev_timer_start(ctl->core->loop, &ctl->budget_kick);
}

static void
client_free(struct client *c)
{
	struct control *ctl = c->ctl;

	if (c->refresh != NULL)
		c->refresh->client = NULL;
	history_end(c);
	control_sent(ctl, client_unsent(c));
	ev_io_stop(ctl->core->loop, &c->rio);
	ev_io_stop(ctl->core->loop, &c->wio);
	ev_timer_stop(ctl->core->loop, &c->idle);
	ev_timer_stop(ctl->core->loop, &c->resume);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ctl->nclients--;
	free(c->in);
	free(c->out);
	free(c->watch_treaty);
	free(c);
}

/* Called last by every callback that served c: a client is only freed here, so code
 * deeper down never uses one that is gone. */
static void
client_settle(struct client *c)
{
	if (c->dead)
		client_free(c);
}

/* True once a client that said goodbye has had every answer. */
static bool
client_finished(const struct client *c)
{
	return c->eof && c->outlen == 0 && c->refresh == NULL && c->hist == NULL &&
	    (c->watching || memchr(c->in, '\n', c->inlen) == NULL);
}

/* Writes what it can without blocking. */
static void
client_flush(struct client *c)
{
	struct ev_loop *loop = c->ctl->core->loop;
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev_io_start(loop, &c->wio);
			return;
		}
		if (n < 0) {
			c->dead = true;
			return;
		}
		c->outoff += (size_t)n;
		control_sent(c->ctl, (size_t)n);
		/* A client slowly reading a long reply is busy, not idle. */
		if (!c->watching)
			ev_timer_again(loop, &c->idle);
	}
	c->outoff = c->outlen = 0;
	/* A burst's buffer is not kept for the rest of a watcher's life. */
	if (c->outcap > CONTROL_KEEP_OUTPUT) {
		free(c->out);
		c->out = NULL;
		c->outcap = 0;
	}
	ev_io_stop(loop, &c->wio);
	if (c->closing || client_finished(c))
		c->dead = true;
}

/* Room for need bytes in c->out. The buffer doubles, and written bytes are dropped
 * once they are half of what it holds or when it must grow anyway, so a client that
 * reads nothing while lines keep coming costs each line its own copy, not a copy of
 * everything queued before it; the buffer stays within twice the unsent bytes. */
static int
client_reserve(struct client *c, size_t need)
{
	size_t cap;
	char *nb;

	if (c->outoff > 0 && (c->outoff >= c->outlen / 2 || c->outlen + need > c->outcap)) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (c->outlen + need <= c->outcap)
		return 0;
	cap = c->outcap < 4096 ? 4096 : 2 * c->outcap;
	if (cap < c->outlen + need)
		cap = c->outlen + need;
	if ((nb = realloc(c->out, cap)) == NULL)
		return -1;
	c->out = nb;
	c->outcap = cap;
	return 0;
}

/* Queues len bytes, and a newline when nl. A client that lets too much pile up is
 * dropped. */
static void
client_queue(struct client *c, const char *text, size_t len, bool nl)
{
	if (c->dead || text == NULL) {
		c->dead = true;
		return;
	}
	/* Only unsent bytes count against the bound. */
	if (c->outlen - c->outoff + len + nl > CONTROL_MAX_OUTPUT ||
	    client_reserve(c, len + nl) < 0) {
		log_warn("control: dropping a client that does not read its replies");
		c->dead = true;
		return;
	}
	if (len > 0)
		memcpy(c->out + c->outlen, text, len);
	if (nl)
		c->out[c->outlen + len] = '\n';
	c->outlen += len + nl;
	c->ctl->unsent += len + nl;
	/* A client whose socket is full is written to when it has room again. */
	if (!ev_is_active(&c->wio))
		client_flush(c);
}

/* Queues one line of len bytes (its newline added here). */
static void
client_send_text(struct client *c, const char *text, size_t len)
{
	client_queue(c, text, len, true);
}

static void
client_send(struct client *c, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	client_send_text(c, text, text ? strlen(text) : 0);
	free(text);
}

static void
client_reply(struct client *c, json_t *result)
{
	if (result == NULL)
		client_send(c, json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error",
		    "code", RATD_ERR_INTERNAL, "message", "out of memory"));
	else
		client_send(c, json_pack("{s:b, s:o}", "ok", 1, "result", result));
}

/* Drops the bytes of incomplete or invalid UTF-8 sequences in place: a %.64s of a
 * client's text can end inside a character, and a reply must stay valid JSON text. */
static void
control_utf8_clean(char *s)
{
	unsigned char *r = (unsigned char *)s, *w = r;
	size_t n, k;

	while (*r != '\0') {
		n = *r < 0x80 ? 1 : *r >= 0xc2 && *r <= 0xdf ? 2 : *r >= 0xe0 && *r <= 0xef ? 3 :
		    *r >= 0xf0 && *r <= 0xf4 ? 4 : 0;
		for (k = 1; k < n && (r[k] & 0xc0) == 0x80; k++)
			;
		/* No overlong forms, surrogates or code points past U+10FFFF either. */
		if (n == 0 || k < n || (*r == 0xe0 && r[1] < 0xa0) || (*r == 0xed && r[1] >= 0xa0) ||
		    (*r == 0xf0 && r[1] < 0x90) || (*r == 0xf4 && r[1] >= 0x90)) {
			r++;
			continue;
		}
		memmove(w, r, n);
		w += n;
		r += n;
	}
	*w = '\0';
}

static void
client_error(struct client *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
client_error(struct client *c, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	control_utf8_clean(msg);
	client_send(c, json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error",
	    "code", code, "message", msg));
}

/* Root, the daemon's own user, or a member of admin_group. */
static bool
client_is_admin(struct client *c)
{
	struct control *ctl = c->ctl;
	gid_t some[64], *groups = some;
	socklen_t len = sizeof(some);
	bool ok = false;
	size_t i;

	if (c->cred.uid == 0 || c->cred.uid == geteuid())
		return true;
	if (!ctl->have_admin_gid)
		return false;
	if (c->cred.gid == ctl->admin_gid)
		return true;
	/* The peer's supplementary groups as the kernel took them at connect(): no NSS
	 * lookup, no /proc (hidden by ProtectProc=invisible, racy with pid reuse). */
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || len > NGROUPS_MAX * sizeof(gid_t) ||
		    (groups = malloc(len)) == NULL)
			return false;
		if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
			len = 0;
	}
	for (i = 0; i < len / sizeof(gid_t) && !ok; i++)
		ok = groups[i] == ctl->admin_gid;
	if (groups != some)
		free(groups);
	return ok;
}

/* Checks that a request carries only the arguments its command takes. */
static int
client_check_args(struct client *c, json_t *req, const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(req, key, v) {
		if (strcmp(key, "cmd") == 0)
			continue;
		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], key) != 0; i++)
			;
		if (allowed[i] == NULL) {
			client_error(c, RATD_ERR_BAD_REQUEST, "unexpected argument \"%.*s\"",
			    (int)utf8_cut(key, 64), key);
			return -1;
		}
	}
	return 0;
}

/* Reads optional "treaty" and "as_of". -1 after replying with the error. */
static int
client_target(struct client *c, json_t *req, bool need_treaty, struct treaty **t, day_t *as_of)
{
	const json_t *jid = json_object_get(req, "treaty"), *jd = json_object_get(req, "as_of");
	const char *id = json_string_value(jid), *d = json_string_value(jd);

	*t = NULL;
	if ((jid != NULL && id == NULL) || (jd != NULL && d == NULL)) {
		client_error(c, RATD_ERR_BAD_REQUEST, "\"treaty\" and \"as_of\" are strings");
		return -1;
	}
	if (id == NULL && need_treaty) {
		client_error(c, RATD_ERR_BAD_REQUEST, "argument \"treaty\" is required");
		return -1;
	}
	if (id != NULL && (*t = treaty_find(c->ctl->core, id)) == NULL) {
		client_error(c, RATD_ERR_UNKNOWN_TREATY, "no treaty \"%.*s\" is configured",
		    (int)utf8_cut(id, 64), id);
		return -1;
	}
	if (as_of == NULL)
		return 0;
	*as_of = core_today(c->ctl->core, time(NULL));
	if (d != NULL && date_parse_iso(d, as_of) < 0) {
		client_error(c, RATD_ERR_BAD_DATE, "as_of \"%.*s\" is not a YYYY-MM-DD date",
		    (int)utf8_cut(d, 32), d);
		return -1;
	}
	return 0;
}

/* Writes the status reply of every treaty today to f: each treaty's entry from its own
 * cache (only those that changed are built again: a fetch among 600 treaties costs one
 * entry, not 600). 0; -1 when out of memory; the index + 1 of a treaty whose entry
 * cannot be built (a treaty left out would read as no treaty at all). */
static long
status_whole_write(FILE *f, struct control *ctl, day_t today)
{
	struct core *core = ctl->core;
	json_t *alerts = alerts_status(ctl->alerts), *journal = journal_status(&core->journal);
	const char *entry;
	size_t i, len;
	long rc = alerts != NULL && journal != NULL ? 0 : -1;

	fputs("{\"ok\":true,\"result\":{\"treaties\":[", f);
	for (i = 0; rc == 0 && i < core->ntreaties; i++) {
		if ((entry = status_treaty_text(core->treaties[i], today, &len)) == NULL)
			rc = (long)i + 1;
		else {
			if (i > 0)
				putc(',', f);
			fwrite(entry, 1, len, f);
		}
	}
	if (rc == 0) {
		fputs("],\"alerts\":", f);
		if (json_dumpf(alerts, f, JSON_COMPACT) != 0)
			rc = -1;
		fputs(",\"journal\":", f);
		if (json_dumpf(journal, f, JSON_COMPACT) != 0)
			rc = -1;
		fputs("}}", f);
	}
	json_decref(alerts);
	json_decref(journal);
	return rc;
}

/* Every treaty today: the last reply while nothing it shows has changed
 * (core->generation), else a new one, kept for the next request. */
static void
cmd_status_whole(struct client *c, day_t today)
{
	struct control *ctl = c->ctl;
	struct core *core = ctl->core;
	char *text = NULL;
	size_t len = 0;
	long rc = -1;
	FILE *f;

	if (ctl->status_text != NULL && ctl->status_gen == core->generation &&
	    ctl->status_day == today) {
		client_send_text(c, ctl->status_text, ctl->status_len);
		return;
	}
	if ((f = open_memstream(&text, &len)) != NULL) {
		rc = status_whole_write(f, ctl, today);
		if (ferror(f))
			rc = rc > 0 ? rc : -1;
		if (fclose(f) != 0)
			rc = rc > 0 ? rc : -1;
	}
	if (rc != 0) {
		free(text);
		if (rc > 0)
			client_error(c, RATD_ERR_INTERNAL, "cannot build the status of treaty %s",
			    core->treaties[rc - 1]->conf->id);
		else
			client_reply(c, NULL);
		return;
	}
	client_send_text(c, text, len);
	free(ctl->status_text);
	ctl->status_text = text;
	ctl->status_len = len;
	ctl->status_gen = core->generation;
	ctl->status_day = today;
}

static void
cmd_status(struct client *c, json_t *req)
{
	static const char *const args[] = { "treaty", "as_of", NULL };
	struct core *core = c->ctl->core;
	struct treaty *t;
	json_t *list, *reply;
	day_t as_of;
	size_t i;
	char *text;

	if (client_check_args(c, req, args) < 0 || client_target(c, req, false, &t, &as_of) < 0)
		return;
	/* The usual question: every treaty today. */
	if (t == NULL && as_of == core_today(core, time(NULL))) {
		cmd_status_whole(c, as_of);
		return;
	}
	list = json_array();
	/* A treaty left out would read as no treaty at all: an entry that cannot be built
	 * fails the whole reply, naming the treaty. */
	for (i = 0; i < core->ntreaties; i++)
		if ((t == NULL || t == core->treaties[i]) &&
		    json_array_append_new(list, status_treaty(core->treaties[i], as_of)) == -1) {
			json_decref(list);
			client_error(c, RATD_ERR_INTERNAL, "cannot build the status of treaty %s",
			    core->treaties[i]->conf->id);
			return;
		}
	reply = json_pack("{s:b, s:{s:o, s:o, s:o}}", "ok", 1, "result", "treaties", list,
	    "alerts", alerts_status(c->ctl->alerts), "journal", journal_status(&core->journal));
	text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	json_decref(reply);
	if (text == NULL) {
		client_reply(c, NULL);
		return;
	}
	client_send_text(c, text, strlen(text));
	free(text);
}

/* An optional integer argument within [lo, hi]; -1 after replying with the error. */
static int
client_int_arg(struct client *c, json_t *req, const char *key, json_int_t lo, json_int_t hi,
    json_int_t *out)
{
	const json_t *v = json_object_get(req, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		client_error(c, RATD_ERR_BAD_REQUEST, "\"%s\" must be an integer from %lld to %lld",
		    key, (long long)lo, (long long)hi);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/* The event on a journal line when it is one the history asks for, else NULL. */
static json_t *
history_match(const struct history *h, ssize_t n)
{
	json_t *ev;

	if (n <= 0 || h->line[n - 1] != '\n')
		return NULL;
	ev = json_loadb(h->line, (size_t)n - 1, JSON_REJECT_DUPLICATES, NULL);
	if (ev != NULL && event_check(ev) == 0 && event_id(ev) > h->since &&
	    event_id(ev) <= h->upto &&
	    (h->treaty == NULL || strcmp(event_treaty(ev), h->treaty) == 0))
		return ev;
	json_decref(ev);
	return NULL;
}

static void
history_end(struct client *c)
{
	struct history *h = c->hist;

	if (h == NULL)
		return;
	c->hist_ready = false;
	if (h->f != NULL)
		fclose(h->f);
	free(h->treaty);
	free(h->ring);
	free(h->line);
	free(h);
	c->hist = NULL;
}

/* First pass: the offsets of the latest `limit` matching lines, in a ring. 1 when the
 * pass is over, 0 to go on at the next turn, -1 when the journal cannot be read. */
static int
history_count(struct history *h)
{
	size_t i, slot;
	ssize_t n;
	off_t off;
	json_t *ev;
	off_t *nr;

	for (i = 0; i < CONTROL_HISTORY_STEP; i++) {
		off = ftello(h->f);
		if ((n = getline(&h->line, &h->linecap, h->f)) <= 0 || h->line[n - 1] != '\n')
			return ferror(h->f) ? -1 : 1;   /* the end, or a line still being written */
		if ((ev = history_match(h, n)) == NULL)
			continue;
		json_decref(ev);
		if ((slot = h->matched % h->limit) == h->ringcap) {
			h->ringcap = h->ringcap ? h->ringcap * 2 : 64;
			if (h->ringcap > h->limit)
				h->ringcap = h->limit;
			if ((nr = realloc(h->ring, h->ringcap * sizeof(*nr))) == NULL)
				return -1;
			h->ring = nr;
		}
		h->ring[slot] = off;
		h->matched++;
	}
	return 0;
}

/* Second pass: from the oldest line kept, events while the client has room for them. */
static void
history_emit(struct client *c)
{
	struct history *h = c->hist;
	bool end = false;
	ssize_t n;
	size_t i;
	json_t *ev;
	char *text;

	for (i = 0; i < CONTROL_HISTORY_STEP && h->left > 0 && !c->dead &&
	    client_unsent(c) < CONTROL_PAUSE_OUTPUT; i++) {
		if ((n = getline(&h->line, &h->linecap, h->f)) <= 0 || h->line[n - 1] != '\n') {
			end = true;
			break;
		}
		if ((ev = history_match(h, n)) == NULL)
			continue;
		text = json_dumps(ev, JSON_COMPACT);
		json_decref(ev);
		if (text == NULL) {
			c->dead = true;
			return;
		}
		if (h->written++ > 0)
			client_queue(c, ",", 1, false);
		client_queue(c, text, strlen(text), false);
		free(text);
		h->left--;
	}
	if (c->dead)
		return;
	if (h->left == 0 || end) {
		/* Done (a journal cut short by a crash ends it early: the reply stays whole). */
		history_end(c);
		client_queue(c, "]}}", 3, true);
	}
}

/* Runs a turn of the history while it may: counting always, writing while the client
 * and the shared budget have room (client_write_cb and the budget kick call again). */
static void
history_schedule(struct client *c)
{
	struct control *ctl = c->ctl;
	bool go = !c->dead && c->hist != NULL && (!c->hist->emitting ||
	    (client_unsent(c) < CONTROL_PAUSE_OUTPUT && control_has_budget(ctl)));

	if (!c->dead && c->hist != NULL && c->hist->emitting && !control_has_budget(ctl))
		c->budget_wait = ctl->waiting = true;
	c->hist_ready = go;
	if (go)
		ev_idle_start(ctl->core->loop, &ctl->hist_idle);
}

/* The first pass is over: seek to the oldest event to send and open the reply. */
static void
history_counted(struct client *c)
{
	static const char head[] = "{\"ok\":true,\"result\":{\"events\":[";
	struct history *h = c->hist;
	off_t start = 0;

	if (h->matched > 0)
		start = h->ring[h->matched > h->limit ? h->matched % h->limit : 0];
	h->left = h->matched < h->limit ? h->matched : h->limit;
	free(h->ring);
	h->ring = NULL;
	if (h->left > 0 && fseeko(h->f, start, SEEK_SET) < 0) {
		history_end(c);
		client_error(c, RATD_ERR_INTERNAL, "cannot read the journal: %s", strerror(errno));
		return;
	}
	h->emitting = true;
	client_queue(c, head, sizeof(head) - 1, false);
}

/* One step of one history (the one that waited longest) per turn of the loop, and only
 * when nothing else is pending: a request of another client waits one step at most. */
static void
history_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct control *ctl = w->data;
	struct client *c = NULL, *o;
	struct pollfd pfd;
	int rc;

	for (o = ctl->clients; o != NULL; o = o->next)
		if (o->hist_ready && (c == NULL || o->hist_turn < c->hist_turn))
			c = o;
	if (c == NULL) {
		ev_idle_stop(loop, w);
		return;
	}
	c->hist_turn = ++ctl->hist_turns;
	/* Its requests are not read meanwhile: a client that hung up is seen here, before
	 * the journal is read for nobody. */
	pfd.fd = c->fd;
	pfd.events = 0;
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR)) != 0) {
		c->dead = true;
		client_settle(c);
		return;
	}

	if (!c->hist->emitting) {
		if ((rc = history_count(c->hist)) < 0) {
			history_end(c);
			client_error(c, RATD_ERR_INTERNAL, "cannot read the journal");
		} else if (rc > 0)
			history_counted(c);
	} else
		history_emit(c);
	if (c->hist != NULL)
		history_schedule(c);
	else if (!c->dead) {
		/* Answered: the requests that waited behind it. */
		client_process(c);
		if (!c->dead && client_finished(c))
			c->dead = true;
	}
	client_settle(c);
}

static void
history_start(struct client *c, const struct treaty *t, size_t limit, uint64_t since)
{
	const struct journal *j = &c->ctl->core->journal;
	char path[4096];
	struct history *h;

	snprintf(path, sizeof(path), "%s/%s", j->dir, JOURNAL_NAME);
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (t != NULL && (h->treaty = strdup(t->conf->id)) == NULL)) {
		free(h);
		client_reply(c, NULL);
		return;
	}
	h->limit = limit;
	h->since = since;
	h->upto = j->synced_id;
	c->hist = h;
	if ((h->f = fopen(path, "re")) == NULL) {
		history_end(c);
		client_error(c, RATD_ERR_INTERNAL, "cannot read the journal: %s", strerror(errno));
		return;
	}
	ev_io_stop(c->ctl->core->loop, &c->rio);
	history_schedule(c);
}

static void
cmd_history(struct client *c, json_t *req)
{
	static const char *const args[] = { "treaty", "limit", "since", NULL };
	const struct journal *j = &c->ctl->core->journal;
	json_int_t limit = 50, since = 0;
	struct treaty *t;
	json_t *list;
	size_t i, first, n = 0;

	if (client_check_args(c, req, args) < 0 || client_target(c, req, false, &t, NULL) < 0 ||
	    client_int_arg(c, req, "limit", 1, JOURNAL_KEEP, &limit) < 0 ||
	    client_int_arg(c, req, "since", 0, INT64_MAX, &since) < 0)
		return;
	/* The latest `limit` matching events after `since`, oldest first. */
	first = journal_after(j, (uint64_t)since);
	for (i = j->n; i > first && n < (size_t)limit; i--)
		if (t == NULL || strcmp(event_treaty(j->v[i - 1]), t->conf->id) == 0)
			n++;
	if (n < (size_t)limit && !journal_in_memory(j, (uint64_t)since)) {
		/* Further back than memory reaches: read the journal itself, a little at a time. */
		history_start(c, t, (size_t)limit, (uint64_t)since);
		return;
	}
	list = json_array();
	for (; i < j->n; i++)
		if (t == NULL || strcmp(event_treaty(j->v[i]), t->conf->id) == 0)
			json_array_append(list, j->v[i]);
	client_reply(c, json_pack("{s:o}", "events", list));
}

static void
cmd_watch(struct client *c, json_t *req)
{
	static const char *const args[] = { "treaty", NULL };
	struct treaty *t;

	struct client *o;
	size_t n = 0;

	if (client_check_args(c, req, args) < 0 || client_target(c, req, false, &t, NULL) < 0)
		return;
	for (o = c->ctl->clients; o != NULL && !c->privileged; o = o->next)
		n += o->watching && o->cred.uid == c->cred.uid;
	if (n >= CONTROL_MAX_WATCH_PER_UID) {
		client_error(c, RATD_ERR_BUSY, "ratd is busy: user %u already has %zu watchers, "
		    "the most another user than root, ratd's or admin_group may have",
		    (unsigned)c->cred.uid, n);
		return;
	}
	if (t != NULL && (c->watch_treaty = strdup(t->conf->id)) == NULL) {
		client_reply(c, NULL);
		return;
	}
	c->watching = true;
	/* A watcher waits for events, not requests: idleness is its normal state. */
	ev_timer_stop(c->ctl->core->loop, &c->idle);
	client_reply(c, json_pack("{s:b}", "watching", 1));
}

void
control_broadcast(struct control *ctl, const struct event_list *evs)
{
	struct client *c, *next;
	size_t i;

	if (ctl == NULL)
		return;
	for (c = ctl->clients; c != NULL; c = next) {
		next = c->next;
		if (!c->watching)
			continue;
		for (i = 0; i < evs->n && !c->dead; i++) {
			if (c->watch_treaty != NULL &&
			    strcmp(c->watch_treaty, event_treaty(evs->v[i])) != 0)
				continue;
			/* A watcher that stopped reading is dropped before it costs memory, and
			 * sooner when every client's replies together fill the budget. */
			if (client_unsent(c) > CONTROL_MAX_WATCH_OUTPUT ||
			    (client_unsent(c) > CONTROL_PAUSE_OUTPUT && !control_has_budget(ctl))) {
				log_warn("control: dropping a watcher that does not read");
				c->dead = true;
				break;
			}
			client_send(c, json_pack("{s:O}", "event", evs->v[i]));
		}
		client_settle(c);
	}
}

static void
cmd_parties(struct client *c, json_t *req)
{
	static const char *const args[] = { "treaty", "as_of", NULL };
	struct treaty *t;
	day_t as_of;

	if (client_check_args(c, req, args) < 0 || client_target(c, req, true, &t, &as_of) < 0)
		return;
	client_reply(c, status_parties(t, as_of));
}

static void
refresh_finish(struct refresh *r)
{
	struct client *c = r->client;

	/* This runs inside a treaty's callbacks: the client's next requests (a reload
	 * could free that very treaty) wait for the loop's next turn. */
	if (c != NULL) {
		c->refresh = NULL;
		client_reply(c, json_pack("{s:O}", "treaties", r->results));
		ev_timer_start(c->ctl->core->loop, &c->resume);
	}
	json_decref(r->results);
	free(r);
}

static void
refresh_done(void *arg, struct treaty *t, enum treaty_outcome o, const char *error)
{
	struct refresh *r = arg;
	struct client *c = r->client;
	json_t *item;
	size_t i, k, n = json_array_size(r->results);

	/* Fetches end about in the order they were asked for (a host's queue is first come
	 * first served): looking from after the last one found keeps 600 treaties linear. */
	for (k = 0; k < n; k++) {
		i = (r->hint + k) % n;
		item = json_array_get(r->results, i);
		if (strcmp(json_string_value(json_object_get(item, "id")), t->conf->id) == 0) {
			json_object_set_new(item, "result", json_string(treaty_outcome_name(o)));
			json_object_set_new(item, "error", error ? json_string(error) : json_null());
			r->hint = i + 1;
			break;
		}
	}
	r->done++;
	if (--r->pending > 0) {
		/* A client that stops reading is dropped at the end (refresh_finish). */
		if (r->progress && c != NULL && !c->dead)
			client_send(c, json_pack("{s:{s:s, s:s, s:I, s:I}}", "progress", "id",
			    t->conf->id, "result", treaty_outcome_name(o), "done",
			    (json_int_t)r->done, "total", (json_int_t)json_array_size(r->results)));
		return;
	}
	refresh_finish(r);
	/* This runs from the fetcher, outside the client's own callbacks. */
	if (c != NULL)
		client_settle(c);
}

static void
cmd_refresh(struct client *c, json_t *req)
{
	static const char *const args[] = { "treaty", "progress", NULL };
	struct core *core = c->ctl->core;
	struct refresh *r;
	struct treaty *t;
	size_t i;

	if (client_check_args(c, req, args) < 0 || client_target(c, req, false, &t, NULL) < 0)
		return;
	if (!client_is_admin(c)) {
		client_error(c, RATD_ERR_PERMISSION_DENIED,
		    "refresh needs root, ratd's own user or a member of admin_group");
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL || (r->results = json_array()) == NULL) {
		free(r);
		client_reply(c, NULL);
		return;
	}
	r->client = c;
	r->progress = json_is_true(json_object_get(req, "progress"));
	c->refresh = r;
	ev_io_stop(core->loop, &c->rio);
	for (i = 0; i < core->ntreaties; i++)
		if (t == NULL || t == core->treaties[i])
			json_array_append_new(r->results, json_pack("{s:s, s:n, s:n}",
			    "id", core->treaties[i]->conf->id, "result" /* null */,
			    "error" /* null */));
	/* One extra count so that a fetch ending at once cannot finish r mid-loop. */
	r->pending = json_array_size(r->results) + 1;
	for (i = 0; i < core->ntreaties; i++)
		if (t == NULL || t == core->treaties[i])
			treaty_fetch_now(core->treaties[i], refresh_done, r);
	if (--r->pending == 0)
		refresh_finish(r);
}

static void
cmd_reload(struct client *c, json_t *req)
{
	static const char *const args[] = { NULL };
	char err[1024];
	int rc;

	if (client_check_args(c, req, args) < 0)
		return;
	if (!client_is_admin(c)) {
		client_error(c, RATD_ERR_PERMISSION_DENIED,
		    "reload needs root, ratd's own user or a member of admin_group");
		return;
	}
	rc = c->ctl->reload(c->ctl->owner, err, sizeof(err));
	if (rc == -1)
		client_error(c, RATD_ERR_BAD_REQUEST, "%s", err);
	else if (rc < 0)
		client_error(c, RATD_ERR_INTERNAL, "reload failed; see the daemon's log");
	else
		client_reply(c, json_pack("{s:b}", "reloaded", 1));
}

static void
cmd_metrics(struct client *c, json_t *req)
{
	static const char *const args[] = { NULL };
	char *text;

	if (client_check_args(c, req, args) < 0)
		return;
	if ((text = metrics_text(c->ctl->metrics)) == NULL) {
		client_reply(c, NULL);
		return;
	}
	client_reply(c, json_pack("{s:s}", "text", text));
	free(text);
}

static void
cmd_ping(struct client *c, json_t *req)
{
	static const char *const args[] = { NULL };

	if (client_check_args(c, req, args) == 0)
		client_reply(c, json_pack("{s:s}", "version", RATD_VERSION));
}

static const struct {
	const char *name;
	void (*fn)(struct client *, json_t *);
} commands[] = {
	{ "ping", cmd_ping },
	{ "status", cmd_status },
	{ "parties", cmd_parties },
	{ "refresh", cmd_refresh },
	{ "reload", cmd_reload },
	{ "history", cmd_history },
	{ "watch", cmd_watch },
	{ "metrics", cmd_metrics },
};

/* With -v, what a client asked (a command's name; nothing the client wrote) and who. */
static void
client_debug(const struct client *c, const char *what)
{
	log_debug("control: %s from uid %u, pid %d", what, (unsigned)c->cred.uid,
	    (int)c->cred.pid);
}

static void
client_request(struct client *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req, *cmd;
	size_t i;

	if ((req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		client_debug(c, "a bad request");
		client_error(c, RATD_ERR_BAD_REQUEST, "invalid JSON: %s", jerr.text);
		return;
	}
	cmd = json_object_get(req, "cmd");
	if (!json_is_object(req) || !json_is_string(cmd)) {
		client_debug(c, "a bad request");
		client_error(c, RATD_ERR_BAD_REQUEST,
		    "a request is a JSON object with a \"cmd\" string");
		json_decref(req);
		return;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, json_string_value(cmd)) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		client_debug(c, "an unknown command");
		client_error(c, RATD_ERR_UNKNOWN_COMMAND, "unknown command \"%.*s\"",
		    (int)utf8_cut(json_string_value(cmd), 64), json_string_value(cmd));
	} else {
		client_debug(c, commands[i].name);
		commands[i].fn(c, req);
	}
	json_decref(req);
}

/* Reads requests only while their answers can go out: a client that does not read
 * its replies stops being read, instead of growing the daemon. */
static void
client_want_read(struct client *c)
{
	struct ev_loop *loop = c->ctl->core->loop;

	if (!c->dead && !c->eof && !c->closing && c->refresh == NULL && c->hist == NULL &&
	    !c->budget_wait && c->inlen < RATD_MAX_LINE &&
	    (c->watching || c->outlen - c->outoff < CONTROL_PAUSE_OUTPUT))
		ev_io_start(loop, &c->rio);
	else
		ev_io_stop(loop, &c->rio);
}

/* Handles complete request lines, one at a time: a refresh or a long history pauses
 * them, unsent replies (the client's own, or all clients' over CONTROL_OUTPUT_BUDGET)
 * pause them, and after CONTROL_BURST the other clients get their turn first. */
static void
client_process(struct client *c)
{
	size_t off = 0, len, done = 0;
	char *nl, *line;

	if (c->watching) {
		/* A watcher has said all it will say; what it sends now is ignored. */
		c->inlen = 0;
		client_want_read(c);
		return;
	}
	while (!c->dead && !c->closing && c->refresh == NULL && c->hist == NULL &&
	    !c->watching && client_unsent(c) < CONTROL_PAUSE_OUTPUT &&
	    (nl = memchr(c->in + off, '\n', c->inlen - off)) != NULL) {
		if (!control_has_budget(c->ctl)) {
			/* control_sent runs this client again once there is room. */
			c->budget_wait = c->ctl->waiting = true;
			break;
		}
		if (done++ == CONTROL_BURST) {
			ev_timer_start(c->ctl->core->loop, &c->resume);
			break;
		}
		len = (size_t)(nl - (c->in + off));
		ev_timer_again(c->ctl->core->loop, &c->idle);
		if ((line = strndup(c->in + off, len)) == NULL) {
			c->dead = true;
			return;
		}
		off += len + 1;
		client_request(c, line, len);
		free(line);
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
	if (!c->dead && c->refresh == NULL && c->hist == NULL && c->inlen == RATD_MAX_LINE &&
	    memchr(c->in, '\n', c->inlen) == NULL) {
		client_error(c, RATD_ERR_BAD_REQUEST, "request line longer than %d bytes",
		    RATD_MAX_LINE);
		c->closing = true;
		client_flush(c);
	}
	client_want_read(c);
}

static void
client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = w->data;
	ssize_t n;
	char *nb;

	if (c->inlen == RATD_MAX_LINE) {
		ev_io_stop(loop, &c->rio);   /* client_process decides when to read again */
		return;
	}
	if (c->incap < RATD_MAX_LINE && c->inlen == c->incap) {
		size_t cap = c->incap ? c->incap * 4 : 1024;

		if (cap > RATD_MAX_LINE)
			cap = RATD_MAX_LINE;
		if ((nb = realloc(c->in, cap)) == NULL) {
			client_free(c);
			return;
		}
		c->in = nb;
		c->incap = cap;
	}
	n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* Half-closed: answer what was asked, then hang up. */
		c->eof = true;
		ev_io_stop(loop, &c->rio);
		if (n < 0 || (c->outlen == 0 && c->refresh == NULL && c->hist == NULL &&
		    memchr(c->in, '\n', c->inlen) == NULL))
			c->dead = true;
	} else
		c->inlen += (size_t)n;
	client_process(c);
	if (!c->dead && client_finished(c))
		c->dead = true;
	client_settle(c);
}

static void
client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = w->data;

	client_flush(c);
	if (c->hist != NULL)
		history_schedule(c);
	else if (!c->dead && client_unsent(c) < CONTROL_PAUSE_OUTPUT)
		client_process(c);
	client_settle(c);
}

/* After a refresh: the requests that waited behind it, then the usual end of a client. */
static void
client_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = w->data;

	client_process(c);
	if (!c->dead && client_finished(c))
		c->dead = true;
	client_settle(c);
}

static void
client_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = w->data;

	/* A refresh in progress, or a history being counted, is not idleness. */
	if (c->refresh == NULL && (c->hist == NULL || c->hist->emitting))
		c->dead = true;
	client_settle(c);
}

/* The clients that waited for the output budget, now that it has room. */
static void
control_budget_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control *ctl = w->data;
	struct client *c, *next;

	ctl->waiting = false;
	for (c = ctl->clients; c != NULL; c = next) {
		next = c->next;
		if (!c->budget_wait)
			continue;
		c->budget_wait = false;
		if (c->hist != NULL)
			history_schedule(c);
		else {
			client_process(c);
			if (!c->dead && client_finished(c))
				c->dead = true;
		}
		client_settle(c);
	}
}

/* Tells a client over the limit why, without waiting for it: the reply is in its
 * socket before the close, so a client that writes first still reads it. */
static void
control_refuse(int fd, const char *why)
{
	json_t *msg = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", RATD_ERR_BUSY,
	    "message", why);
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;

	json_decref(msg);
	if (text != NULL) {
		(void)!send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)!send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	free(text);
	close(fd);
}

/* Whether c may take a slot: NULL, or why not (into buf). Like unbound's limits, a few
 * slots stay for privileged peers and no other user takes more than its share, so that
 * readers cannot lock root out of refresh and reload. */
static const char *
control_admit(const struct control *ctl, const struct client *c, char *buf, size_t len)
{
	const struct client *o;
	size_t same = 0;

	if (ctl->nclients >= ctl->max_clients) {
		snprintf(buf, len, "ratd is busy: all %zu client connections are taken; try "
		    "again later", ctl->max_clients);
		return buf;
	}
	if (c->privileged)
		return NULL;
	if (ctl->nclients >= ctl->max_clients - ctl->reserved) {
		snprintf(buf, len, "ratd is busy: the %zu connections open to other users are "
		    "taken (%zu more are kept for root, ratd's user and admin_group); try again "
		    "later", ctl->max_clients - ctl->reserved, ctl->reserved);
		return buf;
	}
	for (o = ctl->clients; o != NULL; o = o->next)
		same += !o->privileged && o->cred.uid == c->cred.uid;
	if (same >= ctl->per_uid) {
		snprintf(buf, len, "ratd is busy: user %u already has %zu connections, the most "
		    "one user other than root, ratd's or admin_group may have; close some",
		    (unsigned)c->cred.uid, same);
		return buf;
	}
	return NULL;
}

static void
control_add_client(struct control *ctl, int fd)
{
	struct client *c;
	socklen_t len = sizeof(c->cred);
	char why[256];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0) {
		/* Unknown peers get no privileges. */
		c->cred.uid = (uid_t)-1;
		c->cred.gid = (gid_t)-1;
		c->cred.pid = 0;
	} else
		c->privileged = client_is_admin(c);
	if (control_admit(ctl, c, why, sizeof(why)) != NULL) {
		control_refuse(fd, why);
		free(c);
		return;
	}
	ev_io_init(&c->rio, client_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, client_write_cb, fd, EV_WRITE);
	ev_init(&c->idle, client_idle_cb);
	c->idle.repeat = CONTROL_IDLE_TIMEOUT;
	ev_timer_init(&c->resume, client_resume_cb, 0., 0.);
	c->rio.data = c->wio.data = c->idle.data = c->resume.data = c;
	c->next = ctl->clients;
	if (ctl->clients != NULL)
		ctl->clients->prev = c;
	ctl->clients = c;
	ctl->nclients++;
	ev_io_start(ctl->core->loop, &c->rio);
	ev_timer_again(ctl->core->loop, &c->idle);
}

static void
control_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *ctl = w->data;
	int fd, i;

	/* A bounded batch per wake-up keeps a connection flood from starving the loop. */
	for (i = 0; i < 64; i++) {
		fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_warn("control: accept: %s; pausing for a second", strerror(errno));
				ev_io_stop(loop, &ctl->accept_io);
				ev_timer_set(&ctl->accept_pause, 1., 0.);
				ev_timer_start(loop, &ctl->accept_pause);
			}
			return;
		}
		control_add_client(ctl, fd);
	}
}

static void
control_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control *ctl = w->data;

	ev_io_start(loop, &ctl->accept_io);
}

/* Removes a socket file left by a ratd that is gone; refuses to take a live one's. */
static int
control_clear_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc;

	if (lstat(sa->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		log_err("control: %s: %s", sa->sun_path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_err("control: %s exists and is not a socket; remove it or set another "
		    "socket path", sa->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_err("control: socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0) {
		log_err("control: another ratd is answering on %s; stop it first", sa->sun_path);
		return -1;
	}
	if (unlink(sa->sun_path) < 0 && errno != ENOENT) {
		log_err("control: cannot remove the stale socket %s: %s", sa->sun_path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The socket systemd passed: its unit set path, mode and group, and it stays its own
 * (ctl->path stays NULL, so it is never unlinked here). */
static int
control_adopt(struct control *ctl, const struct conf *conf)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];

	ctl->fd = ctl->listen_fd;
	ctl->listen_fd = -1;
	if (sd_listen_path(ctl->fd, path, sizeof(path)) < 0)
		strcpy(path, "an unnamed socket");
	if (strcmp(path, conf->socket) != 0)
		log_notice("control: serving %s, passed by systemd; socket = %s is not used",
		    path, conf->socket);
	log_info("control: listening on %s (passed by systemd)", path);
	return 0;
}

static int
control_bind(struct control *ctl, const struct conf *conf)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct group *gr;
	mode_t old;
	int rc;

	if (ctl->listen_fd >= 0)
		return control_adopt(ctl, conf);
	if (strlen(conf->socket) >= sizeof(sa.sun_path)) {
		log_err("control: socket path %s is longer than %zu bytes", conf->socket,
		    sizeof(sa.sun_path) - 1);
		return -1;
	}
	strcpy(sa.sun_path, conf->socket);
	if (control_clear_stale(&sa) < 0)
		return -1;
	if ((ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		log_err("control: socket: %s", strerror(errno));
		return -1;
	}
	/* No window in which the socket exists with looser permissions than configured. */
	old = umask(0777 & ~conf->socket_mode);
	rc = bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0) {
		log_err("control: cannot bind %s: %s", conf->socket, strerror(errno));
		return -1;
	}
	ctl->path = strdup(conf->socket);
	if (chmod(conf->socket, conf->socket_mode) < 0)
		log_warn("control: chmod %s: %s", conf->socket, strerror(errno));
	if (conf->socket_group != NULL) {
		if ((gr = getgrnam(conf->socket_group)) == NULL) {
			log_err("control: socket_group %s: no such group", conf->socket_group);
			return -1;
		}
		if (chown(conf->socket, (uid_t)-1, gr->gr_gid) < 0) {
			log_err("control: cannot give %s to group %s: %s", conf->socket,
			    conf->socket_group, strerror(errno));
			return -1;
		}
	}
	if (listen(ctl->fd, 128) < 0) {
		log_err("control: listen on %s: %s", conf->socket, strerror(errno));
		return -1;
	}
	return 0;
}

/* admin_group's id: its members may refresh and reload. */
static void
control_admin_group(struct control *ctl, const struct conf *conf)
{
	struct group *gr;

	ctl->have_admin_gid = false;
	if (conf->admin_group == NULL)
		return;
	if ((gr = getgrnam(conf->admin_group)) == NULL)
		log_warn("admin_group %s: no such group; only root and ratd's own user "
		    "may refresh or reload", conf->admin_group);
	else {
		ctl->admin_gid = gr->gr_gid;
		ctl->have_admin_gid = true;
	}
}

void
control_limits(struct control *ctl)
{
	const struct conf *conf;
	rlim_t need, want, have;
	struct rlimit rl;
	size_t max;

	if (ctl == NULL)
		return;
	conf = ctl->core->conf;
	control_admin_group(ctl, conf);
	need = CONTROL_FD_BASE + CONTROL_FD_PER_TREATY * (rlim_t)conf->ntreaties +
	    CONTROL_FD_PER_SINK * (rlim_t)conf->nalerts;
	want = need + CONTROL_MAX_CLIENTS * CONTROL_FD_PER_CLIENT;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		rl.rlim_cur = rl.rlim_max = want;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want && rl.rlim_max > rl.rlim_cur) {
		struct rlimit up = { rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ?
		    rl.rlim_max : want, rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	have = rl.rlim_cur == RLIM_INFINITY ? want : rl.rlim_cur;
	max = have > need ? (size_t)((have - need) / CONTROL_FD_PER_CLIENT) : 0;
	if (max > CONTROL_MAX_CLIENTS)
		max = CONTROL_MAX_CLIENTS;
	if (max < CONTROL_MAX_CLIENTS)
		log_warn("control: RLIMIT_NOFILE is %llu and ratd keeps %llu descriptors for its "
		    "own work: %zu clients at most (raise LimitNOFILE= or ulimit -n to %llu for %d)",
		    (unsigned long long)have, (unsigned long long)need, max < 2 ? 2 : max,
		    (unsigned long long)want, CONTROL_MAX_CLIENTS);
	/* One slot for root and one for the rest even when descriptors are short. */
	ctl->max_clients = max < 2 ? 2 : max;
	ctl->reserved = ctl->max_clients >= 4 * CONTROL_RESERVED ? CONTROL_RESERVED :
	    (ctl->max_clients + 3) / 4;
	ctl->per_uid = ctl->max_clients - ctl->reserved;
	if (ctl->per_uid > CONTROL_MAX_PER_UID)
		ctl->per_uid = CONTROL_MAX_PER_UID;
	log_info("control: up to %zu clients, %zu of them kept for root, ratd's user and "
	    "admin_group; at most %zu per other user, %d of them watching",
	    ctl->max_clients, ctl->reserved, ctl->per_uid, CONTROL_MAX_WATCH_PER_UID);
}

/* What serving clients needs besides the socket: the limits and the shared watchers. */
static void
control_setup(struct control *ctl)
{
	control_limits(ctl);
	ev_timer_init(&ctl->budget_kick, control_budget_cb, 0., 0.);
	ev_idle_init(&ctl->hist_idle, history_idle_cb);
	ctl->budget_kick.data = ctl->hist_idle.data = ctl;
}

struct control *
control_new(struct core *core, const struct control_deps *deps)
{
	struct control *ctl;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL) {
		if (deps->listen_fd >= 0)
			close(deps->listen_fd);
		return NULL;
	}
	ctl->core = core;
	ctl->alerts = deps->alerts;
	ctl->metrics = deps->metrics;
	ctl->reload = deps->reload;
	ctl->owner = deps->owner;
	ctl->listen_fd = deps->listen_fd;
	ctl->fd = -1;
	if (control_bind(ctl, core->conf) < 0) {
		control_free(ctl);
		return NULL;
	}
	control_setup(ctl);
	ev_io_init(&ctl->accept_io, control_accept_cb, ctl->fd, EV_READ);
	ev_init(&ctl->accept_pause, control_resume_cb);
	ctl->accept_io.data = ctl->accept_pause.data = ctl;
	ev_io_start(core->loop, &ctl->accept_io);
	if (ctl->path != NULL)
		log_info("control: listening on %s", ctl->path);
	return ctl;
}

void
control_free(struct control *ctl)
{
	if (ctl == NULL)
		return;
	while (ctl->clients != NULL)
		client_free(ctl->clients);
	ev_io_stop(ctl->core->loop, &ctl->accept_io);
	ev_timer_stop(ctl->core->loop, &ctl->accept_pause);
	ev_timer_stop(ctl->core->loop, &ctl->budget_kick);
	ev_idle_stop(ctl->core->loop, &ctl->hist_idle);
	if (ctl->fd >= 0)
		close(ctl->fd);
	if (ctl->path != NULL)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl->status_text);
	free(ctl);
}
