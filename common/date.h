/* Calendar dates as day numbers, and RFC 3339 times (UTC throughout: man/ratd.8,
 * DESCRIPTION, Evaluate). */
#ifndef RATD_DATE_H
#define RATD_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Days since 1970-01-01 in the proleptic Gregorian calendar; comparable with < and ==. */
typedef int32_t day_t;
#define DAY_NONE INT32_MIN

#define DATE_ISO_LEN 11   /* "YYYY-MM-DD" + NUL */
#define DATE_TIME_LEN 21  /* "YYYY-MM-DDTHH:MM:SSZ" + NUL */

/* True when y-m-d names a real day (years 1..9999). */
bool date_valid(int y, int m, int d);
/* Day number of a valid y-m-d. */
day_t date_from_ymd(int y, int m, int d);
/* Splits a day number into year, month (1-12) and day (1-31). */
void date_to_ymd(day_t day, int *y, int *m, int *d);
/* Number of days in month m of year y. */
int date_days_in_month(int y, int m);
/* Parses exactly "YYYY-MM-DD"; returns 0, or -1 for anything else. */
int date_parse_iso(const char *s, day_t *out);
/* Writes "YYYY-MM-DD" into buf (DATE_ISO_LEN bytes) and returns buf. */
char *date_format_iso(day_t day, char *buf);
/* Adds whole months, clamping the day to the target month's length (03-31 + 3 = 06-30). */
day_t date_add_months(day_t day, int months);
/* First day of the month after day's month. */
day_t date_first_of_next_month(day_t day);
/* The UTC calendar date of a time. */
day_t date_of_time(time_t t);
/* Month number 1-12 of an English month name or its 3-letter abbreviation, else 0. */
int date_month_from_name(const char *name, size_t len);
/* Writes RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" into buf (DATE_TIME_LEN bytes). */
char *date_format_time(time_t t, char *buf);
/* Parses the RFC 3339 UTC form written by date_format_time; 0 or -1. */
int date_parse_time(const char *s, time_t *out);

/* JSON values of a date ("YYYY-MM-DD", null for DAY_NONE), a time (RFC 3339, null for
 * 0), an optional string (bytes that are not UTF-8 become U+FFFD) and an optional count
 * (null when negative). NULL only on out-of-memory. */
struct json_t *date_json(day_t day);
struct json_t *time_json(time_t t);
struct json_t *text_json(const char *s);
struct json_t *count_json(int n);

#endif
