/* What the socket serves: JSON views of committed state, evaluated at a date
 * (man/ratd.8, CONTROL SOCKET). */
#ifndef RATD_STATUS_H
#define RATD_STATUS_H

#include <jansson.h>

#include "date.h"
#include "treaty.h"

/* TreatyStatus of t at as_of; NULL on out-of-memory. */
json_t *status_treaty(const struct treaty *t, day_t as_of);
/* The same at today (an entry of another day differs in more than its date: the page's
 * cross-checks are today's only), as compact JSON text (len bytes, no newline), owned by
 * t: kept there and served again while nothing it shows has changed
 * (treaty_changed_at) and today is the same. NULL on out-of-memory. */
const char *status_treaty_text(struct treaty *t, day_t today, size_t *len);
/* {"treaty", "as_of", "participants": [...]}: the table as it stood at as_of. */
json_t *status_parties(const struct treaty *t, day_t as_of);

#endif
