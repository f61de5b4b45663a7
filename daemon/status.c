/* JSON views of a treaty's committed snapshot: the socket's and `--once`'s answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATUS_PACE_MONTHS 24

#include "plausible.h"
#include "core.h"
#include "rule.h"
#include "status.h"

static json_t *
status_names(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* withdrawn / effective: {"NAME": "YYYY-MM-DD", ...} */
static json_t *
status_dated(const struct rule_dated *v, size_t n)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_set_new(o, v[i].name, date_json(v[i].date));
	return o;
}

static json_t *
status_rule(const struct rule *r)
{
	json_t *count = json_array(), *o;
	char delay[64], later[64];
	int k;

	for (k = KIND_NONE + 1; k < KIND_COUNT_; k++)
		if (r->count_mask & (1u << k))
			json_array_append_new(count, json_string(kind_name(k)));
	rule_format_delay(r, delay, sizeof(delay));
	rule_format_later_delay(r, later, sizeof(later));
	o = json_pack("{s:i, s:s, s:s, s:o, s:o}", "threshold", r->threshold,
	    "eif_delay", delay,
	    "eif_align", r->align == RULE_ALIGN_NEXT_MONTH ? "next-month" : "none",
	    "count", count, "exclude", status_names(r->exclude, r->nexclude));
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "later", json_string(r->later == RULE_LATER_AFTER_THRESHOLD ?
	    "after-threshold" : "after-entry-into-force"));
	json_object_set_new(o, "later_delay", json_string(later));
	json_object_set_new(o, "later_align", json_string((r->later_set ? r->later_align :
	    r->align) == RULE_ALIGN_NEXT_MONTH ? "next-month" : "none"));
	json_object_set_new(o, "not_before", date_json(r->has_not_before ? r->not_before :
	    DAY_NONE));
	json_object_set_new(o, "requires", status_names(r->requires, r->nrequires));
	json_object_set_new(o, "after_treaty", text_json(r->after_treaty));
	json_object_set_new(o, "withdrawn", status_dated(r->withdrawn, r->nwithdrawn));
	json_object_set_new(o, "effective", status_dated(r->effective, r->neffective));
	return o;
}

static json_t *
status_source(const struct treaty *t)
{
	const struct snapshot *s = t->snap;

	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:o}",
	    "state", treaty_source_state(t),
	    "status_as_at", text_json(s ? s->status_as_at : NULL),
	    "stated_parties", count_json(s ? s->stated_parties : -1),
	    "stated_signatories", count_json(s ? s->stated_signatories : -1),
	    "stated_entry_into_force", text_json(s ? s->stated_eif : NULL),
	    "last_attempt", time_json(t->meta.last_attempt),
	    "last_success", time_json(t->meta.last_success),
	    "last_change", time_json(t->meta.last_change),
	    "next_fetch", time_json(t->next_fetch),
	    "consecutive_failures", t->meta.consecutive_failures,
	    "error", text_json(t->meta.error));
}

/* The figures of the evaluation res of t's snapshot, or nulls when there is no snapshot
 * at all (res NULL). */
static int
status_figures(json_t *o, const struct treaty *t, const struct rule_result *res)
{
	json_t *names, *missing;
	size_t i;

	if (res == NULL) {
		json_t *nulls = json_pack("{s:n, s:n, s:n, s:n, s:b, s:n, s:[], s:n, s:b, s:[], "
		    "s:n}", "parties", "counted", "signatories", "remaining", "threshold_reached", 0,
		    "threshold_date", "threshold_participants", "entry_into_force", "in_force", 0,
		    "required_missing", "rule_date");
		int rc = nulls ? json_object_update(o, nulls) : -1;

		json_decref(nulls);
		return rc;
	}
	missing = json_array();
	for (i = 0; i < res->nrequired_missing; i++)
		json_array_append_new(missing, json_string(res->required_missing[i]));
	json_object_set_new(o, "required_missing", missing);
	json_object_set_new(o, "rule_date", date_json(res->rule_date));
	names = json_array();
	for (i = 0; i < res->nthreshold; i++)
		json_array_append_new(names, json_string(t->snap->v[res->threshold_idx[i]].name));
	json_object_set_new(o, "parties", json_integer(res->parties));
	json_object_set_new(o, "counted", json_integer(res->counted));
	json_object_set_new(o, "signatories", json_integer(res->signatories));
	json_object_set_new(o, "remaining", json_integer(res->remaining));
	json_object_set_new(o, "threshold_reached", json_boolean(res->threshold_reached));
	json_object_set_new(o, "threshold_date", date_json(res->threshold_date));
	json_object_set_new(o, "threshold_participants", names);
	json_object_set_new(o, "entry_into_force", date_json(res->entry_into_force));
	json_object_set_new(o, "in_force", json_boolean(res->in_force));
	return 0;
}

/* At the pace of the last 24 months, when would the threshold be reached? A projection
 * only: null when reached or when nothing was deposited in the window. */
static json_t *
status_projection(const struct rule *r, const struct snapshot *s, day_t as_of,
    const struct rule_result *res)
{
	day_t start = date_add_months(as_of, -STATUS_PACE_MONTHS), when;
	char d1[DATE_ISO_LEN], d2[DATE_ISO_LEN];
	double days;
	size_t i;
	int n = 0;

	if (res->threshold_reached)
		return json_null();
	for (i = 0; i < s->n; i++)
		if (rule_counts(r, &s->v[i], as_of) && s->v[i].instrument.date > start)
			n++;
	if (n == 0)
		return json_null();
	days = (double)res->remaining * (double)(as_of - start) / n;
	when = as_of + (day_t)(days + 0.999);
	return json_pack("{s:i, s:i, s:f, s:s, s:s}", "window_months", STATUS_PACE_MONTHS,
	    "instruments_in_window", n, "pace_per_month", (double)n / STATUS_PACE_MONTHS,
	    "threshold_date", date_format_iso(when, d1),
	    "entry_into_force", date_format_iso(rule_entry_into_force(r, when), d2));
}

