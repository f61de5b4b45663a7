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

/* fresh is not believed yet: seen pending times in a row. */
static void
assert_held_back(const struct snapshot *committed, const struct snapshot *fresh,
    struct source_meta *m, int pending)
{
	assert_false(check(committed, fresh, m));
	assert_int_equal(m->pending_count, pending);
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

static void
test_losing_up_to_a_tenth_is_accepted(void **state)
{
	struct snapshot *committed = states(0, 20);
	struct snapshot *same = states(0, 20), *minus2 = states(0, 18), *more = states(0, 25);
	struct source_meta m = { 0 };

	assert_true(check(committed, same, &m));
	assert_true(check(committed, more, &m));
	/* 2 of 20 is exactly 10%. */
	assert_true(check(committed, minus2, &m));
	assert_int_equal(m.pending_count, 0);
	helpers_snapshots_free(committed, same, minus2, more, NULL);
}

static void
test_reduced_table_believed_on_the_third_sight(void **state)
{
	struct snapshot *committed = states(0, 20), *minus3 = states(0, 17);
	struct source_meta m = { 0 };

	assert_held_back(committed, minus3, &m, 1);
	assert_true(m.pending_hash == snapshot_table_hash(minus3));
	helpers_contains(reason, "17 participants", "3 of the 20", NULL);

	assert_held_back(committed, minus3, &m, 2);

	assert_true(check(committed, minus3, &m));
	assert_int_equal(m.pending_count, 0);
	assert_true(m.pending_hash == 0);
	helpers_snapshots_free(committed, minus3, NULL);
}

static void
test_renamed_rows_count_as_lost(void **state)
{
	/* Same size, but States 0-2 are gone and 20-22 are new: 3 of 20 lost. */
	struct snapshot *committed = states(0, 20), *renamed = states(3, 20);
	struct source_meta m = { 0 };

	assert_held_back(committed, renamed, &m, 1);
	helpers_snapshots_free(committed, renamed, NULL);
}

static void
test_another_reduced_table_restarts_the_count(void **state)
{
	struct snapshot *committed = states(0, 20);
	struct snapshot *a = states(0, 17), *b = states(0, 16), *whole = states(0, 20);
	struct source_meta m = { 0 };

	assert_false(check(committed, a, &m));
	assert_held_back(committed, a, &m, 2);
	assert_held_back(committed, b, &m, 1);
	assert_true(m.pending_hash == snapshot_table_hash(b));
	assert_held_back(committed, b, &m, 2);
	assert_true(check(committed, b, &m));
	assert_int_equal(m.pending_count, 0);

	/* A plausible page in between also breaks the run. */
	assert_false(check(committed, a, &m));
	assert_false(check(committed, a, &m));
	assert_true(check(committed, whole, &m));
	assert_int_equal(m.pending_count, 0);
	assert_held_back(committed, a, &m, 1);
	helpers_snapshots_free(committed, a, b, whole, NULL);
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
		cmocka_unit_test(test_losing_up_to_a_tenth_is_accepted),
		cmocka_unit_test(test_reduced_table_believed_on_the_third_sight),
		cmocka_unit_test(test_renamed_rows_count_as_lost),
		cmocka_unit_test(test_another_reduced_table_restarts_the_count),
		cmocka_unit_test(test_page_agrees_with_its_table),
		cmocka_unit_test(test_page_disagreeing_with_its_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
