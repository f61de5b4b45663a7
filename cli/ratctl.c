/* ratctl: the command-line client of ratd's control socket (man/ratctl.1; the protocol:
 * man/ratd.8, CONTROL SOCKET). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "date.h"
#include "jfield.h"
#include "proto.h"
#include "render.h"
#include "svg.h"
#include "utf8.h"

/* A status of many treaties is far longer than a request may be. */
#define CTL_MAX_REPLY (16 * 1024 * 1024)
#define CTL_TIMEOUT 10
#define CTL_TIMEOUT_REFRESH 300          /* a refresh waits for the fetches */
#define CTL_MAX_TIMEOUT 86400
#define CTL_MAX_LIMIT 10000     /* the events the daemon keeps (JOURNAL_KEEP) */
#define CTL_DEFAULT_INTERVAL (6 * 3600)  /* a TreatyStatus without "interval" */
#define CTL_WIDTH 80                     /* timeline width unless a terminal says more */
#define CTL_ROWS 24                      /* a screenful unless a terminal says more */
#define CTL_STATUS_LINES 12              /* about the lines of one treaty's full status */
#define CTL_CHECK_NAMED 8                /* check names each treaty up to this many */
#define CTL_MAX_WIDTH 1000

#define EXIT_DAEMON_ERROR 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

enum { OPT_AS_OF = 256, OPT_PENDING, OPT_NOTES, OPT_SVG, OPT_ALL };

enum cmd { CMD_STATUS, CMD_PARTIES, CMD_HISTORY, CMD_REFRESH, CMD_WATCH, CMD_RELOAD,
	CMD_CHECK, CMD_VERSION, CMD_TIMELINE, CMD_METRICS, CMD_COUNT_ };

enum treaty_arg { TREATY_NONE, TREATY_OPTIONAL, TREATY_REQUIRED };

/* Monitoring-plugin states; the value is the exit code. */
enum check_state { CHECK_OK = 0, CHECK_WARNING = 1, CHECK_CRITICAL = 2, CHECK_UNKNOWN = 3 };

enum line_status { LINE_OK, LINE_EOF, LINE_TIMEOUT, LINE_TOO_LONG, LINE_ERROR };

struct command {
	const char *name;
	const char *request;       /* the socket's cmd */
	enum treaty_arg treaty;
	bool as_of;                /* takes --as-of */
	bool limit;                /* takes -n */
	int timeout;               /* default seconds for the reply */
};

struct ctl {
	const char *socket;
	enum cmd cmd;
	const char *treaty;        /* NULL: every treaty */
	const char *as_of;         /* NULL: today */
	long limit;                /* 0: the daemon's default */
	long timeout;              /* seconds; 0: the command's default */
	bool json;
	bool color;
	bool pending;              /* parties: only signatories not yet parties */
	bool notes;                /* parties: the footnote texts after the table */
	bool plugin;               /* the command word is check: errors are UNKNOWN lines */
	bool svg;                  /* timeline: an SVG image instead of the text chart */
	bool all;                  /* status: every treaty in full, however many */
};

/* A connection and its read buffer: lines may arrive split or several at once. */
struct conn {
	int fd;
	char *buf;
	size_t len;                /* bytes held */
	size_t used;               /* bytes of the line last returned, dropped on the next read */
	size_t cap;
};

static const struct command commands[CMD_COUNT_] = {
	[CMD_STATUS] = { "status", "status", TREATY_OPTIONAL, true, false, CTL_TIMEOUT },
	[CMD_PARTIES] = { "parties", "parties", TREATY_REQUIRED, true, false, CTL_TIMEOUT },
	[CMD_HISTORY] = { "history", "history", TREATY_OPTIONAL, false, true, CTL_TIMEOUT },
	[CMD_REFRESH] = { "refresh", "refresh", TREATY_OPTIONAL, false, false,
	    CTL_TIMEOUT_REFRESH },
	[CMD_WATCH] = { "watch", "watch", TREATY_OPTIONAL, false, false, CTL_TIMEOUT },
	[CMD_RELOAD] = { "reload", "reload", TREATY_NONE, false, false, CTL_TIMEOUT },
	[CMD_CHECK] = { "check", "status", TREATY_OPTIONAL, false, false, CTL_TIMEOUT },
	[CMD_VERSION] = { "version", "ping", TREATY_NONE, false, false, CTL_TIMEOUT },
	/* The parties reply, then the status of the same treaty. */
	[CMD_TIMELINE] = { "timeline", "parties", TREATY_REQUIRED, true, false, CTL_TIMEOUT },
	[CMD_METRICS] = { "metrics", "metrics", TREATY_NONE, false, false, CTL_TIMEOUT },
};

static const char *const check_names[] = {
	[CHECK_OK] = "OK", [CHECK_WARNING] = "WARNING", [CHECK_CRITICAL] = "CRITICAL",
	[CHECK_UNKNOWN] = "UNKNOWN",
};

