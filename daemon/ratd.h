/* The daemon's context: one struct handed down instead of globals. */
#ifndef RATD_RATD_H
#define RATD_RATD_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "event.h"
#include "journal.h"
#include "sd_notify.h"
#include "metrics.h"

struct fetcher;
struct parser;
struct treaty;
struct control;
struct alerts;
struct publish;

struct ratd {
	struct ev_loop *loop;
	struct conf *conf;            /* the configuration in force */
	struct fetcher *fetcher;
	struct parser *parser;        /* pages are parsed in its child */
	struct treaty **treaties;     /* one per [treaty] section, in config order */
	size_t ntreaties;
	struct control *control;      /* NULL with --once */
	struct journal journal;
	struct alerts *alerts;
	struct publish *publish;      /* the [publish] files, kept current */
	ev_periodic midnight;         /* entered-into-force is checked at 00:00 in day_zone */
	ev_timer journal_timer;       /* retries a journal the disk refused */
	double journal_backoff;       /* its next delay: 1 s doubling to 1 min */
	struct metrics metrics;
	uint64_t generation;          /* bumped by anything a status reply shows */
	uint64_t rng;                 /* xorshift state for jitter */
	bool once;                    /* --once: fetch each treaty once, no timers */
	size_t once_pending;          /* --once: fetches still running */
	bool once_failed;
	int lock_fd;                  /* flock on state_dir/ratd.lock */
	bool have_admin_gid;
	gid_t admin_gid;
	ev_signal sig_term, sig_int, sig_hup, sig_usr1;
	struct notify notify;         /* systemd's NOTIFY_SOCKET; calls are no-ops without it */
	int listen_fd;                /* the control socket systemd passed, until control takes it; -1 */
};

/* Sets up the context for conf (taken over) and loads every treaty's state.
 * 0, or -1 after logging why. */
int ratd_init(struct ratd *rd, struct ev_loop *loop, struct conf *conf, bool once);
/* Frees everything ratd_init and later reloads set up. */
void ratd_finish(struct ratd *rd);
/* Replaces the configuration with conf (taken over), keeping committed state, fetches
 * and clients of treaties that stay. 0, or -1 when conf cannot take effect. */
int ratd_reload(struct ratd *rd, struct conf *conf);
/* The treaty of that id, or NULL. */
struct treaty *ratd_treaty(struct ratd *rd, const char *id);
/* Gives evs the next event ids; they are never given again, even if unused. */
void ratd_number_events(struct ratd *rd, struct event_list *evs);
/* Logs evs and journals them (fsync) after any the disk refused before; once they are
 * on disk, hands them to the sinks and the watchers. When the disk refuses, they wait
 * in the journal's backlog (and their treaties' outboxes) and the write is retried on a
 * timer, 1 s doubling to 1 min, until it succeeds. */
void ratd_publish(struct ratd *rd, const struct event_list *evs);
/* Keeps systemd's STATUS= current: each treaty's count and the next fetch. */
void ratd_notify_status(struct ratd *rd);
/* Something a status reply shows has changed (cached replies are stale, the metrics
 * textfile is due). */
static inline void
ratd_touch(struct ratd *rd)
{
	rd->generation++;
	metrics_schedule(rd);
}
/* The calendar date at now where days begin: day_zone, UTC by default. */
day_t ratd_today(const struct ratd *rd, time_t now);
/* Uniform in [0, 1). */
double ratd_random(struct ratd *rd);

#endif
