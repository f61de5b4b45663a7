/* Presets against pages of their treaties: each preset's rule, read by conf_load from
 * data/presets, evaluated over a fixture of that treaty's UNTC page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "date.h"
#include "helpers.h"
#include "rule.h"
#include "snapshot.h"
#include "untc.h"

/* One preset's configuration and one page of its treaty. */
struct preset {
	struct conf conf;
	const struct rule *rule;
	struct snapshot *snap;
};

static day_t
ymd(int y, int m, int d)
{
	return date_from_ymd(y, m, d);
}

/* The preset data/presets/FILE.conf loaded without an error, and its treaty id's rule. */
static void
preset_conf(struct preset *p, const char *file, const char *id)
{
	char path[128];
	size_t i;

	snprintf(path, sizeof(path), "data/presets/%s.conf", file);
	if (conf_load(path, &p->conf) != 0)
		for (i = 0; i < p->conf.nerrors; i++)
			print_message("  %s\n", p->conf.errors[i]);
	assert_int_equal(p->conf.nerrors, 0);
	assert_non_null(conf_treaty_find(&p->conf, id));
	p->rule = &conf_treaty_find(&p->conf, id)->rule;
}

static void
preset_open(struct preset *p, const char *id, const char *fixture)
{
	preset_conf(p, id, id);
	p->snap = helpers_parse_fixture(fixture, UNTC_AUTO);
}

static void
preset_close(struct preset *p)
{
	snapshot_free(p->snap);
	conf_free(&p->conf);
}

static const struct participant *
find(const struct snapshot *s, const char *name)
{
	return helpers_participant(s, name);
}

static const char *
iso(day_t d, char buf[DATE_ISO_LEN])
{
	return d == DAY_NONE ? "none" : date_format_iso(d, buf);
}

/* The participant called name enters into force on the day want ("none": never). */
static void
assert_eif(const struct preset *p, const struct rule_result *r, const char *name,
    const char *want)
{
	char buf[DATE_ISO_LEN];

	assert_string_equal(iso(rule_participant_eif(p->rule, r, find(p->snap, name)), buf),
	    want);
}

/* The preset's rule over its table at as_of, into r. */
static void
eval(const struct preset *p, day_t as_of, struct rule_result *r)
{
	assert_int_equal(rule_eval(p->rule, p->snap, as_of, r), 0);
}

/* The page lists n participants and states parties and signatories. */
static void
assert_page(const struct snapshot *s, size_t n, int parties, int signatories)
{
	assert_int_equal(s->n, n);
	assert_int_equal(s->stated_parties, parties);
	assert_int_equal(s->stated_signatories, signatories);
}

/* XXI-10 (BBNJ) on 30 June 2025: not in force, the EU's instrument not counted. */
static void
bbnj_page_reads(void **state)
{
	struct preset p;

	preset_open(&p, "XXI-10", "XXI-10.html");
	assert_page(p.snap, 29, 21, 29);
	assert_string_equal(p.snap->status_as_at, "2025-06-30T09:00:44Z");
	/* "Not yet in force": the article's text, no date. */
	assert_non_null(p.snap->stated_eif);
	assert_non_null(strstr(p.snap->stated_eif, "article 68(1)"));
	assert_int_equal(p.snap->stated_eif_date, DAY_NONE);
	/* The label names five kinds, ratification without a marker. */
	assert_int_equal(find(p.snap, "Chile")->instrument.kind, KIND_RATIFICATION);
	assert_int_equal(find(p.snap, "Chile")->instrument.date, ymd(2024, 2, 20));
	assert_int_equal(find(p.snap, "Chile")->signature.kind, KIND_SIGNATURE);
	assert_int_equal(find(p.snap, "Denmark")->instrument.kind, KIND_ACCEPTANCE);
	assert_int_equal(find(p.snap, "France")->instrument.kind, KIND_APPROVAL);
	assert_int_equal(find(p.snap, "European Union")->instrument.kind, KIND_CONFIRMATION);
	assert_int_equal(find(p.snap, "European Union")->instrument.date, ymd(2025, 5, 12));
	assert_int_equal(find(p.snap, "Ghana")->instrument.date, DAY_NONE);
	preset_close(&p);
}

