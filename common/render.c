/* Human output of control-socket replies: aligned blocks and tables that survive odd JSON. */
#include <stdlib.h>
#include <string.h>

#include "jfield.h"
#include "render.h"

#define KEY_WIDTH 18     /* "entry into force" and room to spare */
#define ALL_KINDS 6      /* ratification accession acceptance approval succession confirmation */
#define CELL_MAX 256
#define NCOLS 5

enum paint { PAINT_BOLD, PAINT_GREEN, PAINT_YELLOW, PAINT_RED };

static const char *const paint_codes[] = {
	[PAINT_BOLD] = "\033[1m", [PAINT_GREEN] = "\033[32m",
	[PAINT_YELLOW] = "\033[33m", [PAINT_RED] = "\033[31m",
};

static const char *const parties_heads[NCOLS] = {
	"Participant", "Signature", "Instrument", "Kind", "In force",
};

struct row {
	char cell[NCOLS][CELL_MAX];
};

/* Bytes of the control character at s (C0, DEL or a UTF-8 encoded C1), else 0. */
static size_t
control_len(const unsigned char *s)
{
	if (s[0] < 0x20 || s[0] == 0x7f)
		return 1;
	if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 2;
	return 0;
}

void
render_text(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (s == NULL) {
		fputc('-', out);
		return;
	}
	while (*p != '\0') {
		if ((n = control_len(p)) > 0) {
			fputc('?', out);
			p += n;
		} else
			fputc(*p++, out);
	}
}

size_t
render_text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0, n;

	while (*p != '\0') {
		if ((n = control_len(p)) > 0) {
			w++;
			p += n;
		} else if ((*p++ & 0xc0) != 0x80)
			w++;
	}
	return w;
}

static void
paint_text(FILE *out, bool color, enum paint p, const char *s)
{
	if (color)
		fputs(paint_codes[p], out);
	render_text(out, s);
	if (color)
		fputs("\033[0m", out);
}

static void
put_key(FILE *out, const char *key)
{
	fprintf(out, "  %-*s ", KEY_WIDTH, key);
}

void
render_int(FILE *out, const json_t *o, const char *key)
{
	long long v;

	if (jint(o, key, &v))
		fprintf(out, "%lld", v);
	else
		fputc('-', out);
}

/* "A, B, C" from an array of strings; "-" for any element that is not one. */
static void
put_list(FILE *out, const json_t *arr)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		fputs("none", out);
		return;
	}
	json_array_foreach(arr, i, v) {
		if (i > 0)
			fputs(", ", out);
		render_text(out, json_is_string(v) ? json_string_value(v) : NULL);
	}
}

static void
show_heading(FILE *out, const json_t *t, bool color)
{
	paint_text(out, color, PAINT_BOLD, jstr(t, "id"));
	if (jstr(t, "title") != NULL && !streq(jstr(t, "title"), jstr(t, "id"))) {
		fputs("  ", out);
		render_text(out, jstr(t, "title"));
	}
	fputc('\n', out);
}

static void
show_parties(FILE *out, const json_t *t)
{
	long long counted;

	put_key(out, "parties");
	render_int(out, t, "parties");
	if (jint(t, "counted", &counted))
		fprintf(out, " (%lld counted towards the threshold)", counted);
	fputc('\n', out);
	put_key(out, "signatories");
	render_int(out, t, "signatories");
	fputc('\n', out);
}

static void
show_threshold(FILE *out, const json_t *t)
{
	const json_t *names = jget(t, "threshold_participants");
	int reached = jbool(t, "threshold_reached");
	long long remaining;

	put_key(out, "threshold");
	render_int(out, t, "threshold");
	if (reached == 1) {
		fputs(": reached on ", out);
		render_text(out, jstr(t, "threshold_date"));
		if (json_is_array(names) && json_array_size(names) > 0) {
			fputs(" by ", out);
			put_list(out, names);
		}
	} else if (reached == 0 && jint(t, "remaining", &remaining))
		fprintf(out, ": %lld remaining", remaining);
	fputc('\n', out);
}