/* Countdown, projection and cross-checks: what users of a treaty not yet in force need.
 * The page's stated counts describe the page's own day: they are compared with the
 * table only in the current view (as_of today), never in a view of another date. */
static void
status_outlook(json_t *o, const struct treaty *t, day_t as_of, const struct rule_result *res)
{
	const struct rule *r = &t->conf->rule;
	json_t *disc = json_array();

	if (res == NULL) {
		json_object_set_new(o, "earliest_entry_into_force", json_null());
		json_object_set_new(o, "projection", json_null());
		json_object_set_new(o, "discrepancies", disc);
		return;
	}
	json_object_set_new(o, "earliest_entry_into_force", res->threshold_reached ?
	    json_null() : date_json(treaty_earliest(t, as_of)));
	json_object_set_new(o, "projection", status_projection(r, t->snap, as_of, res));
	if (as_of == core_today(t->core, time(NULL)))
		plausible_discrepancies(t->snap, res, disc);
	json_object_set_new(o, "discrepancies", disc);
}

json_t *
status_treaty(const struct treaty *t, day_t as_of)
{
	const struct conf_treaty *ct = t->conf;
	struct rule_result res;
	json_t *o;

	/* One evaluation serves the outlook and the figures. */
	if (t->snap != NULL && treaty_eval(t, t->snap, as_of, &res) < 0)
		return NULL;
	o = json_pack("{s:s, s:s, s:s, s:o, s:i, s:o, s:I}", "id", ct->id, "title", ct->title,
	    "url", ct->url, "as_of", date_json(as_of), "threshold", ct->rule.threshold,
	    "rule", status_rule(&ct->rule), "interval", (json_int_t)ct->interval);
	if (o != NULL) {
		status_outlook(o, t, as_of, t->snap != NULL ? &res : NULL);
		if (status_figures(o, t, t->snap != NULL ? &res : NULL) < 0 ||
		    json_object_set_new(o, "source", status_source(t)) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	if (t->snap != NULL)
		rule_result_clear(&res);
	return o;
}

const char *
status_treaty_text(struct treaty *t, day_t today, size_t *len)
{
	uint64_t key = treaty_changed_at(t);
	json_t *o;
	char *text;

	if (t->status_cache.text == NULL || t->status_cache.key != key ||
	    t->status_cache.day != today) {
		if ((o = status_treaty(t, today)) == NULL)
			return NULL;
		text = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (text == NULL)
			return NULL;
		free(t->status_cache.text);
		t->status_cache.text = text;
		t->status_cache.len = strlen(text);
		t->status_cache.key = key;
		t->status_cache.day = today;
	}
	*len = t->status_cache.len;
	return t->status_cache.text;
}

static json_t *
status_action(struct action a, day_t as_of)
{
	char buf[DATE_ISO_LEN];

	if (a.date == DAY_NONE || a.date > as_of)
		return json_null();
	return json_pack("{s:s, s:s}", "date", date_format_iso(a.date, buf),
	    "kind", kind_name(a.kind));
}

/* The footnote texts of a participant. */
static json_t *
status_notes(const struct participant *p)
{
	json_t *a = json_array();
	size_t k;

	for (k = 0; k < p->nnotes; k++)
		json_array_append_new(a, json_string(p->notes[k]));
	return a;
}

/* A withdrawal's date of effect, null when none is known (or the participant never
 * withdrew). */
static json_t *
status_withdrawal(const struct rule *r, const struct participant *p)
{
	day_t w = rule_withdrawal(r, p);

	return w == DAY_NONE || w < date_from_ymd(1, 1, 1) ? json_null() : date_json(w);
}

static json_t *
status_participant(const struct rule *r, const struct rule_result *res,
    const struct participant *pp, json_t *sig, json_t *ins)
{
	day_t w = rule_withdrawal(r, pp), as_of = res->as_of;
	json_t *p;

	p = json_pack("{s:s, s:o, s:o, s:o, s:b, s:o, s:b, s:o}", "name", pp->name,
	    "signature", sig, "instrument", ins,
	    "entry_into_force", date_json(rule_participant_eif(r, res, pp)),
	    "withdrawn", w != DAY_NONE && w <= as_of, "withdrawal_date", status_withdrawal(r, pp),
	    "counts", rule_counts(r, pp, as_of), "notes", status_notes(pp));
	return p;
}

json_t *
status_parties(const struct treaty *t, day_t as_of)
{
	const struct rule *r = &t->conf->rule;
	struct rule_result res;
	json_t *list;
	size_t i;

	list = json_array();
	if (t->snap != NULL && treaty_eval(t, t->snap, as_of, &res) == 0) {
		for (i = 0; i < t->snap->n; i++) {
			const struct participant *pp = &t->snap->v[i];
			json_t *sig = status_action(pp->signature, as_of);
			json_t *ins = status_action(pp->instrument, as_of);

			/* At an earlier date, rows with nothing dated yet did not exist. */
			if (json_is_null(sig) && json_is_null(ins))
				continue;
			json_array_append_new(list, status_participant(r, &res, pp, sig, ins));
		}
		rule_result_clear(&res);
	}
	return json_pack("{s:s, s:o, s:o}", "treaty", t->conf->id, "as_of", date_json(as_of),
	    "participants", list);
}
