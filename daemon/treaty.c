/* A treaty's way through the daemon: fetch -> parse -> check -> commit, then reschedule. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"
#include "plausible.h"
#include "event.h"
#include "fetch.h"
#include "log.h"
#include "parser.h"
#include "core.h"
#include "treaty.h"
#include "untc.h"


#define BACKOFF_BASE 60.0          /* first retry after a failure, seconds */
#define RETRY_AFTER_MIN 60.0
#define RETRY_AFTER_MAX 86400.0
#define SEED_MAX_FILE (64 << 20)

static void treaty_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void treaty_begin_fetch(struct treaty *t);
static void treaty_parse_stop(struct treaty *t);

const char *
treaty_outcome_name(enum treaty_outcome o)
{
	static const char *const names[TREATY_OUTCOMES] = {
		[TREATY_CHANGED] = "changed", [TREATY_UNCHANGED] = "unchanged",
		[TREATY_NOT_MODIFIED] = "not-modified", [TREATY_REFUSED] = "refused",
		[TREATY_ERROR] = "error",
	};

	return names[o];
}

/* Something t's status shows changed: the daemon's generation moves, and t notes when
 * (its cached status entry is built anew). */
static void
treaty_touch(struct treaty *t)
{
	core_touch(t->core);
	t->changed = t->core->generation;
}

uint64_t
treaty_changed_at(const struct treaty *t)
{
	uint64_t at = t->changed;
	size_t hops;

	/* The configuration has no cycle (conf_load refuses one); the bound is a guard. */
	for (hops = 0; hops <= t->core->ntreaties && t->conf->rule.after_treaty != NULL &&
	    (t = treaty_find(t->core, t->conf->rule.after_treaty)) != NULL; hops++)
		if (t->changed > at)
			at = t->changed;
	return at;
}

const char *
treaty_source_state(const struct treaty *t)
{
	if (t->snap == NULL)
		return "none";
	if (t->meta.consecutive_failures >= t->core->conf->failures_before_alert)
		return "failing";
	return t->from_seed ? "seed" : "ok";
}

struct snapshot *
treaty_read_seed(const char *seed_dir, const char *id, char *path, size_t pathlen)
{
	static const char *const exts[] = { "xml", "html" };
	struct snapshot *s;
	char why[512];
	char *text;
	size_t i, len;

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		snprintf(path, pathlen, "%s/%s.%s", seed_dir, id, exts[i]);
		if (atomicfile_read_linked(path, SEED_MAX_FILE, &text, &len, why, sizeof(why)) < 0) {
			if (errno != ENOENT)
				log_warn("%s: seed: %s", id, why);
			continue;
		}
		s = untc_parse(text, len, UNTC_AUTO, why, sizeof(why));
		free(text);
		if (s != NULL)
			return s;
		log_warn("%s: seed %s not usable: %s", id, path, why);
	}
	return NULL;
}

/* Loads seed_dir/ID.xml or ID.html: what users see before the first fetch succeeds. */
static void
treaty_load_seed(struct treaty *t)
{
	char path[4096];

	if ((t->snap = treaty_read_seed(t->core->conf->seed_dir, t->conf->id, path,
	    sizeof(path))) == NULL)
		return;
	t->from_seed = true;
	log_info("%s: serving bundled seed %s (%zu participants) until the first "
	    "successful fetch", t->conf->id, path, t->snap->n);
}

struct treaty *
treaty_new(struct core *core, const struct conf_treaty *ct, treaty_report_fn *report,
    void *owner)
{
	struct treaty *t;
	char err[1024];
	int rc;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->core = core;
	t->conf = ct;
	t->report = report;
	t->owner = owner;
	ev_init(&t->timer, treaty_timer_cb);
	t->timer.data = t;
	rc = state_load(core->conf->state_dir, ct->id, &t->snap, &t->meta, &t->outbox, err,
	    sizeof(err));
	if (rc < 0)
		log_err("%s: state file corrupt, starting afresh: %s", ct->id, err);
	else if (rc > 0 && t->snap != NULL)
		log_info("%s: loaded committed state: %zu participants", ct->id, t->snap->n);
	if (t->snap == NULL)
		treaty_load_seed(t);
	treaty_check_withdrawn(ct, t->snap, NULL);
	return t;
}

