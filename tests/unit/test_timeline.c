/* ratctl timeline: the series built from a treaty's parties and status replies, and the
 * chart drawn from it. The replies are made as ratd makes them, from a fixture page and
 * the treaty's configured rule. */
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
#include "render.h"
#include "rule.h"
#include "snapshot.h"
#include "untc.h"

/* The parties and status replies of one treaty at a date. */
struct replies {
	json_t *parties;
	json_t *status;
};

/* What ratd answers to parties and status for the treaty id of conf_path over the page
 * fixture, evaluated at as_of. */
static struct replies
replies_at(const char *fixture, const char *conf_path, const char *id, const char *as_of)
{
	const struct conf_treaty *t;
	struct snapshot *s = helpers_parse_fixture(fixture, UNTC_AUTO);
	struct rule_result res;
	struct replies r;
	struct conf c;
	json_t *list, *p;
	day_t day;
	size_t i;

	assert_int_equal(conf_load(conf_path, &c), 0);
	assert_non_null(t = conf_treaty_find(&c, id));
	assert_int_equal(date_parse_iso(as_of, &day), 0);
	assert_int_equal(rule_eval(&t->rule, s, day, &res), 0);
	r.parties = snapshot_to_json(s);
	assert_non_null(r.parties);
	list = json_object_get(r.parties, "participants");
	json_array_foreach(list, i, p)
		json_object_set_new(p, "counts", json_boolean(rule_counts(&t->rule, &s->v[i],
		    day)));
	json_object_set_new(r.parties, "treaty", json_string(id));
	json_object_set_new(r.parties, "as_of", json_string(as_of));
	r.status = json_pack("{s:s, s:s, s:i, s:i, s:i, s:b, s:o, s:o}", "id", id,
	    "as_of", as_of, "threshold", t->rule.threshold, "counted", res.counted,
	    "remaining", res.remaining, "threshold_reached", res.threshold_reached,
	    "threshold_date", date_json(res.threshold_date),
	    "entry_into_force", date_json(res.entry_into_force));
	assert_non_null(r.status);
	rule_result_clear(&res);
	snapshot_free(s);
	conf_free(&c);
	return r;
}

static json_t *
timeline(const char *fixture, const char *conf_path, const char *id, const char *as_of)
{
	struct replies r = replies_at(fixture, conf_path, id, as_of);
	json_t *tl = render_timeline_build(r.parties, r.status);

	assert_non_null(tl);
	json_decref(r.parties);
	json_decref(r.status);
	return tl;
}

#define IV13 "IV-13.html", "etc/treaties.d/IV-13.conf", "IV-13"
#define BBNJ "XXI-10.html", "data/presets/XXI-10.conf", "XXI-10"

static char *
draw(const json_t *tl, int width, bool utf8)
{
	struct helpers_out o;

	helpers_out_open(&o);
	render_timeline(o.f, tl, width, utf8);
	return helpers_out_text(&o);
}

/* Display columns of the widest line (UTF-8 continuation bytes take none). */
static int
widest_line(const char *s)
{
	int w = 0, max = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\n')
			w = 0;
		else if (((unsigned char)*s & 0xc0) != 0x80 && ++w > max)
			max = w;
	}
	return max;
}

/* The i-th period of a series and what counted by its end. */
struct point {
	size_t i;
	const char *period;
	int counted;
};

/* tl's series goes by bucket and has n periods, the np points among them. */
static void
assert_series(const json_t *tl, const char *bucket, size_t n, const struct point *p,
    size_t np)
{
	const json_t *series = json_object_get(tl, "series"), *e;
	size_t k;

	assert_string_equal(json_string_value(json_object_get(tl, "bucket")), bucket);
	assert_int_equal(json_array_size(series), n);
	for (k = 0; k < np; k++) {
		assert_non_null(e = json_array_get(series, p[k].i));
		assert_string_equal(json_string_value(json_object_get(e, "period")), p[k].period);
		assert_int_equal(json_integer_value(json_object_get(e, "counted")), p[k].counted);
	}
}

static void
series_by_year(void **state)
{
	json_t *tl = timeline(IV13, "2024-09-30");

	assert_string_equal(json_string_value(json_object_get(tl, "treaty")), "IV-13");
	assert_string_equal(json_string_value(json_object_get(tl, "as_of")), "2024-09-30");
	assert_int_equal(json_integer_value(json_object_get(tl, "threshold")), 20);
	assert_string_equal(json_string_value(json_object_get(tl, "threshold_date")),
	    "2003-03-14");
	assert_string_equal(json_string_value(json_object_get(tl, "entry_into_force")),
	    "2003-07-01");
	/* Egypt and Morocco in 1993, the first instruments; 59 by 2024. */
	assert_series(tl, "year", 32, (const struct point[]){ { 0, "1993", 2 },
	    { 7, "2000", 15 }, { 9, "2002", 19 }, { 10, "2003", 24 }, { 31, "2024", 59 } }, 5);
	json_decref(tl);
}

