/* The entry-into-force rule over the IV-13 participants (tests/fixtures/participants.csv). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rule.h"

#define CSV_FIELDS 5

#define K(k) (1u << (k))
#define IV13_COUNT (K(KIND_RATIFICATION) | K(KIND_ACCESSION) | K(KIND_ACCEPTANCE) | \
	K(KIND_APPROVAL) | K(KIND_SUCCESSION) | K(KIND_CONFIRMATION))

/* Article 87: 20 instruments, three months, then the first day of the following month. */
static const struct rule iv13 = {
	.threshold = 20, .delay_months = 3, .delay_days = 0,
	.align = RULE_ALIGN_NEXT_MONTH, .count_mask = IV13_COUNT,
};

/* The TPNW's article 15: 50 instruments, 90 days, no alignment. */
static const struct rule tpnw = {
	.threshold = 50, .delay_months = 0, .delay_days = 90,
	.align = RULE_ALIGN_NONE, .count_mask = IV13_COUNT,
};

static day_t
D(const char *iso)
{
	day_t d;

	if (date_parse_iso(iso, &d) == -1)
		fail_msg("bad date in test: %s", iso);
	return d;
}

static const char *
iso(day_t d)
{
	static char buf[4][DATE_ISO_LEN];
	static int i;

	if (d == DAY_NONE)
		return "none";
	i = (i + 1) % 4;
	return date_format_iso(d, buf[i]);
}

/* Splits one CSV line in place into at most CSV_FIELDS fields; "..." quotes with "" inside. */
static int
csv_split(char *line, char *f[CSV_FIELDS])
{
	char *r = line, *w = line;
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	for (;;) {
		if (n == CSV_FIELDS)
			return -1;
		f[n++] = w;
		if (*r == '"') {
			for (r++; *r != '\0'; r++) {
				if (*r == '"' && r[1] != '"')
					break;
				*w++ = *r;
				r += *r == '"';
			}
			if (*r++ != '"')
				return -1;
		}
		while (*r != ',' && *r != '\0')
			*w++ = *r++;
		if (*r == '\0') {
			*w = '\0';
			return n;
		}
		*w++ = '\0';
		r++;
	}
}

static struct action
csv_action(const char *date, const char *kind)
{
	struct action a = { DAY_NONE, KIND_NONE };

	if (*date == '\0')
		return a;
	a.date = D(date);
	a.kind = kind_from_name(kind);
	assert_int_not_equal(a.kind, KIND_NONE);
	return a;
}

/* participant,signature_date,signature_kind,instrument_date,instrument_kind */
static struct snapshot *
iv13_snapshot(void)
{
	struct snapshot *s = snapshot_new();
	char line[512], *f[CSV_FIELDS];
	FILE *fp = fopen(FIXTURES "/participants.csv", "r");

	assert_non_null(fp);
	assert_non_null(s);
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_int_equal(strncmp(line, "participant,signature_date", 26), 0);
	while (fgets(line, sizeof(line), fp) != NULL) {
		assert_int_equal(csv_split(line, f), CSV_FIELDS);
		assert_int_equal(snapshot_add(s, f[0], false, csv_action(f[1], f[2]),
		    csv_action(f[3], f[4])), 0);
	}
	fclose(fp);
	assert_int_equal(s->n, 70);
	return s;
}

static const struct participant *
P(const struct snapshot *s, const char *name)
{
	long i = snapshot_find(s, name);

	if (i == -1)
		fail_msg("no participant %s", name);
	return &s->v[i];
}

static int
setup(void **state)
{
	*state = iv13_snapshot();
	return 0;
}

static int
teardown(void **state)
{
	snapshot_free(*state);
	return 0;
}

static void
test_csv_reader(void **state)
{
	char line[] = "\"Bolivia, \"\"Plurinational\"\"\",,,2000-10-16,accession\n";
	char *f[CSV_FIELDS];

	assert_int_equal(csv_split(line, f), 5);
	assert_string_equal(f[0], "Bolivia, \"Plurinational\"");
	assert_string_equal(f[1], "");
	assert_string_equal(f[3], "2000-10-16");
	assert_string_equal(f[4], "accession");
}