struct treaty *
treaty_find(const struct core *core, const char *id)
{
	size_t i;

	for (i = 0; i < core->ntreaties; i++)
		if (strcmp(core->treaties[i]->conf->id, id) == 0)
			return core->treaties[i];
	return NULL;
}

/* The entry into force at as_of of the treaty t's after_treaty names; DAY_NONE when it
 * has none yet (or t names none). The configuration has no cycle (conf_load refuses
 * one), so the recursion ends. */
static int
treaty_after_eif(const struct treaty *t, day_t as_of, day_t *out)
{
	const char *id = t->conf->rule.after_treaty;
	struct rule_result other;
	struct treaty *u;

	*out = DAY_NONE;
	if (id == NULL || (u = treaty_find(t->core, id)) == NULL || u->snap == NULL)
		return 0;
	if (treaty_eval(u, u->snap, as_of, &other) < 0)
		return -1;
	*out = other.entry_into_force;
	rule_result_clear(&other);
	return 0;
}

day_t
treaty_earliest(const struct treaty *t, day_t as_of)
{
	const struct rule *r = &t->conf->rule;
	day_t e = rule_entry_into_force(r, as_of), after = DAY_NONE;
	struct rule_result o;
	struct treaty *u;

	if (r->has_not_before && e < r->not_before)
		e = r->not_before;
	if (r->after_treaty == NULL || (u = treaty_find(t->core, r->after_treaty)) == NULL ||
	    u->snap == NULL || treaty_eval(u, u->snap, as_of, &o) < 0)
		return e;
	if (o.threshold_reached && o.entry_into_force != DAY_NONE)
		after = o.entry_into_force;
	rule_result_clear(&o);
	/* The treaty waited for is not in force either: its own earliest date. The
	 * configuration has no cycle (conf_load refuses one), so the recursion ends. */
	if (after == DAY_NONE)
		after = treaty_earliest(u, as_of);
	return after > e ? after : e;
}

int
treaty_eval(const struct treaty *t, const struct snapshot *s, day_t as_of,
    struct rule_result *out)
{
	day_t after;

	if (treaty_after_eif(t, as_of, &after) < 0)
		return -1;
	return rule_eval_after(&t->conf->rule, s, as_of, after, out);
}

size_t
treaty_check_withdrawn(const struct conf_treaty *ct, const struct snapshot *s, FILE *out)
{
	const struct rule *r = &ct->rule;
	char d1[DATE_ISO_LEN], d2[DATE_ISO_LEN], msg[1024];
	size_t i, n = 0;
	long k;

	for (i = 0; s != NULL && i < r->nwithdrawn; i++) {
		k = snapshot_find(s, r->withdrawn[i].name);
		if (k < 0 || s->v[k].instrument.date == DAY_NONE ||
		    r->withdrawn[i].date > s->v[k].instrument.date)
			continue;
		snprintf(msg, sizeof(msg), "%s:%d: withdrawn date %s for %s is not after its "
		    "instrument (%s) on the page; ratd ignores it: correct or remove the line",
		    ct->file, r->withdrawn[i].line, date_format_iso(r->withdrawn[i].date, d1),
		    r->withdrawn[i].name, date_format_iso(s->v[k].instrument.date, d2));
		if (out != NULL)
			fprintf(out, "%s\n", msg);
		else
			log_warn("%s", msg);
		n++;
	}
	return n;
}

static void
treaty_notify(struct treaty *t, enum treaty_outcome o, const char *error)
{
	struct treaty_waiter *w = t->waiters, *next;

	/* Detach first: a waiter may ask for another fetch from its callback. */
	t->waiters = NULL;
	for (; w != NULL; w = next) {
		next = w->next;
		w->fn(w->arg, t, o, error);
		free(w);
	}
}

void
treaty_free(struct treaty *t)
{
	if (t == NULL)
		return;
	ev_timer_stop(t->core->loop, &t->timer);
	fetch_cancel(t->inflight);
	t->inflight = NULL;
	treaty_parse_stop(t);
	treaty_notify(t, TREATY_ERROR, "treaty removed from the configuration");
	snapshot_free(t->snap);
	source_meta_clear(&t->meta);
	json_decref(t->outbox);
	free(t->status_cache.text);
	free(t);
}