/* What follows the threshold: "3 months, then first day of the next month". */
static void
put_delay(FILE *out, const json_t *rule)
{
	const char *delay = jstr(rule, "eif_delay");

	render_text(out, delay);
	if (streq(jstr(rule, "eif_align"), "next-month"))
		fputs(", then first day of the next month", out);
}

static void
show_eif(FILE *out, const json_t *t, bool color)
{
	const char *eif = jstr(t, "entry_into_force");
	int in_force = jbool(t, "in_force");

	put_key(out, "entry into force");
	if (eif != NULL) {
		render_text(out, eif);
		if (in_force == 1) {
			fputs(" (", out);
			paint_text(out, color, PAINT_GREEN, "in force");
			fputc(')', out);
		} else if (in_force == 0)
			fputs(" (not yet in force)", out);
	} else if (jbool(t, "threshold_reached") == 0) {
		fputs("not yet (when the threshold is reached: ", out);
		put_delay(out, jget(t, "rule"));
		fputc(')', out);
	} else
		fputc('-', out);
	fputc('\n', out);
}

/* The countdown of a treaty whose threshold is not reached: the earliest possible entry
 * into force, and the projection at the recent pace. Absent fields print nothing. */
static void
show_outlook(FILE *out, const json_t *t)
{
	const json_t *proj = jget(t, "projection");
	long long remaining, n;

	if (jbool(t, "threshold_reached") != 0)
		return;
	if (jstr(t, "earliest_entry_into_force") != NULL) {
		put_key(out, "earliest possible");
		render_text(out, jstr(t, "earliest_entry_into_force"));
		if (jint(t, "remaining", &remaining)) {
			fprintf(out, " (the %lld remaining all deposited on ", remaining);
			render_text(out, jstr(t, "as_of"));
			fputc(')', out);
		}
		fputc('\n', out);
	}
	if (json_is_object(proj)) {
		put_key(out, "projection");
		fputs("threshold ", out);
		render_text(out, jstr(proj, "threshold_date"));
		fputs(", entry into force ", out);
		render_text(out, jstr(proj, "entry_into_force"));
		fputs(",\n", out);
		put_key(out, "");
		fputs("at the pace of the last ", out);
		render_int(out, proj, "window_months");
		fputs(" months (", out);
		render_int(out, proj, "instruments_in_window");
		fprintf(out, " instrument%s),\n", jint(proj, "instruments_in_window", &n) &&
		    n == 1 ? "" : "s");
		put_key(out, "");
		fputs("not a forecast\n", out);
	} else if (json_is_null(proj)) {
		put_key(out, "projection");
		fputs("none: no counted instrument in the recent past to set a pace\n", out);
	}
}

/* The treaty's conditions beyond the count, in words: the named participants it still
 * waits for, its earliest date, and the treaty it cannot precede. */
static void
show_conditions(FILE *out, const json_t *t)
{
	const json_t *rule = jget(t, "rule"), *missing = jget(t, "required_missing");
	const json_t *named = jget(rule, "requires");

	if (json_is_array(named) && json_array_size(named) > 0) {
		put_key(out, "also needs");
		if (json_is_array(missing) && json_array_size(missing) > 0) {
			fprintf(out, "%zu of the %zu participants the treaty names, still without "
			    "an instrument: ", json_array_size(missing), json_array_size(named));
			put_list(out, missing);
		} else
			fprintf(out, "all %zu participants the treaty names: every one has "
			    "deposited", json_array_size(named));
		fputc('\n', out);
	}
	if (jstr(rule, "not_before") != NULL) {
		put_key(out, "not before");
		render_text(out, jstr(rule, "not_before"));
		fputs(" (a date fixed in the treaty: it cannot enter into force earlier)\n", out);
	}
	if (jstr(rule, "after_treaty") != NULL) {
		put_key(out, "waits for");
		render_text(out, jstr(rule, "after_treaty"));
		fputs(" to enter into force (it cannot enter into force before that treaty)\n",
		    out);
	}
}