/* Which state wins when several treaties disagree: CRITICAL > WARNING > UNKNOWN > OK. */
static const int check_rank[] = {
	[CHECK_OK] = 0, [CHECK_UNKNOWN] = 1, [CHECK_WARNING] = 2, [CHECK_CRITICAL] = 3,
};

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "timeout", required_argument, NULL, 't' },
	{ "as-of", required_argument, NULL, OPT_AS_OF },
	{ "pending", no_argument, NULL, OPT_PENDING },
	{ "notes", no_argument, NULL, OPT_NOTES },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "svg", no_argument, NULL, OPT_SVG },
	{ "limit", required_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
	"usage: ratctl [-s PATH] [-j|--json] [-t SECONDS] COMMAND [ARGS]\n"
	"\n"
	"  status [TREATY] [--as-of DATE] [--all]\n"
	"                                      parties TREATY [--as-of DATE] [--pending]\n"
	"                                      parties TREATY [--notes]\n"
	"  history [TREATY] [-n N]             refresh [TREATY]\n"
	"  watch [TREATY]                      reload\n"
	"  check [TREATY]                      version\n"
	"  timeline TREATY [--as-of DATE] [--svg]\n"
	"  metrics\n";

static const char help_text[] =
	"\n"
	"Commands:\n"
	"  status [TREATY]    parties, threshold, entry into force and the source's health\n"
	"                     of every treaty, or of TREATY; more treaties than a screenful\n"
	"                     holds get a line each, unless --all\n"
	"  parties TREATY     the participants table of TREATY; with --pending only the\n"
	"                     signatories that are not yet parties, with their signatures\n"
	"  history [TREATY]   the latest events, oldest first\n"
	"  refresh [TREATY]   fetch now and wait for the outcome (admin only)\n"
	"  watch [TREATY]     print events as they happen, until interrupted\n"
	"  reload             make ratd reread its configuration (admin only)\n"
	"  check [TREATY]     one monitoring-plugin line: exit 0 OK, 1 WARNING (no successful\n"
	"                     fetch in 2 intervals), 2 CRITICAL (source failing),\n"
	"                     3 UNKNOWN (ratd not reachable, or a usage error); perfdata\n"
	"                     after '|': parties, remaining, last_success_age; --json does\n"
	"                     not apply\n"
	"  version            the versions of ratctl and of the running ratd\n"
	"  timeline TREATY    a chart of the instruments counted towards the threshold over\n"
	"                     time (by year, or by month over a short span), the threshold\n"
	"                     a line, its date and entry into force marked; the width of\n"
	"                     the terminal ($COLUMNS), else 80 columns; --json: the series\n"
	"                     --svg: a standalone SVG image of the same chart\n"
	"  metrics            ratd's counters and gauges in the Prometheus text format\n"
	"\n"
	"Options:\n"
	"  -s, --socket PATH      control socket (default: $RATD_SOCKET, else "
	RATD_DEFAULT_SOCKET ")\n"
	"  -j, --json             print the reply's result as JSON (watch: one event a line)\n"
	"  -t, --timeout SECONDS  wait at most SECONDS for the reply (default 10, refresh 300;\n"
	"                         refresh of every treaty: since the last fetch that ended;\n"
	"                         watch then waits for events without limit)\n"
	"      --as-of DATE       status, parties, timeline: evaluate at DATE (YYYY-MM-DD),\n"
	"                         not today\n"
	"      --pending          parties: signatories without an instrument, not withdrawn\n"
	"      --notes            parties: each participant's footnote texts after the table\n"
	"  -n, --limit N          history: at most N events (1 to 100000; default 50)\n"
	"  -h, --help             print this help and exit\n"
	"  -V, --version          print ratctl's version and exit\n"
	"\n"
	"Colour only when stdout is a terminal, NO_COLOR is unset and TERM is not dumb.\n"
	"Exit status: 0 success; 1 ratd replied with an error (refresh: a fetch failed or its\n"
	"page was refused); 2 usage error; 3 ratd not reachable or no reply in time.\n";

/*
 * One monitoring-plugin line, "RATD STATE - text[ | perfdata]"; returns the state as the
 * exit code. The text is rendered (control characters shown as '?'), and a '|' in it,
 * which would start the perfdata early, is printed as '/'.
 */
static int
plugin_line(enum check_state st, const char *text, const char *perf)
{
	char *clean = NULL;
	const char *p;
	size_t len = 0;
	FILE *f = open_memstream(&clean, &len);

	if (f != NULL) {
		render_text(f, text);
		if (fclose(f) != 0) {
			free(clean);
			clean = NULL;
		}
	}
	printf("RATD %s - ", check_names[st]);
	for (p = clean != NULL ? clean : "out of memory"; *p != '\0'; p++)
		putchar(*p == '|' ? '/' : *p);
	if (perf != NULL && *perf != '\0')
		printf(" | %s", perf);
	putchar('\n');
	free(clean);
	return st;
}

static int usage_error(const struct ctl *ctl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A bad command line: exit 2 with the usage, except for check, whose caller is a monitor
 * that reads 2 as CRITICAL: there one UNKNOWN line on stdout and exit 3.
 */
static int
usage_error(const struct ctl *ctl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_trim_partial(msg);   /* an argument cut at the bound ends between characters */
	if (ctl->plugin) {
		char line[1100];

		snprintf(line, sizeof(line), "ratctl usage: %s (see ratctl --help)", msg);
		return plugin_line(CHECK_UNKNOWN, line, NULL);
	}
	fprintf(stderr, "ratctl: %s\n%s\nTry 'ratctl --help' for more information.\n", msg,
	    usage_text);
	return EXIT_USAGE;
}

static int fail(const struct ctl *ctl, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports a failure on stderr, or for check as its UNKNOWN line; returns the exit code. */
static int
fail(const struct ctl *ctl, int rc, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_trim_partial(msg);
	if (ctl->cmd == CMD_CHECK || ctl->plugin)
		return plugin_line(CHECK_UNKNOWN, msg, NULL);
	fputs("ratctl: ", stderr);
	render_text(stderr, msg);
	fputc('\n', stderr);
	return rc;
}

/* Digits only, 1..max: no sign, no blanks, no suffix. */
static bool
parse_count(const char *s, long max, long *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > max)
		return false;
	*out = v;
	return true;
}

/* Treaty ids are what ratd.conf accepts: [A-Za-z0-9._-], at most RATD_MAX_ID bytes. */
static bool
treaty_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= RATD_MAX_ID && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int
parse_option(int ch, char **argv, struct ctl *ctl)
{
	day_t day;

	switch (ch) {
	case 's':
		if (*optarg == '\0')
			return usage_error(ctl, "-s: the socket path is empty");
		ctl->socket = optarg;
		return -1;
	case 'j':
		ctl->json = true;
		return -1;
	case 't':
		if (!parse_count(optarg, CTL_MAX_TIMEOUT, &ctl->timeout))
			return usage_error(ctl, "-t: '%s' is not a number of seconds from 1 to %d",
			    optarg, CTL_MAX_TIMEOUT);
		return -1;
	case 'n':
		if (!parse_count(optarg, CTL_MAX_LIMIT, &ctl->limit))
			return usage_error(ctl, "-n: '%s' is not a number from 1 to %d", optarg,
			    CTL_MAX_LIMIT);
		return -1;
	case OPT_AS_OF:
		if (date_parse_iso(optarg, &day) != 0)
			return usage_error(ctl, "--as-of: '%s' is not a date (YYYY-MM-DD)", optarg);
		ctl->as_of = optarg;
		return -1;
	case OPT_PENDING:
		ctl->pending = true;
		return -1;
	case OPT_NOTES:
		ctl->notes = true;
		return -1;
	case OPT_ALL:
		ctl->all = true;
		return -1;
	case OPT_SVG:
		ctl->svg = true;
		return -1;
	case 'h':
		printf("%s%s", usage_text, help_text);
		return 0;
	case 'V':
		printf("ratctl %s\n", RATD_VERSION);
		return 0;
	case ':':
		return usage_error(ctl, "option '%s' needs an argument", argv[optind - 1]);
	default:
		if (optopt != 0)
			return usage_error(ctl, "unknown option '-%c'", optopt);
		return usage_error(ctl, "unknown option '%s'", argv[optind - 1]);
	}
}

/* The command and its treaty, and whether the options given apply to it. */
static int
parse_command(int argc, char **argv, struct ctl *ctl)
{
	const struct command *c;
	int i;

	if (optind >= argc)
		return usage_error(ctl, "no command given");
	for (i = 0; i < CMD_COUNT_; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			break;
	if (i == CMD_COUNT_)
		return usage_error(ctl, "unknown command '%s'", argv[optind]);
	ctl->cmd = i;
	c = &commands[i];
	if (optind + 1 < argc) {
		if (c->treaty == TREATY_NONE)
			return usage_error(ctl, "%s takes no argument", c->name);
		if (optind + 2 < argc)
			return usage_error(ctl, "%s: too many arguments", c->name);
		if (!treaty_valid(argv[optind + 1]))
			return usage_error(ctl, "'%s' is not a treaty id", argv[optind + 1]);
		ctl->treaty = argv[optind + 1];
	} else if (c->treaty == TREATY_REQUIRED)
		return usage_error(ctl, "%s needs a TREATY", c->name);
	if (ctl->as_of != NULL && !c->as_of)
		return usage_error(ctl, "--as-of applies to status, parties and timeline only");
	if (ctl->pending && ctl->cmd != CMD_PARTIES)
		return usage_error(ctl, "--pending applies to parties only");
	if (ctl->all && (ctl->cmd != CMD_STATUS || ctl->treaty != NULL))
		return usage_error(ctl, "--all applies to status without a TREATY only");
	if (ctl->notes && (ctl->cmd != CMD_PARTIES || ctl->pending))
		return usage_error(ctl, "--notes applies to parties only, without --pending");
	if (ctl->svg && (ctl->cmd != CMD_TIMELINE || ctl->json))
		return usage_error(ctl, "--svg applies to timeline only, without --json");
	if (ctl->limit != 0 && !c->limit)
		return usage_error(ctl, "-n applies to history only");
	return -1;
}

/* Fills ctl; returns -1 to go on, else the exit code (0 after --help or --version). */
static int
parse_args(int argc, char **argv, struct ctl *ctl)
{
	const char *env = getenv("RATD_SOCKET");
	int ch, rc;

	memset(ctl, 0, sizeof(*ctl));
	ctl->socket = env != NULL && *env != '\0' ? env : RATD_DEFAULT_SOCKET;
	opterr = 0;
	/* A first silent pass finds the command word as getopt sees it, so that even an
	 * error in the options before it is reported the way check reports errors. */
	while (getopt_long(argc, argv, ":s:jt:n:hV", long_opts, NULL) != -1)
		;
	ctl->plugin = optind < argc && streq(argv[optind], "check");
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":s:jt:n:hV", long_opts, NULL)) != -1)
		if ((rc = parse_option(ch, argv, ctl)) >= 0)
			return rc;
	return parse_command(argc, argv, ctl);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready or the deadline (-1: none) passes: 1, 0 on timeout, -1. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int n;

	do {
		left = deadline < 0 ? -1 : deadline - now_ms();
		n = poll(&pfd, 1, deadline < 0 ? -1 : left < 0 ? 0 : (int)left);
	} while (n < 0 && errno == EINTR);
	return n;
}

