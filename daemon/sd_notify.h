/* Telling systemd how ratd is doing: sd_notify(3)'s protocol without libsystemd. */
#ifndef RATD_SD_NOTIFY_H
#define RATD_SD_NOTIFY_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#define SD_NOTIFY_MAX_MESSAGE 4096    /* systemd reads at most this much of one datagram */
#define SD_NOTIFY_MAX_STATUS 512      /* bytes of STATUS= text kept */

struct sd_notify {
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
int sd_notify_init(struct sd_notify *n);
/* Sends one message of "KEY=value" lines; at most SD_NOTIFY_MAX_MESSAGE bytes. */
void sd_notify_send(struct sd_notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* READY=1: start-up, or a reload, is complete. */
void sd_notify_ready(struct sd_notify *n);
/* STATUS=text, made one line and cut to SD_NOTIFY_MAX_STATUS bytes on a character boundary. */
void sd_notify_status(struct sd_notify *n, const char *text);
/* RELOADING=1 with MONOTONIC_USEC= now; always follow it with sd_notify_ready. */
void sd_notify_reloading(struct sd_notify *n);
/* STOPPING=1. */
void sd_notify_stopping(struct sd_notify *n);
/* Sends WATCHDOG=1 now and every WATCHDOG_USEC/2 from loop, when systemd asked for it. */
void sd_notify_watchdog_start(struct sd_notify *n, struct ev_loop *loop);
/* Stops the watchdog and closes the socket; n is a no-op afterwards. */
void sd_notify_close(struct sd_notify *n);

#endif
