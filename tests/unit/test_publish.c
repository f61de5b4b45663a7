/* The published files' renderers: calendar lines and texts, feed ids, escaping of what
 * a page or the configuration brings, the SVG chart's marks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "feed.h"
#include "helpers.h"
#include "ical.h"
#include "page.h"
#include "svg.h"

/* What fn wrote, as a fresh string. */
#define CAPTURE(buf, call) do {                                          \
		size_t len_;                                             \
		FILE *f = open_memstream(&(buf), &len_);                 \
		assert_non_null(f);                                      \
		call;                                                    \
		fclose(f);                                               \
	} while (0)

/* What call writes to f is want. */
#define ASSERT_WRITES(call, want) do {                                   \
		char *out_ = NULL;                                       \
		CAPTURE(out_, call);                                     \
		assert_string_equal(out_, want);                         \
		free(out_);                                              \
	} while (0)

/* Every physical line at most 75 octets, CRLF-ended, whole UTF-8 characters; unfolded,
 * the original line. */
static void
assert_folded(const char *out, const char *line)
{
	char *unfolded = calloc(1, strlen(out) + 1);
	const char *p = out, *eol;
	size_t n = 0;

	assert_non_null(unfolded);
	while (*p != '\0') {
		eol = strstr(p, "\r\n");
		assert_non_null(eol);
		assert_true(eol - p <= 75);
		/* A line never starts with a UTF-8 continuation byte after its blank. */
		if (p != out) {
			assert_int_equal(p[0], ' ');
			assert_false((p[1] & 0xc0) == 0x80);
			p++;
		}
		memcpy(unfolded + n, p, (size_t)(eol - p));
		n += (size_t)(eol - p);
		p = eol + 2;
	}
	assert_string_equal(unfolded, line);
	free(unfolded);
}

static void
test_ical_folding(void **state)
{
	char line[1024], *out = NULL;
	int i;

	for (i = 0; i < 200; i++)
		line[i] = (char)('a' + i % 26);
	line[200] = '\0';
	CAPTURE(out, ical_line(f, line));
	assert_folded(out, line);
	assert_int_equal(strncmp(out + 75, "\r\n ", 3), 0);
	free(out);
	/* Two-, three- and four-byte characters never cut. */
	strcpy(line, "SUMMARY:");
	for (i = 0; i < 40; i++)
		strcat(line, i % 3 == 0 ? "\xc3\xa9" : i % 3 == 1 ? "\xe2\x82\xac" : "\xf0\x9f\x8c\x8d");
	CAPTURE(out, ical_line(f, line));
	assert_folded(out, line);
	free(out);
	ASSERT_WRITES(ical_line(f, "END:VEVENT"), "END:VEVENT\r\n");
}

static void
test_ical_text(void **state)
{
	ASSERT_WRITES(ical_text(f, "a\\b;c,d\ne\rf"), "a\\\\b\\;c\\,d\\nef");
	/* FNV-1a 64 of "a": the UID part stays the same on every host. */
	assert_true(ical_hash("a") == 0xaf63dc4c8601ec8cULL);
}

static void
test_ical_calendar(void **state)
{
	json_t *st = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:n, s:n}", "id", "X-1",
	    "title", "A, B; C", "threshold", 2, "remaining", 0, "threshold_date", "2020-01-31",
	    "entry_into_force", "2020-04-01", "earliest_entry_into_force", "projection");
	json_t *pa = json_pack("{s:[{s:s, s:{s:s, s:s}, s:s, s:b}, {s:s, s:n, s:n, s:b},"
	    "{s:s, s:{s:s, s:s}, s:s, s:b}]}", "participants",
	    "name", "Côte d'Ivoire", "instrument", "date", "2020-01-31", "kind", "ratification",
	    "entry_into_force", "2020-04-01", "withdrawn", 0,
	    "name", "Signed Only", "instrument", "entry_into_force", "withdrawn", 0,
	    "name", "Gone", "instrument", "date", "2020-01-02", "kind", "accession",
	    "entry_into_force", "2020-04-01", "withdrawn", 1);
	char *out = NULL, uid[64];

	assert_non_null(st);
	assert_non_null(pa);
	CAPTURE(out, ical_write(f, st, pa, "https://h/t/", 1700000000));
	helpers_contains(out, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ratd//",
	    "\r\nCALSCALE:GREGORIAN\r\n",
	    "\r\nUID:X-1-eif@ratd\r\nDTSTAMP:20231114T221320Z\r\n"
	    "DTSTART;VALUE=DATE:20200401\r\nDTEND;VALUE=DATE:20200402\r\n", NULL);
	snprintf(uid, sizeof(uid), "UID:X-1-eif-%016llx@ratd",
	    (unsigned long long)ical_hash("Côte d'Ivoire"));
	helpers_contains(out, uid, "A\\, B\\; C", NULL);
	helpers_lacks(out, "Signed Only", "Gone", "earliest", NULL);
	assert_non_null(strstr(out, "\r\nURL:https://h/t/index.html#X-1\r\n"));
	assert_int_equal(strcmp(out + strlen(out) - 15, "END:VCALENDAR\r\n"), 0);
	free(out);
	json_decref(st);
	json_decref(pa);
}

static void
test_feed_authority(void **state)
{
	char a[64];

	feed_authority("https://User@Example.ORG:8443/x/", a, sizeof(a));
	assert_string_equal(a, "example.org");
	feed_authority("http://127.0.0.1:8080/", a, sizeof(a));
	assert_string_equal(a, "127.0.0.1");
	feed_authority("http://[::1]/", a, sizeof(a));
	assert_string_equal(a, "ratd.invalid");
	feed_authority("https://a_b.org/", a, sizeof(a));
	assert_string_equal(a, "ratd.invalid");
}

