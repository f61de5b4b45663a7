/* Calendar arithmetic: day numbers, months, leap years, ISO and RFC 3339 forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "date.h"

static day_t
ymd(int y, int m, int d)
{
	return date_from_ymd(y, m, d);
}

static const char *
iso(day_t d)
{
	static char buf[DATE_ISO_LEN];

	return date_format_iso(d, buf);
}

static void
test_epoch_is_day_zero(void **state)
{
	int y, m, d;

	assert_int_equal(ymd(1970, 1, 1), 0);
	assert_int_equal(ymd(1970, 1, 2), 1);
	assert_int_equal(ymd(1969, 12, 31), -1);
	assert_int_equal(ymd(2000, 3, 1), 11017);
	assert_int_equal(ymd(2003, 3, 14), 12125);
	date_to_ymd(-1, &y, &m, &d);
	assert_int_equal(y, 1969);
	assert_int_equal(m, 12);
	assert_int_equal(d, 31);
}

/* Every day from year 1 to 9999 survives day -> y-m-d -> day, and consecutive days are consecutive. */
static void
test_round_trip_years_1_to_9999(void **state)
{
	day_t first = ymd(1, 1, 1), last = ymd(9999, 12, 31), day;
	int y, m, d, py = 0, pm = 12, pd = 31;

	for (day = first; day <= last; day++) {
		date_to_ymd(day, &y, &m, &d);
		assert_true(date_valid(y, m, d));
		assert_int_equal(date_from_ymd(y, m, d), day);
		if (d == 1)
			assert_true(pd == date_days_in_month(py, pm) &&
			    (m == pm + 1 || (m == 1 && pm == 12 && y == py + 1)));
		else
			assert_true(y == py && m == pm && d == pd + 1);
		py = y;
		pm = m;
		pd = d;
	}
	assert_int_equal(last - first + 1, 3652059);
}

static void
test_leap_years(void **state)
{
	assert_int_equal(date_days_in_month(2000, 2), 29);
	assert_int_equal(date_days_in_month(1900, 2), 28);
	assert_int_equal(date_days_in_month(2024, 2), 29);
	assert_int_equal(date_days_in_month(2023, 2), 28);
	assert_int_equal(date_days_in_month(2100, 2), 28);
	assert_true(date_valid(2000, 2, 29));
	assert_false(date_valid(1900, 2, 29));
	assert_true(date_valid(2024, 2, 29));
	assert_int_equal(ymd(2000, 3, 1) - ymd(2000, 2, 28), 2);
	assert_int_equal(ymd(1900, 3, 1) - ymd(1900, 2, 28), 1);
	assert_int_equal(ymd(2025, 1, 1) - ymd(2024, 1, 1), 366);
}

static void
test_valid_rejects(void **state)
{
	assert_false(date_valid(2003, 2, 30));
	assert_false(date_valid(2003, 4, 31));
	assert_false(date_valid(2003, 13, 1));
	assert_false(date_valid(2003, 0, 1));
	assert_false(date_valid(2003, 1, 0));
	assert_false(date_valid(0, 1, 1));
	assert_false(date_valid(10000, 1, 1));
	assert_int_equal(date_days_in_month(2003, 13), 0);
}

static void
test_add_months_clamps_the_day(void **state)
{
	assert_string_equal(iso(date_add_months(ymd(2017, 3, 31), 3)), "2017-06-30");
	assert_string_equal(iso(date_add_months(ymd(2019, 11, 30), 3)), "2020-02-29");
	assert_string_equal(iso(date_add_months(ymd(2021, 11, 30), 3)), "2022-02-28");
	assert_string_equal(iso(date_add_months(ymd(2003, 3, 14), 3)), "2003-06-14");
	assert_string_equal(iso(date_add_months(ymd(2003, 11, 15), 2)), "2004-01-15");
	assert_string_equal(iso(date_add_months(ymd(2003, 1, 31), 1)), "2003-02-28");
	assert_string_equal(iso(date_add_months(ymd(2003, 1, 31), 0)), "2003-01-31");
	assert_string_equal(iso(date_add_months(ymd(2003, 1, 31), 24)), "2005-01-31");
	assert_string_equal(iso(date_add_months(ymd(2003, 3, 31), -1)), "2003-02-28");
	assert_string_equal(iso(date_add_months(ymd(1970, 1, 15), -1)), "1969-12-15");
}

static void
test_first_of_next_month(void **state)
{
	assert_string_equal(iso(date_first_of_next_month(ymd(2003, 6, 14))), "2003-07-01");
	assert_string_equal(iso(date_first_of_next_month(ymd(2003, 6, 1))), "2003-07-01");
	assert_string_equal(iso(date_first_of_next_month(ymd(2003, 12, 31))), "2004-01-01");
	assert_string_equal(iso(date_first_of_next_month(ymd(2024, 2, 29))), "2024-03-01");
}

