/* Durable per-treaty state files. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomicfile.h"
#include "date.h"
#include "event.h"
#include "fetch.h"
#include "state.h"

#define STATE_VERSION 1

void
source_meta_clear(struct source_meta *m)
{
	free(m->etag);
	free(m->last_modified);
	free(m->error);
	json_decref(m->anomalies);
	json_decref(m->discrepancies);
	memset(m, 0, sizeof(*m));
}

int
state_set_str(char **slot, const char *value)
{
	char *copy = NULL;

	if (value != NULL && (copy = strdup(value)) == NULL)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

static json_t *
state_meta_json(const struct source_meta *m)
{
	char hash[17];

	snprintf(hash, sizeof(hash), "%016" PRIx64, m->pending_hash);
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:o, s:s, s:i, s:b, s:b, s:o, s:o, s:I}",
	    "etag", text_json(m->etag),
	    "last_modified", text_json(m->last_modified),
	    "last_attempt", time_json(m->last_attempt),
	    "last_success", time_json(m->last_success),
	    "last_change", time_json(m->last_change),
	    "failing_since", time_json(m->failing_since),
	    "consecutive_failures", m->consecutive_failures,
	    "error", text_json(m->error),
	    "pending_hash", hash,
	    "pending_count", m->pending_count,
	    "failing_alerted", m->failing_alerted,
	    "eif_announced", m->eif_announced,
	    "anomalies", m->anomalies ? json_incref(m->anomalies) : json_array(),
	    "discrepancies", m->discrepancies ? json_incref(m->discrepancies) : json_array(),
	    "last_event_id", (json_int_t)m->last_event_id);
}

/* The state file's text, written into one buffer: the snapshot straight from its
 * table (snapshot_write_json), the small parts through jansson. */
static char *
state_text(const char *id, const struct snapshot *snap, const struct source_meta *m,
    const json_t *outbox, size_t *len)
{
	json_t *source = state_meta_json(m), *tid = json_string(id);
	char *text = NULL;
	FILE *f;
	int rc = -1;

	if (source != NULL && tid != NULL && (f = open_memstream(&text, len)) != NULL) {
		fprintf(f, "{\"version\":%d,\"treaty\":", STATE_VERSION);
		rc = json_dumpf(tid, f, JSON_COMPACT | JSON_ENCODE_ANY);
		fputs(",\"source\":", f);
		rc |= json_dumpf(source, f, JSON_COMPACT);
		fputs(",\"snapshot\":", f);
		if (snap != NULL)
			rc |= snapshot_write_json(f, snap);
		else
			fputs("null", f);
		fputs(",\"outbox\":", f);
		if (outbox != NULL)
			rc |= json_dumpf(outbox, f, JSON_COMPACT);
		else
			fputs("[]", f);
		putc('}', f);
		if (ferror(f))
			rc = -1;
		if (fclose(f) != 0)
			rc = -1;
	}
	json_decref(source);
	json_decref(tid);
	if (rc != 0) {
		free(text);
		return NULL;
	}
	return text;
}

int
state_save(const char *dir, const char *id, const struct snapshot *snap,
    const struct source_meta *m, const json_t *outbox, char *err, size_t errlen)
{
	char name[256];
	char *text;
	size_t len;
	int rc;

	if ((text = state_text(id, snap, m, outbox, &len)) == NULL) {
		snprintf(err, errlen, "%s: cannot encode state", id);
		return -1;
	}
	snprintf(name, sizeof(name), "%s.json", id);
	rc = atomicfile_write(dir, name, text, len, err, errlen);
	free(text);
	return rc;
}

/* Reads an optional string member; -1 when present with another type. */
static int
state_get_str(const json_t *o, const char *key, char **out)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > 4096)
		return -1;
	return state_set_str(out, json_string_value(v));
}

/* A validator as fetch_validator_ok keeps it. Any other (a file from before the check,
 * or edited) is forgotten rather than refused: the next fetch is then unconditional,
 * and the committed snapshot beside it stays. */
