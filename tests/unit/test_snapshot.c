/* The participants table: building it, its limits, its hash and its JSON form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "snapshot.h"

static const struct action none = { DAY_NONE, KIND_NONE };

static struct action
act(const char *iso, enum kind k)
{
	struct action a = { DAY_NONE, k };

	assert_int_equal(date_parse_iso(iso, &a.date), 0);
	return a;
}

/* Four rows in the shapes a real page has: signed only, acceded, signed and ratified, withdrawn. */
static struct snapshot *
sample(void)
{
	struct snapshot *s = snapshot_new();

	assert_non_null(s);
	assert_int_equal(snapshot_add(s, "Armenia", false, act("2013-09-26", KIND_SIGNATURE),
	    none), 0);
	assert_int_equal(snapshot_add(s, "Albania", false, none,
	    act("2007-06-05", KIND_ACCESSION)), 0);
	assert_int_equal(snapshot_add(s, "El Salvador", false,
	    act("2002-09-13", KIND_SIGNATURE), act("2003-03-14", KIND_RATIFICATION)), 0);
	assert_int_equal(snapshot_add(s, "Montenegro", true, act("2006-10-23", KIND_SUCCESSION),
	    act("2007-01-01", KIND_CONFIRMATION)), 0);
	s->stated_parties = 59;
	s->stated_signatories = 40;
	s->stated_eif = strdup("1 July 2003, in accordance with article 87(1).");
	assert_int_equal(date_parse_iso("2003-07-01", &s->stated_eif_date), 0);
	s->status_as_at = strdup("2024-09-30T05:01:17Z");
	return s;
}

static void
test_kind_names(void **state)
{
	static const char *names[] = { "none", "signature", "ratification", "accession",
	    "succession", "acceptance", "approval", "confirmation" };
	int k;

	for (k = 0; k < KIND_COUNT_; k++) {
		assert_string_equal(kind_name((enum kind)k), names[k]);
		assert_int_equal(kind_from_name(names[k]), k);
	}
	assert_int_equal(kind_from_name("Ratification"), KIND_NONE);
	assert_int_equal(kind_from_name("a"), KIND_NONE);
	assert_int_equal(kind_from_name(""), KIND_NONE);
}

/* No participant, and every stated figure unknown. */
static void
assert_states_nothing(const struct snapshot *s)
{
	assert_int_equal(s->n, 0);
	assert_int_equal(s->stated_parties, -1);
	assert_int_equal(s->stated_signatories, -1);
	assert_null(s->stated_eif);
	assert_int_equal(s->stated_eif_date, DAY_NONE);
	assert_null(s->status_as_at);
}

static void
test_new_snapshot_states_nothing(void **state)
{
	struct snapshot *s = snapshot_new();

	assert_non_null(s);
	assert_states_nothing(s);
	snapshot_free(s);
	snapshot_free(NULL);
}

static void
test_add_and_find(void **state)
{
	struct snapshot *s = sample();
	char name[] = "Albania";

	assert_int_equal(s->n, 4);
	assert_int_equal(snapshot_find(s, "Armenia"), 0);
	assert_int_equal(snapshot_find(s, "El Salvador"), 2);
	assert_int_equal(snapshot_find(s, "Montenegro"), 3);
	assert_int_equal(snapshot_find(s, "albania"), -1);
	assert_int_equal(snapshot_find(s, "Nowhere"), -1);
	/* The hint is tried first, and a wrong or past-the-end hint still finds the row. */
	assert_int_equal(snapshot_find_at(s, "El Salvador", 2), 2);
	assert_int_equal(snapshot_find_at(s, "El Salvador", 0), 2);
	assert_int_equal(snapshot_find_at(s, "Montenegro", 99), 3);
	assert_int_equal(snapshot_find_at(s, "Nowhere", 1), -1);
	assert_true(s->v[3].withdrawn);
	assert_int_equal(s->v[2].instrument.kind, KIND_RATIFICATION);
	/* The snapshot keeps its own copy of the name. */
	snapshot_add(s, name, false, none, none);
	name[0] = 'X';
	assert_string_equal(s->v[4].name, "Albania");
	snapshot_free(s);
}

