/* The control socket: bounded JSON-lines requests, answered from committed state. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <ratd/proto.h>

#include "alert.h"
#include "control.h"
#include "listen.h"
#include "journal.h"
#include "metrics.h"
#include "log.h"
#include "ratd.h"
#include "status.h"
#include "treaty.h"
#include "utf8.h"

struct client;

struct control {
	struct ratd *rd;
	int fd;
	char *path;               /* the socket file we created, unlinked at the end */
	ev_io accept_io;
	ev_timer accept_pause;    /* out of file descriptors: try again shortly */
	struct client *clients;
	size_t nclients;
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
};

struct client {
	struct control *ctl;
	int fd;
	ev_io rio, wio;
	ev_timer idle;
	ev_timer resume;          /* runs what waited behind a refresh, from the loop */
	char *in;                 /* bytes of requests not yet handled */
	size_t inlen, incap;
	char *out;                /* reply bytes not yet written */
	size_t outlen, outoff;
	bool eof;                 /* the peer will send nothing more */
	bool dead;                /* to be freed by client_settle */
	bool closing;             /* hang up once out is written */
	struct refresh *refresh;  /* stop reading until this one is answered */
	bool watching;            /* gets every new event (of watch_treaty, when set) */
	char *watch_treaty;
	struct ucred cred;
	struct client *next, *prev;
};

static void client_process(struct client *c);

static void
client_free(struct client *c)
{
	struct control *ctl = c->ctl;

	if (c->refresh != NULL)
		c->refresh->client = NULL;
	ev_io_stop(ctl->rd->loop, &c->rio);
	ev_io_stop(ctl->rd->loop, &c->wio);
	ev_timer_stop(ctl->rd->loop, &c->idle);
	ev_timer_stop(ctl->rd->loop, &c->resume);
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
	return c->eof && c->outlen == 0 && c->refresh == NULL &&
	    (c->watching || memchr(c->in, '\n', c->inlen) == NULL);
}

/* Writes what it can without blocking. */
static void
client_flush(struct client *c)
{
	struct ev_loop *loop = c->ctl->rd->loop;
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
		/* A client slowly reading a long reply is busy, not idle. */
		if (!c->watching)
			ev_timer_again(loop, &c->idle);
	}
	c->outoff = c->outlen = 0;
	ev_io_stop(loop, &c->wio);
	if (c->closing || client_finished(c))
		c->dead = true;
}

/* Queues one line of len bytes (its newline added here). A client that lets too much
 * pile up is dropped. */
static void
client_send_text(struct client *c, const char *text, size_t len)
{
	size_t need;
	char *nb;

	if (c->dead || text == NULL) {
		c->dead = true;
		return;
	}
	/* Only unsent bytes count against the bound: drop what was already written. */
	if (c->outoff > 0) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	need = c->outlen + len + 1;
	if (need > CONTROL_MAX_OUTPUT || (nb = realloc(c->out, need)) == NULL) {
		log_warn("control: dropping a client that does not read its replies");
		c->dead = true;
		return;
	}
	c->out = nb;
	memcpy(c->out + c->outlen, text, len);
	c->out[c->outlen + len] = '\n';
	c->outlen = need;
	client_flush(c);
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
	client_send(c, json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error",
	    "code", code, "message", msg));
}

/* Root, the daemon's own user, or a member of admin_group. */
static bool
client_is_admin(struct client *c)
{
	struct ratd *rd = c->ctl->rd;
	gid_t some[64], *groups = some;
	socklen_t len = sizeof(some);
	bool ok = false;
	size_t i;

	if (c->cred.uid == 0 || c->cred.uid == geteuid())
		return true;
	if (!rd->have_admin_gid)
		return false;
	if (c->cred.gid == rd->admin_gid)
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
		ok = groups[i] == rd->admin_gid;
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
	if (id != NULL && (*t = ratd_treaty(c->ctl->rd, id)) == NULL) {
		client_error(c, RATD_ERR_UNKNOWN_TREATY, "no treaty \"%.*s\" is configured",
		    (int)utf8_cut(id, 64), id);
		return -1;
	}
	if (as_of == NULL)
		return 0;
	*as_of = date_of_time(time(NULL));
	if (d != NULL && date_parse_iso(d, as_of) < 0) {
		client_error(c, RATD_ERR_BAD_DATE, "as_of \"%.*s\" is not a YYYY-MM-DD date",
		    (int)utf8_cut(d, 32), d);
		return -1;
	}
	return 0;
}