/* How a State joining later is bound, when that differs from the treaty's own rule. */
static void
show_later(FILE *out, const json_t *rule)
{
	bool threshold = streq(jstr(rule, "later"), "after-threshold");
	bool same = streq(jstr(rule, "later_delay"), jstr(rule, "eif_delay")) &&
	    streq(jstr(rule, "later_align"), jstr(rule, "eif_align"));

	/* A daemon before these fields, or nothing beyond the treaty's own rule. */
	if (jstr(rule, "later") == NULL || jstr(rule, "later_delay") == NULL ||
	    (!threshold && same))
		return;
	fputs(threshold ? "; a State joining after the threshold: " :
	    "; a State joining after entry into force: ", out);
	render_text(out, jstr(rule, "later_delay"));
	fputs(" from its own instrument", out);
	if (streq(jstr(rule, "later_align"), "next-month"))
		fputs(", first day of the next month", out);
	if (threshold)
		fputs(", never before the treaty", out);
}

static void
show_rule(FILE *out, const json_t *rule)
{
	const json_t *count = jget(rule, "count"), *exclude = jget(rule, "exclude");

	put_key(out, "rule");
	if (!json_is_object(rule)) {
		fputs("-\n", out);
		return;
	}
	render_int(out, rule, "threshold");
	fputs(" instruments", out);
	if (jstr(rule, "eif_delay") != NULL) {
		fputs(", then ", out);
		render_text(out, jstr(rule, "eif_delay"));
	}
	if (streq(jstr(rule, "eif_align"), "next-month"))
		fputs(", first day of the next month", out);
	/* Only a narrowed list is news: the default counts every kind. */
	if (json_is_array(count) && json_array_size(count) < ALL_KINDS) {
		fputs("; counted: ", out);
		put_list(out, count);
	}
	if (json_is_array(exclude) && json_array_size(exclude) > 0) {
		fputs("; not counted: ", out);
		put_list(out, exclude);
	}
	show_later(out, rule);
	fputc('\n', out);
}

static void
source_state(FILE *out, const json_t *src, bool color)
{
	const char *state = jstr(src, "state"), *asat = jstr(src, "status_as_at");
	const char *error = jstr(src, "error");
	long long n;

	put_key(out, "source");
	if (streq(state, "ok")) {
		paint_text(out, color, PAINT_GREEN, "ok");
		if (asat != NULL) {
			fputs(", status as at ", out);
			render_text(out, asat);
		}
	} else if (streq(state, "seed")) {
		paint_text(out, color, PAINT_YELLOW, "seed");
		fputs(": bundled snapshot, no successful fetch yet", out);
		if (asat != NULL) {
			fputs(" (status as at ", out);
			render_text(out, asat);
			fputc(')', out);
		}
	} else if (streq(state, "failing")) {
		paint_text(out, color, PAINT_RED, "failing");
		if (jint(src, "consecutive_failures", &n))
			fprintf(out, " since %lld attempt%s", n, n == 1 ? "" : "s");
		if (error != NULL) {
			fputs(": ", out);
			render_text(out, error);
		}
	} else if (streq(state, "none")) {
		paint_text(out, color, PAINT_YELLOW, "none");
		fputs(": no data yet, no successful fetch and no seed", out);
	} else
		render_text(out, state);
	fputc('\n', out);
	if (error != NULL && !streq(state, "failing")) {
		put_key(out, "last error");
		render_text(out, error);
		fputc('\n', out);
	}
}

/* The page's own Status counts, shown only when they disagree with the table. */
static void
source_stated(FILE *out, const json_t *t, const json_t *src)
{
	long long sp = 0, ss = 0, p = 0, s = 0;
	bool hp = jint(src, "stated_parties", &sp), hs = jint(src, "stated_signatories", &ss);
	bool dp = hp && jint(t, "parties", &p) && sp != p;
	bool ds = hs && jint(t, "signatories", &s) && ss != s;
	const char *as_of = jstr(t, "as_of"), *stamp = jstr(src, "status_as_at");

	/* Before the page's own date the table is evaluated at another day than the
	 * page's counts: a difference then says nothing. */
	if (as_of != NULL && stamp != NULL && strncmp(as_of, stamp, 10) < 0)
		return;
	if (!dp && !ds)
		return;
	put_key(out, "page states");
	if (hp) {
		fprintf(out, "%lld parties", sp);
		if (dp)
			fprintf(out, " (table has %lld)", p);
	}
	if (hs) {
		fprintf(out, "%s%lld signatories", hp ? ", " : "", ss);
		if (ds)
			fprintf(out, " (table has %lld)", s);
	}
	fputc('\n', out);
}

