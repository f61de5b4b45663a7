/* The durable event journal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "journal.h"
#include "log.h"
#include "state.h"

static int
journal_keep(struct journal *j, json_t *ev)
{
	json_t **v;

	if (j->n == JOURNAL_MEM) {
		json_decref(j->v[0]);
		memmove(j->v, j->v + 1, (j->n - 1) * sizeof(*j->v));
		j->n--;
	}
	if ((v = realloc(j->v, (j->n + 1) * sizeof(*v))) == NULL)
		return -1;
	j->v = v;
	j->v[j->n++] = json_incref(ev);
	if (event_id(ev) > j->last_id)
		j->last_id = event_id(ev);
	return 0;
}

/* Reads every valid line into all (oldest first); returns how many were unusable. */
static size_t
journal_parse(struct journal *j, char *text, size_t len, json_t ***all, size_t *nall)
{
	char *p = text, *end = text + len, *nl;
	size_t bad = 0, lineno = 0;
	json_t *ev, **v;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		lineno++;
		if (nl == NULL) {
			/* A write cut short by a crash: its event is still in an outbox. */
			log_warn("journal: line %zu is incomplete (a write was interrupted); dropped",
			    lineno);
			bad++;
			break;
		}
		ev = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, NULL);
		if (ev == NULL || event_check(ev) < 0 || event_id(ev) <= j->last_id) {
			log_warn("journal: line %zu is not a valid event in order; dropped", lineno);
			json_decref(ev);
			bad++;
		} else if ((v = realloc(*all, (*nall + 1) * sizeof(*v))) == NULL) {
			json_decref(ev);
			bad++;
		} else {
			*all = v;
			(*all)[(*nall)++] = ev;
			j->last_id = event_id(ev);
		}
		p = nl + 1;
	}
	return bad;
}

/* Keeps the file's last JOURNAL_KEEP lines, atomically. */
static int
journal_compact(struct journal *j, char *err, size_t errlen)
{
	char path[4096], why[512], *text, *p, *start;
	size_t len, nl = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", j->dir, JOURNAL_NAME);
	if (atomicfile_read(path, JOURNAL_MAX_FILE, &text, &len, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "journal: %s", why);
		return -1;
	}
	/* Every line ends with a newline: the tail to keep starts after the newline that
	 * ends the line before the last JOURNAL_KEEP. */
	for (start = text, p = text + len; p > text; p--)
		if (p[-1] == '\n' && ++nl == JOURNAL_KEEP + 1) {
			start = p;
			break;
		}
	rc = atomicfile_write_mode(j->dir, JOURNAL_NAME, start, len - (size_t)(start - text),
	    0640, err, errlen);
	free(text);
	if (rc == 0)
		j->file_lines = nl > JOURNAL_KEEP ? JOURNAL_KEEP : nl;
	return rc;
}

/* Writes the given events as the whole journal, atomically (salvage at start-up). */
static int
journal_rewrite(struct journal *j, json_t *const *v, size_t n, char *err, size_t errlen)
{
	size_t i, len = 0, cap = 0;
	char *buf = NULL, *line, *nb;
	int rc;

	for (i = 0; i < n; i++) {
		if ((line = json_dumps(v[i], JSON_COMPACT)) == NULL)
			goto nomem;
		size_t ll = strlen(line);

		if (len + ll + 1 > cap) {
			cap = (len + ll + 1) * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(line);
				goto nomem;
			}
			buf = nb;
		}
		memcpy(buf + len, line, ll);
		buf[len + ll] = '\n';
		len += ll + 1;
		free(line);
	}
	rc = atomicfile_write_mode(j->dir, JOURNAL_NAME, buf ? buf : "", len, 0640, err,
	    errlen);
	free(buf);
	if (rc == 0)
		j->file_lines = n;
	return rc;
nomem:
	free(buf);
	snprintf(err, errlen, "journal: out of memory");
	return -1;
}

static int
journal_reopen(struct journal *j, char *err, size_t errlen)
{
	char path[4096];

	if (j->fd >= 0)
		close(j->fd);
	snprintf(path, sizeof(path), "%s/%s", j->dir, JOURNAL_NAME);
	if ((j->fd = atomicfile_open(path, O_WRONLY | O_APPEND | O_CREAT, 0640, err, errlen)) < 0)
		return -1;
	return 0;
}

int
journal_open(struct journal *j, const char *dir, char *err, size_t errlen)
{
	char path[4096], aside[4200], why[512];
	char *text;
	size_t len, bad, nall = 0, i, first;
	json_t **all = NULL;
	int rc = 0;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	if ((j->dir = strdup(dir)) == NULL || (j->backlog = json_array()) == NULL) {
		snprintf(err, errlen, "journal: out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_NAME);
	if (atomicfile_read(path, JOURNAL_MAX_FILE, &text, &len, why, sizeof(why)) < 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "journal: %s", why);
			return -1;
		}
		return journal_reopen(j, err, errlen);
	}
	bad = journal_parse(j, text, len, &all, &nall);
	free(text);
	j->file_lines = nall;
	for (i = nall > JOURNAL_MEM ? nall - JOURNAL_MEM : 0; i < nall; i++)
		journal_keep(j, all[i]);
	if (bad > 0) {
		/* Keep the damaged file for inspection; carry on with what was readable. */
		atomicfile_aside_name(path, aside, sizeof(aside));
		if (link(path, aside) == 0)
			log_err("journal: %zu unusable lines in %s; the original is kept as %s",
			    bad, path, aside);
		else
			log_err("journal: %zu unusable lines in %s; could not keep a copy as %s: %s",
			    bad, path, aside, strerror(errno));
		first = nall > JOURNAL_KEEP ? nall - JOURNAL_KEEP : 0;
		rc = journal_rewrite(j, all + first, nall - first, err, errlen);
	}
	for (i = 0; i < nall; i++)
		json_decref(all[i]);
	free(all);
	if (rc < 0)
		return -1;
	j->synced_id = j->last_id;
	log_info("journal: %zu events, last id %llu", j->n, (unsigned long long)j->last_id);
	return journal_reopen(j, err, errlen);
}