static void
test_limits(void **state)
{
	struct snapshot *s = snapshot_new();
	char name[SNAPSHOT_MAX_NAME + 2];
	int i;

	memset(name, 'n', sizeof(name));
	name[SNAPSHOT_MAX_NAME + 1] = '\0';
	assert_int_equal(snapshot_add(s, name, false, none, none), -1);
	name[SNAPSHOT_MAX_NAME] = '\0';
	assert_int_equal(snapshot_add(s, name, false, none, none), 0);
	assert_int_equal(s->n, 1);
	for (i = 1; i < SNAPSHOT_MAX_PARTICIPANTS; i++) {
		snprintf(name, sizeof(name), "State %d", i);
		assert_int_equal(snapshot_add(s, name, false, none, none), 0);
	}
	assert_int_equal(s->n, SNAPSHOT_MAX_PARTICIPANTS);
	assert_int_equal(snapshot_add(s, "One too many", false, none, none), -1);
	assert_int_equal(s->n, SNAPSHOT_MAX_PARTICIPANTS);
	assert_int_equal(snapshot_find(s, "State 999"), 999);
	snapshot_free(s);
}

static void
test_same_table_and_hash(void **state)
{
	struct snapshot *a = sample(), *b = sample();

	assert_true(snapshot_same_table(a, b));
	assert_true(snapshot_table_hash(a) == snapshot_table_hash(b));
	/* The stated values are not part of the table. */
	b->stated_parties = 60;
	assert_true(snapshot_same_table(a, b));
	assert_true(snapshot_table_hash(a) == snapshot_table_hash(b));

	b->v[2].instrument.date++;
	assert_false(snapshot_same_table(a, b));
	assert_true(snapshot_table_hash(a) != snapshot_table_hash(b));
	b->v[2].instrument.date--;
	b->v[2].instrument.kind = KIND_ACCESSION;
	assert_false(snapshot_same_table(a, b));
	assert_true(snapshot_table_hash(a) != snapshot_table_hash(b));
	b->v[2].instrument.kind = KIND_RATIFICATION;
	b->v[0].withdrawn = true;
	assert_false(snapshot_same_table(a, b));
	assert_true(snapshot_table_hash(a) != snapshot_table_hash(b));
	b->v[0].withdrawn = false;
	b->v[1].name[0] = 'B';
	assert_false(snapshot_same_table(a, b));
	assert_true(snapshot_table_hash(a) != snapshot_table_hash(b));
	b->v[1].name[0] = 'A';
	assert_true(snapshot_table_hash(a) == snapshot_table_hash(b));
	snapshot_add(b, "Zimbabwe", false, none, none);
	assert_false(snapshot_same_table(a, b));
	assert_true(snapshot_table_hash(a) != snapshot_table_hash(b));
	snapshot_free(a);
	snapshot_free(b);
}

static void
test_hash_is_fixed(void **state)
{
	struct snapshot *s = snapshot_new();

	/* FNV-1a 64 of nothing is its offset basis; the value must not change across builds. */
	assert_true(snapshot_table_hash(s) == 0xcbf29ce484222325ULL);
	snapshot_add(s, "A", false, none, none);
	assert_true(snapshot_table_hash(s) != 0xcbf29ce484222325ULL);
	snapshot_free(s);
}

static void
test_json_form(void **state)
{
	struct snapshot *s = sample();
	json_t *j = snapshot_to_json(s);
	char *text;

	assert_non_null(j);
	text = json_dumps(j, JSON_COMPACT);
	assert_string_equal(text,
	    "{\"participants\":["
	    "{\"name\":\"Armenia\",\"withdrawn\":false,"
	    "\"signature\":{\"date\":\"2013-09-26\",\"kind\":\"signature\"},\"instrument\":null},"
	    "{\"name\":\"Albania\",\"withdrawn\":false,\"signature\":null,"
	    "\"instrument\":{\"date\":\"2007-06-05\",\"kind\":\"accession\"}},"
	    "{\"name\":\"El Salvador\",\"withdrawn\":false,"
	    "\"signature\":{\"date\":\"2002-09-13\",\"kind\":\"signature\"},"
	    "\"instrument\":{\"date\":\"2003-03-14\",\"kind\":\"ratification\"}},"
	    "{\"name\":\"Montenegro\",\"withdrawn\":true,"
	    "\"signature\":{\"date\":\"2006-10-23\",\"kind\":\"succession\"},"
	    "\"instrument\":{\"date\":\"2007-01-01\",\"kind\":\"confirmation\"}}],"
	    "\"stated_parties\":59,\"stated_signatories\":40,"
	    "\"stated_eif\":\"1 July 2003, in accordance with article 87(1).\","
	    "\"stated_eif_date\":\"2003-07-01\",\"status_as_at\":\"2024-09-30T05:01:17Z\"}");
	free(text);
	json_decref(j);
	snapshot_free(s);
}

