/* ratd.conf: read, check and resolve the configuration (man/ratd.conf.5). */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"
#include "conf.h"
#include "event.h"
#include "utf8.h"

#define CONF_MAX_FILE (1024 * 1024)
#define CONF_MAX_ERRORS 100
#define CONF_MAX_KEYS 24          /* keys of the largest section */
#define CONF_MAX_SECONDS INT32_MAX
#define CONF_MAX_LIST 256         /* items of one count/events/treaties list */
#define CONF_MAX_MAILTO 32
#define CONF_MAX_GROUP 64
#define CONF_MAX_ADDR 254         /* RFC 5321 path limit */
#define CONF_MAX_REDIRECT_HOSTS 64
#define CONF_SHOWN 64             /* bytes of a bad value quoted back in a message */

#define KEY_REPEAT   0x1          /* (+) in man/ratd.conf.5 */
#define KEY_EMPTY_OK 0x2          /* "key =" means "not set" */

enum conf_section { SEC_NONE, SEC_SKIP, SEC_RATD, SEC_TREATY, SEC_ALERT, SEC_PUBLISH };

struct conf_parser;

struct conf_key {
	const char *name;
	void (*set)(struct conf_parser *, const char *);
	unsigned flags;
};

/* A line of one of the files read: seq indexes conf->files. */
struct conf_at {
	int seq;
	int line;
};

/* A file being read, to refuse an include that would read it again. */
struct conf_open {
	dev_t dev;
	ino_t ino;
};

struct conf_parser {
	struct conf *conf;
	int seq;                           /* the file being read, in conf->files */
	int line;
	int depth;                         /* files open: 1 while reading the main one */
	struct conf_open open[CONF_MAX_DEPTH + 1];
	bool after_include;                /* no section since the last include line */
	enum conf_section sec;
	char secname[CONF_MAX_ID + 16];    /* "[treaty IV-13]", for messages */
	int secline;
	const struct conf_key *keys;
	int seen[CONF_MAX_KEYS];           /* line of each key in this section, 0 = unset */
	struct conf_at ratd_at;            /* the [ratd] section, line 0 = none yet */
	int ratd_seen[CONF_MAX_KEYS];
	struct conf_at publish_at;         /* the [publish] section, line 0 = none yet */
	struct conf_at alert_treaties_at[CONF_MAX_ALERTS];
	struct conf_at after_at[CONF_MAX_TREATIES];  /* each treaty's after_treaty line */
	long long keys_at[CONF_MAX_ERRORS];  /* where each message points, to sort them */
	int problems;                      /* also counts messages lost to out-of-memory */
	bool full;                         /* CONF_MAX_ERRORS reached */
};

/* Kinds an instrument may have; a signature never counts. */
static const enum kind conf_count_kinds[] = {
	KIND_RATIFICATION, KIND_ACCESSION, KIND_ACCEPTANCE, KIND_APPROVAL,
	KIND_SUCCESSION, KIND_CONFIRMATION,
};
#define CONF_NKINDS (sizeof(conf_count_kinds) / sizeof(conf_count_kinds[0]))

static void
conf_add_error(struct conf_parser *p, long long key, char *msg)
{
	struct conf *c = p->conf;
	char **v;

	if (msg == NULL)
		return;
	v = realloc(c->errors, (c->nerrors + 1) * sizeof(*v));
	if (v == NULL) {
		free(msg);
		return;
	}
	c->errors = v;
	p->keys_at[c->nerrors] = key;
	c->errors[c->nerrors++] = msg;
}

/* Orders messages by file, then line (a stable insertion sort), whole-file ones last. */
static void
conf_sort_errors(struct conf_parser *p)
{
	struct conf *c = p->conf;
	long long key;
	size_t i, j;
	char *msg;

	for (i = 1; i < c->nerrors; i++) {
		msg = c->errors[i];
		key = p->keys_at[i];
		for (j = i; j > 0 && p->keys_at[j - 1] > key; j--) {
			c->errors[j] = c->errors[j - 1];
			p->keys_at[j] = p->keys_at[j - 1];
		}
		c->errors[j] = msg;
		p->keys_at[j] = key;
	}
}

