/* Plausibility: a page that suddenly loses participants is more likely broken than true. */
#include <stdio.h>

#include "check.h"

/* Participants of committed that fresh no longer lists. */
static size_t
check_lost(const struct snapshot *committed, const struct snapshot *fresh)
{
	size_t i, lost = 0;

	for (i = 0; i < committed->n; i++)
		if (snapshot_find(fresh, committed->v[i].name) < 0)
			lost++;
	return lost;
}

bool
check_snapshot(const struct snapshot *committed, const struct snapshot *fresh,
    struct source_meta *m, char *reason, size_t len)
{
	uint64_t hash;
	size_t lost;

	if (fresh->n == 0) {
		snprintf(reason, len, "participants table is empty");
		return false;
	}
	if (committed == NULL || (lost = check_lost(committed, fresh)) * 10 <= committed->n) {
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
	if (m->pending_count >= CHECK_CONFIRMATIONS) {
		m->pending_count = 0;
		m->pending_hash = 0;
		return true;
	}
	snprintf(reason, len, "page lists %zu participants, %zu of the %zu committed are gone "
	    "(more than 10%%); refused until seen %d times in a row (%d so far)",
	    fresh->n, lost, committed->n, CHECK_CONFIRMATIONS, m->pending_count);
	return false;
}