static int
state_get_validator(const json_t *o, const char *key, char **out)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	if (json_string_length(v) != strlen(json_string_value(v)) ||
	    !fetch_validator_ok(json_string_value(v)))
		return 0;
	return state_set_str(out, json_string_value(v));
}

static int
state_get_time(const json_t *o, const char *key, time_t *out)
{
	const json_t *v = json_object_get(o, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	return date_parse_time(json_string_value(v), out);
}

/* Reasons already raised: a short list of short strings. */
static int
state_get_reasons(const json_t *o, const char *key, json_t **out)
{
	const json_t *a = json_object_get(o, key), *v;
	size_t i;

	/* Absent in files written before the key existed: nothing raised yet. */
	if (a == NULL) {
		*out = json_array();
		return *out ? 0 : -1;
	}
	if (!json_is_array(a) || json_array_size(a) > 64)
		return -1;
	json_array_foreach(a, i, v)
		if (!json_is_string(v) || json_string_length(v) > 1024)
			return -1;
	*out = json_deep_copy(a);
	return *out ? 0 : -1;
}

/* The outbox: events as event_check accepts them. */
static int
state_get_outbox(const json_t *root, json_t **out)
{
	const json_t *a = json_object_get(root, "outbox"), *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > 10000)
		return -1;
	json_array_foreach(a, i, v)
		if (event_check(v) < 0)
			return -1;
	*out = json_deep_copy(a);
	return *out ? 0 : -1;
}

static int
state_meta_from_json(const json_t *o, struct source_meta *m)
{
	const json_t *cf = json_object_get(o, "consecutive_failures");
	const json_t *pc = json_object_get(o, "pending_count");
	const json_t *ph = json_object_get(o, "pending_hash");
	char *end;

	if (!json_is_object(o) || !json_is_integer(cf) || !json_is_integer(pc) ||
	    !json_is_string(ph))
		return -1;
	if (json_integer_value(cf) < 0 || json_integer_value(cf) > 1000000000 ||
	    json_integer_value(pc) < 0 || json_integer_value(pc) > 1000)
		return -1;
	m->consecutive_failures = (int)json_integer_value(cf);
	m->pending_count = (int)json_integer_value(pc);
	m->pending_hash = strtoull(json_string_value(ph), &end, 16);
	if (*end != '\0')
		return -1;
	if (!json_is_boolean(json_object_get(o, "failing_alerted")) ||
	    !json_is_boolean(json_object_get(o, "eif_announced")) ||
	    state_get_reasons(o, "anomalies", &m->anomalies) < 0 ||
	    state_get_reasons(o, "discrepancies", &m->discrepancies) < 0)
		return -1;
	/* Absent from files written before it existed: 0, the journal knows better. */
	{
		const json_t *le = json_object_get(o, "last_event_id");

		if (le != NULL && (!json_is_integer(le) || json_integer_value(le) < 0))
			return -1;
		m->last_event_id = le ? (uint64_t)json_integer_value(le) : 0;
	}
	m->failing_alerted = json_is_true(json_object_get(o, "failing_alerted"));
	m->eif_announced = json_is_true(json_object_get(o, "eif_announced"));
	if (state_get_validator(o, "etag", &m->etag) < 0 ||
	    state_get_validator(o, "last_modified", &m->last_modified) < 0 ||
	    state_get_str(o, "error", &m->error) < 0 ||
	    state_get_time(o, "last_attempt", &m->last_attempt) < 0 ||
	    state_get_time(o, "last_success", &m->last_success) < 0 ||
	    state_get_time(o, "last_change", &m->last_change) < 0 ||
	    state_get_time(o, "failing_since", &m->failing_since) < 0)
		return -1;
	return 0;
}

