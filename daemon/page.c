/* The status page: plain HTML a phone, a printer and a screen reader all take. */
#include <string.h>

#include "page.h"
#include "proto.h"
#include "svg.h"

static const char page_css[] =
	"body{font:1rem/1.5 system-ui,-apple-system,\"Segoe UI\",sans-serif;color:#1b1b1b;"
	"background:#fff;margin:0 auto;max-width:62rem;padding:0 1rem 2rem}"
	"h1{font-size:1.6rem;margin:1rem 0 .25rem}h2{font-size:1.3rem;margin:2rem 0 .5rem;"
	"border-top:3px solid #1f5fa8;padding-top:.75rem}h3{font-size:1.05rem;margin:1.25rem 0 .25rem}"
	".id{color:#555;font-weight:normal;white-space:nowrap}.big{font-size:2.4rem;font-weight:bold;color:#1f5fa8}"
	".headline{margin:.25rem 0}.note{color:#555;font-size:.9rem}"
	".failing{color:#b03a2e;font-weight:bold}.ok{color:#1e7a44}"
	"table{border-collapse:collapse;width:100%;margin:.25rem 0}"
	"th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #ddd}"
	"th[scope=row]{width:16rem;font-weight:600}thead th{border-bottom:2px solid #999}"
	"caption{text-align:left;color:#555;font-size:.9rem}"
	".scroll{overflow-x:auto}figure{margin:.5rem 0}"
	"svg{width:100%;max-width:48rem;height:auto}"
	"a{color:#1f5fa8}nav ul{padding-left:1.2rem}"
	"@media (max-width:40rem){th[scope=row]{width:auto}.big{font-size:1.8rem}"
	"td,th{padding:.25rem .3rem}}"
	"@media print{body{max-width:none;font-size:10pt}a{color:inherit;text-decoration:none}"
	"nav,.links{display:none}h2{break-before:auto;break-after:avoid}"
	"figure,tr{break-inside:avoid}}";

static const char *
page_str(const json_t *o, const char *key)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* An integer at key as text, "-" when unknown. */
static const char *
page_int(const json_t *o, const char *key, char buf[24])
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	if (!json_is_integer(v))
		return "-";
	snprintf(buf, 24, "%lld", (long long)json_integer_value(v));
	return buf;
}

static void
page_esc(FILE *out, const char *s)
{
	svg_escape(out, s != NULL ? s : "-");
}

/* An RFC 3339 time as <time>, shown "YYYY-MM-DD HH:MM UTC". */
static void
page_time(FILE *out, const char *t)
{
	if (t == NULL || strlen(t) != 20) {
		page_esc(out, t);
		return;
	}
	fputs("<time datetime=\"", out);
	page_esc(out, t);
	fprintf(out, "\">%.10s %.5s UTC</time>", t, t + 11);
}

static void
page_date(FILE *out, const char *d)
{
	if (d == NULL) {
		fputs("-", out);
		return;
	}
	fputs("<time datetime=\"", out);
	page_esc(out, d);
	fputs("\">", out);
	page_esc(out, d);
	fputs("</time>", out);
}

static void
page_row_open(FILE *out, const char *head)
{
	fprintf(out, "<tr><th scope=\"row\">%s</th><td>", head);
}

