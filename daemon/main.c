/* ratd: tracks treaties' ratification status and answers ratctl. */
#include <curl/curl.h>
#include <getopt.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "render.h"

#include "alert.h"
#include "conf.h"
#include "sd_listen.h"
#include "log.h"
#include "ratd.h"
#include "status.h"
#include "treaty.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: ratd [-c FILE] [--once] [-n|--check-config] [-v|--verbose] [-V|--version]\n"
	    "            [-h|--help]\n"
	    "\n"
	    "Tracks the ratification status of UN treaties and answers ratctl.\n"
	    "\n"
	    "  -c FILE             configuration (default %s)\n"
	    "  --once              fetch every treaty once, commit, print the status table\n"
	    "                      and exit: 0 when every fetch succeeded, 1 otherwise\n"
	    "  -n, --check-config  check the configuration, print each problem as\n"
	    "                      FILE:LINE: message, exit 0 when valid, 1 otherwise\n"
	    "  -v, --verbose       also log debug messages: each fetch as it falls due,\n"
	    "                      each request on the socket, each publishing\n"
	    "  -V, --version       print the version and exit\n"
	    "  -h, --help          print this help and exit\n"
	    "\n"
	    "Signals: TERM/INT stop, HUP reloads the configuration, USR1 fetches every treaty now.\n",
	    RATD_DEFAULT_CONF);
}

static struct conf *
load_conf(const char *path)
{
	struct conf *conf = calloc(1, sizeof(*conf));
	size_t i;

	if (conf == NULL)
		fatal("out of memory");
	if (conf_load(path, conf) == 0)
		return conf;
	for (i = 0; i < conf->nerrors; i++)
		fprintf(stderr, "%s\n", conf->errors[i]);
	conf_free(conf);
	free(conf);
	return NULL;
}

/* --check-config: the lines only a page can refute (a withdrawn = date not after the
 * participant's instrument), against the committed page, else the seed; read only.
 * Prints each as FILE:LINE: message to stderr and returns how many. */
static size_t
check_against_pages(const struct conf *conf)
{
	struct snapshot *s;
	char path[4096], err[512];
	size_t i, bad = 0;

	xmlInitParser();
	for (i = 0; i < conf->ntreaties; i++) {
		const struct conf_treaty *ct = &conf->treaties[i];

		if (ct->rule.nwithdrawn == 0)
			continue;
		if (state_peek(conf->state_dir, ct->id, &s, err, sizeof(err)) < 0)
			log_warn("%s: withdrawn = dates not checked against the committed page: %s",
			    ct->id, err);
		if (s == NULL)
			s = treaty_read_seed(conf->seed_dir, ct->id, path, sizeof(path));
		bad += treaty_check_withdrawn(ct, s, stderr);
		snapshot_free(s);
	}
	return bad;
}

/* The signal watchers: the daemon's, not its modules'. */
struct signals {
	struct ratd *rd;
	ev_signal term, intr, hup, usr1;
};

static void
on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct ratd *rd = w->data;

	log_info("signal %d: stopping", w->signum);
	sd_notify_stopping(&rd->notify);
	ev_break(loop, EVBREAK_ALL);
}

static void
on_reload(struct ev_loop *loop, ev_signal *w, int revents)
{
	char err[1024];

	ratd_reload_file(w->data, err, sizeof(err));
}

static void
on_fetch_all(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct ratd *rd = w->data;
	size_t i;

	log_info("SIGUSR1: fetching every treaty now");
	for (i = 0; i < rd->core.ntreaties; i++)
		treaty_fetch_now(rd->core.treaties[i], NULL, NULL);
}

static void
signals_start(struct signals *sg, struct ratd *rd)
{
	sg->rd = rd;
	ev_signal_init(&sg->term, on_stop, SIGTERM);
	ev_signal_init(&sg->intr, on_stop, SIGINT);
	ev_signal_init(&sg->hup, on_reload, SIGHUP);
	ev_signal_init(&sg->usr1, on_fetch_all, SIGUSR1);
	sg->term.data = sg->intr.data = sg->hup.data = sg->usr1.data = rd;
	ev_signal_start(rd->core.loop, &sg->term);
	ev_signal_start(rd->core.loop, &sg->intr);
	ev_signal_start(rd->core.loop, &sg->hup);
	ev_signal_start(rd->core.loop, &sg->usr1);
}