static void
test_iv13_today(void **state)
{
	const struct snapshot *s = *state;
	struct rule_result r;

	assert_int_equal(rule_eval(&iv13, s, D("2024-09-30"), &r), 0);
	assert_int_equal(r.as_of, D("2024-09-30"));
	assert_int_equal(r.parties, 59);
	assert_int_equal(r.signatories, 40);
	assert_int_equal(r.counted, 59);
	assert_int_equal(r.remaining, 0);
	assert_true(r.threshold_reached);
	assert_string_equal(iso(r.threshold_date), "2003-03-14");
	assert_int_equal(r.nthreshold, 2);
	assert_string_equal(s->v[r.threshold_idx[0]].name, "El Salvador");
	assert_string_equal(s->v[r.threshold_idx[1]].name, "Guatemala");
	assert_string_equal(iso(r.entry_into_force), "2003-07-01");
	assert_true(r.in_force);
	rule_result_clear(&r);
	assert_null(r.threshold_idx);
	assert_int_equal(r.nthreshold, 0);
}

static void
test_iv13_before_the_threshold(void **state)
{
	const struct snapshot *s = *state;
	struct rule_result r;

	assert_int_equal(rule_eval(&iv13, s, D("2000-12-04"), &r), 0);
	assert_int_equal(r.parties, 15);
	assert_int_equal(r.counted, 15);
	assert_int_equal(r.remaining, 5);
	assert_false(r.threshold_reached);
	assert_int_equal(r.threshold_date, DAY_NONE);
	assert_int_equal(r.nthreshold, 0);
	assert_int_equal(r.entry_into_force, DAY_NONE);
	assert_false(r.in_force);
	rule_result_clear(&r);

	assert_int_equal(rule_eval(&iv13, s, D("2003-03-13"), &r), 0);
	assert_int_equal(r.parties, 19);
	assert_int_equal(r.remaining, 1);
	assert_false(r.threshold_reached);
	assert_int_equal(r.entry_into_force, DAY_NONE);
	rule_result_clear(&r);
}

static void
test_iv13_threshold_day(void **state)
{
	const struct snapshot *s = *state;
	struct rule_result r;

	assert_int_equal(rule_eval(&iv13, s, D("2003-03-14"), &r), 0);
	assert_int_equal(r.parties, 21);
	assert_int_equal(r.counted, 21);
	assert_int_equal(r.remaining, 0);
	assert_true(r.threshold_reached);
	assert_string_equal(iso(r.threshold_date), "2003-03-14");
	assert_int_equal(r.nthreshold, 2);
	assert_string_equal(iso(r.entry_into_force), "2003-07-01");
	assert_false(r.in_force);
	rule_result_clear(&r);

	assert_int_equal(rule_eval(&iv13, s, D("2003-06-30"), &r), 0);
	assert_false(r.in_force);
	rule_result_clear(&r);
	assert_int_equal(rule_eval(&iv13, s, D("2003-07-01"), &r), 0);
	assert_true(r.in_force);
	rule_result_clear(&r);
}

/* Whichever of a same-day group the threshold falls on, the whole group is named, in page order. */
static void
test_threshold_group_on_one_day(void **state)
{
	const struct snapshot *s = *state;
	struct rule rule = iv13;
	struct rule_result r;

	rule.threshold = 21;
	assert_int_equal(rule_eval(&rule, s, D("2024-09-30"), &r), 0);
	assert_string_equal(iso(r.threshold_date), "2003-03-14");
	assert_int_equal(r.nthreshold, 2);
	assert_int_equal(r.threshold_idx[0], snapshot_find(s, "El Salvador"));
	assert_int_equal(r.threshold_idx[1], snapshot_find(s, "Guatemala"));
	rule_result_clear(&r);

	rule.threshold = 13;
	assert_int_equal(rule_eval(&rule, s, D("2024-09-30"), &r), 0);
	assert_string_equal(iso(r.threshold_date), "2000-09-07");
	assert_int_equal(r.nthreshold, 2);
	assert_string_equal(s->v[r.threshold_idx[0]].name, "Ghana");
	assert_string_equal(s->v[r.threshold_idx[1]].name, "Guinea");
	rule_result_clear(&r);

	rule.threshold = 1;
	assert_int_equal(rule_eval(&rule, s, D("2024-09-30"), &r), 0);
	assert_string_equal(iso(r.threshold_date), "1993-02-19");
	assert_int_equal(r.nthreshold, 1);
	assert_string_equal(s->v[r.threshold_idx[0]].name, "Egypt");
	rule_result_clear(&r);

	rule.threshold = 60;
	assert_int_equal(rule_eval(&rule, s, D("2024-09-30"), &r), 0);
	assert_false(r.threshold_reached);
	assert_int_equal(r.remaining, 1);
	rule_result_clear(&r);
}

