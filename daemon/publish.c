/* The published files: rendered from what the socket serves, written only when their
 * bytes change, never seen half-written by the web server reading them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "feed.h"
#include "ical.h"
#include "log.h"
#include "page.h"
#include "publish.h"
#include "core.h"
#include "render.h"
#include "svg.h"
#include "status.h"
#include "treaty.h"
#include "zone.h"

struct publish {
	struct core *core;
	ev_prepare prepare;
	uint64_t generation;     /* core->generation at the last write */
	bool dirty;              /* nothing written yet, or a write failed: try again */
	json_t *events;          /* the latest FEED_MAX_ENTRIES journaled events, oldest first */
	uint64_t upto;           /* the highest event id taken into events */
	bool loaded;             /* events read from the journal file once */
	bool failing;            /* the last write failed and was logged */
	ev_tstamp retry_at;      /* while failing: no new try before this */
	int written;             /* files replaced by the current write */
	bool logged;             /* a write was logged at info: later ones at debug */
	ev_tstamp last_write;    /* when the files were last rendered */
	ev_timer pace;           /* wakes the loop for a write held back by PUBLISH_PACE */
};

/* Keeps the newest FEED_MAX_ENTRIES. */
static void
publish_keep(struct publish *p, json_t *ev)
{
	if (json_array_append(p->events, ev) == 0)
		p->upto = event_id(ev);
	while (json_array_size(p->events) > FEED_MAX_ENTRIES)
		json_array_remove(p->events, 0);
}

static bool
publish_scan_fn(void *arg, json_t *ev)
{
	publish_keep(arg, ev);
	return true;
}

/* Reads the newest events from the journal file: the last few hundred ids first (ids
 * given but never used leave gaps), the whole file only when that is not enough. */
static void
publish_load_events(struct publish *p)
{
	struct journal *j = &p->core->journal;
	uint64_t since = j->synced_id > 4 * FEED_MAX_ENTRIES ? j->synced_id -
	    4 * FEED_MAX_ENTRIES : 0;

	json_array_clear(p->events);
	p->upto = since;
	if (journal_scan(j, since, publish_scan_fn, p) == 0 && since > 0 &&
	    json_array_size(p->events) < FEED_MAX_ENTRIES) {
		json_array_clear(p->events);
		p->upto = 0;
		journal_scan(j, 0, publish_scan_fn, p);
	}
	if (p->upto < j->synced_id)
		p->upto = j->synced_id;
	p->loaded = true;
}

/* Takes the events journaled since the last write: from memory when it still holds
 * them all, else from the file. Events not yet on disk wait. */
static void
publish_take_events(struct publish *p)
{
	struct journal *j = &p->core->journal;
	size_t i;

	if (!p->loaded || !journal_in_memory(j, p->upto)) {
		publish_load_events(p);
		return;
	}
	for (i = journal_after(j, p->upto); i < j->n && event_id(j->v[i]) <= j->synced_id; i++)
		publish_keep(p, j->v[i]);
}

/* True when path already holds exactly data: an unchanged file keeps its time. */
static bool
publish_same(const char *path, const char *data, size_t len)
{
	struct stat st;
	char *buf;
	bool same = false;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len &&
	    (buf = malloc(len + 1)) != NULL) {
		same = read(fd, buf, len + 1) == (ssize_t)len && memcmp(buf, data, len) == 0;
		free(buf);
	}
	close(fd);
	return same;
}

/* dir/.NAME.RANDOM: created fresh (O_EXCL), so nothing planted in dir is followed or
 * overwritten. */
