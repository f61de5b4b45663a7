/* The control socket: JSON lines for ratctl (man/ratd.8, CONTROL SOCKET). */
#ifndef RATD_CONTROL_H
#define RATD_CONTROL_H

#include <stddef.h>

struct alerts;
struct control;
struct core;
struct event_list;
struct metrics;

/* Reloads the configuration file: 0; -1 when it is invalid (err says where and what);
 * -2 when it cannot take effect (logged). */
typedef int control_reload_fn(void *owner, char *err, size_t errlen);

/* What the socket serves besides core, and its owner's reload. */
struct control_deps {
	struct alerts *alerts;
	struct metrics *metrics;
	int listen_fd;            /* the socket systemd passed (taken over), or -1 */
	control_reload_fn *reload;
	void *owner;
};

#define CONTROL_MAX_CLIENTS 64         /* fewer when RLIMIT_NOFILE is low (see below) */
#define CONTROL_RESERVED 8             /* of them, for root, ratd's user, admin_group only */
#define CONTROL_MAX_PER_UID 16         /* connections of one other user */
#define CONTROL_MAX_WATCH_PER_UID 8    /* watchers of one other user */
#define CONTROL_OUTPUT_BUDGET (32 << 20)    /* reply bytes queued over all clients */
#define CONTROL_HISTORY_STEP 128       /* journal lines a long history reads per turn */
/* File descriptors kept for the daemon's own work, not for clients: stdio, the loop,
 * lock, journal, syslog, state and cursor writes, a parse child's pipes; per treaty a
 * fetch's sockets and resolver pair; per sink a hook's pipes or a delivery's sockets.
 * A client costs its socket and, during a long history, the journal it reads. */
#define CONTROL_FD_BASE 32
#define CONTROL_FD_PER_TREATY 4
#define CONTROL_FD_PER_SINK 4
#define CONTROL_FD_PER_CLIENT 2
#define CONTROL_IDLE_TIMEOUT 60.0       /* seconds without a request before hanging up */
#define CONTROL_MAX_OUTPUT (16 << 20)   /* reply bytes queued for one client */
#define CONTROL_KEEP_OUTPUT (64 << 10)  /* a client's buffer kept once all is written */
#define CONTROL_MAX_WATCH_OUTPUT (1 << 20)  /* unread event bytes before a watcher is dropped */
#define CONTROL_PAUSE_OUTPUT (64 << 10)     /* unsent reply bytes that pause a client's requests */
#define CONTROL_BURST 16                    /* requests of one client per turn of the loop */

/* Binds the configured socket, or adopts deps->listen_fd (closed on failure too),
 * refusing to steal one a live ratd answers on, and starts accepting. NULL after
 * logging why. */
struct control *control_new(struct core *core, const struct control_deps *deps);
/* Sizes the client limits to RLIMIT_NOFILE (raising the soft limit toward the hard one
 * when it is short) and the configuration's treaties and sinks, and logs them; at start
 * and after each reload. Clients already connected stay. Also resolves admin_group
 * (warning when there is no such group). ctl may be NULL (--once). */
void control_limits(struct control *ctl);
/* Sends each event to the watchers that want it. ctl may be NULL (--once). */
void control_broadcast(struct control *ctl, const struct event_list *evs);
/* Closes every client and the socket, and unlinks the socket file. */
void control_free(struct control *ctl);

#endif