static void
test_entry_into_force_dates(void **state)
{
	struct rule r90 = { .threshold = 1, .delay_days = 90, .count_mask = IV13_COUNT };
	struct rule mixed = { .threshold = 1, .delay_months = 1, .delay_days = 15 };
	struct rule d30 = { .threshold = 1, .delay_days = 30, .align = RULE_ALIGN_NEXT_MONTH };

	assert_string_equal(iso(rule_entry_into_force(&iv13, D("2003-03-14"))), "2003-07-01");
	assert_string_equal(iso(rule_entry_into_force(&iv13, D("2017-03-31"))), "2017-07-01");
	assert_string_equal(iso(rule_entry_into_force(&iv13, D("2003-03-01"))), "2003-07-01");
	assert_string_equal(iso(rule_entry_into_force(&iv13, D("2003-12-31"))), "2004-04-01");
	assert_string_equal(iso(rule_entry_into_force(&iv13, D("2019-11-30"))), "2020-03-01");
	assert_int_equal(rule_entry_into_force(&iv13, DAY_NONE), DAY_NONE);

	assert_string_equal(iso(rule_entry_into_force(&r90, D("2020-12-01"))), "2021-03-01");
	assert_string_equal(iso(rule_entry_into_force(&r90, D("2019-12-01"))), "2020-02-29");
	assert_string_equal(iso(rule_entry_into_force(&r90, D("2024-01-01"))), "2024-03-31");
	assert_string_equal(iso(rule_entry_into_force(&r90, D("2020-10-24"))), "2021-01-22");

	/* Months first (clamped), then days. */
	assert_string_equal(iso(rule_entry_into_force(&mixed, D("2024-01-31"))), "2024-03-15");
	mixed.align = RULE_ALIGN_NEXT_MONTH;
	assert_string_equal(iso(rule_entry_into_force(&mixed, D("2024-01-31"))), "2024-04-01");
	assert_string_equal(iso(rule_entry_into_force(&d30, D("2021-01-31"))), "2021-04-01");
}

static void
test_participant_eif(void **state)
{
	const struct snapshot *s = *state;
	struct participant late = { .name = "Late", .instrument = { 0, KIND_ACCESSION } };
	struct participant gone = *P(s, "Egypt");
	struct rule_result r;

	late.instrument.date = D("2003-07-01");
	gone.withdrawn = true;
	assert_int_equal(rule_eval(&iv13, s, D("2024-09-30"), &r), 0);
	/* Before the treaty's own date: the treaty's date. */
	assert_string_equal(iso(rule_participant_eif(&iv13, &r, P(s, "Egypt"))), "2003-07-01");
	assert_string_equal(iso(rule_participant_eif(&iv13, &r, P(s, "El Salvador"))),
	    "2003-07-01");
	assert_string_equal(iso(rule_participant_eif(&iv13, &r, P(s, "Mali"))), "2003-07-01");
	/* On or after it: article 87(2) applied to the participant's own deposit. */
	assert_string_equal(iso(rule_participant_eif(&iv13, &r, &late)), "2003-11-01");
	assert_string_equal(iso(rule_participant_eif(&iv13, &r, P(s, "Kyrgyzstan"))),
	    "2004-01-01");
	assert_string_equal(iso(rule_participant_eif(&iv13, &r, P(s, "Congo"))), "2017-07-01");
	assert_string_equal(iso(rule_participant_eif(&iv13, &r, P(s, "Côte d'Ivoire"))),
	    "2024-01-01");
	assert_int_equal(rule_participant_eif(&iv13, &r, P(s, "Armenia")), DAY_NONE);
	assert_int_equal(rule_participant_eif(&iv13, &r, &gone), DAY_NONE);
	rule_result_clear(&r);

	/* Mali had deposited nothing yet on the threshold day. */
	assert_int_equal(rule_eval(&iv13, s, D("2003-03-14"), &r), 0);
	assert_int_equal(rule_participant_eif(&iv13, &r, P(s, "Mali")), DAY_NONE);
	assert_string_equal(iso(rule_participant_eif(&iv13, &r, P(s, "Egypt"))), "2003-07-01");
	rule_result_clear(&r);

	/* No treaty date, no participant date. */
	assert_int_equal(rule_eval(&iv13, s, D("2000-12-04"), &r), 0);
	assert_int_equal(rule_participant_eif(&iv13, &r, P(s, "Egypt")), DAY_NONE);
	rule_result_clear(&r);
}

