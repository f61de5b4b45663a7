/* The page parser's child: pages in order, refusals with their reason, a budget that
 * ends a child and a cancelled parse, on the loop the daemon uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include <cmocka.h>
#include <ev.h>

#include "helpers.h"
#include "parser.h"
#include "snapshot.h"

struct outcome {
	int calls;
	size_t n;              /* participants, when a snapshot came */
	char why[512];         /* the reason, when none did */
};

static void
done(void *arg, struct snapshot *s, const char *why, double cpu)
{
	struct outcome *o = arg;

	o->calls++;
	o->n = s != NULL ? s->n : 0;
	snprintf(o->why, sizeof(o->why), "%s", s != NULL ? "" : why);
	snapshot_free(s);
	assert_true(cpu >= 0);
}

static char *
copy(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

/* Runs the loop until every outcome has its one call. */
static void
wait_all(struct outcome *o, size_t n)
{
	size_t i;
	int spins;

	for (spins = 0; spins < 100000; spins++) {
		for (i = 0; i < n && o[i].calls > 0; i++)
			;
		if (i == n)
			return;
		ev_run(EV_DEFAULT, EVRUN_ONCE);
	}
	fail_msg("the parser never answered");
}

/* Hands page (taken) to the parser; its outcome goes to o. */
static struct parser_job *
start(struct parser *p, char *page, size_t len, enum untc_format fmt, struct outcome *o)
{
	struct parser_job *job;
	char err[256];

	if ((job = parser_start(p, page, len, fmt, done, o, err, sizeof(err))) == NULL)
		fail_msg("parser_start: %s", err);
	return job;
}

static void
test_pages_in_order(void **state)
{
	struct parser *p = parser_new(EV_DEFAULT);
	struct outcome o[3] = { 0 };
	char *page;
	size_t len;

	page = helpers_read_fixture("IV-13.html", &len);
	start(p, page, len, UNTC_AUTO, &o[0]);
	page = copy("<html><head><title>Runtime Error</title></head></html>");
	start(p, page, strlen(page), UNTC_HTML, &o[1]);
	page = helpers_read_fixture("IV-13.xml", &len);
	start(p, page, len, UNTC_XML, &o[2]);
	wait_all(o, 3);
	assert_int_equal(o[0].calls, 1);
	assert_int_equal(o[0].n, 70);
	assert_string_equal(o[1].why, "no participants table (page title 'Runtime Error')");
	assert_int_equal(o[2].n, 70);
	parser_free(p);
}

/* 60,000 attributes on one element: libxml2 would take half a minute of CPU. */
static char *
attribute_bomb(size_t *len)
{
	size_t cap = 60000 * 16 + 256, at;
	char *page = malloc(cap);
	int i;

	assert_non_null(page);
	at = (size_t)snprintf(page, cap, "<html><body><div");
	for (i = 0; i < 60000; i++)
		at += (size_t)snprintf(page + at, cap - at, " a%d=\"x\"", i);
	at += (size_t)snprintf(page + at, cap - at, ">x</div></body></html>");
	*len = at;
	return page;
}

static void
test_cpu_budget_ends_the_child(void **state)
{
	struct parser *p = parser_new(EV_DEFAULT);
	struct outcome o[2] = { 0 };
	char *page;
	size_t len;

	page = attribute_bomb(&len);
	start(p, page, len, UNTC_HTML, &o[0]);
	/* The page after it gets a new child. */
	page = helpers_read_fixture("IV-13.html", &len);
	start(p, page, len, UNTC_HTML, &o[1]);
	wait_all(o, 2);
	assert_string_equal(o[0].why, "page parse exceeded its CPU budget (2 s)");
	assert_int_equal(o[1].n, 70);
	parser_free(p);
}

static void
test_cancel(void **state)
{
	struct parser *p = parser_new(EV_DEFAULT);
	struct outcome o[3] = { 0 };
	struct parser_job *busy, *queued;
	char *page;
	size_t len;

	page = attribute_bomb(&len);
	busy = start(p, page, len, UNTC_HTML, &o[0]);
	page = helpers_read_fixture("IV-13.html", &len);
	queued = start(p, page, len, UNTC_HTML, &o[1]);
	page = helpers_read_fixture("IV-13.xml", &len);
	start(p, page, len, UNTC_XML, &o[2]);
	ev_run(EV_DEFAULT, EVRUN_NOWAIT);
	/* Cancelling the page in the child kills it; the queued ones go on without it. */
	parser_cancel(queued);
	parser_cancel(busy);
	wait_all(&o[2], 1);
	assert_int_equal(o[0].calls, 0);
	assert_int_equal(o[1].calls, 0);
	assert_int_equal(o[2].n, 70);
	parser_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages_in_order),
		cmocka_unit_test(test_cpu_budget_ends_the_child),
		cmocka_unit_test(test_cancel),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