/* A time line: the time, "never" for null (when never_ok), "-" for anything else. */
static void
source_time(FILE *out, const char *key, const json_t *src, const char *field, bool never_ok)
{
	const json_t *v = jget(src, field);

	put_key(out, key);
	if (json_is_string(v))
		render_text(out, json_string_value(v));
	else
		fputs(json_is_null(v) && never_ok ? "never" : "-", out);
	fputc('\n', out);
}

/* The daemon's cross-checks of the page against its own table, one line each. */
static void
source_disagrees(FILE *out, const json_t *list)
{
	const json_t *v;
	size_t i;

	json_array_foreach(list, i, v) {
		put_key(out, "page disagrees");
		render_text(out, json_is_string(v) ? json_string_value(v) : NULL);
		fputc('\n', out);
	}
}

static void
show_source(FILE *out, const json_t *t, bool color)
{
	const json_t *src = jget(t, "source"), *disc = jget(t, "discrepancies");

	source_state(out, src, color);
	/* A daemon that cross-checks says so itself; an older one leaves it to us. */
	if (json_is_array(disc))
		source_disagrees(out, disc);
	else
		source_stated(out, t, src);
	source_time(out, "last success", src, "last_success", true);
	if (!streq(jstr(src, "state"), "ok") && jstr(src, "last_attempt") != NULL)
		source_time(out, "last attempt", src, "last_attempt", false);
	source_time(out, "next fetch", src, "next_fetch", false);
}

static void
show_block(FILE *out, const json_t *t, bool color)
{
	show_heading(out, t, color);
	put_key(out, "as of");
	render_text(out, jstr(t, "as_of"));
	fputc('\n', out);
	show_parties(out, t);
	show_threshold(out, t);
	show_eif(out, t, color);
	show_outlook(out, t);
	show_conditions(out, t);
	show_rule(out, jget(t, "rule"));
	show_source(out, t, color);
}

/* One line per alert sink: where it delivers and how far it has got. */
static void
show_alerts(FILE *out, const json_t *alerts, bool color)
{
	const json_t *a;
	long long pending = 0, delivered = 0;
	size_t i;

	if (!json_is_array(alerts) || json_array_size(alerts) == 0)
		return;
	fputs("\nalerts\n", out);
	json_array_foreach(alerts, i, a) {
		put_key(out, jstr(a, "name") ? jstr(a, "name") : "-");
		render_text(out, jstr(a, "kind"));
		fputc(' ', out);
		render_text(out, jstr(a, "target"));
		jint(a, "delivered", &delivered);
		jint(a, "pending", &pending);
		fprintf(out, ": delivered up to #%lld, %lld pending", delivered, pending);
		if (jstr(a, "last_error") != NULL) {
			fputs(", ", out);
			paint_text(out, color, PAINT_RED, "last error");
			fputs(": ", out);
			render_text(out, jstr(a, "last_error"));
		}
		if (jstr(a, "next_try") != NULL) {
			fputs(", next try ", out);
			render_text(out, jstr(a, "next_try"));
		}
		fputc('\n', out);
	}
}

/* The journal only when it is failing: events then wait off disk. */
static void
show_journal(FILE *out, const json_t *journal, bool color)
{
	long long pending = 0;

	if (!streq(jstr(journal, "state"), "failing"))
		return;
	jint(journal, "pending", &pending);
	fputc('\n', out);
	paint_text(out, color, PAINT_RED, "journal failing");
	fprintf(out, ": %lld event%s not on disk", pending, pending == 1 ? "" : "s");
	if (jstr(journal, "since") != NULL) {
		fputs(" since ", out);
		render_text(out, jstr(journal, "since"));
	}
	fputs(": ", out);
	render_text(out, jstr(journal, "error") ? jstr(journal, "error") : "unknown error");
	fputc('\n', out);
}

void
render_status(FILE *out, const json_t *result, bool color)
{
	const json_t *treaties = jget(result, "treaties"), *t;
	size_t i;

	if (!json_is_array(treaties) || json_array_size(treaties) == 0) {
		fputs("no treaties\n", out);
		return;
	}
	json_array_foreach(treaties, i, t) {
		if (i > 0)
			fputc('\n', out);
		show_block(out, t, color);
	}
	show_alerts(out, jget(result, "alerts"), color);
	show_journal(out, jget(result, "journal"), color);
}