static void
bbnj_countdown(void **state)
{
	day_t as_of = ymd(2025, 6, 30);
	struct rule_result r;
	char buf[DATE_ISO_LEN];
	struct preset p;

	preset_open(&p, "XXI-10", "XXI-10.html");
	eval(&p, as_of, &r);
	assert_int_equal(r.parties, 21);
	assert_int_equal(r.counted, 20);
	assert_int_equal(r.signatories, 29);
	assert_int_equal(r.remaining, 40);
	assert_false(r.threshold_reached);
	assert_int_equal(r.threshold_date, DAY_NONE);
	assert_int_equal(r.entry_into_force, DAY_NONE);
	assert_false(r.in_force);
	/* Article 68: a regional economic integration organization adds nothing. */
	assert_true(rule_excluded(p.rule, "European Union"));
	assert_false(rule_counts(p.rule, find(p.snap, "European Union"), as_of));
	assert_true(rule_counts(p.rule, find(p.snap, "France"), as_of));
	assert_false(rule_counts(p.rule, find(p.snap, "Ghana"), as_of));
	/* Were the 40 missing instruments all deposited today: 120 days later. */
	assert_string_equal(iso(rule_entry_into_force(p.rule, as_of), buf), "2025-10-28");
	rule_result_clear(&r);

	/* The EU's instrument makes a party, not a counted instrument. */
	eval(&p, ymd(2025, 5, 11), &r);
	assert_int_equal(r.parties, 15);
	assert_int_equal(r.counted, 15);
	rule_result_clear(&r);
	eval(&p, ymd(2025, 5, 12), &r);
	assert_int_equal(r.parties, 16);
	assert_int_equal(r.counted, 15);
	assert_int_equal(r.remaining, 45);
	rule_result_clear(&r);
	preset_close(&p);
}

/* Every counted instrument of the page lies in the 24 months before its stamp: a pace
 * to project from. */
static void
bbnj_instruments_in_the_last_24_months(void **state)
{
	day_t as_of = ymd(2025, 6, 30), start = date_add_months(as_of, -24);
	struct preset p;
	size_t i;
	int n = 0;

	preset_open(&p, "XXI-10", "XXI-10.html");
	for (i = 0; i < p.snap->n; i++)
		if (rule_counts(p.rule, &p.snap->v[i], as_of) &&
		    p.snap->v[i].instrument.date > start)
			n++;
	assert_int_equal(n, 20);
	preset_close(&p);
}

/* XXVI-9 (TPNW): the column order Acceptance(A), Ratification, Approval(AA), Accession(a);
 * in force since 22 January 2021, 90 days after Honduras's instrument, the 50th. */
static void
tpnw_page_reads(void **state)
{
	struct preset p;

	preset_open(&p, "XXVI-9", "XXVI-9.html");
	assert_page(p.snap, 71, 64, 69);
	assert_int_equal(p.snap->stated_eif_date, ymd(2021, 1, 22));
	assert_int_equal(find(p.snap, "Kiribati")->instrument.kind, KIND_ACCEPTANCE);
	assert_int_equal(find(p.snap, "Palau")->instrument.kind, KIND_APPROVAL);
	assert_int_equal(find(p.snap, "Cook Islands")->instrument.kind, KIND_ACCESSION);
	assert_int_equal(find(p.snap, "Cook Islands")->signature.date, DAY_NONE);
	assert_int_equal(find(p.snap, "Austria")->instrument.kind, KIND_RATIFICATION);
	assert_int_equal(find(p.snap, "Austria")->instrument.date, ymd(2018, 5, 8));
	assert_int_equal(find(p.snap, "Holy See")->signature.date, ymd(2017, 9, 20));
	preset_close(&p);
}