static void
test_tpnw_rule_over_iv13(void **state)
{
	const struct snapshot *s = *state;
	struct rule_result r;

	assert_int_equal(rule_eval(&tpnw, s, D("2024-09-30"), &r), 0);
	assert_int_equal(r.counted, 59);
	assert_true(r.threshold_reached);
	assert_string_equal(iso(r.threshold_date), "2017-01-10");
	assert_int_equal(r.nthreshold, 1);
	assert_string_equal(s->v[r.threshold_idx[0]].name, "Sao Tome and Principe");
	assert_string_equal(iso(r.entry_into_force), "2017-04-10");
	assert_true(r.in_force);
	assert_string_equal(iso(rule_participant_eif(&tpnw, &r, P(s, "Congo"))), "2017-04-10");
	assert_string_equal(iso(rule_participant_eif(&tpnw, &r, P(s, "Benin"))), "2018-10-04");
	assert_string_equal(iso(rule_participant_eif(&tpnw, &r, P(s, "Egypt"))), "2017-04-10");
	rule_result_clear(&r);

	assert_int_equal(rule_eval(&tpnw, s, D("2017-01-09"), &r), 0);
	assert_int_equal(r.counted, 49);
	assert_int_equal(r.remaining, 1);
	assert_false(r.threshold_reached);
	rule_result_clear(&r);
}

static void
test_exclusion(void **state)
{
	const struct snapshot *s = *state;
	char *names[] = { "Guatemala" };
	struct rule rule = iv13;
	struct rule_result r;

	rule.exclude = names;
	rule.nexclude = 1;
	assert_true(rule_excluded(&rule, "Guatemala"));
	assert_false(rule_excluded(&rule, "guatemala"));
	assert_false(rule_excluded(&rule, "Guatemala "));
	assert_false(rule_excluded(&iv13, "Guatemala"));
	assert_false(rule_counts(&rule, P(s, "Guatemala"), D("2024-09-30")));
	assert_true(rule_counts(&rule, P(s, "El Salvador"), D("2024-09-30")));

	assert_int_equal(rule_eval(&rule, s, D("2003-03-14"), &r), 0);
	assert_int_equal(r.parties, 21);
	assert_int_equal(r.counted, 20);
	assert_int_equal(r.remaining, 0);
	assert_string_equal(iso(r.threshold_date), "2003-03-14");
	assert_int_equal(r.nthreshold, 1);
	assert_string_equal(s->v[r.threshold_idx[0]].name, "El Salvador");
	/* An excluded party still has its own entry into force. */
	assert_string_equal(iso(rule_participant_eif(&rule, &r, P(s, "Guatemala"))),
	    "2003-07-01");
	rule_result_clear(&r);
}

