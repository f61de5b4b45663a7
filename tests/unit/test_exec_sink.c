/* Exec sinks' output: what a program prints reaches ratd's log only line by line,
 * prefixed with the sink's name, cleaned of what could fool a reader, cut at a character
 * boundary and bounded per run; a chatty program still finishes and is delivered. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec_sink.h"
#include "helpers.h"
#include "log.h"

/* Whether s is valid UTF-8 free of controls other than the newline. */
static bool
clean_text(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		if (p[i] < 0x80) {
			if ((p[i] < 0x20 && p[i] != '\n') || p[i] == 0x7F)
				return false;
			i++;
			continue;
		}
		n = p[i] >= 0xF0 ? 4 : p[i] >= 0xE0 ? 3 : p[i] >= 0xC2 ? 2 : 0;
		if (n == 0 || i + n > len)
			return false;
		cp = p[i] & (0x7F >> n);
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3F);
		}
		if (cp <= 0x9F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 &&
		    cp <= 0x2069) || cp == 0x2028 || cp == 0x2029)
			return false;
		i += n;
	}
	return true;
}

static void
assert_clean(const char *in, size_t len, bool cut, const char *want)
{
	char out[EXEC_SINK_LINE_MAX + 1];
	size_t n = exec_sink_clean(in, len, cut, out, sizeof(out));

	assert_int_equal(n, strlen(out));
	if (strcmp(out, want) != 0)
		fail_msg("exec_sink_clean(%.*s): \"%s\", want \"%s\"", (int)len, in, out, want);
}

/* in: a string literal, which may hold NUL-free bytes of any kind. */
#define CLEAN(in, cut, want) assert_clean(in, sizeof(in) - 1, cut, want)
#define REPL "\xEF\xBF\xBD"
#define ELL "\xE2\x80\xA6"

static void
test_clean(void **state)
{
	char in[2000], out[EXEC_SINK_LINE_MAX + 1];
	size_t i, n;

	CLEAN("plain text", false, "plain text");
	CLEAN("S\xC3\xA3o Tom\xC3\xA9", false, "S\xC3\xA3o Tom\xC3\xA9");
	CLEAN("a\tb", false, "a b");
	CLEAN("\x1b[31mred\x1b[0m", false, REPL "[31mred" REPL "[0m");
	CLEAN("bell\a cr\r del\x7f", false, "bell" REPL " cr" REPL " del" REPL);
	/* C1 (NEL), RLO, LRI, PDI, line separator. */
	CLEAN("\xC2\x85|\xE2\x80\xAE|\xE2\x81\xA6|\xE2\x81\xA9|\xE2\x80\xA8", false,
	    REPL "|" REPL "|" REPL "|" REPL "|" REPL);
	/* Not UTF-8: a stray byte, an overlong '/', a surrogate, past U+10FFFF, a cut
	 * sequence in the middle. */
	CLEAN("\xff|\xC0\xAF|\xED\xA0\x80|\xF4\x90\x80\x80|\xE2\x80|", false,
	    REPL "|" REPL REPL "|" REPL REPL REPL "|" REPL REPL REPL REPL "|" REPL REPL "|");
	/* A line the caller cut inside a character: the piece goes, the cut is marked. */
	CLEAN("ab\xC3", true, "ab" ELL);
	CLEAN("ab\xE2\x80", true, "ab" ELL);

	/* Too long: cut at a character boundary within the bound, marked. */
	for (i = 0; i + 2 <= sizeof(in); i += 2)
		memcpy(in + i, "\xC3\xA9", 2);
	n = exec_sink_clean(in, sizeof(in), false, out, sizeof(out));
	assert_true(n <= EXEC_SINK_LINE_MAX);
	assert_true(n >= EXEC_SINK_LINE_MAX - 4);
	assert_memory_equal(out + n - 3, ELL, 3);
	assert_true(clean_text(out, n));
	/* Replacements grow the text: the bound holds for them too. */
	memset(in, 0x1b, sizeof(in));
	n = exec_sink_clean(in, sizeof(in), false, out, sizeof(out));
	assert_true(n <= EXEC_SINK_LINE_MAX);
	assert_true(clean_text(out, n));
}

struct run {
	bool called, ok;
	char error[256];
	double last_tick, max_gap;   /* the loop's longest pause while the hook ran */
	double took;                 /* seconds from start to the hook's end */
};

