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

/* Hands the fixture page NAME to the parser as fmt; its outcome goes to o. */
static struct parser_job *
start_fixture(struct parser *p, const char *name, enum untc_format fmt, struct outcome *o)
{
	size_t len;
	char *page = helpers_read_fixture(name, &len);

	return start(p, page, len, fmt, o);
}

static void
test_pages_in_order(void **state)
{
	struct parser *p = parser_new(EV_DEFAULT);
	struct outcome o[3] = { 0 };
	char *page = copy("<html><head><title>Runtime Error</title></head></html>");

	start_fixture(p, "IV-13.html", UNTC_AUTO, &o[0]);
	start(p, page, strlen(page), UNTC_HTML, &o[1]);
	start_fixture(p, "IV-13.xml", UNTC_XML, &o[2]);
	wait_all(o, 3);
	assert_int_equal(o[0].calls, 1);
	assert_int_equal(o[0].n, 70);
	assert_string_equal(o[1].why, "no participants table (page title 'Runtime Error')");
	assert_int_equal(o[2].n, 70);
	parser_free(p);
}

/*
 * 200,000 attributes on one element, named a, b, ... zz, aaa, ...: libxml2's HTML parser
 * checks each against all before it, so the time grows with the square of their number
 * (60,000 took 8 s of CPU on the development machine, 200,000 would take about 90 s), far
 * over the 2 s budget even on a machine many times faster. Under 1 MB.
 */
#define BOMB_ATTRIBUTES 200000

static size_t
bomb_name(char *out, unsigned i)
{
	char rev[8];
	size_t k = 0, j;

	for (i++; i > 0; i = (i - 1) / 26)
		rev[k++] = (char)('a' + (i - 1) % 26);
	for (j = 0; j < k; j++)
		out[j] = rev[k - 1 - j];
	return k;
}

static char *
attribute_bomb(size_t *len)
{
	size_t cap = BOMB_ATTRIBUTES * 6 + 256, at;
	char *page = malloc(cap);
	unsigned i;

	assert_non_null(page);
	at = (size_t)snprintf(page, cap, "<html><body><div");
	for (i = 0; i < BOMB_ATTRIBUTES; i++) {
		page[at++] = ' ';
		at += bomb_name(page + at, i);
	}
	at += (size_t)snprintf(page + at, cap - at, ">x</div></body></html>");
	assert_true(at < 1000000);
	*len = at;
	return page;
}

static void
test_cpu_budget_ends_the_child(void **state)
{
	struct parser *p = parser_new(EV_DEFAULT);
	struct outcome o[2] = { 0 };
	size_t len;
	char *page = attribute_bomb(&len);

	start(p, page, len, UNTC_HTML, &o[0]);
	/* The page after it gets a new child. */
	start_fixture(p, "IV-13.html", UNTC_HTML, &o[1]);
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
	size_t len;
	char *page = attribute_bomb(&len);

	busy = start(p, page, len, UNTC_HTML, &o[0]);
	queued = start_fixture(p, "IV-13.html", UNTC_HTML, &o[1]);
	start_fixture(p, "IV-13.xml", UNTC_XML, &o[2]);
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

/* Keeps the snapshot the child sent. */
static void
keep(void *arg, struct snapshot *s, const char *why, double cpu)
{
	*(struct snapshot **)arg = s;
	assert_non_null(s);
}

static void
assert_same_snapshot(const struct snapshot *a, const struct snapshot *b)
{
	size_t i, k;

	assert_int_equal(a->n, b->n);
	assert_int_equal(a->stated_parties, b->stated_parties);
	assert_int_equal(a->stated_signatories, b->stated_signatories);
	assert_int_equal(a->stated_eif_date, b->stated_eif_date);
	assert_string_equal(a->stated_eif ? a->stated_eif : "-",
	    b->stated_eif ? b->stated_eif : "-");
	assert_string_equal(a->status_as_at ? a->status_as_at : "-",
	    b->status_as_at ? b->status_as_at : "-");
	for (i = 0; i < a->n; i++) {
		assert_string_equal(a->v[i].name, b->v[i].name);
		assert_int_equal(a->v[i].withdrawn, b->v[i].withdrawn);
		assert_int_equal(a->v[i].withdrawal_date, b->v[i].withdrawal_date);
		assert_int_equal(a->v[i].withdrawal_from_page, b->v[i].withdrawal_from_page);
		assert_int_equal(a->v[i].signature.date, b->v[i].signature.date);
		assert_int_equal(a->v[i].signature.kind, b->v[i].signature.kind);
		assert_int_equal(a->v[i].instrument.date, b->v[i].instrument.date);
		assert_int_equal(a->v[i].instrument.kind, b->v[i].instrument.kind);
		assert_int_equal(a->v[i].nnotes, b->v[i].nnotes);
		for (k = 0; k < a->v[i].nnotes; k++)
			assert_string_equal(a->v[i].notes[k], b->v[i].notes[k]);
	}
}

/* What the child sends back is the snapshot untc_parse makes, every field of it:
 * stated values, withdrawal dates and notes (UTF-8 among them) included. */
static void
test_reply_is_the_whole_snapshot(void **state)
{
	static const char *const names[] = { "IV-13.html", "IV-13.xml", "XXI-10.html" };
	static const char notes[] = "<html><body><table id=\"x_tblgrid\"><tr><td>Participant"
	    "</td><td>Signature</td><td>Ratification, Accession(a)</td></tr>"
	    "<tr><td>[C\xc3\xb4te<sup>1</sup>]</td><td>1 Jan 2000</td><td>2 Feb 2001 a</td></tr>"
	    "<tr><td>Chile<sup>2</sup></td><td></td><td>3 Mar 2003</td></tr></table>"
	    "<div id=\"x_divNotesAll\"><p><sup>1</sup> Its decision to withdraw from the "
	    "Convention took effect on 4 April 2004.</p><p><sup>2</sup> \xe2\x80\x9cQuoted\xe2"
	    "\x80\x9d.</p></div><div id=\"x_divStatusAsAt\">STATUS AS AT : 30-09-2024 "
	    "05:00:44 EDT</div></body></html>";
	struct parser *p = parser_new(EV_DEFAULT);
	struct snapshot *got, *want;
	char err[256], *page;
	size_t i, len;

	for (i = 0; i <= sizeof(names) / sizeof(names[0]); i++) {
		page = i < sizeof(names) / sizeof(names[0]) ?
		    helpers_read_fixture(names[i], &len) : copy(notes);
		if (i == sizeof(names) / sizeof(names[0]))
			len = strlen(page);
		assert_non_null(want = untc_parse(page, len, UNTC_AUTO, err, sizeof(err)));
		got = NULL;
		assert_non_null(parser_start(p, page, len, UNTC_AUTO, keep, &got, err,
		    sizeof(err)));
		while (got == NULL)
			ev_run(EV_DEFAULT, EVRUN_ONCE);
		assert_same_snapshot(got, want);
		snapshot_free(got);
		snapshot_free(want);
	}
	parser_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages_in_order),
		cmocka_unit_test(test_cpu_budget_ends_the_child),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_reply_is_the_whole_snapshot),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
