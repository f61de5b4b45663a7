/* The plausibility check (man/ratd.8, DESCRIPTION, Check): an empty table or one losing
 * more than 10% of the committed participants is refused, until the same reduced table
 * has been seen 3 times in a row; and the page's own statements compared with its table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "plausible.h"
#include "untc.h"

#define K(k) (1u << (k))

static const struct rule iv13 = {
	.threshold = 20, .delay_months = 3, .align = RULE_ALIGN_NEXT_MONTH,
	.count_mask = K(KIND_RATIFICATION) | K(KIND_ACCESSION) | K(KIND_ACCEPTANCE) |
	    K(KIND_APPROVAL) | K(KIND_SUCCESSION) | K(KIND_CONFIRMATION),
};

static char reason[512];

/* "State first" .. "State first+n-1", each with a ratification. */
static struct snapshot *
states(int first, int n)
{
	struct snapshot *s = snapshot_new();
	struct action none = { DAY_NONE, KIND_NONE };
	struct action ins = { date_from_ymd(2020, 1, 1), KIND_RATIFICATION };
	char name[32];
	int i;

	assert_non_null(s);
	for (i = first; i < first + n; i++) {
		snprintf(name, sizeof(name), "State %d", i);
		assert_int_equal(snapshot_add(s, name, false, none, ins), 0);
	}
	return s;
}

static bool
check(const struct snapshot *committed, const struct snapshot *fresh, struct source_meta *m)
{
	reason[0] = '\0';
	return plausible_snapshot(committed, fresh, m, reason, sizeof(reason));
}

static void
test_first_table_is_accepted(void **state)
{
	struct snapshot *fresh = states(0, 3);
	struct source_meta m = { .pending_hash = 42, .pending_count = 2 };

	assert_true(check(NULL, fresh, &m));
	assert_string_equal(reason, "");
	assert_int_equal(m.pending_count, 0);
	assert_true(m.pending_hash == 0);
	snapshot_free(fresh);
}

static void
test_empty_table_is_refused(void **state)
{
	struct snapshot *committed = states(0, 20), *empty = snapshot_new();
	struct source_meta m = { 0 };
	int i;

	assert_false(check(NULL, empty, &m));
	assert_string_equal(reason, "participants table is empty");
	/* However often it comes: an empty table is never the truth. */
	for (i = 0; i < 5; i++) {
		assert_false(check(committed, empty, &m));
		assert_string_equal(reason, "participants table is empty");
	}
	helpers_snapshots_free(committed, empty, NULL);
}

/* One fresh table, States first..first+n-1, seen against the committed 20: whether it
 * is believed, how many times in a row it has then been held back, and (when not NULL)
 * what the reason for holding it back says. */
struct sight {
	int first, n;
	bool believed;
	int pending;
	const char *reason;
};

#define MAX_SIGHTS 9

/* Tables seen one after the other, from the committed 20 and nothing pending; the
 * sights end at the first with n = 0. */
static const struct {
	const char *name;
	struct sight sights[MAX_SIGHTS];
} sightings[] = {
	{ "losing up to a tenth", {
		{ 0, 20, true, 0, NULL },
		{ 0, 25, true, 0, NULL },
		/* 2 of 20 is exactly 10%. */
		{ 0, 18, true, 0, NULL } } },
	{ "a reduced table, believed on the third sight", {
		{ 0, 17, false, 1, "page lists 17 participants, 3 of the 20 committed" },
		{ 0, 17, false, 2, NULL },
		{ 0, 17, true, 0, NULL } } },
	/* Same size, but States 0-2 are gone and 20-22 are new: 3 of 20 lost. */
	{ "renamed rows", {
		{ 3, 20, false, 1, "3 of the 20" } } },
	{ "another reduced table, or a plausible one, restarts the count", {
		{ 0, 17, false, 1, NULL },
		{ 0, 17, false, 2, NULL },
		{ 0, 16, false, 1, NULL },
		{ 0, 16, false, 2, NULL },
		{ 0, 16, true, 0, NULL },
		/* A plausible page in between also breaks the run. */
		{ 0, 17, false, 1, NULL },
		{ 0, 17, false, 2, NULL },
		{ 0, 20, true, 0, NULL },
		{ 0, 17, false, 1, NULL } } },
};

