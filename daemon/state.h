/* What ratd keeps on disk per treaty: the committed snapshot and the source's history,
 * in state_dir/ID.json, replaced atomically and durably. */
#ifndef RATD_STATE_H
#define RATD_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "snapshot.h"

#define STATE_MAX_FILE (16 << 20)
/* Temporaries of state_write_atomic are ".NAME" STATE_TMP_TAG and STATE_TMP_RANDOM
 * letters or digits, e.g. ".IV-13.json.tmp-h3Kq9ZxA". */
#define STATE_TMP_TAG ".tmp-"
#define STATE_TMP_RANDOM 8

/* What ratd knows about fetching one treaty's page. Times are 0 when never. */
struct source_meta {
	char *etag;              /* validators of the committed page, echoed on the next fetch */
	char *last_modified;
	time_t last_attempt;
	time_t last_success;
	time_t last_change;
	time_t failing_since;    /* first failure of the current run, 0 when none */
	int consecutive_failures;
	char *error;             /* last failure or refusal, NULL after a success */
	uint64_t pending_hash;   /* a reduced table seen pending_count times in a row */
	int pending_count;
	bool failing_alerted;    /* source-failing raised for the current run of failures */
	bool eif_announced;      /* entered-into-force raised, or in force at the baseline */
	json_t *anomalies;       /* reasons raised as source-anomaly since the last commit */
	json_t *discrepancies;   /* page-versus-table disagreements already raised */
	uint64_t last_event_id;  /* the highest event id given when this was saved */
};

void source_meta_clear(struct source_meta *m);
/* Replaces *slot by a copy of value (or NULL); -1 on out-of-memory. */
int state_set_str(char **slot, const char *value);

/* Writes all len bytes to fd, retrying after EINTR and short writes; 0 or -1. */
int state_write_all(int fd, const char *p, size_t len);
/* Writes data to dir/name: a new temporary of a random name beside it (created with
 * O_EXCL|O_NOFOLLOW: nothing planted there is written through or chmod-ed), fsync,
 * rename over name (a symbolic link there is replaced, not followed), fsync dir.
 * 0, or -1 with err set. */
int state_write_atomic(const char *dir, const char *name, const void *data, size_t len,
    char *err, size_t errlen);
/* The same with the file's permissions (state_write_atomic: 0600). */
int state_write_atomic_mode(const char *dir, const char *name, const void *data, size_t len,
    mode_t mode, char *err, size_t errlen);
/* Reads a whole file of at most max bytes into a NUL-terminated buffer; a symbolic link
 * at path is refused (ELOOP), a FIFO or other non-regular file too. 0, or -1 with err
 * set and errno kept (ENOENT when absent). */
int state_read_file(const char *path, size_t max, char **out, size_t *len, char *err,
    size_t errlen);
/* The same, following a symbolic link at path: for files the administrator installs
 * (seeds), never for what ratd writes itself. */
int state_read_linked(const char *path, size_t max, char **out, size_t *len, char *err,
    size_t errlen);
/* Opens path with flags (O_CREAT allowed, with mode) adding O_NOFOLLOW and O_CLOEXEC,
 * and checks it is a regular file (a FIFO there does not block the open). An fd, or -1
 * with err set and errno kept (ELOOP: a symbolic link). */
int state_open(const char *path, int flags, mode_t mode, char *err, size_t errlen);
/* Refuses a directory in which another user could plant links for ratd to write
 * through: owned by neither ratd's effective uid nor root, or writable by its group or
 * others (the sticky bit does not help: names ratd has not created yet are free to
 * take). A symbolic link to the directory is followed: the path is the administrator's
 * (systemd's DynamicUser= makes /var/lib/NAME one). 0, or -1 with err saying what to
 * do. */
int state_check_dir(const char *dir, char *err, size_t errlen);
/* Removes the temporaries an interrupted state_write_atomic left in dir: those for
 * name only, or (name NULL) every ratd temporary, including the fixed ".NAME.tmp" of
 * older versions. Links are removed, never followed. Call only while holding the
 * directory's lock. Returns how many were removed. */
int state_clean_temps(const char *dir, const char *name);
/* The name a damaged file is kept under: PATH.corrupt-TIME-PID. */
void state_aside_name(const char *path, char *out, size_t len);
/* Saves snap (may be NULL: nothing committed yet), m and the outbox (the events this
 * save raises, already numbered; NULL for none) as dir/ID.json. The outbox makes the
 * commit and its events one atomic step: events missing from the journal after a
 * crash are found here again. */
int state_save(const char *dir, const char *id, const struct snapshot *snap,
    const struct source_meta *m, const json_t *outbox, char *err, size_t errlen);
/* Reads the committed snapshot of dir/ID.json and changes nothing (for --check-config):
 * 1 when read, 0 when there is none, -1 when it cannot be read (err says why). */
int state_peek(const char *dir, const char *id, struct snapshot **snap, char *err,
    size_t errlen);
/* Loads dir/ID.json. 1 when loaded, 0 when there is none, -1 when it is unreadable or
 * invalid: then it has been moved aside to ID.json.corrupt-TIME and err says so. */
int state_load(const char *dir, const char *id, struct snapshot **snap,
    struct source_meta *m, json_t **outbox, char *err, size_t errlen);

#endif
