/* The event journal: durable lines, ids that never go back, what survives a damaged file,
 * and the bounds on memory and file size. Each test works in its own mkdtemp directory. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "journal.h"
#include "state.h"

static char err[1024];

static int
setup(void **state)
{
	return (*state = helpers_dir_new(JOURNAL_NAME)) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	helpers_dir_free(*state);
	return 0;
}

static void
put(const char *path, const char *mode, const char *text)
{
	FILE *f = fopen(path, mode);

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

/* Lines in the file; fails when its last line has no newline. */
static size_t
lines_in(const char *path)
{
	size_t len, i, n = 0;
	char *text = helpers_read_file(path, &len);

	for (i = 0; i < len; i++)
		n += text[i] == '\n';
	if (len > 0 && text[len - 1] != '\n')
		fail_msg("%s ends with an incomplete line", path);
	free(text);
	return n;
}

/* One journal line as ratd writes it, for hand-made files. */
static const char *
line(unsigned id)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "{\"id\":%u,\"time\":\"2024-09-30T09:00:00Z\","
	    "\"type\":\"source-anomaly\",\"treaty\":\"IV-13\",\"summary\":\"event %u\","
	    "\"data\":{\"reason\":\"test\"}}\n", id, id);
	return buf[k];
}

/* The file at path holds the events ids[0..n) (line), in that order, and nothing else. */
static void
put_ids(const char *path, const unsigned *ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		put(path, i == 0 ? "wb" : "ab", line(ids[i]));
}

/* Appends n events numbered first, first + step, ..., batch of them per journal_append. */
static void
append_ids(struct journal *j, uint64_t first, size_t n, uint64_t step, size_t batch)
{
	struct event_list l = { 0 };
	uint64_t id = first;
	size_t i, k;

	for (i = 0; i < n; i += batch) {
		for (k = i; k < n && k < i + batch; k++) {
			assert_int_equal(event_add(&l, 1727686800, EV_SOURCE_ANOMALY, "IV-13",
			    json_pack("{s:s}", "reason", "test"), "event %llu",
			    (unsigned long long)id), 0);
			json_object_set_new(l.v[l.n - 1], "id", json_integer((json_int_t)id));
			id += step;
		}
		if (journal_append(j, &l, err, sizeof(err)) != 0)
			fail_msg("journal_append: %s", err);
		event_list_clear(&l);
	}
}

static void
open_ok(struct journal *j, const struct helpers_dir *fx)
{
	if (journal_open(j, fx->dir, err, sizeof(err)) != 0)
		fail_msg("journal_open: %s", err);
}

/* Opens the journal of fx, empty yet, and appends n events numbered first, first + step,
 * ..., batch of them at a time: it then holds them all, the last one its last_id. */
static void
open_appended(struct journal *j, const struct helpers_dir *fx, uint64_t first, size_t n,
    uint64_t step, size_t batch)
{
	open_ok(j, fx);
	append_ids(j, first, n, step, batch);
	assert_int_equal(j->n, n);
	assert_int_equal(j->last_id, first + (n - 1) * step);
}

static void
assert_ids(const struct journal *j, uint64_t first, uint64_t last)
{
	size_t i;

	assert_int_equal(j->n, last - first + 1);
	for (i = 0; i < j->n; i++)
		assert_int_equal(event_id(j->v[i]), first + i);
}

/* The journal holds exactly the n events ids, the last one its last_id. */
static void
assert_id_list(const struct journal *j, const uint64_t *ids, size_t n)
{
	size_t i;

	assert_int_equal(j->n, n);
	for (i = 0; i < n; i++)
		assert_int_equal(event_id(j->v[i]), ids[i]);
	assert_int_equal(j->last_id, ids[n - 1]);
}

/* journal_after(j, since[i][0]) is since[i][1] for each of the n pairs. */
static void
assert_after(const struct journal *j, const uint64_t (*since)[2], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(journal_after(j, since[i][0]), since[i][1]);
}

