/* The entry-into-force rule over the IV-13 participants (tests/fixtures/participants.csv). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
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

/* Days read like the dates they are. */
#define D(iso) helpers_day(iso)

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
	return helpers_participant(s, name);
}

/* The participant called name enters into force on the day want ("none": never). */
static void
assert_eif(const struct rule *rule, const struct rule_result *r, const struct snapshot *s,
    const char *name, const char *want)
{
	assert_string_equal(iso(rule_participant_eif(rule, r, P(s, name))), want);
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
	assert_eif(&iv13, &r, s, "Egypt", "2003-07-01");
	assert_eif(&iv13, &r, s, "El Salvador", "2003-07-01");
	assert_eif(&iv13, &r, s, "Mali", "2003-07-01");
	/* On or after it: article 87(2) applied to the participant's own deposit. */
	assert_string_equal(iso(rule_participant_eif(&iv13, &r, &late)), "2003-11-01");
	assert_eif(&iv13, &r, s, "Kyrgyzstan", "2004-01-01");
	assert_eif(&iv13, &r, s, "Congo", "2017-07-01");
	assert_eif(&iv13, &r, s, "Côte d'Ivoire", "2024-01-01");
	assert_int_equal(rule_participant_eif(&iv13, &r, P(s, "Armenia")), DAY_NONE);
	assert_int_equal(rule_participant_eif(&iv13, &r, &gone), DAY_NONE);
	rule_result_clear(&r);

	/* Mali had deposited nothing yet on the threshold day. */
	assert_int_equal(rule_eval(&iv13, s, D("2003-03-14"), &r), 0);
	assert_int_equal(rule_participant_eif(&iv13, &r, P(s, "Mali")), DAY_NONE);
	assert_eif(&iv13, &r, s, "Egypt", "2003-07-01");
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
	assert_eif(&tpnw, &r, s, "Congo", "2017-04-10");
	assert_eif(&tpnw, &r, s, "Benin", "2018-10-04");
	assert_eif(&tpnw, &r, s, "Egypt", "2017-04-10");
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
	assert_eif(&rule, &r, s, "Guatemala", "2003-07-01");
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

/* A table of instruments: "NAME", "YYYY-MM-DD" pairs, every one a ratification. */
static struct snapshot *
deposits(const char *const rows[][2], size_t n)
{
	struct snapshot *s = snapshot_new();
	struct action none = { DAY_NONE, KIND_NONE };
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++) {
		struct action ins = { D(rows[i][1]), KIND_RATIFICATION };

		assert_int_equal(snapshot_add(s, rows[i][0], false, none, ins), 0);
	}
	return s;
}

#define DEPOSITS(rows) deposits(rows, sizeof(rows) / sizeof(rows[0]))

/* Twenty instruments: nineteen in June 1990, the twentieth on 2 August 1990, then
 * States depositing in the gap before entry into force, on the threshold day, on the
 * entry-into-force day and after it. */
static const char *const crc_rows[][2] = {
	{ "S01", "1990-06-01" }, { "S02", "1990-06-02" }, { "S03", "1990-06-03" },
	{ "S04", "1990-06-04" }, { "S05", "1990-06-05" }, { "S06", "1990-06-06" },
	{ "S07", "1990-06-07" }, { "S08", "1990-06-08" }, { "S09", "1990-06-09" },
	{ "S10", "1990-06-10" }, { "S11", "1990-06-11" }, { "S12", "1990-06-12" },
	{ "S13", "1990-06-13" }, { "S14", "1990-06-14" }, { "S15", "1990-06-15" },
	{ "S16", "1990-06-16" }, { "S17", "1990-06-17" }, { "S18", "1990-06-18" },
	{ "S19", "1990-06-19" }, { "Twentieth", "1990-08-02" }, { "Same day", "1990-08-02" },
	{ "Gap", "1990-08-10" }, { "On the day", "1990-09-01" }, { "Later", "1990-10-15" },
};

/* CRC article 49: "1. The present Convention shall enter into force on the thirtieth
 * day following the date of deposit with the Secretary-General of the United Nations
 * of the twentieth instrument of ratification or accession. 2. For each State ratifying
 * or acceding to the Convention after the deposit of the twentieth instrument of
 * ratification or accession, the Convention shall enter into force on the thirtieth
 * day after the deposit by such State of its own instrument of ratification or
 * accession." A State depositing between the twentieth instrument and the Convention's
 * date is "after the deposit of the twentieth": its own thirty days. */
