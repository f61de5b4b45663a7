/* Running an exec sink's program: posix_spawn without a shell, the event on stdin,
 * watched with ev_child and killed at its timeout. */
#ifndef RATD_HOOK_H
#define RATD_HOOK_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

struct hook;

/* ok: the program exited 0. error: why not, for the log and `ratctl status`. */
typedef void hook_done_fn(void *arg, bool ok, const char *error);

/* Starts program with envp and input on its stdin; done is called once it has exited
 * (or was killed after timeout seconds). NULL with err set when it cannot start. */
struct hook *hook_run(struct ev_loop *loop, const char *program, char *const envp[],
    const char *input, size_t len, double timeout, hook_done_fn *done, void *arg,
    char *err, size_t errlen);
/* Kills a running program; its callback is never called. */
void hook_cancel(struct hook *h);

#endif
