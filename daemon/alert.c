/* Sinks: one delivery at a time each, so order holds; a failure is retried with full
 * jitter and later events wait behind it. */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "atomicfile.h"
#include "fetch.h"
#include "exec_sink.h"
#include "log.h"
#include "core.h"
#include "status.h"
#include "treaty.h"

extern char **environ;

struct sink {
	struct alerts *a;
	const struct conf_alert *conf;
	uint64_t delivered;      /* the last event id delivered (or skipped by the filters) */
	uint64_t trying;         /* the event being delivered or waiting to be retried */
	int attempts;
	unsigned int started;    /* the loop's iteration when the last delivery started */
	uint64_t delivered_count;    /* since start, for metrics */
	size_t pending;          /* wanted events after `delivered`, up to alerts.counted */
	char *last_error;
	time_t last_delivery;
	time_t next_try;
	ev_timer retry;
	struct fetch *fetch;
	struct exec_sink *hook;
	struct exec_sink_log_budget hook_log;   /* the exec program's output lines, over its runs */
};

/* Each sink's pending count is kept, not recounted per status or metrics request: it
 * goes up as events reach the disk (alerts_catch_up) and down as they are delivered,
 * and is counted from the journal once at start and at each reload. */
struct alerts {
	struct core *core;
	bool single_attempt;     /* --once: one attempt per delivery, no retry timer */
	struct sink **v;
	size_t n;
	char host[256];          /* for EHLO and Message-ID: the FQDN, else the host name */
	uint64_t counted;        /* the events up to this id are in the pending counts */
	size_t lines;            /* the journal's lines then: fewer means it was compacted */
};

static void sink_next(struct sink *s);
static void alerts_recount(struct alerts *a);
static void alerts_catch_up(struct alerts *a);

static bool
sink_listed(char **list, size_t n, const char *item)
{
	size_t i;

	if (list == NULL)
		return true;
	for (i = 0; i < n; i++)
		if (strcmp(list[i], item) == 0)
			return true;
	return false;
}

static bool
sink_wants(const struct sink *s, const json_t *ev)
{
	return sink_listed(s->conf->events, s->conf->nevents, event_type(ev)) &&
	    sink_listed(s->conf->treaties, s->conf->ntreaties, event_treaty(ev));
}

/* Saves every sink's cursor: small, atomic, after each delivery. */
static void
alerts_save(struct alerts *a)
{
	json_t *root = json_object(), *sinks = json_object();
	char err[1024], *text;
	size_t i;

	for (i = 0; i < a->n; i++)
		json_object_set_new(sinks, a->v[i]->conf->name, json_pack("{s:I}", "delivered",
		    (json_int_t)a->v[i]->delivered));
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "sinks", sinks);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (text == NULL ||
	    atomicfile_write(a->core->conf->state_dir, ALERT_CURSORS, text, strlen(text), err,
	    sizeof(err)) < 0)
		log_err("alerts: cannot save delivery cursors: %s; a delivered event may be "
		    "delivered again after a restart", text ? err : "out of memory");
	free(text);
}