/* Closes the journal: its file then holds lines whole lines, and corrupt damaged
 * originals are kept beside it. */
static void
close_and_check(struct journal *j, const struct helpers_dir *fx, size_t lines, int corrupt)
{
	journal_close(j);
	assert_int_equal(lines_in(fx->path), lines);
	assert_int_equal(helpers_entries(fx->dir, JOURNAL_NAME ".corrupt-", NULL, 0), corrupt);
}

/* Appends event id to a journal of events 1..id - 1 and closes it: the file then has
 * id whole lines, reopened holds events 1..id, and corrupt damaged originals are kept
 * beside it. */
static void
append_close_reopen(struct journal *j, const struct helpers_dir *fx, uint64_t id,
    int corrupt)
{
	append_ids(j, id, 1, 1, 1);
	journal_close(j);
	assert_int_equal(lines_in(fx->path), id);
	open_ok(j, fx);
	assert_ids(j, 1, id);
	journal_close(j);
	assert_int_equal(helpers_entries(fx->dir, JOURNAL_NAME ".corrupt-", NULL, 0), corrupt);
}

static void
test_empty_dir(void **state)
{
	struct helpers_dir *fx = *state;
	struct journal j;

	open_ok(&j, fx);
	assert_int_equal(j.n, 0);
	assert_int_equal(j.last_id, 0);
	assert_int_equal(j.file_lines, 0);
	assert_true(j.fd >= 0);
	assert_int_equal(journal_after(&j, 0), 0);
	close_and_check(&j, fx, 0, 0);
}

static void
test_append_and_reopen(void **state)
{
	struct helpers_dir *fx = *state;
	struct journal j;
	char *text;

	open_appended(&j, fx, 1, 3, 1, 3);
	assert_int_equal(lines_in(fx->path), 3);
	journal_close(&j);

	text = helpers_read_file(fx->path, NULL);
	assert_int_equal(strncmp(text, "{\"id\":1,", 8), 0);
	free(text);

	open_ok(&j, fx);
	assert_ids(&j, 1, 3);
	assert_int_equal(j.last_id, 3);
	assert_int_equal(j.file_lines, 3);
	assert_string_equal(event_type(j.v[2]), "source-anomaly");
	assert_after(&j, (const uint64_t[][2]){ { 0, 0 }, { 1, 1 }, { 2, 2 }, { 3, 3 },
	    { 1000, 3 } }, 5);

	/* Appends go after what was there. */
	append_close_reopen(&j, fx, 4, 0);
}

static void
test_after_with_gaps(void **state)
{
	struct helpers_dir *fx = *state;
	struct journal j;
	uint64_t since;

	open_appended(&j, fx, 10, 5, 10, 2);     /* 10 20 30 40 50 */
	assert_after(&j, (const uint64_t[][2]){ { 0, 0 }, { 9, 0 }, { 10, 1 }, { 15, 1 },
	    { 29, 2 }, { 30, 3 }, { 49, 4 }, { 50, 5 }, { UINT64_MAX, 5 } }, 9);
	for (since = 0; since <= 60; since++) {
		size_t i = journal_after(&j, since);

		assert_true(i == j.n || event_id(j.v[i]) > since);
		assert_true(i == 0 || event_id(j.v[i - 1]) <= since);
	}
	journal_close(&j);
}

