/* Declarations shared by ratd and ratctl: the control socket protocol (man/ratd.8,
 * CONTROL SOCKET). */
#ifndef RATD_PROTO_H
#define RATD_PROTO_H

#define RATD_VERSION "0.1.0"
#define RATD_PROJECT_URL "https://github.com/ratd-project/ratd"

#ifndef RATD_DEFAULT_SOCKET
#define RATD_DEFAULT_SOCKET "/run/ratd/ratd.sock"
#endif

/* Longest treaty id (and alert name): ratd.conf refuses longer ones, ratctl does not
 * send them. */
#define RATD_MAX_ID 64

/* Longest request line the daemon accepts, newline included (replies may be longer). */
#define RATD_MAX_LINE (64 * 1024)

/* Error codes of {"ok": false, "error": {"code": ...}}. */
#define RATD_ERR_BAD_REQUEST       "bad-request"
#define RATD_ERR_UNKNOWN_COMMAND   "unknown-command"
#define RATD_ERR_UNKNOWN_TREATY    "unknown-treaty"
#define RATD_ERR_BAD_DATE          "bad-date"
#define RATD_ERR_PERMISSION_DENIED "permission-denied"
#define RATD_ERR_BUSY              "busy"
#define RATD_ERR_INTERNAL          "internal"

#endif