static void
page_head(FILE *out, const json_t *views, const char *today, const char *zone)
{
	const json_t *v;
	size_t i;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    /* Nothing runs and nothing loads from elsewhere, whatever a page slipped in. */
	    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	    "style-src 'unsafe-inline'; img-src data:\">\n"
	    "<meta name=\"generator\" content=\"ratd " RATD_VERSION "\">\n<title>", out);
	json_array_foreach(views, i, v) {
		fputs(i > 0 ? ", " : "Treaty status: ", out);
		page_esc(out, page_str(json_object_get(v, "status"), "id"));
	}
	fputs("</title>\n<link rel=\"alternate\" type=\"application/atom+xml\" "
	    "title=\"Events (Atom)\" href=\"feed.atom\">\n<style>", out);
	fputs(page_css, out);
	fputs("</style>\n</head>\n<body>\n<header>\n<h1>Treaty status</h1>\n"
	    "<p class=\"note\">Figures as of ", out);
	page_date(out, today);
	fputs(" (", out);
	page_esc(out, zone != NULL ? zone : "UTC");
	fputs("), computed by ratd from the depositary's pages in the United Nations "
	    "Treaty Collection. <a href=\"feed.atom\">Subscribe to the events (Atom)</a>.</p>\n"
	    "</header>\n", out);
	if (json_array_size(views) < 2)
		return;
	fputs("<nav aria-label=\"Treaties\">\n<ul>\n", out);
	json_array_foreach(views, i, v) {
		const json_t *st = json_object_get(v, "status");

		fputs("<li><a href=\"#", out);
		page_esc(out, page_str(st, "id"));
		fputs("\">", out);
		page_esc(out, page_str(st, "id"));
		fputs("</a>: ", out);
		page_esc(out, page_str(st, "title"));
		fputs("</li>\n", out);
	}
	fputs("</ul>\n</nav>\n", out);
}

/* The one line a visitor comes for: counted against the threshold, and what it means. */
static void
page_headline(FILE *out, const json_t *st)
{
	char a[24], b[24], c[24];
	bool reached = json_is_true(json_object_get(st, "threshold_reached"));

	fprintf(out, "<p class=\"headline\"><span class=\"big\">%s</span> of %s instruments "
	    "needed", page_int(st, "counted", a), page_int(st, "threshold", b));
	if (json_is_true(json_object_get(st, "in_force"))) {
		fputs(": in force since ", out);
		page_date(out, page_str(st, "entry_into_force"));
	} else if (reached) {
		fputs(": enters into force on ", out);
		page_date(out, page_str(st, "entry_into_force"));
	} else
		fprintf(out, ": %s more to go", page_int(st, "remaining", c));
	fputs(".</p>\n", out);
}

static void
page_names(FILE *out, const json_t *names)
{
	const json_t *n;
	size_t i;

	if (json_array_size(names) == 0)
		return;
	fputs(" (", out);
	json_array_foreach(names, i, n) {
		if (i > 0)
			fputs(", ", out);
		page_esc(out, json_string_value(n));
	}
	fputs(")", out);
}

/* Not in force yet: the earliest possible date and the projection, each named for what
 * it is. */
static void
page_outlook(FILE *out, const json_t *st)
{
	const json_t *pr = json_object_get(st, "projection");
	char a[24], b[24];

	if (page_str(st, "earliest_entry_into_force") != NULL) {
		page_row_open(out, "Earliest possible entry into force");
		page_date(out, page_str(st, "earliest_entry_into_force"));
		fprintf(out, " <span class=\"note\">(if the %s remaining instruments were all "
		    "deposited today)</span></td></tr>\n", page_int(st, "remaining", a));
	}
	if (!json_is_object(pr))
		return;
	page_row_open(out, "Projection (not a certainty)");
	fputs("threshold around ", out);
	page_date(out, page_str(pr, "threshold_date"));
	fputs(", entry into force around ", out);
	page_date(out, page_str(pr, "entry_into_force"));
	fprintf(out, " <span class=\"note\">(at the pace of the last %s months: %s "
	    "instruments)</span></td></tr>\n", page_int(pr, "window_months", a),
	    page_int(pr, "instruments_in_window", b));
}

