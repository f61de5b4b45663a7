/* The daemon's context: set up, reload and tear down in dependency order. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <math.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "atomicfile.h"
#include "control.h"
#include "fetch.h"
#include "log.h"
#include "parser.h"
#include "publish.h"
#include "ratd.h"
#include "rule.h"
#include "treaty.h"

/* Applies the parts of conf that need no treaty: fetch options. */
static void
ratd_apply_globals(struct ratd *rd)
{
	const struct conf *conf = rd->core.conf;
	struct fetch_opts fo = {
		.timeout = conf->timeout,
		.max_page_size = conf->max_page_size,
		.user_agent = conf->user_agent,
		.redirect_hosts = (const char *const *)conf->redirect_hosts,
		.nredirect_hosts = conf->nredirect_hosts,
		.host_concurrency = conf->host_concurrency,
		.host_spacing = conf->host_spacing,
	};

	fetcher_set_opts(rd->core.fetcher, &fo);
}

/* mkdir -p, for the directories ratd owns. */
static int
ratd_mkdirs(const char *path, mode_t mode)
{
	char buf[4096], *p;

	if (strlen(path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static int
ratd_state_dir(const struct conf *conf)
{
	char why[1024];
	struct stat st;

	if (ratd_mkdirs(conf->state_dir, 0750) < 0) {
		log_err("cannot create state_dir %s: %s", conf->state_dir, strerror(errno));
		return -1;
	}
	if (stat(conf->state_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_err("state_dir %s is not a directory", conf->state_dir);
		return -1;
	}
	if (atomicfile_check_dir(conf->state_dir, why, sizeof(why)) < 0) {
		log_err("unsafe state_dir: %s", why);
		return -1;
	}
	return 0;
}

#define RATD_JOURNAL_RETRY_MIN 1.
#define RATD_JOURNAL_RETRY_MAX 60.

/* The journal's backlog then evs, in order: what a successful write puts on disk and the
 * watchers must hear of. Empty on out-of-memory. */
static void
ratd_to_write(struct ratd *rd, const struct event_list *evs, struct event_list *out)
{
	size_t n = journal_pending(&rd->core.journal), i;
	json_t *ev;

	out->n = 0;
	if ((out->v = calloc(n + evs->n + 1, sizeof(*out->v))) == NULL)
		return;
	json_array_foreach(rd->core.journal.backlog, i, ev)
		out->v[out->n++] = json_incref(ev);
	for (i = 0; i < evs->n; i++)
		out->v[out->n++] = json_incref(evs->v[i]);
}

static void ratd_journal_write(struct ratd *rd, const struct event_list *evs);

static void
ratd_journal_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct event_list none = { 0 };

	ratd_journal_write(w->data, &none);
}

/* Journals evs after the backlog. On success every event that reached the disk goes to
 * the sinks and the watchers; on failure the retry timer is armed. */
static void
ratd_journal_write(struct ratd *rd, const struct event_list *evs)
{
	struct event_list out = { 0 };
	bool was_failing = journal_pending(&rd->core.journal) > 0;
	char err[1024];

	ratd_to_write(rd, evs, &out);
	ev_timer_stop(rd->core.loop, &rd->journal_timer);
	if (journal_append(&rd->core.journal, evs, err, sizeof(err)) < 0)
		log_err("%s", err);
	core_touch(&rd->core);
	if (journal_pending(&rd->core.journal) > 0) {
		log_err("journal: %zu events are not on disk yet; they wait in memory and in their "
		    "treaties' state files; retrying in %.0f s (check the free space of %s)",
		    journal_pending(&rd->core.journal), rd->journal_backoff, rd->core.conf->state_dir);
		if (!rd->core.once) {
			ev_timer_set(&rd->journal_timer, rd->journal_backoff, 0.);
			ev_timer_start(rd->core.loop, &rd->journal_timer);
		}
		rd->journal_backoff = fmin(rd->journal_backoff * 2, RATD_JOURNAL_RETRY_MAX);
		event_list_clear(&out);
		return;
	}
	if (was_failing)
		log_notice("journal: writable again; every waiting event is on disk");
	rd->journal_backoff = RATD_JOURNAL_RETRY_MIN;
	alerts_kick(rd->alerts);
	control_broadcast(rd->control, out.n > 0 ? &out : evs);
	event_list_clear(&out);
}

/* Logs evs and journals them (fsync) after any the disk refused before; once they are
 * on disk, hands them to the sinks and the watchers. When the disk refuses, they wait
 * in the journal's backlog (and their treaties' outboxes) and the write is retried on a
 * timer, 1 s doubling to 1 min, until it succeeds. */
static void
ratd_publish(struct ratd *rd, const struct event_list *evs)
{
	size_t i;

	if (evs->n == 0)
		return;
	for (i = 0; i < evs->n; i++)
		log_notice("event %llu %s: %s", (unsigned long long)event_id(evs->v[i]),
		    event_type(evs->v[i]),
		    json_string_value(json_object_get(evs->v[i], "summary")));
	/* Journal first: nothing goes out that a crash could take back. Sinks only take
	 * what is on disk. */
	ratd_journal_write(rd, evs);
}

static int
ratd_outbox_cmp(const void *a, const void *b)
{
	uint64_t x = event_id(*(json_t *const *)a), y = event_id(*(json_t *const *)b);

	return x < y ? -1 : x > y;
}

/* Takes from a treaty's outbox the events the journal does not hold (ids past
 * journaled) into lost; no later event may take an id given before. */
static void
ratd_outbox_take(struct ratd *rd, uint64_t journaled, uint64_t last_event_id,
    const json_t *outbox, struct event_list *lost)
{
	json_t *ev, **v;
	size_t k;

	journal_bump(&rd->core.journal, last_event_id);
	json_array_foreach(outbox, k, ev) {
		journal_bump(&rd->core.journal, event_id(ev));
		if (event_id(ev) <= journaled)
			continue;
		if ((v = realloc(lost->v, (lost->n + 1) * sizeof(*v))) == NULL)
			break;
		lost->v = v;
		lost->v[lost->n++] = json_incref(ev);
	}
}

/* The state files of treaties no longer configured: a reload that removed a treaty
 * while the journal refused its events, then a restart, leaves them only there. */
static void
ratd_orphan_outboxes(struct ratd *rd, uint64_t journaled, struct event_list *lost)
{
	const char *dir = rd->core.conf->state_dir;
	char id[CONF_MAX_ID + 1], err[512];
	struct dirent *de;
	uint64_t last;
	json_t *outbox;
	size_t n, before;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		/* ID.json of a treaty id (temporaries start with a dot), not alerts.json. */
		if (n <= 5 || n - 5 > CONF_MAX_ID || strcmp(de->d_name + n - 5, ".json") != 0 ||
		    strcmp(de->d_name, ALERT_CURSORS) == 0)
			continue;
		memcpy(id, de->d_name, n - 5);
		id[n - 5] = '\0';
		if (!conf_valid_id(id) || conf_treaty_find(rd->core.conf, id) != NULL)
			continue;
		if (state_peek_outbox(dir, id, &outbox, &last, err, sizeof(err)) < 0) {
			log_warn("journal: %s/%s.json, of a treaty no longer configured, cannot be "
			    "read (%s): events in it that the journal lacks are not recovered; "
			    "remove the file if the treaty is gone for good", dir, id, err);
			continue;
		}
		before = lost->n;
		ratd_outbox_take(rd, journaled, last, outbox, lost);
		json_decref(outbox);
		if (lost->n > before)
			log_warn("journal: %s/%s.json, of a treaty no longer configured, holds %zu "
			    "event%s not in the journal: recovering %s", dir, id, lost->n - before,
			    lost->n - before == 1 ? "" : "s", lost->n - before == 1 ? "it" : "them");
	}
	closedir(d);
}

/* Sorted events with an id given twice (a state file copied by hand) keep the first:
 * the journal refuses a repeated id. */
static void
ratd_outbox_unique(struct event_list *l)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++) {
		if (n > 0 && event_id(l->v[i]) == event_id(l->v[n - 1])) {
			json_decref(l->v[i]);
			continue;
		}
		l->v[n++] = l->v[i];
	}
	l->n = n;
}