static void
signals_stop(struct signals *sg)
{
	ev_signal_stop(sg->rd->core.loop, &sg->term);
	ev_signal_stop(sg->rd->core.loop, &sg->intr);
	ev_signal_stop(sg->rd->core.loop, &sg->hup);
	ev_signal_stop(sg->rd->core.loop, &sg->usr1);
}

/* --once: the fetches still running, and whether one failed. */
struct once {
	struct ev_loop *loop;
	size_t pending;
	bool failed;
};

static void
once_done(void *arg, struct treaty *t, enum treaty_outcome o, const char *error)
{
	struct once *w = arg;

	if (o == TREATY_ERROR || o == TREATY_REFUSED)
		w->failed = true;
	if (--w->pending == 0)
		ev_break(w->loop, EVBREAK_ALL);
}

/* --once: every treaty fetched and committed, then the table users would get from
 * `ratctl status`. */
static int
run_once(struct ratd *rd)
{
	struct once w = { rd->core.loop, rd->core.ntreaties, false };
	json_t *list = json_array(), *result;
	day_t today = core_today(&rd->core, time(NULL));
	size_t i;

	/* Counted before any starts: a fetch that fails at once must not end the wait. */
	for (i = 0; i < rd->core.ntreaties; i++)
		treaty_fetch_now(rd->core.treaties[i], once_done, &w);
	if (w.pending > 0)
		ev_run(rd->core.loop, 0);
	/* Deliveries of what the fetches raised: one attempt each, bounded by their timeouts. */
	while (alerts_busy(rd->alerts))
		ev_run(rd->core.loop, EVRUN_ONCE);
	for (i = 0; i < rd->core.ntreaties; i++)
		json_array_append_new(list, status_treaty(rd->core.treaties[i], today));
	result = json_pack("{s:o}", "treaties", list);
	render_status(stdout, result, isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL);
	json_decref(result);
	fflush(stdout);
	/* Events the journal refused wait in the state files: not a success. */
	if (journal_pending(&rd->core.journal) > 0)
		w.failed = true;
	return w.failed ? 1 : 0;
}

/* The daemon: serves until a signal stops it. */
static int
run_daemon(struct ratd *rd)
{
	log_info("ratd %s started: %zu treaties", RATD_VERSION, rd->core.ntreaties);
	sd_notify_watchdog_start(&rd->notify, rd->core.loop);
	sd_notify_ready(&rd->notify);
	ratd_notify_status(rd);
	ev_run(rd->core.loop, 0);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = RATD_DEFAULT_CONF;
	bool once = false, check = false;
	struct ratd rd = { 0 };
	struct signals sg;
	struct conf *conf;
	char err[SD_LISTEN_MAX_ERROR];
	int ch, rc = 0;

	while ((ch = getopt_long(argc, argv, "c:nvVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'o': once = true; break;
		case 'n': check = true; break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		case 'V': printf("ratd %s\n", RATD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ratd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init();
	if ((conf = load_conf(path)) == NULL)
		return 1;
	if (check) {
		size_t bad = check_against_pages(conf);

		if (bad == 0)
			printf("%s: no errors (%zu treaties, %zu alerts)\n", path, conf->ntreaties,
			    conf->nalerts);
		conf_free(conf);
		free(conf);
		return bad == 0 ? 0 : 1;
	}
	/* Before anything can start an alert program: it must inherit neither. */
	sd_notify_init(&rd.notify);
	rd.listen_fd = -1;
	if (sd_listen_inherited(&rd.listen_fd, err, sizeof(err)) < 0) {
		log_err("socket activation: %s", err);
		sd_notify_close(&rd.notify);
		conf_free(conf);
		free(conf);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit (LimitFSIZE=) must fail a write with EFBIG, which the journal
	 * and the state files handle, not kill the daemon. */
	signal(SIGXFSZ, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("curl_global_init failed");
	xmlInitParser();
	if (ratd_init(&rd, EV_DEFAULT, conf, once) < 0) {
		ratd_finish(&rd);
		sd_notify_close(&rd.notify);
		return 1;
	}
	signals_start(&sg, &rd);
	rc = once ? run_once(&rd) : run_daemon(&rd);
	signals_stop(&sg);
	ratd_finish(&rd);
	sd_notify_close(&rd.notify);
	xmlCleanupParser();
	curl_global_cleanup();
	return rc;
}