static void
page_facts(FILE *out, const json_t *st)
{
	char a[24], b[24];

	fputs("<div class=\"scroll\"><table>\n<caption>Figures as of ", out);
	page_esc(out, page_str(st, "as_of"));
	fputs("</caption>\n", out);
	page_row_open(out, "Parties");
	fprintf(out, "%s</td></tr>\n", page_int(st, "parties", a));
	page_row_open(out, "Counted towards entry into force");
	fprintf(out, "%s of the %s needed</td></tr>\n", page_int(st, "counted", a),
	    page_int(st, "threshold", b));
	page_row_open(out, "Remaining");
	fprintf(out, "%s</td></tr>\n", page_int(st, "remaining", a));
	page_row_open(out, "Signatories");
	fprintf(out, "%s</td></tr>\n", page_int(st, "signatories", a));
	page_row_open(out, "Threshold reached");
	if (page_str(st, "threshold_date") != NULL) {
		page_date(out, page_str(st, "threshold_date"));
		page_names(out, json_object_get(st, "threshold_participants"));
	} else
		fputs("not yet", out);
	fputs("</td></tr>\n", out);
	page_row_open(out, "Entry into force");
	if (page_str(st, "entry_into_force") != NULL) {
		page_date(out, page_str(st, "entry_into_force"));
		fputs(json_is_true(json_object_get(st, "in_force")) ? " (in force)" :
		    " (not yet: the date is set)", out);
	} else
		fputs("not yet known", out);
	fputs("</td></tr>\n", out);
	page_outlook(out, st);
	fputs("</table></div>\n", out);
}

static void
page_chart(FILE *out, const json_t *st, const json_t *tl)
{
	const char *id = page_str(st, "id");

	fputs("<figure>\n", out);
	svg_timeline(out, tl, false);
	fputs("<figcaption class=\"note\">Instruments counted towards entry into force over "
	    "time; the dashed lines mark the threshold, the day it was reached and entry into "
	    "force.</figcaption>\n</figure>\n<p class=\"links\"><a href=\"", out);
	page_esc(out, id);
	fputs(".svg\">Chart (SVG)</a> · <a href=\"", out);
	page_esc(out, id);
	fputs(".ics\">Dates for your calendar (iCalendar)</a> · <a href=\"", out);
	page_esc(out, page_str(st, "url"));
	fputs("\">The depositary's page</a></p>\n", out);
}

static void
page_events(FILE *out, const json_t *events)
{
	const json_t *ev;
	size_t i;

	fputs("<h3>Latest events</h3>\n", out);
	if (json_array_size(events) == 0) {
		fputs("<p>None since ratd started tracking this treaty.</p>\n", out);
		return;
	}
	fputs("<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">When (UTC)</th>"
	    "<th scope=\"col\">What</th></tr></thead>\n<tbody>\n", out);
	json_array_foreach(events, i, ev) {
		if (i == PAGE_EVENTS)
			break;
		fputs("<tr><td>", out);
		page_time(out, page_str(ev, "time"));
		fputs("</td><td>", out);
		page_esc(out, page_str(ev, "summary"));
		fputs("</td></tr>\n", out);
	}
	fputs("</tbody>\n</table></div>\n", out);
}

static void
page_source(FILE *out, const json_t *src)
{
	const char *state = page_str(src, "state");
	char a[24];

	fputs("<h3>Source</h3>\n<div class=\"scroll\"><table>\n", out);
	page_row_open(out, "State");
	fprintf(out, "<span class=\"%s\">", state != NULL && strcmp(state, "ok") == 0 ? "ok" :
	    "failing");
	page_esc(out, state != NULL && strcmp(state, "ok") == 0 ? "fetched and current" :
	    state != NULL && strcmp(state, "seed") == 0 ? "not fetched yet: bundled data" :
	    state != NULL && strcmp(state, "failing") == 0 ? "failing" : "no data");
	fputs("</span></td></tr>\n", out);
	page_row_open(out, "Status as at (the page's date)");
	page_esc(out, page_str(src, "status_as_at"));
	fputs("</td></tr>\n", out);
	page_row_open(out, "Last successful fetch");
	page_time(out, page_str(src, "last_success"));
	fputs("</td></tr>\n", out);
	page_row_open(out, "Last change seen");
	page_time(out, page_str(src, "last_change"));
	fputs("</td></tr>\n", out);
	if (page_str(src, "error") != NULL) {
		page_row_open(out, "Last error");
		page_esc(out, page_str(src, "error"));
		fprintf(out, " (%s failures in a row)</td></tr>\n",
		    page_int(src, "consecutive_failures", a));
	}
	fputs("</table></div>\n", out);
}