static void
treaty_schedule(struct treaty *t, double delay)
{
	if (t->core->once)
		return;
	ev_timer_stop(t->core->loop, &t->timer);
	ev_timer_set(&t->timer, delay, 0.);
	ev_timer_start(t->core->loop, &t->timer);
	t->next_fetch = time(NULL) + (time_t)ceil(delay);
	treaty_touch(t);
}

/* Full-jitter exponential backoff: uniform between 1 minute and min(interval, 1 min * 2^n). */
static double
treaty_backoff(struct treaty *t, int failures)
{
	double cap = BACKOFF_BASE, interval = t->conf->interval;

	while (failures-- > 1 && cap < interval)
		cap *= 2;
	if (cap > interval)
		cap = interval;
	if (cap < BACKOFF_BASE)
		return cap;
	return BACKOFF_BASE + core_random(t->core) * (cap - BACKOFF_BASE);
}

void
treaty_start(struct treaty *t)
{
	time_t now = time(NULL), due;
	double wait;

	if (t->meta.last_attempt == 0)
		due = now;
	else if (t->meta.consecutive_failures > 0)
		due = t->meta.last_attempt + (time_t)treaty_backoff(t, t->meta.consecutive_failures);
	else
		due = t->meta.last_attempt + (time_t)t->conf->interval;
	/* Treaties due at start-up are spread: new ones over a second (the host queues
	 * space them), overdue ones over the jitter, so that a daemon stopped for a while
	 * does not fetch every page at once on its return, and stays spread after. */
	if (due > now)
		wait = (double)(due - now);
	else if (t->meta.last_attempt == 0)
		wait = core_random(t->core);
	else
		wait = core_random(t->core) * fmax(1., fmin(t->core->conf->jitter,
		    t->conf->interval));
	treaty_schedule(t, wait);
}

void
treaty_reconfigure(struct treaty *t, const struct conf_treaty *ct)
{
	bool resched = ct->interval != t->conf->interval;

	bool moved = strcmp(ct->url, t->conf->url) != 0 || ct->format != t->conf->format;

	/* Its title, rule and failure threshold may be new: the status entry too. */
	treaty_touch(t);

	/* The old page's validators mean nothing to a new URL: it could answer 304. */
	if (moved) {
		state_set_str(&t->meta.etag, NULL);
		state_set_str(&t->meta.last_modified, NULL);
	}
	t->conf = ct;
	/* A fetch of the old page must not be committed as the new one's: start again,
	 * keeping whoever waits for it. */
	if (moved && (t->inflight != NULL || t->parsing != NULL)) {
		fetch_cancel(t->inflight);
		t->inflight = NULL;
		treaty_parse_stop(t);
		treaty_begin_fetch(t);
		return;
	}
	if (resched && t->inflight == NULL && t->parsing == NULL)
		treaty_start(t);
}

/* The committed snapshot, or NULL while only the seed (or nothing) is served. */
static const struct snapshot *
treaty_committed(const struct treaty *t)
{
	return t->from_seed ? NULL : t->snap;
}

/* Numbers the events and saves the state with them as the outbox, after this treaty's
 * events the journal could not write yet: a commit never drops an event that is not on
 * disk. -1 when the state could not be written (err says why): then the new events are
 * dropped. */
static int
treaty_save(struct treaty *t, const struct snapshot *snap, const struct source_meta *m,
    struct event_list *evs, char *err, size_t errlen)
{
	json_t *outbox = json_array();
	struct source_meta saved = *m;   /* shallow, for the id counter */
	size_t i;
	int rc;

	core_number_events(t->core, evs);
	if (outbox == NULL || journal_unsynced(&t->core->journal, t->conf->id, outbox) < 0) {
		json_decref(outbox);
		event_list_clear(evs);
		snprintf(err, errlen, "out of memory saving the state");
		return -1;
	}
	for (i = 0; i < evs->n; i++)
		json_array_append(outbox, evs->v[i]);
	/* Every state file remembers how far ids went: losing the journal must not make
	 * them start again (sinks would skip the reused ones). */
	saved.last_event_id = t->core->journal.last_id;
	rc = state_save(t->core->conf->state_dir, t->conf->id, snap, &saved, outbox, err, errlen);
	json_decref(outbox);
	if (rc < 0)
		event_list_clear(evs);
	return rc;
}