static void
test_parse_iso(void **state)
{
	/* Not a day, not in the form YYYY-MM-DD, or not alone. */
	static const char *const bad[] = { "2003-02-30", "1900-02-29", "2003-3-14",
	    "2003-03-1", "2003-03-14x", "2003-03-14 ", " 2003-03-14", "2003/03/14",
	    "2003-13-01", "0000-01-01", "+003-03-14", "", NULL };
	day_t d = 42;
	size_t i;

	assert_int_equal(date_parse_iso("2003-03-14", &d), 0);
	assert_int_equal(d, ymd(2003, 3, 14));
	assert_int_equal(date_parse_iso("2000-02-29", &d), 0);
	assert_int_equal(d, ymd(2000, 2, 29));
	assert_int_equal(date_parse_iso("0001-01-01", &d), 0);
	assert_int_equal(date_parse_iso("9999-12-31", &d), 0);
	d = 42;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(date_parse_iso(bad[i], &d), -1);
	assert_int_equal(d, 42);
}

static void
test_format_iso(void **state)
{
	char buf[DATE_ISO_LEN];

	assert_string_equal(date_format_iso(0, buf), "1970-01-01");
	assert_string_equal(date_format_iso(ymd(2003, 7, 1), buf), "2003-07-01");
	assert_string_equal(date_format_iso(ymd(1, 1, 1), buf), "0001-01-01");
	assert_string_equal(date_format_iso(ymd(9999, 12, 31), buf), "9999-12-31");
}

static void
test_month_names(void **state)
{
	/* date_month_from_name(name, len) is month (0: none). */
	static const struct {
		const char *name;
		size_t len;
		int month;
	} cases[] = {
		{ "Jun", 3, 6 },
		{ "June", 4, 6 },
		{ "JUNE", 4, 6 },
		{ "jan", 3, 1 },
		{ "Sept", 4, 9 },
		{ "Sep", 3, 9 },
		{ "September", 9, 9 },
		{ "May", 3, 5 },
		{ "Dec", 3, 12 },
		{ "December", 8, 12 },
		/* The length bounds the name: "Mar 2003" read as its first three bytes. */
		{ "Mar 2003", 3, 3 },
		{ "Ju", 2, 0 },
		{ "Juni", 4, 0 },
		{ "Septem", 6, 0 },
		{ "Mayo", 4, 0 },
		{ "", 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(date_month_from_name(cases[i].name, cases[i].len),
		    cases[i].month);
}

static void
test_time_format_and_parse(void **state)
{
	char buf[DATE_TIME_LEN];
	time_t t = 0, ts[] = { 0, 1, 86399, 86400, 1047600000, 1727654400 + 3723,
	    951782400, -1, -86401, 253402300799 };
	/* Out of range, not UTC, not in the form YYYY-MM-DDTHH:MM:SSZ, or not alone. */
	static const char *const bad[] = { "2024-09-30T24:00:00Z", "2024-09-30T23:60:00Z",
	    "2024-09-30T23:59:60Z", "2024-09-30T01:02:03", "2024-09-30T01:02:03+00:00",
	    "2024-09-30 01:02:03Z", "2024-02-30T01:02:03Z", "2024-09-30T01:02:03Zx",
	    "2024-09-30" };
	size_t i;

	assert_string_equal(date_format_time(0, buf), "1970-01-01T00:00:00Z");
	assert_string_equal(date_format_time(1047600000, buf), "2003-03-14T00:00:00Z");
	assert_string_equal(date_format_time(1727654400 + 3723, buf), "2024-09-30T01:02:03Z");
	assert_string_equal(date_format_time(-1, buf), "1969-12-31T23:59:59Z");
	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		date_format_time(ts[i], buf);
		assert_int_equal(date_parse_time(buf, &t), 0);
		assert_int_equal(t, ts[i]);
	}
	assert_int_equal(date_of_time(1047600000 + 86399), ymd(2003, 3, 14));
	assert_int_equal(date_of_time(-1), -1);
	t = 7;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(date_parse_time(bad[i], &t), -1);
	assert_int_equal(t, 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoch_is_day_zero),
		cmocka_unit_test(test_round_trip_years_1_to_9999),
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_valid_rejects),
		cmocka_unit_test(test_add_months_clamps_the_day),
		cmocka_unit_test(test_first_of_next_month),
		cmocka_unit_test(test_parse_iso),
		cmocka_unit_test(test_format_iso),
		cmocka_unit_test(test_month_names),
		cmocka_unit_test(test_time_format_and_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