static void conf_verror(struct conf_parser *p, struct conf_at at, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

/* Records "FILE:LINE: message", or "FILE: message" when the line is 0. */
static void
conf_verror(struct conf_parser *p, struct conf_at at, const char *fmt, va_list ap)
{
	struct conf *c = p->conf;
	const char *file;
	char body[1024], *msg;
	int n;

	p->problems++;
	if (p->full)
		return;
	vsnprintf(body, sizeof(body), fmt, ap);
	if (c->nerrors + 1 >= CONF_MAX_ERRORS) {
		p->full = true;
		snprintf(body, sizeof(body), "too many problems: fix these %d first",
		    CONF_MAX_ERRORS - 1);
		at.seq = 0;
		at.line = 0;
	}
	file = at.seq >= 0 && (size_t)at.seq < c->nfiles ? c->files[at.seq] : c->path;
	if (at.line > 0)
		n = asprintf(&msg, "%s:%d: %s", file, at.line, body);
	else
		n = asprintf(&msg, "%s: %s", file, body);
	conf_add_error(p, at.line > 0 ? (long long)at.seq << 32 | at.line : LLONG_MAX,
	    n < 0 ? NULL : msg);
}

static void conf_error_in(struct conf_parser *p, struct conf_at at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conf_error_at(struct conf_parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A message about a line of any file read. */
static void
conf_error_in(struct conf_parser *p, struct conf_at at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verror(p, at, fmt, ap);
	va_end(ap);
}

/* A message about a line of the file being read (0: the file as a whole). */
static void
conf_error_at(struct conf_parser *p, int line, const char *fmt, ...)
{
	struct conf_at at = { p->seq, line };
	va_list ap;

	va_start(ap, fmt);
	conf_verror(p, at, fmt, ap);
	va_end(ap);
}

#define conf_error(p, ...) conf_error_at((p), (p)->line, __VA_ARGS__)

static char *
conf_strdup(struct conf_parser *p, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		conf_error(p, "out of memory");
	return d;
}

/* Replaces *dst by a copy of s (keys given twice are refused before this). */
static void
conf_set_str(struct conf_parser *p, char **dst, const char *s)
{
	char *d = conf_strdup(p, s);

	if (d == NULL)
		return;
	free(*dst);
	*dst = d;
}

/* A value quoted back to the user, cut on a character boundary. */
static const char *
conf_shown(const char *v, char buf[CONF_SHOWN + 4])
{
	size_t n = strlen(v);

	if (n <= CONF_SHOWN)
		return v;
	n = CONF_SHOWN;
	while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
		n--;
	memcpy(buf, v, n);
	memcpy(buf + n, "...", 4);
	return buf;
}

static bool
conf_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trims blanks in place: returns the start, cuts the end. */
static char *
conf_trim(char *s)
{
	size_t n;

	while (conf_blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && conf_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Parses decimal digits only (no sign, no blanks) into [lo, hi]; 0 or -1. */
static int
conf_parse_int(const char *s, long lo, long hi, long *out)
{
	long n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > (hi - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	if (n < lo)
		return -1;
	*out = n;
	return 0;
}

int
conf_parse_duration(const char *s, double *secs)
{
	unsigned long long n = 0, mult = 1;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (CONF_MAX_SECONDS - (unsigned)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (unsigned)(*s - '0');
	}
	switch (*s) {
	case '\0':
		break;
	case 's':
		s++;
		break;
	case 'm':
		mult = 60;
		s++;
		break;
	case 'h':
		mult = 3600;
		s++;
		break;
	case 'd':
		mult = 86400;
		s++;
		break;
	default:
		return -1;
	}
	if (*s != '\0' || n > CONF_MAX_SECONDS / mult)
		return -1;
	*secs = (double)(n * mult);
	return 0;
}

int
conf_parse_size(const char *s, size_t *bytes)
{
	size_t n = 0, mult = 1;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (SIZE_MAX - (size_t)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (size_t)(*s - '0');
	}
	switch (*s) {
	case '\0':
		break;
	case 'K': case 'k':
		mult = 1024;
		s++;
		break;
	case 'M': case 'm':
		mult = 1024 * 1024;
		s++;
		break;
	case 'G': case 'g':
		mult = 1024 * 1024 * 1024;
		s++;
		break;
	default:
		return -1;
	}
	if (*s != '\0' || n > SIZE_MAX / mult)
		return -1;
	*bytes = n * mult;
	return 0;
}

bool
conf_valid_id(const char *s)
{
	size_t n;

	if (*s == '\0' || *s == '.')
		return false;
	for (n = 0; s[n] != '\0'; n++)
		if (n >= CONF_MAX_ID || strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789._-", s[n]) == NULL)
			return false;
	return true;
}

/* True when s starts with one of the schemes and has a host after it. */
static bool
conf_valid_url(const char *s, const char *const *schemes)
{
	size_t n;

	for (; *schemes != NULL; schemes++) {
		n = strlen(*schemes);
		if (strncasecmp(s, *schemes, n) == 0)
			return s[n] != '\0' && s[n] != '/' && strpbrk(s, " \t") == NULL;
	}
	return false;
}

/* A single mail address, as SMTP takes it in RCPT TO / MAIL FROM. */
static bool
conf_valid_addr(const char *s)
{
	const char *at = strchr(s, '@');

	return at != NULL && at != s && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
	    strlen(s) <= CONF_MAX_ADDR && strpbrk(s, " \t<>,;\"()[]\\") == NULL;
}

/* Splits a list on blanks and commas into fresh strings; 0, or -1 after an error. */
static int
conf_split(struct conf_parser *p, const char *key, const char *val, char ***out,
    size_t *nout)
{
	const char *sep = " \t,";
	char **v = NULL, *tok;
	size_t n = 0, len;

	for (val += strspn(val, sep); *val != '\0'; val += strspn(val, sep)) {
		len = strcspn(val, sep);
		if (n == CONF_MAX_LIST) {
			conf_error(p, "%s lists more than %d items", key, CONF_MAX_LIST);
			goto fail;
		}
		if ((tok = strndup(val, len)) == NULL)
			goto oom;
		if (n % 16 == 0) {
			char **nv = realloc(v, (n + 16) * sizeof(*v));

			if (nv == NULL) {
				free(tok);
				goto oom;
			}
			v = nv;
		}
		v[n++] = tok;
		val += len;
	}
	if (n == 0) {
		conf_error(p, "%s lists nothing: give at least one item", key);
		goto fail;
	}
	*out = v;
	*nout = n;
	return 0;
oom:
	conf_error(p, "out of memory");
fail:
	while (n > 0)
		free(v[--n]);
	free(v);
	return -1;
}

static void
conf_free_list(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/* Appends a copy of s to a string vector. */
static int
conf_push(struct conf_parser *p, char ***v, size_t *n, const char *s)
{
	char **nv, *d;

	if ((d = conf_strdup(p, s)) == NULL)
		return -1;
	if ((nv = realloc(*v, (*n + 1) * sizeof(**v))) == NULL) {
		free(d);
		conf_error(p, "out of memory");
		return -1;
	}
	nv[(*n)++] = d;
	*v = nv;
	return 0;
}

/* Duration with bounds, for interval, jitter and the timeouts. */
static int
conf_duration(struct conf_parser *p, const char *key, const char *val, double lo,
    double hi, const char *range, double *out)
{
	char buf[CONF_SHOWN + 4];
	double d;

	if (conf_parse_duration(val, &d) < 0) {
		conf_error(p, "bad duration '%s' for %s: use 90s, 15m, 6h, 2d or seconds",
		    conf_shown(val, buf), key);
		return -1;
	}
	if (d < lo || d > hi) {
		conf_error(p, "%s %s out of range: use %s", key, val, range);
		return -1;
	}
	*out = d;
	return 0;
}

static int
conf_int(struct conf_parser *p, const char *key, const char *val, long lo, long hi,
    long *out)
{
	char buf[CONF_SHOWN + 4];

	if (conf_parse_int(val, lo, hi, out) < 0) {
		conf_error(p, "bad %s '%s': use a whole number from %ld to %ld", key,
		    conf_shown(val, buf), lo, hi);
		return -1;
	}
	return 0;
}

static struct conf_treaty *
conf_cur_treaty(struct conf_parser *p)
{
	return &p->conf->treaties[p->conf->ntreaties - 1];
}

static struct conf_alert *
conf_cur_alert(struct conf_parser *p)
{
	return &p->conf->alerts[p->conf->nalerts - 1];
}

/* [ratd] */

static void
set_socket(struct conf_parser *p, const char *val)
{
	struct sockaddr_un sun;

	if (strlen(val) >= sizeof(sun.sun_path)) {
		conf_error(p, "socket path longer than %zu bytes: choose a shorter path",
		    sizeof(sun.sun_path) - 1);
		return;
	}
	conf_set_str(p, &p->conf->socket, val);
}

/* Octal permissions, 0 to 0777, for key; example is a good value to suggest. */
static void
conf_mode(struct conf_parser *p, const char *key, const char *val, const char *example,
    mode_t *dst)
{
	char buf[CONF_SHOWN + 4];
	const char *s;
	long mode = 0;

	for (s = val; *s >= '0' && *s <= '7' && mode <= 0777; s++)
		mode = mode * 8 + (*s - '0');
	if (*s != '\0' || mode > 0777) {
		conf_error(p, "bad %s '%s': use octal permissions such as %s (at most 0777)", key,
		    conf_shown(val, buf), example);
		return;
	}
	*dst = (mode_t)mode;
}

static void
set_socket_mode(struct conf_parser *p, const char *val)
{
	conf_mode(p, "socket_mode", val, "0660", &p->conf->socket_mode);
}

static void
conf_group(struct conf_parser *p, const char *key, const char *val, char **dst)
{
	char buf[CONF_SHOWN + 4];

	if (*val == '\0') {
		free(*dst);
		*dst = NULL;
		return;
	}
	if (strlen(val) > CONF_MAX_GROUP || strpbrk(val, " \t:,") != NULL) {
		conf_error(p, "bad group name '%s' for %s: one name as in /etc/group",
		    conf_shown(val, buf), key);
		return;
	}
	conf_set_str(p, dst, val);
}

static void
set_socket_group(struct conf_parser *p, const char *val)
{
	conf_group(p, "socket_group", val, &p->conf->socket_group);
}

static void
set_admin_group(struct conf_parser *p, const char *val)
{
	conf_group(p, "admin_group", val, &p->conf->admin_group);
}

static void
set_state_dir(struct conf_parser *p, const char *val)
{
	conf_set_str(p, &p->conf->state_dir, val);
}

static void
set_seed_dir(struct conf_parser *p, const char *val)
{
	conf_set_str(p, &p->conf->seed_dir, val);
}

static void
set_interval(struct conf_parser *p, const char *val)
{
	conf_duration(p, "interval", val, 60, 30 * 86400, "60s..30d", &p->conf->interval);
}

static void
set_jitter(struct conf_parser *p, const char *val)
{
	/* Bounded by interval once the whole file is read. */
	conf_duration(p, "jitter", val, 0, 30 * 86400, "0..interval", &p->conf->jitter);
}

static void
set_timeout(struct conf_parser *p, const char *val)
{
	conf_duration(p, "timeout", val, 1, 3600, "1s..1h", &p->conf->timeout);
}

static void
set_max_page_size(struct conf_parser *p, const char *val)
{
	char buf[CONF_SHOWN + 4];
	size_t n;

	if (conf_parse_size(val, &n) < 0) {
		conf_error(p, "bad size '%s' for max_page_size: use 512K, 16M, 1G or bytes",
		    conf_shown(val, buf));
		return;
	}
	if (n < 1024 || n > 64 * 1024 * 1024) {
		conf_error(p, "max_page_size %s out of range: use 1K..64M", val);
		return;
	}
	p->conf->max_page_size = n;
}

static void
set_user_agent(struct conf_parser *p, const char *val)
{
	conf_set_str(p, &p->conf->user_agent, val);
}

static void
set_failures_before_alert(struct conf_parser *p, const char *val)
{
	long n;

	if (conf_int(p, "failures_before_alert", val, 1, 1000, &n) == 0)
		p->conf->failures_before_alert = (int)n;
}

static void
set_metrics_textfile(struct conf_parser *p, const char *val)
{
	char buf[CONF_SHOWN + 4];

	if (val[0] != '/' || val[strlen(val) - 1] == '/') {
		conf_error(p, "bad metrics_textfile '%s': use an absolute file path such as "
		    "/var/lib/prometheus/node-exporter/ratd.prom", conf_shown(val, buf));
		return;
	}
	conf_set_str(p, &p->conf->metrics_textfile, val);
}

/* A host name as a URL holds it: dot-separated letters, digits and inner hyphens (an
 * IPv4 address is one too; an internationalised name in its xn-- form), or an IPv6
 * address in brackets. */
static bool
conf_valid_host(const char *s)
{
	size_t n = strlen(s), label = 0, i;

	if (n == 0 || n > 253)
		return false;
	if (s[0] == '[')
		return n > 2 && s[n - 1] == ']' &&
		    strspn(s + 1, "0123456789abcdefABCDEF:.") == n - 2;
	for (i = 0; i <= n; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		    s[i]) != NULL || (s[i] == '-' && label > 0))
			label++;
		else
			return false;
	}
	return true;
}

/* (+) Hosts a page's redirect may lead to besides its URL's own: a list per line. */
static void
set_redirect_hosts(struct conf_parser *p, const char *val)
{
	struct conf *c = p->conf;
	char **v, buf[CONF_SHOWN + 4];
	size_t n, i;

	if (*val == '\0' || conf_split(p, "redirect_hosts", val, &v, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		if (!conf_valid_host(v[i]))
			conf_error(p, "bad redirect_hosts entry '%s': give host names such as "
			    "treaties.un.org, without scheme, port or path (an internationalised "
			    "name in its xn-- form)", conf_shown(v[i], buf));
		else if (c->nredirect_hosts >= CONF_MAX_REDIRECT_HOSTS) {
			conf_error(p, "more than %d redirect_hosts", CONF_MAX_REDIRECT_HOSTS);
			break;
		} else if (conf_push(p, &c->redirect_hosts, &c->nredirect_hosts, v[i]) < 0)
			break;
	}
	conf_free_list(v, n);
}

static void
set_host_concurrency(struct conf_parser *p, const char *val)
{
	long n;

	if (conf_int(p, "host_concurrency", val, 1, 16, &n) == 0)
		p->conf->host_concurrency = (int)n;
}

static void
set_host_spacing(struct conf_parser *p, const char *val)
{
	conf_duration(p, "host_spacing", val, 0, 3600, "0..1h", &p->conf->host_spacing);
}

static void
set_metrics_textfile_mode(struct conf_parser *p, const char *val)
{
	conf_mode(p, "metrics_textfile_mode", val, "0640", &p->conf->metrics_textfile_mode);
}

/* Indices used once the whole file is read. */
enum { RK_STATE_DIR = 4, RK_INTERVAL = 6, RK_JITTER = 7 };

/* The zone's offsets are computed here, once, so no later hot path touches TZ. */
static void
set_day_zone(struct conf_parser *p, const char *val)
{
	char err[256];

	zone_free(&p->conf->day_zone);
	if (zone_load(&p->conf->day_zone, val, time(NULL), err, sizeof(err)) < 0)
		conf_error(p, "day_zone: %s", err);
}

static const struct conf_key conf_ratd_keys[] = {
	{ "socket", set_socket, 0 },
	{ "socket_mode", set_socket_mode, 0 },
	{ "socket_group", set_socket_group, KEY_EMPTY_OK },
	{ "admin_group", set_admin_group, KEY_EMPTY_OK },
	[RK_STATE_DIR] = { "state_dir", set_state_dir, 0 },
	{ "seed_dir", set_seed_dir, 0 },
	[RK_INTERVAL] = { "interval", set_interval, 0 },
	[RK_JITTER] = { "jitter", set_jitter, 0 },
	{ "timeout", set_timeout, 0 },
	{ "max_page_size", set_max_page_size, 0 },
	{ "user_agent", set_user_agent, 0 },
	{ "failures_before_alert", set_failures_before_alert, 0 },
	{ "metrics_textfile", set_metrics_textfile, 0 },
	{ "redirect_hosts", set_redirect_hosts, KEY_REPEAT | KEY_EMPTY_OK },
	{ "day_zone", set_day_zone, 0 },
	{ "metrics_textfile_mode", set_metrics_textfile_mode, 0 },
	{ "host_concurrency", set_host_concurrency, 0 },
	{ "host_spacing", set_host_spacing, 0 },
	{ NULL, NULL, 0 },
};

_Static_assert(sizeof(conf_ratd_keys) / sizeof(conf_ratd_keys[0]) <= CONF_MAX_KEYS + 1,
    "conf_parser.seen holds every [ratd] key");

/* [publish] */

static void
set_publish_dir(struct conf_parser *p, const char *val)
{
	char buf[CONF_SHOWN + 4];

	if (val[0] != '/') {
		conf_error(p, "bad dir '%s': use an absolute directory such as /var/lib/ratd/www",
		    conf_shown(val, buf));
		return;
	}
	conf_set_str(p, &p->conf->publish_dir, val);
}

static void
set_publish_base_url(struct conf_parser *p, const char *val)
{
	static const char *const schemes[] = { "http://", "https://", NULL };
	char buf[CONF_SHOWN + 4], *url;
	size_t n = strlen(val);

	if (!conf_valid_url(val, schemes) || strpbrk(val, "\"<>") != NULL) {
		conf_error(p, "bad base_url '%s': use the http:// or https:// URL dir is served "
		    "at, such as https://example.org/treaties/", conf_shown(val, buf));
		return;
	}
	/* Links are base_url + a file name: the directory's URL ends with '/'. */
	if ((url = malloc(n + 2)) == NULL) {
		conf_error(p, "out of memory");
		return;
	}
	snprintf(url, n + 2, "%s%s", val, val[n - 1] == '/' ? "" : "/");
	free(p->conf->publish_base_url);
	p->conf->publish_base_url = url;
}

enum { PK_DIR, PK_BASE_URL };

static const struct conf_key conf_publish_keys[] = {
	[PK_DIR] = { "dir", set_publish_dir, 0 },
	[PK_BASE_URL] = { "base_url", set_publish_base_url, 0 },
	{ NULL, NULL, 0 },
};

static void
conf_end_publish(struct conf_parser *p)
{
	if (p->seen[PK_DIR] == 0)
		conf_error_at(p, p->secline, "[publish] needs dir: the directory to write "
		    "index.html, feed.atom, ID.svg and ID.ics into");
	if (p->seen[PK_BASE_URL] == 0)
		conf_error_at(p, p->secline, "[publish] needs base_url: the URL dir is served at, "
		    "for the feed's and the calendars' links");
}

/* [treaty ID] */

static void
set_title(struct conf_parser *p, const char *val)
{
	conf_set_str(p, &conf_cur_treaty(p)->title, val);
}

static void
set_url(struct conf_parser *p, const char *val)
{
	static const char *const schemes[] = { "http://", "https://", NULL };
	char buf[CONF_SHOWN + 4];

	if (!conf_valid_url(val, schemes)) {
		conf_error(p, "bad url '%s': use an http:// or https:// URL without blanks",
		    conf_shown(val, buf));
		return;
	}
	conf_set_str(p, &conf_cur_treaty(p)->url, val);
}

static void
set_format(struct conf_parser *p, const char *val)
{
	char buf[CONF_SHOWN + 4];
	int f = untc_format_from_name(val);

	if (f < 0) {
		conf_error(p, "bad format '%s': use auto, html or xml", conf_shown(val, buf));
		return;
	}
	conf_cur_treaty(p)->format = (enum untc_format)f;
}

static void
set_threshold(struct conf_parser *p, const char *val)
{
	long n;

	if (conf_int(p, "threshold", val, 1, 10000, &n) == 0)
		conf_cur_treaty(p)->rule.threshold = (int)n;
}

static bool
conf_is_unit(const char *w, const char *singular)
{
	size_t n = strlen(singular);

	return strncmp(w, singular, n) == 0 && (w[n] == '\0' || strcmp(w + n, "s") == 0);
}

/* "N months", "N days" or "N months N days"; singular units too. */
static int
conf_parse_delay(const char *val, int *months, int *days)
{
	char copy[64], *w[5], *save = NULL, *tok;
	long n;
	int k = 0;

	if (strlen(val) >= sizeof(copy))
		return -1;
	strcpy(copy, val);
	for (tok = strtok_r(copy, " \t", &save); tok != NULL && k < 5;
	    tok = strtok_r(NULL, " \t", &save))
		w[k++] = tok;
	if (k != 2 && k != 4)
		return -1;
	*months = *days = 0;
	if (k == 2 && conf_is_unit(w[1], "day")) {
		if (conf_parse_int(w[0], 0, 100000, &n) < 0)
			return -1;
		*days = (int)n;
		return 0;
	}
	if (!conf_is_unit(w[1], "month") || conf_parse_int(w[0], 0, 1200, &n) < 0)
		return -1;
	*months = (int)n;
	if (k == 2)
		return 0;
	if (!conf_is_unit(w[3], "day") || conf_parse_int(w[2], 0, 100000, &n) < 0)
		return -1;
	*days = (int)n;
	return 0;
}

static void
set_eif_delay(struct conf_parser *p, const char *val)
{
	struct rule *r = &conf_cur_treaty(p)->rule;
	char buf[CONF_SHOWN + 4];

	if (conf_parse_delay(val, &r->delay_months, &r->delay_days) < 0)
		conf_error(p, "bad eif_delay '%s': use N days, N months or N months N days "
		    "(months 0..1200, days 0..100000)", conf_shown(val, buf));
}

static void
set_eif_align(struct conf_parser *p, const char *val)
{
	char buf[CONF_SHOWN + 4];

	if (strcmp(val, "next-month") == 0)
		conf_cur_treaty(p)->rule.align = RULE_ALIGN_NEXT_MONTH;
	else if (strcmp(val, "none") == 0)
		conf_cur_treaty(p)->rule.align = RULE_ALIGN_NONE;
	else
		conf_error(p, "bad eif_align '%s': use next-month or none",
		    conf_shown(val, buf));
}

static bool
conf_countable(enum kind k)
{
	size_t i;

	for (i = 0; i < CONF_NKINDS; i++)
		if (conf_count_kinds[i] == k)
			return true;
	return false;
}

static void
set_count(struct conf_parser *p, const char *val)
{
	char buf[CONF_SHOWN + 4], **v;
	unsigned mask = 0;
	size_t i, n;
	enum kind k;

	if (conf_split(p, "count", val, &v, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		k = kind_from_name(v[i]);
		if (!conf_countable(k)) {
			conf_error(p, "unknown kind '%s' in count: use ratification, accession, "
			    "acceptance, approval, succession, confirmation",
			    conf_shown(v[i], buf));
			mask = 0;
			break;
		}
		mask |= 1u << k;
	}
	conf_free_list(v, n);
	if (mask != 0)
		conf_cur_treaty(p)->rule.count_mask = mask;
}

static void
set_exclude(struct conf_parser *p, const char *val)
{
	struct rule *r = &conf_cur_treaty(p)->rule;

	if (strlen(val) > SNAPSHOT_MAX_NAME) {
		conf_error(p, "exclude name longer than %d bytes can never match a participant",
		    SNAPSHOT_MAX_NAME);
		return;
	}
	if (r->nexclude >= SNAPSHOT_MAX_PARTICIPANTS) {
		conf_error(p, "more than %d exclude lines", SNAPSHOT_MAX_PARTICIPANTS);
		return;
	}
	conf_push(p, &r->exclude, &r->nexclude, val);
}

static void
set_treaty_interval(struct conf_parser *p, const char *val)
{
	conf_duration(p, "interval", val, 60, 30 * 86400, "60s..30d",
	    &conf_cur_treaty(p)->interval);
}

static void
set_approaching(struct conf_parser *p, const char *val)
{
	long n;

	if (conf_int(p, "approaching", val, 0, 10000, &n) == 0)
		conf_cur_treaty(p)->approaching = (int)n;
}

static void
set_later(struct conf_parser *p, const char *val)
{
	char buf[CONF_SHOWN + 4];

	if (strcmp(val, "after-entry-into-force") == 0)
		conf_cur_treaty(p)->rule.later = RULE_LATER_AFTER_EIF;
	else if (strcmp(val, "after-threshold") == 0)
		conf_cur_treaty(p)->rule.later = RULE_LATER_AFTER_THRESHOLD;
	else
		conf_error(p, "bad later '%s': use after-entry-into-force or after-threshold",
		    conf_shown(val, buf));
}

static void
set_later_delay(struct conf_parser *p, const char *val)
{
	struct rule *r = &conf_cur_treaty(p)->rule;
	char buf[CONF_SHOWN + 4];

	if (conf_parse_delay(val, &r->later_months, &r->later_days) < 0)
		conf_error(p, "bad later_delay '%s': use N days, N months or N months N days "
		    "(months 0..1200, days 0..100000)", conf_shown(val, buf));
}

static void
set_later_align(struct conf_parser *p, const char *val)
{
	char buf[CONF_SHOWN + 4];

	if (strcmp(val, "next-month") == 0)
		conf_cur_treaty(p)->rule.later_align = RULE_ALIGN_NEXT_MONTH;
	else if (strcmp(val, "none") == 0)
		conf_cur_treaty(p)->rule.later_align = RULE_ALIGN_NONE;
	else
		conf_error(p, "bad later_align '%s': use next-month or none",
		    conf_shown(val, buf));
}

static void
set_not_before(struct conf_parser *p, const char *val)
{
	struct rule *r = &conf_cur_treaty(p)->rule;
	char buf[CONF_SHOWN + 4];

	if (date_parse_iso(val, &r->not_before) < 0) {
		conf_error(p, "bad not_before '%s': use a date YYYY-MM-DD", conf_shown(val, buf));
		return;
	}
	r->has_not_before = true;
}

/* A participant's name as a page shows it: not empty, not longer than a name can be. */
static int
conf_participant(struct conf_parser *p, const char *key, const char *name)
{
	if (*name == '\0' || strlen(name) > SNAPSHOT_MAX_NAME) {
		conf_error(p, "%s: a participant's name has 1 to %d bytes", key,
		    SNAPSHOT_MAX_NAME);
		return -1;
	}
	return 0;
}

static void
set_requires(struct conf_parser *p, const char *val)
{
	struct rule *r = &conf_cur_treaty(p)->rule;
	size_t i;

	if (conf_participant(p, "requires", val) < 0)
		return;
	for (i = 0; i < r->nrequires; i++)
		if (strcmp(r->requires[i], val) == 0) {
			conf_error(p, "requires names '%s' twice", r->requires[i]);
			return;
		}
	if (r->nrequires >= SNAPSHOT_MAX_PARTICIPANTS) {
		conf_error(p, "more than %d requires lines", SNAPSHOT_MAX_PARTICIPANTS);
		return;
	}
	conf_push(p, &r->requires, &r->nrequires, val);
}

static void
set_after_treaty(struct conf_parser *p, const char *val)
{
	char buf[CONF_SHOWN + 4];

	/* Whether the id names a [treaty] is checked once every file is read. */
	if (!conf_valid_id(val)) {
		conf_error(p, "bad after_treaty '%s': use the id of another [treaty] section",
		    conf_shown(val, buf));
		return;
	}
	conf_set_str(p, &conf_cur_treaty(p)->rule.after_treaty, val);
	p->after_at[p->conf->ntreaties - 1] = (struct conf_at){ p->seq, p->line };
}

/* "NAME: DATE", split at the last colon (a name may hold one, a date never does). */
static void
conf_dated(struct conf_parser *p, const char *key, const char *val, struct rule_dated **v,
    size_t *n)
{
	char buf[CONF_SHOWN + 4], name[SNAPSHOT_MAX_NAME + 1];
	const char *colon = strrchr(val, ':'), *d;
	struct rule_dated *w;
	size_t len, i;
	day_t day;

	for (d = colon ? colon + 1 : NULL; d != NULL && (*d == ' ' || *d == '\t'); d++)
		;
	for (len = colon ? (size_t)(colon - val) : 0; len > 0 &&
	    (val[len - 1] == ' ' || val[len - 1] == '\t'); len--)
		;
	if (colon == NULL || len == 0 || len > SNAPSHOT_MAX_NAME || date_parse_iso(d, &day) < 0) {
		conf_error(p, "bad %s '%s': use NAME: YYYY-MM-DD, the participant's name as the "
		    "page shows it", key, conf_shown(val, buf));
		return;
	}
	memcpy(name, val, len);
	name[len] = '\0';
	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i].name, name) == 0) {
			conf_error(p, "%s names '%s' twice", key, name);
			return;
		}
	if (*n >= SNAPSHOT_MAX_PARTICIPANTS || (w = realloc(*v, (*n + 1) * sizeof(*w))) == NULL) {
		conf_error(p, "too many %s lines", key);
		return;
	}
	*v = w;
	if ((w[*n].name = conf_strdup(p, name)) == NULL)
		return;
	w[*n].date = day;
	w[*n].line = p->line;
	(*n)++;
}

static void
set_withdrawn(struct conf_parser *p, const char *val)
{
	struct rule *r = &conf_cur_treaty(p)->rule;

	conf_dated(p, "withdrawn", val, &r->withdrawn, &r->nwithdrawn);
}

static void
set_effective(struct conf_parser *p, const char *val)
{
	struct rule *r = &conf_cur_treaty(p)->rule;

	conf_dated(p, "effective", val, &r->effective, &r->neffective);
}

/* Indices used by the end-of-section checks. */
enum { TK_TITLE, TK_URL, TK_FORMAT, TK_THRESHOLD, TK_EIF_DELAY, TK_EIF_ALIGN,
	TK_LATER_DELAY = 11, TK_LATER_ALIGN };

static const struct conf_key conf_treaty_keys[] = {
	[TK_TITLE] = { "title", set_title, 0 },
	[TK_URL] = { "url", set_url, 0 },
	[TK_FORMAT] = { "format", set_format, 0 },
	[TK_THRESHOLD] = { "threshold", set_threshold, 0 },
	[TK_EIF_DELAY] = { "eif_delay", set_eif_delay, 0 },
	[TK_EIF_ALIGN] = { "eif_align", set_eif_align, 0 },
	{ "count", set_count, 0 },
	{ "exclude", set_exclude, KEY_REPEAT },
	{ "interval", set_treaty_interval, 0 },
	{ "approaching", set_approaching, 0 },
	{ "later", set_later, 0 },
	[TK_LATER_DELAY] = { "later_delay", set_later_delay, 0 },
	[TK_LATER_ALIGN] = { "later_align", set_later_align, 0 },
	{ "not_before", set_not_before, 0 },
	{ "requires", set_requires, KEY_REPEAT },
	{ "after_treaty", set_after_treaty, 0 },
	{ "withdrawn", set_withdrawn, KEY_REPEAT },
	{ "effective", set_effective, KEY_REPEAT },
	{ NULL, NULL, 0 },
};

_Static_assert(sizeof(conf_treaty_keys) / sizeof(conf_treaty_keys[0]) <= CONF_MAX_KEYS + 1,
    "conf_parser.seen holds every [treaty] key");

/* [alert NAME] */

static void
set_exec(struct conf_parser *p, const char *val)
{
	char buf[CONF_SHOWN + 4];

	if (val[0] != '/') {
		conf_error(p, "exec '%s' is not an absolute path: use /path/to/program "
		    "(run without a shell, event JSON on stdin)", conf_shown(val, buf));
		return;
	}
	conf_set_str(p, &conf_cur_alert(p)->target, val);
}

static void
set_webhook(struct conf_parser *p, const char *val)
{
	static const char *const schemes[] = { "http://", "https://", NULL };
	char buf[CONF_SHOWN + 4];

	if (!conf_valid_url(val, schemes)) {
		conf_error(p, "bad webhook '%s': use an http:// or https:// URL without blanks",
		    conf_shown(val, buf));
		return;
	}
	conf_set_str(p, &conf_cur_alert(p)->target, val);
}

static void
set_mailto(struct conf_parser *p, const char *val)
{
	struct conf_alert *a = conf_cur_alert(p);
	char buf[CONF_SHOWN + 4];

	if (!conf_valid_addr(val)) {
		conf_error(p, "bad mailto '%s': one address per line, as in ops@example.org",
		    conf_shown(val, buf));
		return;
	}
	if (a->nmailto >= CONF_MAX_MAILTO) {
		conf_error(p, "more than %d mailto lines: use a mailing list", CONF_MAX_MAILTO);
		return;
	}
	conf_push(p, &a->mailto, &a->nmailto, val);
}

static void
set_smtp_url(struct conf_parser *p, const char *val)
{
	static const char *const schemes[] = { "smtp://", "smtps://", NULL };
	char buf[CONF_SHOWN + 4];

	if (!conf_valid_url(val, schemes)) {
		conf_error(p, "bad smtp_url '%s': use smtp://HOST[:PORT] or smtps://HOST[:PORT]",
		    conf_shown(val, buf));
		return;
	}
	conf_set_str(p, &conf_cur_alert(p)->smtp_url, val);
}

static void
set_mail_from(struct conf_parser *p, const char *val)
{
	char buf[CONF_SHOWN + 4];

	if (!conf_valid_addr(val)) {
		conf_error(p, "bad mail_from '%s': use one address, as in ratd@example.org",
		    conf_shown(val, buf));
		return;
	}
	conf_set_str(p, &conf_cur_alert(p)->mail_from, val);
}

static void
set_events(struct conf_parser *p, const char *val)
{
	struct conf_alert *a = conf_cur_alert(p);
	char buf[CONF_SHOWN + 4], **v;
	size_t i, n;

	if (strcmp(val, "*") == 0)
		return;
	if (conf_split(p, "events", val, &v, &n) < 0)
		return;
	for (i = 0; i < n; i++)
		if (!event_type_known(v[i])) {
			conf_error(p, "unknown event type '%s' in events: use * or some of "
			    EV_TYPE_NAMES, conf_shown(v[i], buf));
			conf_free_list(v, n);
			return;
		}
	a->events = v;
	a->nevents = n;
}

static void
set_treaties(struct conf_parser *p, const char *val)
{
	struct conf_alert *a = conf_cur_alert(p);
	char **v;
	size_t n;

	if (strcmp(val, "*") == 0)
		return;
	/* Each id is checked against the treaties once the whole file is read. */
	if (conf_split(p, "treaties", val, &v, &n) < 0)
		return;
	a->treaties = v;
	a->ntreaties = n;
	p->alert_treaties_at[p->conf->nalerts - 1] = (struct conf_at){ p->seq, p->line };
}

static void
set_alert_timeout(struct conf_parser *p, const char *val)
{
	conf_duration(p, "timeout", val, 1, 3600, "1s..1h", &conf_cur_alert(p)->timeout);
}

enum { AK_EXEC, AK_WEBHOOK, AK_MAILTO, AK_SMTP_URL, AK_MAIL_FROM };

static const struct conf_key conf_alert_keys[] = {
	[AK_EXEC] = { "exec", set_exec, 0 },
	[AK_WEBHOOK] = { "webhook", set_webhook, 0 },
	[AK_MAILTO] = { "mailto", set_mailto, KEY_REPEAT },
	[AK_SMTP_URL] = { "smtp_url", set_smtp_url, 0 },
	[AK_MAIL_FROM] = { "mail_from", set_mail_from, 0 },
	{ "events", set_events, 0 },
	{ "treaties", set_treaties, 0 },
	{ "timeout", set_alert_timeout, 0 },
	{ NULL, NULL, 0 },
};

_Static_assert(sizeof(conf_alert_keys) / sizeof(conf_alert_keys[0]) <= CONF_MAX_KEYS + 1,
    "conf_parser.seen holds every [alert] key");

/* Sections */

static void
conf_end_treaty(struct conf_parser *p)
{
	struct conf_treaty *t = conf_cur_treaty(p);

	if (p->seen[TK_URL] == 0)
		conf_error_at(p, p->secline, "%s has no url: add url = https://treaties.un.org/"
		    "Pages/ViewDetails.aspx?src=TREATY&mtdsg_no=...", p->secname);
	if (p->seen[TK_THRESHOLD] == 0)
		conf_error_at(p, p->secline, "%s has no threshold: add threshold = N, the "
		    "instruments needed for entry into force", p->secname);
	if (t->title == NULL)
		t->title = conf_strdup(p, t->id);
	/* A later rule given in part takes the rest from eif_delay and eif_align. */
	if (p->seen[TK_LATER_DELAY] != 0 || p->seen[TK_LATER_ALIGN] != 0) {
		t->rule.later_set = true;
		if (p->seen[TK_LATER_DELAY] == 0) {
			t->rule.later_months = t->rule.delay_months;
			t->rule.later_days = t->rule.delay_days;
		}
		if (p->seen[TK_LATER_ALIGN] == 0)
			t->rule.later_align = t->rule.align;
	}
}

static void
conf_end_alert(struct conf_parser *p)
{
	static const char *const kinds[] = {
		[ALERT_EXEC] = "exec", [ALERT_WEBHOOK] = "webhook", [ALERT_MAILTO] = "mailto",
	};
	struct conf_alert *a = conf_cur_alert(p);
	int k, first = 0;

	for (k = AK_EXEC; k <= AK_MAILTO; k++) {
		if (p->seen[k] == 0)
			continue;
		if (first != 0) {
			conf_error_at(p, p->seen[k], "%s has %s (line %d) and %s: an [alert] has "
			    "exactly one of exec, webhook, mailto; make another [alert] section",
			    p->secname, kinds[a->kind], first, kinds[k + ALERT_EXEC]);
			continue;
		}
		first = p->seen[k];
		a->kind = (enum alert_kind)(k + ALERT_EXEC);
	}
	if (first == 0)
		conf_error_at(p, p->secline, "%s has no target: add one of exec, webhook or "
		    "mailto", p->secname);
	if (p->seen[AK_MAILTO] != 0 && p->seen[AK_SMTP_URL] == 0)
		conf_error_at(p, p->secline, "%s has mailto but no smtp_url: add smtp_url = "
		    "smtp://HOST:25", p->secname);
	if (p->seen[AK_MAILTO] != 0 && p->seen[AK_MAIL_FROM] == 0)
		conf_error_at(p, p->secline, "%s has mailto but no mail_from: add mail_from = "
		    "ratd@HOST", p->secname);
	if (p->seen[AK_MAILTO] == 0 && p->seen[AK_SMTP_URL] != 0)
		conf_error_at(p, p->seen[AK_SMTP_URL], "smtp_url is only for mailto alerts: "
		    "remove it or add mailto");
	if (p->seen[AK_MAILTO] == 0 && p->seen[AK_MAIL_FROM] != 0)
		conf_error_at(p, p->seen[AK_MAIL_FROM], "mail_from is only for mailto alerts: "
		    "remove it or add mailto");
}

static void
conf_end_section(struct conf_parser *p)
{
	if (p->sec == SEC_RATD)
		memcpy(p->ratd_seen, p->seen, sizeof(p->seen));
	else if (p->sec == SEC_TREATY)
		conf_end_treaty(p);
	else if (p->sec == SEC_ALERT)
		conf_end_alert(p);
	else if (p->sec == SEC_PUBLISH)
		conf_end_publish(p);
	p->sec = SEC_NONE;
	p->keys = NULL;
	memset(p->seen, 0, sizeof(p->seen));
}

/* The current file's name: one of conf->files. */
static const char *
conf_file_name(const struct conf_parser *p)
{
	return p->conf->files[p->seq];
}

/* Where an earlier section was: "line 4" in this file, "FILE:4" in another one. */
static const char *
conf_first_at(const struct conf_parser *p, const char *file, int line, char *buf,
    size_t len)
{
	if (file == conf_file_name(p))
		snprintf(buf, len, "line %d", line);
	else
		snprintf(buf, len, "%s:%d", file, line);
	return buf;
}

static void
conf_begin_treaty(struct conf_parser *p, const char *id)
{
	static const struct {
		const char *id, *file;
	} reserved[] = {
		{ "alerts", "alerts.json in state_dir" },
		{ "index", "index.html in [publish] dir" },
	};
	struct conf *c = p->conf;
	const struct conf_treaty *dup = conf_treaty_find(c, id);
	char buf[CONF_SHOWN + 4], first[PATH_MAX + 32];
	struct conf_treaty *v;
	size_t i;

	if (!conf_valid_id(id)) {
		conf_error(p, "bad treaty id '%s': use up to %d of A-Z a-z 0-9 . _ - "
		    "(not starting with '.'), as in [treaty IV-13]", conf_shown(id, buf),
		    CONF_MAX_ID);
		return;
	}
	/* The id names files: ID.json beside alerts.json in state_dir, ID.html beside
	 * index.html in the publish dir. */
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(id, reserved[i].id) == 0) {
			conf_error(p, "treaty id '%s' is reserved (%s is ratd's own file): choose "
			    "another id", id, reserved[i].file);
			return;
		}
	if (dup != NULL) {
		conf_error(p, "duplicate [treaty %s] (first at %s): merge the two sections",
		    id, conf_first_at(p, dup->file, dup->line, first, sizeof(first)));
		return;
	}
	if (c->ntreaties == CONF_MAX_TREATIES) {
		conf_error(p, "too many [treaty] sections: at most %d", CONF_MAX_TREATIES);
		return;
	}
	if ((v = realloc(c->treaties, (c->ntreaties + 1) * sizeof(*v))) == NULL) {
		conf_error(p, "out of memory");
		return;
	}
	c->treaties = v;
	memset(&v[c->ntreaties], 0, sizeof(*v));
	v[c->ntreaties].file = conf_file_name(p);
	v[c->ntreaties].line = p->line;
	v[c->ntreaties].format = UNTC_AUTO;
	v[c->ntreaties].rule.align = RULE_ALIGN_NONE;
	for (i = 0; i < CONF_NKINDS; i++)
		v[c->ntreaties].rule.count_mask |= 1u << conf_count_kinds[i];
	v[c->ntreaties].id = conf_strdup(p, id);
	c->ntreaties++;
	if (v[c->ntreaties - 1].id == NULL)
		return;
	p->sec = SEC_TREATY;
	p->keys = conf_treaty_keys;
}

static const struct conf_alert *
conf_alert_find(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nalerts; i++)
		if (c->alerts[i].name != NULL && strcmp(c->alerts[i].name, name) == 0)
			return &c->alerts[i];
	return NULL;
}

static void
conf_begin_alert(struct conf_parser *p, const char *name)
{
	struct conf *c = p->conf;
	const struct conf_alert *dup = conf_alert_find(c, name);
	char buf[CONF_SHOWN + 4], first[PATH_MAX + 32];
	struct conf_alert *v;

	if (!conf_valid_id(name)) {
		conf_error(p, "bad alert name '%s': use up to %d of A-Z a-z 0-9 . _ - "
		    "(not starting with '.'), as in [alert ops]", conf_shown(name, buf),
		    CONF_MAX_ID);
		return;
	}
	if (dup != NULL) {
		conf_error(p, "duplicate [alert %s] (first at %s): rename one", name,
		    conf_first_at(p, dup->file, dup->line, first, sizeof(first)));
		return;
	}
	if (c->nalerts == CONF_MAX_ALERTS) {
		conf_error(p, "too many [alert] sections: at most %d", CONF_MAX_ALERTS);
		return;
	}
	if ((v = realloc(c->alerts, (c->nalerts + 1) * sizeof(*v))) == NULL) {
		conf_error(p, "out of memory");
		return;
	}
	c->alerts = v;
	memset(&v[c->nalerts], 0, sizeof(*v));
	v[c->nalerts].file = conf_file_name(p);
	v[c->nalerts].line = p->line;
	v[c->nalerts].timeout = 30;
	v[c->nalerts].name = conf_strdup(p, name);
	c->nalerts++;
	if (v[c->nalerts - 1].name == NULL)
		return;
	p->sec = SEC_ALERT;
	p->keys = conf_alert_keys;
}

static void
conf_begin_publish(struct conf_parser *p)
{
	char first[PATH_MAX + 32];

	if (p->publish_at.line != 0) {
		conf_error(p, "duplicate [publish] (first at %s): merge the two sections",
		    conf_first_at(p, p->conf->files[p->publish_at.seq], p->publish_at.line,
		    first, sizeof(first)));
		return;
	}
	p->publish_at = (struct conf_at){ p->seq, p->line };
	p->sec = SEC_PUBLISH;
	p->keys = conf_publish_keys;
}

/* "[type name]": the section line, already trimmed, '[' and ']' included. */
static void
conf_section(struct conf_parser *p, char *s)
{
	char *type, *name, buf[CONF_SHOWN + 4], first[PATH_MAX + 32];
	size_t n = strlen(s);

	conf_end_section(p);
	p->sec = SEC_SKIP;      /* keys of a refused section are not reported again */
	p->secline = p->line;
	p->after_include = false;
	if (s[n - 1] != ']') {
		conf_error(p, "section line must end with ']', as in [treaty IV-13]");
		return;
	}
	s[n - 1] = '\0';
	type = conf_trim(s + 1);
	name = type + strcspn(type, " \t");
	if (*name != '\0')
		*name++ = '\0';
	name = conf_trim(name);
	snprintf(p->secname, sizeof(p->secname), "[%.*s%s%.*s]", (int)utf8_cut(type, 8), type,
	    *name == '\0' ? "" : " ", (int)utf8_cut(name, CONF_MAX_ID), name);
	if (strcmp(type, "ratd") == 0 && *name == '\0') {
		if (p->ratd_at.line != 0) {
			conf_error(p, "duplicate [ratd] (first at %s): merge the two sections",
			    conf_first_at(p, p->conf->files[p->ratd_at.seq], p->ratd_at.line,
			    first, sizeof(first)));
			return;
		}
		p->ratd_at = (struct conf_at){ p->seq, p->line };
		p->sec = SEC_RATD;
		p->keys = conf_ratd_keys;
	} else if (strcmp(type, "publish") == 0 && *name == '\0')
		conf_begin_publish(p);
	else if (strcmp(type, "treaty") == 0 && *name != '\0')
		conf_begin_treaty(p, name);
	else if (strcmp(type, "alert") == 0 && *name != '\0')
		conf_begin_alert(p, name);
	else if (strcmp(type, "ratd") == 0 || strcmp(type, "publish") == 0)
		conf_error(p, "[%s] takes no name: write [%s]", type, type);
	else if (strcmp(type, "treaty") == 0 || strcmp(type, "alert") == 0)
		conf_error(p, "[%s] needs a name: [%s %s]", type, type,
		    strcmp(type, "treaty") == 0 ? "ID" : "NAME");
	else
		conf_error(p, "unknown section [%s]: use [ratd], [treaty ID] or [alert NAME]",
		    conf_shown(type, buf));
}

static void
conf_unknown_key(struct conf_parser *p, const char *key)
{
	char known[512], buf[CONF_SHOWN + 4];
	size_t i, n = 0;

	known[0] = '\0';
	for (i = 0; p->keys[i].name != NULL && n < sizeof(known); i++)
		n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s", i ? ", " : "",
		    p->keys[i].name);
	conf_error(p, "unknown key '%s' in %s (known: %s)", conf_shown(key, buf),
	    p->secname, known);
}

static void conf_include(struct conf_parser *p, const char *val);

/* "key = value". */
static void
conf_assign(struct conf_parser *p, char *s)
{
	char *eq = strchr(s, '='), *key, *val, buf[CONF_SHOWN + 4];
	size_t i;

	if (eq == NULL) {
		conf_error(p, "expected 'key = value', '[section]' or '# comment'");
		return;
	}
	*eq = '\0';
	key = conf_trim(s);
	val = conf_trim(eq + 1);
	if (*key == '\0') {
		conf_error(p, "no key before '=': write 'key = value'");
		return;
	}
	if (strcmp(key, "include") == 0) {
		conf_include(p, val);
		return;
	}
	if (p->sec == SEC_SKIP)
		return;
	if (p->sec == SEC_NONE && p->after_include) {
		conf_error(p, "key '%s' after an include line, which ends the section: "
		    "start a [section] again or move the include", conf_shown(key, buf));
		return;
	}
	if (p->sec == SEC_NONE) {
		conf_error(p, "key '%s' outside any section: put it under [ratd], "
		    "[treaty ID] or [alert NAME]", conf_shown(key, buf));
		return;
	}
	for (i = 0; p->keys[i].name != NULL; i++)
		if (strcmp(p->keys[i].name, key) == 0)
			break;
	if (p->keys[i].name == NULL) {
		conf_unknown_key(p, key);
		return;
	}
	if (p->seen[i] != 0 && !(p->keys[i].flags & KEY_REPEAT)) {
		conf_error(p, "duplicate key '%s' in %s (first at line %d): keep one", key,
		    p->secname, p->seen[i]);
		return;
	}
	if (*val == '\0' && !(p->keys[i].flags & KEY_EMPTY_OK)) {
		conf_error(p, "%s has no value: give one, or delete the line for the default",
		    key);
		return;
	}
	if (p->seen[i] == 0)
		p->seen[i] = p->line;
	p->keys[i].set(p, val);
}

/* Checks one raw line (no newline) is text: UTF-8, no NUL, no control characters. */
static int
conf_check_text(struct conf_parser *p, const char *line, size_t n)
{
	const unsigned char *s = (const unsigned char *)line;
	size_t i, len;

	for (i = 0; i < n; i += len) {
		if (s[i] == '\0') {
			conf_error(p, "NUL byte: this is not a text file");
			return -1;
		}
		/* A lone CR ends CRLF lines; anything else could forge log or header lines. */
		if ((s[i] < 0x20 && s[i] != '\t' && !(s[i] == '\r' && i == n - 1)) ||
		    s[i] == 0x7f) {
			conf_error(p, "control character 0x%02x: remove it", s[i]);
			return -1;
		}
		if ((len = utf8_seq_len(s + i, s + n)) == 0) {
			conf_error(p, "not valid UTF-8: save the file as UTF-8");
			return -1;
		}
	}
	return 0;
}

static void
conf_line(struct conf_parser *p, char *raw, size_t n)
{
	char *s;

	if (n > CONF_MAX_LINE) {
		conf_error(p, "line longer than %d bytes: shorten it", CONF_MAX_LINE);
		return;
	}
	if (conf_check_text(p, raw, n) < 0)
		return;
	raw[n] = '\0';
	s = conf_trim(raw);
	if (*s == '\0' || *s == '#')
		return;
	if (*s == '[')
		conf_section(p, s);
	else
		conf_assign(p, s);
}

/* A problem with a file as a whole: "FILE: what" for the main one, and for an
 * included one "INCLUDER:LINE: include FILE: what", at the line that names it. */
static void conf_file_error(struct conf_parser *p, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
conf_file_error(struct conf_parser *p, const char *path, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p->depth == 0)
		conf_error_at(p, 0, "%s", what);
	else
		conf_error(p, "include %s: %s", path, what);
}

/* Opens path for reading, refusing what is not a regular file (a FIFO would block)
 * and what is being read already. */
static FILE *
conf_open_file(struct conf_parser *p, const char *path, struct conf_open *id)
{
	struct stat st;
	FILE *f;
	int fd, i;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		conf_file_error(p, path, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		conf_file_error(p, path, "cannot open: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_file_error(p, path, "%s", S_ISDIR(st.st_mode) ? "is a directory: use "
		    "DIR/*.conf to include the files in it" : "not a regular file");
		close(fd);
		return NULL;
	}
	for (i = 0; i < p->depth; i++)
		if (p->open[i].dev == st.st_dev && p->open[i].ino == st.st_ino) {
			conf_file_error(p, path, "includes itself through this line (an "
			    "include cycle): remove one of the include lines");
			close(fd);
			return NULL;
		}
	if ((f = fdopen(fd, "r")) == NULL) {
		conf_file_error(p, path, "out of memory");
		close(fd);
		return NULL;
	}
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return f;
}

/* Reads the whole file into a NUL-terminated buffer; NULL after an error. */
static char *
conf_read(struct conf_parser *p, const char *path, FILE *f, size_t *len)
{
	char *buf, *small;
	size_t n;
	int err;

	if ((buf = malloc(CONF_MAX_FILE + 2)) == NULL) {
		conf_file_error(p, path, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, CONF_MAX_FILE + 1, f);
	err = ferror(f) ? errno : 0;
	if (err != 0 || n > CONF_MAX_FILE) {
		if (err != 0)
			conf_file_error(p, path, "cannot read: %s", strerror(err));
		else
			conf_file_error(p, path, "larger than 1 MiB: this is not a ratd "
			    "configuration");
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	/* Includes nest: each level keeps only what its file needs. */
	if ((small = realloc(buf, n + 1)) != NULL)
		buf = small;
	*len = n;
	return buf;
}

static void
conf_parse(struct conf_parser *p, char *buf, size_t len)
{
	char *s = buf, *end = buf + len, *nl;

	/* Some editors start UTF-8 files with a byte order mark. */
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	for (p->line = 1; s < end; p->line++) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		conf_line(p, s, (size_t)(nl - s));
		s = nl + 1;
	}
	conf_end_section(p);
}

/* Adds path to conf->files; its index, or -1. */
static int
conf_add_file(struct conf_parser *p, const char *path)
{
	struct conf *c = p->conf;
	char **v, *d;

	if (c->nfiles >= CONF_MAX_FILES) {
		conf_file_error(p, path, "more than %d configuration files in all: include "
		    "fewer", CONF_MAX_FILES);
		return -1;
	}
	if ((d = strdup(path)) == NULL ||
	    (v = realloc(c->files, (c->nfiles + 1) * sizeof(*v))) == NULL) {
		free(d);
		conf_file_error(p, path, "out of memory");
		return -1;
	}
	c->files = v;
	c->files[c->nfiles] = d;
	return (int)c->nfiles++;
}

/* Reads and parses one file: the main one (depth 0), or one an include line names.
 * 0, or -1 when it could not be read. */
static int
conf_file(struct conf_parser *p, const char *path)
{
	int seq = p->seq, line = p->line, nseq;
	struct conf_open id;
	size_t len;
	char *buf;
	FILE *f;

	if (p->depth > CONF_MAX_DEPTH) {
		conf_file_error(p, path, "includes nest more than %d deep: include the files "
		    "from fewer levels", CONF_MAX_DEPTH);
		return -1;
	}
	if ((f = conf_open_file(p, path, &id)) == NULL)
		return -1;
	buf = conf_read(p, path, f, &len);
	fclose(f);
	if (buf == NULL)
		return -1;
	nseq = p->depth == 0 ? 0 : conf_add_file(p, path);
	if (nseq >= 0) {
		p->open[p->depth++] = id;
		p->seq = nseq;
		p->after_include = false;
		conf_parse(p, buf, len);
		p->depth--;
		p->seq = seq;
		p->line = line;
	}
	free(buf);
	return nseq >= 0 ? 0 : -1;
}

static int
conf_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The include value as a path: relative ones are relative to the including file's
 * directory, whose name is escaped when it goes into a glob pattern. */
static char *
conf_include_path(struct conf_parser *p, const char *val, bool pattern)
{
	const char *file = conf_file_name(p), *slash = strrchr(file, '/');
	size_t dirlen = slash == NULL || val[0] == '/' ? 0 : (size_t)(slash - file) + 1;
	char *out, *o;
	size_t i;

	if ((out = malloc(2 * dirlen + strlen(val) + 1)) == NULL) {
		conf_error(p, "out of memory");
		return NULL;
	}
	for (o = out, i = 0; i < dirlen; i++) {
		if (pattern && strchr("*?[\\", file[i]) != NULL)
			*o++ = '\\';
		*o++ = file[i];
	}
	strcpy(o, val);
	return out;
}

/* A directory glob cannot read is fatal to the include, unless it does not exist. */
static int
conf_glob_error(const char *path, int err)
{
	return err != ENOENT && err != ENOTDIR;
}

/* Every file the pattern matches, in name order; none is not an error. */
static void
conf_include_glob(struct conf_parser *p, const char *val, const char *pattern)
{
	glob_t g;
	size_t i;
	int r;

	memset(&g, 0, sizeof(g));
	r = glob(pattern, 0, conf_glob_error, &g);
	if (r == GLOB_NOSPACE)
		conf_error(p, "include %s: out of memory", val);
	else if (r == GLOB_ABORTED)
		conf_error(p, "include %s: cannot read a directory it names (permissions?)",
		    val);
	else if (r == 0 && g.gl_pathc > CONF_MAX_FILES)
		conf_error(p, "include %s matches more than %d files", val, CONF_MAX_FILES);
	else if (r == 0) {
		/* By bytes, whatever the locale: the order must not change with LANG. */
		qsort(g.gl_pathv, g.gl_pathc, sizeof(*g.gl_pathv), conf_cmp_str);
		for (i = 0; i < g.gl_pathc; i++)
			conf_file(p, g.gl_pathv[i]);
	}
	globfree(&g);
}

/* "include = PATTERN": every matching file, in name order, as if its lines stood here.
 * A pattern may match nothing (an empty treaties.d); a plain path must exist. */
static void
conf_include(struct conf_parser *p, const char *val)
{
	bool pattern = strpbrk(val, "*?[") != NULL;
	char *path;

	conf_end_section(p);
	if (*val == '\0')
		conf_error(p, "include has no value: give a file or a pattern, as in "
		    "include = /etc/ratd/treaties.d/*.conf");
	else if ((path = conf_include_path(p, val, pattern)) != NULL) {
		if (pattern)
			conf_include_glob(p, val, path);
		else
			conf_file(p, path);
		free(path);
	}
	p->sec = SEC_NONE;
	p->after_include = true;
}

/* The first of $STATE_DIRECTORY's colon-separated paths, when systemd set it. */
static void
conf_state_directory(struct conf_parser *p)
{
	const char *env = getenv("STATE_DIRECTORY");
	size_t n;
	char *d;

	if (env == NULL || (n = strcspn(env, ":")) == 0)
		return;
	if ((d = strndup(env, n)) == NULL) {
		conf_error_at(p, 0, "out of memory");
		return;
	}
	free(p->conf->state_dir);
	p->conf->state_dir = d;
}

/* after_treaty names a [treaty], and following them never comes back round. */
static void
conf_resolve_after(struct conf_parser *p)
{
	struct conf *c = p->conf;
	const struct conf_treaty *u;
	size_t i, steps;

	for (i = 0; i < c->ntreaties; i++) {
		const char *id = c->treaties[i].rule.after_treaty;

		if (id == NULL)
			continue;
		if ((u = conf_treaty_find(c, id)) == NULL) {
			conf_error_in(p, p->after_at[i], "after_treaty '%s' has no [treaty %s] "
			    "section: add it (its entry into force is what this treaty waits "
			    "for)", id, id);
			continue;
		}
		for (steps = 0; u != NULL && u != &c->treaties[i] && steps <= c->ntreaties;
		    steps++)
			u = u->rule.after_treaty ? conf_treaty_find(c, u->rule.after_treaty) : NULL;
		if (u != NULL)
			conf_error_in(p, p->after_at[i], "after_treaty '%s' leads back to [treaty "
			    "%s]: a treaty cannot wait for itself", id, c->treaties[i].id);
	}
}

/* What can only be checked or filled in once every section is read. */
static void
conf_resolve(struct conf_parser *p)
{
	struct conf *c = p->conf;
	struct conf_at at = p->ratd_at;
	size_t i, j;

	if (c->jitter > c->interval) {
		at.line = p->ratd_seen[RK_JITTER] != 0 ? p->ratd_seen[RK_JITTER] :
		    p->ratd_seen[RK_INTERVAL];
		conf_error_in(p, at, "jitter %gs is longer than interval %gs: use 0..interval",
		    c->jitter, c->interval);
	}
	if (p->ratd_seen[RK_STATE_DIR] == 0)
		conf_state_directory(p);
	for (i = 0; i < c->ntreaties; i++)
		if (c->treaties[i].interval == 0)
			c->treaties[i].interval = c->interval;
	for (i = 0; i < c->nalerts; i++)
		for (j = 0; j < c->alerts[i].ntreaties; j++)
			if (conf_treaty_find(c, c->alerts[i].treaties[j]) == NULL)
				conf_error_in(p, p->alert_treaties_at[i], "[alert %s] names "
				    "treaty '%s', which has no [treaty %s] section",
				    c->alerts[i].name, c->alerts[i].treaties[j],
				    c->alerts[i].treaties[j]);
	conf_resolve_after(p);
	if (c->ntreaties == 0)
		conf_error_at(p, 0, "no [treaty ID] section: ratd has nothing to track");
}

static int
conf_defaults(struct conf *c)
{
	c->socket = strdup(RATD_DEFAULT_SOCKET);
	c->socket_mode = 0660;
	/* node-exporter reads the textfile as a user of its own. */
	c->metrics_textfile_mode = 0644;
	c->state_dir = strdup(RATD_DEFAULT_STATE_DIR);
	c->seed_dir = strdup(RATD_SEED_DIR);
	c->interval = 6 * 3600;
	c->jitter = 10 * 60;
	c->timeout = 60;
	c->max_page_size = 16 * 1024 * 1024;
	c->user_agent = strdup("ratd/" RATD_VERSION " (+" RATD_PROJECT_URL ")");
	c->failures_before_alert = 3;
	c->host_concurrency = 2;
	c->host_spacing = 1;
	if (c->socket == NULL || c->state_dir == NULL || c->seed_dir == NULL ||
	    c->user_agent == NULL)
		return -1;
	return 0;
}

int
conf_load(const char *path, struct conf *conf)
{
	struct conf_parser p;

	memset(conf, 0, sizeof(*conf));
	memset(&p, 0, sizeof(p));
	p.conf = conf;
	if ((conf->path = strdup(path)) == NULL)
		return -1;
	if ((conf->files = malloc(sizeof(*conf->files))) == NULL ||
	    (conf->files[0] = strdup(path)) == NULL)
		return -1;
	conf->nfiles = 1;
	if (conf_defaults(conf) < 0) {
		conf_error_at(&p, 0, "out of memory");
		return -1;
	}
	/* A main file that cannot be read has nothing more to report. */
	if (conf_file(&p, path) < 0)
		return -1;
	conf_resolve(&p);
	conf_sort_errors(&p);
	return p.problems == 0 ? 0 : -1;
}

void
conf_free(struct conf *conf)
{
	size_t i;

	for (i = 0; i < conf->ntreaties; i++) {
		free(conf->treaties[i].id);
		free(conf->treaties[i].title);
		free(conf->treaties[i].url);
		rule_clear(&conf->treaties[i].rule);
	}
	free(conf->treaties);
	for (i = 0; i < conf->nalerts; i++) {
		free(conf->alerts[i].name);
		free(conf->alerts[i].target);
		conf_free_list(conf->alerts[i].mailto, conf->alerts[i].nmailto);
		free(conf->alerts[i].smtp_url);
		free(conf->alerts[i].mail_from);
		conf_free_list(conf->alerts[i].events, conf->alerts[i].nevents);
		conf_free_list(conf->alerts[i].treaties, conf->alerts[i].ntreaties);
	}
	free(conf->alerts);
	conf_free_list(conf->errors, conf->nerrors);
	conf_free_list(conf->files, conf->nfiles);
	free(conf->path);
	free(conf->socket);
	free(conf->socket_group);
	free(conf->admin_group);
	free(conf->state_dir);
	free(conf->seed_dir);
	free(conf->user_agent);
	free(conf->metrics_textfile);
	conf_free_list(conf->redirect_hosts, conf->nredirect_hosts);
	zone_free(&conf->day_zone);
	free(conf->publish_dir);
	free(conf->publish_base_url);
	memset(conf, 0, sizeof(*conf));
}

const struct conf_treaty *
conf_treaty_find(const struct conf *conf, const char *id)
{
	size_t i;

	for (i = 0; i < conf->ntreaties; i++)
		if (conf->treaties[i].id != NULL && strcmp(conf->treaties[i].id, id) == 0)
			return &conf->treaties[i];
	return NULL;
}
