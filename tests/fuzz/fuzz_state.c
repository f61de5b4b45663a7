/* libFuzzer target: a treaty's state file as state_load parses it (state_parse, reached
 * by including the module's .c: state_load itself would move every bad input aside on
 * disk). What loads must save and load back unchanged: the daemon rewrites the file. */
#include "daemon/state.c"

#include "fuzz.h"

#define FUZZ_ID "IV-13"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

static bool
fuzz_same_meta(const struct source_meta *a, const struct source_meta *b)
{
	return fuzz_same_str(a->etag, b->etag) &&
	    fuzz_same_str(a->last_modified, b->last_modified) &&
	    fuzz_same_str(a->error, b->error) &&
	    a->last_attempt == b->last_attempt && a->last_success == b->last_success &&
	    a->last_change == b->last_change && a->failing_since == b->failing_since &&
	    a->consecutive_failures == b->consecutive_failures &&
	    a->pending_hash == b->pending_hash && a->pending_count == b->pending_count &&
	    a->failing_alerted == b->failing_alerted && a->eif_announced == b->eif_announced &&
	    json_equal(a->anomalies, b->anomalies);
}

/* The text state_save would write for what was loaded. */
static char *
fuzz_resave(const struct snapshot *snap, const struct source_meta *m, const json_t *outbox)
{
	json_t *root;
	char *text;

	root = json_pack("{s:i, s:s, s:o, s:o, s:O}", "version", STATE_VERSION, "treaty", FUZZ_ID,
	    "source", state_meta_json(m), "snapshot", snap ? snapshot_to_json(snap) : json_null(),
	    "outbox", outbox ? outbox : json_array());
	if (root == NULL || (text = json_dumps(root, JSON_COMPACT)) == NULL)
		fuzz_fail("a loaded state cannot be saved again");
	json_decref(root);
	return text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct source_meta m = { 0 }, m2 = { 0 };
	struct snapshot *snap = NULL, *snap2 = NULL;
	json_t *outbox = NULL, *outbox2 = NULL;
	char err[512], *text;

	err[0] = '\0';
	if (state_parse((const char *)data, size, FUZZ_ID, &snap, &m, &outbox, err,
	    sizeof(err)) < 0) {
		if (err[0] == '\0')
			fuzz_fail("state_parse failed without a reason");
		if (snap != NULL || m.etag != NULL || m.anomalies != NULL)
			fuzz_fail("state_parse failed but left something allocated");
		json_decref(outbox);
		return 0;
	}
	if (outbox == NULL)
		fuzz_fail("state_parse succeeded without an outbox");
	if (snap != NULL)
		fuzz_check_snapshot(snap);
	text = fuzz_resave(snap, &m, outbox);
	if (state_parse(text, strlen(text), FUZZ_ID, &snap2, &m2, &outbox2, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "state_parse of the saved form: %s\n", err);
		fuzz_fail("a loaded state does not load again once saved");
	}
	if (!fuzz_same_meta(&m, &m2) || !json_equal(outbox, outbox2) ||
	    (snap == NULL) != (snap2 == NULL) ||
	    (snap != NULL && !snapshot_same_table(snap, snap2)))
		fuzz_fail("a state changes when saved and loaded again");
	free(text);
	snapshot_free(snap);
	snapshot_free(snap2);
	source_meta_clear(&m);
	source_meta_clear(&m2);
	json_decref(outbox);
	json_decref(outbox2);
	return 0;
}
