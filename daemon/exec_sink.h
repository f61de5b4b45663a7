/* Running an exec sink's program: posix_spawn without a shell, the event on stdin,
 * watched with ev_child and killed at its timeout. */
#ifndef RATD_EXEC_SINK_H
#define RATD_EXEC_SINK_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

struct exec_sink;

/* ok: the program exited 0. error: why not, for the log and `ratctl status`. */
typedef void exec_sink_done_fn(void *arg, bool ok, const char *error);

/* What of a program's output reaches the log: lines cut at EXEC_SINK_LINE_MAX bytes, at
 * most EXEC_SINK_LINES_MAX of them per run (then one line saying how many more were read
 * and dropped), EXEC_SINK_READ_MAX bytes read per wake-up of the loop. */
#define EXEC_SINK_LINE_MAX 512
#define EXEC_SINK_LINES_MAX 20
#define EXEC_SINK_READ_MAX (64 * 1024)

/* A rate over many runs, kept by the caller (one per sink): EXEC_SINK_LOG_BURST lines,
 * then EXEC_SINK_LOG_RATE lines a second, so a thousand events behind a chatty program
 * cannot flood the log. Lines past it are counted and the count logged when it allows. */
#define EXEC_SINK_LOG_BURST 60.
#define EXEC_SINK_LOG_RATE 1.
struct exec_sink_log_budget {
	double tokens;            /* lines that may be logged now; start at EXEC_SINK_LOG_BURST */
	double at;                /* when tokens was last brought up to date (ev_now) */
	unsigned long dropped;    /* lines not logged for lack of tokens, not yet reported */
};

/* Starts program with envp and input on its stdin; done is called once it has exited
 * (or was killed after timeout seconds). Its stdout and stderr come back through a
 * pipe, read without blocking and logged as "alert NAME: hook: LINE" (level notice)
 * within the bounds above and budget's rate (NULL: the per-run bound alone; budget must
 * outlive the run), cleaned by exec_sink_clean. NULL with err set when it cannot start. */
struct exec_sink *exec_sink_run(struct ev_loop *loop, const char *name, const char *program,
    char *const envp[], const char *input, size_t len, double timeout,
    struct exec_sink_log_budget *budget, exec_sink_done_fn *done, void *arg, char *err,
    size_t errlen);
/* Copies len bytes of in to out (cap bytes, cap >= 8) as valid UTF-8 a reader cannot
 * be fooled by: invalid sequences, controls (C0 but tab, which becomes a space; DEL;
 * C1), U+2028, U+2029 and bidirectional controls (U+202A-U+202E, U+2066-U+2069)
 * become U+FFFD. What does not fit is cut at a character boundary and marked with
 * U+2026, as is a line the caller cut (cut: in ends early, maybe inside a character).
 * Returns the length written, NUL excluded. */
size_t exec_sink_clean(const char *in, size_t len, bool cut, char *out, size_t cap);
/* Kills a running program; its callback is never called. */
void exec_sink_cancel(struct exec_sink *h);

#endif
