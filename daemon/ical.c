/* iCalendar files: every line built whole in memory, then folded on the way out. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "ical.h"
#include "proto.h"

/* Bytes of the UTF-8 character starting with lead byte c (1 for stray bytes). */
static size_t
ical_char_len(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

void
ical_line(FILE *out, const char *line)
{
	size_t len = strlen(line), pos = 0, room = ICAL_LINE_OCTETS, n, k;

	while (pos < len) {
		/* Whole characters only: the last one that fits ends this physical line. */
		for (n = 0; pos + n < len; n += k) {
			k = ical_char_len((unsigned char)line[pos + n]);
			if (pos + n + k > len)
				k = len - pos - n;
			if (n + k > room)
				break;
		}
		if (pos > 0)
			fputc(' ', out);
		fwrite(line + pos, 1, n, out);
		fputs("\r\n", out);
		pos += n;
		room = ICAL_LINE_OCTETS - 1;
	}
	if (len == 0)
		fputs("\r\n", out);
}

void
ical_text(FILE *out, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0'; p++) {
		if (*p == '\\' || *p == ';' || *p == ',')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p >= 0x20 && *p != 0x7f)
			fputc(*p, out);
	}
}

uint64_t
ical_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static const char *
ical_str(const json_t *o, const char *key)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One all-day VEVENT on date (YYYY-MM-DD); summary and description are plain text. */
struct ical_event {
	const char *date;
	char uid[128];
	const char *summary;
	char *description;
	const char *anchor;      /* the treaty id: index.html#ID */
};

/* Writes "NAME:value" with value built by the caller into a memory stream. */
static void
ical_prop(FILE *out, const char *name, const char *text, const char *raw)
{
	char *line = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&line, &len)) == NULL)
		return;
	fprintf(f, "%s:", name);
	if (text != NULL)
		ical_text(f, text);
	else
		fputs(raw, f);
	if (fclose(f) == 0)
		ical_line(out, line);
	free(line);
}

static void
ical_event(FILE *out, const struct ical_event *e, const char *stamp, const char *base_url)
{
	char start[16], end[16], iso[DATE_ISO_LEN], *url;
	day_t d;
	size_t n;

	if (date_parse_iso(e->date, &d) < 0)
		return;
	snprintf(start, sizeof(start), "%.4s%.2s%.2s", e->date, e->date + 5, e->date + 8);
	date_format_iso(d + 1, iso);
	snprintf(end, sizeof(end), "%.4s%.2s%.2s", iso, iso + 5, iso + 8);
	ical_line(out, "BEGIN:VEVENT");
	ical_prop(out, "UID", NULL, e->uid);
	ical_prop(out, "DTSTAMP", NULL, stamp);
	ical_prop(out, "DTSTART;VALUE=DATE", NULL, start);
	ical_prop(out, "DTEND;VALUE=DATE", NULL, end);
	ical_prop(out, "SUMMARY", e->summary, NULL);
	ical_prop(out, "DESCRIPTION", e->description, NULL);
	n = strlen(base_url) + strlen(e->anchor) + 16;
	if ((url = malloc(n)) != NULL) {
		snprintf(url, n, "%sindex.html#%s", base_url, e->anchor);
		ical_prop(out, "URL", NULL, url);
		free(url);
	}
	ical_line(out, "TRANSP:TRANSPARENT");
	ical_line(out, "END:VEVENT");
}

static void
ical_describe(struct ical_event *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
ical_describe(struct ical_event *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&e->description, fmt, ap) < 0)
		e->description = NULL;
	va_end(ap);
}

/* The treaty's own date: entry into force, else (threshold not reached) the earliest
 * possible one, labelled as such: it moves every day the threshold is not reached. */
static void
ical_treaty(FILE *out, const json_t *st, const char *stamp, const char *base_url)
{
	const char *id = ical_str(st, "id"), *title = ical_str(st, "title");
	const char *eif = ical_str(st, "entry_into_force");
	const char *earliest = ical_str(st, "earliest_entry_into_force");
	const json_t *rem = json_object_get(st, "remaining");
	struct ical_event e = { .anchor = id };
	char summary[256];

	if (eif != NULL) {
		e.date = eif;
		snprintf(e.uid, sizeof(e.uid), "%s-eif@ratd", id);
		snprintf(summary, sizeof(summary), "%s: entry into force", id);
		ical_describe(&e, "Entry into force of the %s (%s): the threshold of %lld "
		    "instruments was reached on %s.", title, id,
		    (long long)json_integer_value(json_object_get(st, "threshold")),
		    ical_str(st, "threshold_date") ? ical_str(st, "threshold_date") : "-");
	} else if (earliest != NULL) {
		e.date = earliest;
		snprintf(e.uid, sizeof(e.uid), "%s-earliest@ratd", id);
		snprintf(summary, sizeof(summary), "%s: earliest possible entry into force "
		    "(not yet certain)", id);
		ical_describe(&e, "Earliest possible entry into force of the %s (%s), not a "
		    "certainty: %lld more instruments are needed, and this is the date if they "
		    "were all deposited today. It moves later every day they are not.", title,
		    id, (long long)json_integer_value(rem));
	} else
		return;
	e.summary = summary;
	ical_event(out, &e, stamp, base_url);
	free(e.description);
}

/* Each participant's own entry into force, withdrawn ones left out. */
static void
ical_participants(FILE *out, const json_t *st, const json_t *parties, const char *stamp,
    const char *base_url)
{
	const char *id = ical_str(st, "id"), *title = ical_str(st, "title"), *name;
	const json_t *p, *ins;
	char *summary;
	size_t i;

	json_array_foreach(json_object_get(parties, "participants"), i, p) {
		struct ical_event e = { .anchor = id };

		name = ical_str(p, "name");
		ins = json_object_get(p, "instrument");
		if (name == NULL || (e.date = ical_str(p, "entry_into_force")) == NULL ||
		    json_is_true(json_object_get(p, "withdrawn")))
			continue;
		snprintf(e.uid, sizeof(e.uid), "%s-eif-%016llx@ratd", id,
		    (unsigned long long)ical_hash(name));
		if (asprintf(&summary, "%s in force for %s", id, name) < 0)
			continue;
		e.summary = summary;
		ical_describe(&e, "The %s (%s) enters into force for %s, whose instrument of %s "
		    "was deposited on %s.", title, id, name,
		    ical_str(ins, "kind") ? ical_str(ins, "kind") : "-",
		    ical_str(ins, "date") ? ical_str(ins, "date") : "-");
		ical_event(out, &e, stamp, base_url);
		free(e.description);
		free(summary);
	}
}

void
ical_write(FILE *out, const json_t *status, const json_t *parties, const char *base_url,
    time_t stamp)
{
	char dtstamp[32], name[256];
	struct tm tm;

	strftime(dtstamp, sizeof(dtstamp), "%Y%m%dT%H%M%SZ", gmtime_r(&stamp, &tm));
	ical_line(out, "BEGIN:VCALENDAR");
	ical_line(out, "VERSION:2.0");
	ical_line(out, "PRODID:-//ratd//ratd " RATD_VERSION "//EN");
	ical_line(out, "CALSCALE:GREGORIAN");
	ical_line(out, "METHOD:PUBLISH");
	snprintf(name, sizeof(name), "%s: entry into force",
	    ical_str(status, "id") ? ical_str(status, "id") : "-");
	ical_prop(out, "X-WR-CALNAME", name, NULL);
	ical_treaty(out, status, dtstamp, base_url);
	ical_participants(out, status, parties, dtstamp, base_url);
	ical_line(out, "END:VCALENDAR");
}
