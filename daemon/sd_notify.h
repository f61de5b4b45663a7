/* Telling systemd how ratd is doing: sd_notify(3)'s protocol without libsystemd. */
#ifndef RATD_NOTIFY_H
#define RATD_NOTIFY_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#define NOTIFY_MAX_MESSAGE 4096    /* systemd reads at most this much of one datagram */
#define NOTIFY_MAX_STATUS 512      /* bytes of STATUS= text kept */

struct notify {
	int fd;                    /* -1: nobody to tell, every call is a no-op */
	struct sockaddr_un addr;   /* $NOTIFY_SOCKET */
	socklen_t addrlen;
	uint64_t watchdog_usec;    /* 0: systemd wants no keep-alive pings */
	bool failed;               /* a send failed and was logged; later ones are not */
	struct ev_loop *loop;      /* where the watchdog timer runs, once started */
	ev_timer watchdog;
};

/* Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, then unsets them so that alert
 * programs do not inherit them. 1 when messages go to systemd, 0 when it asked for
 * none, -1 (logged) when NOTIFY_SOCKET is unusable; n is a no-op in the last two. */
int notify_init(struct notify *n);
/* Sends one message of "KEY=value" lines; at most NOTIFY_MAX_MESSAGE bytes. */
void notify_send(struct notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* READY=1: start-up, or a reload, is complete. */
void notify_ready(struct notify *n);
/* STATUS=text, made one line and cut to NOTIFY_MAX_STATUS bytes on a character boundary. */
void notify_status(struct notify *n, const char *text);
/* RELOADING=1 with MONOTONIC_USEC= now; always follow it with notify_ready. */
void notify_reloading(struct notify *n);
/* STOPPING=1. */
void notify_stopping(struct notify *n);
/* Sends WATCHDOG=1 now and every WATCHDOG_USEC/2 from loop, when systemd asked for it. */
void notify_watchdog_start(struct notify *n, struct ev_loop *loop);
/* Stops the watchdog and closes the socket; n is a no-op afterwards. */
void notify_close(struct notify *n);

#endif