/* The saved cursors: {"sinks": {NAME: {"delivered": N}}}; NULL when none or unreadable. */
static json_t *
alerts_load(struct alerts *a)
{
	char path[4096], why[512], *text;
	size_t len;
	json_t *root;

	snprintf(path, sizeof(path), "%s/%s", a->core->conf->state_dir, ALERT_CURSORS);
	if (atomicfile_read(path, 1 << 20, &text, &len, why, sizeof(why)) < 0) {
		if (errno != ENOENT)
			log_err("alerts: %s", why);
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	if (!json_is_object(json_object_get(root, "sinks"))) {
		log_err("alerts: %s is not valid; sinks start from the latest event", path);
		json_decref(root);
		return NULL;
	}
	return root;
}

static struct sink *
sink_new(struct alerts *a, const struct conf_alert *ca, const json_t *saved)
{
	json_t *d = json_object_get(json_object_get(json_object_get(saved, "sinks"), ca->name),
	    "delivered");
	struct sink *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->a = a;
	s->conf = ca;
	/* A new sink starts at the present: it is not sent the whole past. */
	s->delivered = json_is_integer(d) && json_integer_value(d) >= 0 ?
	    (uint64_t)json_integer_value(d) : a->core->journal.last_id;
	/* An id a sink has seen is never given again, even if the journal was lost. */
	journal_bump(&a->core->journal, s->delivered);
	ev_init(&s->retry, NULL);
	s->hook_log.tokens = EXEC_SINK_LOG_BURST;
	s->hook_log.at = a->core->loop != NULL ? ev_now(a->core->loop) : 0.;
	return s;
}

static void
sink_free(struct sink *s)
{
	ev_timer_stop(s->a->core->loop, &s->retry);
	fetch_cancel(s->fetch);
	exec_sink_cancel(s->hook);
	free(s->last_error);
	free(s);
}

static void
sink_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sink *s = w->data;

	s->next_try = 0;
	sink_next(s);
}

static void
sink_done(struct sink *s, bool ok, const char *error)
{
	struct core *core = s->a->core;
	double cap, delay;

	s->fetch = NULL;
	s->hook = NULL;
	core_touch(core);
	if (ok) {
		log_info("alert %s: delivered event %llu", s->conf->name,
		    (unsigned long long)s->trying);
		if (s->trying <= s->a->counted && s->pending > 0)
			s->pending--;
		s->delivered = s->trying;
		s->delivered_count++;
		s->trying = 0;
		s->attempts = 0;
		s->last_delivery = time(NULL);
		free(s->last_error);
		s->last_error = NULL;
		alerts_save(s->a);
		/* One delivery per sink per turn of the loop: a hook that ends at once would
		 * otherwise chain deliveries inside libev's child handling, and the loop
		 * would not poll (the socket unanswered) until the backlog was gone. */
		if (s->started == ev_iteration(core->loop)) {
			ev_timer_init(&s->retry, sink_retry_cb, 0., 0.);
			s->retry.data = s;
			ev_timer_start(core->loop, &s->retry);
		} else
			sink_next(s);
		return;
	}
	s->attempts++;
	state_set_str(&s->last_error, error);
	if (s->a->single_attempt) {
		/* --once does not wait for retries: the next run delivers it. */
		log_warn("alert %s: event %llu not delivered: %s; it stays pending",
		    s->conf->name, (unsigned long long)s->trying, error);
		return;
	}
	/* 1 s, then up to 2, 4, ... 3600 s, uniformly below the cap (full jitter). */
	cap = fmin(ALERT_RETRY_MAX, ALERT_RETRY_FIRST * pow(2, s->attempts - 1));
	delay = s->attempts == 1 ? ALERT_RETRY_FIRST :
	    ALERT_RETRY_FIRST + core_random(core) * (cap - ALERT_RETRY_FIRST);
	log_warn("alert %s: event %llu not delivered (attempt %d): %s; retrying in %.0f s",
	    s->conf->name, (unsigned long long)s->trying, s->attempts, error, delay);
	s->next_try = time(NULL) + (time_t)ceil(delay);
	ev_timer_init(&s->retry, sink_retry_cb, delay, 0.);
	s->retry.data = s;
	ev_timer_start(core->loop, &s->retry);
}

static void
sink_fetch_done(void *arg, struct fetch_result *r)
{
	sink_done(arg, r->ok, r->error);
}

static void
sink_hook_done(void *arg, bool ok, const char *error)
{
	sink_done(arg, ok, error);
}

