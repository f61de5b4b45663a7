/* The timeline chart as SVG: the series render_timeline_build computes, drawn to scale. */
#include <stdlib.h>
#include <string.h>

#include "svg.h"

#define SVG_W 640
#define SVG_H 300
#define SVG_L 56           /* room for the counts and the vertical axis title */
#define SVG_R 24
#define SVG_T 40           /* two rows for the labels of the marked dates */
#define SVG_B 48           /* the period names and the horizontal axis title */
#define SVG_PLOT_W (SVG_W - SVG_L - SVG_R)
#define SVG_PLOT_H (SVG_H - SVG_T - SVG_B)
#define SVG_MAX_EXTRA 120  /* periods the axis may run past as_of to show entry into force */
#define SVG_MAX_PERIODS 100000
#define SVG_CHAR_W 7       /* an average glyph at font-size 12, to keep labels apart */

struct svg_chart {
	const json_t *tl;
	bool month;
	int first;             /* period key of the first period */
	int n;                 /* periods in the series */
	int span;              /* periods on the axis: n, or more to reach entry into force */
	long long *v;          /* cumulative counts, one per period */
	long long threshold;   /* 0 when none */
	long long top, ystep;  /* the axis' highest count and the step between its ticks */
	const char *as_of, *td, *eif;
};

void
svg_escape(FILE *out, const char *s)
{
	const unsigned char *p;

	if (s == NULL)
		return;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
				fputc('?', out);
			else
				fputc(*p, out);
		}
	}
}

static const char *
svg_str(const json_t *o, const char *key)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* "YYYY-MM-DD", or NULL for anything else: the dates the chart places. */
static const char *
svg_date(const json_t *tl, const char *key)
{
	const char *s = svg_str(tl, key);

	if (s == NULL || strlen(s) != 10 || strspn(s, "0123456789") != 4 || s[4] != '-' ||
	    strspn(s + 5, "0123456789") != 2 || s[7] != '-' || strspn(s + 8, "0123456789") != 2)
		return NULL;
	return s;
}

/* The period key of "YYYY", "YYYY-MM" or a date: years, or months since year 0. */
static int
svg_key(const char *s, bool month)
{
	int y, m;

	if (s == NULL || strspn(s, "0123456789") != 4 || (y = atoi(s)) < 1)
		return -1;
	if (!month)
		return y;
	if (s[4] != '-' || strspn(s + 5, "0123456789") != 2 || (m = atoi(s + 5)) < 1 || m > 12)
		return -1;
	return y * 12 + m - 1;
}

/* Where date d falls on the axis, in periods from the first one's start. */
static double
svg_pos(const struct svg_chart *c, const char *d)
{
	double day = atoi(d + 8) - 1, month = atoi(d + 5) - 1;

	if (c->month)
		return svg_key(d, true) - c->first + day / 31.0;
	return svg_key(d, false) - c->first + (month * 30.5 + day) / 366.0;
}

static double
svg_x(const struct svg_chart *c, double pos)
{
	return SVG_L + pos * SVG_PLOT_W / c->span;
}

static double
svg_y(const struct svg_chart *c, long long v)
{
	return SVG_T + SVG_PLOT_H - (double)v * SVG_PLOT_H / (double)c->top;
}

/* A round step giving at most five intervals up to ymax, and the axis top. */
static void
svg_scale(struct svg_chart *c, long long ymax)
{
	static const long long steps[] = { 1, 2, 5 };
	long long mult = 1;
	int i = 0;

	if (ymax < 1)
		ymax = 1;
	while (steps[i] * mult * 5 < ymax) {
		if (++i == 3) {
			i = 0;
			mult *= 10;
		}
	}
	c->ystep = steps[i] * mult;
	c->top = (ymax + c->ystep - 1) / c->ystep * c->ystep;
}

