/* Metrics in the Prometheus text format (version 0.0.4). */
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alert.h"
#include "atomicfile.h"
#include "log.h"
#include "metrics.h"
#include "core.h"
#include "state.h"
#include "status.h"
#include "treaty.h"

struct buf {
	FILE *f;
	char *text;
	size_t len;
};

/* Label values are quoted: backslash, quote and newline must be escaped. */
static void
metrics_label(FILE *f, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void
metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One gauge per treaty, read from its status at today. */
static void
metrics_treaty_gauge(FILE *f, json_t *const *st, size_t n, const char *name, const char *key,
    const char *help)
{
	size_t i;
	json_t *v;

	metrics_head(f, name, "gauge", help);
	for (i = 0; i < n; i++) {
		v = json_object_get(st[i], key);
		if (!json_is_integer(v) && !json_is_boolean(v))
			continue;
		fprintf(f, "%s{treaty=\"", name);
		metrics_label(f, json_string_value(json_object_get(st[i], "id")));
		fprintf(f, "\"} %lld\n", json_is_boolean(v) ? (long long)json_is_true(v) :
		    (long long)json_integer_value(v));
	}
}

static void
metrics_treaties(FILE *f, struct metrics *m)
{
	day_t today = core_today(m->core, time(NULL));
	json_t **st = calloc(m->core->ntreaties + 1, sizeof(*st));
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < m->core->ntreaties; i++)
		st[i] = status_treaty(m->core->treaties[i], today);
	metrics_treaty_gauge(f, st, m->core->ntreaties, "ratd_treaty_parties", "parties",
	    "Participants with an instrument deposited, as of today.");
	metrics_treaty_gauge(f, st, m->core->ntreaties, "ratd_treaty_counted", "counted",
	    "Instruments that count towards the entry-into-force threshold.");
	metrics_treaty_gauge(f, st, m->core->ntreaties, "ratd_treaty_threshold", "threshold",
	    "Instruments the treaty needs to enter into force.");
	metrics_treaty_gauge(f, st, m->core->ntreaties, "ratd_treaty_remaining", "remaining",
	    "Instruments still missing.");
	metrics_treaty_gauge(f, st, m->core->ntreaties, "ratd_treaty_in_force", "in_force",
	    "1 when the treaty is in force today.");
	metrics_head(f, "ratd_treaty_last_success_timestamp_seconds", "gauge",
	    "Unix time of the last successful fetch (0: never).");
	for (i = 0; i < m->core->ntreaties; i++) {
		fputs("ratd_treaty_last_success_timestamp_seconds{treaty=\"", f);
		metrics_label(f, m->core->treaties[i]->conf->id);
		fprintf(f, "\"} %lld\n", (long long)m->core->treaties[i]->meta.last_success);
	}
	metrics_head(f, "ratd_treaty_consecutive_failures", "gauge",
	    "Failed or refused fetches since the last success.");
	for (i = 0; i < m->core->ntreaties; i++) {
		fputs("ratd_treaty_consecutive_failures{treaty=\"", f);
		metrics_label(f, m->core->treaties[i]->conf->id);
		fprintf(f, "\"} %d\n", m->core->treaties[i]->meta.consecutive_failures);
	}
	for (i = 0; i < m->core->ntreaties; i++)
		json_decref(st[i]);
	free(st);
}

static void
metrics_sinks(FILE *f, struct metrics *m)
{
	json_t *sinks = m->alerts != NULL ? alerts_status(m->alerts) : json_array(), *s;
	size_t i;

	metrics_head(f, "ratd_sink_pending", "gauge", "Events waiting for delivery to the sink.");
	json_array_foreach(sinks, i, s) {
		fputs("ratd_sink_pending{sink=\"", f);
		metrics_label(f, json_string_value(json_object_get(s, "name")));
		fprintf(f, "\"} %lld\n", (long long)json_integer_value(json_object_get(s, "pending")));
	}
	metrics_head(f, "ratd_sink_delivered_total", "counter",
	    "Events delivered to the sink since ratd started.");
	json_array_foreach(sinks, i, s) {
		fputs("ratd_sink_delivered_total{sink=\"", f);
		metrics_label(f, json_string_value(json_object_get(s, "name")));
		fprintf(f, "\"} %lld\n",
		    (long long)json_integer_value(json_object_get(s, "delivered_since_start")));
	}
	json_decref(sinks);
}

