/* Human output of control-socket replies: aligned blocks and tables that survive odd JSON. */
#include <stdlib.h>
#include <string.h>

#include "ratd/render.h"

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

static const json_t *
jget(const json_t *o, const char *key)
{
	return json_is_object(o) ? json_object_get(o, key) : NULL;
}

/* The string at key, or NULL when missing, null or of another type. */
static const char *
jstr(const json_t *o, const char *key)
{
	const json_t *v = jget(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool
jint(const json_t *o, const char *key, long long *out)
{
	const json_t *v = jget(o, key);

	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return true;
}

/* 1 true, 0 false, -1 missing or not a boolean. */
static int
jbool(const json_t *o, const char *key)
{
	const json_t *v = jget(o, key);

	return json_is_boolean(v) ? json_is_true(v) : -1;
}

static bool
streq(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

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

/* Terminal columns of s as render_text prints it: one per character. */
static size_t
text_width(const char *s)
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

static void
put_int(FILE *out, const json_t *o, const char *key)
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
status_heading(FILE *out, const json_t *t, bool color)
{
	paint_text(out, color, PAINT_BOLD, jstr(t, "id"));
	if (jstr(t, "title") != NULL && !streq(jstr(t, "title"), jstr(t, "id"))) {
		fputs("  ", out);
		render_text(out, jstr(t, "title"));
	}
	fputc('\n', out);
}

static void
status_parties(FILE *out, const json_t *t)
{
	long long counted;

	put_key(out, "parties");
	put_int(out, t, "parties");
	if (jint(t, "counted", &counted))
		fprintf(out, " (%lld counted towards the threshold)", counted);
	fputc('\n', out);
	put_key(out, "signatories");
	put_int(out, t, "signatories");
	fputc('\n', out);
}

static void
status_threshold(FILE *out, const json_t *t)
{
	const json_t *names = jget(t, "threshold_participants");
	int reached = jbool(t, "threshold_reached");
	long long remaining;

	put_key(out, "threshold");
	put_int(out, t, "threshold");
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
status_eif(FILE *out, const json_t *t, bool color)
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
status_outlook(FILE *out, const json_t *t)
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
		put_int(out, proj, "window_months");
		fputs(" months (", out);
		put_int(out, proj, "instruments_in_window");
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
status_conditions(FILE *out, const json_t *t)
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
status_later(FILE *out, const json_t *rule)
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
status_rule(FILE *out, const json_t *rule)
{
	const json_t *count = jget(rule, "count"), *exclude = jget(rule, "exclude");

	put_key(out, "rule");
	if (!json_is_object(rule)) {
		fputs("-\n", out);
		return;
	}
	put_int(out, rule, "threshold");
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
	status_later(out, rule);
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
status_source(FILE *out, const json_t *t, bool color)
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
status_block(FILE *out, const json_t *t, bool color)
{
	status_heading(out, t, color);
	put_key(out, "as of");
	render_text(out, jstr(t, "as_of"));
	fputc('\n', out);
	status_parties(out, t);
	status_threshold(out, t);
	status_eif(out, t, color);
	status_outlook(out, t);
	status_conditions(out, t);
	status_rule(out, jget(t, "rule"));
	status_source(out, t, color);
}

/* One line per alert sink: where it delivers and how far it has got. */
static void
status_alerts(FILE *out, const json_t *alerts, bool color)
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
status_journal(FILE *out, const json_t *journal, bool color)
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
		status_block(out, t, color);
	}
	status_alerts(out, jget(result, "alerts"), color);
	status_journal(out, jget(result, "journal"), color);
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
	status_alerts(out, jget(result, "alerts"), color);
	status_journal(out, jget(result, "journal"), color);
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
		for (pad = text_width(cells[c]); pad < width[c] + 2; pad++)
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
			if (text_width(r.cell[c]) > width[c])
				width[c] = text_width(r.cell[c]);
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
		if (text_width(jstr(p, "name") ? jstr(p, "name") : "-") > width)
			width = text_width(jstr(p, "name") ? jstr(p, "name") : "-");
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
		for (pad = text_width(name); pad < width + 2; pad++)
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

/* Timeline: cumulative counted instruments by period, drawn as an area chart. */

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
		d = dated_date(p, "instrument");
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
	int w = (int)text_width(item);

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
	char item[CELL_MAX];
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
	char first[CELL_MAX] = "", second[CELL_MAX] = "";
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
	if (indent + (int)text_width(first) > width || indent + (int)text_width(second) > width)
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