/* One line of the summary: id, counted/threshold, where it stands, the source. */
static void
summary_line(FILE *out, const json_t *t, int idw, bool color)
{
	const char *id = jstr(t, "id"), *eif = jstr(t, "entry_into_force");
	const char *state = jstr(jget(t, "source"), "state");
	long long counted = 0, threshold = 0, remaining = 0;
	char figures[48], stand[64];

	paint_text(out, color, PAINT_BOLD, id);
	fprintf(out, "%*s", idw + 2 - (id ? (int)strlen(id) : 1), "");
	jint(t, "counted", &counted);
	jint(t, "threshold", &threshold);
	snprintf(figures, sizeof(figures), "%lld/%lld", counted, threshold);
	/* A date is ten ASCII characters; anything else is not one. */
	if (eif != NULL && strlen(eif) != 10)
		eif = "?";
	if (eif != NULL)
		snprintf(stand, sizeof(stand), "%s %s", jbool(t, "in_force") == 1 ?
		    "in force since" : "enters into force", eif);
	else if (jint(t, "remaining", &remaining))
		snprintf(stand, sizeof(stand), "%lld remaining", remaining);
	else
		snprintf(stand, sizeof(stand), "-");
	fprintf(out, "%-11s %-28s ", figures, stand);
	paint_text(out, color, streq(state, "ok") ? PAINT_GREEN : streq(state, "failing") ?
	    PAINT_RED : PAINT_YELLOW, state ? state : "-");
	fputc('\n', out);
}

void
render_status_summary(FILE *out, const json_t *result, bool color)
{
	const json_t *treaties = jget(result, "treaties"), *t;
	size_t i, failing = 0;
	int idw = 2;

	json_array_foreach(treaties, i, t)
		if (jstr(t, "id") != NULL && (int)strlen(jstr(t, "id")) > idw)
			idw = (int)strlen(jstr(t, "id"));
	json_array_foreach(treaties, i, t) {
		summary_line(out, t, idw, color);
		failing += !streq(jstr(jget(t, "source"), "state"), "ok");
	}
	fprintf(out, "%zu treaties, %zu not ok; `ratctl status --all` or `ratctl status "
	    "TREATY` for the details\n", json_array_size(treaties), failing);
	show_alerts(out, jget(result, "alerts"), color);
	show_journal(out, jget(result, "journal"), color);
}

/* Date of a {date, kind} member, or NULL. */
static const char *
dated_date(const json_t *p, const char *key)
{
	return jstr(jget(p, key), "date");
}

/* True when date is known and on or before as_of (ISO dates compare as strings). */
static bool
dated_by(const char *date, const char *as_of)
{
	return date != NULL && (as_of == NULL || strcmp(date, as_of) <= 0);
}

/* " (withdrew 2017-10-27)", " (withdraws 2030-03-01)" or "" after the date column. */
static const char *
parties_withdrawal(const json_t *p, const char *as_of)
{
	static char buf[64];
	const char *w = jstr(p, "withdrawal_date");

	if (w == NULL || strlen(w) > 10)
		return "";
	snprintf(buf, sizeof(buf), " (%s %s)", dated_by(w, as_of) ? "withdrew" : "withdraws",
	    w);
	return buf;
}

/* Fills the cells of one participant; true when it holds an instrument that does not count. */
static bool
parties_row(const json_t *p, const char *as_of, struct row *r)
{
	const char *name = jstr(p, "name"), *kind = jstr(jget(p, "instrument"), "kind");
	const char *sig = dated_date(p, "signature"), *ins = dated_date(p, "instrument");
	const char *eif = jstr(p, "entry_into_force");
	bool withdrawn = jbool(p, "withdrawn") == 1;
	bool uncounted = !withdrawn && jbool(p, "counts") == 0 && dated_by(ins, as_of);

	if (withdrawn && name != NULL && name[0] != '[')
		snprintf(r->cell[0], CELL_MAX, "[%s]", name);
	else
		snprintf(r->cell[0], CELL_MAX, "%s", name ? name : "-");
	snprintf(r->cell[1], CELL_MAX, "%s%s", sig ? sig : "-",
	    streq(jstr(jget(p, "signature"), "kind"), "succession") ? " (succession)" : "");
	snprintf(r->cell[2], CELL_MAX, "%s", ins ? ins : "-");
	snprintf(r->cell[3], CELL_MAX, "%s%s", kind ? kind : "-", uncounted ? " *" : "");
	snprintf(r->cell[4], CELL_MAX, "%s%s", eif ? eif : "-", parties_withdrawal(p, as_of));
	return uncounted;
}