/* Events that a crash kept out of the journal are still in their treaty's outbox. */
static void
ratd_recover_outboxes(struct ratd *rd)
{
	struct event_list lost = { 0 };
	uint64_t journaled = rd->core.journal.last_id;
	size_t i;

	for (i = 0; i < rd->core.ntreaties; i++) {
		ratd_outbox_take(rd, journaled, rd->core.treaties[i]->meta.last_event_id,
		    rd->core.treaties[i]->outbox, &lost);
		json_decref(rd->core.treaties[i]->outbox);
		rd->core.treaties[i]->outbox = NULL;
	}
	ratd_orphan_outboxes(rd, journaled, &lost);
	if (lost.n == 0)
		return;
	qsort(lost.v, lost.n, sizeof(*lost.v), ratd_outbox_cmp);
	ratd_outbox_unique(&lost);
	log_warn("journal: recovering %zu events committed before an interruption", lost.n);
	ratd_journal_write(rd, &lost);
	event_list_clear(&lost);
}

/* The next start of a day in day_zone (00:00 UTC by default). */
static ev_tstamp
ratd_midnight_next(ev_periodic *w, ev_tstamp now)
{
	struct ratd *rd = w->data;

	return (ev_tstamp)zone_next_midnight(&rd->core.conf->day_zone, (time_t)now);
}

