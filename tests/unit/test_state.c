/* Per-treaty state files: atomic replacement, a faithful round trip of everything ratd
 * remembers, and a damaged file set aside rather than lost. Each test works in its own
 * mkdtemp directory. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "atomicfile.h"
#include "event.h"
#include "fetch.h"
#include "helpers.h"
#include "journal.h"
#include "state.h"
#include "untc.h"

static char err[1024];

static int
setup(void **state)
{
	return (*state = helpers_dir_new("IV-13.json")) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	helpers_dir_free(*state);
	return 0;
}

static void
put(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Entries of dir other than . and ..; the last one's path into found. */
static int
entries(const char *dir, char *found, size_t len)
{
	return helpers_entries(dir, NULL, found, len);
}

static struct snapshot *
iv13_page(void)
{
	char why[256] = "";
	struct snapshot *s;
	size_t len;
	char *buf = helpers_read_file(FIXTURES "/IV-13.2003-03-14.html", &len);

	s = untc_parse(buf, len, UNTC_AUTO, why, sizeof(why));
	free(buf);
	if (s == NULL)
		fail_msg("IV-13.2003-03-14.html: %s", why);
	return s;
}

static time_t
at(int y, int mo, int d, int h)
{
	return (time_t)date_from_ymd(y, mo, d) * 86400 + h * 3600;
}

