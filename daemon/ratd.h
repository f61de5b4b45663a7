/* The daemon's context: one struct handed down instead of globals. */
#ifndef RATD_RATD_H
#define RATD_RATD_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "core.h"
#include "event.h"
#include "journal.h"
#include "metrics.h"
#include "sd_notify.h"

struct control;
struct alerts;
struct publish;

/* The daemon: the shared core and the modules that serve it, set up in dependency
 * order. Only main.c sees this struct; the modules below see struct core. */
struct ratd {
	struct core core;             /* loop, configuration, treaties, journal */
	struct control *control;      /* NULL with --once */
	struct alerts *alerts;
	struct publish *publish;      /* the [publish] files, kept current */
	ev_periodic midnight;         /* entered-into-force is checked at 00:00 in day_zone */
	ev_timer journal_timer;       /* retries a journal the disk refused */
	double journal_backoff;       /* its next delay: 1 s doubling to 1 min */
	struct metrics metrics;
	int lock_fd;                  /* flock on state_dir/ratd.lock */
	struct sd_notify notify;         /* systemd's NOTIFY_SOCKET; calls are no-ops without it */
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
/* Reads the configuration file again and reloads it (SIGHUP, ratctl reload): 0; -1
 * when it is invalid (err: its first problem and how many, each one logged; the
 * running configuration is kept); -2 when it cannot take effect (logged). */
int ratd_reload_file(struct ratd *rd, char *err, size_t errlen);
/* Keeps systemd's STATUS= current: each treaty's count and the next fetch. */
void ratd_notify_status(struct ratd *rd);

#endif