/* Figures for RATD_* and mail: the event's own where it has them, else the treaty's now. */
static void
sink_figures(struct sink *s, const json_t *ev, char fig[4][32])
{
	struct treaty *t = treaty_find(s->a->core, event_treaty(ev));
	static const char *const keys[4] = { "parties", "threshold", "remaining",
	    "entry_into_force" };
	json_t *st = NULL, *v;
	int i;

	if (t != NULL)
		st = status_treaty(t, core_today(s->a->core, time(NULL)));
	for (i = 0; i < 4; i++) {
		if ((v = json_object_get(json_object_get(ev, "data"), keys[i])) == NULL)
			v = json_object_get(st, keys[i]);
		if (json_is_integer(v))
			snprintf(fig[i], 32, "%lld", (long long)json_integer_value(v));
		else if (json_is_string(v))
			snprintf(fig[i], 32, "%s", json_string_value(v));
		else
			fig[i][0] = '\0';
	}
	json_decref(st);
}

/* environ without RATD_* entries, plus the event's. Freed with free() of each. */
static char **
sink_env(struct sink *s, const json_t *ev)
{
	char fig[4][32], **env;
	size_t n = 0, i, k = 0;

	sink_figures(s, ev, fig);
	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 9, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "RATD_", 5) != 0)
			env[k++] = strdup(environ[i]);
	if (asprintf(&env[k++], "RATD_EVENT=%s", event_type(ev)) < 0 ||
	    asprintf(&env[k++], "RATD_EVENT_ID=%llu", (unsigned long long)event_id(ev)) < 0 ||
	    asprintf(&env[k++], "RATD_TREATY=%s", event_treaty(ev)) < 0 ||
	    asprintf(&env[k++], "RATD_SUMMARY=%s",
	    json_string_value(json_object_get(ev, "summary"))) < 0 ||
	    asprintf(&env[k++], "RATD_PARTIES=%s", fig[0]) < 0 ||
	    asprintf(&env[k++], "RATD_THRESHOLD=%s", fig[1]) < 0 ||
	    asprintf(&env[k++], "RATD_REMAINING=%s", fig[2]) < 0 ||
	    asprintf(&env[k++], "RATD_ENTRY_INTO_FORCE=%s", fig[3]) < 0)
		env[--k] = NULL;
	return env;
}