void
journal_close(struct journal *j)
{
	size_t i;

	if (j->fd >= 0)
		close(j->fd);
	for (i = 0; i < j->n; i++)
		json_decref(j->v[i]);
	free(j->v);
	json_decref(j->backlog);
	free(j->error);
	free(j->dir);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
}

void
journal_bump(struct journal *j, uint64_t id)
{
	if (id > j->last_id)
		j->last_id = id;
}

size_t
journal_after(const struct journal *j, uint64_t since)
{
	size_t lo = 0, hi = j->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (event_id(j->v[mid]) <= since)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Remembers why the backlog could not be written, for status. */
static void
journal_failed(struct journal *j, const char *why)
{
	char *copy = strdup(why);

	if (copy != NULL) {
		free(j->error);
		j->error = copy;
	}
	if (j->failing_since == 0)
		j->failing_since = time(NULL);
}

/* Writes the backlog, then fsyncs. A failure leaves the file as it was: a half-written
 * line would later glue itself to the retried one and lose both. */
static int
journal_flush(struct journal *j, char *err, size_t errlen)
{
	json_t *ev;
	size_t i, written = 0;
	off_t end;
	char *line;
	int rc = 0;

	if (j->fd < 0 && journal_reopen(j, err, errlen) < 0) {
		journal_failed(j, err);
		return -1;
	}
	if ((end = lseek(j->fd, 0, SEEK_END)) < 0) {
		snprintf(err, errlen, "journal: lseek: %s", strerror(errno));
		journal_failed(j, err);
		return -1;
	}
	json_array_foreach(j->backlog, i, ev) {
		if ((line = json_dumps(ev, JSON_COMPACT)) == NULL) {
			rc = -1;
			break;
		}
		size_t ll = strlen(line);

		line[ll] = '\n';   /* json_dumps leaves the NUL's byte ours to use */
		rc = atomicfile_write_all(j->fd, line, ll + 1);
		free(line);
		if (rc < 0)
			break;
		written++;
	}
	if (rc == 0 && fsync(j->fd) < 0)
		rc = -1;
	if (rc < 0) {
		snprintf(err, errlen, "journal: cannot write to %s/%s: %s", j->dir, JOURNAL_NAME,
		    strerror(errno));
		if (ftruncate(j->fd, end) < 0)
			log_err("journal: cannot cut back a failed write: %s", strerror(errno));
		journal_failed(j, err);
		return -1;
	}
	if (written > 0)
		j->synced_id = event_id(json_array_get(j->backlog, written - 1));
	json_array_clear(j->backlog);
	j->file_lines += written;
	free(j->error);
	j->error = NULL;
	j->failing_since = 0;
	return 0;
}

int
journal_append(struct journal *j, const struct event_list *l, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		json_array_append(j->backlog, l->v[i]);
		journal_keep(j, l->v[i]);
	}
	if (journal_flush(j, err, errlen) < 0)
		return -1;
	if (j->file_lines > 2 * JOURNAL_KEEP &&
	    (journal_compact(j, err, errlen) < 0 || journal_reopen(j, err, errlen) < 0))
		return -1;
	return 0;
}

int
journal_retry(struct journal *j, char *err, size_t errlen)
{
	struct event_list none = { 0 };

	return journal_append(j, &none, err, errlen);
}

size_t
journal_pending(const struct journal *j)
{
	return json_array_size(j->backlog);
}

int
journal_unsynced(const struct journal *j, const char *treaty, json_t *out)
{
	json_t *ev;
	size_t i;

	json_array_foreach(j->backlog, i, ev)
		if (strcmp(event_treaty(ev), treaty) == 0 && json_array_append(out, ev) < 0)
			return -1;
	return 0;
}

json_t *
journal_status(const struct journal *j)
{
	bool failing = journal_pending(j) > 0;

	return json_pack("{s:s, s:I, s:o, s:o}", "state", failing ? "failing" : "ok",
	    "pending", (json_int_t)journal_pending(j),
	    "error", failing ? text_json(j->error) : json_null(),
	    "since", time_json(failing ? j->failing_since : 0));
}

bool
journal_in_memory(const struct journal *j, uint64_t since)
{
	/* Memory holds a suffix of the file: it covers since when it starts at or before
	 * the first id after it (or when nothing after since was ever journaled). */
	return since >= j->synced_id || (j->n > 0 && event_id(j->v[0]) <= since + 1) ||
	    j->file_lines <= journal_after(j, j->synced_id);
}

int
journal_scan(struct journal *j, uint64_t since, bool (*fn)(void *arg, json_t *ev), void *arg)
{
	char path[4096], why[512], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	json_t *ev;
	FILE *f;
	bool more = true;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", j->dir, JOURNAL_NAME);
	if ((fd = atomicfile_open(path, O_RDONLY, 0, why, sizeof(why))) < 0 ||
	    (f = fdopen(fd, "r")) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (more && (n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n')
			break;   /* a line still being written */
		ev = json_loadb(line, (size_t)n - 1, JSON_REJECT_DUPLICATES, NULL);
		if (ev != NULL && event_check(ev) == 0 && event_id(ev) > since &&
		    event_id(ev) <= j->synced_id)
			more = fn(arg, ev);
		json_decref(ev);
	}
	free(line);
	fclose(f);
	return 0;
}