/* 00:00 in day_zone: the day a treaty enters into force may have come. */
static void
ratd_midnight_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct ratd *rd = w->data;
	size_t i;

	for (i = 0; i < rd->core.ntreaties; i++)
		treaty_check_in_force(rd->core.treaties[i]);
	/* Figures "as of today" (remaining, the earliest possible date) have a new today. */
	core_touch(&rd->core);
}

#define RATD_LOCK_TRIES 20       /* tenths of a second waited for a lock a dying ratd holds */

/* One ratd per state_dir: two would number events from the same counter and commit
 * over each other (a cron `ratd --once` beside the daemon, say). */
static int
ratd_lock(struct ratd *rd)
{
	char path[4096], why[4200];
	int n;

	snprintf(path, sizeof(path), "%s/ratd.lock", rd->core.conf->state_dir);
	if ((rd->lock_fd = atomicfile_open(path, O_RDWR | O_CREAT, 0600, why, sizeof(why))) < 0) {
		log_err("%s", why);
		return -1;
	}
	/* A ratd killed outright may leave a child (its parser, a hook being spawned) with
	 * the lock for an instant, until it closes what it inherited or dies with its parent:
	 * a short wait, before the loop turns, tells that from a ratd that runs. */
	for (n = 0; flock(rd->lock_fd, LOCK_EX | LOCK_NB) < 0; n++) {
		if (errno != EWOULDBLOCK || n == RATD_LOCK_TRIES) {
			log_err("another ratd is using state_dir %s (%s is locked); stop it, or "
			    "give this one its own state_dir", rd->core.conf->state_dir, path);
			return -1;
		}
		usleep(100 * 1000);
	}
	/* Under the lock no other writer is mid-write: any temporary is a crash's. */
	if ((n = atomicfile_clean_temps(rd->core.conf->state_dir, NULL)) > 0)
		log_info("removed %d temporary files an interrupted write left in %s", n,
		    rd->core.conf->state_dir);
	metrics_clean_textfile(rd->core.conf);
	return 0;
}

/* Something a status reply shows has changed: the metrics textfile is due. */
static void
ratd_touched(void *owner)
{
	struct ratd *rd = owner;

	metrics_schedule(&rd->metrics);
}

static void
ratd_commit(void *owner, const struct event_list *evs)
{
	ratd_publish(owner, evs);
}

/* A treaty's fetch ended: counted, and systemd's STATUS= follows. */
static void
ratd_fetch_report(void *owner, struct treaty *t, const struct treaty_report *r)
{
	struct ratd *rd = owner;

	rd->metrics.fetches[r->outcome]++;
	rd->metrics.bytes += r->bytes;
	rd->metrics.parse_seconds += r->parse_seconds;
	ratd_notify_status(rd);
}