/* One sight of a sighting: the verdict, the count, the hash of the table held back (none
 * once believed) and the reason. */
static void
assert_sight(const char *name, size_t k, const struct snapshot *committed,
    struct source_meta *m, const struct sight *want)
{
	struct snapshot *fresh = states(want->first, want->n);
	bool got = check(committed, fresh, m);
	uint64_t hash = want->believed ? 0 : snapshot_table_hash(fresh);

	if (got != want->believed || m->pending_count != want->pending)
		fail_msg("%s, sight %zu: %s with %d pending, not %s with %d", name, k + 1,
		    got ? "believed" : "held back", m->pending_count,
		    want->believed ? "believed" : "held back", want->pending);
	if (m->pending_hash != hash)
		fail_msg("%s, sight %zu: not the hash of the table held back", name, k + 1);
	if (want->reason != NULL && strstr(reason, want->reason) == NULL)
		fail_msg("%s, sight %zu: reason \"%s\" lacks \"%s\"", name, k + 1, reason,
		    want->reason);
	snapshot_free(fresh);
}

static void
test_reduced_tables_seen_again(void **state)
{
	struct snapshot *committed = states(0, 20);
	struct source_meta m;
	size_t i, k;

	for (i = 0; i < sizeof(sightings) / sizeof(sightings[0]); i++) {
		m = (struct source_meta){ 0 };
		for (k = 0; k < MAX_SIGHTS && sightings[i].sights[k].n > 0; k++)
			assert_sight(sightings[i].name, k, committed, &m, &sightings[i].sights[k]);
	}
	snapshot_free(committed);
}

/* plausible_discrepancies over the IV-13 rule evaluated at day. */
static void
discrepancies(const struct snapshot *s, day_t day, json_t *out)
{
	struct rule_result res;

	assert_int_equal(rule_eval(&iv13, s, day, &res), 0);
	plausible_discrepancies(s, &res, out);
	rule_result_clear(&res);
}

static void
test_page_agrees_with_its_table(void **state)
{
	struct snapshot *s = helpers_parse_fixture("IV-13.html", UNTC_AUTO);
	json_t *out = json_array();

	/* 59 parties, 40 signatories, in force since 1 July 2003: all as the table gives. */
	discrepancies(s, date_from_ymd(2024, 9, 30), out);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	snapshot_free(s);
}

static void
test_page_disagreeing_with_its_table(void **state)
{
	struct snapshot *s = helpers_parse_fixture("IV-13.html", UNTC_AUTO);
	json_t *out = json_array();

	s->stated_parties = 60;
	s->stated_eif_date = date_from_ymd(2003, 8, 1);
	discrepancies(s, date_from_ymd(2024, 9, 30), out);
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(json_string_value(json_array_get(out, 0)),
	    "the page states 60 parties, its table lists 59");
	assert_non_null(strstr(json_string_value(json_array_get(out, 1)), "2003-08-01"));
	assert_non_null(strstr(json_string_value(json_array_get(out, 1)), "2003-07-01"));
	json_array_clear(out);

	/* Before the page's own "status as at" day the table cannot match its counts. */
	discrepancies(s, date_from_ymd(2024, 9, 29), out);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	snapshot_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_table_is_accepted),
		cmocka_unit_test(test_empty_table_is_refused),
		cmocka_unit_test(test_reduced_tables_seen_again),
		cmocka_unit_test(test_page_agrees_with_its_table),
		cmocka_unit_test(test_page_disagreeing_with_its_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