static void
test_crc_after_threshold(void **state)
{
	struct rule crc = { .threshold = 20, .delay_days = 30, .count_mask = IV13_COUNT,
		.later = RULE_LATER_AFTER_THRESHOLD };
	struct rule iv13_wording = crc;
	struct snapshot *s = DEPOSITS(crc_rows);
	struct rule_result r;

	assert_int_equal(rule_eval(&crc, s, D("2024-01-01"), &r), 0);
	assert_string_equal(iso(r.threshold_date), "1990-08-02");
	assert_int_equal(r.nthreshold, 2);
	assert_string_equal(iso(r.entry_into_force), "1990-09-01");
	assert_eif(&crc, &r, s, "S01", "1990-09-01");
	/* The twentieth and a State on the same day: paragraph 1, the treaty's date. */
	assert_eif(&crc, &r, s, "Twentieth", "1990-09-01");
	assert_eif(&crc, &r, s, "Same day", "1990-09-01");
	/* In the gap: its own thirtieth day, after the Convention's. */
	assert_eif(&crc, &r, s, "Gap", "1990-09-09");
	assert_eif(&crc, &r, s, "On the day", "1990-10-01");
	assert_eif(&crc, &r, s, "Later", "1990-11-14");
	rule_result_clear(&r);

	/* The IV-13 wording ("after its entry into force") gives the gap State the
	 * Convention's date instead: the difference the later key expresses. */
	iv13_wording.later = RULE_LATER_AFTER_EIF;
	assert_int_equal(rule_eval(&iv13_wording, s, D("2024-01-01"), &r), 0);
	assert_eif(&iv13_wording, &r, s, "Gap", "1990-09-01");
	assert_eif(&iv13_wording, &r, s, "On the day", "1990-10-01");
	rule_result_clear(&r);
	snapshot_free(s);
}

/* Rome Statute article 126: "1. This Statute shall enter into force on the first day
 * of the month after the 60th day following the date of the deposit of the 60th
 * instrument of ratification, acceptance, approval or accession with the
 * Secretary-General of the United Nations. 2. For each State ratifying, accepting,
 * approving or acceding to this Statute after the deposit of the 60th instrument of
 * ratification, acceptance, approval or accession, the Statute shall enter into force
 * on the first day of the month after the 60th day following the deposit by such
 * State of its instrument of ratification, acceptance, approval or accession."
 * Threshold 3 here, the shape unchanged: 11 April 2002 gives 1 July 2002. */
static void
test_rome_next_month(void **state)
{
	static const char *const rows[][2] = {
		{ "A", "2001-01-10" }, { "B", "2002-04-11" }, { "C", "2002-04-11" },
		{ "Gap", "2002-05-28" }, { "Year end", "2002-12-31" },
	};
	struct rule rome = { .threshold = 3, .delay_days = 60, .align = RULE_ALIGN_NEXT_MONTH,
		.count_mask = IV13_COUNT, .later = RULE_LATER_AFTER_THRESHOLD };
	struct snapshot *s = DEPOSITS(rows);
	struct rule_result r;

	assert_int_equal(rule_eval(&rome, s, D("2024-01-01"), &r), 0);
	assert_string_equal(iso(r.threshold_date), "2002-04-11");
	assert_string_equal(iso(r.entry_into_force), "2002-07-01");
	assert_eif(&rome, &r, s, "A", "2002-07-01");
	assert_eif(&rome, &r, s, "C", "2002-07-01");
	/* 28 May + 60 days = 27 July: the first day of the month after is 1 August. */
	assert_eif(&rome, &r, s, "Gap", "2002-08-01");
	/* 31 December + 60 days = 1 March: the month after that is April. */
	assert_eif(&rome, &r, s, "Year end", "2003-04-01");
	rule_result_clear(&r);
	snapshot_free(s);
}

/* IV-13 article 87: "1. The present Convention shall enter into force on the first day
 * of the month following a period of three months after the date of the deposit of the
 * twentieth instrument of ratification or accession. 2. For each State ratifying or
 * acceding to the present Convention after its entry into force, the Convention shall
 * enter into force on the first day of the month following a period of three months
 * after the date of the deposit of its own instrument of ratification or accession."
 * Mali deposited in the gap (5 June 2003): the Convention's date, 1 July 2003. */