static int
conn_open(const struct ctl *ctl, struct conn *c)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (strlen(ctl->socket) >= sizeof(sun.sun_path))
		return fail(ctl, EXIT_USAGE, "socket path too long: %s", ctl->socket);
	memcpy(sun.sun_path, ctl->socket, strlen(ctl->socket) + 1);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return fail(ctl, EXIT_UNREACHABLE, "socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		return fail(ctl, EXIT_UNREACHABLE, "cannot connect to %s: %s (is ratd running?)",
		    ctl->socket, strerror(errno));
	/* Non-blocking from here: every wait goes through poll() and its deadline. */
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) == -1)
		return fail(ctl, EXIT_UNREACHABLE, "fcntl: %s", strerror(errno));
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
}

/* conn_send: the daemon hung up before taking the whole request (errno says how). */
#define CONN_HUNG_UP (-1)

/* 0, CONN_HUNG_UP, or the exit code after saying why. */
static int
conn_send(const struct ctl *ctl, struct conn *c, const char *buf, size_t len, int64_t deadline)
{
	ssize_t n;
	int w;

	while (len > 0) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((w = wait_fd(c->fd, POLLOUT, deadline)) > 0)
				continue;
			if (w == 0)
				return fail(ctl, EXIT_UNREACHABLE, "ratd on %s takes no request",
				    ctl->socket);
		}
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			return CONN_HUNG_UP;
		return fail(ctl, EXIT_UNREACHABLE, "cannot send to %s: %s", ctl->socket,
		    strerror(errno));
	}
	return 0;
}