static void
parties_line(FILE *out, const char *const cells[NCOLS], const size_t width[NCOLS])
{
	size_t c, pad;

	for (c = 0; c < NCOLS; c++) {
		render_text(out, cells[c]);
		if (c + 1 == NCOLS)
			break;
		for (pad = render_text_width(cells[c]); pad < width[c] + 2; pad++)
			fputc(' ', out);
	}
	fputc('\n', out);
}

static void
parties_footer(FILE *out, const json_t *list, const char *as_of, bool uncounted)
{
	long long parties = 0, signatories = 0;
	const json_t *p;
	size_t i;

	json_array_foreach(list, i, p) {
		if (jbool(p, "withdrawn") == 1)
			continue;
		parties += dated_by(dated_date(p, "instrument"), as_of);
		signatories += dated_by(dated_date(p, "signature"), as_of);
	}
	if (uncounted)
		fputs("* does not count towards the threshold\n", out);
	fprintf(out, "%lld part%s, %lld signator%s as of ", parties, parties == 1 ? "y" : "ies",
	    signatories, signatories == 1 ? "y" : "ies");
	render_text(out, as_of);
	fputc('\n', out);
}

void
render_parties(FILE *out, const json_t *result, bool color)
{
	const json_t *list = jget(result, "participants"), *p;
	const char *as_of = jstr(result, "as_of"), *cells[NCOLS];
	size_t width[NCOLS], c, i;
	bool uncounted = false;
	struct row r;

	if (!json_is_array(list))
		list = NULL;
	for (c = 0; c < NCOLS; c++)
		width[c] = strlen(parties_heads[c]);
	json_array_foreach(list, i, p) {
		uncounted |= parties_row(p, as_of, &r);
		for (c = 0; c < NCOLS; c++)
			if (render_text_width(r.cell[c]) > width[c])
				width[c] = render_text_width(r.cell[c]);
	}
	if (color)
		fputs(paint_codes[PAINT_BOLD], out);
	parties_line(out, parties_heads, width);
	if (color)
		fputs("\033[0m", out);
	json_array_foreach(list, i, p) {
		parties_row(p, as_of, &r);
		for (c = 0; c < NCOLS; c++)
			cells[c] = r.cell[c];
		parties_line(out, cells, width);
	}
	parties_footer(out, list, as_of, uncounted);
}

void
render_parties_notes(FILE *out, const json_t *result)
{
	const json_t *list = jget(result, "participants"), *p, *notes, *n;
	size_t i, k;
	bool first = true;

	json_array_foreach(list, i, p) {
		notes = jget(p, "notes");
		if (!json_is_array(notes) || json_array_size(notes) == 0)
			continue;
		fputs(first ? "\nNotes (the depositary's footnotes):\n" : "", out);
		first = false;
		json_array_foreach(notes, k, n) {
			if (!json_is_string(n))
				continue;
			render_text(out, jstr(p, "name"));
			fputs(": ", out);
			render_text(out, json_string_value(n));
			fputc('\n', out);
		}
	}
	if (first)
		fputs("\nNo participant has notes.\n", out);
}

void
render_refresh(FILE *out, const json_t *result, bool color)
{
	const json_t *treaties = jget(result, "treaties"), *t;
	const char *res;
	size_t i;

	if (!json_is_array(treaties) || json_array_size(treaties) == 0) {
		fputs("no treaties\n", out);
		return;
	}
	json_array_foreach(treaties, i, t) {
		res = jstr(t, "result");
		render_text(out, jstr(t, "id"));
		fputs(": ", out);
		if (streq(res, "error"))
			paint_text(out, color, PAINT_RED, res);
		else if (streq(res, "refused"))
			paint_text(out, color, PAINT_YELLOW, res);
		else
			render_text(out, res);
		if (jstr(t, "error") != NULL) {
			fputs(": ", out);
			render_text(out, jstr(t, "error"));
		}
		fputc('\n', out);
	}
}