static void
test_iv13_after_entry_into_force(void **state)
{
	const struct snapshot *s = *state;
	struct participant on_eif_day = { .name = "On the day",
		.instrument = { 0, KIND_ACCESSION }, .withdrawal_date = DAY_NONE };
	struct rule_result r;

	on_eif_day.instrument.date = D("2003-07-01");
	assert_int_equal(rule_eval(&iv13, s, D("2024-09-30"), &r), 0);
	assert_int_equal(r.parties, 59);
	assert_string_equal(iso(r.threshold_date), "2003-03-14");
	assert_string_equal(iso(r.entry_into_force), "2003-07-01");
	assert_eif(&iv13, &r, s, "Guatemala", "2003-07-01");
	assert_eif(&iv13, &r, s, "Mali", "2003-07-01");
	/* Deposited on the day it entered into force: after it, its own three months. */
	assert_string_equal(iso(rule_participant_eif(&iv13, &r, &on_eif_day)), "2003-11-01");
	rule_result_clear(&r);
}

/* UNCLOS article 308: "1. This Convention shall enter into force 12 months after the
 * date of deposit of the sixtieth instrument of ratification or accession. 2. For each
 * State ratifying or acceding to this Convention after the deposit of the sixtieth
 * instrument of ratification or accession, the Convention shall enter into force on
 * the thirtieth day following the deposit of its instrument of ratification or
 * accession, subject to paragraph 1." "Subject to paragraph 1": no State before the
 * Convention. The sixtieth instrument was deposited on 16 November 1993. */
static void
test_unclos_subject_to_paragraph_1(void **state)
{
	static const char *const rows[][2] = {
		{ "A", "1982-12-10" }, { "Sixtieth", "1993-11-16" }, { "Gap", "1994-03-01" },
		{ "Late gap", "1994-11-01" }, { "After", "1995-01-10" },
	};
	struct rule unclos = { .threshold = 2, .delay_months = 12, .count_mask = IV13_COUNT,
		.later = RULE_LATER_AFTER_THRESHOLD, .later_set = true, .later_days = 30 };
	struct snapshot *s = DEPOSITS(rows);
	struct rule_result r;

	assert_int_equal(rule_eval(&unclos, s, D("2024-01-01"), &r), 0);
	assert_string_equal(iso(r.entry_into_force), "1994-11-16");
	/* Thirty days would be 31 March 1994: paragraph 1 holds it to 16 November 1994. */
	assert_eif(&unclos, &r, s, "Gap", "1994-11-16");
	assert_eif(&unclos, &r, s, "Late gap", "1994-12-01");
	assert_eif(&unclos, &r, s, "After", "1995-02-09");
	assert_string_equal(iso(rule_later_date(&unclos, D("1995-01-10"))), "1995-02-09");
	rule_result_clear(&r);
	snapshot_free(s);
}

/* Kigali Amendment, article IV(1): "this Amendment shall enter into force on 1 January
 * 2019, provided that at least twenty instruments of ratification, acceptance or
 * approval of the Amendment have been deposited ..."; for any other Party, after its
 * entry into force, "on the ninetieth day following the date of deposit". The
 * twentieth instrument came in November 2017. */
static void
test_kigali_not_before(void **state)
{
	static const char *const rows[][2] = {
		{ "A", "2016-11-01" }, { "Twentieth", "2017-11-17" }, { "Gap", "2018-06-01" },
		{ "New year", "2019-01-01" }, { "Later", "2021-06-17" },
	};
	struct rule kigali = { .threshold = 2, .delay_days = 90, .count_mask = IV13_COUNT,
		.has_not_before = true };
	struct snapshot *s = DEPOSITS(rows);
	struct rule_result r;

	kigali.not_before = D("2019-01-01");
	assert_int_equal(rule_eval(&kigali, s, D("2018-12-31"), &r), 0);
	assert_true(r.threshold_reached);
	assert_string_equal(iso(r.rule_date), "2018-02-15");
	assert_string_equal(iso(r.entry_into_force), "2019-01-01");
	assert_false(r.in_force);
	assert_eif(&kigali, &r, s, "Gap", "2019-01-01");
	rule_result_clear(&r);

	assert_int_equal(rule_eval(&kigali, s, D("2024-01-01"), &r), 0);
	assert_true(r.in_force);
	assert_eif(&kigali, &r, s, "New year", "2019-04-01");
	assert_eif(&kigali, &r, s, "Later", "2021-09-15");
	rule_result_clear(&r);
	snapshot_free(s);
}