static void
sink_env_free(char **env)
{
	size_t i;

	for (i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

static void
sink_exec(struct sink *s, const json_t *ev, const char *json)
{
	char **env = sink_env(s, ev), err[512];

	if (env == NULL) {
		sink_done(s, false, "out of memory");
		return;
	}
	s->hook = exec_sink_run(s->a->core->loop, s->conf->name, s->conf->target, env, json,
	    strlen(json), s->conf->timeout, &s->hook_log, sink_hook_done, s, err, sizeof(err));
	sink_env_free(env);
	if (s->hook == NULL)
		sink_done(s, false, err);
}

static void
sink_webhook(struct sink *s, const json_t *ev, const char *json)
{
	char h_event[128], h_id[64];
	const char *headers[] = { "Content-Type: application/json", h_event, h_id, NULL };
	struct fetch_request req = {
		.url = s->conf->target, .body = json, .body_len = strlen(json),
		.headers = headers, .timeout = s->conf->timeout,
	};

	snprintf(h_event, sizeof(h_event), "X-Ratd-Event: %s", event_type(ev));
	snprintf(h_id, sizeof(h_id), "X-Ratd-Event-Id: %llu", (unsigned long long)event_id(ev));
	if ((s->fetch = fetch_start(s->a->core->fetcher, &req, sink_fetch_done, s)) == NULL)
		sink_done(s, false, "cannot start the HTTP request");
}

/* Header values come from treaty pages: never let one break out of its line. */
static void
sink_header_safe(char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' || *s == '\n')
			*s = ' ';
}

/* text with every LF made CRLF, as SMTP wants its lines. */
static char *
sink_crlf(const char *text)
{
	size_t n = 0, i, k = 0;
	char *out;

	for (i = 0; text[i] != '\0'; i++)
		n += text[i] == '\n';
	if ((out = malloc(i + n + 1)) == NULL)
		return NULL;
	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			out[k++] = '\r';
		out[k++] = text[i];
	}
	out[k] = '\0';
	return out;
}

#define MAIL_LINE 78              /* RFC 5322: lines SHOULD be at most 78 characters */

/* Plain ASCII folded at its spaces: a CRLF goes before a space where the line would pass
 * 78 characters (a single word longer than that stays whole: RFC 5322 allows 998). */
static char *
sink_fold_ascii(const char *value, size_t col)
{
	size_t len = strlen(value), i = 0, n, lead;
	char *out = malloc(len * 3 + 1), *o = out;
	bool content = false;

	if (out == NULL)
		return NULL;
	while (i < len) {
		lead = value[i] == ' ';
		n = lead + strcspn(value + i + lead, " ");
		if (lead && content && col + n > MAIL_LINE) {
			o += sprintf(o, "\r\n");
			col = 0;
			content = false;
		}
		memcpy(o, value + i, n);
		o += n;
		col += n;
		content = content || n > lead;
		i += n;
	}
	*o = '\0';
	return out;
}

/* Anything else as RFC 2047 "B" encoded words of whole UTF-8 characters, one a line:
 * 42 bytes on the first line (after "Subject: "), 45 on the next (75-character words). */
static char *
sink_fold_encoded(const char *value)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)value;
	size_t len = strlen(value), i, n, k;
	char *out, *o;

	if ((out = malloc(len * 2 + (len / 42 + 1) * 16 + 1)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i < len; i += n) {
		n = len - i < (i ? 45 : 42) ? len - i : (i ? 45 : 42);
		while (i + n < len && n > 1 && (p[i + n] & 0xc0) == 0x80)
			n--;
		o += sprintf(o, "%s=?UTF-8?B?", i ? "\r\n " : "");
		for (k = 0; k < n; k += 3) {
			unsigned long v = (unsigned long)p[i + k] << 16 |
			    (k + 1 < n ? (unsigned long)p[i + k + 1] << 8 : 0) |
			    (k + 2 < n ? p[i + k + 2] : 0);

			*o++ = b64[v >> 18 & 63];
			*o++ = b64[v >> 12 & 63];
			*o++ = k + 1 < n ? b64[v >> 6 & 63] : '=';
			*o++ = k + 2 < n ? b64[v & 63] : '=';
		}
		o += sprintf(o, "?=");
	}
	*o = '\0';
	return out;
}

/* The Subject header's value, folded so that no line passes 78 characters. */
static char *
sink_subject(const char *summary)
{
	const unsigned char *p = (const unsigned char *)summary;
	bool ascii = true;
	size_t i;

	for (i = 0; p[i] != '\0'; i++)
		ascii = ascii && p[i] >= 0x20 && p[i] < 0x7f;
	return ascii ? sink_fold_ascii(summary, strlen("Subject: ")) : sink_fold_encoded(summary);
}

/*
 * The body, CRLF lines, 7-bit clean: libcurl's SMTP client cannot declare BODY=8BITMIME
 * in MAIL FROM (it sends only AUTH=, SIZE= and SMTPUTF8), so a body with 8-bit bytes or
 * a line over 998 bytes goes quoted-printable (RFC 2045): lines of at most 76.
 * *qp says which.
 */
