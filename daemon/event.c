/* Event detection: comparing committed snapshots row by row, and the rule's figures. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"

static const char *const event_types[] = {
	EV_NEW_PARTY, EV_NEW_SIGNATORY, EV_THRESHOLD_REACHED, EV_APPROACHING,
	EV_ENTERED_INTO_FORCE, EV_PARTICIPANT_CHANGED, EV_PARTICIPANT_WITHDRAWN,
	EV_SOURCE_FAILING, EV_SOURCE_RECOVERED, EV_SOURCE_ANOMALY,
};

bool
event_type_known(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (strcmp(type, event_types[i]) == 0)
			return true;
	return false;
}

/* The longest summary kept: one line for a log, a mail subject, a terminal. */
#define EVENT_SUMMARY_MAX 1024
/* Bytes of participant names a threshold-reached summary spells out; data has them all. */
#define EVENT_NAMES_MAX 300
#define EVENT_TAIL_ROOM 20              /* " and 9999 others" */

/* Length of the longest prefix of s[0..len) that ends on a character boundary: a cut
 * there never splits a multibyte UTF-8 sequence. */
static size_t
event_char_floor(const char *s, size_t len)
{
	while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
		len--;
	return len;
}

/* The formatted summary, at most EVENT_SUMMARY_MAX bytes and cut only between characters
 * ("…" marks a cut). NULL on out-of-memory. */
static char *
event_vsummary(const char *fmt, va_list ap)
{
	static const char ellipsis[] = "\xe2\x80\xa6";   /* U+2026 */
	va_list aq;
	char *s;
	int n;
	size_t keep;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	if ((size_t)n > EVENT_SUMMARY_MAX) {
		keep = event_char_floor(s, EVENT_SUMMARY_MAX - (sizeof(ellipsis) - 1));
		memcpy(s + keep, ellipsis, sizeof(ellipsis));
	}
	return s;
}

/* A copy of s with every byte that is not part of valid UTF-8 replaced by '?': what is
 * left of a text jansson refused. NULL on out-of-memory. */
static json_t *
event_text_json(const char *s)
{
	json_t *v;
	char *c;
	size_t i;

	if (s == NULL)
		s = "";
	if ((v = json_string(s)) != NULL || (c = strdup(s)) == NULL)
		return v;
	for (i = 0; c[i] != '\0'; i++)
		if ((unsigned char)c[i] >= 0x80)
			c[i] = '?';
	v = json_string(c);
	free(c);
	return v;
}

/* The event when its full form cannot be built: every member of the schema present and
 * valid, the reason logged. Raising less is better than raising nothing. */
static json_t *
event_minimal(const char *when, const char *type, const char *treaty, const char *summary,
    json_t *data)
{
	json_t *ev;

	const char *why = summary == NULL ? "its summary (out of memory)" :
	    data == NULL ? "its data (a value could not be encoded)" :
	    "its summary or data (not valid UTF-8)";

	log_err("event %s of %s: cannot build %s; raising it with %s", type,
	    treaty ? treaty : "?", why, data == NULL ? "empty data" : "a repaired summary");
	ev = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)0, "time", when,
	    "type", type, "treaty", event_text_json(treaty), "summary",
	    event_text_json(summary ? summary : type), "data", data ? data : json_object());
	if (ev == NULL)
		log_err("event %s of %s: out of memory; the event is lost", type,
		    treaty ? treaty : "?");
	return ev;
}

int
event_add(struct event_list *l, time_t now, const char *type, const char *treaty,
    json_t *data, const char *fmt, ...)
{
	char when[DATE_TIME_LEN], *summary;
	json_t **v, *ev = NULL;
	va_list ap;

	va_start(ap, fmt);
	summary = event_vsummary(fmt, ap);
	va_end(ap);
	date_format_time(now, when);
	if (summary != NULL && data != NULL)
		ev = json_pack("{s:I, s:s, s:s, s:s, s:s, s:O}", "id", (json_int_t)0,
		    "time", when, "type", type, "treaty", treaty, "summary", summary, "data", data);
	if (ev == NULL)
		ev = event_minimal(when, type, treaty, summary, json_incref(data));
	json_decref(data);
	free(summary);
	if (ev == NULL || (v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL) {
		if (ev != NULL)
			log_err("event %s of %s: out of memory; the event is lost", type, treaty);
		json_decref(ev);
		return -1;
	}
	l->v = v;
	l->v[l->n++] = ev;
	return 0;
}

void
event_list_number(struct event_list *l, uint64_t *next)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		json_object_set_new(l->v[i], "id", json_integer((json_int_t)(*next)++));
}

