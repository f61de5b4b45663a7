/* The timeline: cumulative counted instruments by period (render_timeline_build, a
 * view computed from the parties and status replies) and its text chart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jfield.h"
#include "render.h"

#define TL_ITEM_MAX 256      /* one legend or title item */
#define TL_ROWS 10           /* chart height in lines */
#define TL_MONTHS_MAX 60     /* a span of at most this many months goes by month */
#define TL_MIN_WIDTH 40
#define TL_MAX_WIDTH 1000
#define TL_MAX_COLW 4        /* columns per period when few periods fill the width */
#define TL_LABEL " threshold"

struct tl_glyphs {
	const char *block[9];    /* a cell filled to 0/8 .. 8/8 */
	const char *line, *vbar, *tick, *cross, *corner, *mark_t, *mark_e;
};

static const struct tl_glyphs tl_utf8 = {
	{ " ", "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587",
	  "\u2588" }, "\u2500", "\u2502", "\u2524", "\u253c", "\u2514", "\u25b2", "\u25c6",
};

/* A cell half full (4/8) or more is '#'; less, a '.' that shows it is not empty. */
static const struct tl_glyphs tl_ascii = {
	{ " ", ".", ".", ".", "#", "#", "#", "#", "#" }, "-", "|", "+", "+", "+", "^", "*",
};

/* A chart being drawn: the series and where its columns go. */
struct tl {
	const struct tl_glyphs *gl;
	long long *v;            /* cumulative counted, per period */
	int n;                   /* periods */
	int first;               /* key of the first period: year, or year * 12 + month - 1 */
	bool month;
	long long threshold;     /* 0: none */
	long long ymax;
	int group;               /* periods per column (1 unless they outnumber the width) */
	int ncols;               /* columns of periods */
	int plotw;               /* characters they take: 1 to TL_MAX_COLW each */
	int lw;                  /* width of the y labels */
};

/* "YYYY" or "YYYY-MM" (or a longer date) into a period key; -1 when unreadable. */
static int
tl_key(const char *s, bool month)
{
	int y, m;

	if (s == NULL || strspn(s, "0123456789") != 4 || (y = atoi(s)) < 1)
		return -1;
	if (!month)
		return y;
	if (s[4] != '-' || strspn(s + 5, "0123456789") != 2 ||
	    (m = (s[5] - '0') * 10 + s[6] - '0') < 1 || m > 12)
		return -1;
	return y * 12 + m - 1;
}

/* The name of a period key: "2003" or "2003-03". */
static const char *
tl_period(int key, bool month, char buf[24])
{
	if (month)
		snprintf(buf, 24, "%04d-%02d", key / 12, key % 12 + 1);
	else
		snprintf(buf, 24, "%04d", key);
	return buf;
}