/* Makes room to read into, up to CTL_MAX_REPLY bytes in all; false when full. */
static bool
conn_grow(struct conn *c)
{
	size_t cap;
	char *p;

	if (c->len < c->cap)
		return true;
	if (c->cap >= CTL_MAX_REPLY)
		return false;
	cap = c->cap == 0 ? 65536 : c->cap * 2;
	if (cap > CTL_MAX_REPLY)
		cap = CTL_MAX_REPLY;
	if ((p = realloc(c->buf, cap)) == NULL)
		return false;
	c->buf = p;
	c->cap = cap;
	return true;
}

/* The next line, NUL-terminated in place; valid until the next call. */
static enum line_status
conn_line(struct conn *c, int64_t deadline, char **line, size_t *linelen)
{
	size_t scanned = 0;
	ssize_t n;
	char *nl;
	int w;

	if (c->used > 0) {
		memmove(c->buf, c->buf + c->used, c->len - c->used);
		c->len -= c->used;
		c->used = 0;
	}
	for (;;) {
		nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL;
		if (nl != NULL) {
			*nl = '\0';
			*line = c->buf;
			*linelen = (size_t)(nl - c->buf);
			c->used = *linelen + 1;
			return LINE_OK;
		}
		scanned = c->len;
		if (!conn_grow(c))
			return LINE_TOO_LONG;
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return LINE_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return LINE_ERROR;
		if ((w = wait_fd(c->fd, POLLIN, deadline)) <= 0)
			return w == 0 ? LINE_TIMEOUT : LINE_ERROR;
	}
}

/* One line read, or the exit code of why there is none. */
static int
read_line(const struct ctl *ctl, struct conn *c, int64_t deadline, long timeout, char **line,
    size_t *len)
{
	switch (conn_line(c, deadline, line, len)) {
	case LINE_OK:
		return 0;
	case LINE_EOF:
		return fail(ctl, EXIT_UNREACHABLE, "ratd closed the connection on %s", ctl->socket);
	case LINE_TIMEOUT:
		return fail(ctl, EXIT_UNREACHABLE, "no reply from ratd on %s within %ld s",
		    ctl->socket, timeout);
	case LINE_TOO_LONG:
		return fail(ctl, EXIT_DAEMON_ERROR, "reply from ratd too long (over %d MiB) or "
		    "out of memory", CTL_MAX_REPLY / (1024 * 1024));
	case LINE_ERROR:
	default:
		return fail(ctl, EXIT_UNREACHABLE, "cannot read from %s: %s", ctl->socket,
		    strerror(errno));
	}
}