/* CTBT article XIV(1): "This Treaty shall enter into force 180 days after the date of
 * deposit of the instruments of ratification by all States listed in Annex 2 to this
 * Treaty, but in no case earlier than two years after its opening for signature."
 * Here three instruments, two of them named: the count alone is not enough. */
static void
test_ctbt_requires(void **state)
{
	static const char *const rows[][2] = {
		{ "Annex A", "1998-01-10" }, { "Other 1", "1998-02-10" },
		{ "Other 2", "1998-03-10" }, { "Annex B", "2001-05-05" },
	};
	char a[] = "Annex A", b[] = "Annex B";
	char *named[] = { a, b };
	struct rule ctbt = { .threshold = 3, .delay_days = 180, .count_mask = IV13_COUNT,
		.requires = named, .nrequires = 2, .has_not_before = true };
	struct snapshot *s = DEPOSITS(rows);
	struct rule_result r;

	ctbt.not_before = D("1998-09-24");
	assert_int_equal(rule_eval(&ctbt, s, D("2000-01-01"), &r), 0);
	assert_int_equal(r.counted, 3);
	assert_int_equal(r.remaining, 0);
	assert_false(r.threshold_reached);
	assert_int_equal(r.nrequired_missing, 1);
	assert_string_equal(r.required_missing[0], "Annex B");
	rule_result_clear(&r);

	assert_int_equal(rule_eval(&ctbt, s, D("2024-01-01"), &r), 0);
	assert_true(r.threshold_reached);
	assert_int_equal(r.nrequired_missing, 0);
	assert_string_equal(iso(r.threshold_date), "2001-05-05");
	assert_int_equal(r.nthreshold, 1);
	assert_string_equal(s->v[r.threshold_idx[0]].name, "Annex B");
	assert_string_equal(iso(r.entry_into_force), "2001-11-01");
	rule_result_clear(&r);
	snapshot_free(s);
}

/* Optional Protocol to the CRPD, article 13(1): "Subject to the entry into force of the
 * Convention, the present Protocol shall enter into force on the thirtieth day after
 * the deposit of the tenth instrument of ratification or accession." The Protocol's
 * own thirty days end before the Convention's date: it waits for the Convention. */
static void
test_protocol_after_treaty(void **state)
{
	static const char *const rows[][2] = {
		{ "A", "2008-01-10" }, { "Tenth", "2008-02-20" }, { "Gap", "2008-04-20" },
	};
	char conv[] = "IV-15";
	struct rule op = { .threshold = 2, .delay_days = 30, .count_mask = IV13_COUNT,
		.later = RULE_LATER_AFTER_THRESHOLD, .after_treaty = conv };
	struct snapshot *s = DEPOSITS(rows);
	struct rule_result r;

	/* The Convention not yet in force: the threshold is reached, no date yet. */
	assert_int_equal(rule_eval_after(&op, s, D("2008-04-01"), DAY_NONE, &r), 0);
	assert_true(r.threshold_reached);
	assert_string_equal(iso(r.rule_date), "2008-03-21");
	assert_int_equal(r.entry_into_force, DAY_NONE);
	assert_false(r.in_force);
	rule_result_clear(&r);

	assert_int_equal(rule_eval_after(&op, s, D("2024-01-01"), D("2008-05-03"), &r), 0);
	assert_string_equal(iso(r.entry_into_force), "2008-05-03");
	assert_eif(&op, &r, s, "A", "2008-05-03");
	assert_eif(&op, &r, s, "Gap", "2008-05-20");
	rule_result_clear(&r);

	/* A Convention already in force long before: the Protocol's own date. */
	assert_int_equal(rule_eval_after(&op, s, D("2024-01-01"), D("2000-01-01"), &r), 0);
	assert_string_equal(iso(r.entry_into_force), "2008-03-21");
	rule_result_clear(&r);
	snapshot_free(s);
}

/* Months are added first, the day clamped to the month's length, then the days. */
static void
test_month_end_clamping(void **state)
{
	struct rule monthly = { .threshold = 1, .delay_months = 1, .count_mask = IV13_COUNT,
		.later_set = true, .later_months = 1 };

	assert_string_equal(iso(rule_later_date(&monthly, D("2004-01-31"))), "2004-02-29");
	assert_string_equal(iso(rule_later_date(&monthly, D("2003-01-31"))), "2003-02-28");
	assert_string_equal(iso(rule_later_date(&monthly, D("2003-03-31"))), "2003-04-30");
	assert_string_equal(iso(rule_entry_into_force(&iv13, D("2017-03-31"))), "2017-07-01");
	monthly.later_align = RULE_ALIGN_NEXT_MONTH;
	assert_string_equal(iso(rule_later_date(&monthly, D("2003-01-31"))), "2003-03-01");
}