/* Journals and delivers events once memory shows what they announce. */
static void
treaty_publish(struct treaty *t, struct event_list *evs)
{
	core_commit(t->core, evs);
	event_list_clear(evs);
}

/* entered-into-force, once; a treaty already in force at the baseline stays silent. */
static void
treaty_eif_event(struct treaty *t, const struct snapshot *snap, struct source_meta *m,
    bool baseline, struct event_list *evs, time_t now)
{
	struct rule_result res;
	char d[DATE_ISO_LEN];

	if (m->eif_announced || snap == NULL ||
	    treaty_eval(t, snap, core_today(t->core, now), &res) < 0)
		return;
	if (res.in_force) {
		m->eif_announced = true;
		if (!baseline)
			event_add(evs, now, EV_ENTERED_INTO_FORCE, t->conf->id,
			    json_pack("{s:s}", "entry_into_force",
			    date_format_iso(res.entry_into_force, d)),
			    "%s: entered into force on %s", t->conf->id,
			    date_format_iso(res.entry_into_force, d));
	}
	rule_result_clear(&res);
}

void
treaty_check_in_force(struct treaty *t)
{
	struct event_list evs = { 0 };
	char err[1024];

	if (treaty_committed(t) == NULL || t->meta.eif_announced)
		return;
	treaty_eif_event(t, t->snap, &t->meta, false, &evs, time(NULL));
	if (evs.n == 0)
		return;
	if (treaty_save(t, t->snap, &t->meta, &evs, err, sizeof(err)) < 0) {
		log_err("%s: %s; entered-into-force will be raised again", t->conf->id, err);
		t->meta.eif_announced = false;
		return;
	}
	treaty_publish(t, &evs);
}

/* Records an anomaly reason; true when it had not been raised since the last commit. */
static bool
treaty_new_anomaly(struct treaty *t, const char *why)
{
	/* The reason's first clause names it; counts after a ';' vary from fetch to fetch. */
	size_t len = strcspn(why, ";");
	json_t *v;
	size_t i;

	if (t->meta.anomalies == NULL)
		t->meta.anomalies = json_array();
	json_array_foreach(t->meta.anomalies, i, v)
		if (json_string_length(v) == len && strncmp(json_string_value(v), why, len) == 0)
			return false;
	if (json_array_size(t->meta.anomalies) >= 64)
		json_array_remove(t->meta.anomalies, 0);
	json_array_append_new(t->meta.anomalies, json_stringn(why, len));
	return true;
}

static enum treaty_outcome
treaty_fail(struct treaty *t, enum treaty_outcome o, const char *why, long retry_after)
{
	struct event_list evs = { 0 };
	struct source_meta *m = &t->meta;
	time_t now = m->last_attempt;
	char err[1024], since[DATE_TIME_LEN];
	double delay;

	bool anomaly = false, was_alerted = m->failing_alerted;

	m->consecutive_failures++;
	if (m->failing_since == 0)
		m->failing_since = now;
	state_set_str(&m->error, why);
	if (o == TREATY_REFUSED && (anomaly = treaty_new_anomaly(t, why)))
		event_add(&evs, now, EV_SOURCE_ANOMALY, t->conf->id,
		    json_pack("{s:o}", "reason", text_json(why)),
		    "%s: page refused: %s", t->conf->id, why);
	if (m->consecutive_failures >= t->core->conf->failures_before_alert && !m->failing_alerted) {
		m->failing_alerted = true;
		event_add(&evs, now, EV_SOURCE_FAILING, t->conf->id,
		    json_pack("{s:i, s:o, s:s}", "consecutive_failures", m->consecutive_failures,
		    "error", text_json(why), "since", date_format_time(m->failing_since, since)),
		    "%s: source failing since %s (%d failures in a row): %s", t->conf->id, since,
		    m->consecutive_failures, why);
	}
	if (treaty_save(t, treaty_committed(t), m, &evs, err, sizeof(err)) < 0) {
		/* Its events were dropped: raise them again next time. */
		log_err("%s: %s", t->conf->id, err);
		m->failing_alerted = was_alerted;
		if (anomaly)
			json_array_remove(m->anomalies, json_array_size(m->anomalies) - 1);
	} else
		treaty_publish(t, &evs);
	delay = treaty_backoff(t, m->consecutive_failures);
	if (retry_after >= 0)
		delay = fmin(fmax((double)retry_after, RETRY_AFTER_MIN), RETRY_AFTER_MAX);
	log_warn("%s: %s %s (%d in a row): %s; next try in %.0f s", t->conf->id,
	    o == TREATY_REFUSED ? "page refused from" : "fetch failed for", t->conf->url,
	    m->consecutive_failures, why, delay);
	treaty_schedule(t, delay);
	return o;
}

