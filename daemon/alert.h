/* Delivering journaled events to the [alert] sinks: exec, webhook and mail, each in
 * order, at least once, never again once delivered (man/ratd.8, ALERT DELIVERY). */
#ifndef RATD_ALERT_H
#define RATD_ALERT_H

#include <jansson.h>
#include <stdbool.h>

struct core;
struct alerts;

#define ALERT_CURSORS "alerts.json"
#define ALERT_RETRY_FIRST 1.0        /* seconds before the first retry */
#define ALERT_RETRY_MAX 3600.0

/* Sets up one sink per [alert] of core->conf, with the delivery cursors saved in
 * state_dir. single_attempt (--once): a failed delivery is not retried (it stays
 * pending for the next run). NULL on out-of-memory. */
struct alerts *alerts_new(struct core *core, bool single_attempt);
/* Stops every delivery in progress (it is retried at the next start) and frees. */
void alerts_free(struct alerts *a);
/* Follows a reload: sinks that stay keep their cursors and deliveries. */
int alerts_reconfigure(struct alerts *a);
/* New events are in the journal: start deliveries where sinks are idle. */
void alerts_kick(struct alerts *a);
/* True while a delivery is under way (--once waits for them). */
bool alerts_busy(const struct alerts *a);
/* [{name, kind, target, delivered, pending, last_error, last_delivery, next_try}...] */
json_t *alerts_status(struct alerts *a);

#endif
