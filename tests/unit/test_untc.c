/* UNTC pages: the IV-13 fixtures in both formats, the layouts other treaties use, and
 * what a broken or hostile page must not do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "date.h"
#include "helpers.h"
#include "snapshot.h"
#include "untc.h"

static char err[256];

static day_t
ymd(int y, int m, int d)
{
	return date_from_ymd(y, m, d);
}

/* Parses a page given as a string; NULL leaves the reason in err. */
static struct snapshot *
parse_str(const char *page, enum untc_format fmt)
{
	err[0] = '\0';
	return untc_parse(page, strlen(page), fmt, err, sizeof(err));
}

/* CPU seconds this process spent since t0 (taken with CLOCK_PROCESS_CPUTIME_ID): what a
 * parse costs, which time spent waiting on a busy machine would blur. */
static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static const struct participant *
who(const struct snapshot *s, const char *name)
{
	return helpers_participant(s, name);
}

/* Participants with a dated signature (signature) or instrument (!signature). */
static int
dated(const struct snapshot *s, bool signature)
{
	size_t i;
	int n = 0;

	for (i = 0; i < s->n; i++)
		n += (signature ? s->v[i].signature : s->v[i].instrument).date != DAY_NONE;
	return n;
}
#define with_instrument(s) dated((s), false)
#define with_signature(s) dated((s), true)

static void
assert_action(struct action a, day_t date, enum kind kind)
{
	assert_int_equal(a.date, date);
	assert_int_equal(a.kind, kind);
}

static void
assert_csv_cell(struct action a, const char *date, const char *kind)
{
	day_t d;

	if (*date == '\0') {
		assert_action(a, DAY_NONE, KIND_NONE);
		return;
	}
	assert_int_equal(date_parse_iso(date, &d), 0);
	assert_int_equal(a.date, d);
	assert_string_equal(kind_name(a.kind), kind);
}

/* Every row of participants.csv, in page order. */
static void
assert_matches_csv(const struct snapshot *s)
{
	char path[512], line[512], *f[5], *p;
	size_t row = 0;
	FILE *fp;
	int i;

	snprintf(path, sizeof(path), "%s/participants.csv", FIXTURES);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(line, sizeof(line), fp));
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		for (p = line, i = 0; i < 5; i++)
			assert_non_null(f[i] = strsep(&p, ","));
		assert_true(row < s->n);
		assert_string_equal(s->v[row].name, f[0]);
		assert_false(s->v[row].withdrawn);
		assert_csv_cell(s->v[row].signature, f[1], f[2]);
		assert_csv_cell(s->v[row].instrument, f[3], f[4]);
		row++;
	}
	fclose(fp);
	assert_int_equal(row, 70);
	assert_int_equal(s->n, 70);
}

/* The facts both IV-13 files state as at 2024-09-30. */
static void
assert_iv13_2024(const struct snapshot *s)
{
	assert_int_equal(s->n, 70);
	assert_int_equal(with_instrument(s), 59);
	assert_int_equal(with_signature(s), 40);
	assert_action(who(s, "Albania")->instrument, ymd(2007, 6, 5), KIND_ACCESSION);
	assert_action(who(s, "Albania")->signature, DAY_NONE, KIND_NONE);
	assert_action(who(s, "Argentina")->signature, ymd(2004, 8, 10), KIND_SIGNATURE);
	assert_action(who(s, "Argentina")->instrument, ymd(2007, 2, 23), KIND_RATIFICATION);
	assert_string_equal(s->v[snapshot_find(s, "Montenegro")].name, "Montenegro");
	assert_action(who(s, "Montenegro")->signature, ymd(2006, 10, 23), KIND_SUCCESSION);
	assert_action(who(s, "Montenegro")->instrument, DAY_NONE, KIND_NONE);
	assert_action(who(s, "Serbia")->signature, ymd(2004, 11, 11), KIND_SIGNATURE);
	assert_action(who(s, "C\xc3\xb4te d'Ivoire")->instrument, ymd(2023, 9, 26), KIND_ACCESSION);
	assert_action(who(s, "T\xc3\xbcrkiye")->instrument, ymd(2004, 9, 27), KIND_RATIFICATION);
	assert_action(who(s, "Bolivia (Plurinational State of)")->instrument, ymd(2000, 10, 16),
	    KIND_ACCESSION);
	assert_non_null(who(s, "St. Vincent and the Grenadines"));
	assert_int_equal(s->stated_parties, 59);
	assert_int_equal(s->stated_signatories, 40);
	assert_int_equal(s->stated_eif_date, ymd(2003, 7, 1));
	assert_string_equal(s->stated_eif, "1 July 2003, in accordance with article 87(1).");
}

static void
test_html_iv13(void **state)
{
	struct snapshot *s = helpers_parse_fixture("IV-13.html", UNTC_AUTO);

	assert_iv13_2024(s);
	assert_string_equal(s->status_as_at, "2024-09-30T09:00:44Z");
	assert_matches_csv(s);
	snapshot_free(s);
}

static void
test_xml_iv13(void **state)
{
	struct snapshot *s = helpers_parse_fixture("IV-13.xml", UNTC_AUTO);

	assert_iv13_2024(s);
	assert_null(s->status_as_at);
	assert_matches_csv(s);
	snapshot_free(s);
}

static void
test_forced_formats_agree(void **state)
{
	struct snapshot *h = helpers_parse_fixture("IV-13.html", UNTC_HTML);
	struct snapshot *x = helpers_parse_fixture("IV-13.xml", UNTC_XML);

	assert_true(snapshot_same_table(h, x));
	snapshot_free(h);
	snapshot_free(x);
}

static void
test_html_before_entry_into_force(void **state)
{
	struct snapshot *s = helpers_parse_fixture("IV-13.2003-03-13.html", UNTC_AUTO);

	assert_int_equal(with_instrument(s), 19);
	assert_int_equal(s->stated_parties, 19);
	assert_int_equal(s->stated_signatories, 17);
	assert_int_equal(s->stated_eif_date, DAY_NONE);
	assert_non_null(s->stated_eif);
	assert_true(strncmp(s->stated_eif, "in accordance with article 87(1) which", 38) == 0);
	assert_string_equal(s->status_as_at, "2003-03-13T09:00:44Z");
	assert_action(who(s, "El Salvador")->instrument, DAY_NONE, KIND_NONE);
	snapshot_free(s);
}

static void
test_html_threshold_day(void **state)
{
	struct snapshot *s = helpers_parse_fixture("IV-13.2003-03-14.html", UNTC_AUTO);

	assert_int_equal(with_instrument(s), 21);
	assert_int_equal(s->stated_parties, 21);
	assert_action(who(s, "El Salvador")->instrument, ymd(2003, 3, 14), KIND_RATIFICATION);
	assert_action(who(s, "Guatemala")->instrument, ymd(2003, 3, 14), KIND_RATIFICATION);
	snapshot_free(s);
}