/* The result of {"ok": true, "result": {...}} (a new reference), else the exit code. */
static int
reply_parse(const struct ctl *ctl, const char *line, size_t len, json_t **result)
{
	json_t *root, *res, *err;
	json_error_t jerr;
	int rc;

	if ((root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return fail(ctl, EXIT_DAEMON_ERROR, "unreadable reply from ratd: %s", jerr.text);
	res = json_object_get(root, "result");
	err = json_object_get(root, "error");
	if (json_is_true(json_object_get(root, "ok")) && json_is_object(res)) {
		*result = json_incref(res);
		rc = 0;
	} else if (json_is_false(json_object_get(root, "ok")) &&
	    streq(jstr(err, "code"), RATD_ERR_BUSY))
		rc = fail(ctl, EXIT_DAEMON_ERROR, "ratd on %s is busy and refused this request: "
		    "%s", ctl->socket, jstr(err, "message") ? jstr(err, "message") : "(no reason)");
	else if (json_is_false(json_object_get(root, "ok")))
		rc = fail(ctl, EXIT_DAEMON_ERROR, "%s: %s",
		    jstr(err, "code") ? jstr(err, "code") : "error",
		    jstr(err, "message") ? jstr(err, "message") : "(no message)");
	else
		rc = fail(ctl, EXIT_DAEMON_ERROR, "unreadable reply from ratd: no result");
	json_decref(root);
	return rc;
}

/* The request line: {"cmd": ..., "treaty": ..., "as_of": ..., "limit": ...} and a newline. */
static char *
request_line(const struct ctl *ctl, const char *cmd)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd);
	char *body, *line = NULL;

	if (req == NULL)
		return NULL;
	if (ctl->treaty != NULL)
		json_object_set_new(req, "treaty", json_string(ctl->treaty));
	if (ctl->as_of != NULL)
		json_object_set_new(req, "as_of", json_string(ctl->as_of));
	if (ctl->limit > 0)
		json_object_set_new(req, "limit", json_integer(ctl->limit));
	/* A refresh of every treaty reports each fetch as it ends: the wait is per fetch. */
	if (ctl->cmd == CMD_REFRESH && ctl->treaty == NULL)
		json_object_set_new(req, "progress", json_true());
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (body != NULL && asprintf(&line, "%s\n", body) == -1)
		line = NULL;
	free(body);
	return line;
}

/* True when line is a refresh's progress line, shown on a terminal as "done/total". */
static bool
progress_line(const char *line, size_t len)
{
	json_t *root = json_loadb(line, len, 0, NULL), *p;
	bool is = (p = json_object_get(root, "progress")) != NULL;

	if (is && isatty(STDERR_FILENO)) {
		fprintf(stderr, "\rrefresh: %lld/%lld fetched",
		    (long long)json_integer_value(json_object_get(p, "done")),
		    (long long)json_integer_value(json_object_get(p, "total")));
		fflush(stderr);
	}
	json_decref(root);
	return is;
}

/* Connects, sends the request cmd and reads the first reply line's result (after a
 * refresh's progress lines, each of which restarts the timeout). */
static int
ctl_request(const struct ctl *ctl, struct conn *c, const char *cmd, json_t **result)
{
	long timeout = ctl->timeout ? ctl->timeout : commands[ctl->cmd].timeout;
	int64_t deadline = now_ms() + timeout * 1000;
	char *req, *line;
	size_t len;
	int rc, why;

	if ((rc = conn_open(ctl, c)) != 0)
		return rc;
	if ((req = request_line(ctl, cmd)) == NULL)
		return fail(ctl, EXIT_DAEMON_ERROR, "out of memory");
	rc = conn_send(ctl, c, req, strlen(req), deadline);
	why = errno;
	free(req);
	if (rc == CONN_HUNG_UP) {
		/* A daemon that refuses a client (busy) writes why before it hangs up, maybe
		 * before the request went out: that reply is still there to read. */
		if (conn_line(c, deadline, &line, &len) == LINE_OK)
			return reply_parse(ctl, line, len, result);
		return fail(ctl, EXIT_UNREACHABLE, "cannot send to %s: %s", ctl->socket,
		    strerror(why));
	}
	while (rc == 0 && (rc = read_line(ctl, c, deadline, timeout, &line, &len)) == 0 &&
	    ctl->cmd == CMD_REFRESH && progress_line(line, len))
		deadline = now_ms() + timeout * 1000;
	if (ctl->cmd == CMD_REFRESH && ctl->treaty == NULL && isatty(STDERR_FILENO))
		fputc('\n', stderr);
	if (rc == 0)
		rc = reply_parse(ctl, line, len, result);
	return rc;
}

/* The command's own request. */
static int
ctl_call(const struct ctl *ctl, struct conn *c, json_t **result)
{
	return ctl_request(ctl, c, commands[ctl->cmd].request, result);
}

static int
print_json(const json_t *v, size_t flags)
{
	if (json_dumpf(v, stdout, flags) != 0)
		return EXIT_DAEMON_ERROR;
	fputc('\n', stdout);
	return 0;
}

static int
watch_events(const struct ctl *ctl, struct conn *c)
{
	json_t *root, *ev;
	char *line;
	size_t len;
	int rc;

	for (;;) {
		if ((rc = read_line(ctl, c, -1, 0, &line, &len)) != 0)
			return rc;
		root = json_loadb(line, len, 0, NULL);
		ev = json_object_get(root, "event");
		if (json_is_object(ev)) {
			if (ctl->json)
				print_json(ev, JSON_COMPACT);
			else
				render_event(stdout, ev, ctl->color);
		} else if (json_is_false(json_object_get(root, "ok"))) {
			rc = reply_parse(ctl, line, len, &ev);
			json_decref(root);
			return rc;
		} else
			fprintf(stderr, "ratctl: ignoring a line from ratd that holds no event\n");
		json_decref(root);
		/* Each event must reach a pipe as it happens, not when a buffer fills. */
		if (fflush(stdout) != 0)
			return fail(ctl, EXIT_DAEMON_ERROR, "cannot write: %s", strerror(errno));
	}
}