static void
test_feed_escapes_and_orders(void **state)
{
	json_t *evs = json_pack("[{s:I, s:s, s:s, s:s, s:s}, {s:I, s:s, s:s, s:s, s:s}]",
	    "id", (json_int_t)7, "time", "2024-01-02T03:04:05Z", "type", "new-party",
	    "treaty", "X-1", "summary", "X-1: <b>&\"'",
	    "id", (json_int_t)3, "time", "2023-01-02T03:04:05Z", "type", "new-signatory",
	    "treaty", "X-1", "summary", "older");
	json_t *titles = json_pack("{s:s}", "X-1", "T <x>"), *none = json_array();
	char *out = NULL;

	CAPTURE(out, feed_write(f, evs, titles, "https://ex.org/t/", "2000-01-01T00:00:00Z"));
	helpers_contains(out, "<id>tag:ex.org,2026:ratd/feed</id>",
	    "<updated>2024-01-02T03:04:05Z</updated>",
	    "<title>X-1: &lt;b&gt;&amp;&quot;&#39;</title>", "T &lt;x&gt;", NULL);
	assert_null(strstr(out, "<b>"));
	assert_true(strstr(out, "ratd/event/7<") < strstr(out, "ratd/event/3<"));
	assert_non_null(strstr(out, "href=\"https://ex.org/t/index.html#X-1\""));
	free(out);
	/* No event: the fallback time. */
	CAPTURE(out, feed_write(f, none, titles, "https://ex.org/t/",
	    "2000-01-01T00:00:00Z"));
	assert_non_null(strstr(out, "<updated>2000-01-01T00:00:00Z</updated>"));
	free(out);
	json_decref(evs);
	json_decref(titles);
	json_decref(none);
}

static void
test_svg_escape(void **state)
{
	ASSERT_WRITES(svg_escape(f, "<a href=\"x\">&'\x01\x7f\tok"),
	    "&lt;a href=&quot;x&quot;&gt;&amp;&#39;??\tok");
}

static void
test_svg_chart(void **state)
{
	json_t *tl = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:[{s:s, s:i}, {s:s, s:i}]}",
	    "treaty", "X-1", "as_of", "2021-06-30", "threshold", 2, "threshold_date",
	    "2021-03-14", "entry_into_force", "2021-07-01", "bucket", "month", "series",
	    "period", "2021-05", "counted", 1, "period", "2021-06", "counted", 2);
	json_t *empty = json_pack("{s:s, s:s, s:i, s:s, s:[]}", "treaty", "Y<1", "as_of",
	    "2021-06-30", "threshold", 5, "bucket", "year", "series");
	char *out = NULL;

	CAPTURE(out, svg_timeline(f, tl, true));
	assert_int_equal(strncmp(out, "<?xml", 5), 0);
	helpers_contains(out, "<title id=\"chart-X-1-title\">", "threshold 2</text>",
	    NULL);
	/* Entry into force after as_of: the axis runs on to it. */
	helpers_contains(out, "enters into force 2021-07-01", ">2021-06<", ">month<",
	    NULL);
	free(out);
	CAPTURE(out, svg_timeline(f, empty, false));
	assert_int_equal(strncmp(out, "<svg", 4), 0);
	helpers_contains(out, "no counted instrument yet", "Y&lt;1",
	    "threshold 5</text>", NULL);
	free(out);
	json_decref(tl);
	json_decref(empty);
}

static void
test_page_escapes(void **state)
{
	json_t *views = json_pack("[{s:{s:s, s:s, s:s, s:s, s:i, s:i, s:b, s:o}, s:{s:[]},"
	    "s:{}, s:[]}]", "status", "id", "X-1", "title", "<script>alert(1)</script>",
	    "url", "https://h/?a=1&b=\"2\"", "as_of", "2024-01-01", "counted", 3,
	    "threshold", 5, "in_force", 0, "source", json_pack("{s:s, s:s}", "state",
	    "failing", "error", "HTTP 503 <oops>"), "parties", "participants", "timeline",
	    "events");
	char *out = NULL;

	CAPTURE(out, page_write(f, views, "2024-01-01", NULL, false));
	assert_int_equal(strncmp(out, "<!DOCTYPE html>\n<html lang=\"en\">", 32), 0);
	assert_null(strstr(out, "<script"));
	helpers_contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;",
	    "href=\"https://h/?a=1&amp;b=&quot;2&quot;\"", "HTTP 503 &lt;oops&gt;",
	    "<span class=\"big\">3</span> of 5", "</html>\n",
	    "Figures as of <time datetime=\"2024-01-01\">2024-01-01</time> (UTC)",
	    "Dates are UTC.", NULL);
	free(out);
	/* With day_zone, today is a day of that zone and the page says so. */
	CAPTURE(out, page_write(f, views, "2024-01-01", "America/New_York", false));
	helpers_contains(out, "<time datetime=\"2024-01-01\">2024-01-01</time> "
	    "(America/New_York)", "Days are those of America/New_York; times are UTC.", NULL);
	helpers_lacks(out, "(UTC)", "Dates are UTC", NULL);
	free(out);
	json_decref(views);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ical_folding),
		cmocka_unit_test(test_ical_text),
		cmocka_unit_test(test_ical_calendar),
		cmocka_unit_test(test_feed_authority),
		cmocka_unit_test(test_feed_escapes_and_orders),
		cmocka_unit_test(test_svg_escape),
		cmocka_unit_test(test_svg_chart),
		cmocka_unit_test(test_page_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