#define GRID_ID "ctl00_ContentPlaceHolder1_tblgrid"
#define HEAD3 "<tr><td>Participant</td><td>Signature, Succession to signature(d)</td>" \
	"<td>Ratification, Accession(a), Succession(d)</td></tr>"
#define DECOY "<table id=\"terr\"><tr><td>Participant</td>" \
	"<td>Date of receipt of notification</td><td>Territories</td></tr>" \
	"<tr><td>Decoyland</td><td> 1 Jan\t 2001 </td><td>Islands</td></tr></table>"

static void
test_th_header_in_thead(void **state)
{
	struct snapshot *s = parse_str("<html><body><table id=\"x_tblgrid\"><thead><tr>"
	    "<th>Participant</th><th>Signature</th><th>Ratification, Accession(a)</th></tr>"
	    "</thead><tbody><tr><td>Chile</td><td>24 Sep\t 1993 </td><td>21 Mar\t 2005 </td></tr>"
	    "<tr><td>Egypt</td><td>&nbsp;</td><td>19 Feb\t 1993 a</td></tr></tbody></table>"
	    "</body></html>", UNTC_HTML);

	assert_non_null(s);
	assert_int_equal(s->n, 2);
	assert_action(who(s, "Chile")->signature, ymd(1993, 9, 24), KIND_SIGNATURE);
	assert_action(who(s, "Chile")->instrument, ymd(2005, 3, 21), KIND_RATIFICATION);
	assert_action(who(s, "Egypt")->instrument, ymd(1993, 2, 19), KIND_ACCESSION);
	assert_int_equal(s->stated_parties, -1);
	assert_int_equal(s->stated_signatories, -1);
	assert_null(s->stated_eif);
	assert_null(s->status_as_at);
	snapshot_free(s);
}

static void
test_decoy_before_tblgrid(void **state)
{
	struct snapshot *s = parse_str("<html><body>" DECOY "<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>Chile</td><td>24 Sep\t 1993 </td><td>21 Mar\t 2005 </td></tr>"
	    "</table></body></html>", UNTC_HTML);

	assert_non_null(s);
	assert_int_equal(s->n, 1);
	assert_string_equal(s->v[0].name, "Chile");
	snapshot_free(s);
}

static void
test_fallback_without_tblgrid_skips_decoy(void **state)
{
	struct snapshot *s = parse_str("<html><body>" DECOY "<table class=\"table\">" HEAD3
	    "<tr><td>Chile</td><td>24 Sep\t 1993 </td><td>21 Mar\t 2005 </td></tr>"
	    "<tr><td>Mexico</td><td>22 May\t 1991 </td><td> 8 Mar\t 1999 </td></tr>"
	    "</table></body></html>", UNTC_HTML);

	assert_non_null(s);
	assert_int_equal(s->n, 2);
	assert_int_equal(snapshot_find(s, "Decoyland"), -1);
	assert_action(who(s, "Mexico")->instrument, ymd(1999, 3, 8), KIND_RATIFICATION);
	snapshot_free(s);
}

static void
test_decoy_alone_is_refused(void **state)
{
	assert_null(parse_str("<html><body>" DECOY "</body></html>", UNTC_HTML));
	assert_string_equal(err, "participants table has no instrument column");
	assert_null(parse_str("<html><body><table id=\"" GRID_ID "\"><tr><td>Participant</td>"
	    "<td>Date of receipt of notification</td></tr><tr><td>A</td><td>x</td></tr>"
	    "</table></body></html>", UNTC_HTML));
	assert_string_equal(err, "participants table has no instrument column");
}

static void
test_withdrawn_in_brackets(void **state)
{
	struct snapshot *s = parse_str("<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>[Ruritania<sup>4</sup>]</td><td>&nbsp;</td><td> 1 Feb\t 2001 a</td></tr>"
	    "<tr><td>Chile</td><td>24 Sep\t 1993 </td><td></td></tr></table>", UNTC_HTML);

	assert_non_null(s);
	assert_string_equal(s->v[0].name, "Ruritania");
	assert_true(s->v[0].withdrawn);
	assert_action(s->v[0].instrument, ymd(2001, 2, 1), KIND_ACCESSION);
	assert_false(who(s, "Chile")->withdrawn);
	snapshot_free(s);
}

/* Column headings name the kinds in any order and any subset: a letter is read by the
 * heading of its own column, and a date without one is a ratification. */
static const struct {
	const char *page;
	int n;                          /* rows in the table; -1: not checked */
	struct {
		const char *name;
		bool signature;         /* the signature column, not the instrument */
		const char *date;       /* NULL: none */
		enum kind kind;
	} facts[4];
} labelled[] = {
	/* Acceptance(A) comes first, Approval(AA) after. */
	{ "<table id=\"" GRID_ID "\"><tr><td>Participant</td>"
	    "<td>Signature</td>"
	    "<td>Acceptance(A), Ratification, Approval(AA), Accession(a)</td></tr>"
	    "<tr><td>A</td><td></td><td> 1 Jan\t 2000 A</td></tr>"
	    "<tr><td>B</td><td></td><td> 2 Feb\t 2001 </td></tr>"
	    "<tr><td>C</td><td></td><td> 3 Mar\t 2002 AA</td></tr>"
	    "<tr><td>D</td><td></td><td> 4 Apr\t 2003 a</td></tr></table>", -1, {
		{ "A", false, "2000-01-01", KIND_ACCEPTANCE },
		{ "B", false, "2001-02-02", KIND_RATIFICATION },
		{ "C", false, "2002-03-03", KIND_APPROVAL },
		{ "D", false, "2003-04-04", KIND_ACCESSION } } },
	/* Two columns: no signature column at all. */
	{ "<table id=\"" GRID_ID "\"><tr><td>Participant</td>"
	    "<td>Ratification, Accession(a)</td></tr>"
	    "<tr><td>Fiji</td><td>19 Aug\t 2019 a</td></tr>"
	    "<tr><td>Ghana</td><td> 7 Sep\t 2000 </td></tr></table>", 2, {
		{ "Fiji", false, "2019-08-19", KIND_ACCESSION },
		{ "Fiji", true, NULL, KIND_NONE },
		{ "Ghana", false, "2000-09-07", KIND_RATIFICATION } } },
	/* Formal confirmation(c) and definitive signature(s). */
	{ "<table id=\"" GRID_ID "\"><tr><td>Participant</td>"
	    "<td>Signature</td><td>Definitive signature(s), Ratification, "
	    "Formal confirmation(c), Accession(a)</td></tr>"
	    "<tr><td>Org</td><td> 1 Jan\t 2000 </td><td> 5 May\t 2005 c</td></tr>"
	    "<tr><td>Land</td><td></td><td> 6 Jun\t 2006 s</td></tr>"
	    "<tr><td>Other</td><td></td><td> 7 Jul\t 2007 </td></tr></table>", -1, {
		{ "Org", false, "2005-05-05", KIND_CONFIRMATION },
		{ "Land", false, "2006-06-06", KIND_RATIFICATION },
		{ "Other", false, "2007-07-07", KIND_RATIFICATION } } },
};