static char *
sink_body_7bit(const char *text, bool *qp)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)text;
	size_t i, col = 0, line = 0, w;
	char *out, *o;

	for (i = 0, *qp = false; p[i] != '\0' && !*qp; i++) {
		line = p[i] == '\n' ? 0 : line + 1;
		*qp = p[i] >= 0x80 || line > 998;
	}
	if (!*qp)
		return strdup(text);
	if ((out = malloc(strlen(text) * 4 + 1)) == NULL)
		return NULL;
	for (i = 0, o = out; p[i] != '\0'; i++) {
		if (p[i] == '\r' && p[i + 1] == '\n') {
			*o++ = '\r';
			*o++ = '\n';
			i++;
			col = 0;
			continue;
		}
		/* Blanks before a line end, '=' and anything not printable ASCII: =XX. */
		w = (p[i] >= 33 && p[i] <= 126 && p[i] != '=') || ((p[i] == ' ' || p[i] == '\t') &&
		    p[i + 1] != '\r' && p[i + 1] != '\0') ? 1 : 3;
		if (col + w > 75) {
			o += sprintf(o, "=\r\n");
			col = 0;
		}
		if (w == 1)
			*o++ = (char)p[i];
		else
			o += sprintf(o, "=%c%c", hex[p[i] >> 4], hex[p[i] & 15]);
		col += w;
	}
	*o = '\0';
	return out;
}

/* "a@example.org, b@example.net": every recipient of a mailto sink. */
static char *
sink_recipients(const struct sink *s)
{
	char *to = NULL, *next;
	size_t i;

	for (i = 0; i < s->conf->nmailto; i++) {
		if (asprintf(&next, "%s%s%s", to ? to : "", to ? ", " : "", s->conf->mailto[i]) < 0)
			next = NULL;
		free(to);
		if ((to = next) == NULL)
			break;
	}
	return to;
}

/* The text of the mail, CRLF lines, not yet encoded. */
static char *
sink_text(struct sink *s, const json_t *ev, const char *summary)
{
	char fig[4][32], *json = json_dumps(ev, JSON_INDENT(2)), *pretty, *text = NULL;

	sink_figures(s, ev, fig);
	pretty = json ? sink_crlf(json) : NULL;
	free(json);
	if (pretty != NULL && asprintf(&text,
	    "%s\r\n\r\nTreaty:            %s\r\nEvent:             %s (#%llu)\r\n"
	    "Parties:           %s\r\nThreshold:         %s\r\nRemaining:         %s\r\n"
	    "Entry into force:  %s\r\n\r\nEvent JSON:\r\n%s\r\n", summary,
	    event_treaty(ev), event_type(ev), (unsigned long long)event_id(ev),
	    fig[0][0] ? fig[0] : "-", fig[1][0] ? fig[1] : "-", fig[2][0] ? fig[2] : "-",
	    fig[3][0] ? fig[3] : "not yet known", pretty) < 0)
		text = NULL;
	free(pretty);
	return text;
}

static char *
sink_message(struct sink *s, const json_t *ev)
{
	char date[64], *to = sink_recipients(s), *msg = NULL, *subject = NULL, *text, *body;
	const char *summary = json_string_value(json_object_get(ev, "summary"));
	time_t now = time(NULL);
	bool qp = false;
	struct tm tm;

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&now, &tm));
	text = sink_text(s, ev, summary);
	body = text ? sink_body_7bit(text, &qp) : NULL;
	free(text);
	if (asprintf(&text, "[ratd] %s", summary) >= 0) {
		sink_header_safe(text);
		subject = sink_subject(text);
		free(text);
	}
	if (subject != NULL && to != NULL && body != NULL && asprintf(&msg,
	    "Date: %s\r\nFrom: ratd <%s>\r\nTo: %s\r\nSubject: %s\r\n"
	    "Message-ID: <ratd.%llu.%lld@%s>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: %s\r\n"
	    "\r\n%s", date, s->conf->mail_from, to, subject, (unsigned long long)event_id(ev),
	    (long long)now, s->a->host, qp ? "quoted-printable" : "7bit", body) < 0)
		msg = NULL;
	free(subject);
	free(to);
	free(body);
	return msg;
}

/* smtp_url with the host name as its path, which libcurl sends with EHLO (it says
 * "localhost" otherwise); a path the administrator gave is kept. */
