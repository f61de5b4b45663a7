/* Socket activation: the control socket systemd passes (sd_listen_fds(3), no libsystemd). */
#ifndef RATD_SD_LISTEN_H
#define RATD_SD_LISTEN_H

#include <stddef.h>

#define SD_LISTEN_FD 3                /* SD_LISTEN_FDS_START: the first passed descriptor */
#define SD_LISTEN_MAX_ERROR 256       /* enough for every message sd_listen_inherited writes */

/* Takes the socket passed by LISTEN_PID/LISTEN_FDS and unsets LISTEN_PID, LISTEN_FDS and
 * LISTEN_FDNAMES so alert programs do not inherit them. 1 with *fd a listening AF_UNIX
 * stream socket, made non-blocking and close-on-exec; 0 when none was passed to this
 * process; -1 with err saying what to fix when the variables or the socket are wrong. */
int sd_listen_inherited(int *fd, char *err, size_t errlen);
/* The path fd is bound to, "@name" for an abstract socket; 0, or -1 when it has none
 * or it does not fit in len bytes. */
int sd_listen_path(int fd, char *buf, size_t len);

#endif