static void
test_torn_last_line(void **state)
{
	struct helpers_dir *fx = *state;
	char aside[512], *before, *kept;
	struct journal j;
	size_t blen, klen;

	open_appended(&j, fx, 1, 3, 1, 1);
	journal_close(&j);
	/* A crash in the middle of writing event 4. */
	put(fx->path, "ab", "{\"id\":4,\"time\":\"2024-09-30T09:");
	before = helpers_read_file(fx->path, &blen);

	open_ok(&j, fx);
	assert_ids(&j, 1, 3);
	assert_int_equal(j.last_id, 3);
	assert_int_equal(lines_in(fx->path), 3);
	assert_int_equal(j.file_lines, 3);

	/* The damaged file is kept beside, byte for byte. */
	assert_int_equal(helpers_entries(fx->dir, JOURNAL_NAME ".corrupt-", aside,
	    sizeof(aside)), 1);
	kept = helpers_read_file(aside, &klen);
	assert_int_equal(klen, blen);
	assert_memory_equal(kept, before, blen);
	free(kept);
	free(before);
	assert_int_equal(helpers_entries(fx->dir, "." JOURNAL_NAME, NULL, 0), 0);

	/* Event 4 comes back from its outbox and is written whole. */
	append_close_reopen(&j, fx, 4, 1);
}

static void
test_invalid_lines_in_the_middle(void **state)
{
	struct helpers_dir *fx = *state;
	struct journal j;

	put(fx->path, "wb", line(1));
	put(fx->path, "ab", "this is not json\n");
	put(fx->path, "ab", line(2));
	put(fx->path, "ab", "{\"id\":3,\"type\":\"new-party\"}\n");
	put(fx->path, "ab", "\n");
	put(fx->path, "ab", line(4));

	open_ok(&j, fx);
	assert_id_list(&j, (const uint64_t[]){ 1, 2, 4 }, 3);
	close_and_check(&j, fx, 3, 1);
}

static void
test_ids_out_of_order(void **state)
{
	struct helpers_dir *fx = *state;
	struct journal j;

	put_ids(fx->path, (const unsigned[]){ 1, 5, 3, 5, 6 }, 5);

	open_ok(&j, fx);
	assert_id_list(&j, (const uint64_t[]){ 1, 5, 6 }, 3);
	journal_close(&j);
	assert_int_equal(lines_in(fx->path), 3);
}

static void
test_bump_keeps_ids_from_coming_back(void **state)
{
	struct helpers_dir *fx = *state;
	struct journal j;

	open_appended(&j, fx, 1, 2, 1, 2);
	journal_bump(&j, 41);
	assert_int_equal(j.last_id, 41);
	journal_bump(&j, 7);
	assert_int_equal(j.last_id, 41);
	/* The daemon numbers from last_id + 1. */
	append_ids(&j, j.last_id + 1, 1, 1, 1);
	assert_int_equal(event_id(j.v[2]), 42);
	assert_int_equal(j.last_id, 42);
	journal_close(&j);

	open_ok(&j, fx);
	assert_int_equal(j.last_id, 42);
	assert_int_equal(j.n, 3);
	journal_close(&j);
}

static bool
collect_id(void *arg, json_t *ev)
{
	uint64_t *ids = arg;

	ids[++ids[0]] = event_id(ev);
	return ids[0] < 20;
}

/* Memory keeps the latest JOURNAL_MEM; older ones are read back from the file. */
static void
test_memory_keeps_the_latest(void **state)
{
	struct helpers_dir *fx = *state;
	struct journal j;
	uint64_t ids[21] = { 0 };

	open_ok(&j, fx);
	append_ids(&j, 1, JOURNAL_MEM + 5, 1, 100);
	assert_int_equal(j.n, JOURNAL_MEM);
	assert_int_equal(event_id(j.v[0]), 6);
	assert_int_equal(event_id(j.v[JOURNAL_MEM - 1]), JOURNAL_MEM + 5);
	assert_int_equal(j.last_id, JOURNAL_MEM + 5);
	assert_int_equal(journal_after(&j, 0), 0);
	assert_int_equal(journal_after(&j, 6), 1);
	assert_int_equal(journal_after(&j, JOURNAL_MEM + 5), JOURNAL_MEM);
	/* Memory covers what comes after 5, not what comes after 4. */
	assert_true(journal_in_memory(&j, 5));
	assert_false(journal_in_memory(&j, 4));
	assert_true(journal_in_memory(&j, JOURNAL_MEM + 5));
	/* The file has them all, in order, from any point. */
	assert_int_equal(journal_scan(&j, 2, collect_id, ids), 0);
	assert_int_equal(ids[0], 20);
	assert_int_equal(ids[1], 3);
	assert_int_equal(ids[20], 22);
	journal_close(&j);
	assert_int_equal(lines_in(fx->path), JOURNAL_MEM + 5);

	open_ok(&j, fx);
	assert_ids(&j, 6, JOURNAL_MEM + 5);
	assert_int_equal(j.file_lines, JOURNAL_MEM + 5);
	journal_close(&j);
}

