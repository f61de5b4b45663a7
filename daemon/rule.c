/* A treaty's entry-into-force rule evaluated over a snapshot at a date (ratd.conf(5),
 * "Entry into force"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"

/* A withdrawal nobody can date: in effect before every date. */
#define RULE_ALWAYS (INT32_MIN + 1)

/* One change to the counted instruments: +1 at a deposit, -1 where a withdrawal takes
 * effect. Sorting by (date, idx) keeps page order among equal dates. */
struct rule_step {
	day_t date;
	size_t idx;
	int delta;
};

static day_t
rule_apply(day_t d, int months, int days, enum rule_align align)
{
	day_t e;

	if (d == DAY_NONE)
		return DAY_NONE;
	e = date_add_months(d, months) + days;
	if (align == RULE_ALIGN_NEXT_MONTH)
		e = date_first_of_next_month(e);
	return e;
}

day_t
rule_entry_into_force(const struct rule *r, day_t d)
{
	return rule_apply(d, r->delay_months, r->delay_days, r->align);
}

day_t
rule_later_date(const struct rule *r, day_t d)
{
	if (!r->later_set)
		return rule_entry_into_force(r, d);
	return rule_apply(d, r->later_months, r->later_days, r->later_align);
}

bool
rule_excluded(const struct rule *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nexclude; i++)
		if (strcmp(r->exclude[i], name) == 0)
			return true;
	return false;
}

static const struct rule_dated *
rule_dated_find(const struct rule_dated *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

day_t
rule_withdrawal(const struct rule *r, const struct participant *p)
{
	const struct rule_dated *w = rule_dated_find(r->withdrawn, r->nwithdrawn, p->name);

	if (p->withdrawal_date != DAY_NONE && p->withdrawal_from_page)
		return p->withdrawal_date;
	/* A configured date the page contradicts (not after the instrument) is ignored;
	 * ratd logs it with its FILE:LINE when it loads or commits the page. */
	if (w != NULL && (p->instrument.date == DAY_NONE || w->date > p->instrument.date))
		return w->date;
	if (!p->withdrawn)
		return DAY_NONE;
	return p->withdrawal_date != DAY_NONE ? p->withdrawal_date : RULE_ALWAYS;
}

/* No withdrawal in effect at d. */
static bool
rule_present(const struct rule *r, const struct participant *p, day_t d)
{
	day_t w = rule_withdrawal(r, p);

	return w == DAY_NONE || d < w;
}

bool
rule_is_party(const struct rule *r, const struct participant *p, day_t as_of)
{
	return p->instrument.date != DAY_NONE && p->instrument.date <= as_of &&
	    rule_present(r, p, as_of);
}

static bool
rule_is_signatory(const struct rule *r, const struct participant *p, day_t as_of)
{
	return p->signature.date != DAY_NONE && p->signature.date <= as_of &&
	    rule_present(r, p, as_of);
}

/* The kind counts and the participant is not excluded, whatever the date. */
static bool
rule_countable(const struct rule *r, const struct participant *p)
{
	unsigned k = (unsigned)p->instrument.kind;

	return p->instrument.date != DAY_NONE && k < KIND_COUNT_ &&
	    (r->count_mask & (1u << k)) != 0 && !rule_excluded(r, p->name);
}

bool
rule_counts(const struct rule *r, const struct participant *p, day_t as_of)
{
	return rule_is_party(r, p, as_of) && rule_countable(r, p);
}

static int
rule_step_cmp(const void *a, const void *b)
{
	const struct rule_step *x = a, *y = b;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool
rule_required(const struct rule *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nrequires; i++)
		if (strcmp(r->requires[i], name) == 0)
			return true;
	return false;
}

/* Deposits and withdrawals of counted instruments in date order, up to as_of. */
static struct rule_step *
rule_steps(const struct rule *r, const struct snapshot *s, day_t as_of, size_t *n)
{
	struct rule_step *v = calloc(2 * s->n + 1, sizeof(*v));
	size_t i;
	day_t w;

	*n = 0;
	if (v == NULL)
		return NULL;
	for (i = 0; i < s->n; i++) {
		const struct participant *p = &s->v[i];

		if (!rule_countable(r, p) || p->instrument.date > as_of)
			continue;
		w = rule_withdrawal(r, p);
		if (w != DAY_NONE && w <= p->instrument.date)
			continue;
		v[(*n)++] = (struct rule_step){ p->instrument.date, i, +1 };
		if (w != DAY_NONE && w <= as_of)
			v[(*n)++] = (struct rule_step){ w, i, -1 };
	}
	qsort(v, *n, sizeof(*v), rule_step_cmp);
	return v;
}

/* The first day counted >= threshold with every required participant counted. */
static day_t
rule_first_day(const struct rule *r, const struct snapshot *s, const struct rule_step *v,
    size_t n)
{
	long counted = 0, required = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		counted += v[i].delta;
		if (rule_required(r, s->v[v[i].idx].name))
			required += v[i].delta;
		if (i + 1 < n && v[i + 1].date == v[i].date)
			continue;
		if (counted >= r->threshold && required >= (long)r->nrequires)
			return v[i].date;
	}
	return DAY_NONE;
}