static int
state_parse(const char *text, size_t len, const char *id, struct snapshot **snap,
    struct source_meta *m, json_t **outbox, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *js, *ver, *tid;
	char why[256];

	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(err, errlen, "line %d: %s", jerr.line, jerr.text);
		return -1;
	}
	ver = json_object_get(root, "version");
	tid = json_object_get(root, "treaty");
	if (!json_is_integer(ver) || json_integer_value(ver) != STATE_VERSION ||
	    !json_is_string(tid) || strcmp(json_string_value(tid), id) != 0) {
		json_decref(root);
		snprintf(err, errlen, "not a version %d state file of treaty %s", STATE_VERSION, id);
		return -1;
	}
	if (state_meta_from_json(json_object_get(root, "source"), m) < 0) {
		json_decref(root);
		source_meta_clear(m);
		snprintf(err, errlen, "invalid \"source\" object");
		return -1;
	}
	if (state_get_outbox(root, outbox) < 0) {
		json_decref(root);
		source_meta_clear(m);
		snprintf(err, errlen, "invalid \"outbox\" array");
		return -1;
	}
	*snap = NULL;
	js = json_object_get(root, "snapshot");
	if (js != NULL && !json_is_null(js) &&
	    (*snap = snapshot_from_json(js, why, sizeof(why))) == NULL) {
		json_decref(root);
		source_meta_clear(m);
		json_decref(*outbox);
		*outbox = NULL;
		snprintf(err, errlen, "invalid snapshot: %s", why);
		return -1;
	}
	json_decref(root);
	return 0;
}

/* Reads and validates dir/ID.json, changing nothing: 1, 0 when there is none, -1. */
static int
state_read(const char *dir, const char *id, struct snapshot **snap, struct source_meta *m,
    json_t **outbox, char *err, size_t errlen)
{
	char path[4096];
	char *text;
	size_t len;
	int rc;

	*snap = NULL;
	*outbox = NULL;
	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s/%s.json", dir, id);
	if (atomicfile_read(path, STATE_MAX_FILE, &text, &len, err, errlen) < 0)
		return errno == ENOENT ? 0 : -1;
	rc = state_parse(text, len, id, snap, m, outbox, err, errlen);
	free(text);
	return rc == 0 ? 1 : -1;
}

int
state_peek(const char *dir, const char *id, struct snapshot **snap, char *err, size_t errlen)
{
	struct source_meta m;
	json_t *outbox;
	int rc = state_read(dir, id, snap, &m, &outbox, err, errlen);

	source_meta_clear(&m);
	json_decref(outbox);
	return rc;
}

int
state_peek_outbox(const char *dir, const char *id, json_t **outbox, uint64_t *last_event_id,
    char *err, size_t errlen)
{
	struct snapshot *snap;
	struct source_meta m;
	int rc = state_read(dir, id, &snap, &m, outbox, err, errlen);

	*last_event_id = m.last_event_id;
	snapshot_free(snap);
	source_meta_clear(&m);
	return rc;
}

int
state_load(const char *dir, const char *id, struct snapshot **snap, struct source_meta *m,
    json_t **outbox, char *err, size_t errlen)
{
	char path[4096], aside[4200], why[512];
	char *text;
	size_t len;

	*snap = NULL;
	*outbox = NULL;
	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s/%s.json", dir, id);
	if (atomicfile_read(path, STATE_MAX_FILE, &text, &len, why, sizeof(why)) < 0) {
		if (errno == ENOENT)
			return 0;
	} else {
		int rc = state_parse(text, len, id, snap, m, outbox, why, sizeof(why));

		free(text);
		if (rc == 0)
			return 1;
	}
	/* Never discard a state file silently: keep it for the administrator to inspect. */
	atomicfile_aside_name(path, aside, sizeof(aside));
	if (rename(path, aside) == 0)
		snprintf(err, errlen, "%s: %s; moved aside to %s", path, why, aside);
	else
		snprintf(err, errlen, "%s: %s; could not move it aside: %s", path, why,
		    strerror(errno));
	return -1;
}