static char *
sink_smtp_url(const struct sink *s)
{
	const char *u = s->conf->smtp_url, *auth = strstr(u, "://"), *path;
	char *out;

	path = auth != NULL ? strchr(auth + 3, '/') : NULL;
	if (path != NULL && path[1] != '\0')
		return strdup(u);
	if (asprintf(&out, "%.*s/%s", (int)(path ? (size_t)(path - u) : strlen(u)), u,
	    s->a->host) < 0)
		return NULL;
	return out;
}

static void
sink_mail(struct sink *s, const json_t *ev)
{
	char *msg = sink_message(s, ev), *url = sink_smtp_url(s);
	struct fetch_request req = {
		.url = url, .mail_from = s->conf->mail_from,
		.mail_rcpt = (const char *const *)s->conf->mailto, .timeout = s->conf->timeout,
	};
	const char **rcpt;
	size_t i;

	/* mail_rcpt must end with NULL; the config's list carries its count instead. */
	if (msg == NULL || url == NULL ||
	    (rcpt = calloc(s->conf->nmailto + 1, sizeof(*rcpt))) == NULL) {
		free(msg);
		free(url);
		sink_done(s, false, "out of memory");
		return;
	}
	for (i = 0; i < s->conf->nmailto; i++)
		rcpt[i] = s->conf->mailto[i];
	req.mail_rcpt = rcpt;
	req.body = msg;
	req.body_len = strlen(msg);
	s->fetch = fetch_start(s->a->core->fetcher, &req, sink_fetch_done, s);
	free(rcpt);
	free(msg);
	free(url);
	if (s->fetch == NULL)
		sink_done(s, false, "cannot start the SMTP transfer");
}

/* Starts the delivery of the next wanted event, if the sink is idle. */
static void
sink_deliver(struct sink *s, const json_t *ev)
{
	char *json;

	s->trying = event_id(ev);
	s->started = ev_iteration(s->a->core->loop);
	core_touch(s->a->core);
	if ((json = json_dumps(ev, JSON_COMPACT)) == NULL) {
		sink_done(s, false, "out of memory");
		return;
	}
	if (s->conf->kind == ALERT_EXEC)
		sink_exec(s, ev, json);
	else if (s->conf->kind == ALERT_WEBHOOK)
		sink_webhook(s, ev, json);
	else
		sink_mail(s, ev);
	free(json);
}

struct sink_scan {
	struct sink *s;
	json_t *ev;              /* the first event the sink wants, referenced */
};

static bool
sink_scan_one(void *arg, json_t *ev)
{
	struct sink_scan *ss = arg;

	if (!sink_wants(ss->s, ev)) {
		ss->s->delivered = event_id(ev);
		core_touch(ss->s->a->core);
		return true;
	}
	ss->ev = json_incref(ev);
	return false;
}

/* The next event for a sink further behind than memory reaches, from the journal. */
static json_t *
sink_next_from_file(struct sink *s)
{
	struct sink_scan ss = { .s = s };

	if (journal_scan(&s->a->core->journal, s->delivered, sink_scan_one, &ss) < 0)
		log_err("alert %s: cannot read the journal", s->conf->name);
	return ss.ev;
}

static void
sink_next(struct sink *s)
{
	const struct journal *j = &s->a->core->journal;
	const json_t *ev = NULL;
	size_t i;

	if (s->fetch != NULL || s->hook != NULL || ev_is_active(&s->retry) ||
	    (s->a->single_attempt && s->attempts > 0))
		return;
	if (!journal_in_memory(j, s->delivered)) {
		json_t *old = sink_next_from_file(s);

		if (old != NULL) {
			sink_deliver(s, old);
			json_decref(old);
			return;
		}
	}
	for (i = journal_after(j, s->delivered); i < j->n; i++) {
		/* Nothing leaves before it is on disk (man/ratd.8, ALERT DELIVERY). */
		if (event_id(j->v[i]) > j->synced_id)
			break;
		if (sink_wants(s, j->v[i])) {
			ev = j->v[i];
			break;
		}
		s->delivered = event_id(j->v[i]);   /* filtered out: nothing to deliver */
		core_touch(s->a->core);
	}
	if (ev != NULL)
		sink_deliver(s, ev);
}