/* "6h", "90m", "45s": the largest unit that divides the interval. */
static void
format_interval(long long s, char *buf, size_t len)
{
	if (s > 0 && s % 86400 == 0)
		snprintf(buf, len, "%lldd", s / 86400);
	else if (s > 0 && s % 3600 == 0)
		snprintf(buf, len, "%lldh", s / 3600);
	else if (s > 0 && s % 60 == 0)
		snprintf(buf, len, "%lldm", s / 60);
	else
		snprintf(buf, len, "%llds", s);
}

/* "59/20 parties, in force since 2003-07-01": the figures a monitor shows. */
static void
check_figures(FILE *f, const json_t *t)
{
	long long remaining;

	render_int(f, t, "parties");
	fputc('/', f);
	render_int(f, t, "threshold");
	fputs(" parties", f);
	if (json_is_true(json_object_get(t, "in_force"))) {
		fputs(", in force since ", f);
		render_text(f, jstr(t, "entry_into_force"));
	} else if (json_is_true(json_object_get(t, "threshold_reached"))) {
		fputs(", enters into force ", f);
		render_text(f, jstr(t, "entry_into_force"));
	} else if (jint(t, "remaining", &remaining))
		fprintf(f, ", %lld remaining", remaining);
}

/* The freshness verdict on last_success, written after the figures. */
static enum check_state
check_age(FILE *f, const json_t *t, const json_t *src, time_t now)
{
	const char *last = jstr(src, "last_success"), *error = jstr(src, "error");
	long long interval = CTL_DEFAULT_INTERVAL;
	char ibuf[32];
	time_t when;

	if (last == NULL) {
		fputs(streq(jstr(src, "state"), "seed") ? ", bundled seed data, no successful "
		    "fetch yet" : ", no successful fetch yet", f);
		if (error != NULL) {
			fputs(", last error: ", f);
			render_text(f, error);
		}
		return CHECK_WARNING;
	}
	if (date_parse_time(last, &when) != 0) {
		fputs(", last success unreadable: ", f);
		render_text(f, last);
		return CHECK_UNKNOWN;
	}
	if (!jint(t, "interval", &interval) || interval <= 0)
		interval = CTL_DEFAULT_INTERVAL;
	fputs(", last success ", f);
	render_text(f, last);
	if ((long long)(now - when) <= 2 * interval)
		return CHECK_OK;
	format_interval(interval, ibuf, sizeof(ibuf));
	fprintf(f, ", older than 2 intervals of %s", ibuf);
	return CHECK_WARNING;
}

static enum check_state
check_treaty(FILE *f, const json_t *t, time_t now)
{
	const json_t *src = json_object_get(t, "source");
	long long failures;

	render_text(f, jstr(t, "id"));
	fputs(": ", f);
	check_figures(f, t);
	if (!streq(jstr(src, "state"), "failing"))
		return check_age(f, t, src, now);
	fputs(", source failing", f);
	if (jint(src, "consecutive_failures", &failures))
		fprintf(f, " after %lld failed attempt%s in a row", failures,
		    failures == 1 ? "" : "s");
	fputs(": ", f);
	render_text(f, jstr(src, "error"));
	fputs(", last success ", f);
	render_text(f, jstr(src, "last_success") ? jstr(src, "last_success") : "never");
	return CHECK_CRITICAL;
}

/*
 * The treaty's perfdata, 'ID parties'=N;;;0 'ID remaining'=N;;;0 'ID last_success_age'=Ns;;;0,
 * as the Monitoring Plugins guidelines write it: a figure the daemon does not report is U
 * (undetermined). Ids are checked first: a quote or a blank would break the syntax.
 */
static void
check_perfdata(FILE *p, const json_t *t, time_t now)
{
	const char *id = jstr(t, "id"), *last = jstr(json_object_get(t, "source"), "last_success");
	static const char *const keys[] = { "parties", "remaining" };
	long long v;
	time_t when;
	size_t k;

	if (id == NULL || !treaty_valid(id))
		return;
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (ftell(p) > 0)
			fputc(' ', p);
		if (jint(t, keys[k], &v))
			fprintf(p, "'%s %s'=%lld;;;0", id, keys[k], v);
		else
			fprintf(p, "'%s %s'=U;;;0", id, keys[k]);
	}
	if (last != NULL && date_parse_time(last, &when) == 0)
		fprintf(p, " '%s last_success_age'=%llds;;;0", id,
		    (long long)(now > when ? now - when : 0));
	else
		fprintf(p, " '%s last_success_age'=U;;;0", id);
}