/* Only what counts at as_of: the series ends in as_of's period. */
static void
series_stops_at_as_of(void **state)
{
	json_t *tl = timeline(IV13, "2003-03-13");

	assert_series(tl, "year", 11, &(const struct point){ 10, "2003", 19 }, 1);
	assert_true(json_is_null(json_object_get(tl, "threshold_date")));
	assert_true(json_is_null(json_object_get(tl, "entry_into_force")));
	json_decref(tl);
}

/* A short span goes by month; an instrument that does not count is left out. */
static void
series_by_month(void **state)
{
	json_t *tl = timeline(BBNJ, "2025-06-30");

	/* May 2025: Denmark counts, the European Union's confirmation does not. */
	assert_series(tl, "month", 18, (const struct point[]){ { 0, "2024-01", 1 },
	    { 1, "2024-02", 2 }, { 8, "2024-09", 11 }, { 15, "2025-04", 15 },
	    { 16, "2025-05", 16 }, { 17, "2025-06", 20 } }, 6);
	assert_int_equal(json_integer_value(json_object_get(tl, "threshold")), 60);
	assert_true(json_is_null(json_object_get(tl, "threshold_date")));
	json_decref(tl);
}

static void
series_needs_a_date(void **state)
{
	json_t *parties = json_loads("{\"treaty\": \"X-1\", \"participants\": []}", 0, NULL);
	json_t *status = json_loads("{\"id\": \"X-1\", \"threshold\": 5}", 0, NULL), *tl;
	char *out;

	assert_null(render_timeline_build(parties, status));
	json_object_set_new(parties, "as_of", json_string("2025-13-01"));
	assert_null(render_timeline_build(parties, status));
	json_object_set_new(parties, "as_of", json_string("2025-01-01"));
	tl = render_timeline_build(parties, status);
	assert_non_null(tl);
	assert_int_equal(json_array_size(json_object_get(tl, "series")), 0);
	assert_true(json_is_null(json_object_get(tl, "threshold_date")));
	out = draw(tl, 80, false);
	assert_string_equal(out, "X-1: counted instruments by year, as of 2025-01-01\n"
	    "no counted instrument yet (threshold 5)\n");
	free(out);
	json_decref(tl);
	/* Odd participants are skipped, not trusted. */
	json_object_set_new(parties, "participants", json_loads("[1, null, {\"counts\": true,"
	    " \"instrument\": {\"date\": \"yesterday\"}}, {\"counts\": true, \"withdrawn\": true,"
	    " \"instrument\": {\"date\": \"2020-01-01\"}}, {\"counts\": \"yes\","
	    " \"instrument\": {\"date\": \"2020-01-01\"}}]", 0, NULL));
	tl = render_timeline_build(parties, status);
	assert_int_equal(json_array_size(json_object_get(tl, "series")), 0);
	json_decref(tl);
	json_decref(parties);
	json_decref(status);
}

/* The chart of the treaty id of conf_path over the page fixture at as_of, drawn at 80
 * columns (UTF-8 or not), is want. */
static void
assert_chart(const char *fixture, const char *conf_path, const char *id, const char *as_of,
    bool utf8, const char *want)
{
	json_t *tl = timeline(fixture, conf_path, id, as_of);
	char *out = draw(tl, 80, utf8);

	assert_string_equal(out, want);
	assert_true(widest_line(out) <= 80);
	free(out);
	json_decref(tl);
}

/* `ratctl timeline IV-13` at 80 columns on a plain terminal. */
static void
chart_ascii(void **state)
{
	assert_chart(IV13, "2024-09-30", false,
	    "IV-13: counted instruments by year, as of 2024-09-30\n"
	    "59 +                                                   ....###########\n"
	    "   |                                             ....#################\n"
	    "   |                                 ..###############################\n"
	    "   |                            ..####################################\n"
	    "   |                        ##########################################\n"
	    "   |                    ..############################################\n"
	    "20 +------------------..############################################## threshold\n"
	    "   |              ####################################################\n"
	    "   |      ..##########################################################\n"
	    "   |..################################################################\n"
	    " 0 +--------------------^*--------------------------------------------\n"
	    "        1995      2000      2005       2010      2015      2020\n"
	    "    ^ threshold of 20 reached on 2003-03-14   * entry into force on 2003-07-01\n");
}

/* The same in a UTF-8 locale: eighths of a block, box-drawing axes. */
static void
chart_utf8(void **state)
{
	assert_chart(IV13, "2024-09-30", true,
	    "IV-13: counted instruments by year, as of 2024-09-30\n"
	    "59 ┤                                                   ▁▁▃▃▄▄▄▄▇▇█████\n"
	    "   │                                             ▁▁▂▂▅▅███████████████\n"
	    "   │                                 ▁▁▄▄▅▅▆▆█████████████████████████\n"
	    "   │                            ▂▂▆▆▆█████████████████████████████████\n"
	    "   │                        ▆▆▆▆██████████████████████████████████████\n"
	    "   │                    ▁▁▅▅██████████████████████████████████████████\n"
	    "20 ┼──────────────────▂▂██████████████████████████████████████████████ threshold\n"
	    "   │              ▄▄▇▇████████████████████████████████████████████████\n"
	    "   │      ▃▃▄▄▄▄██████████████████████████████████████████████████████\n"
	    "   │▃▃▄▄██████████████████████████████████████████████████████████████\n"
	    " 0 └────────────────────▲◆────────────────────────────────────────────\n"
	    "        1995      2000      2005       2010      2015      2020\n"
	    "    ▲ threshold of 20 reached on 2003-03-14   ◆ entry into force on 2003-07-01\n");
}