static void
test_kinds_by_column_labels(void **state)
{
	const struct participant *p;
	struct snapshot *s;
	size_t i, k;

	for (i = 0; i < sizeof(labelled) / sizeof(labelled[0]); i++) {
		assert_non_null(s = parse_str(labelled[i].page, UNTC_HTML));
		if (labelled[i].n >= 0)
			assert_int_equal(s->n, labelled[i].n);
		for (k = 0; k < 4 && labelled[i].facts[k].name != NULL; k++) {
			p = who(s, labelled[i].facts[k].name);
			assert_action(labelled[i].facts[k].signature ? p->signature : p->instrument,
			    labelled[i].facts[k].date == NULL ? DAY_NONE :
			    helpers_day(labelled[i].facts[k].date), labelled[i].facts[k].kind);
		}
		snapshot_free(s);
	}
}

static void
test_nbsp_tabs_and_footnotes(void **state)
{
	struct snapshot *s = parse_str("<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>\n\t&nbsp;Sao\xc2\xa0Tome  and\tPrincipe&nbsp;</td>"
	    "<td>\xc2\xa0" "6&nbsp;Sep\t 2000 </td><td>10 Jan\t 2017 <sup>3</sup></td></tr>"
	    "<tr><td>Albania</td><td>&nbsp;</td><td> 5 Jun\t 2007 a<sup>3</sup></td></tr>"
	    "</table>", UNTC_HTML);

	assert_non_null(s);
	assert_string_equal(s->v[0].name, "Sao Tome and Principe");
	assert_action(s->v[0].signature, ymd(2000, 9, 6), KIND_SIGNATURE);
	assert_action(s->v[0].instrument, ymd(2017, 1, 10), KIND_RATIFICATION);
	assert_action(who(s, "Albania")->instrument, ymd(2007, 6, 5), KIND_ACCESSION);
	snapshot_free(s);
}

static void
test_header_block_variants(void **state)
{
	struct snapshot *s = parse_str("<div id=\"a_rptStatus_ctl00_tcText\">Parties : 3.</div>"
	    "<div id=\"a_rptEIF_ctl00_tcText\">\n 1 July 2003, in accordance</div>"
	    "<p>STATUS AS AT : 05-01-2024 10:00:00 EST</p>"
	    "<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>Chile</td><td></td><td>21 Mar\t 2005 </td></tr></table>", UNTC_HTML);

	assert_non_null(s);
	assert_int_equal(s->stated_parties, 3);
	assert_int_equal(s->stated_signatories, -1);
	assert_int_equal(s->stated_eif_date, ymd(2003, 7, 1));
	assert_string_equal(s->status_as_at, "2024-01-05T15:00:00Z");
	snapshot_free(s);
	/* A time in an unknown zone is not guessed at. */
	s = parse_str("<div id=\"x_divStatusAsAt\">STATUS AS AT : 05-01-2024 10:00:00 CET</div>"
	    "<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>Chile</td><td></td><td>21 Mar\t 2005 </td></tr></table>", UNTC_HTML);
	assert_non_null(s);
	assert_null(s->status_as_at);
	snapshot_free(s);
}

static void
test_charsets(void **state)
{
	struct snapshot *s = parse_str("<html><head><meta http-equiv=\"Content-Type\" "
	    "content=\"text/html; charset=iso-8859-1\"></head><body><table id=\"" GRID_ID "\">"
	    HEAD3 "<tr><td>C\xf4te d'Ivoire</td><td></td><td>26 Sep\t 2023 a</td></tr>"
	    "</table></body></html>", UNTC_HTML);

	assert_non_null(s);
	assert_string_equal(s->v[0].name, "C\xc3\xb4te d'Ivoire");
	snapshot_free(s);
	/* No declaration: UTF-8. */
	s = parse_str("<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>T\xc3\xbcrkiye</td><td></td><td>27 Sep\t 2004 </td></tr></table>", UNTC_HTML);
	assert_non_null(s);
	assert_string_equal(s->v[0].name, "T\xc3\xbcrkiye");
	snapshot_free(s);
}

/* The name of a Latin-1 page's first participant as read with the <meta> of head. */
static void
assert_sniffed(const char *head, const char *name)
{
	char page[8192];
	struct snapshot *s;

	snprintf(page, sizeof(page), "<html><head>%s</head><body><table id=\"" GRID_ID "\">"
	    HEAD3 "<tr><td>C\xf4te d'Ivoire</td><td></td><td>26 Sep 2023 a</td></tr></table>"
	    "</body></html>", head);
	s = parse_str(page, UNTC_HTML);
	if (s == NULL)
		fail_msg("%s: %s", head, err);
	assert_string_equal(s->v[0].name, name);
	snapshot_free(s);
}

/* The <meta> charset is found in one pass over the page's head: each tag is read to
 * its '>', then the search goes on after it. */
static void
test_charset_sniffing(void **state)
{
	static const char latin1[] = "C\xc3\xb4te d'Ivoire", utf8[] = "C\xef\xbf\xbdte d'Ivoire";
	char many[4096];
	size_t i;

	assert_sniffed("<META CHARSET=\"ISO-8859-1\">", latin1);
	/* A "charset" that is not followed by '=' is not the attribute. */
	assert_sniffed("<meta name=\"charset\" charset=iso-8859-1>", latin1);
	assert_sniffed("<meta name=\"x\"><meta content=\"text/html; charset = 'iso-8859-1'\">",
	    latin1);
	/* Only the first <meta> that names a charset counts, known or not. */
	assert_sniffed("<meta charset=\"utf-8\"><meta charset=\"iso-8859-1\">", utf8);
	assert_sniffed("<meta charset=\"no-such-charset\"><meta charset=\"iso-8859-1\">", utf8);
	/* Thousands of unclosed "<meta" run to the end of the page: no charset in them. */
	for (i = 0; i + 6 < sizeof(many); i += 6)
		memcpy(many + i, "<meta ", 6);
	many[i] = '\0';
	assert_sniffed(many, utf8);
	assert_sniffed("<meta charset=iso-8859-1", latin1);
}

static void
test_error_page(void **state)
{
	assert_null(parse_str("<html><head><title>Runtime Error</title></head><body>"
	    "<h1>Server Error in '/' Application.</h1><h2><i>Runtime Error</i></h2>"
	    "</body></html>", UNTC_AUTO));
	assert_string_equal(err, "no participants table (page title 'Runtime Error')");
}

static void
test_bad_cells_fail_the_page(void **state)
{
	assert_null(parse_str("<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>Albania</td><td></td><td>xyz</td></tr></table>", UNTC_HTML));
	assert_string_equal(err, "Albania: instrument cell 'xyz' is not a date");
	assert_null(parse_str("<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>Chile</td><td>31 Feb\t 2001 </td><td></td></tr></table>", UNTC_HTML));
	assert_string_equal(err, "Chile: signature cell '31 Feb 2001' is not a date");
	assert_null(parse_str("<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>Chile</td><td></td><td>1 Feb 2001 z</td></tr></table>", UNTC_HTML));
	assert_string_equal(err, "Chile: instrument cell '1 Feb 2001 z' is not a date");
}

