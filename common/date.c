/* Calendar dates as day numbers: integer civil-date arithmetic, no time zones. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "date.h"
#include "utf8.h"

#define DATE_SECS_PER_DAY 86400

static const char *const date_month_names[12] = {
	"january", "february", "march", "april", "may", "june",
	"july", "august", "september", "october", "november", "december",
};

static bool
date_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
date_days_in_month(int y, int m)
{
	static const int len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12)
		return 0;
	return m == 2 && date_leap(y) ? 29 : len[m - 1];
}

bool
date_valid(int y, int m, int d)
{
	return y >= 1 && y <= 9999 && m >= 1 && m <= 12 &&
	    d >= 1 && d <= date_days_in_month(y, m);
}

/* Floor division: the eras below must round towards minus infinity. */
static long long
date_floor_div(long long a, long long b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* H. Hinnant's days_from_civil, with a year starting in March so leap days come last. */
static long long
date_days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = date_floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

day_t
date_from_ymd(int y, int m, int d)
{
	return (day_t)date_days_from_civil(y, m, d);
}

void
date_to_ymd(day_t day, int *y, int *m, int *d)
{
	long long z, era, doe, yoe, doy, mp;

	z = (long long)day + 719468;
	era = date_floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Reads exactly n decimal digits. */
static int
date_digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Reads "YYYY-MM-DD" at the start of s without looking past it. */
static int
date_read_ymd(const char *s, day_t *out)
{
	int y, m, d;

	if (date_digits(s, 4, &y) == -1 || s[4] != '-' ||
	    date_digits(s + 5, 2, &m) == -1 || s[7] != '-' ||
	    date_digits(s + 8, 2, &d) == -1 || !date_valid(y, m, d))
		return -1;
	*out = date_from_ymd(y, m, d);
	return 0;
}

int
date_parse_iso(const char *s, day_t *out)
{
	if (s == NULL || strnlen(s, DATE_ISO_LEN) != DATE_ISO_LEN - 1)
		return -1;
	return date_read_ymd(s, out);
}

/* Writes the n low decimal digits of v: fixed width whatever the value, so never overflows. */
static void
date_put(char *p, long long v, int n)
{
	unsigned long long u = v < 0 ? 0 : (unsigned long long)v;

	while (n-- > 0) {
		p[n] = (char)('0' + u % 10);
		u /= 10;
	}
}

/* Writes "YYYY-MM-DD" (10 bytes, no NUL); years are meaningful in 1..9999 only. */
static void
date_put_ymd(char *p, day_t day)
{
	int y, m, d;

	date_to_ymd(day, &y, &m, &d);
	date_put(p, y, 4);
	p[4] = '-';
	date_put(p + 5, m, 2);
	p[7] = '-';
	date_put(p + 8, d, 2);
}

char *
date_format_iso(day_t day, char *buf)
{
	date_put_ymd(buf, day);
	buf[10] = '\0';
	return buf;
}

day_t
date_add_months(day_t day, int months)
{
	long long total;
	int y, m, d, dim;

	date_to_ymd(day, &y, &m, &d);
	total = (long long)y * 12 + (m - 1) + months;
	y = (int)date_floor_div(total, 12);
	m = (int)(total - (long long)y * 12) + 1;
	dim = date_days_in_month(y, m);
	return date_from_ymd(y, m, d > dim ? dim : d);
}

day_t
date_first_of_next_month(day_t day)
{
	int y, m, d;

	date_to_ymd(day, &y, &m, &d);
	return m == 12 ? date_from_ymd(y + 1, 1, 1) : date_from_ymd(y, m + 1, 1);
}

day_t
date_of_time(time_t t)
{
	return (day_t)date_floor_div((long long)t, DATE_SECS_PER_DAY);
}

int
date_month_from_name(const char *name, size_t len)
{
	int i;

	if (name == NULL)
		return 0;
	/* UNTC pages write "Sept" beside the usual three-letter forms. */
	if (len == 4 && strncasecmp(name, "sept", 4) == 0)
		return 9;
	for (i = 0; i < 12; i++) {
		if ((len == 3 || len == strlen(date_month_names[i])) &&
		    strncasecmp(name, date_month_names[i], len) == 0)
			return i + 1;
	}
	return 0;
}

char *
date_format_time(time_t t, char *buf)
{
	day_t day = date_of_time(t);
	long long sod = (long long)t - (long long)day * DATE_SECS_PER_DAY;

	date_put_ymd(buf, day);
	buf[10] = 'T';
	date_put(buf + 11, sod / 3600, 2);
	buf[13] = ':';
	date_put(buf + 14, sod / 60 % 60, 2);
	buf[16] = ':';
	date_put(buf + 17, sod % 60, 2);
	buf[19] = 'Z';
	buf[20] = '\0';
	return buf;
}

int
date_parse_time(const char *s, time_t *out)
{
	day_t day;
	int hh, mm, ss;

	if (s == NULL || strnlen(s, DATE_TIME_LEN) != DATE_TIME_LEN - 1)
		return -1;
	if (date_read_ymd(s, &day) == -1 || s[10] != 'T' ||
	    date_digits(s + 11, 2, &hh) == -1 || s[13] != ':' ||
	    date_digits(s + 14, 2, &mm) == -1 || s[16] != ':' ||
	    date_digits(s + 17, 2, &ss) == -1 || s[19] != 'Z' ||
	    hh > 23 || mm > 59 || ss > 59)
		return -1;
	*out = (time_t)((long long)day * DATE_SECS_PER_DAY + hh * 3600 + mm * 60 + ss);
	return 0;
}

json_t *
date_json(day_t day)
{
	char buf[DATE_ISO_LEN];

	return day == DAY_NONE ? json_null() : json_string(date_format_iso(day, buf));
}

json_t *
time_json(time_t t)
{
	char buf[DATE_TIME_LEN];

	return t ? json_string(date_format_time(t, buf)) : json_null();
}

json_t *
text_json(const char *s)
{
	json_t *v;
	char *fixed;

	if (s == NULL)
		return json_null();
	if ((v = json_string(s)) != NULL)
		return v;
	/* Not UTF-8: one bad string must not make a whole state file or reply impossible. */
	if ((fixed = utf8_repair(s, strlen(s))) == NULL)
		return NULL;
	v = json_string(fixed);
	free(fixed);
	return v;
}

json_t *
count_json(int n)
{
	return n >= 0 ? json_integer(n) : json_null();
}