static void
cmd_status(struct client *c, json_t *req)
{
	static const char *const args[] = { "treaty", "as_of", NULL };
	struct ratd *rd = c->ctl->rd;
	struct treaty *t;
	json_t *list;
	day_t as_of;
	size_t i;

	struct control *ctl = c->ctl;
	bool whole;
	json_t *reply;
	char *text;

	if (client_check_args(c, req, args) < 0 || client_target(c, req, false, &t, &as_of) < 0)
		return;
	/* The usual question, every treaty today, is answered from the last reply while
	 * nothing it shows has changed (rd->generation). */
	whole = t == NULL && as_of == date_of_time(time(NULL));
	if (whole && ctl->status_text != NULL && ctl->status_gen == rd->generation &&
	    ctl->status_day == as_of) {
		client_send_text(c, ctl->status_text, ctl->status_len);
		return;
	}
	list = json_array();
	/* A treaty left out would read as no treaty at all: an entry that cannot be built
	 * fails the whole reply, naming the treaty. */
	for (i = 0; i < rd->ntreaties; i++)
		if ((t == NULL || t == rd->treaties[i]) &&
		    json_array_append_new(list, status_treaty(rd->treaties[i], as_of)) == -1) {
			json_decref(list);
			client_error(c, RATD_ERR_INTERNAL, "cannot build the status of treaty %s",
			    rd->treaties[i]->conf->id);
			return;
		}
	reply = json_pack("{s:b, s:{s:o, s:o}}", "ok", 1, "result", "treaties", list, "alerts",
	    alerts_status(rd->alerts));
	text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	json_decref(reply);
	if (text == NULL) {
		client_reply(c, NULL);
		return;
	}
	client_send_text(c, text, strlen(text));
	if (whole) {
		free(ctl->status_text);
		ctl->status_text = text;
		ctl->status_len = strlen(text);
		ctl->status_gen = rd->generation;
		ctl->status_day = as_of;
	} else
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

struct history_scan {
	const char *treaty;      /* NULL: every treaty */
	size_t limit;
	json_t *list;            /* the latest `limit` seen so far, oldest first */
};

static bool
history_add(void *arg, json_t *ev)
{
	struct history_scan *hs = arg;

	if (hs->treaty != NULL && strcmp(event_treaty(ev), hs->treaty) != 0)
		return true;
	if (json_array_size(hs->list) == hs->limit)
		json_array_remove(hs->list, 0);
	json_array_append(hs->list, ev);
	return true;
}

static void
cmd_history(struct client *c, json_t *req)
{
	static const char *const args[] = { "treaty", "limit", "since", NULL };
	const struct journal *j = &c->ctl->rd->journal;
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
		/* Further back than memory reaches: read the journal itself. */
		struct history_scan hs = { .treaty = t ? t->conf->id : NULL, .limit = (size_t)limit,
		    .list = json_array() };

		if (journal_scan(&c->ctl->rd->journal, (uint64_t)since, history_add, &hs) < 0) {
			json_decref(hs.list);
			client_error(c, RATD_ERR_INTERNAL, "cannot read the journal");
			return;
		}
		client_reply(c, json_pack("{s:o}", "events", hs.list));
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

	if (client_check_args(c, req, args) < 0 || client_target(c, req, false, &t, NULL) < 0)
		return;
	if (t != NULL && (c->watch_treaty = strdup(t->conf->id)) == NULL) {
		client_reply(c, NULL);
		return;
	}
	c->watching = true;
	/* A watcher waits for events, not requests: idleness is its normal state. */
	ev_timer_stop(c->ctl->rd->loop, &c->idle);
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
			/* A watcher that stopped reading is dropped before it costs memory. */
			if (c->outlen - c->outoff > CONTROL_MAX_WATCH_OUTPUT) {
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
		ev_timer_start(c->ctl->rd->loop, &c->resume);
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
	size_t i;

	json_array_foreach(r->results, i, item) {
		if (strcmp(json_string_value(json_object_get(item, "id")), t->conf->id) == 0) {
			json_object_set_new(item, "result", json_string(treaty_outcome_name(o)));
			json_object_set_new(item, "error", error ? json_string(error) : json_null());
		}
	}
	if (--r->pending > 0)
		return;
	refresh_finish(r);
	/* This runs from the fetcher, outside the client's own callbacks. */
	if (c != NULL)
		client_settle(c);
}

static void
cmd_refresh(struct client *c, json_t *req)
{
	static const char *const args[] = { "treaty", NULL };
	struct ratd *rd = c->ctl->rd;
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
	c->refresh = r;
	ev_io_stop(rd->loop, &c->rio);
	for (i = 0; i < rd->ntreaties; i++)
		if (t == NULL || t == rd->treaties[i])
			json_array_append_new(r->results, json_pack("{s:s, s:n, s:n}",
			    "id", rd->treaties[i]->conf->id, "result" /* null */,
			    "error" /* null */));
	/* One extra count so that a fetch ending at once cannot finish r mid-loop. */
	r->pending = json_array_size(r->results) + 1;
	for (i = 0; i < rd->ntreaties; i++)
		if (t == NULL || t == rd->treaties[i])
			treaty_fetch_now(rd->treaties[i], refresh_done, r);
	if (--r->pending == 0)
		refresh_finish(r);
}

static void
cmd_reload(struct client *c, json_t *req)
{
	static const char *const args[] = { NULL };
	struct ratd *rd = c->ctl->rd;
	struct conf *conf;

	if (client_check_args(c, req, args) < 0)
		return;
	if (!client_is_admin(c)) {
		client_error(c, RATD_ERR_PERMISSION_DENIED,
		    "reload needs root, ratd's own user or a member of admin_group");
		return;
	}
	if ((conf = calloc(1, sizeof(*conf))) == NULL) {
		client_reply(c, NULL);
		return;
	}
	if (conf_load(rd->conf->path, conf) < 0) {
		client_error(c, RATD_ERR_BAD_REQUEST, "%s (%zu problems in all); the running "
		    "configuration is kept", conf->nerrors ? conf->errors[0] : rd->conf->path,
		    conf->nerrors);
		conf_free(conf);
		free(conf);
		return;
	}
	if (ratd_reload(rd, conf) < 0)
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
	if ((text = metrics_text(c->ctl->rd)) == NULL) {
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

static void
client_request(struct client *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req, *cmd;
	size_t i;

	if ((req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		client_error(c, RATD_ERR_BAD_REQUEST, "invalid JSON: %s", jerr.text);
		return;
	}
	cmd = json_object_get(req, "cmd");
	if (!json_is_object(req) || !json_is_string(cmd)) {
		client_error(c, RATD_ERR_BAD_REQUEST,
		    "a request is a JSON object with a \"cmd\" string");
		json_decref(req);
		return;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, json_string_value(cmd)) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0]))
		client_error(c, RATD_ERR_UNKNOWN_COMMAND, "unknown command \"%.*s\"",
		    (int)utf8_cut(json_string_value(cmd), 64), json_string_value(cmd));
	else
		commands[i].fn(c, req);
	json_decref(req);
}

/* Reads requests only while their answers can go out: a client that does not read
 * its replies stops being read, instead of growing the daemon. */
static void
client_want_read(struct client *c)
{
	struct ev_loop *loop = c->ctl->rd->loop;

	if (!c->dead && !c->eof && !c->closing && c->refresh == NULL &&
	    c->inlen < RATD_MAX_LINE &&
	    (c->watching || c->outlen - c->outoff < CONTROL_PAUSE_OUTPUT))
		ev_io_start(loop, &c->rio);
	else
		ev_io_stop(loop, &c->rio);
}

/* Handles complete request lines, one at a time: a refresh pauses them, unsent replies
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
	while (!c->dead && !c->closing && c->refresh == NULL && !c->watching &&
	    c->outlen - c->outoff < CONTROL_PAUSE_OUTPUT &&
	    (nl = memchr(c->in + off, '\n', c->inlen - off)) != NULL) {
		if (done++ == CONTROL_BURST) {
			ev_timer_start(c->ctl->rd->loop, &c->resume);
			break;
		}
		len = (size_t)(nl - (c->in + off));
		ev_timer_again(c->ctl->rd->loop, &c->idle);
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
	if (!c->dead && c->refresh == NULL && c->inlen == RATD_MAX_LINE &&
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
		if (n < 0 || (c->outlen == 0 && c->refresh == NULL &&
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
	if (!c->dead && c->outlen - c->outoff < CONTROL_PAUSE_OUTPUT)
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

	/* A refresh in progress is not idleness. */
	if (c->refresh == NULL)
		c->dead = true;
	client_settle(c);
}

/* Tells a client over the limit why, without waiting for it. */
static void
control_refuse(int fd)
{
	static const char busy[] = "{\"ok\":false,\"error\":{\"code\":\"" RATD_ERR_BUSY
	    "\",\"message\":\"too many clients; try again\"}}\n";

	(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void
control_add_client(struct control *ctl, int fd)
{
	struct client *c;
	socklen_t len = sizeof(c->cred);

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
	ev_io_start(ctl->rd->loop, &c->rio);
	ev_timer_again(ctl->rd->loop, &c->idle);
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
		if (ctl->nclients >= CONTROL_MAX_CLIENTS)
			control_refuse(fd);
		else
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

	ctl->fd = ctl->rd->listen_fd;
	ctl->rd->listen_fd = -1;
	if (listen_path(ctl->fd, path, sizeof(path)) < 0)
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

	if (ctl->rd->listen_fd >= 0)
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

struct control *
control_new(struct ratd *rd)
{
	struct control *ctl;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
		return NULL;
	ctl->rd = rd;
	ctl->fd = -1;
	if (control_bind(ctl, rd->conf) < 0) {
		control_free(ctl);
		return NULL;
	}
	ev_io_init(&ctl->accept_io, control_accept_cb, ctl->fd, EV_READ);
	ev_init(&ctl->accept_pause, control_resume_cb);
	ctl->accept_io.data = ctl->accept_pause.data = ctl;
	ev_io_start(rd->loop, &ctl->accept_io);
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
	ev_io_stop(ctl->rd->loop, &ctl->accept_io);
	ev_timer_stop(ctl->rd->loop, &ctl->accept_pause);
	if (ctl->fd >= 0)
		close(ctl->fd);
	if (ctl->path != NULL)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl->status_text);
	free(ctl);
}