static void
metrics_daemon(FILE *f, struct metrics *m)
{
	size_t i;

	metrics_head(f, "ratd_fetches_total", "counter", "Fetches since ratd started, by result.");
	for (i = 0; i < TREATY_OUTCOMES; i++)
		fprintf(f, "ratd_fetches_total{result=\"%s\"} %llu\n",
		    treaty_outcome_name((enum treaty_outcome)i),
		    (unsigned long long)m->fetches[i]);
	metrics_head(f, "ratd_fetch_bytes_total", "counter", "Bytes of the response bodies of "
	    "fetches after content decoding (gzip), error responses included; not wire bytes.");
	fprintf(f, "ratd_fetch_bytes_total %llu\n", (unsigned long long)m->bytes);
	metrics_head(f, "ratd_parse_seconds_total", "counter", "CPU seconds spent parsing pages.");
	fprintf(f, "ratd_parse_seconds_total %.6f\n", m->parse_seconds);
	metrics_head(f, "ratd_start_time_seconds", "gauge", "Unix time ratd started.");
	fprintf(f, "ratd_start_time_seconds %lld\n", (long long)m->started);
	metrics_head(f, "ratd_journal_pending", "gauge",
	    "Events raised but not yet in the journal: above 0 while the disk refuses it.");
	fprintf(f, "ratd_journal_pending %zu\n", journal_pending(&m->core->journal));
}

char *
metrics_text(struct metrics *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	metrics_treaties(f, m);
	metrics_sinks(f, m);
	metrics_daemon(f, m);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

void
metrics_write_textfile(struct metrics *m)
{
	const char *path = m->core->conf->metrics_textfile;
	char *text, *d, *b, err[1024];

	if (path == NULL || (text = metrics_text(m)) == NULL)
		return;
	d = strdup(path);
	b = strdup(path);
	if (d != NULL && b != NULL &&
	    atomicfile_write_mode(dirname(d), basename(b), text, strlen(text),
	    m->core->conf->metrics_textfile_mode, err, sizeof(err)) < 0)
		log_warn("metrics: %s", err);
	free(d);
	free(b);
	free(text);
}

static void
metrics_textfile_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct metrics *m = w->data;

	m->textfile_last = ev_now(loop);
	metrics_write_textfile(m);
}

void
metrics_schedule(struct metrics *m)
{
	ev_timer *w = &m->textfile_timer;
	ev_tstamp delay;

	if (m->core == NULL || m->core->loop == NULL || m->core->conf == NULL ||
	    m->core->conf->metrics_textfile == NULL || ev_is_active(w))
		return;
	/* A timer even when the last write is old: a burst of changes (a commit and its
	 * events, a delivery) costs one write after the loop has handled them all. */
	delay = m->textfile_last + 1.0 - ev_now(m->core->loop);
	ev_timer_init(w, metrics_textfile_cb, delay > 0 ? delay : 0., 0.);
	w->data = m;
	ev_timer_start(m->core->loop, w);
}

void
metrics_flush(struct metrics *m)
{
	if (m->core == NULL || m->core->loop == NULL || !ev_is_active(&m->textfile_timer))
		return;
	ev_timer_stop(m->core->loop, &m->textfile_timer);
	metrics_write_textfile(m);
}

void
metrics_clean_textfile(const struct conf *conf)
{
	char *d, *b, *dir;
	struct stat st;
	int n;

	if (conf->metrics_textfile == NULL)
		return;
	d = strdup(conf->metrics_textfile);
	b = strdup(conf->metrics_textfile);
	if (d != NULL && b != NULL) {
		dir = dirname(d);
		if ((n = atomicfile_clean_temps(dir, basename(b))) > 0)
			log_info("metrics: removed %d temporary files an interrupted write left "
			    "in %s", n, dir);
		if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH))
			log_warn("metrics: anyone may write %s (mode %04o), so anyone may replace "
			    "%s; run chmod o-w %s", dir, (unsigned)(st.st_mode & 07777),
			    conf->metrics_textfile, dir);
	}
	free(d);
	free(b);
}