static void
test_table_defects(void **state)
{
	assert_null(parse_str("<table id=\"" GRID_ID "\">" HEAD3 "</table>", UNTC_HTML));
	assert_string_equal(err, "participants table is empty");
	assert_null(parse_str("<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td></td><td></td><td></td></tr></table>", UNTC_HTML));
	assert_string_equal(err, "participants table is empty");
	assert_null(parse_str("<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>Chile</td><td></td><td></td></tr>"
	    "<tr><td>Chile<sup>1</sup></td><td></td><td></td></tr></table>", UNTC_HTML));
	assert_string_equal(err, "participant 'Chile' appears twice");
	assert_null(parse_str("<p>nothing here</p>", UNTC_HTML));
	assert_string_equal(err, "no participants table");
}

static void
test_too_many_rows(void **state)
{
	const char *head = "<table id=\"" GRID_ID "\">" HEAD3;
	size_t cap = strlen(head) + (SNAPSHOT_MAX_PARTICIPANTS + 1) * 64 + 16, i;
	char *page = malloc(cap), *p;

	assert_non_null(page);
	p = page + sprintf(page, "%s", head);
	for (i = 0; i <= SNAPSHOT_MAX_PARTICIPANTS; i++)
		p += sprintf(p, "<tr><td>P%zu</td><td></td><td> 1 Jan 2000 </td></tr>", i);
	strcpy(p, "</table>");
	assert_null(parse_str(page, UNTC_HTML));
	assert_string_equal(err, "participants table has more than 1000 rows");
	free(page);
}

static void
test_long_texts_are_bounded(void **state)
{
	char page[8192], name[SNAPSHOT_MAX_NAME + 2];
	struct snapshot *s;
	size_t i, n;

	/* An entry-into-force text is cut at a character boundary. */
	n = (size_t)snprintf(page, sizeof(page), "<div id=\"a_rptEIF_ctl00_tcText\">");
	for (i = 0; i < 1500; i++)
		n += (size_t)snprintf(page + n, sizeof(page) - n, "\xc3\xa9");
	snprintf(page + n, sizeof(page) - n, "</div><table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>Chile</td><td></td><td></td></tr></table>");
	assert_non_null(s = parse_str(page, UNTC_HTML));
	assert_non_null(s->stated_eif);
	assert_true(strlen(s->stated_eif) <= SNAPSHOT_MAX_TEXT);
	assert_true(strlen(s->stated_eif) >= SNAPSHOT_MAX_TEXT - 2);
	assert_int_equal(strlen(s->stated_eif) % 2, 0);
	snapshot_free(s);
	/* A name of SNAPSHOT_MAX_NAME bytes is a name; one more is not. */
	memset(name, 'x', sizeof(name) - 2);
	name[sizeof(name) - 2] = '\0';
	snprintf(page, sizeof(page), "<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>%s</td><td></td><td></td></tr></table>", name);
	assert_non_null(s = parse_str(page, UNTC_HTML));
	snapshot_free(s);
	strcat(name, "x");
	snprintf(page, sizeof(page), "<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>%s</td><td></td><td></td></tr></table>", name);
	assert_null(parse_str(page, UNTC_HTML));
	assert_true(strncmp(err, "participant name longer than 200 bytes:", 39) == 0);
}

/* A page of nested tables is refused in bounded time. */
static void
test_nested_tables_are_cheap(void **state)
{
	static const char open[] = "<table><tr><td>Participant</td><td>";
	size_t depth = 20000, i, n = 0;
	char *page = malloc(depth * sizeof(open) + 64);
	struct timespec t0;

	assert_non_null(page);
	for (i = 0; i < depth; i++)
		n += (size_t)sprintf(page + n, "%s", open);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	assert_null(untc_parse(page, n, UNTC_HTML, err, sizeof(err)));
	assert_true(seconds_since(&t0) < 2.0);
	free(page);
}

static void
test_huge_body_is_refused(void **state)
{
	size_t len = ((size_t)64 << 20) + 1;
	char *page = malloc(len);

	assert_non_null(page);
	memset(page, '<', len);
	assert_null(untc_parse(page, len, UNTC_AUTO, err, sizeof(err)));
	assert_string_equal(err, "page larger than 64 MiB");
	free(page);
}

static void
test_not_a_page(void **state)
{
	static const char garbage[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\x01<\xff\xfe";

	assert_null(untc_parse("", 0, UNTC_AUTO, err, sizeof(err)));
	assert_string_equal(err, "empty page");
	assert_null(untc_parse(NULL, 0, UNTC_HTML, err, sizeof(err)));
	assert_string_equal(err, "empty page");
	assert_null(untc_parse(garbage, sizeof(garbage) - 1, UNTC_AUTO, err, sizeof(err)));
	assert_string_equal(err, "page is not HTML or XML");
	assert_null(untc_parse("just text", 9, UNTC_XML, err, sizeof(err)));
	assert_string_equal(err, "page is not HTML or XML");
	/* An error buffer is optional. */
	assert_null(untc_parse("", 0, UNTC_AUTO, NULL, 0));
}

static void
test_xml_layouts(void **state)
{
	struct snapshot *s = parse_str("<?xml version=\"1.0\"?><Any><Deep><Treaty><Header>"
	    "<ExternalData><EIF><Labeltext>in accordance with article 5</Labeltext></EIF>"
	    "<Status>Parties<Parties>1</Parties></Status></ExternalData></Header>"
	    "<Participants><Table><TGroup><Thead><Row><Entry>Participant</Entry>"
	    "<Entry>Ratification, Accession(a)</Entry></Row></Thead><Tbody><Rows>"
	    "<Row><Entry>[Gone&lt;superscript&gt;1&lt;/superscript&gt;]</Entry>"
	    "<Entry>1 Jan\t 2001 a</Entry></Row>"
	    "<Row><Entry><![CDATA[Here]]></Entry><Entry>2 Feb 2002</Entry></Row>"
	    "</Rows></Tbody></TGroup></Table></Participants></Treaty></Deep></Any>", UNTC_AUTO);

	assert_non_null(s);
	assert_int_equal(s->n, 2);
	assert_string_equal(s->v[0].name, "Gone");
	assert_true(s->v[0].withdrawn);
	assert_action(s->v[0].instrument, ymd(2001, 1, 1), KIND_ACCESSION);
	assert_action(who(s, "Here")->instrument, ymd(2002, 2, 2), KIND_RATIFICATION);
	assert_int_equal(s->stated_parties, 1);
	assert_int_equal(s->stated_signatories, -1);
	assert_string_equal(s->stated_eif, "in accordance with article 5");
	assert_int_equal(s->stated_eif_date, DAY_NONE);
	snapshot_free(s);
}

/* Read in one pass when laid out as MTDSG files are; read the same when not: a Thead
 * after its Tbody, the Header after the Participants, a footnote before the table. */
static void
test_xml_any_order(void **state)
{
	static const char *const pages[] = {
	    "<?xml version=\"1.0\"?><MTDSG><Treaty><Header><ExternalData><Status>"
	    "<Parties>2</Parties></Status></ExternalData></Header><Participants><Table>"
	    "<TGroup><Thead><Row><Entry>Participant</Entry><Entry>Ratification</Entry></Row>"
	    "</Thead><Tbody><Rows><Row><Entry>A&lt;superscript&gt;1&lt;/superscript&gt;"
	    "</Entry><Entry>1 Jan 2001</Entry></Row><Row><Entry>B</Entry>"
	    "<Entry>2 Feb 2002</Entry></Row></Rows></Tbody></TGroup></Table></Participants>"
	    "<Footnote>1 A note.</Footnote></Treaty></MTDSG>",
	    "<?xml version=\"1.0\"?><MTDSG><Treaty><Footnote>1 A note.</Footnote>"
	    "<Participants><Table><TGroup><Tbody><Rows><Row><Entry>A&lt;superscript&gt;1"
	    "&lt;/superscript&gt;</Entry><Entry>1 Jan 2001</Entry></Row><Row><Entry>B"
	    "</Entry><Entry>2 Feb 2002</Entry></Row></Rows></Tbody><Thead><Row><Entry>"
	    "Participant</Entry><Entry>Ratification</Entry></Row></Thead></TGroup></Table>"
	    "</Participants><Header><ExternalData><Status><Parties>2</Parties></Status>"
	    "</ExternalData></Header></Treaty></MTDSG>",
	};
	struct snapshot *s;
	size_t i;

	for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		assert_non_null(s = parse_str(pages[i], UNTC_AUTO));
		assert_int_equal(s->n, 2);
		assert_string_equal(s->v[0].name, "A");
		assert_action(s->v[1].instrument, ymd(2002, 2, 2), KIND_RATIFICATION);
		assert_int_equal(s->stated_parties, 2);
		assert_int_equal(s->v[0].nnotes, 1);
		assert_string_equal(s->v[0].notes[0], "A note.");
		snapshot_free(s);
	}
}