static int
ratd_reload_cb(void *owner, char *err, size_t errlen)
{
	return ratd_reload_file(owner, err, errlen);
}

/* The control socket, serving what the daemon has set up. */
static int
ratd_control(struct ratd *rd)
{
	struct control_deps deps = {
		.alerts = rd->alerts,
		.metrics = &rd->metrics,
		.listen_fd = rd->listen_fd,
		.reload = ratd_reload_cb,
		.owner = rd,
	};

	rd->listen_fd = -1;   /* control's now, even when it fails */
	return (rd->control = control_new(&rd->core, &deps)) == NULL ? -1 : 0;
}

int
ratd_init(struct ratd *rd, struct ev_loop *loop, struct conf *conf, bool once)
{
	char err[1024];
	size_t i;

	rd->core.loop = loop;
	rd->core.conf = conf;
	rd->core.once = once;
	if (getrandom(&rd->core.rng, sizeof(rd->core.rng), GRND_NONBLOCK) != sizeof(rd->core.rng) ||
	    rd->core.rng == 0)
		rd->core.rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
	rd->core.journal.fd = -1;
	rd->lock_fd = -1;
	rd->core.touched = ratd_touched;
	rd->core.commit = ratd_commit;
	rd->core.owner = rd;
	rd->metrics.core = &rd->core;
	rd->metrics.started = time(NULL);
	ev_init(&rd->journal_timer, ratd_journal_timer_cb);
	rd->journal_timer.data = rd;
	rd->journal_backoff = RATD_JOURNAL_RETRY_MIN;
	if (ratd_state_dir(conf) < 0 || ratd_lock(rd) < 0)
		return -1;
	if (journal_open(&rd->core.journal, conf->state_dir, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	if ((rd->core.fetcher = fetcher_new(loop)) == NULL)
		return -1;
	if ((rd->core.parser = parser_new(loop)) == NULL) {
		log_err("out of memory");
		return -1;
	}
	ratd_apply_globals(rd);
	if ((rd->core.treaties = calloc(conf->ntreaties, sizeof(*rd->core.treaties))) == NULL) {
		log_err("out of memory");
		return -1;
	}
	for (i = 0; i < conf->ntreaties; i++) {
		rd->core.treaties[i] = treaty_new(&rd->core, &conf->treaties[i], ratd_fetch_report, rd);
		if (rd->core.treaties[i] == NULL) {
			log_err("%s: out of memory", conf->treaties[i].id);
			return -1;
		}
		rd->core.ntreaties++;
	}
	ratd_recover_outboxes(rd);
	if ((rd->alerts = alerts_new(&rd->core, once)) == NULL) {
		log_err("alerts: out of memory");
		return -1;
	}
	rd->metrics.alerts = rd->alerts;
	if ((rd->publish = publish_new(&rd->core)) == NULL)
		return -1;
	if (!once && ratd_control(rd) < 0)
		return -1;
	ev_periodic_init(&rd->midnight, ratd_midnight_cb, 0., 0., ratd_midnight_next);
	rd->midnight.data = rd;
	if (!once) {
		ev_periodic_start(loop, &rd->midnight);
		for (i = 0; i < rd->core.ntreaties; i++) {
			treaty_check_in_force(rd->core.treaties[i]);
			treaty_start(rd->core.treaties[i]);
		}
	}
	return 0;
}

void
ratd_finish(struct ratd *rd)
{
	size_t i;

	metrics_flush(&rd->metrics);
	/* Clients first: a refresh they wait on must not answer into a freed client. */
	control_free(rd->control);
	rd->control = NULL;
	publish_free(rd->publish);
	rd->publish = NULL;
	if (rd->core.loop != NULL) {
		ev_periodic_stop(rd->core.loop, &rd->midnight);
		ev_timer_stop(rd->core.loop, &rd->journal_timer);
	}
	alerts_free(rd->alerts);
	rd->alerts = NULL;
	for (i = 0; i < rd->core.ntreaties; i++)
		treaty_free(rd->core.treaties[i]);
	free(rd->core.treaties);
	rd->core.treaties = NULL;
	rd->core.ntreaties = 0;
	fetcher_free(rd->core.fetcher);
	rd->core.fetcher = NULL;
	parser_free(rd->core.parser);
	rd->core.parser = NULL;
	journal_close(&rd->core.journal);
	if (rd->lock_fd >= 0)
		close(rd->lock_fd);
	rd->lock_fd = -1;
	if (rd->core.conf != NULL) {
		conf_free(rd->core.conf);
		free(rd->core.conf);
		rd->core.conf = NULL;
	}
}

int
ratd_reload(struct ratd *rd, struct conf *conf)
{
	struct conf *old = rd->core.conf;
	struct treaty **next, **gone, *t;
	size_t i, j, ngone;

	sd_notify_reloading(&rd->notify);
	if (strcmp(old->socket, conf->socket) != 0 || old->socket_mode != conf->socket_mode ||
	    (old->socket_group == NULL) != (conf->socket_group == NULL) ||
	    (old->socket_group && strcmp(old->socket_group, conf->socket_group) != 0))
		log_warn("reload: socket settings change only at restart; keeping %s", old->socket);
	/* The journal and every state file live together: a new directory waits for a
	 * restart rather than splitting them. */
	if (strcmp(old->state_dir, conf->state_dir) != 0) {
		log_warn("reload: state_dir changes only at restart; keeping %s", old->state_dir);
		if (state_set_str(&conf->state_dir, old->state_dir) < 0) {
			conf_free(conf);
			free(conf);
			sd_notify_ready(&rd->notify);
			return -1;
		}
	}
	if (ratd_state_dir(conf) < 0 ||
	    (next = calloc(conf->ntreaties, sizeof(*next))) == NULL) {
		conf_free(conf);
		free(conf);
		sd_notify_ready(&rd->notify);
		return -1;
	}
	rd->core.conf = conf;
	/* Treaties that stay keep their committed state, schedule and waiting clients. */
	for (i = 0; i < conf->ntreaties; i++) {
		if ((t = treaty_find(&rd->core, conf->treaties[i].id)) != NULL)
			treaty_reconfigure(t, &conf->treaties[i]);
		else if ((t = treaty_new(&rd->core, &conf->treaties[i], ratd_fetch_report, rd)) != NULL)
			treaty_start(t);
		else
			log_err("reload: %s: out of memory; not tracked", conf->treaties[i].id);
		next[i] = t;
	}
	/* Switch first, free after: a removed treaty's waiters are told from treaty_free
	 * and must find the daemon whole. */
	gone = rd->core.treaties;
	ngone = rd->core.ntreaties;
	rd->core.treaties = next;
	for (i = j = 0; i < conf->ntreaties; i++)
		if (next[i] != NULL)
			next[j++] = next[i];
	rd->core.ntreaties = j;
	ratd_apply_globals(rd);
	if (alerts_reconfigure(rd->alerts) < 0)
		log_err("reload: out of memory setting up alerts; delivery stops until the next "
		    "reload");
	control_limits(rd->control);
	for (j = 0; j < ngone; j++) {
		for (i = 0; i < rd->core.ntreaties && rd->core.treaties[i] != gone[j]; i++)
			;
		if (i == rd->core.ntreaties) {
			log_info("reload: %s is no longer tracked", gone[j]->conf->id);
			treaty_free(gone[j]);
		}
	}
	free(gone);
	conf_free(old);
	free(old);
	/* A new day_zone moves the next day boundary. */
	if (ev_is_active(&rd->midnight))
		ev_periodic_again(rd->core.loop, &rd->midnight);
	core_touch(&rd->core);
	log_info("reload: %s: %zu treaties, %zu alerts", conf->path, conf->ntreaties, conf->nalerts);
	/* READY=1 ends systemd's "reloading" state. */
	sd_notify_ready(&rd->notify);
	ratd_notify_status(rd);
	return 0;
}

int
ratd_reload_file(struct ratd *rd, char *err, size_t errlen)
{
	struct conf *conf = calloc(1, sizeof(*conf));
	const char *path = rd->core.conf->path;
	size_t i;

	if (conf == NULL) {
		snprintf(err, errlen, "out of memory reading %s", path);
		return -2;
	}
	if (conf_load(path, conf) < 0) {
		for (i = 0; i < conf->nerrors; i++)
			log_err("reload: %s", conf->errors[i]);
		log_err("reload: %s is invalid; the running configuration is kept", path);
		sd_notify_status(&rd->notify, "reload refused: the configuration is invalid (see the "
		    "log); running the previous one");
		snprintf(err, errlen, "%s (%zu problems in all); the running configuration is kept",
		    conf->nerrors ? conf->errors[0] : path, conf->nerrors);
		conf_free(conf);
		free(conf);
		return -1;
	}
	return ratd_reload(rd, conf) < 0 ? -2 : 0;
}

/* Up to this many treaties, STATUS= has a part for each; beyond, counts. */
#define RATD_STATUS_TREATIES 8

/* One treaty's part of STATUS=: "IV-13: 59/20 parties, in force since 2003-07-01". */
static void
ratd_status_part(FILE *f, struct treaty *t, day_t today)
{
	struct rule_result res;
	char d[DATE_ISO_LEN];

	if (t->snap == NULL || treaty_eval(t, t->snap, today, &res) < 0) {
		fprintf(f, "%s: no data yet", t->conf->id);
		return;
	}
	fprintf(f, "%s: %d/%d parties", t->conf->id, res.counted, t->conf->rule.threshold);
	if (res.in_force)
		fprintf(f, ", in force since %s", date_format_iso(res.entry_into_force, d));
	else if (res.threshold_reached)
		fprintf(f, ", enters into force %s", date_format_iso(res.entry_into_force, d));
	else
		fprintf(f, ", %d to go", res.remaining);
	if (t->from_seed)
		fputs(" (seed)", f);
	else if (strcmp(treaty_source_state(t), "failing") == 0)
		fputs(" (source failing)", f);
	rule_result_clear(&res);
}

/* STATUS= for many treaties: counts by source state, no treaty evaluated (this runs after
 * every fetch, so a line per treaty would cost every treaty's evaluation per fetch). */
static void
ratd_status_counts(FILE *f, struct ratd *rd)
{
	size_t i, failing = 0, ok = 0;

	for (i = 0; i < rd->core.ntreaties; i++) {
		if (strcmp(treaty_source_state(rd->core.treaties[i]), "failing") == 0)
			failing++;
		else if (strcmp(treaty_source_state(rd->core.treaties[i]), "ok") == 0)
			ok++;
	}
	fprintf(f, "%zu treaties: %zu ok, %zu source failing, %zu not fetched yet",
	    rd->core.ntreaties, ok, failing, rd->core.ntreaties - ok - failing);
}

void
ratd_notify_status(struct ratd *rd)
{
	time_t next = 0, now = time(NULL);
	char *line = NULL, when[16];
	size_t len = 0, i;
	struct tm tm;
	FILE *f;

	if (rd->notify.fd < 0 || (f = open_memstream(&line, &len)) == NULL)
		return;
	if (rd->core.ntreaties > RATD_STATUS_TREATIES)
		ratd_status_counts(f, rd);
	for (i = 0; i < rd->core.ntreaties; i++) {
		if (i > 0 && rd->core.ntreaties <= RATD_STATUS_TREATIES)
			fputs("; ", f);
		if (rd->core.ntreaties <= RATD_STATUS_TREATIES)
			ratd_status_part(f, rd->core.treaties[i], core_today(&rd->core, now));
		if (rd->core.treaties[i]->next_fetch &&
		    (next == 0 || rd->core.treaties[i]->next_fetch < next))
			next = rd->core.treaties[i]->next_fetch;
	}
	if (next != 0) {
		strftime(when, sizeof(when), "%H:%M", gmtime_r(&next, &tm));
		fprintf(f, "; next fetch %s UTC", when);
	}
	if (fclose(f) == 0)
		sd_notify_status(&rd->notify, line);
	free(line);
}