static void
test_compaction(void **state)
{
	struct helpers_dir *fx = *state;
	struct journal j;
	const uint64_t total = 2 * JOURNAL_KEEP + 1000;

	open_ok(&j, fx);
	append_ids(&j, 1, 2 * JOURNAL_KEEP, 1, 1000);
	assert_int_equal(j.file_lines, 2 * JOURNAL_KEEP);
	assert_int_equal(lines_in(fx->path), 2 * JOURNAL_KEEP);
	append_ids(&j, 2 * JOURNAL_KEEP + 1, 1000, 1, 1000);
	assert_int_equal(j.file_lines, JOURNAL_KEEP);
	assert_int_equal(lines_in(fx->path), JOURNAL_KEEP);
	assert_int_equal(helpers_entries(fx->dir, "." JOURNAL_NAME, NULL, 0), 0);

	/* The reopened descriptor appends to the rewritten file. */
	append_ids(&j, total + 1, 1, 1, 1);
	assert_int_equal(lines_in(fx->path), JOURNAL_KEEP + 1);
	journal_close(&j);

	open_ok(&j, fx);
	assert_int_equal(j.n, JOURNAL_MEM);
	assert_int_equal(event_id(j.v[0]), total + 1 - JOURNAL_MEM + 1);
	assert_int_equal(j.file_lines, JOURNAL_KEEP + 1);
	assert_int_equal(j.last_id, total + 1);
	journal_close(&j);
	assert_int_equal(helpers_entries(fx->dir, JOURNAL_NAME ".corrupt-", NULL, 0), 0);
}

/* Events of treaty numbered from first, one journal_append; its result. */
static int
append_of(struct journal *j, const char *treaty, uint64_t first, size_t n)
{
	struct event_list l = { 0 };
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		assert_int_equal(event_add(&l, 1727686800, EV_SOURCE_ANOMALY, treaty,
		    json_pack("{s:s}", "reason", "test"), "event %zu", (size_t)first + i), 0);
		json_object_set_new(l.v[i], "id", json_integer((json_int_t)(first + i)));
	}
	rc = journal_append(j, &l, err, sizeof(err));
	event_list_clear(&l);
	return rc;
}

/* The outbox a commit of IV-13 with no new event saves, read back from its state file. */
static json_t *
unchanged_commit(const struct helpers_dir *fx, const struct journal *j)
{
	struct source_meta m = { 0 }, back;
	struct snapshot *snap;
	json_t *outbox = json_array(), *loaded = NULL;

	assert_int_equal(journal_unsynced(j, "IV-13", outbox), 0);
	if (state_save(fx->dir, "IV-13", NULL, &m, outbox, err, sizeof(err)) != 0)
		fail_msg("state_save: %s", err);
	json_decref(outbox);
	assert_int_equal(state_load(fx->dir, "IV-13", &snap, &back, &loaded, err, sizeof(err)),
	    1);
	assert_null(snap);
	source_meta_clear(&back);
	return loaded;
}

/* A full disk: the events stay pending (in memory, in the state file's outbox across
 * commits that raise nothing), status says so, and a retry writes each once, in order. */