static void
test_json_round_trip(void **state)
{
	struct snapshot *s = sample(), *t, *e = snapshot_new(), *f;
	char err[256] = "";
	json_t *j = snapshot_to_json(s), *k;

	t = snapshot_from_json(j, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(err, "");
	assert_true(snapshot_same_table(s, t));
	assert_true(snapshot_table_hash(s) == snapshot_table_hash(t));
	assert_int_equal(t->stated_parties, 59);
	assert_int_equal(t->stated_signatories, 40);
	assert_string_equal(t->stated_eif, s->stated_eif);
	assert_int_equal(t->stated_eif_date, s->stated_eif_date);
	assert_string_equal(t->status_as_at, "2024-09-30T05:01:17Z");
	k = snapshot_to_json(t);
	assert_true(json_equal(j, k));
	json_decref(j);
	json_decref(k);

	/* An empty snapshot's unknowns come back as unknowns. */
	j = snapshot_to_json(e);
	f = snapshot_from_json(j, err, sizeof(err));
	assert_non_null(f);
	assert_states_nothing(f);
	json_decref(j);
	snapshot_free(s);
	snapshot_free(t);
	snapshot_free(e);
	snapshot_free(f);
}

/* A defect written into the sample's JSON, and the message that must name it. */
struct defect {
	const char *path;    /* "participants[2].instrument.date" or a top-level key */
	const char *json;    /* replacement value; NULL deletes the key */
	const char *message;
};

static const struct defect defects[] = {
	{ "participants[2].instrument.date", "\"2003-02-30\"",
	    "participants[2].instrument.date: not a YYYY-MM-DD date" },
	{ "participants[2].instrument.date", "\"14 March 2003\"",
	    "participants[2].instrument.date: not a YYYY-MM-DD date" },
	{ "participants[2].instrument.date", "12125",
	    "participants[2].instrument.date: not a YYYY-MM-DD date" },
	{ "participants[2].instrument.date", NULL,
	    "participants[2].instrument.date: not a YYYY-MM-DD date" },
	{ "participants[2].instrument.kind", "\"signature\"",
	    "participants[2].instrument.kind: \"signature\" is not a kind this cell records" },
	{ "participants[2].instrument.kind", "\"none\"",
	    "participants[2].instrument.kind: \"none\" is not a kind this cell records" },
	{ "participants[2].instrument.kind", "\"treaty\"",
	    "participants[2].instrument.kind: \"treaty\" is not a kind this cell records" },
	{ "participants[2].instrument.kind", "3",
	    "participants[2].instrument.kind: not a string" },
	{ "participants[2].instrument.extra", "1",
	    "participants[2].instrument: unknown key \"extra\"" },
	{ "participants[0].signature.kind", "\"ratification\"",
	    "participants[0].signature.kind: \"ratification\" is not a kind this cell records" },
	{ "participants[0].signature", "\"2013-09-26\"",
	    "participants[0].signature: not an object or null" },
	{ "participants[0].signature", NULL, "participants[0].signature: missing" },
	{ "participants[1].instrument", NULL, "participants[1].instrument: missing" },
	{ "participants[1].name", "\"Armenia\"",
	    "participants[1].name: \"Armenia\" appears twice" },
	{ "participants[1].name", "\"\"",
	    "participants[1].name: empty, longer than 200 bytes or with NUL" },
	{ "participants[1].name", "\"A\\u0000B\"",
	    "participants[1].name: empty, longer than 200 bytes or with NUL" },
	{ "participants[1].name", "null", "participants[1].name: not a string" },
	{ "participants[1].name", NULL, "participants[1].name: not a string" },
	{ "participants[3].withdrawn", "1", "participants[3].withdrawn: not a boolean" },
	{ "participants[3].withdrawn", NULL, "participants[3].withdrawn: not a boolean" },
	{ "participants[3].flag", "true", "participants[3]: unknown key \"flag\"" },
	{ "participants", "{}", "participants: missing or not an array" },
	{ "participants", NULL, "participants: missing or not an array" },
	{ "stated_parties", "-1", "stated_parties: not a count or null" },
	{ "stated_parties", "\"59\"", "stated_parties: not a count or null" },
	{ "stated_signatories", "2.5", "stated_signatories: not a count or null" },
	{ "stated_signatories", "4294967296", "stated_signatories: not a count or null" },
	{ "stated_eif", "17", "stated_eif: not a string of at most 1000 bytes or null" },
	{ "stated_eif_date", "\"1 July 2003\"", "stated_eif_date: not a YYYY-MM-DD date" },
	{ "status_as_at", "\"2024-09-30\"",
	    "status_as_at: not a YYYY-MM-DDTHH:MM:SSZ time" },
	{ "status", "\"ok\"", "snapshot: unknown key \"status\"" },
};

/* Walks "a[1].b.c" to the object holding the last key. */
static json_t *
holder(json_t *root, const char *path, char *last, size_t lastlen)
{
	char buf[128], *seg, *save = NULL, *br;
	json_t *o = root;

	snprintf(buf, sizeof(buf), "%s", path);
	seg = strrchr(buf, '.');
	if (seg == NULL) {
		snprintf(last, lastlen, "%s", buf);
		return root;
	}
	*seg = '\0';
	snprintf(last, lastlen, "%s", seg + 1);
	for (seg = strtok_r(buf, ".", &save); seg != NULL; seg = strtok_r(NULL, ".", &save)) {
		if ((br = strchr(seg, '[')) != NULL) {
			*br = '\0';
			o = json_array_get(json_object_get(o, seg), strtoul(br + 1, NULL, 10));
		} else
			o = json_object_get(o, seg);
		assert_non_null(o);
	}
	return o;
}

static void
test_from_json_names_each_defect(void **state)
{
	struct snapshot *s = sample(), *t;
	char err[256], last[128];
	json_error_t jerr;
	json_t *j, *o, *v;
	size_t i;

	for (i = 0; i < sizeof(defects) / sizeof(defects[0]); i++) {
		j = snapshot_to_json(s);
		o = holder(j, defects[i].path, last, sizeof(last));
		if (defects[i].json == NULL)
			json_object_del(o, last);
		else {
			v = json_loads(defects[i].json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
			assert_non_null(v);
			json_object_set_new(o, last, v);
		}
		err[0] = '\0';
		t = snapshot_from_json(j, err, sizeof(err));
		if (t != NULL)
			fail_msg("accepted defect %zu (%s)", i, defects[i].path);
		assert_string_equal(err, defects[i].message);
		json_decref(j);
	}
	snapshot_free(s);
}

static void
test_from_json_rejects_shapes(void **state)
{
	char err[256];
	json_t *j;
	char big[SNAPSHOT_MAX_TEXT + 2];

	j = json_array();
	assert_null(snapshot_from_json(j, err, sizeof(err)));
	assert_string_equal(err, "snapshot: not an object");
	json_decref(j);

	j = json_pack("{s:[i]}", "participants", 1);
	assert_null(snapshot_from_json(j, err, sizeof(err)));
	assert_string_equal(err, "participants[0]: not an object");
	json_decref(j);

	memset(big, 'x', sizeof(big));
	big[SNAPSHOT_MAX_TEXT + 1] = '\0';
	j = json_pack("{s:[],s:s}", "participants", "stated_eif", big);
	assert_null(snapshot_from_json(j, err, sizeof(err)));
	assert_string_equal(err, "stated_eif: not a string of at most 1000 bytes or null");
	json_decref(j);
}

static void
test_from_json_rejects_too_many(void **state)
{
	char err[256];
	json_t *j = json_object(), *a = json_array();
	int i;

	json_object_set_new(j, "participants", a);
	for (i = 0; i <= SNAPSHOT_MAX_PARTICIPANTS; i++)
		json_array_append_new(a, json_pack("{s:s,s:b,s:n,s:n}", "name", "S",
		    "withdrawn", 0, "signature", "instrument"));
	assert_null(snapshot_from_json(j, err, sizeof(err)));
	assert_string_equal(err, "participants: more than 1000");
	json_decref(j);
}

/* A page whose 200 notes of 1,000 bytes each hang on every one of 1,000 rows would make a
 * snapshot of megabytes, which the daemon decodes, saves and serves on its loop: the
 * notes a snapshot keeps are capped, and the cap holds through its JSON form. */
static void
test_note_bytes_capped(void **state)
{
	struct snapshot *s = snapshot_new(), *back;
	char name[32], note[SNAPSHOT_MAX_TEXT + 1], *text, err[256];
	size_t i, k, total = 0;
	json_t *j;

	assert_non_null(s);
	for (i = 0; i < SNAPSHOT_MAX_PARTICIPANTS; i++) {
		snprintf(name, sizeof(name), "State %zu", i);
		assert_int_equal(snapshot_add(s, name, false, none,
		    act("2003-03-14", KIND_RATIFICATION)), 0);
		for (k = 0; k < 4; k++) {
			memset(note, 'x', SNAPSHOT_MAX_TEXT);
			snprintf(note, sizeof(note), "%zu", (i * 4 + k) % 200);
			note[strlen(note)] = ' ';
			note[SNAPSHOT_MAX_TEXT] = '\0';
			assert_int_equal(snapshot_add_note(s, i, note), 0);
		}
	}
	for (i = 0; i < s->n; i++)
		for (k = 0; k < s->v[i].nnotes; k++)
			total += strlen(s->v[i].notes[k]);
	assert_true(total <= SNAPSHOT_MAX_NOTE_BYTES);
	assert_true(total > SNAPSHOT_MAX_NOTE_BYTES - SNAPSHOT_MAX_TEXT);
	assert_int_equal(s->v[0].nnotes, 4);
	assert_int_equal(s->v[s->n - 1].nnotes, 0);
	j = snapshot_to_json(s);
	assert_non_null(j);
	text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	assert_true(strlen(text) < 256 * 1024);
	back = snapshot_from_json(j, err, sizeof(err));
	assert_non_null(back);
	assert_int_equal(back->note_bytes, total);
	free(text);
	json_decref(j);
	snapshot_free(back);
	snapshot_free(s);
}

/* The state file is written straight from the table: quotes, backslashes and control
 * characters escaped, other UTF-8 kept, and a byte that is not UTF-8 written as U+FFFD
 * so that the file can still be written and read back. */
static void
test_json_text_escapes(void **state)
{
	struct snapshot *s = snapshot_new(), *t;
	char *text = NULL, err[256] = "";
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_t *j;

	assert_int_equal(snapshot_add(s, "Say \"no\" \\ \x01\n\tS\xC3\xA3o \xFF", false, none,
	    none), 0);
	assert_int_equal(snapshot_add_note(s, 0, "note\r\f\b\x1F"), 0);
	assert_int_equal(snapshot_write_json(f, s), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(text,
	    "{\"participants\":[{\"name\":\"Say \\\"no\\\" \\\\ \\u0001\\n\\tS\xC3\xA3o \xEF\xBF\xBD\","
	    "\"withdrawn\":false,\"signature\":null,\"instrument\":null,"
	    "\"notes\":[\"note\\r\\f\\b\\u001F\"]}],"
	    "\"stated_parties\":null,\"stated_signatories\":null,\"stated_eif\":null,"
	    "\"stated_eif_date\":null,\"status_as_at\":null}");
	assert_non_null(j = json_loadb(text, len, 0, NULL));
	assert_non_null(t = snapshot_from_json(j, err, sizeof(err)));
	assert_string_equal(t->v[0].name, "Say \"no\" \\ \x01\n\tS\xC3\xA3o \xEF\xBF\xBD");
	assert_string_equal(t->v[0].notes[0], "note\r\f\b\x1F");
	json_decref(j);
	free(text);
	snapshot_free(s);
	snapshot_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_new_snapshot_states_nothing),
		cmocka_unit_test(test_add_and_find),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_same_table_and_hash),
		cmocka_unit_test(test_hash_is_fixed),
		cmocka_unit_test(test_json_form),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_text_escapes),
		cmocka_unit_test(test_from_json_names_each_defect),
		cmocka_unit_test(test_from_json_rejects_shapes),
		cmocka_unit_test(test_from_json_rejects_too_many),
		cmocka_unit_test(test_note_bytes_capped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