/* A name for EHLO and Message-ID: [A-Za-z0-9.-], 1 to 253 bytes. */
static bool
alerts_host_valid(const char *h)
{
	size_t n = strlen(h);

	return n > 0 && n <= 253 && strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789.-") == n;
}

/*
 * The fully qualified host name (the canonical name of gethostname()'s), else the host
 * name, else "localhost". getaddrinfo() may wait for DNS: it runs once, at start, before
 * the loop turns, never at a reload (a mail sink a reload adds uses this name too) nor
 * for each mail.
 */
static void
alerts_resolve_host(struct alerts *a)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_flags = AI_CANONNAME }, *ai = NULL;
	char name[256] = "";

	snprintf(a->host, sizeof(a->host), "localhost");
	if (gethostname(name, sizeof(name) - 1) != 0 || !alerts_host_valid(name))
		return;
	snprintf(a->host, sizeof(a->host), "%s", name);
	if (getaddrinfo(name, NULL, &hints, &ai) == 0 && ai != NULL && ai->ai_canonname != NULL &&
	    strchr(ai->ai_canonname, '.') != NULL && alerts_host_valid(ai->ai_canonname))
		snprintf(a->host, sizeof(a->host), "%s", ai->ai_canonname);
	if (ai != NULL)
		freeaddrinfo(ai);
	log_debug("alert: mail goes out as %s (EHLO, Message-ID)", a->host);
}

struct alerts *
alerts_new(struct core *core, bool single_attempt)
{
	struct alerts *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->core = core;
	a->single_attempt = single_attempt;
	alerts_resolve_host(a);
	if (alerts_reconfigure(a) < 0) {
		alerts_free(a);
		return NULL;
	}
	return a;
}

int
alerts_reconfigure(struct alerts *a)
{
	const struct conf *conf = a->core->conf;
	json_t *saved = alerts_load(a);
	struct sink **v, *s;
	size_t i, k;

	if ((v = calloc(conf->nalerts + 1, sizeof(*v))) == NULL) {
		/* The sinks point into the configuration being replaced: they must go. */
		for (k = 0; k < a->n; k++)
			sink_free(a->v[k]);
		free(a->v);
		a->v = NULL;
		a->n = 0;
		json_decref(saved);
		return -1;
	}
	for (i = 0; i < conf->nalerts; i++) {
		s = NULL;
		for (k = 0; k < a->n; k++) {
			if (a->v[k] != NULL && strcmp(a->v[k]->conf->name, conf->alerts[i].name) == 0) {
				s = a->v[k];
				a->v[k] = NULL;
				break;
			}
		}
		if (s != NULL && (s->conf->kind != conf->alerts[i].kind ||
		    strcmp(s->conf->target ? s->conf->target : "", conf->alerts[i].target ?
		    conf->alerts[i].target : "") != 0)) {
			/* Same name, new destination: what was in progress or waiting went to the
			 * old one; the new one is tried at once. */
			fetch_cancel(s->fetch);
			exec_sink_cancel(s->hook);
			s->fetch = NULL;
			s->hook = NULL;
			ev_timer_stop(a->core->loop, &s->retry);
			s->attempts = 0;
			s->next_try = 0;
		}
		if (s == NULL && (s = sink_new(a, &conf->alerts[i], saved)) == NULL)
			continue;
		s->conf = &conf->alerts[i];
		v[i] = s;
	}
	for (k = 0; k < a->n; k++)
		if (a->v[k] != NULL)
			sink_free(a->v[k]);
	free(a->v);
	a->v = v;
	for (i = k = 0; i < conf->nalerts; i++)
		if (v[i] != NULL)
			v[k++] = v[i];
	a->n = k;
	json_decref(saved);
	core_touch(a->core);
	alerts_save(a);
	alerts_recount(a);
	alerts_kick(a);
	return 0;
}