/* Events that are not on disk are neither delivered nor safe: CRITICAL. */
static enum check_state
check_journal(FILE *f, const json_t *journal)
{
	long long pending = 0;

	if (!streq(jstr(journal, "state"), "failing"))
		return CHECK_OK;
	jint(journal, "pending", &pending);
	fprintf(f, "journal failing, %lld event%s not on disk: ", pending,
	    pending == 1 ? "" : "s");
	render_text(f, jstr(journal, "error") ? jstr(journal, "error") : "unknown error");
	fputs("; ", f);
	return CHECK_CRITICAL;
}

/* Many treaties: how many are OK, then only those that are not, each as check_treaty
 * says it. Returns the worst state of all and worst. */
static enum check_state
check_many(FILE *f, FILE *perf, const json_t *treaties, time_t now, enum check_state worst)
{
	const json_t *t;
	enum check_state st;
	size_t i, ok = 0, len = 0;
	char *others = NULL, *one = NULL;
	size_t olen = 0;
	FILE *o = open_memstream(&others, &olen), *x;

	json_array_foreach(treaties, i, t) {
		if ((x = open_memstream(&one, &len)) == NULL)
			break;
		st = check_treaty(x, t, now);
		check_perfdata(perf, t, now);
		if (fclose(x) == 0 && st != CHECK_OK && o != NULL)
			fprintf(o, "; %s", one);
		ok += st == CHECK_OK;
		free(one);
		one = NULL;
		if (check_rank[st] > check_rank[worst])
			worst = st;
	}
	fprintf(f, "%zu of %zu treaties OK", ok, json_array_size(treaties));
	if (o != NULL && fclose(o) == 0)
		fputs(others, f);
	free(others);
	return worst;
}

static int
check_report(const struct ctl *ctl, const json_t *result)
{
	const json_t *treaties = json_object_get(result, "treaties"), *t;
	enum check_state worst = CHECK_OK, st;
	time_t now = time(NULL);
	char *text = NULL, *perf = NULL;
	size_t len = 0, plen = 0, i;
	FILE *f, *p;
	int rc;

	if (!json_is_array(treaties) || json_array_size(treaties) == 0)
		return fail(ctl, CHECK_UNKNOWN, "ratd reports no treaty");
	if ((f = open_memstream(&text, &len)) == NULL)
		return fail(ctl, CHECK_UNKNOWN, "out of memory");
	if ((p = open_memstream(&perf, &plen)) == NULL) {
		fclose(f);
		free(text);
		return fail(ctl, CHECK_UNKNOWN, "out of memory");
	}
	worst = check_journal(f, json_object_get(result, "journal"));
	if (json_array_size(treaties) > CTL_CHECK_NAMED)
		worst = check_many(f, p, treaties, now, worst);
	else
		json_array_foreach(treaties, i, t) {
			if (i > 0)
				fputs("; ", f);
			st = check_treaty(f, t, now);
			check_perfdata(p, t, now);
			if (check_rank[st] > check_rank[worst])
				worst = st;
		}
	if ((fclose(f) != 0) | (fclose(p) != 0))
		rc = fail(ctl, CHECK_UNKNOWN, "out of memory");
	else
		rc = plugin_line(worst, text, perf);
	free(text);
	free(perf);
	return rc;
}

/* version: ratctl's own, then the daemon's from ping; 3 when it cannot be asked. */
static int
ctl_version(const struct ctl *ctl, struct conn *c)
{
	json_t *result = NULL, *out;
	const char *v;
	int rc;

	if (!ctl->json)
		printf("ratctl %s\n", RATD_VERSION);
	fflush(stdout);
	rc = ctl_call(ctl, c, &result);
	v = jstr(result, "version");
	if (ctl->json) {
		out = json_pack("{s:s, s:s?}", "ratctl", RATD_VERSION, "ratd", v);
		if (out != NULL)
			print_json(out, JSON_INDENT(2));
		json_decref(out);
	} else if (rc == 0) {
		fputs("ratd ", stdout);
		render_text(stdout, v);
		fputc('\n', stdout);
	}
	json_decref(result);
	return rc;
}

/* refresh exits 1 when a fetch failed or its page was refused: scripts can tell. */
static int
refresh_rc(const json_t *result)
{
	const json_t *t;
	size_t i;

	json_array_foreach(json_object_get(result, "treaties"), i, t)
		if (streq(jstr(t, "result"), "error") || streq(jstr(t, "result"), "refused"))
			return EXIT_DAEMON_ERROR;
	return 0;
}

/* parties --pending: the reply filtered, in either form. */
static int
show_pending(const struct ctl *ctl, const json_t *result)
{
	json_t *pending = render_pending_filter(result);
	int rc = 0;

	if (pending == NULL)
		return fail(ctl, EXIT_DAEMON_ERROR, "out of memory");
	if (ctl->json)
		rc = print_json(pending, JSON_INDENT(2));
	else
		render_pending(stdout, pending, ctl->color);
	json_decref(pending);
	return rc;
}

static int
show_metrics(const struct ctl *ctl, const json_t *result)
{
	const char *text = jstr(result, "text");

	if (text == NULL)
		return fail(ctl, EXIT_DAEMON_ERROR, "unreadable reply from ratd: no metrics text");
	render_lines(stdout, text);
	return 0;
}

static int term_rows(void);