/* A withdrawal counts from the day it took effect, never before (VCLT arts. 55, 70):
 * two early IV-13 parties withdrawing in 2010 leave the threshold and the entry into
 * force where they were. */
static void
test_withdrawal_keeps_history(void **state)
{
	struct snapshot *s = iv13_snapshot();
	struct participant *egypt = &s->v[snapshot_find(s, "Egypt")];
	struct participant *ghana = &s->v[snapshot_find(s, "Ghana")];
	struct rule_result r;

	egypt->withdrawn = ghana->withdrawn = true;
	egypt->withdrawal_date = ghana->withdrawal_date = D("2010-01-01");
	egypt->withdrawal_from_page = true;
	assert_int_equal(rule_eval(&iv13, s, D("2024-09-30"), &r), 0);
	assert_int_equal(r.parties, 57);
	assert_int_equal(r.counted, 57);
	assert_string_equal(iso(r.threshold_date), "2003-03-14");
	assert_string_equal(iso(r.entry_into_force), "2003-07-01");
	assert_int_equal(rule_participant_eif(&iv13, &r, egypt), DAY_NONE);
	rule_result_clear(&r);

	/* The day before the withdrawal took effect, both were parties. */
	assert_int_equal(rule_eval(&iv13, s, D("2009-12-31"), &r), 0);
	assert_true(rule_counts(&iv13, egypt, D("2009-12-31")));
	assert_false(rule_counts(&iv13, egypt, D("2010-01-01")));
	assert_string_equal(iso(rule_participant_eif(&iv13, &r, egypt)), "2003-07-01");
	rule_result_clear(&r);

	/* Even with only 20 needed and those two among them, the threshold stays. */
	assert_int_equal(rule_eval(&iv13, s, D("2003-03-14"), &r), 0);
	assert_int_equal(r.counted, 21);
	assert_string_equal(iso(r.threshold_date), "2003-03-14");
	rule_result_clear(&r);
	snapshot_free(s);
}

/* withdrawn = NAME: DATE gives the date the page does not; a page's own date wins, and
 * a configured date not after the instrument is ignored. */
static void
test_configured_withdrawal_and_effective(void **state)
{
	struct snapshot *s = iv13_snapshot();
	char egypt[] = "Egypt", mali[] = "Mali", chile[] = "Chile";
	struct rule_dated w[] = { { egypt, 0, 3 }, { mali, 0, 4 } };
	struct rule_dated e[] = { { chile, 0, 5 } };
	struct rule rule = iv13;
	struct rule_result r;

	w[0].date = D("2012-05-01");
	w[1].date = D("2003-01-01");    /* before Mali's instrument (5 June 2003) */
	e[0].date = D("2005-01-01");
	rule.withdrawn = w;
	rule.nwithdrawn = 2;
	rule.effective = e;
	rule.neffective = 1;
	s->v[snapshot_find(s, "Egypt")].withdrawn = true;
	assert_string_equal(iso(rule_withdrawal(&rule, P(s, "Egypt"))), "2012-05-01");
	assert_int_equal(rule_withdrawal(&rule, P(s, "Mali")), DAY_NONE);
	assert_int_equal(rule_eval(&rule, s, D("2012-04-30"), &r), 0);
	assert_true(rule_counts(&rule, P(s, "Egypt"), D("2012-04-30")));
	assert_eif(&rule, &r, s, "Chile", "2005-01-01");
	rule_result_clear(&r);
	assert_false(rule_counts(&rule, P(s, "Egypt"), D("2012-05-01")));
	snapshot_free(s);
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
		cmocka_unit_test(test_crc_after_threshold),
		cmocka_unit_test(test_rome_next_month),
		cmocka_unit_test_setup_teardown(test_iv13_after_entry_into_force, setup, teardown),
		cmocka_unit_test(test_unclos_subject_to_paragraph_1),
		cmocka_unit_test(test_kigali_not_before),
		cmocka_unit_test(test_ctbt_requires),
		cmocka_unit_test(test_protocol_after_treaty),
		cmocka_unit_test(test_month_end_clamping),
		cmocka_unit_test(test_withdrawal_keeps_history),
		cmocka_unit_test(test_configured_withdrawal_and_effective),
		cmocka_unit_test(test_copy_and_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
