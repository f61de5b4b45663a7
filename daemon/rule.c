/* A treaty's entry-into-force rule evaluated over a snapshot at a date (SPEC §5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"

/* One counted instrument; sorting by (date, idx) keeps page order among equal dates. */
struct rule_deposit {
	day_t date;
	size_t idx;
};

day_t
rule_entry_into_force(const struct rule *r, day_t d)
{
	day_t e;

	if (d == DAY_NONE)
		return DAY_NONE;
	e = date_add_months(d, r->delay_months) + r->delay_days;
	if (r->align == RULE_ALIGN_NEXT_MONTH)
		e = date_first_of_next_month(e);
	return e;
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

/* A party at as_of: not withdrawn, with an instrument deposited by then. */
static bool
rule_is_party(const struct participant *p, day_t as_of)
{
	return !p->withdrawn && p->instrument.date != DAY_NONE && p->instrument.date <= as_of;
}

static bool
rule_is_signatory(const struct participant *p, day_t as_of)
{
	return !p->withdrawn && p->signature.date != DAY_NONE && p->signature.date <= as_of;
}

bool
rule_counts(const struct rule *r, const struct participant *p, day_t as_of)
{
	unsigned k = (unsigned)p->instrument.kind;

	return rule_is_party(p, as_of) && k < KIND_COUNT_ && (r->count_mask & (1u << k)) != 0 &&
	    !rule_excluded(r, p->name);
}

static int
rule_deposit_cmp(const void *a, const void *b)
{
	const struct rule_deposit *x = a, *y = b;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Finds the threshold-th deposit and every counted deposit made on the same day. */
static int
rule_threshold(const struct rule *r, const struct rule_deposit *dep, size_t n,
    struct rule_result *out)
{
	size_t first, last, i;

	if (r->threshold < 1 || n < (size_t)r->threshold)
		return 0;
	out->threshold_reached = true;
	out->threshold_date = dep[r->threshold - 1].date;
	for (first = r->threshold - 1; first > 0 && dep[first - 1].date == out->threshold_date;
	    first--)
		;
	for (last = r->threshold; last < n && dep[last].date == out->threshold_date; last++)
		;
	if ((out->threshold_idx = calloc(last - first, sizeof(size_t))) == NULL)
		return -1;
	for (i = first; i < last; i++)
		out->threshold_idx[out->nthreshold++] = dep[i].idx;
	out->entry_into_force = rule_entry_into_force(r, out->threshold_date);
	out->in_force = out->entry_into_force <= out->as_of;
	return 0;
}

int
rule_eval(const struct rule *r, const struct snapshot *s, day_t as_of,
    struct rule_result *out)
{
	struct rule_deposit *dep;
	size_t i, n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->as_of = as_of;
	out->threshold_date = DAY_NONE;
	out->entry_into_force = DAY_NONE;
	if ((dep = calloc(s->n + 1, sizeof(*dep))) == NULL)
		return -1;
	for (i = 0; i < s->n; i++) {
		const struct participant *p = &s->v[i];

		out->parties += rule_is_party(p, as_of);
		out->signatories += rule_is_signatory(p, as_of);
		if (rule_counts(r, p, as_of)) {
			dep[n].date = p->instrument.date;
			dep[n++].idx = i;
		}
	}
	out->counted = (int)n;
	out->remaining = r->threshold > out->counted ? r->threshold - out->counted : 0;
	qsort(dep, n, sizeof(*dep), rule_deposit_cmp);
	rc = rule_threshold(r, dep, n, out);
	free(dep);
	return rc;
}

void
rule_result_clear(struct rule_result *res)
{
	free(res->threshold_idx);
	memset(res, 0, sizeof(*res));
	res->as_of = DAY_NONE;
	res->threshold_date = DAY_NONE;
	res->entry_into_force = DAY_NONE;
}

day_t
rule_participant_eif(const struct rule *r, const struct rule_result *res,
    const struct participant *p)
{
	if (!rule_is_party(p, res->as_of) || res->entry_into_force == DAY_NONE)
		return DAY_NONE;
	if (p->instrument.date < res->entry_into_force)
		return res->entry_into_force;
	return rule_entry_into_force(r, p->instrument.date);
}

void
rule_format_delay(const struct rule *r, char *buf, size_t len)
{
	if (r->delay_months != 0 && r->delay_days != 0)
		snprintf(buf, len, "%d months %d days", r->delay_months, r->delay_days);
	else if (r->delay_months != 0)
		snprintf(buf, len, "%d months", r->delay_months);
	else
		snprintf(buf, len, "%d days", r->delay_days);
}

int
rule_copy(struct rule *dst, const struct rule *src)
{
	size_t i;

	*dst = *src;
	dst->exclude = NULL;
	dst->nexclude = 0;
	if (src->nexclude == 0)
		return 0;
	if ((dst->exclude = calloc(src->nexclude, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < src->nexclude; i++) {
		if ((dst->exclude[i] = strdup(src->exclude[i])) == NULL) {
			rule_clear(dst);
			return -1;
		}
		dst->nexclude++;
	}
	return 0;
}

void
rule_clear(struct rule *r)
{
	size_t i;

	for (i = 0; i < r->nexclude; i++)
		free(r->exclude[i]);
	free(r->exclude);
	memset(r, 0, sizeof(*r));
}