static void
done_cb(void *arg, bool ok, const char *error)
{
	struct run *r = arg;

	r->called = true;
	r->ok = ok;
	snprintf(r->error, sizeof(r->error), "%s", error ? error : "");
	ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void
give_up_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct run *r = w->data;
	double now = ev_time();

	if (now - r->last_tick > r->max_gap)
		r->max_gap = now - r->last_tick;
	r->last_tick = now;
}

/* Runs script (sh, without its #! line) as the sink "noisy" with stderr (the log) in a
 * file as the journal sees it ("<N>" prefixes); returns the log's text. */
static char *
run_hook_budget(const char *script, struct run *r, struct exec_sink_log_budget *b)
{
	char dir[] = "/tmp/ratd-test-hook-XXXXXX", prog[128], logp[128], env[64], err[256];
	char *envp[] = { NULL }, *text;
	struct stat st;
	ev_timer give_up, tick;
	struct exec_sink *h;
	int saved, fd;
	FILE *f;
	long n;

	assert_non_null(mkdtemp(dir));
	snprintf(prog, sizeof(prog), "%s/hook.sh", dir);
	snprintf(logp, sizeof(logp), "%s/log", dir);
	assert_non_null(f = fopen(prog, "w"));
	fputs("#!/bin/sh\n", f);
	fputs(script, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(prog, 0700), 0);

	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) >= 0);
	assert_true((fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init();

	r->took = ev_time();
	h = exec_sink_run(EV_DEFAULT, "noisy", prog, envp, "{\"id\":1}", 8, 20., b, done_cb, r, err,
	    sizeof(err));
	ev_timer_init(&give_up, give_up_cb, 25., 0.);
	ev_timer_start(EV_DEFAULT, &give_up);
	ev_timer_init(&tick, tick_cb, 0.005, 0.005);
	tick.data = r;
	r->last_tick = ev_time();
	ev_timer_start(EV_DEFAULT, &tick);
	if (h != NULL)
		ev_run(EV_DEFAULT, 0);
	ev_timer_stop(EV_DEFAULT, &tick);
	ev_timer_stop(EV_DEFAULT, &give_up);
	r->took = ev_time() - r->took;

	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	unsetenv("JOURNAL_STREAM");
	log_init();
	if (h == NULL)
		fail_msg("exec_sink_run: %s", err);
	assert_non_null(f = fopen(logp, "rb"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	assert_non_null(text = malloc((size_t)n + 1));
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	text[n] = '\0';
	fclose(f);
	unlink(prog);
	unlink(logp);
	rmdir(dir);
	return text;
}

static char *
run_hook(const char *script, struct run *r)
{
	return run_hook_budget(script, r, NULL);
}

static int
count(const char *text, const char *what)
{
	int n = 0;

	for (; (text = strstr(text, what)) != NULL; text++)
		n++;
	return n;
}

/* A hook that forges a priority line, prints 10,000 more, a line with an escape
 * sequence and bidi overrides, and one of 3000 bytes. */
static void
test_hostile_output(void **state)
{
	static const char script[] =
	    "cat >/dev/null\n"
	    "printf '<0>forged\\n'\n"
	    "printf '<0>forged on stderr\\n' >&2\n"
	    "printf 'esc \\033[2J\\033]0;title\\007 rlo \\342\\200\\256evil\\342\\200\\254 "
	    "nel \\302\\205 end\\n'\n"
	    "head -c 3000 /dev/zero | tr '\\000' x; echo\n"
	    "i=0; while [ $i -lt 10000 ]; do echo \"<0>line $i\"; i=$((i+1)); done\n"
	    "printf 'no final newline'\n"
	    "exit 0\n";
	struct run r = { 0 };
	char *text, *line, *save, *x;
	int prefixed = 0;

	text = run_hook(script, &r);
	if (!r.called || !r.ok)
		fail_msg("the hook was not delivered (%s): %s", r.error, text);
	assert_true(clean_text(text, strlen(text)));
	helpers_contains(text, "<5>alert noisy: hook: <0>forged\n",
	    "<5>alert noisy: hook: <0>forged on stderr\n", NULL);
	assert_non_null(strstr(text, "<5>alert noisy: hook: esc " REPL "[2J" REPL "]0;title"
	    REPL " rlo " REPL "evil" REPL " nel " REPL " end\n"));
	/* 10,000 + 5 lines: 20 logged, the rest counted. */
	assert_non_null(strstr(text, "<5>alert noisy: hook: 9985 more lines suppressed\n"));
	assert_null(strstr(text, "no final newline"));
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "<0>", 3) == 0)
			fail_msg("a forged priority line reached the log: %s", line);
		if (strncmp(line, "<5>alert noisy: hook: ", 22) != 0)
			continue;
		prefixed++;
		assert_true(strlen(line) - 22 <= EXEC_SINK_LINE_MAX);
		if ((x = strstr(line, "xxxx")) != NULL) {
			assert_int_equal(strlen(x), EXEC_SINK_LINE_MAX - 3 + 3);
			assert_memory_equal(line + strlen(line) - 3, ELL, 3);
		}
	}
	assert_int_equal(prefixed, EXEC_SINK_LINES_MAX + 1);
	free(text);
}