/* A participant's action: "2003-03-14 ratification", "-" when none. */
static void
page_action(FILE *out, const json_t *a, bool kind)
{
	if (!json_is_object(a)) {
		fputs("<td>-</td>", out);
		return;
	}
	fputs("<td>", out);
	page_date(out, page_str(a, "date"));
	if (kind) {
		fputs(" ", out);
		page_esc(out, page_str(a, "kind"));
	}
	fputs("</td>", out);
}

static void
page_parties(FILE *out, const json_t *parties)
{
	const json_t *list = json_object_get(parties, "participants"), *p;
	size_t i;

	fprintf(out, "<h3>Participants (%zu)</h3>\n", json_array_size(list));
	if (json_array_size(list) == 0)
		return;
	fputs("<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Participant</th>"
	    "<th scope=\"col\">Signature</th><th scope=\"col\">Instrument</th>"
	    "<th scope=\"col\">In force for it</th></tr></thead>\n<tbody>\n", out);
	json_array_foreach(list, i, p) {
		fputs("<tr><th scope=\"row\">", out);
		page_esc(out, page_str(p, "name"));
		if (json_is_true(json_object_get(p, "withdrawn")))
			fputs(" (withdrawn)", out);
		else if (json_is_object(json_object_get(p, "instrument")) &&
		    !json_is_true(json_object_get(p, "counts")))
			fputs(" (not counted)", out);
		fputs("</th>", out);
		page_action(out, json_object_get(p, "signature"), false);
		page_action(out, json_object_get(p, "instrument"), true);
		fputs("<td>", out);
		page_date(out, page_str(p, "entry_into_force"));
		fputs("</td></tr>\n", out);
	}
	fputs("</tbody>\n</table></div>\n", out);
}

static void
page_section(FILE *out, const json_t *view, bool summary)
{
	const json_t *st = json_object_get(view, "status");
	const char *id = page_str(st, "id");

	fputs("<section id=\"", out);
	page_esc(out, id);
	fputs("\" aria-labelledby=\"h-", out);
	page_esc(out, id);
	fputs("\">\n<h2 id=\"h-", out);
	page_esc(out, id);
	fputs("\">", out);
	page_esc(out, page_str(st, "title"));
	fputs(" <span class=\"id\">(", out);
	page_esc(out, id);
	fputs(")</span></h2>\n", out);
	page_headline(out, st);
	page_facts(out, st);
	page_chart(out, st, json_object_get(view, "timeline"));
	page_events(out, json_object_get(view, "events"));
	page_source(out, json_object_get(st, "source"));
	if (summary) {
		fputs("<p><a href=\"", out);
		page_esc(out, id);
		fputs(".html\">Participants and their dates</a></p>\n", out);
	} else
		page_parties(out, json_object_get(view, "parties"));
	fputs("</section>\n", out);
}

void
page_write(FILE *out, const json_t *views, const char *today, const char *zone,
    bool summary)
{
	const json_t *v;
	size_t i;

	page_head(out, views, today, zone);
	fputs("<main>\n", out);
	json_array_foreach(views, i, v)
		page_section(out, v, summary);
	fputs("</main>\n<footer class=\"note\">\n<p>Written by ratd " RATD_VERSION ". ", out);
	if (zone != NULL) {
		fputs("Days are those of ", out);
		page_esc(out, zone);
		fputs("; times are UTC. ", out);
	} else
		fputs("Dates are UTC. ", out);
	fputs("Counted instruments follow each treaty's own rule of entry into force; the "
	    "depositary's page is the authority.</p>\n</footer>\n</body>\n</html>\n", out);
}