/* Not yet in force: the threshold line stands above the bars, the legend counts down. */
static void
chart_by_month_before_the_threshold(void **state)
{
	assert_chart(BBNJ, "2025-06-30", false,
	    "XXI-10: counted instruments by month, as of 2025-06-30\n"
	    "60 +------------------------------------------------------------------ threshold\n"
	    "   |\n"
	    "   |\n"
	    "   |\n"
	    "   |\n"
	    "   |\n"
	    "   |                                                              ....\n"
	    "   |                                            .......###############\n"
	    "   |                             #####################################\n"
	    "   |...........#######################################################\n"
	    " 0 +------------------------------------------------------------------\n"
	    "    2024-01    2024-04    2024-07    2024-10    2025-01    2025-04\n"
	    "    threshold 60: 20 counted, 40 remaining\n");
}

/* Whatever the width, no line is wider, and ASCII output is ASCII. */
static void
chart_fits_the_width(void **state)
{
	static const int widths[] = { 10, 40, 57, 80, 132, 300 };
	json_t *tl[3] = { timeline(IV13, "2024-09-30"), timeline(IV13, "2003-03-13"),
	    timeline(BBNJ, "2025-06-30") };
	const char *p;
	size_t i, j;
	char *out;
	int k;

	for (i = 0; i < 3; i++)
		for (j = 0; j < sizeof(widths) / sizeof(*widths); j++)
			for (k = 0; k < 2; k++) {
				out = draw(tl[i], widths[j], k == 1);
				if (widest_line(out) > (widths[j] < 40 ? 40 : widths[j]))
					fail_msg("wider than %d:\n%s", widths[j], out);
				for (p = out; k == 0 && *p != '\0'; p++)
					assert_true((unsigned char)*p < 0x80);
				free(out);
			}
	for (i = 0; i < 3; i++)
		json_decref(tl[i]);
}

/* More periods than columns: each column shows the last period it holds. */
static void
chart_groups_periods(void **state)
{
	json_t *tl = json_pack("{s:s, s:s, s:i, s:n, s:n, s:s, s:[]}", "treaty", "OLD-1",
	    "as_of", "2024-12-31", "threshold", 100, "threshold_date", "entry_into_force",
	    "bucket", "year", "series"), *series = json_object_get(tl, "series");
	char period[8], *out;
	int y;

	for (y = 1825; y <= 2024; y++) {
		snprintf(period, sizeof(period), "%d", y);
		json_array_append_new(series, json_pack("{s:s, s:i}", "period", period,
		    "counted", y - 1824));
	}
	out = draw(tl, 80, false);
	assert_true(widest_line(out) <= 80);
	helpers_contains(out, "200 +", " 1900 ",
	    "threshold 100: 200 counted, 0 remaining\n", NULL);
	free(out);
	json_decref(tl);
}

static void
chart_survives_odd_input(void **state)
{
	json_t *tl = json_loads("{\"treaty\": 5, \"series\": [{\"period\": \"20x4\"}]}", 0, NULL);
	char *out = draw(tl, 80, true);

	assert_string_equal(out, "-: counted instruments by year, as of -\n"
	    "no counted instrument yet\n");
	free(out);
	json_decref(tl);
	out = draw(NULL, 80, false);
	assert_string_equal(out, "-: counted instruments by year, as of -\n"
	    "no counted instrument yet\n");
	free(out);
	tl = json_loads("{\"treaty\": \"T\\u001b[2J\", \"as_of\": \"2025-01-01\", \"bucket\": "
	    "\"month\", \"threshold\": \"x\", \"series\": [{\"period\": \"2024-12\", \"counted\": 3},"
	    " {\"period\": \"2025-01\", \"counted\": -4}]}", 0, NULL);
	out = draw(tl, 80, false);
	assert_null(strchr(out, '\033'));
	assert_non_null(strstr(out, "3 +"));
	free(out);
	json_decref(tl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(series_by_year),
		cmocka_unit_test(series_stops_at_as_of),
		cmocka_unit_test(series_by_month),
		cmocka_unit_test(series_needs_a_date),
		cmocka_unit_test(chart_ascii),
		cmocka_unit_test(chart_utf8),
		cmocka_unit_test(chart_by_month_before_the_threshold),
		cmocka_unit_test(chart_fits_the_width),
		cmocka_unit_test(chart_groups_periods),
		cmocka_unit_test(chart_survives_odd_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