static bool
treaty_same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* True when fresh tells users something the committed snapshot did not. */
static bool
treaty_changed(const struct treaty *t, const struct snapshot *fresh)
{
	const struct snapshot *old = treaty_committed(t);

	return old == NULL || !snapshot_same_table(old, fresh) ||
	    old->stated_parties != fresh->stated_parties ||
	    old->stated_signatories != fresh->stated_signatories ||
	    !treaty_same_text(old->stated_eif, fresh->stated_eif);
}

/* A page that contradicts its own table is named once per disagreement, for as long as
 * it lasts; next->discrepancies becomes the current set (owned by the caller). */
static void
treaty_discrepancy_events(struct treaty *t, const struct snapshot *fresh,
    struct source_meta *next, struct event_list *evs, time_t now)
{
	json_t *now_set = json_array(), *v, *w;
	struct rule_result res;
	size_t i, k;
	bool seen;

	if (treaty_eval(t, fresh, core_today(t->core, now), &res) == 0) {
		plausible_discrepancies(fresh, &res, now_set);
		rule_result_clear(&res);
	}
	json_array_foreach(now_set, i, v) {
		seen = false;
		json_array_foreach(t->meta.discrepancies, k, w)
			seen = seen || json_equal(v, w);
		if (!seen && evs != NULL)
			event_add(evs, now, EV_SOURCE_ANOMALY, t->conf->id,
			    json_pack("{s:O}", "reason", v), "%s: %s", t->conf->id,
			    json_string_value(v));
	}
	next->discrepancies = now_set;
}

/* The events of a successful fetch: what changed, recovery, entry into force. */
static void
treaty_success_events(struct treaty *t, const struct snapshot *fresh, struct source_meta *next,
    struct event_list *evs, time_t now)
{
	const struct snapshot *old = treaty_committed(t);
	char since[DATE_TIME_LEN];

	day_t today = core_today(t->core, now), after;

	if (fresh != NULL && old != NULL && (treaty_after_eif(t, today, &after) < 0 ||
	    event_diff(evs, t->conf, old, fresh, today, after, now) < 0))
		log_err("%s: out of memory comparing snapshots; events may be missing", t->conf->id);
	if (t->meta.failing_alerted) {
		next->failing_alerted = false;
		event_add(evs, now, EV_SOURCE_RECOVERED, t->conf->id,
		    json_pack("{s:s}", "down_since", date_format_time(t->meta.failing_since, since)),
		    "%s: source recovered (failing since %s)", t->conf->id, since);
	}
	treaty_eif_event(t, fresh ? fresh : old, next, old == NULL, evs, now);
	/* At the baseline, disagreements already there are recorded without a word. */
	if (fresh != NULL)
		treaty_discrepancy_events(t, fresh, next, old == NULL ? NULL : evs, now);
}

/* Records a successful fetch. fresh (taken over) is NULL for a 304. The state file is
 * written first: memory changes only when the disk has the same. */