static void
tpnw_in_force(void **state)
{
	struct rule_result r;
	char buf[DATE_ISO_LEN];
	struct preset p;

	preset_open(&p, "XXVI-9", "XXVI-9.html");
	eval(&p, ymd(2025, 6, 30), &r);
	assert_int_equal(r.parties, 64);
	assert_int_equal(r.counted, 64);
	assert_int_equal(r.signatories, 69);
	assert_true(r.threshold_reached);
	assert_string_equal(iso(r.threshold_date, buf), "2020-10-24");
	assert_int_equal(r.nthreshold, 1);
	assert_string_equal(p.snap->v[r.threshold_idx[0]].name, "Honduras");
	assert_string_equal(iso(r.entry_into_force, buf), "2021-01-22");
	assert_true(r.in_force);
	/* Article 15(2): an instrument deposited after the fiftieth, 90 days after its own
	 * deposit; the fiftieth and those before it, the treaty's date. */
	assert_eif(&p, &r, "Chile", "2021-12-22");
	assert_eif(&p, &r, "Honduras", "2021-01-22");
	assert_eif(&p, &r, "Austria", "2021-01-22");
	/* Benin deposited on 11 December 2020, between the fiftieth instrument and the
	 * Treaty's date: 11 March 2021, as the depositary gives it. */
	assert_int_equal(find(p.snap, "Benin")->instrument.date, ymd(2020, 12, 11));
	assert_eif(&p, &r, "Benin", "2021-03-11");
	rule_result_clear(&r);

	/* The day Jamaica and Nauru deposited: one short, and at the earliest 90 days on. */
	eval(&p, ymd(2020, 10, 23), &r);
	assert_int_equal(r.counted, 49);
	assert_int_equal(r.remaining, 1);
	assert_false(r.threshold_reached);
	assert_string_equal(iso(rule_entry_into_force(p.rule, ymd(2020, 10, 23)), buf),
	    "2021-01-21");
	rule_result_clear(&r);
	preset_close(&p);
}

/* The other presets, on the IV-13 page: the rule is read, whatever the page. */
static void
other_presets_rules(void **state)
{
	char buf[DATE_ISO_LEN];
	struct preset p;

	preset_open(&p, "IV-4", "IV-13.html");
	assert_int_equal(p.rule->threshold, 35);
	/* Article 49(1): three months, no first-of-the-month alignment. */
	assert_string_equal(iso(rule_entry_into_force(p.rule, ymd(1975, 12, 23)), buf),
	    "1976-03-23");
	preset_close(&p);

	preset_open(&p, "XVIII-16", "IV-13.html");
	assert_int_equal(p.rule->threshold, 40);
	assert_true(rule_excluded(p.rule, "European Union"));
	assert_string_equal(iso(rule_entry_into_force(p.rule, ymd(2026, 1, 1)), buf),
	    "2026-04-01");
	preset_close(&p);
}

/* A preset's configuration alone, over a table built here. */
static void
preset_rule(struct preset *p, const char *file, const char *id)
{
	preset_conf(p, file, id);
	p->snap = snapshot_new();
	assert_non_null(p->snap);
}

static void
deposit(struct snapshot *s, const char *name, day_t d, enum kind k)
{
	struct action none = { DAY_NONE, KIND_NONE }, ins = { d, k };

	assert_int_equal(snapshot_add(s, name, false, none, ins), 0);
}

/* n ratifications by "PREFIX 00", "PREFIX 01", ..., one a day from first. */
static void
deposit_numbered(struct snapshot *s, const char *prefix, int n, day_t first)
{
	char name[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s %02d", prefix, i);
		deposit(s, name, first + i, KIND_RATIFICATION);
	}
}

/* The ICCPR's 35th instrument came on 23 December 1975; article 49(2) covers every
 * instrument after it, one in the gap before 23 March 1976 included. */
static void
iccpr_gap_state(void **state)
{
	char buf[DATE_ISO_LEN];
	struct rule_result r;
	struct preset p;

	preset_rule(&p, "IV-4", "IV-4");
	deposit_numbered(p.snap, "State", 34, ymd(1970, 1, 1));
	deposit(p.snap, "Thirty-fifth", ymd(1975, 12, 23), KIND_RATIFICATION);
	deposit(p.snap, "Gap", ymd(1976, 1, 15), KIND_ACCESSION);
	eval(&p, ymd(1980, 1, 1), &r);
	assert_string_equal(iso(r.entry_into_force, buf), "1976-03-23");
	assert_eif(&p, &r, "Gap", "1976-04-15");
	rule_result_clear(&r);
	preset_close(&p);
}

/* BBNJ and the Cybercrime Convention: thirty days for a later State, never before the
 * treaty's own date. */