/* Reads the timeline; false when it has no period at all. */
static bool
svg_load(struct svg_chart *c, const json_t *tl)
{
	const json_t *series = json_object_get(tl, "series"), *e, *t;
	long long ymax = 0, prev = 0;
	size_t i;
	int ek;

	c->tl = tl;
	c->month = svg_str(tl, "bucket") != NULL && strcmp(svg_str(tl, "bucket"), "month") == 0;
	c->as_of = svg_date(tl, "as_of");
	c->td = svg_date(tl, "threshold_date");
	c->eif = svg_date(tl, "entry_into_force");
	t = json_object_get(tl, "threshold");
	c->threshold = json_is_integer(t) && json_integer_value(t) > 0 ? json_integer_value(t) : 0;
	if (!json_is_array(series) || json_array_size(series) == 0 ||
	    json_array_size(series) > SVG_MAX_PERIODS ||
	    (c->first = svg_key(svg_str(json_array_get(series, 0), "period"), c->month)) < 0 ||
	    (c->v = calloc(json_array_size(series), sizeof(*c->v))) == NULL) {
		svg_scale(c, c->threshold);
		return false;
	}
	c->n = c->span = (int)json_array_size(series);
	json_array_foreach(series, i, e) {
		t = json_object_get(e, "counted");
		c->v[i] = json_is_integer(t) && json_integer_value(t) >= 0 ?
		    json_integer_value(t) : prev;
		prev = c->v[i];
		ymax = c->v[i] > ymax ? c->v[i] : ymax;
	}
	if (c->eif != NULL && (ek = svg_key(c->eif, c->month) - c->first) >= c->n &&
	    ek < c->n + SVG_MAX_EXTRA)
		c->span = ek + 1;
	svg_scale(c, ymax > c->threshold ? ymax : c->threshold);
	return true;
}

static void
svg_open(FILE *out, const struct svg_chart *c, bool standalone)
{
	const char *treaty = svg_str(c->tl, "treaty");

	if (standalone)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	    "width=\"%d\" height=\"%d\" role=\"img\" aria-labelledby=\"chart-", SVG_W, SVG_H,
	    SVG_W, SVG_H);
	svg_escape(out, treaty);
	fputs("-title chart-", out);
	svg_escape(out, treaty);
	fputs("-desc\" font-family=\"sans-serif\" font-size=\"12\">\n<title id=\"chart-", out);
	svg_escape(out, treaty);
	fputs("-title\">", out);
	svg_escape(out, treaty);
	fputs(": instruments counted towards entry into force</title>\n", out);
}

/* The same facts as the picture, in words. */
static void
svg_desc(FILE *out, const struct svg_chart *c)
{
	char first[24], last[24];

	fputs("<desc id=\"chart-", out);
	svg_escape(out, svg_str(c->tl, "treaty"));
	fputs("-desc\">", out);
	if (c->n == 0)
		fputs("No counted instrument yet.", out);
	else {
		snprintf(first, sizeof(first), c->month ? "%04d-%02d" : "%04d",
		    c->month ? c->first / 12 : c->first, c->first % 12 + 1);
		snprintf(last, sizeof(last), c->month ? "%04d-%02d" : "%04d",
		    c->month ? (c->first + c->n - 1) / 12 : c->first + c->n - 1,
		    (c->first + c->n - 1) % 12 + 1);
		fprintf(out, "Counted instruments, cumulative, by %s from %s to %s: %lld as of ",
		    c->month ? "month" : "year", first, last, c->v[c->n - 1]);
		svg_escape(out, c->as_of != NULL ? c->as_of : "-");
		fputc('.', out);
	}
	if (c->threshold > 0)
		fprintf(out, " Threshold: %lld", c->threshold);
	if (c->td != NULL)
		fprintf(out, ", reached on %s", c->td);
	if (c->threshold > 0)
		fputc('.', out);
	if (c->eif != NULL)
		fprintf(out, " Entry into force: %s.", c->eif);
	fputs("</desc>\n", out);
}

/* Horizontal grid lines and the counts beside them; the vertical axis title. */
static void
svg_yaxis(FILE *out, const struct svg_chart *c)
{
	long long v;

	for (v = 0; v <= c->top; v += c->ystep)
		fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
		    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%lld</text>\n", SVG_L,
		    svg_y(c, v), SVG_W - SVG_R, svg_y(c, v), SVG_L - 6, svg_y(c, v) + 4, v);
	fprintf(out, "<text transform=\"translate(14 %d) rotate(-90)\" text-anchor=\"middle\">"
	    "instruments counted</text>\n", SVG_T + SVG_PLOT_H / 2);
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n",
	    SVG_L, SVG_T, SVG_L, SVG_T + SVG_PLOT_H);
}