static enum treaty_outcome
treaty_commit(struct treaty *t, struct snapshot *fresh, const struct fetch_result *r)
{
	struct source_meta next = t->meta;   /* shallow: strings are borrowed */
	const struct snapshot *snap = fresh ? fresh : treaty_committed(t);
	struct event_list evs = { 0 };
	time_t now = t->meta.last_attempt;
	enum treaty_outcome o;
	char err[1024];

	if (fresh != NULL) {
		snapshot_date_withdrawals(fresh, treaty_committed(t), core_today(t->core, now));
		treaty_check_withdrawn(t->conf, fresh, NULL);
	}
	o = fresh == NULL ? TREATY_NOT_MODIFIED :
	    treaty_changed(t, fresh) ? TREATY_CHANGED : TREATY_UNCHANGED;
	next.last_success = now;
	if (o == TREATY_CHANGED)
		next.last_change = now;
	next.consecutive_failures = 0;
	next.failing_since = 0;
	next.error = NULL;
	next.anomalies = NULL;
	if (r->etag != NULL || r->last_modified != NULL || fresh != NULL) {
		next.etag = r->etag;
		next.last_modified = r->last_modified;
	}
	treaty_success_events(t, fresh, &next, &evs, now);
	if (treaty_save(t, snap, &next, &evs, err, sizeof(err)) < 0) {
		if (next.discrepancies != t->meta.discrepancies)
			json_decref(next.discrepancies);
		snapshot_free(fresh);
		return treaty_fail(t, TREATY_ERROR, err, -1);
	}
	if (next.discrepancies != t->meta.discrepancies) {
		json_decref(t->meta.discrepancies);
		t->meta.discrepancies = next.discrepancies;
	}
	if (state_set_str(&t->meta.etag, next.etag) < 0 ||
	    state_set_str(&t->meta.last_modified, next.last_modified) < 0)
		log_err("%s: out of memory keeping validators", t->conf->id);
	free(t->meta.error);
	json_decref(t->meta.anomalies);
	t->meta.error = NULL;
	t->meta.anomalies = NULL;
	t->meta.last_success = next.last_success;
	t->meta.last_change = next.last_change;
	t->meta.consecutive_failures = 0;
	t->meta.failing_since = 0;
	t->meta.failing_alerted = next.failing_alerted;
	t->meta.eif_announced = next.eif_announced;
	if (fresh != NULL) {
		snapshot_free(t->snap);
		t->snap = fresh;
		t->from_seed = false;
	}
	log_info("%s: %s (%zu bytes in %.2f s): %zu participants", t->conf->id,
	    treaty_outcome_name(o), r->len, r->seconds, t->snap ? t->snap->n : 0);
	treaty_publish(t, &evs);
	/* A treaty polled more often than the jitter spreads over its own interval. */
	treaty_schedule(t, t->conf->interval +
	    core_random(t->core) * fmin(t->core->conf->jitter, t->conf->interval));
	return o;
}

/* The end of a fetch, whatever became of it: reported to the owner, waiters told. */
static void
treaty_finish(struct treaty *t, enum treaty_outcome o, size_t bytes, double parse_seconds)
{
	struct treaty_report rep = { o, bytes, parse_seconds };

	treaty_touch(t);
	if (t->report != NULL)
		t->report(t->owner, t, &rep);
	treaty_notify(t, o, t->meta.consecutive_failures ? t->meta.error : NULL);
}

static void
treaty_fetched_free(struct treaty *t)
{
	if (t->fetched != NULL) {
		free(t->fetched->etag);
		free(t->fetched->last_modified);
		free(t->fetched);
		t->fetched = NULL;
	}
}

/* Ends a parse in progress without a word: its page is dropped. */
static void
treaty_parse_stop(struct treaty *t)
{
	parser_cancel(t->parsing);
	t->parsing = NULL;
	treaty_fetched_free(t);
}

/* The parse of a fetched page is over: check it and commit it, or refuse it. */
static void
treaty_parsed(void *arg, struct snapshot *fresh, const char *error, double cpu)
{
	struct treaty *t = arg;
	const struct fetch_result *r = t->fetched;
	enum treaty_outcome o;
	size_t bytes = r->len;
	char why[512];

	t->parsing = NULL;
	t->meta.last_attempt = time(NULL);
	if (fresh == NULL)
		o = treaty_fail(t, TREATY_REFUSED, error, -1);
	else if (!plausible_snapshot(treaty_committed(t), fresh, &t->meta, why, sizeof(why))) {
		snapshot_free(fresh);
		o = treaty_fail(t, TREATY_REFUSED, why, -1);
	} else
		o = treaty_commit(t, fresh, r);
	treaty_fetched_free(t);
	treaty_finish(t, o, bytes, cpu);
}