static void
test_write_atomic(void **state)
{
	static const char data[] = "line one\n\0binary\xff\n";
	struct helpers_dir *fx = *state;
	char path[512], found[512], *back;
	size_t len;

	snprintf(path, sizeof(path), "%s/blob", fx->dir);
	assert_int_equal(atomicfile_write(fx->dir, "blob", data, sizeof(data), err,
	    sizeof(err)), 0);
	back = helpers_read_file(path, &len);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(back, data, sizeof(data));
	free(back);
	assert_int_equal(entries(fx->dir, found, sizeof(found)), 1);
	assert_string_equal(found, path);

	/* Replacing with less leaves nothing of the old content. */
	assert_int_equal(atomicfile_write(fx->dir, "blob", "ok", 2, err, sizeof(err)), 0);
	back = helpers_read_file(path, &len);
	assert_int_equal(len, 2);
	assert_memory_equal(back, "ok", 2);
	free(back);
	assert_int_equal(atomicfile_write(fx->dir, "blob", "", 0, err, sizeof(err)), 0);
	back = helpers_read_file(path, &len);
	assert_int_equal(len, 0);
	free(back);
	assert_int_equal(entries(fx->dir, NULL, 0), 1);

	/* A directory that does not exist: an error that names it, and no file. */
	snprintf(path, sizeof(path), "%s/missing", fx->dir);
	err[0] = '\0';
	assert_int_equal(atomicfile_write(path, "blob", "x", 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_int_equal(entries(fx->dir, NULL, 0), 1);
}

static void
test_read_file_bounds(void **state)
{
	struct helpers_dir *fx = *state;
	char path[512], *text;
	size_t len;

	snprintf(path, sizeof(path), "%s/ten", fx->dir);
	put(path, "0123456789", 10);
	assert_int_equal(atomicfile_read(path, 10, &text, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 10);
	assert_string_equal(text, "0123456789");
	free(text);

	errno = 0;
	err[0] = '\0';
	assert_int_equal(atomicfile_read(path, 9, &text, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, EFBIG);
	assert_non_null(strstr(err, path));

	snprintf(path, sizeof(path), "%s/absent", fx->dir);
	assert_int_equal(atomicfile_read(path, 10, &text, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);

	/* A directory is not a state file. */
	assert_int_equal(atomicfile_read(fx->dir, 1 << 20, &text, &len, err, sizeof(err)), -1);
}

static json_t *
outbox_of_two(void)
{
	struct event_list l = { 0 };
	uint64_t next = 7;
	json_t *a = json_array();

	assert_int_equal(event_add(&l, at(2003, 3, 14, 9), EV_NEW_PARTY, "IV-13",
	    json_pack("{s:s, s:s, s:s, s:i, s:i}", "participant", "Guatemala", "date",
	    "2003-03-14", "kind", "ratification", "parties", 21, "remaining", 0),
	    "IV-13: Guatemala ratified"), 0);
	assert_int_equal(event_add(&l, at(2003, 3, 14, 9), EV_SOURCE_ANOMALY, "IV-13",
	    json_pack("{s:s}", "reason", "participants table is empty"), "IV-13: odd page"), 0);
	event_list_number(&l, &next);
	json_array_append(a, l.v[0]);
	json_array_append(a, l.v[1]);
	event_list_clear(&l);
	return a;
}

static void
test_round_trip(void **state)
{
	struct helpers_dir *fx = *state;
	struct snapshot *snap = iv13_page(), *back;
	struct source_meta m = { 0 }, got;
	json_t *outbox = outbox_of_two(), *gotbox;

	assert_int_equal(state_set_str(&m.etag, "\"5f2a-61c8\""), 0);
	assert_int_equal(state_set_str(&m.last_modified, "Fri, 14 Mar 2003 09:00:44 GMT"), 0);
	assert_int_equal(state_set_str(&m.error, "HTTP 503 from treaties.un.org"), 0);
	m.last_attempt = at(2003, 3, 14, 12);
	m.last_success = at(2003, 3, 14, 6);
	m.last_change = at(2003, 3, 14, 0);
	m.failing_since = at(2003, 3, 14, 7);
	m.consecutive_failures = 4;
	m.pending_hash = 0xfedcba9876543210ULL;
	m.pending_count = 2;
	m.failing_alerted = true;
	m.eif_announced = true;
	m.anomalies = json_pack("[s, s]", "participants table is empty", "no participants table");
	m.discrepancies = json_pack("[s]", "the page states 22 parties, its table lists 21");

	assert_int_equal(state_save(fx->dir, "IV-13", snap, &m, outbox, err, sizeof(err)), 0);
	assert_int_equal(entries(fx->dir, NULL, 0), 1);
	if (state_load(fx->dir, "IV-13", &back, &got, &gotbox, err, sizeof(err)) != 1)
		fail_msg("state_load: %s", err);

	assert_non_null(back);
	assert_true(snapshot_same_table(back, snap));
	assert_int_equal(back->n, snap->n);
	assert_int_equal(back->stated_parties, 21);
	assert_int_equal(back->stated_signatories, snap->stated_signatories);
	assert_int_equal(back->stated_eif_date, snap->stated_eif_date);
	assert_string_equal(back->status_as_at, snap->status_as_at);

	assert_string_equal(got.etag, "\"5f2a-61c8\"");
	assert_string_equal(got.last_modified, "Fri, 14 Mar 2003 09:00:44 GMT");
	assert_string_equal(got.error, "HTTP 503 from treaties.un.org");
	assert_int_equal(got.last_attempt, at(2003, 3, 14, 12));
	assert_int_equal(got.last_success, at(2003, 3, 14, 6));
	assert_int_equal(got.last_change, at(2003, 3, 14, 0));
	assert_int_equal(got.failing_since, at(2003, 3, 14, 7));
	assert_int_equal(got.consecutive_failures, 4);
	assert_true(got.pending_hash == 0xfedcba9876543210ULL);
	assert_int_equal(got.pending_count, 2);
	assert_true(got.failing_alerted);
	assert_true(got.eif_announced);
	assert_true(json_equal(got.anomalies, m.anomalies));
	assert_true(json_equal(got.discrepancies, m.discrepancies));

	assert_true(json_equal(gotbox, outbox));
	assert_int_equal(event_id(json_array_get(gotbox, 0)), 7);
	assert_int_equal(event_id(json_array_get(gotbox, 1)), 8);

	snapshot_free(back);
	source_meta_clear(&got);
	json_decref(gotbox);
	snapshot_free(snap);
	source_meta_clear(&m);
	assert_null(m.etag);
	assert_null(m.anomalies);
	assert_null(m.discrepancies);
	json_decref(outbox);
}

static void
test_round_trip_of_nothing(void **state)
{
	struct helpers_dir *fx = *state;
	struct source_meta m = { 0 }, got;
	struct snapshot *back;
	json_t *gotbox;

	assert_int_equal(state_save(fx->dir, "IV-13", NULL, &m, NULL, err, sizeof(err)), 0);
	assert_int_equal(state_load(fx->dir, "IV-13", &back, &got, &gotbox, err, sizeof(err)), 1);
	assert_null(back);
	assert_null(got.etag);
	assert_null(got.last_modified);
	assert_null(got.error);
	assert_int_equal(got.last_attempt, 0);
	assert_int_equal(got.last_success, 0);
	assert_int_equal(got.last_change, 0);
	assert_int_equal(got.failing_since, 0);
	assert_int_equal(got.consecutive_failures, 0);
	assert_true(got.pending_hash == 0);
	assert_int_equal(got.pending_count, 0);
	assert_false(got.failing_alerted);
	assert_false(got.eif_announced);
	assert_int_equal(json_array_size(got.anomalies), 0);
	assert_int_equal(json_array_size(got.discrepancies), 0);
	assert_true(json_is_array(gotbox));
	assert_int_equal(json_array_size(gotbox), 0);
	source_meta_clear(&got);
	json_decref(gotbox);
}

static void
test_missing_file(void **state)
{
	struct helpers_dir *fx = *state;
	struct source_meta got;
	/* Whatever the outputs held before, a missing file leaves them empty. */
	struct snapshot *old = snapshot_new(), *back = old;
	json_t *oldbox = json_array(), *gotbox = oldbox;

	assert_int_equal(state_load(fx->dir, "IV-13", &back, &got, &gotbox, err, sizeof(err)), 0);
	assert_null(back);
	assert_null(gotbox);
	assert_null(got.etag);
	assert_null(got.anomalies);
	assert_int_equal(got.pending_count, 0);
	assert_int_equal(entries(fx->dir, NULL, 0), 0);
	snapshot_free(old);
	json_decref(oldbox);
}

/* Writes bytes as IV-13.json, loads it, and checks it is refused and set aside intact. */
static void
assert_set_aside(const struct helpers_dir *fx, const char *bytes, size_t len, const char *what)
{
	char aside[512], prefix[256], *kept;
	struct source_meta got;
	struct snapshot *back;
	json_t *gotbox;
	size_t klen;

	put(fx->path, bytes, len);
	err[0] = '\0';
	if (state_load(fx->dir, "IV-13", &back, &got, &gotbox, err, sizeof(err)) != -1)
		fail_msg("%s: loaded", what);
	assert_null(back);
	assert_null(gotbox);
	assert_null(got.etag);
	assert_null(got.anomalies);
	assert_non_null(strstr(err, "moved aside"));
	assert_int_equal(access(fx->path, F_OK), -1);
	assert_int_equal(entries(fx->dir, aside, sizeof(aside)), 1);
	snprintf(prefix, sizeof(prefix), "%s.corrupt-", fx->path);
	assert_int_equal(strncmp(aside, prefix, strlen(prefix)), 0);
	assert_non_null(strstr(err, aside));
	kept = helpers_read_file(aside, &klen);
	assert_int_equal(klen, len);
	assert_memory_equal(kept, bytes, len);
	free(kept);
	/* Clear the way for the next case: the aside name has a one-second stamp. */
	assert_int_equal(unlink(aside), 0);
}

/* A valid state file's text with one substring replaced. */
static char *
valid_with(const struct helpers_dir *fx, const char *from, const char *to)
{
	struct snapshot *snap = iv13_page();
	struct source_meta m = { 0 };
	json_t *outbox = outbox_of_two();
	char *text, *hit, *out;
	size_t len;

	assert_int_equal(state_save(fx->dir, "IV-13", snap, &m, outbox, err, sizeof(err)), 0);
	snapshot_free(snap);
	json_decref(outbox);
	text = helpers_read_file(fx->path, &len);
	if ((hit = strstr(text, from)) == NULL)
		fail_msg("no %s in the state file", from);
	assert_non_null(out = malloc(len - strlen(from) + strlen(to) + 1));
	memcpy(out, text, (size_t)(hit - text));
	strcpy(out + (hit - text), to);
	strcat(out, hit + strlen(from));
	free(text);
	return out;
}

static void
test_corrupt_files_are_set_aside(void **state)
{
	static const char garbage[] = "\x7f" "ELF\x02\x01\x01\0\0\0garbage";
	/* Valid files with one edit each, every one of which makes the file unusable. */
	static const struct {
		const char *from, *to, *what;
	} edits[] = {
		{ "\"version\":1", "\"version\":2", "version 2" },
		{ "\"treaty\":\"IV-13\"", "\"treaty\":\"IV-14\"", "another treaty's file" },
		{ "\"participants\":[", "\"participants\":[17,", "an invalid snapshot" },
		{ "\"kind\":\"ratification\"", "\"kind\":\"handshake\"", "an unknown kind" },
		{ "\"type\":\"new-party\"", "\"type\":\"party\"", "an invalid outbox event" },
		{ "\"consecutive_failures\":0", "\"consecutive_failures\":-1",
		    "a negative failure count" },
		{ "\"version\":1", "\"version\":1,\"version\":1", "a duplicate key" },
	};
	struct helpers_dir *fx = *state;
	char *text;
	size_t len, i;

	assert_set_aside(fx, garbage, sizeof(garbage) - 1, "garbage");
	assert_set_aside(fx, "", 0, "an empty file");

	text = valid_with(fx, "", "");
	len = strlen(text);
	assert_set_aside(fx, text, len / 2, "truncated JSON");
	free(text);

	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		text = valid_with(fx, edits[i].from, edits[i].to);
		assert_set_aside(fx, text, strlen(text), edits[i].what);
		free(text);
	}
	assert_int_equal(entries(fx->dir, NULL, 0), 0);
}

/* Files written before "discrepancies" was kept (commit 43faf9f) are still version 1:
 * the key is optional, or every upgrade would set the state aside and re-baseline. */
static void
test_file_without_discrepancies_loads(void **state)
{
	struct helpers_dir *fx = *state;
	struct source_meta got;
	struct snapshot *back;
	json_t *gotbox;
	char *text = valid_with(fx, ",\"discrepancies\":[]", "");

	put(fx->path, text, strlen(text));
	free(text);
	if (state_load(fx->dir, "IV-13", &back, &got, &gotbox, err, sizeof(err)) != 1)
		fail_msg("state_load: %s", err);
	assert_non_null(back);
	assert_int_equal(json_array_size(gotbox), 2);
	assert_int_equal(json_array_size(got.discrepancies), 0);
	snapshot_free(back);
	source_meta_clear(&got);
	json_decref(gotbox);
}

/* Loads the state file with "etag":null replaced by etag and "last_modified":null by
 * lm (JSON text), and returns what the loader kept of them. */
static void
load_validators(const struct helpers_dir *fx, const char *etag, const char *lm, char **got_etag,
    char **got_lm)
{
	char from[64], to[512], *text, *both;
	struct source_meta got;
	struct snapshot *back;
	json_t *gotbox;

	snprintf(to, sizeof(to), "\"etag\":%s", etag);
	text = valid_with(fx, "\"etag\":null", to);
	snprintf(from, sizeof(from), "\"last_modified\":null");
	snprintf(to, sizeof(to), "\"last_modified\":%s", lm);
	assert_non_null(both = malloc(strlen(text) + strlen(to) + 1));
	memcpy(both, text, (size_t)(strstr(text, from) - text));
	strcpy(both + (strstr(text, from) - text), to);
	strcat(both, strstr(text, from) + strlen(from));
	put(fx->path, both, strlen(both));
	free(text);
	free(both);
	if (state_load(fx->dir, "IV-13", &back, &got, &gotbox, err, sizeof(err)) != 1)
		fail_msg("state_load: %s", err);
	/* The validators only: the snapshot and the outbox beside them stay. */
	assert_non_null(back);
	assert_int_equal(json_array_size(gotbox), 2);
	*got_etag = got.etag ? strdup(got.etag) : NULL;
	*got_lm = got.last_modified ? strdup(got.last_modified) : NULL;
	snapshot_free(back);
	source_meta_clear(&got);
	json_decref(gotbox);
}

/* A validator is echoed in a request header and written back as JSON text: one that is
 * not printable ASCII (a file from before the fetch checked them, or edited) is
 * forgotten, so that the next fetch is unconditional, never refused with the state. */
static void
test_stored_validators_not_ascii_are_forgotten(void **state)
{
	static const char *const bad[] = {
		"\"\\\"caf\\u00e9\\\"\"",                   /* é, valid UTF-8 in the file */
		"\"W/\\\"a\\r\\nX-Injected: 1\\\"\"",       /* header splitting */
		"\"\\u0001\"", "\"a\\u007fb\"", "\"\"",
		"\"\\u202e\\\"1\\\"\"",                     /* a bidi override */
	};
	struct helpers_dir *fx = *state;
	char *etag, *lm, longest[FETCH_MAX_VALIDATOR + 8];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_validators(fx, bad[i], bad[i], &etag, &lm);
		if (etag != NULL || lm != NULL)
			fail_msg("validator %s kept as %s / %s", bad[i], etag, lm);
	}
	/* The bound: FETCH_MAX_VALIDATOR bytes are kept, one more is not. */
	longest[0] = '"';
	memset(longest + 1, 'a', FETCH_MAX_VALIDATOR + 1);
	strcpy(longest + 2 + FETCH_MAX_VALIDATOR, "\"");
	load_validators(fx, longest, "\"Mon, 30 Nov 2026 10:00:00 GMT\"", &etag, &lm);
	assert_null(etag);
	assert_string_equal(lm, "Mon, 30 Nov 2026 10:00:00 GMT");
	free(lm);
	strcpy(longest + 1 + FETCH_MAX_VALIDATOR, "\"");
	load_validators(fx, longest, "null", &etag, &lm);
	assert_int_equal(strlen(etag), FETCH_MAX_VALIDATOR);
	assert_null(lm);
	free(etag);
	load_validators(fx, "\"W/\\\"5f2a-61c8\\\"\"", "null", &etag, &lm);
	assert_string_equal(etag, "W/\"5f2a-61c8\"");
	free(etag);
}

/* A file outside the state directory that a planted link points at. */
struct victim {
	char dir[64];
	char path[128];
};

static void
victim_make(struct victim *v, bool exists)
{
	strcpy(v->dir, "/tmp/ratd-test-victim-XXXXXX");
	assert_non_null(mkdtemp(v->dir));
	snprintf(v->path, sizeof(v->path), "%s/victim", v->dir);
	if (exists) {
		put(v->path, "precious\n", 9);
		assert_int_equal(chmod(v->path, 0600), 0);
	}
}

/* The victim as it was: same bytes, same mode (or still absent). */
static void
victim_check(struct victim *v, bool exists, const char *what)
{
	struct stat st;
	char *text;
	size_t len;

	if (!exists) {
		if (lstat(v->path, &st) == 0)
			fail_msg("%s: the link's target was created", what);
	} else {
		assert_int_equal(lstat(v->path, &st), 0);
		if ((st.st_mode & 07777) != 0600)
			fail_msg("%s: the victim's mode became %04o", what, st.st_mode & 07777);
		text = helpers_read_file(v->path, &len);
		if (len != 9 || memcmp(text, "precious\n", 9) != 0)
			fail_msg("%s: the victim was written: %.*s", what, (int)len, text);
		free(text);
	}
	unlink(v->path);
	rmdir(v->dir);
}

/* A link to a victim planted at link_path, then name written with mode 0644: the victim
 * is left as it was. */
static void
write_past_link(const struct helpers_dir *fx, const char *name, const char *link_path,
    const char *what)
{
	struct victim v;

	victim_make(&v, true);
	assert_int_equal(symlink(v.path, link_path), 0);
	if (atomicfile_write_mode(fx->dir, name, "new\n", 4, 0644, err, sizeof(err)) < 0)
		fail_msg("%s: %s", name, err);
	victim_check(&v, true, what);
}

/* Older versions wrote through a fixed ".NAME.tmp" and fchmod-ed it: a link planted
 * there made ratd overwrite and chmod any file. */
static void
test_links_at_temp_and_final_names(void **state)
{
	static const char *const names[] = { "IV-13.json", "alerts.json", "journal.jsonl",
	    "ratd.prom" };
	struct helpers_dir *fx = *state;
	char link_path[512], final[512];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(link_path, sizeof(link_path), "%s/.%s.tmp", fx->dir, names[i]);
		write_past_link(fx, names[i], link_path, "a link at the old temporary name");
		unlink(link_path);

		/* A link at the final name is replaced by the file, not written through. */
		snprintf(final, sizeof(final), "%s/%s", fx->dir, names[i]);
		unlink(final);
		write_past_link(fx, names[i], final, "a link at the final name");
		assert_int_equal(lstat(final, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0644);
		unlink(final);
	}
	assert_int_equal(entries(fx->dir, NULL, 0), 0);
}

/* The journal is appended to in place: a link there is refused, never followed, and a
 * link to a file that does not exist does not create it. */
static void
test_link_at_journal(void **state)
{
	struct helpers_dir *fx = *state;
	struct journal j;
	struct victim v;
	char path[512];
	bool exists;

	for (exists = false; ; exists = true) {
		victim_make(&v, exists);
		snprintf(path, sizeof(path), "%s/%s", fx->dir, JOURNAL_NAME);
		assert_int_equal(symlink(v.path, path), 0);
		err[0] = '\0';
		assert_int_equal(journal_open(&j, fx->dir, err, sizeof(err)), -1);
		journal_close(&j);
		if (strstr(err, path) == NULL || strstr(err, "symbolic link") == NULL)
			fail_msg("the refusal does not name the link: %s", err);
		victim_check(&v, exists, "a link at the journal");
		unlink(path);
		if (exists)
			break;
	}
}

/* The lock file and any file ratd opens in place go through atomicfile_open. */
static void
test_state_open_refuses_links(void **state)
{
	struct helpers_dir *fx = *state;
	struct victim v;
	char path[512];
	int fd;

	victim_make(&v, false);
	snprintf(path, sizeof(path), "%s/ratd.lock", fx->dir);
	assert_int_equal(symlink(v.path, path), 0);
	errno = 0;
	assert_int_equal(atomicfile_open(path, O_RDWR | O_CREAT, 0600, err, sizeof(err)), -1);
	assert_int_equal(errno, ELOOP);
	assert_non_null(strstr(err, "symbolic link"));
	victim_check(&v, false, "a dangling link at the lock file");
	unlink(path);

	/* A FIFO there neither blocks the open nor passes for a file. */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(atomicfile_open(path, O_WRONLY | O_APPEND | O_CREAT, 0640, err,
	    sizeof(err)), -1);
	unlink(path);

	assert_true((fd = atomicfile_open(path, O_RDWR | O_CREAT, 0600, err, sizeof(err))) >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

static void
test_read_file_refuses_links(void **state)
{
	struct helpers_dir *fx = *state;
	char path[512], *text;
	struct victim v;
	size_t len;

	victim_make(&v, true);
	snprintf(path, sizeof(path), "%s/alerts.json", fx->dir);
	assert_int_equal(symlink(v.path, path), 0);
	errno = 0;
	assert_int_equal(atomicfile_read(path, 1 << 20, &text, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, ELOOP);
	/* Seeds are the administrator's: a packaged link to one is followed. */
	assert_int_equal(atomicfile_read_linked(path, 1 << 20, &text, &len, err, sizeof(err)), 0);
	assert_string_equal(text, "precious\n");
	free(text);
	unlink(path);
	victim_check(&v, true, "a link read as a state file");

	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(atomicfile_read(path, 1 << 20, &text, &len, err, sizeof(err)), -1);
	unlink(path);
}

static void
test_unsafe_directories_refused(void **state)
{
	static const struct { mode_t mode; bool ok; } cases[] = {
		{ 0700, true }, { 0750, true }, { 0755, true },
		{ 0775, false }, { 0770, false }, { 0777, false }, { 0757, false },
		{ 01777, false },
	};
	struct helpers_dir *fx = *state;
	char sub[512], link_path[512];
	size_t i;

	snprintf(sub, sizeof(sub), "%s/state", fx->dir);
	snprintf(link_path, sizeof(link_path), "%s/link", fx->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(symlink(sub, link_path), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(chmod(sub, cases[i].mode), 0);
		err[0] = '\0';
		if ((atomicfile_check_dir(sub, err, sizeof(err)) == 0) != cases[i].ok)
			fail_msg("mode %04o: %s", cases[i].mode, cases[i].ok ? err : "accepted");
		/* A link to the directory is judged by the directory. */
		if ((atomicfile_check_dir(link_path, err, sizeof(err)) == 0) != cases[i].ok)
			fail_msg("a link to mode %04o: %s", cases[i].mode, err);
		if (!cases[i].ok && (strstr(err, "chmod go-w") == NULL ||
		    strstr(err, link_path) == NULL))
			fail_msg("mode %04o: the refusal says neither what nor where: %s",
			    cases[i].mode, err);
	}
	assert_int_equal(atomicfile_check_dir(fx->path, err, sizeof(err)), -1);
	unlink(link_path);
	rmdir(sub);
}

/* What a crash left: removed at start, and nothing else. */
static void
test_stale_temporaries_removed(void **state)
{
	static const char *const stale[] = { ".IV-13.json.tmp-Ab3dEf9Z", ".journal.jsonl.tmp",
	    ".alerts.json.tmp-00000000" };
	static const char *const kept[] = { "IV-13.json", ".hidden", ".x.tmp-short",
	    ".x.tmp-toolong12", "x.json.tmp-Ab3dEf9Z", ".tmp", ".x.tmp-Ab3d.f9Z" };
	struct helpers_dir *fx = *state;
	char path[512], link_path[512];
	struct victim v;
	size_t i;

	victim_make(&v, true);
	for (i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fx->dir, stale[i]);
		put(path, "x", 1);
	}
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fx->dir, kept[i]);
		put(path, "x", 1);
	}
	snprintf(link_path, sizeof(link_path), "%s/.ratd.prom.tmp-ZZZZZZZZ", fx->dir);
	assert_int_equal(symlink(v.path, link_path), 0);
	/* Only the textfile's own temporaries when a name is given. */
	assert_int_equal(atomicfile_clean_temps(fx->dir, "ratd.prom"), 1);
	assert_int_equal(atomicfile_clean_temps(fx->dir, "ratd.prom"), 0);
	assert_int_equal(entries(fx->dir, NULL, 0), 10);
	assert_int_equal(atomicfile_clean_temps(fx->dir, NULL), 3);
	assert_int_equal(entries(fx->dir, NULL, 0), 7);
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fx->dir, kept[i]);
		assert_int_equal(access(path, F_OK), 0);
	}
	victim_check(&v, true, "a link among the temporaries");
}

/* Every test runs in a fresh fixture. */
#define FX(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX(test_write_atomic),
		FX(test_read_file_bounds),
		FX(test_round_trip),
		FX(test_round_trip_of_nothing),
		FX(test_missing_file),
		FX(test_corrupt_files_are_set_aside),
		FX(test_file_without_discrepancies_loads),
		FX(test_stored_validators_not_ascii_are_forgotten),
		FX(test_links_at_temp_and_final_names),
		FX(test_link_at_journal),
		FX(test_state_open_refuses_links),
		FX(test_read_file_refuses_links),
		FX(test_unsafe_directories_refused),
		FX(test_stale_temporaries_removed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