void
event_list_clear(struct event_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		json_decref(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

uint64_t
event_id(const json_t *ev)
{
	return (uint64_t)json_integer_value(json_object_get(ev, "id"));
}

const char *
event_type(const json_t *ev)
{
	return json_string_value(json_object_get(ev, "type"));
}

const char *
event_treaty(const json_t *ev)
{
	return json_string_value(json_object_get(ev, "treaty"));
}

int
event_check(const json_t *ev)
{
	const json_t *id = json_object_get(ev, "id");
	time_t t;

	if (!json_is_object(ev) || !json_is_integer(id) || json_integer_value(id) <= 0 ||
	    !json_is_string(json_object_get(ev, "time")) ||
	    date_parse_time(json_string_value(json_object_get(ev, "time")), &t) < 0 ||
	    !json_is_string(json_object_get(ev, "type")) || !event_type_known(event_type(ev)) ||
	    !json_is_string(json_object_get(ev, "treaty")) ||
	    !json_is_string(json_object_get(ev, "summary")) ||
	    !json_is_object(json_object_get(ev, "data")))
		return -1;
	return 0;
}

/* A cell as it stands at today: later dates are not yet facts. */
static json_t *
event_action(struct action a, day_t today)
{
	if (a.date == DAY_NONE || a.date > today)
		return json_null();
	return json_pack("{s:o, s:s}", "date", date_json(a.date), "kind", kind_name(a.kind));
}

static json_t *
event_row(const struct participant *p, day_t today)
{
	if (p == NULL)
		return json_null();
	return json_pack("{s:s, s:o, s:o, s:b}", "name", p->name,
	    "signature", event_action(p->signature, today),
	    "instrument", event_action(p->instrument, today), "withdrawn", p->withdrawn);
}

static bool
event_has(struct action a, day_t today)
{
	return a.date != DAY_NONE && a.date <= today;
}

static bool
event_same(struct action a, struct action b, day_t today)
{
	bool ha = event_has(a, today), hb = event_has(b, today);

	return ha == hb && (!ha || (a.date == b.date && a.kind == b.kind));
}

/* participant-withdrawn, with the day the withdrawal took (or takes) effect. */
static int
event_withdrawn(struct event_list *l, const struct conf_treaty *ct,
    const struct participant *a, time_t now)
{
	day_t w = rule_withdrawal(&ct->rule, a);
	char d[DATE_ISO_LEN];

	if (w == DAY_NONE || w < date_from_ymd(1, 1, 1))
		return event_add(l, now, EV_PARTICIPANT_WITHDRAWN, ct->id,
		    json_pack("{s:s, s:n}", "participant", a->name, "withdrawal_date"),
		    "%s: %s withdrew (date of effect unknown)", ct->id, a->name);
	return event_add(l, now, EV_PARTICIPANT_WITHDRAWN, ct->id,
	    json_pack("{s:s, s:o}", "participant", a->name, "withdrawal_date", date_json(w)),
	    "%s: %s withdrew, with effect from %s", ct->id, a->name, date_format_iso(w, d));
}

/* The events of one row: b is its previous state (NULL when new), a its new one. */
static int
event_row_diff(struct event_list *l, const struct conf_treaty *ct, const struct participant *b,
    const struct participant *a, const struct rule_result *ra, day_t today, time_t now)
{
	char date[DATE_ISO_LEN];
	bool changed = false;
	int rc = 0;

	if (a->withdrawn && (b == NULL || !b->withdrawn))
		rc |= event_withdrawn(l, ct, a, now);
	if (a->withdrawn)
		return rc;
	/* Brackets gone: the depositary restored a row it had shown as withdrawn. */
	if (b != NULL && b->withdrawn)
		return rc | event_add(l, now, EV_PARTICIPANT_CHANGED, ct->id,
		    json_pack("{s:s, s:o, s:o}", "participant", a->name,
		    "before", event_row(b, today), "after", event_row(a, today)),
		    "%s: %s is no longer shown as withdrawn", ct->id, a->name);
	if (event_has(a->signature, today) && (b == NULL || !event_has(b->signature, today)))
		rc |= event_add(l, now, EV_NEW_SIGNATORY, ct->id,
		    json_pack("{s:s, s:o}", "participant", a->name, "date",
		    date_json(a->signature.date)), "%s: %s signed on %s", ct->id, a->name,
		    date_format_iso(a->signature.date, date));
	else if (b != NULL && !event_same(a->signature, b->signature, today))
		changed = true;
	if (event_has(a->instrument, today) && (b == NULL || !event_has(b->instrument, today)))
		rc |= event_add(l, now, EV_NEW_PARTY, ct->id,
		    json_pack("{s:s, s:o, s:s, s:i, s:i}", "participant", a->name,
		    "date", date_json(a->instrument.date), "kind", kind_name(a->instrument.kind),
		    "parties", ra->parties, "remaining", ra->remaining),
		    "%s: %s deposited its instrument of %s on %s (%d parties, %d remaining)",
		    ct->id, a->name, kind_name(a->instrument.kind),
		    date_format_iso(a->instrument.date, date), ra->parties, ra->remaining);
	else if (b != NULL && !event_same(a->instrument, b->instrument, today))
		changed = true;
	if (changed)
		rc |= event_add(l, now, EV_PARTICIPANT_CHANGED, ct->id,
		    json_pack("{s:s, s:o, s:o}", "participant", a->name,
		    "before", event_row(b, today), "after", event_row(a, today)),
		    "%s: the depositary changed the entry of %s", ct->id, a->name);
	return rc;
}

/* "A, B, C and 12 others": whole names while they fit in EVENT_NAMES_MAX bytes, then a
 * count of the rest. Cut only between names, never inside one. NULL on out-of-memory. */
static char *
event_names(const struct snapshot *after, const struct rule_result *ra)
{
	char *out = NULL, tail[64];
	size_t len = 0, i, nl;
	FILE *f;

	if ((f = open_memstream(&out, &len)) == NULL)
		return NULL;
	for (i = 0; i < ra->nthreshold; i++) {
		const char *name = after->v[ra->threshold_idx[i]].name;

		nl = strlen(name) + (i ? 2 : 0);
		/* The last name may take the room the count would have needed. */
		if (i > 0 && (size_t)ftell(f) + nl + (i + 1 < ra->nthreshold ? EVENT_TAIL_ROOM : 0) >
		    EVENT_NAMES_MAX)
			break;
		fprintf(f, "%s%s", i ? ", " : "", name);
	}
	if (i < ra->nthreshold) {
		snprintf(tail, sizeof(tail), " and %zu other%s", ra->nthreshold - i,
		    ra->nthreshold - i == 1 ? "" : "s");
		fputs(tail, f);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static int
event_threshold(struct event_list *l, const struct conf_treaty *ct, const struct snapshot *after,
    const struct rule_result *rb, const struct rule_result *ra, time_t now)
{
	char d1[DATE_ISO_LEN], d2[DATE_ISO_LEN], *names;
	json_t *who;
	size_t i;
	int rc;

	if (!rb->threshold_reached && ra->threshold_reached) {
		who = json_array();
		for (i = 0; i < ra->nthreshold; i++)
			if (json_array_append_new(who,
			    json_string(after->v[ra->threshold_idx[i]].name)) < 0)
				log_err("%s: threshold-reached: cannot list participant %zu in its "
				    "data", ct->id, i + 1);
		names = event_names(after, ra);
		rc = event_add(l, now, EV_THRESHOLD_REACHED, ct->id,
		    json_pack("{s:i, s:i, s:o, s:o, s:o}", "parties", ra->parties,
		    "threshold", ct->rule.threshold, "threshold_date", date_json(ra->threshold_date),
		    "threshold_participants", who, "entry_into_force",
		    date_json(ra->entry_into_force)),
		    "%s: threshold of %d instruments reached on %s (%s); enters into force %s%s",
		    ct->id, ct->rule.threshold, date_format_iso(ra->threshold_date, d1),
		    names ? names : "names not shown: out of memory",
		    ra->entry_into_force == DAY_NONE ? "with " : "on ",
		    ra->entry_into_force == DAY_NONE ? (ct->rule.after_treaty ?
		    ct->rule.after_treaty : "-") : date_format_iso(ra->entry_into_force, d2));
		free(names);
		return rc;
	}
	if (ct->approaching > 0 && ra->remaining > 0 && ra->remaining < rb->remaining &&
	    ra->remaining <= ct->approaching)
		return event_add(l, now, EV_APPROACHING, ct->id,
		    json_pack("{s:i, s:i}", "parties", ra->parties, "remaining", ra->remaining),
		    "%s: %d instrument%s short of the threshold of %d", ct->id, ra->remaining,
		    ra->remaining == 1 ? "" : "s", ct->rule.threshold);
	return 0;
}

static bool
event_same_cells(const struct participant *a, const struct participant *b)
{
	return a->withdrawn == b->withdrawn &&
	    a->signature.date == b->signature.date && a->signature.kind == b->signature.kind &&
	    a->instrument.date == b->instrument.date && a->instrument.kind == b->instrument.kind;
}

/* Rows that one side lists and the other does not: where renames hide. */
struct event_lone {
	size_t *v;
	size_t n;
};

static int
event_lone_rows(const struct snapshot *s, const struct snapshot *t, struct event_lone *out)
{
	size_t i;

	out->n = 0;
	if ((out->v = calloc(s->n + 1, sizeof(*out->v))) == NULL)
		return -1;
	for (i = 0; i < s->n; i++)
		if (snapshot_find_at(t, s->v[i].name, i) < 0)
			out->v[out->n++] = i;
	return 0;
}

/* Rows of s among lone whose cells equal p's; the last in *last. */
static size_t
event_twins(const struct snapshot *s, const struct event_lone *lone,
    const struct participant *p, long *last)
{
	size_t i, n = 0;

	for (i = 0; i < lone->n; i++)
		if (event_same_cells(&s->v[lone->v[i]], p)) {
			n++;
			*last = (long)lone->v[i];
		}
	return n;
}

/* A row that vanished while a new one with exactly its cells appeared is a renamed
 * participant (Turkey became Türkiye): the before index, or -1. Only an unambiguous
 * pair counts. */
static long
event_renamed(const struct snapshot *before, const struct event_lone *gone,
    const struct snapshot *after, const struct event_lone *added,
    const struct participant *a)
{
	long b = -1, a2 = -1;

	if (event_twins(before, gone, a, &b) != 1 ||
	    event_twins(after, added, &before->v[b], &a2) != 1)
		return -1;
	return b;
}

int
event_diff(struct event_list *l, const struct conf_treaty *ct, const struct snapshot *before,
    const struct snapshot *after, day_t today, day_t after_eif, time_t now)
{
	struct event_lone gone = { 0 }, added = { 0 };
	struct rule_result rb, ra;
	bool *renamed;
	long j;
	size_t i;
	int rc = 0;

	if ((renamed = calloc(before->n + 1, sizeof(*renamed))) == NULL)
		return -1;
	if (event_lone_rows(before, after, &gone) < 0 ||
	    event_lone_rows(after, before, &added) < 0) {
		free(gone.v);
		free(renamed);
		return -1;
	}
	if (rule_eval_after(&ct->rule, before, today, after_eif, &rb) < 0) {
		rc = -1;
		goto out;
	}
	if (rule_eval_after(&ct->rule, after, today, after_eif, &ra) < 0) {
		rule_result_clear(&rb);
		rc = -1;
		goto out;
	}
	for (i = 0; i < after->n; i++) {
		j = snapshot_find_at(before, after->v[i].name, i);
		if (j < 0 && (j = event_renamed(before, &gone, after, &added, &after->v[i])) >= 0) {
			renamed[j] = true;
			rc |= event_add(l, now, EV_PARTICIPANT_CHANGED, ct->id,
			    json_pack("{s:s, s:o, s:o}", "participant", after->v[i].name,
			    "before", event_row(&before->v[j], today),
			    "after", event_row(&after->v[i], today)),
			    "%s: %s is now listed as %s", ct->id, before->v[j].name,
			    after->v[i].name);
			continue;
		}
		rc |= event_row_diff(l, ct, j >= 0 ? &before->v[j] : NULL, &after->v[i], &ra, today,
		    now);
	}
	/* A row that disappears is a change too: the depositary rewrote history. */
	for (i = 0; i < before->n; i++)
		if (!renamed[i] && snapshot_find_at(after, before->v[i].name, i) < 0)
			rc |= event_add(l, now, EV_PARTICIPANT_CHANGED, ct->id,
			    json_pack("{s:s, s:o, s:n}", "participant", before->v[i].name,
			    "before", event_row(&before->v[i], today), "after"),
			    "%s: %s is no longer listed", ct->id, before->v[i].name);
	rc |= event_threshold(l, ct, after, &rb, &ra, now);
	rule_result_clear(&rb);
	rule_result_clear(&ra);
out:
	free(gone.v);
	free(added.v);
	free(renamed);
	return rc ? -1 : 0;
}
