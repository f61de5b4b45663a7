/* The control socket: JSON lines for ratctl (SPEC §7). */
#ifndef RATD_CONTROL_H
#define RATD_CONTROL_H

struct ratd;
struct control;
struct event_list;

#define CONTROL_MAX_CLIENTS 64
#define CONTROL_IDLE_TIMEOUT 60.0       /* seconds without a request before hanging up */
#define CONTROL_MAX_OUTPUT (16 << 20)   /* reply bytes queued for one client */
#define CONTROL_MAX_WATCH_OUTPUT (1 << 20)  /* unread event bytes before a watcher is dropped */
#define CONTROL_PAUSE_OUTPUT (64 << 10)     /* unsent reply bytes that pause a client's requests */
#define CONTROL_BURST 16                    /* requests of one client per turn of the loop */

/* Binds the configured socket (refusing to steal one a live ratd answers on) and starts
 * accepting. NULL after logging why. */
struct control *control_new(struct ratd *rd);
/* Sends each event to the watchers that want it. ctl may be NULL (--once). */
void control_broadcast(struct control *ctl, const struct event_list *evs);
/* Closes every client and the socket, and unlinks the socket file. */
void control_free(struct control *ctl);

#endif
