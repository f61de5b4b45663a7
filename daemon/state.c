/* Durable per-treaty state files. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

int
state_write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
state_write_atomic(const char *dir, const char *name, const void *data, size_t len,
    char *err, size_t errlen)
{
	return state_write_atomic_mode(dir, name, data, len, 0600, err, errlen);
}

/* 62 letters and digits: a name nobody can guess ahead of the write. */
static void
state_tmp_suffix(char out[STATE_TMP_RANDOM + 1], int attempt)
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[STATE_TMP_RANDOM];
	struct timespec ts;
	uint64_t x;
	size_t i;

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		/* No entropy yet (early boot): O_EXCL still keeps the create safe. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uint64_t)getpid() << 16 ^
		    ((uint64_t)attempt | 1);
		for (i = 0; i < sizeof(r); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			r[i] = (unsigned char)(x >> 24);
		}
	}
	for (i = 0; i < STATE_TMP_RANDOM; i++)
		out[i] = set[r[i] % (sizeof(set) - 1)];
	out[STATE_TMP_RANDOM] = '\0';
}

/* Creates dir/.NAME.tmp-RANDOM as a new file: O_EXCL never opens what is there already,
 * a symbolic link included, so nothing planted at a guessable name is written through. */
static int
state_tmp_create(int dfd, const char *name, mode_t mode, char *tmp, size_t tmplen)
{
	char suffix[STATE_TMP_RANDOM + 1];
	int fd, tries;

	for (tries = 0; tries < 100; tries++) {
		state_tmp_suffix(suffix, tries);
		if ((size_t)snprintf(tmp, tmplen, ".%s" STATE_TMP_TAG "%s", name, suffix) >= tmplen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* Writes, sets the mode on the descriptor created (never on a path) and syncs. */
static int
state_tmp_fill(int dfd, const char *tmp, int fd, const void *data, size_t len, mode_t mode,
    const char *dir, char *err, size_t errlen)
{
	int saved;

	/* The umask must not narrow a file meant for others to read. */
	if (fchmod(fd, mode) == 0 && state_write_all(fd, data, len) == 0 && fsync(fd) == 0) {
		if (close(fd) == 0)
			return 0;
		fd = -1;
	}
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	snprintf(err, errlen, "cannot write %s/%s: %s", dir, tmp, strerror(saved));
	return -1;
}

/* A temporary file is created with a random name by O_CREAT|O_EXCL|O_NOFOLLOW in the
 * target directory, not by O_TMPFILE: O_TMPFILE needs filesystem support (not on every
 * NFS or older overlay) and linkat() of it cannot replace the old file, so a named
 * temporary and rename() would be needed anyway. rename() replaces a symbolic link at
 * the final name rather than following it. */
int
state_write_atomic_mode(const char *dir, const char *name, const void *data, size_t len,
    mode_t mode, char *err, size_t errlen)
{
	char tmp[NAME_MAX + 1];
	int fd, dfd, saved;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot open directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if ((fd = state_tmp_create(dfd, name, mode, tmp, sizeof(tmp))) < 0) {
		saved = errno;
		close(dfd);
		snprintf(err, errlen, "cannot create a temporary for %s/%s: %s", dir, name,
		    strerror(saved));
		return -1;
	}
	if (state_tmp_fill(dfd, tmp, fd, data, len, mode, dir, err, errlen) < 0) {
		close(dfd);
		return -1;
	}
	if (renameat(dfd, tmp, dfd, name) < 0) {
		saved = errno;
		unlinkat(dfd, tmp, 0);
		close(dfd);
		snprintf(err, errlen, "cannot replace %s/%s: %s", dir, name, strerror(saved));
		return -1;
	}
	/* The rename is durable only once the directory entry is on disk. */
	if (fsync(dfd) < 0) {
		saved = errno;
		close(dfd);
		snprintf(err, errlen, "cannot sync directory %s: %s", dir, strerror(saved));
		return -1;
	}
	close(dfd);
	return 0;
}

/* Whether entry is a temporary of state_write_atomic_mode: ".NAME.tmp-RANDOM", or
 * ".NAME.tmp" as versions before random names left it; of name only, unless NULL. */
static bool
state_is_temp(const char *entry, const char *name)
{
	size_t n = strlen(entry), tag = strlen(STATE_TMP_TAG), i;
	const char *end;

	if (entry[0] != '.')
		return false;
	if (n > 5 && strcmp(entry + n - 4, ".tmp") == 0)
		end = entry + n - 4;
	else if (n > tag + STATE_TMP_RANDOM + 1 &&
	    strncmp(entry + n - STATE_TMP_RANDOM - tag, STATE_TMP_TAG, tag) == 0) {
		for (i = n - STATE_TMP_RANDOM; i < n; i++)
			if (!isalnum((unsigned char)entry[i]))
				return false;
		end = entry + n - STATE_TMP_RANDOM - tag;
	} else
		return false;
	if (name == NULL)
		return end > entry + 1;
	return (size_t)(end - entry - 1) == strlen(name) && strncmp(entry + 1, name,
	    strlen(name)) == 0;
}

int
state_clean_temps(const char *dir, const char *name)
{
	struct dirent *de;
	DIR *d;
	int dfd, removed = 0;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 0;
	}
	/* unlinkat() removes a link itself, never what it points to; a directory of
	 * that name fails and stays. */
	while ((de = readdir(d)) != NULL)
		if (state_is_temp(de->d_name, name) && unlinkat(dfd, de->d_name, 0) == 0)
			removed++;
	closedir(d);
	return removed;
}

int
state_check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "%s belongs to uid %ld, not to ratd's user (uid %ld) or root: "
		    "its owner could plant links that ratd would write through; "
		    "chown it to ratd's user", dir, (long)st.st_uid, (long)geteuid());
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s is writable by %s (mode %04o): other users could plant links "
		    "that ratd would write through; run chmod go-w %s", dir,
		    (st.st_mode & S_IWOTH) ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777), dir);
		return -1;
	}
	return 0;
}