/* "YYYY-MM-DD" with a plausible month and day: such dates compare as strings. */
static bool
tl_iso_date(const char *s)
{
	static const char form[] = "dddd-dd-dd";
	size_t i;

	for (i = 0; i < sizeof(form) - 1; i++)
		if (form[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != form[i])
			return false;
	return s[i] == '\0' && strncmp(s + 5, "01", 2) >= 0 && strncmp(s + 5, "12", 2) <= 0 &&
	    strncmp(s + 8, "01", 2) >= 0 && strncmp(s + 8, "31", 2) <= 0 &&
	    strncmp(s, "0001", 4) >= 0;
}

static int
tl_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The deposit dates of the counted instruments at as_of, sorted; their number or -1. */
static long
tl_dates(const json_t *list, const char *as_of, const char ***out)
{
	const char **v, *d;
	const json_t *p;
	size_t i;
	long n = 0;

	if ((v = malloc((json_array_size(list) + 1) * sizeof(*v))) == NULL)
		return -1;
	json_array_foreach(list, i, p) {
		d = jstr(jget(p, "instrument"), "date");
		if (jbool(p, "counts") == 1 && jbool(p, "withdrawn") != 1 && d != NULL &&
		    tl_iso_date(d) && strcmp(d, as_of) <= 0)
			v[n++] = d;
	}
	qsort(v, (size_t)n, sizeof(*v), tl_cmp_str);
	*out = v;
	return n;
}

/* The series from the first counted instrument's period to as_of's. */
static json_t *
tl_series(const char *const *dates, long n, const char *as_of, bool month)
{
	int key, last = tl_key(as_of, month);
	json_t *series = json_array(), *e;
	char period[24];
	long i = 0;

	if (series == NULL)
		return NULL;
	for (key = n > 0 ? tl_key(dates[0], month) : last + 1; key <= last; key++) {
		while (i < n && tl_key(dates[i], month) <= key)
			i++;
		if ((e = json_pack("{s:s, s:I}", "period", tl_period(key, month, period),
		    "counted", (json_int_t)i)) == NULL || json_array_append_new(series, e) != 0) {
			json_decref(series);
			return NULL;
		}
	}
	return series;
}

static json_t *
tl_str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *
render_timeline_build(const json_t *parties, const json_t *status)
{
	const char *as_of = jstr(parties, "as_of") ? jstr(parties, "as_of") : jstr(status, "as_of");
	const char *treaty = jstr(parties, "treaty") ? jstr(parties, "treaty") : jstr(status, "id");
	json_t *series;
	const char **dates;
	long long threshold;
	bool month;
	long n;

	if (as_of == NULL || !tl_iso_date(as_of))
		return NULL;
	if ((n = tl_dates(jget(parties, "participants"), as_of, &dates)) < 0)
		return NULL;
	month = n > 0 && tl_key(as_of, true) - tl_key(dates[0], true) < TL_MONTHS_MAX;
	series = tl_series(dates, n, as_of, month);
	free(dates);
	if (series == NULL)
		return NULL;
	return json_pack("{s:o, s:s, s:o, s:o, s:o, s:s, s:o}",
	    "treaty", tl_str_or_null(treaty), "as_of", as_of,
	    "threshold", jint(status, "threshold", &threshold) ? json_integer(threshold) :
	    json_null(),
	    "threshold_date", tl_str_or_null(jstr(status, "threshold_date")),
	    "entry_into_force", tl_str_or_null(jstr(status, "entry_into_force")),
	    "bucket", month ? "month" : "year", "series", series);
}

/* Reads the series into t; false when there is nothing to draw. */
static bool
tl_load(struct tl *t, const json_t *tl)
{
	const json_t *series = jget(tl, "series"), *e;
	long long v, prev = 0;
	size_t i;

	t->month = streq(jstr(tl, "bucket"), "month");
	if (!json_is_array(series) || json_array_size(series) == 0 ||
	    json_array_size(series) > 100000 ||
	    (t->first = tl_key(jstr(json_array_get(series, 0), "period"), t->month)) < 0)
		return false;
	if ((t->v = calloc(json_array_size(series), sizeof(*t->v))) == NULL)
		return false;
	t->n = (int)json_array_size(series);
	t->ymax = 1;
	json_array_foreach(series, i, e) {
		t->v[i] = jint(e, "counted", &v) && v >= 0 ? v : prev;
		prev = t->v[i];
		if (t->v[i] > t->ymax)
			t->ymax = t->v[i];
	}
	if (!jint(tl, "threshold", &t->threshold) || t->threshold < 0)
		t->threshold = 0;
	if (t->threshold > t->ymax)
		t->ymax = t->threshold;
	return true;
}

/* Fits the periods into width: several characters per period, or periods per column. */
static void
tl_layout(struct tl *t, int width)
{
	int plot;

	t->lw = snprintf(NULL, 0, "%lld", t->ymax);
	plot = width - (t->lw + 2) - (t->threshold > 0 ? (int)strlen(TL_LABEL) : 0);
	t->group = (t->n + plot - 1) / plot;
	t->ncols = (t->n + t->group - 1) / t->group;
	t->plotw = t->group > 1 ? t->ncols : plot < t->n * TL_MAX_COLW ? plot :
	    t->n * TL_MAX_COLW;
}

/* Where column c starts in the plot: the width shared out as evenly as it goes. */
static int
tl_x(const struct tl *t, int c)
{
	return (int)((long long)c * t->plotw / t->ncols);
}

/* Cumulative count at the end of column c. */
static long long
tl_col_value(const struct tl *t, int c)
{
	int last = (c + 1) * t->group - 1;

	return t->v[last < t->n ? last : t->n - 1];
}

/* The glyph of column value v in chart row r (1 = bottom), or NULL when empty. */
static const char *
tl_cell(const struct tl *t, long long v, int r)
{
	double unit = (double)t->ymax / TL_ROWS, f = ((double)v - unit * (r - 1)) / unit;
	int e = f <= 0 ? 0 : f >= 1 ? 8 : (int)(f * 8 + 0.5);

	return e == 0 ? NULL : t->gl->block[e];
}

static int
tl_threshold_row(const struct tl *t)
{
	int r;

	if (t->threshold <= 0)
		return 0;
	for (r = 1; r < TL_ROWS && (double)t->threshold > (double)t->ymax * r / TL_ROWS; r++)
		;
	return r;
}

/* Writes a line held in buf without its trailing blanks. */
static void
tl_flush(FILE *out, char *buf, size_t len)
{
	while (len > 0 && buf[len - 1] == ' ')
		len--;
	fwrite(buf, 1, len, out);
	fputc('\n', out);
}

static void
tl_rows(FILE *out, const struct tl *t, char *buf, size_t cap)
{
	int r, c, k, tr = tl_threshold_row(t);
	const char *g;
	size_t len;
	FILE *f;

	for (r = TL_ROWS; r >= 1; r--) {
		if ((f = fmemopen(buf, cap, "w")) == NULL)
			return;
		if (r == TL_ROWS || r == tr)
			fprintf(f, "%*lld %s", t->lw, r == tr ? t->threshold : t->ymax,
			    r == tr ? t->gl->cross : t->gl->tick);
		else
			fprintf(f, "%*s %s", t->lw, "", t->gl->vbar);
		for (c = 0; c < t->ncols; c++) {
			g = tl_cell(t, tl_col_value(t, c), r);
			for (k = tl_x(t, c); k < tl_x(t, c + 1); k++)
				fputs(g != NULL ? g : r == tr ? t->gl->line : " ", f);
		}
		if (r == tr)
			fputs(TL_LABEL, f);
		len = (size_t)ftell(f);
		fclose(f);
		tl_flush(out, buf, len < cap ? len : cap - 1);
	}
}

/* Column of the period holding date s, -1 when outside the chart. */
static int
tl_col_of(const struct tl *t, const char *s)
{
	int key = tl_key(s, t->month);

	if (key < t->first || key - t->first >= t->n)
		return -1;
	return (key - t->first) / t->group;
}

static void
tl_axis(FILE *out, const struct tl *t, int ct, int ce)
{
	int c, k, x, ek = ce == ct ? 1 : 0;   /* both in one column: side by side */

	fprintf(out, "%*d %s", t->lw, 0, t->gl->corner);
	for (c = 0; c < t->ncols; c++)
		for (x = tl_x(t, c), k = 0; x + k < tl_x(t, c + 1); k++) {
			if (c == ct && k == 0)
				fputs(t->gl->mark_t, out);
			else if (c == ce && k == ek)
				fputs(t->gl->mark_e, out);
			else
				fputs(t->gl->line, out);
		}
	fputc('\n', out);
}

/* The period names under the axis, at round periods, never overlapping. */
static void
tl_labels(FILE *out, const struct tl *t, char *buf, int width)
{
	static const int ysteps[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 };
	static const int msteps[] = { 1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200 };
	const int *steps = t->month ? msteps : ysteps;
	size_t nsteps = t->month ? sizeof(msteps) / sizeof(*msteps) :
	    sizeof(ysteps) / sizeof(*ysteps);
	int len = t->month ? 7 : 4, step, c, b, pos, next = 0;
	char name[24];
	size_t i;

	/* A label and two blanks must fit between two labelled periods. */
	for (i = 0; i + 1 < nsteps &&
	    (long long)steps[i] * t->plotw < (long long)(len + 2) * t->group * t->ncols; i++)
		;
	step = steps[i];
	memset(buf, ' ', (size_t)width + 2);
	for (c = 0; c < t->ncols; c++) {
		for (b = c * t->group; b < (c + 1) * t->group && b < t->n; b++)
			if ((t->first + b) % step == 0)
				break;
		pos = t->lw + 2 + tl_x(t, c);
		if (b >= (c + 1) * t->group || b >= t->n || pos < next || pos + len > width)
			continue;
		memcpy(buf + pos, tl_period(t->first + b, t->month, name), (size_t)len);
		next = pos + len + 2;
	}
	tl_flush(out, buf, next > 0 ? (size_t)next : 0);
}

/* Prints item on the current line when it fits in width, else on a line of its own
 * after indent blanks; *col is where the line stands, 0 at its start. */
static void
tl_item(FILE *out, int width, int indent, const char *sep, const char *item, int *col)
{
	int w = (int)render_text_width(item);

	if (*item == '\0')
		return;
	if (*col > 0 && *col + (int)strlen(sep) + w <= width) {
		fputs(sep, out);
		*col += (int)strlen(sep);
	} else {
		if (*col > 0)
			fputc('\n', out);
		fprintf(out, "%*s", indent, "");
		*col = indent;
	}
	render_text(out, item);
	*col += w;
}

/* A date from the timeline, when it is one. */
static const char *
tl_date(const json_t *tl, const char *key)
{
	const char *d = jstr(tl, key);

	return d != NULL && tl_iso_date(d) ? d : NULL;
}

static void
tl_title(FILE *out, const json_t *tl, int width)
{
	char item[TL_ITEM_MAX];
	int col = 0;

	snprintf(item, sizeof(item), "%s:", jstr(tl, "treaty") ? jstr(tl, "treaty") : "-");
	tl_item(out, width, 0, "", item, &col);
	snprintf(item, sizeof(item), "counted instruments by %s,",
	    streq(jstr(tl, "bucket"), "month") ? "month" : "year");
	tl_item(out, width, 0, " ", item, &col);
	snprintf(item, sizeof(item), "as of %s", tl_date(tl, "as_of") ? tl_date(tl, "as_of") :
	    "-");
	tl_item(out, width, 0, " ", item, &col);
	fputc('\n', out);
}

/* "^ threshold of 20 reached on 2003-03-14   * entry into force on 2003-07-01". */
static void
tl_legend(FILE *out, const struct tl *t, const json_t *tl, int width, bool tdrawn,
    bool edrawn)
{
	const char *td = tl_date(tl, "threshold_date"), *eif = tl_date(tl, "entry_into_force");
	const char *as_of = tl_date(tl, "as_of");
	long long last = t->v[t->n - 1];
	char first[TL_ITEM_MAX] = "", second[TL_ITEM_MAX] = "";
	int col = 0, indent = t->lw + 2;

	if (td != NULL)
		snprintf(first, sizeof(first), "%s%sthreshold of %lld reached on %s",
		    tdrawn ? t->gl->mark_t : "", tdrawn ? " " : "", t->threshold, td);
	else if (t->threshold > 0)
		snprintf(first, sizeof(first), "threshold %lld: %lld counted, %lld remaining",
		    t->threshold, last, t->threshold > last ? t->threshold - last : 0);
	if (eif != NULL)
		snprintf(second, sizeof(second), "%s%s%s %s", edrawn ? t->gl->mark_e : "",
		    edrawn ? " " : "", as_of != NULL && strcmp(eif, as_of) > 0 ?
		    "enters into force on" : "entry into force on", eif);
	/* Under the chart when it fits there, else from the margin. */
	if (indent + (int)render_text_width(first) > width ||
	    indent + (int)render_text_width(second) > width)
		indent = 0;
	tl_item(out, width, indent, "", first, &col);
	tl_item(out, width, indent, "   ", second, &col);
	if (col > 0)
		fputc('\n', out);
}

void
render_timeline(FILE *out, const json_t *tl, int width, bool utf8)
{
	struct tl t = { .gl = utf8 ? &tl_utf8 : &tl_ascii };
	int ct, ce;
	char *buf;

	if (width < TL_MIN_WIDTH)
		width = TL_MIN_WIDTH;
	if (width > TL_MAX_WIDTH)
		width = TL_MAX_WIDTH;
	tl_title(out, tl, width);
	if (!tl_load(&t, tl)) {
		fputs("no counted instrument yet", out);
		if (jint(tl, "threshold", &t.threshold) && t.threshold > 0)
			fprintf(out, " (threshold %lld)", t.threshold);
		fputc('\n', out);
		free(t.v);
		return;
	}
	/* Rows hold up to 3 bytes a column (UTF-8 blocks and lines). */
	if ((buf = malloc((size_t)width * 4 + 64)) == NULL) {
		free(t.v);
		return;
	}
	tl_layout(&t, width);
	ct = tl_date(tl, "threshold_date") ? tl_col_of(&t, tl_date(tl, "threshold_date")) : -1;
	ce = tl_date(tl, "entry_into_force") ? tl_col_of(&t, tl_date(tl, "entry_into_force")) :
	    -1;
	tl_rows(out, &t, buf, (size_t)width * 4 + 64);
	tl_axis(out, &t, ct, ce);
	tl_labels(out, &t, buf, width);
	tl_legend(out, &t, tl, width, ct >= 0, ce >= 0 &&
	    (ce != ct || tl_x(&t, ce + 1) - tl_x(&t, ce) > 1));
	free(buf);
	free(t.v);
}