void
alerts_free(struct alerts *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++)
		sink_free(a->v[i]);
	free(a->v);
	free(a);
}

bool
alerts_busy(const struct alerts *a)
{
	size_t i;

	for (i = 0; a != NULL && i < a->n; i++)
		if (a->v[i]->fetch != NULL || a->v[i]->hook != NULL)
			return true;
	return false;
}

void
alerts_kick(struct alerts *a)
{
	size_t i;

	if (a != NULL)
		alerts_catch_up(a);
	for (i = 0; a != NULL && i < a->n; i++)
		sink_next(a->v[i]);
}

/* One more event on disk: counted for each sink that wants it and has not had it. */
static void
alerts_count_event(struct alerts *a, const json_t *ev)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (event_id(ev) > a->v[i]->delivered && sink_wants(a->v[i], ev))
			a->v[i]->pending++;
}

static bool
alerts_count_one(void *arg, json_t *ev)
{
	alerts_count_event(arg, ev);
	return true;
}

/* Every sink's pending count from scratch, in one pass over the journal (from memory
 * when it reaches back far enough): at start, after a reload (filters may have changed)
 * and after a compaction dropped old lines. */
static void
alerts_recount(struct alerts *a)
{
	struct journal *j = &a->core->journal;
	uint64_t from = UINT64_MAX;
	size_t i;

	for (i = 0; i < a->n; i++) {
		a->v[i]->pending = 0;
		if (a->v[i]->delivered < from)
			from = a->v[i]->delivered;
	}
	a->counted = j->synced_id;
	a->lines = j->file_lines;
	if (a->n == 0)
		return;
	if (!journal_in_memory(j, from)) {
		if (journal_scan(j, from, alerts_count_one, a) == 0)
			return;
		log_err("alerts: cannot read the journal; pending counts cover only the latest "
		    "events");
		for (i = 0; i < a->n; i++)
			a->v[i]->pending = 0;
	}
	for (i = journal_after(j, from); i < j->n && event_id(j->v[i]) <= j->synced_id; i++)
		alerts_count_event(a, j->v[i]);
}

/* Counts the events that reached the disk since the last call. */
static void
alerts_catch_up(struct alerts *a)
{
	const struct journal *j = &a->core->journal;
	size_t i;

	if (j->file_lines < a->lines || !journal_in_memory(j, a->counted)) {
		alerts_recount(a);
		return;
	}
	a->lines = j->file_lines;
	for (i = journal_after(j, a->counted); i < j->n && event_id(j->v[i]) <= j->synced_id; i++)
		alerts_count_event(a, j->v[i]);
	if (j->synced_id > a->counted)
		a->counted = j->synced_id;
}

json_t *
alerts_status(struct alerts *a)
{
	static const char *const kinds[] = { [ALERT_EXEC] = "exec", [ALERT_WEBHOOK] = "webhook",
	    [ALERT_MAILTO] = "mailto" };
	json_t *list = json_array();
	size_t i;
	char *to;

	alerts_catch_up(a);
	for (i = 0; i < a->n; i++) {
		struct sink *s = a->v[i];

		/* A mailto sink's target is every recipient, comma-separated. */
		to = s->conf->kind == ALERT_MAILTO ? sink_recipients(s) : NULL;
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o}",
		    "name", s->conf->name, "kind", kinds[s->conf->kind],
		    "target", to != NULL ? to : s->conf->kind == ALERT_MAILTO ? s->conf->mailto[0] :
		    s->conf->target,
		    "delivered", (json_int_t)s->delivered, "pending", (json_int_t)s->pending,
		    "delivered_since_start", (json_int_t)s->delivered_count,
		    "last_error", s->last_error ? json_string(s->last_error) : json_null(),
		    "last_delivery", time_json(s->last_delivery),
		    "next_try", time_json(s->next_try)));
		free(to);
	}
	return list;
}