int
state_open(const char *path, int flags, mode_t mode, char *err, size_t errlen)
{
	struct stat st;
	int fd, saved;

	/* O_NONBLOCK: a FIFO planted there must not hang the open; cleared after. */
	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, mode);
	if (fd < 0) {
		saved = errno;
		snprintf(err, errlen, "cannot open %s: %s%s", path, strerror(saved),
		    saved == ELOOP ? " (a symbolic link: ratd never follows one here; remove it)" :
		    "");
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		close(fd);
		snprintf(err, errlen, "%s is not a regular file; remove it", path);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static int
state_read_flags(const char *path, int flags, size_t max, char **out, size_t *len, char *err,
    size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, saved;

	/* O_NONBLOCK: a FIFO must not hang the open (regular files ignore the flag). */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags)) < 0) {
		saved = errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		close(fd);
		snprintf(err, errlen, "%s: not a regular file of at most %zu bytes", path, max);
		errno = EFBIG;
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		errno = ENOMEM;
		return -1;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	saved = errno;
	close(fd);
	if (got != (size_t)st.st_size) {
		free(buf);
		snprintf(err, errlen, "%s: short read: %s", path, strerror(saved));
		errno = EIO;
		return -1;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int
state_read_file(const char *path, size_t max, char **out, size_t *len, char *err,
    size_t errlen)
{
	return state_read_flags(path, O_NOFOLLOW, max, out, len, err, errlen);
}

int
state_read_linked(const char *path, size_t max, char **out, size_t *len, char *err,
    size_t errlen)
{
	return state_read_flags(path, 0, max, out, len, err, errlen);
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

int
state_save(const char *dir, const char *id, const struct snapshot *snap,
    const struct source_meta *m, const json_t *outbox, char *err, size_t errlen)
{
	char name[256];
	json_t *root;
	char *text;
	int rc;

	root = json_pack("{s:i, s:s, s:o, s:o, s:o}", "version", STATE_VERSION, "treaty", id,
	    "source", state_meta_json(m),
	    "snapshot", snap ? snapshot_to_json(snap) : json_null(),
	    "outbox", outbox ? json_incref((json_t *)outbox) : json_array());
	if (root == NULL || (text = json_dumps(root, JSON_COMPACT)) == NULL) {
		json_decref(root);
		snprintf(err, errlen, "%s: cannot encode state", id);
		return -1;
	}
	json_decref(root);
	snprintf(name, sizeof(name), "%s.json", id);
	rc = state_write_atomic(dir, name, text, strlen(text), err, errlen);
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

void
state_aside_name(const char *path, char *out, size_t len)
{
	char stamp[DATE_TIME_LEN];

	/* The pid keeps two copies made in the same second by a restart loop apart. */
	snprintf(out, len, "%s.corrupt-%s-%ld", path, date_format_time(time(NULL), stamp),
	    (long)getpid());
}

int
state_peek(const char *dir, const char *id, struct snapshot **snap, char *err, size_t errlen)
{
	struct source_meta m;
	json_t *outbox = NULL;
	char path[4096];
	char *text;
	size_t len;
	int rc;

	*snap = NULL;
	snprintf(path, sizeof(path), "%s/%s.json", dir, id);
	if (state_read_file(path, STATE_MAX_FILE, &text, &len, err, errlen) < 0)
		return errno == ENOENT ? 0 : -1;
	memset(&m, 0, sizeof(m));
	rc = state_parse(text, len, id, snap, &m, &outbox, err, errlen);
	free(text);
	source_meta_clear(&m);
	json_decref(outbox);
	return rc == 0 ? 1 : -1;
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
	if (state_read_file(path, STATE_MAX_FILE, &text, &len, why, sizeof(why)) < 0) {
		if (errno == ENOENT)
			return 0;
	} else {
		int rc = state_parse(text, len, id, snap, m, outbox, why, sizeof(why));

		free(text);
		if (rc == 0)
			return 1;
	}
	/* Never discard a state file silently: keep it for the administrator to inspect. */
	state_aside_name(path, aside, sizeof(aside));
	if (rename(path, aside) == 0)
		snprintf(err, errlen, "%s: %s; moved aside to %s", path, why, aside);
	else
		snprintf(err, errlen, "%s: %s; could not move it aside: %s", path, why,
		    strerror(errno));
	return -1;
}
