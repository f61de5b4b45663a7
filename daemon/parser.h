/* Page parses in a child process: a page that makes libxml2 slow or greedy costs that
 * child its budget, never the daemon its loop or its memory. */
#ifndef RATD_PARSER_H
#define RATD_PARSER_H

#include <ev.h>
#include <stddef.h>

#include "snapshot.h"
#include "untc.h"

#define PARSER_CPU_SECONDS 2         /* CPU time one parse may take (RLIMIT_CPU) */
#define PARSER_MEMORY_MIB 256        /* memory the child may map beyond the daemon's (RLIMIT_AS) */
#define PARSER_WALL_SECONDS 30       /* a parse still running after this is killed */

struct parser;
struct parser_job;

/* Called once from the loop when a parse ends: s is the snapshot (the callee takes
 * it), or NULL and why says why the page was refused, a budget it broke included
 * ("page parse exceeded its CPU budget (2 s)"). cpu is the child's CPU time for this
 * page, in seconds. The job is gone when this is called. */
typedef void parser_done_fn(void *arg, struct snapshot *s, const char *why, double cpu);

/* The daemon's parser; its child is forked (no exec) at the first page and kept for
 * the next ones. NULL on out-of-memory. The loop must be the default loop (ev_child). */
struct parser *parser_new(struct ev_loop *loop);
/* Kills and reaps the child; jobs still queued are dropped without their callback. */
void parser_free(struct parser *p);
/* Queues the len bytes at page (malloc'd; taken over when a job is returned) to be
 * parsed as untc_parse does, within the budgets above; pages are parsed one at a
 * time, in order. NULL with err set when no child can be forked or memory is short:
 * page stays the caller's and done is never called. */
struct parser_job *parser_start(struct parser *p, char *page, size_t len,
    enum untc_format fmt, parser_done_fn *done, void *arg, char *err, size_t errlen);
/* Drops a job; if its page is being parsed the child is killed and reaped at once.
 * done is never called. NULL is a no-op. */
void parser_cancel(struct parser_job *j);

#endif
