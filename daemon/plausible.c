/* Plausibility: a page that suddenly loses participants is more likely broken than true. */
#include <stdio.h>

#include "plausible.h"

/* Participants of committed that fresh no longer lists. */
static size_t
plausible_lost(const struct snapshot *committed, const struct snapshot *fresh)
{
	size_t i, lost = 0;

	for (i = 0; i < committed->n; i++)
		if (snapshot_find_at(fresh, committed->v[i].name, i) < 0)
			lost++;
	return lost;
}

bool
plausible_snapshot(const struct snapshot *committed, const struct snapshot *fresh,
    struct source_meta *m, char *reason, size_t len)
{
	uint64_t hash;
	size_t lost;

	if (fresh->n == 0) {
		snprintf(reason, len, "participants table is empty");
		return false;
	}
	if (committed == NULL || (lost = plausible_lost(committed, fresh)) * 10 <= committed->n) {
		m->pending_count = 0;
		m->pending_hash = 0;
		return true;
	}
	/* The same reduced table, again and again, is the registry's truth after all. */
	hash = snapshot_table_hash(fresh);
	if (m->pending_count > 0 && m->pending_hash == hash)
		m->pending_count++;
	else {
		m->pending_hash = hash;
		m->pending_count = 1;
	}
	if (m->pending_count >= PLAUSIBLE_CONFIRMATIONS) {
		m->pending_count = 0;
		m->pending_hash = 0;
		return true;
	}
	snprintf(reason, len, "page lists %zu participants, %zu of the %zu committed are gone "
	    "(more than 10%%); refused until seen %d times in a row (%d so far)",
	    fresh->n, lost, committed->n, PLAUSIBLE_CONFIRMATIONS, m->pending_count);
	return false;
}

void
plausible_discrepancies(const struct snapshot *s, const struct rule_result *res, json_t *out)
{
	char msg[256], d1[DATE_ISO_LEN], d2[DATE_ISO_LEN];
	time_t stamp;

	/* The table at an earlier day than the page's own stamp cannot match its counts. */
	if (s->status_as_at != NULL && date_parse_time(s->status_as_at, &stamp) == 0 &&
	    res->as_of < date_of_time(stamp))
		return;
	if (s->stated_parties >= 0 && s->stated_parties != res->parties) {
		snprintf(msg, sizeof(msg), "the page states %d parties, its table lists %d",
		    s->stated_parties, res->parties);
		json_array_append_new(out, json_string(msg));
	}
	if (s->stated_signatories >= 0 && s->stated_signatories != res->signatories) {
		snprintf(msg, sizeof(msg), "the page states %d signatories, its table lists %d",
		    s->stated_signatories, res->signatories);
		json_array_append_new(out, json_string(msg));
	}
	if (s->stated_eif_date != DAY_NONE && s->stated_eif_date != res->entry_into_force) {
		if (res->entry_into_force == DAY_NONE)
			snprintf(msg, sizeof(msg), "the page states entry into force on %s, the "
			    "table does not reach the threshold", date_format_iso(s->stated_eif_date, d1));
		else
			snprintf(msg, sizeof(msg), "the page states entry into force on %s, the rule "
			    "gives %s", date_format_iso(s->stated_eif_date, d1),
			    date_format_iso(res->entry_into_force, d2));
		json_array_append_new(out, json_string(msg));
	}
}
