/* Helpers shared by the fuzz targets: quiet logging and the properties every parsed
 * snapshot must have. A property that fails aborts, so libFuzzer keeps the input. */
#ifndef RATD_FUZZ_H
#define RATD_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void fuzz_fail(const char *what) __attribute__((noreturn, unused));

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz property violated: %s\n", what);
	abort();
}

/* Same seed every run: jansson's hash order must not make runs differ. */
static void __attribute__((unused))
fuzz_setup(void)
{
	json_object_seed(1);
	log_set_level(LOG_LVL_ERR);
}

static int __attribute__((unused))
fuzz_same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Strict UTF-8, as jansson wants it: no overlongs, surrogates or code points > U+10FFFF. */
static int __attribute__((unused))
fuzz_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned cp;
	size_t len, i;

	for (; s != NULL && *s != 0; s += len) {
		if (s[0] < 0x80) {
			len = 1;
			continue;
		}
		if (s[0] >= 0xc2 && s[0] <= 0xdf)
			len = 2, cp = s[0] & 0x1f;
		else if (s[0] >= 0xe0 && s[0] <= 0xef)
			len = 3, cp = s[0] & 0x0f;
		else if (s[0] >= 0xf0 && s[0] <= 0xf4)
			len = 4, cp = s[0] & 0x07;
		else
			return 0;
		for (i = 1; i < len; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
	}
	return 1;
}

/* What a parser returns is committed to the state file: it must encode and load back
 * unchanged, or the daemon could never save (or would discard) its own state. */
static void __attribute__((unused))
fuzz_check_snapshot(const struct snapshot *s)
{
	char err[256];
	struct snapshot *back;
	json_t *j;
	char *text;
	size_t i;

	if (s->n > SNAPSHOT_MAX_PARTICIPANTS)
		fuzz_fail("more than SNAPSHOT_MAX_PARTICIPANTS participants");
	for (i = 0; i < s->n; i++) {
		if (s->v[i].name == NULL)
			fuzz_fail("participant without a name");
		if ((s->v[i].signature.kind == KIND_NONE) != (s->v[i].signature.date == DAY_NONE) ||
		    (s->v[i].instrument.kind == KIND_NONE) != (s->v[i].instrument.date == DAY_NONE))
			fuzz_fail("KIND_NONE and DAY_NONE do not go together");
		if (!fuzz_utf8(s->v[i].name))
			fuzz_fail("a participant name is not valid UTF-8");
	}
	if (!fuzz_utf8(s->stated_eif) || !fuzz_utf8(s->status_as_at))
		fuzz_fail("a stated text is not valid UTF-8");
	if ((j = snapshot_to_json(s)) == NULL)
		fuzz_fail("snapshot_to_json failed on a parsed snapshot");
	/* Through text as well, as state_save and state_load do. */
	if ((text = json_dumps(j, JSON_COMPACT)) == NULL)
		fuzz_fail("json_dumps failed on a snapshot");
	json_decref(j);
	if ((j = json_loads(text, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		fuzz_fail("a dumped snapshot does not parse as JSON");
	free(text);
	if ((back = snapshot_from_json(j, err, sizeof(err))) == NULL) {
		fprintf(stderr, "snapshot_from_json: %s\n", err);
		fuzz_fail("a snapshot does not load back from its JSON form");
	}
	json_decref(j);
	if (!snapshot_same_table(s, back) ||
	    snapshot_table_hash(s) != snapshot_table_hash(back) ||
	    s->stated_parties != back->stated_parties ||
	    s->stated_signatories != back->stated_signatories ||
	    s->stated_eif_date != back->stated_eif_date ||
	    !fuzz_same_str(s->stated_eif, back->stated_eif) ||
	    !fuzz_same_str(s->status_as_at, back->status_as_at))
		fuzz_fail("a snapshot changes through its JSON form");
	snapshot_free(back);
}

#endif