void
render_event(FILE *out, const json_t *event, bool color)
{
	long long id;

	if (jint(event, "id", &id))
		fprintf(out, "#%lld ", id);
	else
		fputs("#- ", out);
	render_text(out, jstr(event, "time"));
	fputc(' ', out);
	render_text(out, jstr(event, "treaty"));
	fputc(' ', out);
	paint_text(out, color, PAINT_BOLD, jstr(event, "type"));
	fputc(' ', out);
	render_text(out, jstr(event, "summary"));
	fputc('\n', out);
}

void
render_history(FILE *out, const json_t *result, bool color)
{
	const json_t *events = jget(result, "events"), *e;
	size_t i;

	if (!json_is_array(events) || json_array_size(events) == 0) {
		fputs("no events\n", out);
		return;
	}
	json_array_foreach(events, i, e)
		render_event(out, e, color);
}

void
render_lines(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (s == NULL)
		return;
	while (*p != '\0') {
		if (*p == '\n' || *p == '\t')
			fputc(*p++, out);
		else if ((n = control_len(p)) > 0) {
			fputc('?', out);
			p += n;
		} else
			fputc(*p++, out);
	}
}

/* A signatory without an instrument at as_of: signed by then, not withdrawn. */
static bool
pending_at(const json_t *p, const char *as_of)
{
	return jbool(p, "withdrawn") != 1 && dated_by(dated_date(p, "signature"), as_of) &&
	    !dated_by(dated_date(p, "instrument"), as_of);
}

json_t *
render_pending_filter(const json_t *result)
{
	const json_t *list = jget(result, "participants"), *p;
	const char *as_of = jstr(result, "as_of");
	json_t *out, *pending;
	size_t i;

	if ((out = json_is_object(result) ? json_copy((json_t *)result) : json_object()) == NULL ||
	    (pending = json_array()) == NULL) {
		json_decref(out);
		return NULL;
	}
	/* The copy is shallow: the participants are shared, the reply is not changed. */
	json_array_foreach(list, i, p)
		if (pending_at(p, as_of) && json_array_append(pending, (json_t *)p) != 0) {
			json_decref(pending);
			json_decref(out);
			return NULL;
		}
	if (json_object_set_new(out, "participants", pending) != 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

void
render_pending(FILE *out, const json_t *result, bool color)
{
	static const char *const heads[] = { "Participant", "Signature" };
	const json_t *list = jget(result, "participants"), *p;
	const char *as_of = jstr(result, "as_of");
	char name[CELL_MAX], sig[CELL_MAX];
	size_t width = strlen(heads[0]), i, n = 0, pad;

	json_array_foreach(list, i, p)
		if (render_text_width(jstr(p, "name") ? jstr(p, "name") : "-") > width)
			width = render_text_width(jstr(p, "name") ? jstr(p, "name") : "-");
	if (color)
		fputs(paint_codes[PAINT_BOLD], out);
	fprintf(out, "%-*s  %s", (int)width, heads[0], heads[1]);
	if (color)
		fputs("\033[0m", out);
	fputc('\n', out);
	json_array_foreach(list, i, p) {
		snprintf(name, sizeof(name), "%s", jstr(p, "name") ? jstr(p, "name") : "-");
		snprintf(sig, sizeof(sig), "%s%s", dated_date(p, "signature") ?
		    dated_date(p, "signature") : "-", streq(jstr(jget(p, "signature"), "kind"),
		    "succession") ? " (succession)" : "");
		render_text(out, name);
		for (pad = render_text_width(name); pad < width + 2; pad++)
			fputc(' ', out);
		render_text(out, sig);
		fputc('\n', out);
		n++;
	}
	fprintf(out, "%zu signator%s not yet part%s as of ", n, n == 1 ? "y" : "ies",
	    n == 1 ? "y" : "ies");
	render_text(out, as_of);
	fputc('\n', out);
}
