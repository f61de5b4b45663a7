/* The event journal: state_dir/journal.jsonl, one event per line, fsynced before any
 * delivery. The latest JOURNAL_MEM events stay in memory for history and the sinks;
 * older ones (up to JOURNAL_KEEP) are read back from the file when asked for, so
 * memory stays flat however many events a year brings. */
#ifndef RATD_JOURNAL_H
#define RATD_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "event.h"

#define JOURNAL_KEEP 10000              /* events kept in the file after compaction */
#define JOURNAL_MEM 64                  /* the latest events also kept in memory */
#define JOURNAL_MAX_FILE (256 << 20)
#define JOURNAL_NAME "journal.jsonl"

struct journal {
	char *dir;
	int fd;                 /* opened O_APPEND */
	json_t **v;             /* the latest events, oldest first, ids strictly increasing */
	size_t n;
	uint64_t last_id;       /* highest id ever given: never given again */
	uint64_t synced_id;     /* highest id on disk (fsynced): what may be delivered */
	size_t file_lines;      /* lines in the file, to know when to compact */
	json_t *backlog;        /* events not yet written because the disk refused */
	char *error;            /* why the last write failed; NULL once the backlog is written */
	time_t failing_since;   /* first failed write of the current run, 0 when none */
};

/* Loads dir/journal.jsonl (salvaging what it can of a damaged one, with log lines)
 * and opens it for appending. 0, or -1 with err set. */
int journal_open(struct journal *j, const char *dir, char *err, size_t errlen);
void journal_close(struct journal *j);
/* Raises last_id to at least id: ids found elsewhere (outboxes, cursors) are never reused. */
void journal_bump(struct journal *j, uint64_t id);
/* Appends numbered events (ids above those already journaled): written and fsynced, and
 * kept in memory.
 * The events stay in memory even when the disk refuses (they are retried with the next
 * append); -1 then, with err set. */
int journal_append(struct journal *j, const struct event_list *l, char *err, size_t errlen);
/* Writes what the disk refused before (the backlog), fsynced: what a retry does.
 * 0 when nothing is left waiting, -1 with err set. */
int journal_retry(struct journal *j, char *err, size_t errlen);
/* Events not yet on disk (the backlog). */
size_t journal_pending(const struct journal *j);
/* Appends to out the events of that treaty not yet on disk, oldest first: a state file
 * saves them in its outbox so that a restart finds them again. 0, or -1 on
 * out-of-memory. */
int journal_unsynced(const struct journal *j, const char *treaty, json_t *out);
/* {"state": "ok"|"failing", "pending": N, "error": text|null, "since": time|null}, as a
 * status reply shows it; NULL on out-of-memory. */
json_t *journal_status(const struct journal *j);
/* Index of the first event in memory with id > since (j->n when none). */
size_t journal_after(const struct journal *j, uint64_t since);
/* True when every event with id > since that is on disk is also in memory. */
bool journal_in_memory(const struct journal *j, uint64_t since);
/* Calls fn on each journaled event with id > since, oldest first, from the file,
 * until fn returns false. 0, or -1 when the file cannot be read. For what memory no
 * longer holds: a sink far behind, a long history. */
int journal_scan(struct journal *j, uint64_t since, bool (*fn)(void *arg, json_t *ev),
    void *arg);

#endif
