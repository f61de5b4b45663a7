/* The durable event journal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "state.h"

static int
journal_keep(struct journal *j, json_t *ev)
{
	json_t **v;

	if (j->n == JOURNAL_KEEP) {
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

/* Reads every valid line; returns how many lines were unusable. */
static size_t
journal_parse(struct journal *j, char *text, size_t len, size_t *lines)
{
	char *p = text, *end = text + len, *nl;
	size_t bad = 0, lineno = 0;
	json_t *ev;

	*lines = 0;
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
			bad++;
		} else if (journal_keep(j, ev) == 0)
			(*lines)++;
		json_decref(ev);
		p = nl + 1;
	}
	return bad;
}

/* Writes the kept events as the whole journal, atomically. */
static int
journal_rewrite(struct journal *j, char *err, size_t errlen)
{
	size_t i, len = 0, cap = 0;
	char *buf = NULL, *line, *nb;
	int rc;

	for (i = 0; i < j->n; i++) {
		if ((line = json_dumps(j->v[i], JSON_COMPACT)) == NULL)
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
	rc = state_write_atomic(j->dir, JOURNAL_NAME, buf ? buf : "", len, err, errlen);
	free(buf);
	if (rc == 0)
		j->file_lines = j->n;
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
	if ((j->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
journal_open(struct journal *j, const char *dir, char *err, size_t errlen)
{
	char path[4096], aside[4200], why[512];
	char *text;
	size_t len, bad;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	if ((j->dir = strdup(dir)) == NULL || (j->backlog = json_array()) == NULL) {
		snprintf(err, errlen, "journal: out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_NAME);
	if (state_read_file(path, JOURNAL_MAX_FILE, &text, &len, why, sizeof(why)) < 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "journal: %s", why);
			return -1;
		}
		return journal_reopen(j, err, errlen);
	}
	bad = journal_parse(j, text, len, &j->file_lines);
	free(text);
	if (bad > 0) {
		/* Keep the damaged file for inspection; carry on with what was readable. */
		state_aside_name(path, aside, sizeof(aside));
		if (link(path, aside) == 0)
			log_err("journal: %zu unusable lines in %s; the original is kept as %s",
			    bad, path, aside);
		else
			log_err("journal: %zu unusable lines in %s; could not keep a copy as %s: %s",
			    bad, path, aside, strerror(errno));
		if (journal_rewrite(j, err, errlen) < 0)
			return -1;
	}
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

static int
journal_write_all(int fd, const char *p, size_t len)
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

	if (j->fd < 0 && journal_reopen(j, err, errlen) < 0)
		return -1;
	if ((end = lseek(j->fd, 0, SEEK_END)) < 0) {
		snprintf(err, errlen, "journal: lseek: %s", strerror(errno));
		return -1;
	}
	json_array_foreach(j->backlog, i, ev) {
		if ((line = json_dumps(ev, JSON_COMPACT)) == NULL) {
			rc = -1;
			break;
		}
		size_t ll = strlen(line);

		line[ll] = '\n';   /* json_dumps leaves the NUL's byte ours to use */
		rc = journal_write_all(j->fd, line, ll + 1);
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
		return -1;
	}
	if (written > 0)
		j->synced_id = event_id(json_array_get(j->backlog, written - 1));
	json_array_clear(j->backlog);
	j->file_lines += written;
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
	    (journal_rewrite(j, err, errlen) < 0 || journal_reopen(j, err, errlen) < 0))
		return -1;
	return 0;
}