/* The latest of the rule's date and the outside conditions. */
static day_t
rule_treaty_date(const struct rule *r, day_t rule_date, day_t after_eif)
{
	day_t e = rule_date;

	if (e == DAY_NONE)
		return DAY_NONE;
	if (r->has_not_before && e < r->not_before)
		e = r->not_before;
	if (r->after_treaty != NULL) {
		if (after_eif == DAY_NONE)
			return DAY_NONE;
		if (e < after_eif)
			e = after_eif;
	}
	return e;
}

/* Every counted participant that deposited on the threshold date. */
static int
rule_threshold_group(const struct rule *r, const struct snapshot *s, struct rule_result *out)
{
	size_t i;

	if ((out->threshold_idx = calloc(s->n + 1, sizeof(size_t))) == NULL)
		return -1;
	for (i = 0; i < s->n; i++)
		if (s->v[i].instrument.date == out->threshold_date &&
		    rule_counts(r, &s->v[i], out->threshold_date))
			out->threshold_idx[out->nthreshold++] = i;
	return 0;
}

static int
rule_missing(const struct rule *r, const struct snapshot *s, struct rule_result *out)
{
	size_t i;
	long k;

	if (r->nrequires == 0)
		return 0;
	if ((out->required_missing = calloc(r->nrequires, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < r->nrequires; i++) {
		k = snapshot_find(s, r->requires[i]);
		if (k < 0 || !rule_counts(r, &s->v[k], out->as_of))
			out->required_missing[out->nrequired_missing++] = r->requires[i];
	}
	return 0;
}

int
rule_eval_after(const struct rule *r, const struct snapshot *s, day_t as_of,
    day_t after_eif, struct rule_result *out)
{
	struct rule_step *v;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	out->as_of = as_of;
	out->threshold_date = out->rule_date = out->entry_into_force = DAY_NONE;
	for (i = 0; i < s->n; i++) {
		out->parties += rule_is_party(r, &s->v[i], as_of);
		out->signatories += rule_is_signatory(r, &s->v[i], as_of);
		out->counted += rule_counts(r, &s->v[i], as_of);
	}
	out->remaining = r->threshold > out->counted ? r->threshold - out->counted : 0;
	if ((v = rule_steps(r, s, as_of, &n)) == NULL)
		return -1;
	out->threshold_date = r->threshold < 1 ? DAY_NONE : rule_first_day(r, s, v, n);
	free(v);
	if (rule_missing(r, s, out) < 0)
		return -1;
	if (out->threshold_date == DAY_NONE)
		return 0;
	out->threshold_reached = true;
	out->rule_date = rule_entry_into_force(r, out->threshold_date);
	out->entry_into_force = rule_treaty_date(r, out->rule_date, after_eif);
	out->in_force = out->entry_into_force != DAY_NONE && out->entry_into_force <= as_of;
	return rule_threshold_group(r, s, out);
}

int
rule_eval(const struct rule *r, const struct snapshot *s, day_t as_of,
    struct rule_result *out)
{
	return rule_eval_after(r, s, as_of, DAY_NONE, out);
}

void
rule_result_clear(struct rule_result *res)
{
	free(res->threshold_idx);
	free(res->required_missing);
	memset(res, 0, sizeof(*res));
	res->as_of = DAY_NONE;
	res->threshold_date = DAY_NONE;
	res->rule_date = DAY_NONE;
	res->entry_into_force = DAY_NONE;
}

day_t
rule_participant_eif(const struct rule *r, const struct rule_result *res,
    const struct participant *p)
{
	const struct rule_dated *e = rule_dated_find(r->effective, r->neffective, p->name);
	day_t d = p->instrument.date, own;
	bool later;

	if (!rule_is_party(r, p, res->as_of))
		return DAY_NONE;
	if (e != NULL)
		return e->date;
	if (res->entry_into_force == DAY_NONE)
		return DAY_NONE;
	later = r->later == RULE_LATER_AFTER_THRESHOLD ? d > res->threshold_date :
	    d >= res->entry_into_force;
	if (!later)
		return res->entry_into_force;
	/* No instrument takes effect before the treaty itself ("subject to paragraph 1"). */
	own = rule_later_date(r, d);
	return own > res->entry_into_force ? own : res->entry_into_force;
}

static void
rule_delay_text(int months, int days, char *buf, size_t len)
{
	if (months != 0 && days != 0)
		snprintf(buf, len, "%d months %d days", months, days);
	else if (months != 0)
		snprintf(buf, len, "%d months", months);
	else
		snprintf(buf, len, "%d days", days);
}

void
rule_format_delay(const struct rule *r, char *buf, size_t len)
{
	rule_delay_text(r->delay_months, r->delay_days, buf, len);
}

void
rule_format_later_delay(const struct rule *r, char *buf, size_t len)
{
	if (!r->later_set)
		rule_format_delay(r, buf, len);
	else
		rule_delay_text(r->later_months, r->later_days, buf, len);
}

static int
rule_copy_names(char ***dst, char *const *src, size_t n)
{
	size_t i;

	*dst = NULL;
	if (n == 0)
		return 0;
	if ((*dst = calloc(n, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (((*dst)[i] = strdup(src[i])) == NULL)
			return -1;
	return 0;
}

static int
rule_copy_dated(struct rule_dated **dst, const struct rule_dated *src, size_t n)
{
	size_t i;

	*dst = NULL;
	if (n == 0)
		return 0;
	if ((*dst = calloc(n, sizeof(**dst))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		(*dst)[i].date = src[i].date;
		if (((*dst)[i].name = strdup(src[i].name)) == NULL)
			return -1;
	}
	return 0;
}

int
rule_copy(struct rule *dst, const struct rule *src)
{
	*dst = *src;
	/* Nothing of src's may be freed if a copy below fails half-way. */
	dst->exclude = dst->requires = NULL;
	dst->withdrawn = dst->effective = NULL;
	dst->after_treaty = NULL;
	if (rule_copy_names(&dst->exclude, src->exclude, src->nexclude) < 0 ||
	    rule_copy_names(&dst->requires, src->requires, src->nrequires) < 0 ||
	    rule_copy_dated(&dst->withdrawn, src->withdrawn, src->nwithdrawn) < 0 ||
	    rule_copy_dated(&dst->effective, src->effective, src->neffective) < 0 ||
	    (src->after_treaty != NULL &&
	    (dst->after_treaty = strdup(src->after_treaty)) == NULL)) {
		rule_clear(dst);
		return -1;
	}
	return 0;
}

static void
rule_free_names(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
rule_free_dated(struct rule_dated *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void
rule_clear(struct rule *r)
{
	rule_free_names(r->exclude, r->nexclude);
	rule_free_names(r->requires, r->nrequires);
	rule_free_dated(r->withdrawn, r->nwithdrawn);
	rule_free_dated(r->effective, r->neffective);
	free(r->after_treaty);
	memset(r, 0, sizeof(*r));
}