static int
show_result(const struct ctl *ctl, const json_t *result)
{
	if (ctl->cmd == CMD_CHECK)
		return check_report(ctl, result);
	if (ctl->pending)
		return show_pending(ctl, result);
	if (ctl->json) {
		if (print_json(result, JSON_INDENT(2)) != 0)
			return EXIT_DAEMON_ERROR;
		return ctl->cmd == CMD_REFRESH ? refresh_rc(result) : 0;
	}
	switch (ctl->cmd) {
	case CMD_STATUS:
		if (ctl->treaty == NULL && !ctl->all &&
		    json_array_size(json_object_get(result, "treaties")) * CTL_STATUS_LINES >
		    (size_t)term_rows())
			render_status_summary(stdout, result, ctl->color);
		else
			render_status(stdout, result, ctl->color);
		return 0;
	case CMD_PARTIES:
		render_parties(stdout, result, ctl->color);
		if (ctl->notes)
			render_parties_notes(stdout, result);
		return 0;
	case CMD_HISTORY:
		render_history(stdout, result, ctl->color);
		return 0;
	case CMD_REFRESH:
		render_refresh(stdout, result, ctl->color);
		return refresh_rc(result);
	case CMD_METRICS:
		return show_metrics(ctl, result);
	case CMD_RELOAD:
		if (json_is_true(json_object_get(result, "reloaded"))) {
			printf("ratd reloaded its configuration\n");
			return 0;
		}
		return fail(ctl, EXIT_DAEMON_ERROR, "ratd did not reload its configuration");
	default:
		return 0;
	}
}

/* Rows of the terminal on stdout: $LINES, else its size; 24 when not a terminal. */
static int
term_rows(void)
{
	const char *env = getenv("LINES");
	struct winsize ws;
	long n;

	if (!isatty(STDOUT_FILENO))
		return CTL_ROWS;
	if (env != NULL && parse_count(env, 100000, &n))
		return (int)n;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		return ws.ws_row;
	return CTL_ROWS;
}

/* Columns of the terminal on stdout: $COLUMNS, else its size; 80 when not a terminal. */
static int
term_width(void)
{
	const char *env = getenv("COLUMNS");
	struct winsize ws;
	long n;

	if (!isatty(STDOUT_FILENO))
		return CTL_WIDTH;
	if (env != NULL && parse_count(env, CTL_MAX_WIDTH, &n))
		return (int)n;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col > CTL_MAX_WIDTH ? CTL_MAX_WIDTH : ws.ws_col;
	return CTL_WIDTH;
}

/* Block and box-drawing characters only where the locale says UTF-8. */
static bool
locale_utf8(void)
{
	return setlocale(LC_CTYPE, "") != NULL && strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
}

/* The TreatyStatus of id in a status result, or NULL. */
static const json_t *
status_of(const json_t *result, const char *id)
{
	const json_t *t;
	size_t i;

	json_array_foreach(json_object_get(result, "treaties"), i, t)
		if (streq(jstr(t, "id"), id))
			return t;
	return NULL;
}

/* timeline: the series from the parties and the status of one treaty, drawn here. */
static int
ctl_timeline(const struct ctl *ctl)
{
	struct conn cp = { .fd = -1 }, cs = { .fd = -1 };
	json_t *parties = NULL, *status = NULL, *tl = NULL;
	const json_t *t;
	int rc;

	if ((rc = ctl_request(ctl, &cp, "parties", &parties)) == 0)
		rc = ctl_request(ctl, &cs, "status", &status);
	if (rc == 0 && (t = status_of(status, ctl->treaty)) == NULL)
		rc = fail(ctl, EXIT_DAEMON_ERROR, "ratd reports no status of %s", ctl->treaty);
	else if (rc == 0 && (tl = render_timeline_build(parties, t)) == NULL)
		rc = fail(ctl, EXIT_DAEMON_ERROR, "unreadable parties reply from ratd (no as_of "
		    "date) or out of memory");
	if (tl != NULL && ctl->json)
		rc = print_json(tl, JSON_INDENT(2));
	else if (tl != NULL && ctl->svg)
		svg_timeline(stdout, tl, true);
	else if (tl != NULL)
		render_timeline(stdout, tl, term_width(), locale_utf8());
	json_decref(tl);
	json_decref(status);
	json_decref(parties);
	conn_close(&cs);
	conn_close(&cp);
	return rc;
}

static int
run(const struct ctl *ctl)
{
	struct conn c = { .fd = -1 };
	json_t *result = NULL;
	int rc;

	if (ctl->cmd == CMD_TIMELINE)
		return ctl_timeline(ctl);
	if (ctl->cmd == CMD_VERSION)
		rc = ctl_version(ctl, &c);
	else if ((rc = ctl_call(ctl, &c, &result)) == 0)
		rc = ctl->cmd == CMD_WATCH ? watch_events(ctl, &c) : show_result(ctl, result);
	json_decref(result);
	conn_close(&c);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *term = getenv("TERM");
	struct ctl ctl;
	int rc;

	if ((rc = parse_args(argc, argv, &ctl)) >= 0)
		return rc;
	ctl.color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL && !streq(term, "dumb");
	rc = run(&ctl);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ratctl: cannot write the output: %s\n", strerror(errno));
		return rc != 0 ? rc : EXIT_DAEMON_ERROR;
	}
	return rc;
}
