/* The day boundary of an IANA time zone: offsets computed once, read without libc's TZ. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "utf8.h"
#include "zone.h"

#define ZONE_DAY 86400
#define ZONE_MAX_NAME 128

/* A name of the tz database: no absolute path, no "..", the characters its files use. */
static int
zone_valid_name(const char *name)
{
	const char *s;

	if (name[0] == '\0' || name[0] == '/' || strlen(name) >= ZONE_MAX_NAME ||
	    strstr(name, "..") != NULL)
		return 0;
	for (s = name; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '/' || *s == '_' || *s == '-' ||
		    *s == '+'))
			return 0;
	return 1;
}

/* The zone's file exists and is a TZif file. */
static int
zone_file(const char *name, char *path, size_t len, char *err, size_t errlen)
{
	const char *dir = getenv("TZDIR");
	char magic[4];
	struct stat st;
	FILE *f;

	snprintf(path, len, "%s/%s", dir != NULL && dir[0] == '/' ? dir : "/usr/share/zoneinfo",
	    name);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "unknown time zone '%s' (%s: %s): use an IANA name such "
		    "as America/New_York or UTC", name, path, errno ? strerror(errno) :
		    "not a file");
		return -1;
	}
	if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "TZif", 4) != 0) {
		fclose(f);
		snprintf(err, errlen, "%s is not a tz database file", path);
		return -1;
	}
	fclose(f);
	return 0;
}

static long
zone_offset_libc(time_t t)
{
	struct tm tm;

	return localtime_r(&t, &tm) != NULL ? tm.tm_gmtoff : 0;
}

static int
zone_push(struct zone *z, time_t at, long off, size_t *cap)
{
	time_t *a;
	int32_t *o;

	if (z->n == *cap) {
		*cap = *cap ? *cap * 2 : 128;
		if ((a = realloc(z->at, *cap * sizeof(*a))) == NULL)
			return -1;
		z->at = a;
		if ((o = realloc(z->off, *cap * sizeof(*o))) == NULL)
			return -1;
		z->off = o;
	}
	z->at[z->n] = at;
	z->off[z->n++] = (int32_t)off;
	return 0;
}

/* Steps a day at a time; where the offset changes, bisects to the second. */
static int
zone_scan(struct zone *z, time_t from)
{
	time_t t = from - ZONE_DAY, end = from + (time_t)ZONE_YEARS * 366 * ZONE_DAY, lo, hi, mid;
	long off = zone_offset_libc(t), next;
	size_t cap = 0;

	if (zone_push(z, t, off, &cap) < 0)
		return -1;
	for (; t < end; t += ZONE_DAY) {
		if ((next = zone_offset_libc(t + ZONE_DAY)) == off)
			continue;
		for (lo = t, hi = t + ZONE_DAY; hi - lo > 1;) {
			mid = lo + (hi - lo) / 2;
			if (zone_offset_libc(mid) == off)
				lo = mid;
			else
				hi = mid;
		}
		if (zone_push(z, hi, next, &cap) < 0)
			return -1;
		off = next;
	}
	return 0;
}

/* Runs zone_scan with TZ pointing at path, then puts TZ back as it was. */
static int
zone_compute(struct zone *z, const char *path, time_t from)
{
	const char *old = getenv("TZ");
	char *saved = old != NULL ? strdup(old) : NULL, tz[4096 + 2];
	int rc;

	if (old != NULL && saved == NULL)
		return -1;
	snprintf(tz, sizeof(tz), ":%s", path);
	rc = setenv("TZ", tz, 1);
	tzset();
	if (rc == 0)
		rc = zone_scan(z, from);
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	return rc;
}

int
zone_load(struct zone *z, const char *name, time_t from, char *err, size_t errlen)
{
	char path[4096];

	memset(z, 0, sizeof(*z));
	if (!zone_valid_name(name)) {
		snprintf(err, errlen, "bad time zone '%.*s': use an IANA name such as "
		    "America/New_York or UTC", (int)utf8_cut(name, 64), name);
		return -1;
	}
	if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)
		return (z->name = strdup(name)) != NULL ? 0 : -1;
	if (zone_file(name, path, sizeof(path), err, errlen) < 0)
		return -1;
	if ((z->name = strdup(name)) == NULL || zone_compute(z, path, from) < 0) {
		zone_free(z);
		snprintf(err, errlen, "out of memory loading time zone %s", name);
		return -1;
	}
	return 0;
}

static long
zone_offset(const struct zone *z, time_t t)
{
	size_t lo = 0, hi, mid;

	if (z == NULL || z->n == 0)
		return 0;
	/* The last change at or before t; the first entry stands for everything before. */
	for (hi = z->n; hi - lo > 1;) {
		mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->off[lo];
}

const char *
zone_label(const struct zone *z)
{
	if (z->name == NULL || strcmp(z->name, "UTC") == 0 || strcmp(z->name, "Etc/UTC") == 0)
		return NULL;
	return z->name;
}

day_t
zone_day(const struct zone *z, time_t t)
{
	return date_of_time(t + zone_offset(z, t));
}

time_t
zone_next_midnight(const struct zone *z, time_t t)
{
	day_t d = zone_day(z, t) + 1;
	time_t m = (time_t)d * ZONE_DAY;

	/* The offset at the local midnight, taken from just before it and corrected once:
	 * a change of offset at midnight itself then still lands on the new day's start. */
	m -= zone_offset(z, m - zone_offset(z, m));
	if (m <= t)
		m = t + 1;
	return m;
}

void
zone_free(struct zone *z)
{
	free(z->name);
	free(z->at);
	free(z->off);
	memset(z, 0, sizeof(*z));
}