/* The period names at round periods, never closer than a name's width. */
static void
svg_xaxis(FILE *out, const struct svg_chart *c)
{
	static const int ysteps[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 };
	static const int msteps[] = { 1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200 };
	const int *steps = c->month ? msteps : ysteps;
	int nsteps = c->month ? 11 : 10, len = c->month ? 7 : 4, i, k, key;
	double x, base = SVG_T + SVG_PLOT_H;

	for (i = 0; i + 1 < nsteps &&
	    (double)steps[i] * SVG_PLOT_W / c->span < (len + 2) * SVG_CHAR_W; i++)
		;
	fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n",
	    SVG_L, base, SVG_W - SVG_R, base);
	for (k = 0; k <= c->span; k++) {
		key = c->first + k;
		if (key % steps[i] != 0)
			continue;
		x = svg_x(c, k);
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>",
		    x, base, x, base + 5);
		if (x + len * SVG_CHAR_W / 2.0 <= SVG_W)
			fprintf(out, c->month ? "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
			    "%04d-%02d</text>\n" : "<text x=\"%.1f\" y=\"%.1f\" "
			    "text-anchor=\"middle\">%04d</text>\n", x, base + 18,
			    c->month ? key / 12 : key, key % 12 + 1);
		else
			fputc('\n', out);
	}
	fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
	    SVG_L + SVG_PLOT_W / 2, SVG_H - 6, c->month ? "month" : "year");
}

/* The counts as a step line over a shaded area: each period's rise at its start. */
static void
svg_series(FILE *out, const struct svg_chart *c)
{
	double end = c->n;
	int i;

	if (c->as_of != NULL && svg_pos(c, c->as_of) > c->n - 1 && svg_pos(c, c->as_of) < c->n)
		end = svg_pos(c, c->as_of);
	for (i = 0; i < 2; i++) {
		int k;

		fprintf(out, i == 0 ? "<path fill=\"#dbe7f5\" stroke=\"none\" d=\"M%.1f %.1f" :
		    "<path fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\" d=\"M%.1f %.1f",
		    svg_x(c, 0), svg_y(c, 0));
		for (k = 0; k < c->n; k++)
			fprintf(out, " H%.1f V%.1f", svg_x(c, k), svg_y(c, c->v[k]));
		fprintf(out, " H%.1f", svg_x(c, end));
		fputs(i == 0 ? " V" : "\"/>\n", out);
		if (i == 0)
			fprintf(out, "%.1f Z\"/>\n", svg_y(c, 0));
	}
}

/* A dashed vertical line at date d with its label in the top margin's row. */
static void
svg_mark(FILE *out, const struct svg_chart *c, const char *d, const char *label, int row,
    const char *color)
{
	double pos = svg_pos(c, d), x;

	if (pos < 0 || pos > c->span)
		return;
	x = svg_x(c, pos);
	fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" "
	    "stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n", x, SVG_T, x,
	    SVG_T + SVG_PLOT_H, color);
	fprintf(out, "<circle cx=\"%.1f\" cy=\"%d\" r=\"4\" fill=\"%s\"/>\n", x,
	    SVG_T + SVG_PLOT_H, color);
	fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\" fill=\"%s\">%s %s</text>\n",
	    x, 14 + row * 15, x > SVG_W / 2 ? "end" : "start", color, label, d);
}

static void
svg_marks(FILE *out, const struct svg_chart *c)
{
	double y;

	if (c->threshold > 0) {
		y = svg_y(c, c->threshold);
		fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#b03a2e\" "
		    "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n<text x=\"%d\" y=\"%.1f\" "
		    "text-anchor=\"end\" fill=\"#b03a2e\">threshold %lld</text>\n", SVG_L, y,
		    SVG_W - SVG_R, y, SVG_W - SVG_R - 2, y - 5, c->threshold);
	}
	if (c->n == 0)
		return;
	if (c->td != NULL)
		svg_mark(out, c, c->td, "threshold reached", 0, "#b03a2e");
	if (c->eif != NULL)
		svg_mark(out, c, c->eif, c->as_of != NULL && strcmp(c->eif, c->as_of) > 0 ?
		    "enters into force" : "entry into force", 1, "#1e7a44");
}

void
svg_timeline(FILE *out, const json_t *timeline, bool standalone)
{
	struct svg_chart c = { 0 };
	bool drawn = svg_load(&c, timeline);

	if (!drawn) {
		c.n = 0;
		c.span = 1;
		c.first = 0;
	}
	svg_open(out, &c, standalone);
	svg_desc(out, &c);
	fprintf(out, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", SVG_W, SVG_H);
	svg_yaxis(out, &c);
	if (drawn) {
		svg_series(out, &c);
		svg_xaxis(out, &c);
	} else
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no counted instrument "
		    "yet</text>\n", SVG_L + SVG_PLOT_W / 2, SVG_T + SVG_PLOT_H / 2);
	svg_marks(out, &c);
	fputs("</svg>\n", out);
	free(c.v);
}