/* Hands the page to the parser's child; the loop goes on until treaty_parsed.
 * 0, or -1 with err saying why the page could not be queued. */
static int
treaty_parse_start(struct treaty *t, struct fetch_result *r, char *err, size_t errlen)
{
	struct fetch_result *kept;

	if ((kept = calloc(1, sizeof(*kept))) == NULL ||
	    state_set_str(&kept->etag, r->etag) < 0 ||
	    state_set_str(&kept->last_modified, r->last_modified) < 0) {
		if (kept != NULL) {
			free(kept->etag);
			free(kept);
		}
		snprintf(err, errlen, "out of memory keeping a fetched page");
		return -1;
	}
	kept->ok = true;
	kept->http_status = r->http_status;
	kept->len = r->len;
	kept->seconds = r->seconds;
	t->fetched = kept;
	t->parsing = parser_start(t->core->parser, r->body, r->len, t->conf->format,
	    treaty_parsed, t, err, errlen);
	if (t->parsing == NULL) {
		treaty_fetched_free(t);
		log_err("%s: %s", t->conf->id, err);
		return -1;
	}
	r->body = NULL;   /* the parser's now: no copy of the page */
	return 0;
}

static void
treaty_fetch_done(void *arg, struct fetch_result *r)
{
	struct treaty *t = arg;
	enum treaty_outcome o;
	char err[512];

	t->inflight = NULL;
	/* A page to parse ends its attempt in treaty_parsed: until then status shows the
	 * attempt as not yet made, never as made with nothing committed. */
	if (r->ok && !r->not_modified && treaty_parse_start(t, r, err, sizeof(err)) == 0)
		return;
	t->meta.last_attempt = time(NULL);
	if (r->ok && !r->not_modified)
		o = treaty_fail(t, TREATY_ERROR, err, -1);
	else if (!r->ok)
		o = treaty_fail(t, TREATY_ERROR, r->error, r->retry_after);
	else if (treaty_committed(t) != NULL)
		o = treaty_commit(t, NULL, r);
	else
		o = treaty_fail(t, TREATY_ERROR, "HTTP 304 without a committed page", -1);
	treaty_finish(t, o, r->len, 0.);
}

static void
treaty_begin_fetch(struct treaty *t)
{
	struct fetch_request req = {
		.url = t->conf->url,
		.etag = t->from_seed ? NULL : t->meta.etag,
		.last_modified = t->from_seed ? NULL : t->meta.last_modified,
		.per_host = true,
		/* Someone waits for this one (a refresh): a host's pause does not hold it. */
		.asked = t->waiters != NULL,
	};

	ev_timer_stop(t->core->loop, &t->timer);
	t->next_fetch = 0;
	treaty_touch(t);
	log_debug("%s: fetching %s%s", t->conf->id, t->conf->url,
	    req.etag != NULL || req.last_modified != NULL ? " (conditional)" : "");
	if ((t->inflight = fetch_start(t->core->fetcher, &req, treaty_fetch_done, t)) == NULL) {
		struct fetch_result r = { .retry_after = -1 };

		snprintf(r.error, sizeof(r.error), "cannot start a transfer for %s", t->conf->url);
		treaty_fetch_done(t, &r);
	}
}

static void
treaty_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct treaty *t = w->data;

	if (t->inflight == NULL && t->parsing == NULL)
		treaty_begin_fetch(t);
}

void
treaty_fetch_now(struct treaty *t, treaty_done_fn *fn, void *arg)
{
	struct treaty_waiter *w;

	if (fn != NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL) {
			fn(arg, t, TREATY_ERROR, "out of memory");
			return;
		}
		w->fn = fn;
		w->arg = arg;
		w->next = t->waiters;
		t->waiters = w;
	}
	/* A page being parsed is the fetch this one joins; a scheduled one waiting out its
	 * host's pause goes now that someone waits for it. */
	if (t->inflight == NULL && t->parsing == NULL)
		treaty_begin_fetch(t);
	else if (fn != NULL)
		fetch_ask(t->inflight);
}