static void
later_delays_of_bbnj_and_cybercrime(void **state)
{
	char buf[DATE_ISO_LEN];
	struct preset p;

	preset_rule(&p, "XXI-10", "XXI-10");
	assert_string_equal(iso(rule_later_date(p.rule, ymd(2026, 3, 1)), buf), "2026-03-31");
	assert_int_equal(p.rule->later, RULE_LATER_AFTER_THRESHOLD);
	preset_close(&p);
	preset_rule(&p, "XVIII-16", "XVIII-16");
	assert_string_equal(iso(rule_later_date(p.rule, ymd(2026, 3, 1)), buf), "2026-03-31");
	assert_int_equal(p.rule->later, RULE_LATER_AFTER_THRESHOLD);
	assert_string_equal(iso(rule_entry_into_force(p.rule, ymd(2026, 3, 1)), buf),
	    "2026-05-30");
	preset_close(&p);
}

/* CRPD: the European Union's formal confirmation of 23 December 2010 took effect on
 * 22 January 2011; its instrument is not counted for the twenty. The Protocol waits for
 * the Convention. */
static void
crpd_and_protocol(void **state)
{
	char buf[DATE_ISO_LEN];
	struct rule_result r;
	struct preset p;

	preset_rule(&p, "IV-15", "IV-15");
	deposit_numbered(p.snap, "State", 19, ymd(2007, 3, 30));
	deposit(p.snap, "European Union", ymd(2010, 12, 23), KIND_CONFIRMATION);
	deposit(p.snap, "Twentieth", ymd(2008, 4, 3), KIND_RATIFICATION);
	eval(&p, ymd(2012, 1, 1), &r);
	assert_int_equal(r.counted, 20);
	assert_string_equal(iso(r.entry_into_force, buf), "2008-05-03");
	assert_eif(&p, &r, "European Union", "2011-01-22");
	rule_result_clear(&r);

	p.rule = &conf_treaty_find(&p.conf, "IV-15-a")->rule;
	assert_string_equal(p.rule->after_treaty, "IV-15");
	assert_int_equal(p.rule->threshold, 10);
	assert_int_equal(rule_eval_after(p.rule, p.snap, ymd(2012, 1, 1), ymd(2008, 5, 3),
	    &r), 0);
	/* Ten instruments by 8 April 2007 would give 8 May 2007: the Convention's date. */
	assert_string_equal(iso(r.rule_date, buf), "2007-05-08");
	assert_string_equal(iso(r.entry_into_force, buf), "2008-05-03");
	rule_result_clear(&r);
	preset_close(&p);
}

/* Kigali: twenty instruments by November 2017, in force on 1 January 2019 for every
 * Party bound by then; 90 days after its own deposit for a Party after that. */
static void
kigali_first_of_january_2019(void **state)
{
	char buf[DATE_ISO_LEN];
	struct rule_result r;
	struct preset p;

	preset_rule(&p, "XXVII-2-f", "XXVII-2-f");
	deposit_numbered(p.snap, "Party", 20, ymd(2017, 11, 17) - 19);
	deposit(p.snap, "In 2018", ymd(2018, 10, 1), KIND_ACCEPTANCE);
	deposit(p.snap, "In 2021", ymd(2021, 6, 17), KIND_ACCEPTANCE);
	eval(&p, ymd(2024, 1, 1), &r);
	assert_string_equal(iso(r.threshold_date, buf), "2017-11-17");
	assert_string_equal(iso(r.entry_into_force, buf), "2019-01-01");
	assert_eif(&p, &r, "Party 00", "2019-01-01");
	assert_eif(&p, &r, "In 2018", "2019-01-01");
	assert_eif(&p, &r, "In 2021", "2021-09-15");
	rule_result_clear(&r);
	preset_close(&p);
}


int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bbnj_page_reads),
		cmocka_unit_test(bbnj_countdown),
		cmocka_unit_test(bbnj_instruments_in_the_last_24_months),
		cmocka_unit_test(tpnw_page_reads),
		cmocka_unit_test(tpnw_in_force),
		cmocka_unit_test(other_presets_rules),
		cmocka_unit_test(iccpr_gap_state),
		cmocka_unit_test(later_delays_of_bbnj_and_cybercrime),
		cmocka_unit_test(crpd_and_protocol),
		cmocka_unit_test(kigali_first_of_january_2019),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