static void
test_disk_full_keeps_events_pending(void **state)
{
	struct helpers_dir *fx = *state;
	struct journal j;
	json_t *outbox, *st;
	size_t i;

	open_ok(&j, fx);
	assert_int_equal(append_of(&j, "IV-13", 1, 2), 0);
	st = journal_status(&j);
	assert_string_equal(json_string_value(json_object_get(st, "state")), "ok");
	assert_true(json_is_null(json_object_get(st, "error")));
	json_decref(st);

	/* Every write now fails with ENOSPC. */
	close(j.fd);
	assert_true((j.fd = open("/dev/full", O_WRONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(append_of(&j, "IV-13", 3, 1), -1);
	assert_non_null(strstr(err, "No space left on device"));
	assert_int_equal(append_of(&j, "XXI-10", 4, 1), -1);
	assert_int_equal(append_of(&j, "IV-13", 5, 1), -1);
	assert_int_equal(journal_pending(&j), 3);
	assert_int_equal(j.synced_id, 2);
	assert_int_equal(j.last_id, 5);
	st = journal_status(&j);
	assert_string_equal(json_string_value(json_object_get(st, "state")), "failing");
	assert_int_equal(json_integer_value(json_object_get(st, "pending")), 3);
	assert_non_null(strstr(json_string_value(json_object_get(st, "error")),
	    "No space left on device"));
	assert_true(json_is_string(json_object_get(st, "since")));
	json_decref(st);

	/* Two commits that raise nothing keep IV-13's pending events, in order. */
	for (i = 0; i < 2; i++) {
		outbox = unchanged_commit(fx, &j);
		assert_int_equal(json_array_size(outbox), 2);
		assert_int_equal(event_id(json_array_get(outbox, 0)), 3);
		assert_int_equal(event_id(json_array_get(outbox, 1)), 5);
		json_decref(outbox);
	}
	assert_int_equal(journal_retry(&j, err, sizeof(err)), -1);
	assert_int_equal(lines_in(fx->path), 2);

	/* Space is back: one retry writes all three, once each, in order. */
	close(j.fd);
	j.fd = -1;
	if (journal_retry(&j, err, sizeof(err)) != 0)
		fail_msg("journal_retry: %s", err);
	assert_int_equal(journal_pending(&j), 0);
	assert_int_equal(j.synced_id, 5);
	st = journal_status(&j);
	assert_string_equal(json_string_value(json_object_get(st, "state")), "ok");
	assert_int_equal(json_integer_value(json_object_get(st, "pending")), 0);
	json_decref(st);
	outbox = unchanged_commit(fx, &j);
	assert_int_equal(json_array_size(outbox), 0);
	json_decref(outbox);
	journal_close(&j);
	assert_int_equal(lines_in(fx->path), 5);
	open_ok(&j, fx);
	assert_ids(&j, 1, 5);
	assert_string_equal(event_treaty(j.v[3]), "XXI-10");
	journal_close(&j);
}

/* Memory also holds events not yet on disk: it covers a reader only as far as the file
 * goes, so a reader behind the file's start reads the file, never skips. */
static void
test_memory_with_pending_events(void **state)
{
	struct helpers_dir *fx = *state;
	struct journal j;

	open_ok(&j, fx);
	assert_int_equal(append_of(&j, "IV-13", 1, 10), 0);
	close(j.fd);
	assert_true((j.fd = open("/dev/full", O_WRONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(append_of(&j, "IV-13", 11, JOURNAL_MEM), -1);
	/* Memory now holds only pending events: ids 1-10 are in the file alone. */
	assert_int_equal(event_id(j.v[0]), 11);
	assert_false(journal_in_memory(&j, 5));
	assert_true(journal_in_memory(&j, 10));
	journal_close(&j);
}

/* Every test runs in a fresh fixture. */
#define FX(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX(test_empty_dir),
		FX(test_append_and_reopen),
		FX(test_after_with_gaps),
		FX(test_torn_last_line),
		FX(test_invalid_lines_in_the_middle),
		FX(test_ids_out_of_order),
		FX(test_bump_keeps_ids_from_coming_back),
		FX(test_memory_keeps_the_latest),
		FX(test_compaction),
		FX(test_disk_full_keeps_events_pending),
		FX(test_memory_with_pending_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