static void
test_xml_defects(void **state)
{
	assert_null(parse_str("<?xml version=\"1.0\"?><MTDSG><Treaty/></MTDSG>", UNTC_AUTO));
	assert_string_equal(err, "no participants table");
	assert_null(parse_str("<?xml version=\"1.0\"?><MTDSG><Participants>", UNTC_AUTO));
	assert_true(strncmp(err, "XML is not well-formed (line 1: ", 32) == 0);
	assert_null(strchr(err, '\n'));
}

/* Entities are refused before anything is read, let alone expanded or fetched. */
static void
assert_hostile_refused(const char *name)
{
	struct snapshot *s;
	struct timespec t0;
	size_t len, i;
	char *buf = helpers_read_fixture(name, &len);

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	s = untc_parse(buf, len, UNTC_AUTO, err, sizeof(err));
	assert_true(seconds_since(&t0) < 1.0);
	for (i = 0; s != NULL && i < s->n; i++) {
		assert_null(strstr(s->v[i].name, "root:"));
		assert_null(strstr(s->v[i].name, "lollol"));
	}
	assert_null(s);
	assert_string_equal(err, "XML declares entities; refused");
	free(buf);
}

static void
test_xxe_is_refused(void **state)
{
	assert_hostile_refused("xxe.xml");
}

static void
test_billion_laughs_is_refused(void **state)
{
	assert_hostile_refused("billion-laughs.xml");
}