static int
publish_create_tmp(struct publish *p, const char *dir, const char *name, char *tmp,
    size_t len)
{
	uint64_t r;
	int fd, tries;

	for (tries = 0; tries < 8; tries++) {
		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			r = (uint64_t)(core_random(p->core) * 18446744073709551616.0);
		if ((size_t)snprintf(tmp, len, "%s/.%s.%016llx", dir, name,
		    (unsigned long long)r) >= len) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* Replaces dir/name by data unless it holds data already. 1 replaced, 0 unchanged, -1
 * with err set. */
static int
publish_put(struct publish *p, const char *dir, const char *name, const char *data,
    size_t len, char *err, size_t errlen)
{
	char path[4096], tmp[4096];
	int fd, saved;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return -1;
	}
	if (publish_same(path, data, len))
		return 0;
	if ((fd = publish_create_tmp(p, dir, name, tmp, sizeof(tmp))) < 0) {
		snprintf(err, errlen, "cannot create a temporary file in %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	/* Readable by the web server whatever ratd's umask. */
	if (fchmod(fd, 0644) < 0 || atomicfile_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(saved));
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		snprintf(err, errlen, "cannot replace %s: %s", path, strerror(saved));
		return -1;
	}
	p->written++;
	return 1;
}

/* A file being rendered in memory. */
struct publish_buf {
	char *data;
	size_t len;
	FILE *f;
};

static FILE *
publish_open(struct publish_buf *b)
{
	b->data = NULL;
	b->len = 0;
	return b->f = open_memstream(&b->data, &b->len);
}

/* Ends the rendering and writes the file when its bytes changed; 0 or -1. */
static int
publish_close(struct publish *p, struct publish_buf *b, const char *name, char *err,
    size_t errlen)
{
	const char *dir = p->core->conf->publish_dir;
	int rc = -1;

	if (b->f == NULL)
		snprintf(err, errlen, "%s/%s: out of memory", dir, name);
	else if (fclose(b->f) != 0)
		snprintf(err, errlen, "%s/%s: out of memory", dir, name);
	else if (b->len > PUBLISH_MAX_FILE)
		snprintf(err, errlen, "%s/%s: %zu bytes, more than the %d allowed", dir, name,
		    b->len, PUBLISH_MAX_FILE);
	else
		rc = publish_put(p, dir, name, b->data, b->len, err, errlen) < 0 ? -1 : 0;
	free(b->data);
	return rc;
}

/* The treaty's events among the latest, newest first. */
static json_t *
publish_treaty_events(const struct publish *p, const char *id)
{
	json_t *out = json_array(), *ev;
	size_t i;

	for (i = json_array_size(p->events); out != NULL && i-- > 0;) {
		ev = json_array_get(p->events, i);
		if (event_treaty(ev) != NULL && strcmp(event_treaty(ev), id) == 0 &&
		    json_array_size(out) < PAGE_EVENTS)
			json_array_append(out, ev);
	}
	return out;
}

/* {"status", "parties", "timeline", "events"} of t today: what page_write takes. */
static json_t *
publish_view(const struct publish *p, const struct treaty *t, day_t today)
{
	json_t *st = status_treaty(t, today), *pa = status_parties(t, today), *tl = NULL;
	json_t *evs = publish_treaty_events(p, t->conf->id);

	if (st != NULL && pa != NULL && evs != NULL &&
	    (tl = render_timeline_build(pa, st)) == NULL)
		tl = json_object();
	if (st == NULL || pa == NULL || evs == NULL || tl == NULL) {
		json_decref(st);
		json_decref(pa);
		json_decref(evs);
		json_decref(tl);
		return NULL;
	}
	return json_pack("{s:o, s:o, s:o, s:o}", "status", st, "parties", pa, "timeline", tl,
	    "events", evs);
}

/* The calendar's DTSTAMP: when the data last changed, so an unchanged treaty gives
 * the same bytes (the earliest possible date still moves daily). */
static time_t
publish_stamp(const struct treaty *t, day_t today)
{
	if (t->meta.last_change != 0)
		return t->meta.last_change;
	if (t->meta.last_success != 0)
		return t->meta.last_success;
	return (time_t)today * 86400;
}

/* ID.svg and ID.ics. */
static int
publish_treaty(struct publish *p, const struct treaty *t, const json_t *view, day_t today,
    char *err, size_t errlen)
{
	struct publish_buf b;
	char name[CONF_MAX_ID + 8], iso[DATE_ISO_LEN];
	json_t *one;
	int rc = 0;

	snprintf(name, sizeof(name), "%s.svg", t->conf->id);
	if (publish_open(&b) != NULL)
		svg_timeline(b.f, json_object_get(view, "timeline"), true);
	rc |= publish_close(p, &b, name, err, errlen);
	snprintf(name, sizeof(name), "%s.ics", t->conf->id);
	if (publish_open(&b) != NULL)
		ical_write(b.f, json_object_get(view, "status"), json_object_get(view, "parties"),
		    p->core->conf->publish_base_url, publish_stamp(t, today));
	rc |= publish_close(p, &b, name, err, errlen);
	/* The treaty's own page, whole: where a long index links to. */
	snprintf(name, sizeof(name), "%s.html", t->conf->id);
	if ((one = json_pack("[O]", view)) == NULL) {
		snprintf(err, errlen, "%s/%s: out of memory", p->core->conf->publish_dir, name);
		return -1;
	}
	if (publish_open(&b) != NULL)
		page_write(b.f, one, date_format_iso(today, iso),
		    zone_label(&p->core->conf->day_zone), false);
	json_decref(one);
	rc |= publish_close(p, &b, name, err, errlen);
	return rc;
}

/* feed.atom: the latest events, newest first. */
static int
publish_feed(struct publish *p, const json_t *titles, time_t changed, char *err,
    size_t errlen)
{
	json_t *newest = json_array();
	struct publish_buf b;
	char fallback[DATE_TIME_LEN];
	size_t i;

	for (i = json_array_size(p->events); newest != NULL && i-- > 0;)
		json_array_append(newest, json_array_get(p->events, i));
	if (newest == NULL) {
		snprintf(err, errlen, "feed.atom: out of memory");
		return -1;
	}
	date_format_time(changed, fallback);
	if (publish_open(&b) != NULL)
		feed_write(b.f, newest, titles, p->core->conf->publish_base_url, fallback);
	json_decref(newest);
	return publish_close(p, &b, "feed.atom", err, errlen);
}

/* Every file from the views of every treaty; 0 or -1 with err set (the first error). */
static int
publish_all(struct publish *p, day_t today, char *err, size_t errlen)
{
	json_t *views = json_array(), *titles = json_object(), *v;
	char iso[DATE_ISO_LEN], e2[512];
	struct publish_buf b;
	time_t changed = (time_t)today * 86400;
	size_t i;
	int rc = 0;

	if (views == NULL || titles == NULL) {
		json_decref(views);
		json_decref(titles);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < p->core->ntreaties; i++) {
		const struct treaty *t = p->core->treaties[i];

		if ((v = publish_view(p, t, today)) == NULL ||
		    json_array_append_new(views, v) != 0) {
			snprintf(err, errlen, "%s: out of memory", t->conf->id);
			rc = -1;
			continue;
		}
		json_object_set_new(titles, t->conf->id, json_string(t->conf->title));
		if (t->meta.last_change != 0 && (i == 0 || t->meta.last_change > changed))
			changed = t->meta.last_change;
		if (publish_treaty(p, t, v, today, rc < 0 ? e2 : err, rc < 0 ? sizeof(e2) :
		    errlen) < 0)
			rc = -1;
	}
	if (publish_feed(p, titles, changed, rc < 0 ? e2 : err, rc < 0 ? sizeof(e2) :
	    errlen) < 0)
		rc = -1;
	/* The page last: what it links to is already there when it shows the news. */
	if (publish_open(&b) != NULL)
		page_write(b.f, views, date_format_iso(today, iso),
		    zone_label(&p->core->conf->day_zone), json_array_size(views) > PAGE_FULL_MAX);
	if (publish_close(p, &b, "index.html", rc < 0 ? e2 : err, rc < 0 ? sizeof(e2) :
	    errlen) < 0)
		rc = -1;
	json_decref(views);
	json_decref(titles);
	return rc;
}

/* The renames are durable once the directory is on disk. */
static int
publish_sync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "cannot sync directory %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
publish_now(struct publish *p)
{
	const char *dir = p->core->conf->publish_dir;
	struct timespec t0, t1;
	char err[1024];
	int rc;

	if (dir == NULL)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	p->written = 0;
	publish_take_events(p);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, sizeof(err), "cannot create %s: %s", dir, strerror(errno));
		rc = -1;
	} else
		rc = publish_all(p, core_today(p->core, time(NULL)), err, sizeof(err));
	if (p->written > 0 && publish_sync_dir(dir, rc < 0 ? (char[512]){ 0 } : err,
	    rc < 0 ? 512 : sizeof(err)) < 0)
		rc = -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0 && !p->failing)
		log_err("publish: %s; the published files stay as they were until it works "
		    "(check [publish] dir and its permissions)", err);
	else if (rc == 0 && p->failing)
		log_notice("publish: writing to %s again", dir);
	else if (rc == 0 && p->written > 0)
		log_msg(p->logged ? LOG_LVL_DEBUG : LOG_LVL_INFO, "publish: %d files replaced "
		    "in %s in %.1f ms", p->written, dir, (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	p->logged |= rc == 0 && p->written > 0;
	p->failing = rc < 0;
	p->dirty = rc < 0;
	p->retry_at = ev_now(p->core->loop) + PUBLISH_RETRY;
	return rc < 0 ? -1 : p->written;
}

/* Before the loop waits: one write for whatever changed in this turn. */
static void
publish_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct publish *p = w->data;

	if (p->generation == p->core->generation && !p->dirty)
		return;
	if (p->failing && ev_now(loop) < p->retry_at)
		return;
	/* Many treaties' fetches end in as many loop turns: rendering every treaty's files
	 * after each would cost the square of their number. A few are rendered at once. */
	if (p->core->ntreaties > PUBLISH_PACE_TREATIES &&
	    ev_now(loop) < p->last_write + PUBLISH_PACE) {
		if (!ev_is_active(&p->pace)) {
			ev_timer_set(&p->pace, p->last_write + PUBLISH_PACE - ev_now(loop), 0.);
			ev_timer_start(loop, &p->pace);
		}
		return;
	}
	p->generation = p->core->generation;
	p->last_write = ev_now(loop);
	publish_now(p);
}

/* Nothing to do: the loop's next turn runs the prepare watcher, which writes. */
static void
publish_pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

struct publish *
publish_new(struct core *core)
{
	struct publish *p = calloc(1, sizeof(*p));

	if (p == NULL || (p->events = json_array()) == NULL) {
		free(p);
		log_err("publish: out of memory");
		return NULL;
	}
	p->core = core;
	p->dirty = true;
	p->generation = core->generation;
	ev_prepare_init(&p->prepare, publish_prepare_cb);
	p->prepare.data = p;
	ev_init(&p->pace, publish_pace_cb);
	ev_prepare_start(core->loop, &p->prepare);
	/* Watching must not keep the loop running: ratd --once ends when its fetches do. */
	ev_unref(core->loop);
	return p;
}

void
publish_free(struct publish *p)
{
	if (p == NULL)
		return;
	if (p->generation != p->core->generation || p->dirty)
		publish_now(p);
	ev_timer_stop(p->core->loop, &p->pace);
	ev_ref(p->core->loop);
	ev_prepare_stop(p->core->loop, &p->prepare);
	json_decref(p->events);
	free(p);
}