static void
test_withdrawn_never_counts(void **state)
{
	struct snapshot *s = iv13_snapshot();
	struct rule_result r;

	s->v[snapshot_find(s, "Egypt")].withdrawn = true;
	s->v[snapshot_find(s, "Ghana")].withdrawn = true;
	assert_false(rule_counts(&iv13, P(s, "Egypt"), D("2024-09-30")));
	assert_int_equal(rule_eval(&iv13, s, D("2024-09-30"), &r), 0);
	assert_int_equal(r.parties, 57);
	assert_int_equal(r.counted, 57);
	assert_int_equal(r.signatories, 39);
	/* Two fewer before it, so the 20th instrument is now Mali's. */
	assert_string_equal(iso(r.threshold_date), "2003-06-05");
	assert_string_equal(s->v[r.threshold_idx[0]].name, "Mali");
	assert_string_equal(iso(r.entry_into_force), "2003-10-01");
	assert_int_equal(rule_participant_eif(&iv13, &r, P(s, "Egypt")), DAY_NONE);
	rule_result_clear(&r);
	snapshot_free(s);
}

static void
test_uncounted_kind_is_still_a_party(void **state)
{
	const struct snapshot *s = *state;
	struct rule rule = iv13;
	struct rule_result r;

	rule.count_mask = K(KIND_RATIFICATION);
	assert_false(rule_counts(&rule, P(s, "Egypt"), D("2024-09-30")));
	assert_true(rule_counts(&rule, P(s, "Ghana"), D("2024-09-30")));
	assert_false(rule_counts(&rule, P(s, "Ghana"), D("2000-09-06")));
	assert_int_equal(rule_eval(&rule, s, D("2024-09-30"), &r), 0);
	assert_int_equal(r.parties, 59);
	assert_int_equal(r.counted, 29);
	assert_string_equal(iso(r.threshold_date), "2015-05-13");
	assert_string_equal(s->v[r.threshold_idx[0]].name, "Madagascar");
	assert_string_equal(iso(r.entry_into_force), "2015-09-01");
	rule_result_clear(&r);
}

static void
test_format_delay(void **state)
{
	struct rule r = iv13;
	char buf[64];

	rule_format_delay(&r, buf, sizeof(buf));
	assert_string_equal(buf, "3 months");
	rule_format_delay(&tpnw, buf, sizeof(buf));
	assert_string_equal(buf, "90 days");
	r.delay_months = 1;
	r.delay_days = 15;
	rule_format_delay(&r, buf, sizeof(buf));
	assert_string_equal(buf, "1 months 15 days");
	r.delay_months = 0;
	r.delay_days = 0;
	rule_format_delay(&r, buf, sizeof(buf));
	assert_string_equal(buf, "0 days");
}

static void
test_copy_and_clear(void **state)
{
	char a[] = "European Union", b[] = "Holy See";
	char *names[] = { a, b };
	struct rule src = iv13, dst;

	src.exclude = names;
	src.nexclude = 2;
	assert_int_equal(rule_copy(&dst, &src), 0);
	a[0] = 'X';
	assert_int_equal(dst.threshold, 20);
	assert_int_equal(dst.delay_months, 3);
	assert_int_equal(dst.align, RULE_ALIGN_NEXT_MONTH);
	assert_int_equal(dst.count_mask, IV13_COUNT);
	assert_int_equal(dst.nexclude, 2);
	assert_true(dst.exclude != names);
	assert_string_equal(dst.exclude[0], "European Union");
	assert_string_equal(dst.exclude[1], "Holy See");
	assert_true(rule_excluded(&dst, "European Union"));
	rule_clear(&dst);
	assert_null(dst.exclude);
	assert_int_equal(dst.nexclude, 0);

	assert_int_equal(rule_copy(&dst, &iv13), 0);
	assert_null(dst.exclude);
	assert_int_equal(dst.nexclude, 0);
	rule_clear(&dst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_reader),
		cmocka_unit_test_setup_teardown(test_iv13_today, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iv13_before_the_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iv13_threshold_day, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threshold_group_on_one_day, setup, teardown),
		cmocka_unit_test(test_entry_into_force_dates),
		cmocka_unit_test_setup_teardown(test_participant_eif, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tpnw_rule_over_iv13, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exclusion, setup, teardown),
		cmocka_unit_test(test_withdrawn_never_counts),
		cmocka_unit_test_setup_teardown(test_uncounted_kind_is_still_a_party, setup,
		    teardown),
		cmocka_unit_test(test_format_delay),
		cmocka_unit_test(test_copy_and_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