static void
test_parse_cell(void **state)
{
	const char *ins[KIND_COUNT_] = { [KIND_ACCESSION] = "a", [KIND_SUCCESSION] = "d",
	    [KIND_ACCEPTANCE] = "A", [KIND_APPROVAL] = "AA" };
	const char *none[KIND_COUNT_] = { NULL };
	struct action a;

	assert_int_equal(untc_parse_cell(" 5 Jun\t 2007 a", ins, KIND_RATIFICATION, &a), 0);
	assert_action(a, ymd(2007, 6, 5), KIND_ACCESSION);
	assert_int_equal(untc_parse_cell("14 Mar\t 2003 ", ins, KIND_RATIFICATION, &a), 0);
	assert_action(a, ymd(2003, 3, 14), KIND_RATIFICATION);
	assert_int_equal(untc_parse_cell("1 Jan 2000 AA", ins, KIND_RATIFICATION, &a), 0);
	assert_action(a, ymd(2000, 1, 1), KIND_APPROVAL);
	assert_int_equal(untc_parse_cell("1 Jan 2000 A", ins, KIND_RATIFICATION, &a), 0);
	assert_action(a, ymd(2000, 1, 1), KIND_ACCEPTANCE);
	assert_int_equal(untc_parse_cell("\xc2\xa0" "23 Oct\xc2\xa0" "2006\xc2\xa0" "d", ins,
	    KIND_RATIFICATION, &a), 0);
	assert_action(a, ymd(2006, 10, 23), KIND_SUCCESSION);
	assert_int_equal(untc_parse_cell("1 July 2003", none, KIND_SIGNATURE, &a), 0);
	assert_action(a, ymd(2003, 7, 1), KIND_SIGNATURE);
	assert_int_equal(untc_parse_cell("29 Feb 2004", none, KIND_SIGNATURE, &a), 0);
	assert_action(a, ymd(2004, 2, 29), KIND_SIGNATURE);

	assert_int_equal(untc_parse_cell("", ins, KIND_RATIFICATION, &a), 0);
	assert_action(a, DAY_NONE, KIND_NONE);
	assert_int_equal(untc_parse_cell(" \t\xc2\xa0 ", ins, KIND_RATIFICATION, &a), 0);
	assert_action(a, DAY_NONE, KIND_NONE);

	assert_int_equal(untc_parse_cell("31 Feb 2001", ins, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("29 Feb 2003", ins, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("0 Jan 2001", ins, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("1 Foo 2001", ins, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("1 Jan 01", ins, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("1 Jan 20011", ins, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("123 Jan 2001", ins, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("1 Jan 2001 x", ins, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("1 Jan 2001 a a", ins, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("1 Jan 2001 a", none, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("1 Jan 2001", none, KIND_NONE, &a), -1);
	assert_int_equal(untc_parse_cell("xyz", ins, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("2001-01-01", ins, KIND_RATIFICATION, &a), -1);
	assert_int_equal(untc_parse_cell("99999999999999999999 Jan 2001", ins, KIND_RATIFICATION,
	    &a), -1);
	assert_action(a, DAY_NONE, KIND_NONE);
}

static void
test_detect(void **state)
{
	static const char bom_xml[] = "\xef\xbb\xbf \r\n<?xml version=\"1.0\"?><MTDSG/>";
	static const char xhtml[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!DOCTYPE html "
	    "PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"x\"><html xmlns=\"x\"></html>";
	static const char xhtml2[] = "<?xml version=\"1.0\"?><HTML><body></body></HTML>";

	assert_int_equal(untc_detect("<?xml version=\"1.0\"?><MTDSG/>", 29), UNTC_XML);
	assert_int_equal(untc_detect(bom_xml, sizeof(bom_xml) - 1), UNTC_XML);
	assert_int_equal(untc_detect(xhtml, sizeof(xhtml) - 1), UNTC_HTML);
	assert_int_equal(untc_detect(xhtml2, sizeof(xhtml2) - 1), UNTC_HTML);
	assert_int_equal(untc_detect("<!DOCTYPE html><html></html>", 28), UNTC_HTML);
	assert_int_equal(untc_detect("<html><body>x</body></html>", 27), UNTC_HTML);
	assert_int_equal(untc_detect("<MTDSG/>", 8), UNTC_HTML);
	assert_int_equal(untc_detect("<?xm", 4), UNTC_HTML);
	assert_int_equal(untc_detect("", 0), UNTC_HTML);
}

/* A byte that is not UTF-8 in a page without a charset becomes U+FFFD: the snapshot
 * stays storable (JSON needs UTF-8) instead of failing every commit. */
static void
test_invalid_utf8_is_replaced(void **state)
{
	struct snapshot *s = parse_str("<table><tr><td>Participant<td>Ratification"
	    "<tr><td>Ruri\xb0tania<td>14 Mar 2003", UNTC_HTML);
	json_t *j;

	assert_int_equal(s->n, 1);
	assert_string_equal(s->v[0].name, "Ruri\xef\xbf\xbdtania");
	assert_non_null(j = snapshot_to_json(s));
	json_decref(j);
	snapshot_free(s);
}

/* A refusal quotes at most 60 bytes of the page and never half a character: the
 * title of a French error page has its 60th byte inside "é". */
static void
test_reason_cut_between_characters(void **state)
{
	assert_null(parse_str("<html><head><title>Collection des trait\xc3\xa9s des Nations "
	    "Unies \xe2\x80\x94 erreur d\xe2\x80\x99\x65x\xc3\xa9\x63ution</title></head>"
	    "<body>Erreur</body></html>", UNTC_AUTO));
	assert_string_equal(err, "no participants table (page title 'Collection des "
	    "trait\xc3\xa9s des Nations Unies \xe2\x80\x94 erreur d\xe2\x80\x99\x65x')");
	/* A cell that is not a date, quoted up to a cut inside "—". */
	assert_null(parse_str("<table id=\"" GRID_ID "\">" HEAD3 "<tr><td>Chad</td><td></td>"
	    "<td>Ratifi\xc3\xa9 par le Tchad le vingt-deux f\xc3\xa9vrier deux mille v "
	    "\xe2\x80\x94 deux</td></tr></table>", UNTC_HTML));
	assert_string_equal(err, "Chad: instrument cell 'Ratifi\xc3\xa9 par le Tchad le "
	    "vingt-deux f\xc3\xa9vrier deux mille v ' is not a date");
	/* A reason longer than err itself ends on a whole character too. */
	char small[18];
	const char *p = "<html><head><title>\xc3\xa9\xc3\xa9</title></head></html>";
	assert_null(untc_parse(p, strlen(p), UNTC_HTML, small, sizeof(small)));
	assert_string_equal(small, "no participants t");
	assert_null(untc_parse(p, strlen(p), UNTC_HTML, small, 3));
	assert_string_equal(small, "no");
}

#define C1_CSI "\xc2\x9b"       /* U+009B: a terminal's control sequence introducer */
#define RLO "\xe2\x80\xae"      /* U+202E RIGHT-TO-LEFT OVERRIDE */
#define LRE "\xe2\x80\xaa"      /* U+202A LEFT-TO-RIGHT EMBEDDING */
#define RLI "\xe2\x81\xa7"      /* U+2067 RIGHT-TO-LEFT ISOLATE */
#define PDI "\xe2\x81\xa9"      /* U+2069 POP DIRECTIONAL ISOLATE */
#define LSEP "\xe2\x80\xa8"     /* U+2028 LINE SEPARATOR */
#define PSEP "\xe2\x80\xa9"     /* U+2029 PARAGRAPH SEPARATOR */
#define FFFD "\xef\xbf\xbd"

/* What the reader of a log, a mail or a terminal would be fooled by: C1 controls and
 * bidi controls become U+FFFD (visible, and the name no longer reads as another); line
 * and paragraph separators and ASCII controls are blanks, folded like any other. */
static void
assert_deceptive_replaced(const struct snapshot *s)
{
	assert_int_equal(s->n, 3);
	assert_string_equal(s->v[0].name, "Chad" FFFD "2J" FFFD);
	assert_string_equal(s->v[1].name, FFFD "aidnI" FFFD "Mali" FFFD);
	assert_string_equal(s->v[2].name, "Peru Fiji Togo");
	assert_string_equal(s->stated_eif, FFFD "1 July 2003, in accordance with article 87(1).");
	assert_int_equal(s->stated_eif_date, DAY_NONE);
}

static void
test_deceptive_controls_html(void **state)
{
	struct snapshot *s = parse_str("<html><body><span id=\"x_rptEIF_ctl00_tcText\">" RLO
	    "1 July 2003, in accordance with article 87(1).</span><table id=\"" GRID_ID "\">"
	    HEAD3 "<tr><td>Chad" C1_CSI "2J\xc2\x80</td><td></td><td>22 Feb 2022</td></tr>"
	    "<tr><td>" RLO "aidnI" LRE "Mali" PDI "</td><td></td><td>5 Jun 2003 a</td></tr>"
	    "<tr><td>Peru" LSEP "Fiji" PSEP "\x1b\x7f" "Togo</td><td></td><td>14 Sep 2005</td>"
	    "</tr></table></body></html>", UNTC_HTML);

	assert_non_null(s);
	assert_deceptive_replaced(s);
	snapshot_free(s);
	/* A refused page's title is quoted the same way. */
	assert_null(parse_str("<title>Error " RLI "rorrE" PDI "</title>", UNTC_HTML));
	assert_string_equal(err, "no participants table (page title 'Error " FFFD "rorrE"
	    FFFD "')");
}

static void
test_deceptive_controls_xml(void **state)
{
	struct snapshot *s = parse_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?><MTDSG><Treaty>"
	    "<Header><ExternalData><EIF><Labeltext>" RLO "1 July 2003, in accordance with "
	    "article 87(1).</Labeltext></EIF></ExternalData></Header><Participants><Table>"
	    "<TGroup><Thead><Row><Entry>Participant</Entry><Entry>Signature</Entry>"
	    "<Entry>Ratification, Accession(a)</Entry></Row></Thead><Tbody><Rows>"
	    "<Row><Entry>Chad" C1_CSI "2J\xc2\x80</Entry><Entry></Entry><Entry>22 Feb 2022"
	    "</Entry></Row><Row><Entry>" RLO "aidnI" LRE "Mali" PDI "</Entry><Entry></Entry>"
	    "<Entry>5 Jun 2003 a</Entry></Row><Row><Entry>Peru" LSEP "Fiji" PSEP "&#x9;Togo"
	    "</Entry><Entry></Entry><Entry>14 Sep 2005</Entry></Row></Rows></Tbody></TGroup>"
	    "</Table></Participants></Treaty></MTDSG>", UNTC_XML);

	if (s == NULL)
		fail_msg("%s", err);
	assert_deceptive_replaced(s);
	snapshot_free(s);
}

static void
test_format_names(void **state)
{
	assert_string_equal(untc_format_name(UNTC_AUTO), "auto");
	assert_string_equal(untc_format_name(UNTC_HTML), "html");
	assert_string_equal(untc_format_name(UNTC_XML), "xml");
	assert_int_equal(untc_format_from_name("auto"), UNTC_AUTO);
	assert_int_equal(untc_format_from_name("html"), UNTC_HTML);
	assert_int_equal(untc_format_from_name("xml"), UNTC_XML);
	assert_int_equal(untc_format_from_name("XML"), -1);
	assert_int_equal(untc_format_from_name("pdf"), -1);
}

/* The notes block of a ViewDetails page, as the IV-13 fixture has it. */
#define NOTES_OPEN "<div id=\"ctl00_ctl00_ContentPlaceHolder1_ContentPlaceHolderInnerPage_" \
	"dgNotesAll_ctl03_divNotesAll\"><h4>Notes:</h4>"

/* IV-13's footnotes 2 and 3 belong to Montenegro and Serbia; footnote 1 to no one. */
static void
test_notes_of_the_fixture(void **state)
{
	struct snapshot *s = helpers_parse_fixture("IV-13.html", UNTC_HTML);

	assert_int_equal(who(s, "Montenegro")->nnotes, 1);
	assert_string_equal(who(s, "Montenegro")->notes[0], "See note 1 under \"Montenegro\" "
	    "in the \"Historical Information\" section in the front matter of this volume.");
	assert_int_equal(who(s, "Serbia")->nnotes, 1);
	assert_string_equal(who(s, "Serbia")->notes[0], "The former Yugoslavia signed the "
	    "Convention on 11 November 2004 as Serbia and Montenegro. See note under \"Serbia\".");
	assert_false(who(s, "Serbia")->withdrawn);
	assert_int_equal(who(s, "Chile")->nnotes, 0);
	snapshot_free(s);
}

/* Recognised: "decision to withdraw from", "withdrawal from", "denounce the",
 * "denunciation of the", with the date after "took effect on", "effective on",
 * "with effect from", "effective as of"; a withdrawn reservation is not a withdrawal. */
static void
test_notes_withdrawal_footnotes(void **state)
{
	struct snapshot *s = parse_str("<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>[Burundi<sup>2</sup>]</td><td></td><td>21 Sep\t 2004 </td></tr>"
	    "<tr><td>Chile<sup>3</sup></td><td></td><td>29 Jun\t 2009 </td></tr>"
	    "<tr><td>Ruritania<sup>4, 5</sup></td><td></td><td> 1 Feb\t 2001 a</td></tr>"
	    "<tr><td>[Nowhere<sup>6</sup>]</td><td></td><td> 1 Feb\t 2001 a</td></tr>"
	    "</table>" NOTES_OPEN
	    "<p><sup>2</sup> On 27 October 2016, the Government of Burundi notified the "
	    "Secretary-General of its decision to withdraw from the Statute. The withdrawal "
	    "took effect on 27 October 2017.</p>"
	    "<p><sup>3</sup> On 5 May 2010, the Government of Chile notified the "
	    "Secretary-General of its decision to withdraw the reservation made upon "
	    "ratification, effective on 5 May 2010.</p>"
	    "<p><sup>4</sup> A note on the name.</p>"
	    "<p><sup>5</sup> On 1 March 2029, the Government of Ruritania notified the "
	    "Secretary-General of its decision to denounce the Convention, with effect from "
	    "1 March 2030.</p>"
	    "<p><sup>6</sup> The Government notified its withdrawal from the Convention.</p>"
	    "</div>", UNTC_HTML);

	assert_non_null(s);
	assert_true(who(s, "Burundi")->withdrawn);
	assert_int_equal(who(s, "Burundi")->withdrawal_date, ymd(2017, 10, 27));
	assert_true(who(s, "Burundi")->withdrawal_from_page);
	assert_false(who(s, "Chile")->withdrawn);
	assert_int_equal(who(s, "Chile")->withdrawal_date, DAY_NONE);
	assert_int_equal(who(s, "Chile")->nnotes, 1);
	/* Notified, not yet in effect: withdrawn from that day on. */
	assert_true(who(s, "Ruritania")->withdrawn);
	assert_int_equal(who(s, "Ruritania")->withdrawal_date, ymd(2030, 3, 1));
	assert_int_equal(who(s, "Ruritania")->nnotes, 2);
	assert_string_equal(who(s, "Ruritania")->notes[0], "A note on the name.");
	/* Withdrawn, no date stated: left to withdrawn = or the day ratd first sees it. */
	assert_true(who(s, "Nowhere")->withdrawn);
	assert_int_equal(who(s, "Nowhere")->withdrawal_date, DAY_NONE);
	snapshot_free(s);
}

/* Notes that speak of a withdrawal which does not stand: notified and then rescinded
 * (the Gambia and the Rome Statute, 2016-2017), or a denunciation followed by accession
 * again on the day it took effect (the table shows the new instrument). Neither State
 * is withdrawn; a note on a name in brackets still dates its withdrawal. */
static void
test_notes_withdrawal_undone(void **state)
{
	struct snapshot *s = parse_str("<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>Gambia<sup>2</sup></td><td></td><td>28 Jun\t 2002 </td></tr>"
	    "<tr><td>Guyana<sup>3</sup></td><td></td><td> 5 Apr\t 1999 a</td></tr>"
	    "<tr><td>Erewhon<sup>4</sup></td><td></td><td> 5 Apr\t 1999 a</td></tr>"
	    "<tr><td>[Utopia<sup>4</sup>]</td><td></td><td> 5 Apr\t 1990 a</td></tr>"
	    "</table>" NOTES_OPEN
	    "<p><sup>2</sup> On 10 November 2016, the Government of the Gambia notified the "
	    "Secretary-General of its decision to withdraw from the Statute, which would have "
	    "taken effect on 10 November 2017. On 10 February 2017, the Government notified "
	    "the Secretary-General that it had decided to rescind its notification of "
	    "withdrawal.</p>"
	    "<p><sup>3</sup> On 5 January 1999, the Government of Guyana notified the "
	    "Secretary-General of its decision to denounce the Protocol with effect from "
	    "5 April 1999. On the same day, it acceded again with a reservation.</p>"
	    "<p><sup>4</sup> The Government notified its withdrawal from the Convention, "
	    "effective on 1 January 1995.</p>"
	    "</div>", UNTC_HTML);

	assert_non_null(s);
	assert_false(who(s, "Gambia")->withdrawn);
	assert_int_equal(who(s, "Gambia")->withdrawal_date, DAY_NONE);
	assert_int_equal(who(s, "Gambia")->nnotes, 1);
	assert_false(who(s, "Guyana")->withdrawn);
	assert_int_equal(who(s, "Guyana")->withdrawal_date, DAY_NONE);
	assert_false(who(s, "Erewhon")->withdrawn);
	assert_true(who(s, "Utopia")->withdrawn);
	assert_int_equal(who(s, "Utopia")->withdrawal_date, ymd(1995, 1, 1));
	snapshot_free(s);
}

/* A withdrawal table among the notes: the participant and the date of effect. */
static void
test_notes_withdrawal_table(void **state)
{
	struct snapshot *s = parse_str("<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>[Philippines]</td><td>28 Dec\t 2000 </td><td>30 Aug\t 2011 </td></tr>"
	    "<tr><td>Chile</td><td></td><td>29 Jun\t 2009 </td></tr></table>" NOTES_OPEN
	    "<table><tr><th>Participant</th><th>Date of notification</th>"
	    "<th>Date of effect</th></tr>"
	    "<tr><td>[Philippines]</td><td>17 Mar\t 2018</td><td>17 Mar\t 2019</td></tr>"
	    "<tr><td>Unknown</td><td>1 Jan\t 2020</td><td>1 Jan\t 2021</td></tr>"
	    "</table></div>", UNTC_HTML);

	assert_non_null(s);
	assert_true(who(s, "Philippines")->withdrawn);
	assert_int_equal(who(s, "Philippines")->withdrawal_date, ymd(2019, 3, 17));
	assert_true(who(s, "Philippines")->withdrawal_from_page);
	assert_false(who(s, "Chile")->withdrawn);
	assert_int_equal(s->n, 2);
	snapshot_free(s);
}

/* MTDSG XML: Footnote elements, numbered by a Number child or by their leading digits. */
static void
test_notes_xml(void **state)
{
	struct snapshot *s = parse_str("<?xml version=\"1.0\"?><MTDSG><Treaty><Header>"
	    "<ExternalData><Status>Parties<Parties>1</Parties></Status></ExternalData>"
	    "</Header><Participants><Table><TGroup><Thead><Row><Entry>Participant</Entry>"
	    "<Entry>Ratification, Accession(a)</Entry></Row></Thead><Tbody><Rows>"
	    "<Row><Entry>[Gone&lt;superscript&gt;1&lt;/superscript&gt;]</Entry>"
	    "<Entry>1 Jan\t 2001 a</Entry></Row>"
	    "<Row><Entry>Here&lt;superscript&gt;2&lt;/superscript&gt;</Entry>"
	    "<Entry>2 Feb 2002</Entry></Row></Rows></Tbody></TGroup></Table></Participants>"
	    "<Footnotes><Footnote><Number>1</Number><Text>On 3 March 2011, the Government "
	    "notified the Secretary-General of its decision to withdraw from the Convention, "
	    "effective on 3 March 2012.</Text></Footnote>"
	    "<Footnote>2 With a territorial declaration.</Footnote></Footnotes>"
	    "</Treaty></MTDSG>", UNTC_AUTO);

	assert_non_null(s);
	assert_true(who(s, "Gone")->withdrawn);
	assert_int_equal(who(s, "Gone")->withdrawal_date, ymd(2012, 3, 3));
	assert_int_equal(who(s, "Here")->nnotes, 1);
	assert_string_equal(who(s, "Here")->notes[0], "With a territorial declaration.");
	assert_false(who(s, "Here")->withdrawn);
	snapshot_free(s);
}

/* A note longer than a text is cut at a character boundary, still valid UTF-8. */
static void
test_notes_cut_at_a_character(void **state)
{
	char page[8192], note[3200];
	struct snapshot *s;
	size_t i, n;

	/* "é" is two bytes: 1001 bytes of them cannot end on the 1000th byte but one. */
	for (i = 0, n = 0; i < 1500; i++)
		n += (size_t)snprintf(note + n, sizeof(note) - n, "%s", "\xc3\xa9");
	snprintf(page, sizeof(page), "<table id=\"" GRID_ID "\">" HEAD3
	    "<tr><td>Chile<sup>1</sup></td><td></td><td>29 Jun\t 2009 </td></tr></table>"
	    NOTES_OPEN "<p><sup>1</sup> x%s</p></div>", note);
	s = parse_str(page, UNTC_HTML);
	assert_non_null(s);
	assert_int_equal(who(s, "Chile")->nnotes, 1);
	n = strlen(who(s, "Chile")->notes[0]);
	assert_true(n <= SNAPSHOT_MAX_TEXT);
	assert_true(n >= SNAPSHOT_MAX_TEXT - 1);
	/* Ends after a whole "é". */
	assert_int_equal((unsigned char)who(s, "Chile")->notes[0][n - 1], 0xa9);
	snapshot_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html_iv13),
		cmocka_unit_test(test_xml_iv13),
		cmocka_unit_test(test_forced_formats_agree),
		cmocka_unit_test(test_html_before_entry_into_force),
		cmocka_unit_test(test_html_threshold_day),
		cmocka_unit_test(test_th_header_in_thead),
		cmocka_unit_test(test_decoy_before_tblgrid),
		cmocka_unit_test(test_fallback_without_tblgrid_skips_decoy),
		cmocka_unit_test(test_decoy_alone_is_refused),
		cmocka_unit_test(test_withdrawn_in_brackets),
		cmocka_unit_test(test_notes_of_the_fixture),
		cmocka_unit_test(test_notes_withdrawal_footnotes),
		cmocka_unit_test(test_notes_withdrawal_undone),
		cmocka_unit_test(test_notes_withdrawal_table),
		cmocka_unit_test(test_notes_xml),
		cmocka_unit_test(test_notes_cut_at_a_character),
		cmocka_unit_test(test_kinds_by_column_labels),
		cmocka_unit_test(test_nbsp_tabs_and_footnotes),
		cmocka_unit_test(test_header_block_variants),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_charset_sniffing),
		cmocka_unit_test(test_error_page),
		cmocka_unit_test(test_bad_cells_fail_the_page),
		cmocka_unit_test(test_table_defects),
		cmocka_unit_test(test_too_many_rows),
		cmocka_unit_test(test_long_texts_are_bounded),
		cmocka_unit_test(test_nested_tables_are_cheap),
		cmocka_unit_test(test_huge_body_is_refused),
		cmocka_unit_test(test_not_a_page),
		cmocka_unit_test(test_xml_layouts),
		cmocka_unit_test(test_xml_any_order),
		cmocka_unit_test(test_xml_defects),
		cmocka_unit_test(test_xxe_is_refused),
		cmocka_unit_test(test_billion_laughs_is_refused),
		cmocka_unit_test(test_parse_cell),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_invalid_utf8_is_replaced),
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_reason_cut_between_characters),
		cmocka_unit_test(test_deceptive_controls_html),
		cmocka_unit_test(test_deceptive_controls_xml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