/* The last line without a newline is logged once the program exits; a failing
 * program's words are there to say why. */
static void
test_last_line_and_failure(void **state)
{
	static const char script[] =
	    "echo 'first'\n"
	    "printf 'cannot reach the chat server' >&2\n"
	    "exit 3\n";
	struct run r = { 0 };
	char *text = run_hook(script, &r);

	assert_true(r.called);
	assert_false(r.ok);
	assert_string_equal(r.error, "exited with status 3");
	helpers_contains(text, "<5>alert noisy: hook: first\n",
	    "<5>alert noisy: hook: cannot reach the chat server\n", NULL);
	assert_int_equal(count(text, "hook:"), 2);
	assert_null(strstr(text, "suppressed"));
	free(text);
}

/* 65 MB of output, a 48 MB line and a million short ones: read as it comes, 64 KiB
 * per wake-up, so the loop keeps turning and the program is not held up by a full pipe. */
static void
test_flood_keeps_loop_turning(void **state)
{
	static const char script[] =
	    "head -c 48000000 /dev/zero | tr '\\000' y\n"
	    "echo\n"
	    "yes 'a line of output' | head -n 1000000\n"
	    "exit 0\n";
	struct run r = { 0 };
	char *text = run_hook(script, &r);

	if (!r.called || !r.ok)
		fail_msg("the hook was not delivered (%s)", r.error);
	print_message("65 MB of hook output: delivered in %.2f s, the loop's longest pause "
	    "%.1f ms\n", r.took, r.max_gap * 1000);
	helpers_contains(text, "<5>alert noisy: hook: yyyy",
	    "<5>alert noisy: hook: 999981 more lines suppressed\n", NULL);
	assert_int_equal(count(text, "\n"), EXEC_SINK_LINES_MAX + 1);
	/* Generous for a loaded machine: one wake-up reads at most 64 KiB. */
	assert_true(r.max_gap < 0.5);
	free(text);
}

/* Many runs of a chatty program (a thousand events behind it) share one budget: past
 * EXEC_SINK_LOG_BURST lines, the log gets EXEC_SINK_LOG_RATE a second, and the lines held back
 * are counted in a later "suppressed" line rather than lost from sight. */
static void
test_rate_over_runs(void **state)
{
	static const char script[] =
	    "cat >/dev/null\n"
	    "i=0; while [ $i -lt 30 ]; do echo \"line $i\"; i=$((i+1)); done\n";
	struct exec_sink_log_budget b = { .tokens = EXEC_SINK_LOG_BURST, .at = ev_time() };
	int logged = 0, last = 0, i;
	struct run r;
	double start = ev_time();
	char *text;

	ev_now_update(EV_DEFAULT);
	b.at = ev_now(EV_DEFAULT);
	for (i = 0; i < 5; i++) {
		memset(&r, 0, sizeof(r));
		text = run_hook_budget(script, &r, &b);
		assert_true(r.called && r.ok);
		last = count(text, "hook:");
		logged += last;
		free(text);
	}
	/* 150 lines written; at most the burst and what the time taken refilled. */
	assert_true(logged <= (int)(EXEC_SINK_LOG_BURST + (ev_time() - start) * EXEC_SINK_LOG_RATE) + 1);
	assert_true(logged >= (int)EXEC_SINK_LOG_BURST);
	assert_true(last <= 1 + (int)((ev_time() - start) * EXEC_SINK_LOG_RATE));
	assert_true(b.dropped > 0 || last > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_hostile_output),
		cmocka_unit_test(test_last_line_and_failure),
		cmocka_unit_test(test_flood_keeps_loop_turning),
		cmocka_unit_test(test_rate_over_runs),
	};

	/* cmocka's output must not land in the captured log. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* As in ratd (main.c): a program that exits without reading its stdin is EPIPE on
	 * the pipe, not a signal that ends the process. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
