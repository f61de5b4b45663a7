/* What the daemon's modules share: randomness, today, the generation, event numbers. */
#include "conf.h"
#include "core.h"
#include "zone.h"

double
core_random(struct core *c)
{
	/* xorshift64*: jitter needs spread, not secrecy. */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return (double)((c->rng * 2685821657736338717ULL) >> 11) / (double)(1ULL << 53);
}

day_t
core_today(const struct core *c, time_t now)
{
	return zone_day(&c->conf->day_zone, now);
}

void
core_touch(struct core *c)
{
	c->generation++;
	if (c->touched != NULL)
		c->touched(c->owner);
}

void
core_number_events(struct core *c, struct event_list *evs)
{
	uint64_t next = c->journal.last_id + 1;

	event_list_number(evs, &next);
	journal_bump(&c->journal, next - 1);
}

void
core_commit(struct core *c, const struct event_list *evs)
{
	if (c->commit != NULL)
		c->commit(c->owner, evs);
}
