/* ratd.conf parsing: defaults, every key, values, and FILE:LINE messages. */
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "helpers.h"

#define MINIMAL "[treaty IV-13]\nurl = https://treaties.un.org/x\nthreshold = 20\n"
#define ALL_KINDS ((1u << KIND_RATIFICATION) | (1u << KIND_ACCESSION) | \
	(1u << KIND_ACCEPTANCE) | (1u << KIND_APPROVAL) | (1u << KIND_SUCCESSION) | \
	(1u << KIND_CONFIRMATION))

static char path[64];

/* Writes bytes to a fresh temporary file named in path. */
static void
write_bytes(const char *text, size_t len)
{
	int fd;

	strcpy(path, "/tmp/ratd-test-conf-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static int
load_bytes(const char *text, size_t len, struct conf *c)
{
	int r;

	write_bytes(text, len);
	r = conf_load(path, c);
	unlink(path);
	return r;
}

static int
load(const char *text, struct conf *c)
{
	return load_bytes(text, strlen(text), c);
}

static void
print_errors(const struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nerrors; i++)
		print_message("  %s\n", c->errors[i]);
}

/* True when some message starts with want; else the messages are printed. */
static bool
has_message(const struct conf *c, const char *want)
{
	size_t i;

	for (i = 0; i < c->nerrors; i++)
		if (strncmp(c->errors[i], want, strlen(want)) == 0)
			return true;
	print_message("no message \"%s\" among:\n", want);
	print_errors(c);
	return false;
}

/* True when some message is "PATH:LINE: " followed by prefix (line 0: "PATH: "). */
static bool
has_error(const struct conf *c, int line, const char *prefix)
{
	char want[1024];

	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", c->path, line, prefix);
	else
		snprintf(want, sizeof(want), "%s: %s", c->path, prefix);
	return has_message(c, want);
}

/* Whether loading text fails with exactly one message, at line, starting with prefix;
 * when not, the messages are printed. */
static bool
one_error(const char *text, int line, const char *prefix)
{
	struct conf c;
	int r = load(text, &c);
	bool ok = has_error(&c, line, prefix);

	if (ok && (r != -1 || c.nerrors != 1)) {
		print_errors(&c);
		ok = false;
	}
	conf_free(&c);
	return ok;
}

static void
assert_one_error(const char *text, int line, const char *prefix)
{
	assert_true(one_error(text, line, prefix));
}

static void
assert_loads(const char *text, struct conf *c)
{
	int r = load(text, c);

	if (r != 0)
		print_errors(c);
	assert_int_equal(r, 0);
	assert_int_equal(c->nerrors, 0);
}

/* What a [treaty] section is to give, every field; exclude ends with NULL. */
struct treaty_want {
	const char *title, *url;
	enum untc_format format;
	int threshold, delay_months, delay_days;
	enum rule_align align;
	unsigned count_mask;
	const char *exclude[3];
	double interval;
	int approaching;
	int line;
};

/* One field of [treaty id] against what it should be. */
static void
same_text(const char *id, const char *field, const char *got, const char *want)
{
	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("[treaty %s] %s: \"%s\", not \"%s\"", id, field,
		    got != NULL ? got : "(null)", want);
}

static void
same_number(const char *id, const char *field, double got, double want)
{
	if (got != want)
		fail_msg("[treaty %s] %s: %g, not %g", id, field, got, want);
}

/* c has [treaty id] and it is want in every field. */
static void
assert_treaty(const struct conf *c, const char *id, const struct treaty_want *want)
{
	const struct conf_treaty *t = conf_treaty_find(c, id);
	const struct rule *r;
	size_t n;

	if (t == NULL)
		fail_msg("no [treaty %s]", id);
	r = &t->rule;
	same_text(id, "title", t->title, want->title);
	same_text(id, "url", t->url, want->url);
	same_number(id, "format", t->format, want->format);
	same_number(id, "threshold", r->threshold, want->threshold);
	same_number(id, "eif_delay months", r->delay_months, want->delay_months);
	same_number(id, "eif_delay days", r->delay_days, want->delay_days);
	same_number(id, "eif_align", r->align, want->align);
	same_number(id, "count", r->count_mask, want->count_mask);
	for (n = 0; want->exclude[n] != NULL; n++)
		same_text(id, "exclude", n < r->nexclude ? r->exclude[n] : NULL, want->exclude[n]);
	same_number(id, "excluded", r->nexclude, n);
	same_number(id, "interval", t->interval, want->interval);
	same_number(id, "approaching", t->approaching, want->approaching);
	same_number(id, "line", t->line, want->line);
}

static void
test_defaults(void **state)
{
	struct conf c;

	unsetenv("STATE_DIRECTORY");
	assert_loads(MINIMAL, &c);
	assert_string_equal(c.socket, "/run/ratd/ratd.sock");
	assert_int_equal(c.socket_mode, 0660);
	assert_null(c.socket_group);
	assert_null(c.admin_group);
	assert_string_equal(c.state_dir, "/var/lib/ratd");
	assert_string_equal(c.seed_dir, RATD_SEED_DIR);
	assert_true(c.interval == 6 * 3600);
	assert_true(c.jitter == 600);
	assert_true(c.timeout == 60);
	assert_int_equal(c.max_page_size, 16 * 1024 * 1024);
	assert_string_equal(c.user_agent,
	    "ratd/0.1.0 (+https://github.com/ratd-project/ratd)");
	assert_int_equal(c.failures_before_alert, 3);
	assert_int_equal(c.host_concurrency, 2);
	assert_true(c.host_spacing == 1);
	assert_int_equal(c.ntreaties, 1);
	assert_int_equal(c.nalerts, 0);
	assert_null(conf_treaty_find(&c, "IV-14"));
	/* No delay, no alignment, every kind counted, nothing excluded. */
	assert_treaty(&c, "IV-13", &(const struct treaty_want){
		.title = "IV-13", .url = "https://treaties.un.org/x", .format = UNTC_AUTO,
		.threshold = 20, .align = RULE_ALIGN_NONE, .count_mask = ALL_KINDS,
		.interval = 6 * 3600, .line = 1 });
	conf_free(&c);
}

static const char every_key[] =
    "# every key\n"
    "   # an indented comment\n"
    "\n"
    "[ratd]\n"
    "socket = /tmp/r.sock\n"
    "socket_mode = 0600\n"
    "socket_group = ratd\n"
    "admin_group = wheel\n"
    "state_dir = /srv/ratd\n"
    "seed_dir = /srv/seed\n"
    "interval = 2h\n"
    "jitter = 90s\n"
    "timeout = 15\n"
    "max_page_size = 512K\n"
    "user_agent = test agent/1.0 (#1)\n"
    "failures_before_alert = 5\n"
    "host_concurrency = 4\n"
    "host_spacing = 3s\n"
    "\n"
    "[treaty IV-13]\n"
    "title = Migrant Workers\n"
    "url = http://127.0.0.1:8080/page?a=1#frag\n"
    "format = xml\n"
    "threshold = 20\n"
    "eif_delay = 3 months\n"
    "eif_align = next-month\n"
    "count = ratification, accession,succession\n"
    "exclude = European Union\n"
    "exclude = Korea, Republic of\n"
    "interval = 1h\n"
    "approaching = 3\n"
    "\n"
    "[treaty XXVII-7.d]\n"
    "url = https://example.org/t\n"
    "threshold = 55\n"
    "format = html\n"
    "eif_delay = 1 month 15 days\n"
    "\n"
    "[alert run]\n"
    "exec = /usr/local/libexec/ratd-notify\n"
    "events = *\n"
    "treaties = *\n"
    "\n"
    "[alert hook]\n"
    "webhook = https://hooks.example.org/ratd\n"
    "events = new-party threshold-reached, source-failing\n"
    "treaties = IV-13\n"
    "timeout = 2m\n"
    "\n"
    "[alert mail]\n"
    "mailto = ops@example.org\n"
    "mailto = other@example.org\n"
    "smtp_url = smtps://mail.example.org:465\n"
    "mail_from = ratd@example.org\n";

static void
test_every_key(void **state)
{
	const struct conf_alert *a;
	struct conf c;

	assert_loads(every_key, &c);
	assert_string_equal(c.socket, "/tmp/r.sock");
	assert_int_equal(c.socket_mode, 0600);
	assert_string_equal(c.socket_group, "ratd");
	assert_string_equal(c.admin_group, "wheel");
	assert_string_equal(c.state_dir, "/srv/ratd");
	assert_string_equal(c.seed_dir, "/srv/seed");
	assert_true(c.interval == 7200);
	assert_true(c.jitter == 90);
	assert_true(c.timeout == 15);
	assert_int_equal(c.max_page_size, 512 * 1024);
	assert_string_equal(c.user_agent, "test agent/1.0 (#1)");
	assert_int_equal(c.failures_before_alert, 5);
	assert_int_equal(c.host_concurrency, 4);
	assert_true(c.host_spacing == 3);

	assert_int_equal(c.ntreaties, 2);
	assert_treaty(&c, "IV-13", &(const struct treaty_want){
		.title = "Migrant Workers", .url = "http://127.0.0.1:8080/page?a=1#frag",
		.format = UNTC_XML, .threshold = 20, .delay_months = 3,
		.align = RULE_ALIGN_NEXT_MONTH, .count_mask = (1u << KIND_RATIFICATION) |
		    (1u << KIND_ACCESSION) | (1u << KIND_SUCCESSION),
		.exclude = { "European Union", "Korea, Republic of" },
		.interval = 3600, .approaching = 3, .line = 20 });
	/* What the section leaves out comes from [ratd] or the defaults. */
	assert_treaty(&c, "XXVII-7.d", &(const struct treaty_want){
		.title = "XXVII-7.d", .url = "https://example.org/t", .format = UNTC_HTML,
		.threshold = 55, .delay_months = 1, .delay_days = 15, .align = RULE_ALIGN_NONE,
		.count_mask = ALL_KINDS, .interval = 7200, .line = 33 });

	assert_int_equal(c.nalerts, 3);
	a = &c.alerts[0];
	assert_string_equal(a->name, "run");
	assert_int_equal(a->kind, ALERT_EXEC);
	assert_string_equal(a->target, "/usr/local/libexec/ratd-notify");
	assert_null(a->events);
	assert_null(a->treaties);
	assert_true(a->timeout == 30);
	assert_int_equal(a->line, 39);

	a = &c.alerts[1];
	assert_int_equal(a->kind, ALERT_WEBHOOK);
	assert_string_equal(a->target, "https://hooks.example.org/ratd");
	assert_int_equal(a->nevents, 3);
	assert_string_equal(a->events[0], "new-party");
	assert_string_equal(a->events[1], "threshold-reached");
	assert_string_equal(a->events[2], "source-failing");
	assert_int_equal(a->ntreaties, 1);
	assert_string_equal(a->treaties[0], "IV-13");
	assert_true(a->timeout == 120);

	a = &c.alerts[2];
	assert_int_equal(a->kind, ALERT_MAILTO);
	assert_null(a->target);
	assert_int_equal(a->nmailto, 2);
	assert_string_equal(a->mailto[0], "ops@example.org");
	assert_string_equal(a->mailto[1], "other@example.org");
	assert_string_equal(a->smtp_url, "smtps://mail.example.org:465");
	assert_string_equal(a->mail_from, "ratd@example.org");
	conf_free(&c);
}

/* The [ratd] interval reaches treaties written before it. */
static void
test_interval_resolved_after_file(void **state)
{
	struct conf c;

	assert_loads(MINIMAL "[ratd]\ninterval = 2d\n", &c);
	assert_true(c.treaties[0].interval == 2 * 86400);
	conf_free(&c);
}

/* A text and the value it reads as; the texts to refuse are listed apart. */
struct unit_case {
	const char *text;
	double value;
};

/* parse reads each good text as its value and refuses each bad one; what names the
 * parser in messages. */
static void
assert_units(const char *what, int (*parse)(const char *, double *),
    const struct unit_case *good, size_t ngood, const char *const *bad, size_t nbad)
{
	double v;
	size_t i;

	for (i = 0; i < ngood; i++)
		if (parse(good[i].text, &v) != 0 || v != good[i].value)
			fail_msg("%s '%s' is not read as %.0f", what, good[i].text, good[i].value);
	for (i = 0; i < nbad; i++)
		if (parse(bad[i], &v) != -1)
			fail_msg("%s '%s' is not refused", what, bad[i]);
}

static void
test_durations(void **state)
{
	static const struct unit_case good[] = {
		{ "90s", 90 },
		{ "15m", 900 },
		{ "6h", 21600 },
		{ "2d", 172800 },
		{ "3600", 3600 },
		{ "0", 0 },
		{ "2147483647", 2147483647 },
	};
	static const char *const bad[] = {
		"", "s", "-5", "+5", "1.5h", "6H", "6 h", "6hh", "6w", "abc",
		"2147483648", "99999999999999999999999", "24856d",
	};

	assert_units("duration", conf_parse_duration, good, sizeof(good) / sizeof(good[0]),
	    bad, sizeof(bad) / sizeof(bad[0]));
}

/* conf_parse_size as assert_units calls parsers: every good size is exact in a double. */
static int
parse_size(const char *text, double *value)
{
	size_t n = 0;
	int r = conf_parse_size(text, &n);

	*value = (double)n;
	return r;
}

static void
test_sizes(void **state)
{
	static const struct unit_case good[] = {
		{ "4096", 4096 },
		{ "512K", 512 * 1024 },
		{ "16M", 16 * 1024 * 1024 },
		{ "1G", 1024 * 1024 * 1024 },
		{ "2k", 2048 },
	};
	static const char *const bad[] = {
		"", "M", "-1", "1.5M", "16MB", "16 M", "1T", "99999999999999999999999",
		"18014398509481984G",
	};

	assert_units("size", parse_size, good, sizeof(good) / sizeof(good[0]),
	    bad, sizeof(bad) / sizeof(bad[0]));
}

/* eif_delay in each accepted form. */
static void
assert_delay(const char *delay, int months, int days)
{
	char text[256];
	struct conf c;

	snprintf(text, sizeof(text), MINIMAL "eif_delay = %s\n", delay);
	assert_loads(text, &c);
	assert_int_equal(c.treaties[0].rule.delay_months, months);
	assert_int_equal(c.treaties[0].rule.delay_days, days);
	conf_free(&c);
}

static void
assert_bad_delay(const char *delay)
{
	char text[256];

	snprintf(text, sizeof(text), MINIMAL "eif_delay = %s\n", delay);
	assert_one_error(text, 4, "bad eif_delay '");
}

static void
test_eif_delay(void **state)
{
	assert_delay("3 months", 3, 0);
	assert_delay("1 month", 1, 0);
	assert_delay("90 days", 0, 90);
	assert_delay("1 day", 0, 1);
	assert_delay("0 days", 0, 0);
	assert_delay("1 months 15 days", 1, 15);
	assert_delay("2 month  1 day", 2, 1);
	assert_delay("1200 months 100000 days", 1200, 100000);

	assert_bad_delay("3");
	assert_bad_delay("months");
	assert_bad_delay("3 weeks");
	assert_bad_delay("3 monthss");
	assert_bad_delay("3 Months");
	assert_bad_delay("-1 days");
	assert_bad_delay("1201 months");
	assert_bad_delay("100001 days");
	assert_bad_delay("3 months 5");
	assert_bad_delay("3 days 2 months");
	assert_bad_delay("3 months 2 days 1 day");
	assert_bad_delay("3 months, 2 days");
}

static void
test_bounds(void **state)
{
	struct conf c;

	assert_one_error("[ratd]\ninterval = 59s\n" MINIMAL, 2,
	    "interval 59s out of range: use 60s..30d");
	assert_one_error("[ratd]\ninterval = 31d\n" MINIMAL, 2,
	    "interval 31d out of range: use 60s..30d");
	assert_one_error(MINIMAL "interval = 1m\ninterval = 2m\n", 5,
	    "duplicate key 'interval' in [treaty IV-13] (first at line 4): keep one");
	assert_one_error("[ratd]\ntimeout = 0\n" MINIMAL, 2,
	    "timeout 0 out of range: use 1s..1h");
	assert_one_error("[ratd]\ntimeout = 61m\n" MINIMAL, 2, "timeout 61m out of range");
	assert_one_error("[ratd]\nmax_page_size = 1023\n" MINIMAL, 2,
	    "max_page_size 1023 out of range: use 1K..64M");
	assert_one_error("[ratd]\nmax_page_size = 257M\n" MINIMAL, 2,
	    "max_page_size 257M out of range");
	assert_one_error("[ratd]\nmax_page_size = lots\n" MINIMAL, 2,
	    "bad size 'lots' for max_page_size: use 512K, 16M, 1G or bytes");
	assert_one_error("[ratd]\nfailures_before_alert = 0\n" MINIMAL, 2,
	    "bad failures_before_alert '0': use a whole number from 1 to 1000");
	assert_one_error("[ratd]\n\nhost_concurrency = 0\n" MINIMAL, 3,
	    "bad host_concurrency '0': use a whole number from 1 to 16");
	assert_one_error("[ratd]\nhost_concurrency = 17\n" MINIMAL, 2,
	    "bad host_concurrency '17': use a whole number from 1 to 16");
	assert_one_error("[ratd]\nhost_spacing = 2h\n" MINIMAL, 2,
	    "host_spacing 2h out of range: use 0..1h");
	assert_one_error("[ratd]\nhost_spacing = soon\n" MINIMAL, 2,
	    "bad duration 'soon' for host_spacing");
	assert_one_error("[ratd]\nsocket_mode = 01000\n" MINIMAL, 2,
	    "bad socket_mode '01000': use octal permissions such as 0660 (at most 0777)");
	assert_one_error("[ratd]\nsocket_mode = 0668\n" MINIMAL, 2, "bad socket_mode '0668'");
	assert_one_error(MINIMAL "threshold = 0\n", 4, "duplicate key 'threshold'");
	assert_one_error("[treaty T]\nurl = http://h/\nthreshold = 10001\n", 3,
	    "bad threshold '10001': use a whole number from 1 to 10000");
	assert_one_error(MINIMAL "approaching = -1\n", 4,
	    "bad approaching '-1': use a whole number from 0 to 10000");
	assert_one_error("[ratd]\ninterval = 5m\njitter = 6m\n" MINIMAL, 3,
	    "jitter 360s is longer than interval 300s: use 0..interval");
	/* Without a jitter line, the default 10m is checked against interval's line. */
	assert_one_error("[ratd]\ninterval = 5m\n" MINIMAL, 2,
	    "jitter 600s is longer than interval 300s");

	assert_loads("[ratd]\ninterval = 30d\njitter = 0\nsocket_mode = 777\n"
	    "max_page_size = 64M\ntimeout = 1h\n" MINIMAL, &c);
	assert_true(c.interval == 30 * 86400);
	assert_true(c.jitter == 0);
	assert_int_equal(c.socket_mode, 0777);
	assert_int_equal(c.max_page_size, 64 * 1024 * 1024);
	conf_free(&c);
}

static void
test_bad_values(void **state)
{
	assert_one_error("[ratd]\ninterval = abc\n" MINIMAL, 2,
	    "bad duration 'abc' for interval: use 90s, 15m, 6h, 2d or seconds");
	assert_one_error(MINIMAL "format = pdf\n", 4, "bad format 'pdf': use auto, html or xml");
	assert_one_error(MINIMAL "eif_align = first-day\n", 4,
	    "bad eif_align 'first-day': use next-month or none");
	assert_one_error(MINIMAL "count = ratification signature\n", 4,
	    "unknown kind 'signature' in count: use ratification, accession, acceptance, "
	    "approval, succession, confirmation");
	assert_one_error(MINIMAL "count = ,\n", 4, "count lists nothing");
	assert_one_error("[treaty T]\nurl = ftp://h/x\nthreshold = 1\n", 2,
	    "bad url 'ftp://h/x': use an http:// or https:// URL without blanks");
	assert_one_error("[treaty T]\nurl = https://\nthreshold = 1\n", 2, "bad url");
	assert_one_error("[treaty T]\nurl = https://h/a b\nthreshold = 1\n", 2, "bad url");
	assert_one_error(MINIMAL "title =\n", 4,
	    "title has no value: give one, or delete the line for the default");
	assert_one_error("[ratd]\nsocket = /" "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789" "012345678901234567890123456789\n"
	    MINIMAL, 2, "socket path longer than 107 bytes");
	assert_one_error("[ratd]\nsocket_group = two words\n" MINIMAL, 2,
	    "bad group name 'two words' for socket_group: one name as in /etc/group");
	assert_one_error(MINIMAL "[alert a]\nexec = notify\n", 5,
	    "exec 'notify' is not an absolute path: use /path/to/program");
	assert_one_error(MINIMAL "[alert a]\nwebhook = hooks.example.org\n", 5,
	    "bad webhook 'hooks.example.org'");
	assert_one_error(MINIMAL "[alert a]\nmailto = ops\nsmtp_url = smtp://h\n"
	    "mail_from = r@h\n", 5, "bad mailto 'ops': one address per line");
	assert_one_error(MINIMAL "[alert a]\nmailto = a@h, b@h\nsmtp_url = smtp://h\n"
	    "mail_from = r@h\n", 5, "bad mailto 'a@h, b@h'");
	assert_one_error(MINIMAL "[alert a]\nmailto = a@h\nsmtp_url = http://h\n"
	    "mail_from = r@h\n", 6, "bad smtp_url 'http://h': use smtp://HOST[:PORT]");
	assert_one_error(MINIMAL "[alert a]\nexec = /bin/true\nevents = new-party, new-parties\n",
	    6, "unknown event type 'new-parties' in events: use * or some of new-party, ");
	assert_one_error(MINIMAL "[alert a]\nexec = /bin/true\ntimeout = 0s\n", 6,
	    "timeout 0s out of range: use 1s..1h");
	assert_one_error(MINIMAL "[alert a]\nexec = /bin/true\nsmtp_url = smtp://h\n", 6,
	    "smtp_url is only for mailto alerts");
}

/* redirect_hosts: repeated lines and lists on a line add up; each must be a host name
 * alone, as a URL holds it. */
static void
test_redirect_hosts(void **state)
{
	char text[4096];
	struct conf c;
	size_t i;
	int n;

	assert_loads(MINIMAL, &c);
	assert_int_equal(c.nredirect_hosts, 0);
	conf_free(&c);
	assert_loads("[ratd]\nredirect_hosts =\n" MINIMAL, &c);
	assert_int_equal(c.nredirect_hosts, 0);
	conf_free(&c);
	assert_loads("[ratd]\nredirect_hosts = www.un.org  Treaties.UN.org\n"
	    "redirect_hosts = 127.0.0.1, xn--vil-dma.example\nredirect_hosts = [::1]\n"
	    MINIMAL, &c);
	assert_int_equal(c.nredirect_hosts, 5);
	assert_string_equal(c.redirect_hosts[0], "www.un.org");
	assert_string_equal(c.redirect_hosts[1], "Treaties.UN.org");
	assert_string_equal(c.redirect_hosts[2], "127.0.0.1");
	assert_string_equal(c.redirect_hosts[3], "xn--vil-dma.example");
	assert_string_equal(c.redirect_hosts[4], "[::1]");
	conf_free(&c);

	assert_one_error("[ratd]\nredirect_hosts = https://www.un.org/\n" MINIMAL, 2,
	    "bad redirect_hosts entry 'https://www.un.org/': give host names such as "
	    "treaties.un.org, without scheme, port or path");
	assert_one_error("[ratd]\nredirect_hosts = localhost:8080\n" MINIMAL, 2,
	    "bad redirect_hosts entry 'localhost:8080'");
	assert_one_error("[ratd]\nredirect_hosts = www.un.org\nredirect_hosts = good@evil\n"
	    MINIMAL, 3, "bad redirect_hosts entry 'good@evil'");
	assert_one_error("[ratd]\nredirect_hosts = \xc3\xa9vil.example\n" MINIMAL, 2,
	    "bad redirect_hosts entry '\xc3\xa9vil.example': give host names such as "
	    "treaties.un.org, without scheme, port or path (an internationalised name in its "
	    "xn-- form)");
	assert_one_error("[ratd]\nredirect_hosts = -un.org\n" MINIMAL, 2, "bad redirect_hosts");
	assert_one_error("[ratd]\nredirect_hosts = un-.org\n" MINIMAL, 2, "bad redirect_hosts");
	assert_one_error("[ratd]\nredirect_hosts = un..org\n" MINIMAL, 2, "bad redirect_hosts");
	assert_one_error("[ratd]\nredirect_hosts = un.org.\n" MINIMAL, 2, "bad redirect_hosts");
	assert_one_error("[ratd]\nredirect_hosts = *.un.org\n" MINIMAL, 2, "bad redirect_hosts");
	assert_one_error("[ratd]\nredirect_hosts = [::1\n" MINIMAL, 2, "bad redirect_hosts");
	assert_one_error("[ratd]\nredirect_hosts = %65vil.example\n" MINIMAL, 2,
	    "bad redirect_hosts");
	assert_one_error("[ratd]\nredirect_hosts = a.org\n[treaty T]\nurl = https://h/\n"
	    "threshold = 1\nredirect_hosts = b.org\n", 6, "unknown key 'redirect_hosts'");

	/* A bounded list: 64 hosts, then one message. */
	n = snprintf(text, sizeof(text), "[ratd]\n");
	for (i = 0; i < 65; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "redirect_hosts = h%zu\n", i);
	snprintf(text + n, sizeof(text) - (size_t)n, "%s", MINIMAL);
	assert_one_error(text, 66, "more than 64 redirect_hosts");
}

static void
test_socket_group_empty_is_unset(void **state)
{
	struct conf c;

	assert_loads("[ratd]\nsocket_group =\nadmin_group = \n" MINIMAL, &c);
	assert_null(c.socket_group);
	assert_null(c.admin_group);
	conf_free(&c);
}

static void
test_structure_errors(void **state)
{
	assert_one_error(MINIMAL "intervall = 1h\n", 4,
	    "unknown key 'intervall' in [treaty IV-13] (known: title, url, format, threshold, "
	    "eif_delay, eif_align, count, exclude, interval, approaching, later, later_delay, "
	    "later_align, not_before, requires, after_treaty, withdrawn, effective)");
	assert_one_error("[ratd]\nsockets = /x\n" MINIMAL, 2,
	    "unknown key 'sockets' in [ratd] (known: socket, socket_mode, ");
	assert_one_error("[global]\nsocket = /x\n" MINIMAL, 1,
	    "unknown section [global]: use [ratd], [treaty ID] or [alert NAME]");
	assert_one_error("interval = 1h\n" MINIMAL, 1,
	    "key 'interval' outside any section: put it under [ratd], [treaty ID] or "
	    "[alert NAME]");
	assert_one_error(MINIMAL "just words\n", 4,
	    "expected 'key = value', '[section]' or '# comment'");
	assert_one_error(MINIMAL "= 3\n", 4, "no key before '='");
	assert_one_error(MINIMAL "[ratd\n", 4, "section line must end with ']'");
	assert_one_error(MINIMAL "[treaty]\n", 4, "[treaty] needs a name: [treaty ID]");
	assert_one_error(MINIMAL "[ratd extra]\n", 4, "[ratd] takes no name: write [ratd]");
	assert_one_error("[ratd]\n[ratd]\n" MINIMAL, 2,
	    "duplicate [ratd] (first at line 1): merge the two sections");
	assert_one_error("[treaty .hidden]\nurl = http://h/\nthreshold = 1\n" MINIMAL, 1,
	    "bad treaty id '.hidden': use up to 64 of A-Z a-z 0-9 . _ - ");
	assert_one_error("[treaty a/b]\n" MINIMAL, 1, "bad treaty id 'a/b'");
	assert_one_error("[treaty IV 13]\n" MINIMAL, 1, "bad treaty id 'IV 13'");
	assert_one_error("[treaty "
	    "a123456789a123456789a123456789a123456789a123456789a123456789abcde]\n" MINIMAL, 1,
	    "bad treaty id 'a123456789");
	assert_one_error(MINIMAL "[alert a:b]\nexec = /bin/true\n", 4, "bad alert name 'a:b'");
	/* Its state file would overwrite the sinks' cursors, its page the index. */
	assert_one_error("[treaty alerts]\n" MINIMAL, 1, "treaty id 'alerts' is reserved "
	    "(alerts.json in state_dir is ratd's own file): choose another id");
	assert_one_error("[treaty index]\n" MINIMAL, 1, "treaty id 'index' is reserved "
	    "(index.html in [publish] dir is ratd's own file)");
}

static void
test_missing_and_duplicates(void **state)
{
	assert_one_error("\n[treaty IV-13]\nurl = http://h/\n", 2,
	    "[treaty IV-13] has no threshold: add threshold = N");
	assert_one_error("[treaty IV-13]\nthreshold = 20\n", 1,
	    "[treaty IV-13] has no url: add url = https://treaties.un.org/");
	assert_one_error(MINIMAL "\n[treaty IV-13]\nurl = http://h/\nthreshold = 3\n", 5,
	    "duplicate [treaty IV-13] (first at line 1): merge the two sections");
	assert_one_error(MINIMAL "[alert a]\nexec = /bin/true\nwebhook = http://h/\n", 6,
	    "[alert a] has exec (line 5) and webhook: an [alert] has exactly one of exec, "
	    "webhook, mailto; make another [alert] section");
	assert_one_error(MINIMAL "[alert a]\ntimeout = 5s\n", 4,
	    "[alert a] has no target: add one of exec, webhook or mailto");
	assert_one_error(MINIMAL "[alert a]\nexec = /bin/true\n[alert a]\nexec = /bin/false\n",
	    6, "duplicate [alert a] (first at line 4): rename one");
	assert_one_error(MINIMAL "[alert a]\nexec = /bin/true\ntreaties = IV-13 IV-14\n", 6,
	    "[alert a] names treaty 'IV-14', which has no [treaty IV-14] section");
	assert_one_error(MINIMAL "[alert m]\nmailto = ops@h\nmail_from = r@h\n", 4,
	    "[alert m] has mailto but no smtp_url: add smtp_url = smtp://HOST:25");
	assert_one_error(MINIMAL "[alert m]\nmailto = ops@h\nsmtp_url = smtp://h\n", 4,
	    "[alert m] has mailto but no mail_from");
	assert_one_error("[ratd]\n", 0, "no [treaty ID] section: ratd has nothing to track");
	assert_one_error("", 0, "no [treaty ID] section: ratd has nothing to track");
}

/* An alert may name a treaty whose section comes later. */
static void
test_alert_treaty_defined_later(void **state)
{
	struct conf c;

	assert_loads("[alert a]\nexec = /bin/true\ntreaties = IV-13\n" MINIMAL, &c);
	assert_string_equal(c.alerts[0].treaties[0], "IV-13");
	conf_free(&c);
}

static void
test_every_error_collected(void **state)
{
	struct conf c;

	assert_int_equal(load(
	    "[ratd]\n"                         /* 1 */
	    "interval = soon\n"                /* 2 */
	    "colour = blue\n"                  /* 3 */
	    "[treaty IV-13]\n"                 /* 4 */
	    "url = gopher://x\n"               /* 5 */
	    "[alert a]\n"                      /* 6 */
	    "exec = /bin/true\n"               /* 7 */
	    "treaties = V-1\n"                 /* 8 */
	    "[nonsense]\n",                    /* 9 */
	    &c), -1);
	assert_true(has_error(&c, 2, "bad duration 'soon' for interval"));
	assert_true(has_error(&c, 3, "unknown key 'colour' in [ratd]"));
	assert_true(has_error(&c, 5, "bad url 'gopher://x'"));
	assert_true(has_error(&c, 4, "[treaty IV-13] has no threshold"));
	assert_true(has_error(&c, 9, "unknown section [nonsense]"));
	assert_true(has_error(&c, 8, "[alert a] names treaty 'V-1'"));
	assert_int_equal(c.nerrors, 6);
	/* Sorted by line, whatever order they were found in. */
	assert_true(strstr(c.errors[0], ":2: ") != NULL);
	assert_true(strstr(c.errors[2], ":4: ") != NULL);
	assert_true(strstr(c.errors[5], ":9: ") != NULL);
	conf_free(&c);
}

static void
test_error_cap(void **state)
{
	char text[4096], *s = text;
	struct conf c;
	int i;

	for (i = 0; i < 150; i++)
		s += sprintf(s, "x%d\n", i);
	assert_int_equal(load(text, &c), -1);
	assert_int_equal(c.nerrors, 100);
	assert_true(has_error(&c, 1, "expected 'key = value'"));
	assert_true(has_error(&c, 99, "expected 'key = value'"));
	assert_true(has_error(&c, 0, "too many problems: fix these 99 first"));
	conf_free(&c);
}

/* A title that is not text (what says how) makes one error, at its line. */
static void
assert_bad_title(const char *what, const char *value, const char *message)
{
	char text[256];

	snprintf(text, sizeof(text), MINIMAL "title = %s\n", value);
	if (!one_error(text, 4, message))
		fail_msg("a title with %s: not the one error \"%s\"", what, message);
}

static void
test_text_checks(void **state)
{
	char *big;
	struct conf c;
	size_t n;

	/* A '#' inside a value is part of it: there are no trailing comments. */
	assert_loads("[treaty T]\nurl = https://h/p?a=1#x\nthreshold = 1\n"
	    "title = A # B\n", &c);
	assert_string_equal(c.treaties[0].url, "https://h/p?a=1#x");
	assert_string_equal(c.treaties[0].title, "A # B");
	conf_free(&c);

	/* CRLF lines, a byte order mark, no final newline, UTF-8 names. */
	assert_loads("\xef\xbb\xbf[treaty T]\r\nurl = http://h/\r\nthreshold = 1\r\n"
	    "exclude = T\xc3\xbcrkiye", &c);
	assert_string_equal(c.treaties[0].rule.exclude[0], "T\xc3\xbcrkiye");
	conf_free(&c);

	assert_int_equal(load_bytes(MINIMAL "title = a\0b\n", sizeof(MINIMAL "title = a\0b\n")
	    - 1, &c), -1);
	assert_true(has_error(&c, 4, "NUL byte: this is not a text file"));
	assert_int_equal(c.nerrors, 1);
	conf_free(&c);

	assert_bad_title("Latin-1", "T\xfcrkiye", "not valid UTF-8: save the file as UTF-8");
	assert_bad_title("an overlong '/'", "\xc0\xaf", "not valid UTF-8");
	assert_bad_title("a surrogate", "\xed\xa0\x80", "not valid UTF-8");
	assert_bad_title("an escape", "a\x1b[31m", "control character 0x1b: remove it");
	assert_bad_title("a carriage return", "a\rb", "control character 0x0d");

	n = CONF_MAX_LINE + 200;
	big = malloc(n);
	assert_non_null(big);
	strcpy(big, MINIMAL "title = ");
	memset(big + strlen(big), 'x', CONF_MAX_LINE);
	strcpy(big + strlen(MINIMAL "title = ") + CONF_MAX_LINE, "\n");
	assert_one_error(big, 4, "line longer than 4096 bytes: shorten it");
	free(big);

	n = 1024 * 1024 + 1;
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, '#', n);
	big[n] = '\0';
	assert_one_error(big, 0, "larger than 1 MiB: this is not a ratd configuration");
	free(big);
}

static void
test_missing_file(void **state)
{
	struct conf c;

	assert_int_equal(conf_load("/nonexistent/ratd.conf", &c), -1);
	assert_int_equal(c.nerrors, 1);
	assert_string_equal(c.errors[0],
	    "/nonexistent/ratd.conf: cannot open: No such file or directory");
	conf_free(&c);
}

/* systemd's STATE_DIRECTORY (the first of its list) stands in for the default
 * state_dir; the key wins over it. */
static void
test_state_directory(void **state)
{
	static const struct {
		const char *env;        /* NULL: unset */
		const char *text;
		const char *state_dir;
	} cases[] = {
		{ "/var/lib/ratd-unit", MINIMAL, "/var/lib/ratd-unit" },
		{ "/var/lib/first:/var/lib/second", MINIMAL, "/var/lib/first" },
		{ "/var/lib/first:/var/lib/second", "[ratd]\nstate_dir = /srv/explicit\n" MINIMAL,
		    "/srv/explicit" },
		{ "", MINIMAL, "/var/lib/ratd" },
		{ NULL, MINIMAL, "/var/lib/ratd" },
	};
	struct conf c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		helpers_setenv("STATE_DIRECTORY", cases[i].env);
		assert_loads(cases[i].text, &c);
		if (strcmp(c.state_dir, cases[i].state_dir) != 0)
			fail_msg("STATE_DIRECTORY=%s, case %zu: state_dir %s, not %s",
			    cases[i].env != NULL ? cases[i].env : "(unset)", i, c.state_dir,
			    cases[i].state_dir);
		conf_free(&c);
	}
}

static void
assert_iv13(const struct conf *c)
{
	const struct conf_treaty *t = conf_treaty_find(c, "IV-13");

	assert_non_null(t);
	assert_string_equal(t->url, "https://treaties.un.org/Pages/ViewDetails.aspx"
	    "?src=TREATY&mtdsg_no=IV-13&chapter=4&clang=_en");
	assert_int_equal(t->rule.threshold, 20);
	assert_int_equal(t->rule.delay_months, 3);
	assert_int_equal(t->rule.delay_days, 0);
	assert_int_equal(t->rule.align, RULE_ALIGN_NEXT_MONTH);
	assert_int_equal(t->rule.count_mask, ALL_KINDS);
	assert_int_equal(t->approaching, 3);
	assert_int_equal(t->format, UNTC_AUTO);
	assert_true(strstr(t->title, "Migrant Workers") != NULL);
}

/* etc/ratd.conf as installed from this repository: its /etc/ratd and PREFIX/share/ratd
 * paths point into the work tree; "#include" lines enabled when presets is set, and
 * "#key = value" lines of the [alert] examples when alerts is set. */
static void
shipped_conf(bool presets, bool alerts, char *text, size_t size)
{
	char line[CONF_MAX_LINE + 2], cwd[PATH_MAX], *at;
	bool in_alerts = false;
	size_t n = 0;
	const char *s;
	FILE *f;
	int len;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	f = fopen("etc/ratd.conf", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "#[alert", 7) == 0)
			in_alerts = true;
		s = line;
		/* "#key = value" is an example; "# text" stays a comment. */
		if ((presets && strncmp(line, "#include = ", 11) == 0) ||
		    (alerts && in_alerts && line[0] == '#' && line[1] != ' ' && line[1] != '\n'))
			s = line + 1;
		if ((at = strstr(line, "/etc/ratd/treaties.d/")) != NULL)
			len = snprintf(text + n, size - n, "%.*s%s/etc/treaties.d/%s",
			    (int)(at - s), s, cwd, at + strlen("/etc/ratd/treaties.d/"));
		else if ((at = strstr(line, "/usr/local/share/ratd/presets/")) != NULL)
			len = snprintf(text + n, size - n, "%.*s%s/data/presets/%s",
			    (int)(at - s), s, cwd, at + strlen("/usr/local/share/ratd/presets/"));
		else
			len = snprintf(text + n, size - n, "%s", s);
		assert_true(len >= 0 && (size_t)len < size - n);
		n += (size_t)len;
	}
	fclose(f);
	assert_true(!alerts || in_alerts);
}

static void
test_shipped_configs(void **state)
{
	char text[16384];
	struct conf c;

	unsetenv("STATE_DIRECTORY");
	shipped_conf(false, false, text, sizeof(text));
	assert_loads(text, &c);
	assert_int_equal(c.ntreaties, 1);
	assert_int_equal(c.nalerts, 0);
	assert_iv13(&c);
	assert_non_null(strstr(c.treaties[0].file, "/etc/treaties.d/IV-13.conf"));
	assert_int_equal(c.treaties[0].line, 5);
	assert_string_equal(c.socket, "/run/ratd/ratd.sock");
	assert_string_equal(c.state_dir, "/var/lib/ratd");
	assert_true(c.interval == 6 * 3600);
	conf_free(&c);

	/* As installed, without the work tree's treaties.d: nothing to track is an error. */
	assert_int_equal(conf_load("etc/ratd.conf", &c), -1);
	if (access("/etc/ratd/treaties.d", F_OK) != 0)
		assert_true(has_error(&c, 0, "no [treaty ID] section"));
	conf_free(&c);

	assert_int_equal(conf_load("etc/ratd.dev.conf", &c), 0);
	assert_int_equal(c.nerrors, 0);
	assert_iv13(&c);
	assert_string_equal(c.socket, "run/ratd.sock");
	assert_int_equal(c.socket_mode, 0600);
	assert_string_equal(c.state_dir, "run/state");
	assert_string_equal(c.seed_dir, "data");
	assert_true(c.interval == 3600);
	assert_true(c.jitter == 60);
	assert_true(c.timeout == 60);
	assert_true(c.treaties[0].interval == 3600);
	conf_free(&c);
}

/* The commented-out [alert] examples of etc/ratd.conf are valid once uncommented. */
static void
test_shipped_alert_examples(void **state)
{
	char text[16384];
	struct conf c;

	shipped_conf(false, true, text, sizeof(text));
	assert_loads(text, &c);
	assert_int_equal(c.nalerts, 3);
	assert_int_equal(c.alerts[0].kind, ALERT_EXEC);
	assert_int_equal(c.alerts[1].kind, ALERT_WEBHOOK);
	assert_int_equal(c.alerts[2].kind, ALERT_MAILTO);
	assert_int_equal(c.alerts[2].nmailto, 2);
	assert_int_equal(c.treaties[0].rule.nexclude, 0);
	conf_free(&c);
}

/* Includes: a scratch directory of configuration files. */

static char incdir[PATH_MAX];

static int
remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void
inc_setup(const char *sub)
{
	strcpy(incdir, "/tmp/ratd-test-inc-XXXXXX");
	assert_non_null(mkdtemp(incdir));
	if (sub != NULL) {
		strcat(incdir, "/");
		strcat(incdir, sub);
		assert_int_equal(mkdir(incdir, 0700), 0);
	}
}

static void
inc_teardown(void)
{
	char *slash = strchr(incdir + strlen("/tmp/"), '/');

	if (slash != NULL)
		*slash = '\0';
	nftw(incdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* incdir/name, written with text (directories on the way made); returns the path. */
static const char *
inc_file(const char *name, const char *text)
{
	static char p[PATH_MAX + 64];
	char *slash;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", incdir, name);
	for (slash = p + strlen(incdir) + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
		*slash = '\0';
		mkdir(p, 0700);
		*slash = '/';
	}
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static char *
inc_path(const char *name)
{
	static char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/%s", incdir, name);
	return p;
}

/* True when some message is exactly "DIR/name:LINE: " followed by prefix. */
static bool
has_error_in(const struct conf *c, const char *name, int line, const char *prefix)
{
	char want[3 * PATH_MAX];

	snprintf(want, sizeof(want), "%s/%s:%d: %s", incdir, name, line, prefix);
	return has_message(c, want);
}

/* The same, with the prefix written by printf from fmt and what follows. */
static bool __attribute__((format(printf, 4, 5)))
has_error_naming(const struct conf *c, const char *name, int line, const char *fmt, ...)
{
	char prefix[PATH_MAX + 1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	return has_error_in(c, name, line, prefix);
}

static void
test_include_pattern_in_name_order(void **state)
{
	const struct conf_treaty *t;
	struct conf c;

	inc_setup(NULL);
	inc_file("d/b.conf", "[treaty B-1]\nurl = http://h/b\nthreshold = 2\n");
	inc_file("d/a.conf", "# first by name\n[treaty A-1]\nurl = http://h/a\nthreshold = 1\n");
	inc_file("d/a.conf.orig", "[treaty Z-9]\nurl = http://h/z\nthreshold = 9\n");
	inc_file("main.conf", "[ratd]\ninterval = 2h\ninclude = d/*.conf\n"
	    "[alert a]\nexec = /bin/true\ntreaties = B-1\n");
	assert_int_equal(conf_load(inc_path("main.conf"), &c), 0);
	assert_int_equal(c.nerrors, 0);
	assert_int_equal(c.ntreaties, 2);
	assert_string_equal(c.treaties[0].id, "A-1");
	assert_string_equal(c.treaties[1].id, "B-1");
	assert_null(conf_treaty_find(&c, "Z-9"));
	t = conf_treaty_find(&c, "A-1");
	assert_string_equal(t->file, inc_path("d/a.conf"));
	assert_int_equal(t->line, 2);
	/* [ratd] keys before the include still apply everywhere. */
	assert_true(t->interval == 7200);
	assert_int_equal(c.nfiles, 3);
	assert_string_equal(c.files[0], inc_path("main.conf"));
	assert_string_equal(c.files[1], inc_path("d/a.conf"));
	assert_string_equal(c.alerts[0].file, inc_path("main.conf"));
	conf_free(&c);
	inc_teardown();
}

/* A treaty office tracking the whole UN Treaty Collection keeps a file per treaty: a glob
 * of 1,200 files loads, every treaty in name order. */
static void
test_include_many_files(void **state)
{
	char name[64], text[128];
	struct conf c;
	int i;

	inc_setup(NULL);
	for (i = 0; i < 1200; i++) {
		snprintf(name, sizeof(name), "t.d/%04d.conf", i);
		snprintf(text, sizeof(text), "[treaty T-%04d]\nurl = http://h/%d\nthreshold = 2\n",
		    i, i);
		inc_file(name, text);
	}
	inc_file("main.conf", "[ratd]\ninclude = t.d/*.conf\n");
	assert_int_equal(conf_load(inc_path("main.conf"), &c), 0);
	assert_int_equal(c.nerrors, 0);
	assert_int_equal(c.ntreaties, 1200);
	assert_int_equal(c.nfiles, 1201);
	assert_string_equal(c.treaties[0].id, "T-0000");
	assert_string_equal(c.treaties[1199].id, "T-1199");
	assert_string_equal(c.treaties[1199].file, inc_path("t.d/1199.conf"));
	conf_free(&c);
	inc_teardown();
}

/* A relative pattern is relative to the including file, wherever ratd runs; the
 * directory's own name is not a pattern even when it looks like one. */
static void
test_include_relative_to_including_file(void **state)
{
	struct conf c;

	inc_setup("we[ir]d*dir");
	inc_file("treaties.d/x.conf", "include = ../more/y.conf\n");
	inc_file("more/y.conf", "[treaty Y-1]\nurl = http://h/y\nthreshold = 3\n");
	inc_file("ratd.conf", "include = treaties.d/*.conf\n");
	assert_int_equal(conf_load(inc_path("ratd.conf"), &c), 0);
	assert_int_equal(c.ntreaties, 1);
	assert_string_equal(c.treaties[0].file, inc_path("treaties.d/../more/y.conf"));
	conf_free(&c);
	inc_teardown();
}

static void
test_include_matching_nothing_is_fine(void **state)
{
	struct conf c;

	inc_setup(NULL);
	assert_int_equal(mkdir(inc_path("empty.d"), 0700), 0);
	inc_file("main.conf", MINIMAL "include = empty.d/*.conf\ninclude = absent.d/*.conf\n"
	    "include = /nonexistent-ratd/*/x?.conf\n");
	assert_int_equal(conf_load(inc_path("main.conf"), &c), 0);
	assert_int_equal(c.ntreaties, 1);
	assert_int_equal(c.nfiles, 1);
	conf_free(&c);

	/* ... but then the whole configuration may have nothing to track. */
	inc_file("main.conf", "[ratd]\ninclude = empty.d/*.conf\n");
	assert_int_equal(conf_load(inc_path("main.conf"), &c), -1);
	assert_true(has_error(&c, 0, "no [treaty ID] section: ratd has nothing to track"));
	assert_int_equal(c.nerrors, 1);
	conf_free(&c);
	inc_teardown();
}

static void
test_include_plain_path_must_exist(void **state)
{
	struct conf c;

	inc_setup(NULL);
	inc_file("main.conf", MINIMAL "\ninclude = missing.conf\ninclude =\n"
	    "include = sub\n");
	assert_int_equal(mkdir(inc_path("sub"), 0700), 0);
	assert_int_equal(conf_load(inc_path("main.conf"), &c), -1);
	assert_true(has_error_naming(&c, "main.conf", 5, "include %s: cannot open: No "
	    "such file or directory", inc_path("missing.conf")));
	assert_true(has_error_in(&c, "main.conf", 6, "include has no value: give a file or "
	    "a pattern, as in include = /etc/ratd/treaties.d/*.conf"));
	assert_true(has_error_naming(&c, "main.conf", 7, "include %s: is a directory: "
	    "use DIR/*.conf", inc_path("sub")));
	assert_int_equal(c.nerrors, 3);
	conf_free(&c);
	inc_teardown();
}

/* Problems inside an included file are told at its own lines, and sorted file by file. */
static void
test_include_errors_name_the_included_file(void **state)
{
	struct conf c;

	inc_setup(NULL);
	inc_file("t.d/bad.conf", "# a treaty\n[treaty B-1]\nthreshold = many\n"
	    "intervall = 1h\n");
	inc_file("main.conf", "[ratd]\ninterval = soon\ninclude = t.d/*.conf\n" MINIMAL
	    "colour = blue\n");
	assert_int_equal(conf_load(inc_path("main.conf"), &c), -1);
	assert_true(has_error_in(&c, "main.conf", 2, "bad duration 'soon' for interval"));
	assert_true(has_error_in(&c, "main.conf", 7, "unknown key 'colour' in [treaty IV-13]"));
	assert_true(has_error_in(&c, "t.d/bad.conf", 3, "bad threshold 'many'"));
	assert_true(has_error_in(&c, "t.d/bad.conf", 4, "unknown key 'intervall' in "
	    "[treaty B-1]"));
	assert_true(has_error_in(&c, "t.d/bad.conf", 2, "[treaty B-1] has no url"));
	assert_int_equal(c.nerrors, 5);
	assert_non_null(strstr(c.errors[0], "main.conf:2: "));
	assert_non_null(strstr(c.errors[1], "main.conf:7: "));
	assert_non_null(strstr(c.errors[2], "bad.conf:2: "));
	assert_non_null(strstr(c.errors[4], "bad.conf:4: "));
	conf_free(&c);
	inc_teardown();
}

/* An include line ends the section it stands in: later keys need a section again. */
static void
test_include_ends_the_section(void **state)
{
	struct conf c;

	inc_setup(NULL);
	inc_file("empty.conf", "# nothing\n");
	inc_file("main.conf", "[treaty IV-13]\nurl = http://h/\ninclude = empty.conf\n"
	    "threshold = 20\n");
	assert_int_equal(conf_load(inc_path("main.conf"), &c), -1);
	assert_true(has_error_in(&c, "main.conf", 4, "key 'threshold' after an include line, "
	    "which ends the section: start a [section] again or move the include"));
	assert_true(has_error_in(&c, "main.conf", 1, "[treaty IV-13] has no threshold"));
	assert_int_equal(c.nerrors, 2);
	conf_free(&c);

	/* A file starts outside any section, whatever section included it. */
	inc_file("keys.conf", "threshold = 20\n");
	inc_file("main.conf", "[treaty IV-13]\nurl = http://h/\ninclude = keys.conf\n");
	assert_int_equal(conf_load(inc_path("main.conf"), &c), -1);
	assert_true(has_error_in(&c, "keys.conf", 1, "key 'threshold' outside any section"));
	conf_free(&c);
	inc_teardown();
}

static void
test_include_cycles_and_depth(void **state)
{
	char name[32], text[64];
	struct conf c;
	int i;

	inc_setup(NULL);
	inc_file("a.conf", MINIMAL "include = b.conf\n");
	inc_file("b.conf", "\ninclude = a.conf\n");
	assert_int_equal(conf_load(inc_path("a.conf"), &c), -1);
	assert_true(has_error_naming(&c, "b.conf", 2, "include %s: includes itself "
	    "through this line (an include cycle): remove one of the include lines",
	    inc_path("a.conf")));
	assert_int_equal(c.nerrors, 1);
	conf_free(&c);

	inc_file("self.conf", MINIMAL "include = *.conf\n");
	assert_int_equal(conf_load(inc_path("self.conf"), &c), -1);
	assert_true(has_error_in(&c, "self.conf", 4, "include "));
	conf_free(&c);

	/* main, then 8 nested levels, is as deep as it goes. */
	for (i = 0; i < 9; i++) {
		snprintf(name, sizeof(name), "n%d.conf", i);
		snprintf(text, sizeof(text), "include = n%d.conf\n", i + 1);
		inc_file(name, i == 0 ? MINIMAL "include = n1.conf\n" : text);
	}
	inc_file("n9.conf", "# the ninth level\n");
	assert_int_equal(conf_load(inc_path("n0.conf"), &c), -1);
	assert_true(has_error_naming(&c, "n8.conf", 1, "include %s: includes nest more "
	    "than 8 deep: include the files from fewer levels", inc_path("n9.conf")));
	assert_int_equal(c.nerrors, 1);
	conf_free(&c);
	inc_file("n8.conf", "# the eighth level\n");
	assert_int_equal(conf_load(inc_path("n0.conf"), &c), 0);
	assert_int_equal(c.nfiles, 9);
	conf_free(&c);
	inc_teardown();
}

/* What is checked across the whole configuration is checked across its files. */
static void
test_include_whole_config_checks(void **state)
{
	struct conf c;

	inc_setup(NULL);
	inc_file("t/IV-13.conf", "[treaty IV-13]\nurl = http://h/\nthreshold = 20\n");
	inc_file("t/alerts.conf", "[alert ops]\nexec = /bin/true\ntreaties = IV-13 V-1\n");
	inc_file("main.conf", "include = t/*.conf\n\n[treaty IV-13]\nurl = http://h/2\n"
	    "threshold = 3\n[ratd]\n[alert ops]\nexec = /bin/false\n");
	assert_int_equal(conf_load(inc_path("main.conf"), &c), -1);
	assert_true(has_error_naming(&c, "main.conf", 3, "duplicate [treaty IV-13] "
	    "(first at %s:1): merge the two sections", inc_path("t/IV-13.conf")));
	assert_true(has_error_naming(&c, "main.conf", 7, "duplicate [alert ops] (first "
	    "at %s:1): rename one", inc_path("t/alerts.conf")));
	assert_true(has_error_in(&c, "t/alerts.conf", 3, "[alert ops] names treaty 'V-1', "
	    "which has no [treaty V-1] section"));
	assert_int_equal(c.nerrors, 3);
	conf_free(&c);

	inc_file("r.conf", "[ratd]\njitter = 7h\n");
	inc_file("main.conf", "include = r.conf\n[ratd]\n" MINIMAL);
	assert_int_equal(conf_load(inc_path("main.conf"), &c), -1);
	assert_true(has_error_naming(&c, "main.conf", 2, "duplicate [ratd] (first at "
	    "%s:1)", inc_path("r.conf")));
	/* The jitter check points at the [ratd] that set it, in its own file. */
	assert_true(has_error_in(&c, "r.conf", 2, "jitter 25200s is longer than interval"));
	assert_int_equal(c.nerrors, 2);
	conf_free(&c);
	inc_teardown();
}

/* A preset is a complete [treaty] section: it loads on its own. */
static void
assert_preset(const char *id, int threshold, int months, int days, enum rule_align align,
    const char *exclude)
{
	const struct conf_treaty *t;
	char file[128], url[256];
	struct conf c;

	snprintf(file, sizeof(file), "data/presets/%s.conf", id);
	if (conf_load(file, &c) != 0)
		print_errors(&c);
	assert_int_equal(c.nerrors, 0);
	assert_int_equal(c.ntreaties, 1);
	t = conf_treaty_find(&c, id);
	assert_non_null(t);
	snprintf(url, sizeof(url), "https://treaties.un.org/Pages/ViewDetails.aspx?src=TREATY"
	    "&mtdsg_no=%s&chapter=", id);
	assert_int_equal(strncmp(t->url, url, strlen(url)), 0);
	assert_int_equal(t->rule.threshold, threshold);
	assert_int_equal(t->rule.delay_months, months);
	assert_int_equal(t->rule.delay_days, days);
	assert_int_equal(t->rule.align, align);
	assert_int_equal(t->rule.nexclude, exclude != NULL);
	if (exclude != NULL)
		assert_string_equal(t->rule.exclude[0], exclude);
	assert_string_not_equal(t->title, id);
	conf_free(&c);
}

/* [publish]: both keys required, the URL a directory's, the section once. */
static void
test_publish(void **state)
{
	struct conf c;

	assert_loads(MINIMAL, &c);
	assert_null(c.publish_dir);
	assert_null(c.publish_base_url);
	conf_free(&c);
	assert_loads(MINIMAL "[publish]\ndir = /srv/www/ratd\nbase_url = https://example.org/t\n",
	    &c);
	assert_string_equal(c.publish_dir, "/srv/www/ratd");
	assert_string_equal(c.publish_base_url, "https://example.org/t/");
	conf_free(&c);
	assert_loads("[publish]\ndir = /w\nbase_url = http://h/x/\n" MINIMAL, &c);
	assert_string_equal(c.publish_base_url, "http://h/x/");
	conf_free(&c);
	assert_one_error(MINIMAL "[publish]\nbase_url = https://h/\n", 4,
	    "[publish] needs dir: the directory to write index.html");
	assert_one_error(MINIMAL "[publish]\ndir = /w\n", 4, "[publish] needs base_url");
	assert_one_error(MINIMAL "[publish]\ndir = www\nbase_url = https://h/\n", 5,
	    "bad dir 'www': use an absolute directory");
	assert_one_error(MINIMAL "[publish]\ndir = /w\nbase_url = ftp://h/\n", 6,
	    "bad base_url 'ftp://h/'");
	assert_one_error(MINIMAL "[publish]\ndir = /w\nbase_url = https://h/\"x\n", 6,
	    "bad base_url");
	assert_one_error(MINIMAL "[publish]\ndir = /w\nbase_url = https://h/\n[publish]\n", 7,
	    "duplicate [publish] (first at line 4): merge the two sections");
	assert_one_error(MINIMAL "[publish x]\n", 4, "[publish] takes no name: write [publish]");
	assert_one_error(MINIMAL "[publish]\ndir = /w\nbase_url = https://h/\nurl = x\n", 7,
	    "unknown key 'url' in [publish] (known: dir, base_url)");
}

static void
test_presets(void **state)
{
	char text[16384];
	struct conf c;

	assert_preset("XXVI-9", 50, 0, 90, RULE_ALIGN_NONE, NULL);
	assert_preset("XXI-10", 60, 0, 120, RULE_ALIGN_NONE, "European Union");
	assert_preset("XVIII-16", 40, 0, 90, RULE_ALIGN_NONE, "European Union");
	assert_preset("IV-4", 35, 3, 0, RULE_ALIGN_NONE, NULL);

	/* etc/ratd.conf with every preset line enabled: IV-13 and the six presets (IV-15's
	 * file holds the Convention and its Protocol). */
	unsetenv("STATE_DIRECTORY");
	shipped_conf(true, false, text, sizeof(text));
	assert_loads(text, &c);
	assert_int_equal(c.ntreaties, 8);
	assert_iv13(&c);
	assert_string_equal(c.treaties[0].id, "IV-13");
	assert_string_equal(c.treaties[1].id, "XXVI-9");
	assert_string_equal(c.treaties[2].id, "XXI-10");
	assert_string_equal(c.treaties[3].id, "XVIII-16");
	assert_string_equal(c.treaties[4].id, "IV-4");
	assert_string_equal(c.treaties[5].id, "IV-15");
	assert_string_equal(c.treaties[6].id, "IV-15-a");
	assert_string_equal(c.treaties[7].id, "XXVII-2-f");
	assert_string_equal(c.treaties[6].rule.after_treaty, "IV-15");
	assert_int_equal(c.nfiles, 8);
	conf_free(&c);

	/* The development configuration reads IV-13 from etc/treaties.d. */
	assert_int_equal(conf_load("etc/ratd.dev.conf", &c), 0);
	assert_string_equal(c.treaties[0].file, "etc/treaties.d/IV-13.conf");
	conf_free(&c);
}

/* The keys of a treaty's final clauses, read into its rule. */
static void
test_final_clause_keys(void **state)
{
	struct conf c;
	const struct rule *r;

	assert_loads(MINIMAL "eif_delay = 12 months\nlater = after-threshold\n"
	    "later_delay = 30 days\nnot_before = 2019-01-01\nrequires = India\n"
	    "requires = Pakistan\nwithdrawn = Burundi: 2017-10-27\n"
	    "effective = Côte d'Ivoire: 1960-08-07\n"
	    "[treaty IV-13-a]\nurl = https://treaties.un.org/y\nthreshold = 10\n"
	    "after_treaty = IV-13\nlater_align = next-month\neif_delay = 2 months\n", &c);
	r = &conf_treaty_find(&c, "IV-13")->rule;
	assert_int_equal(r->later, RULE_LATER_AFTER_THRESHOLD);
	assert_true(r->later_set);
	assert_int_equal(r->later_months, 0);
	assert_int_equal(r->later_days, 30);
	/* later_align not given: eif_align's. */
	assert_int_equal(r->later_align, r->align);
	assert_true(r->has_not_before);
	assert_int_equal(r->not_before, date_from_ymd(2019, 1, 1));
	assert_int_equal(r->nrequires, 2);
	assert_string_equal(r->requires[1], "Pakistan");
	assert_int_equal(r->nwithdrawn, 1);
	assert_string_equal(r->withdrawn[0].name, "Burundi");
	assert_int_equal(r->withdrawn[0].date, date_from_ymd(2017, 10, 27));
	assert_int_equal(r->withdrawn[0].line, 10);
	assert_string_equal(r->effective[0].name, "Côte d'Ivoire");
	assert_null(r->after_treaty);
	r = &conf_treaty_find(&c, "IV-13-a")->rule;
	assert_string_equal(r->after_treaty, "IV-13");
	assert_int_equal(r->later, RULE_LATER_AFTER_EIF);
	/* later_delay not given: eif_delay's. */
	assert_true(r->later_set);
	assert_int_equal(r->later_months, 2);
	assert_int_equal(r->later_align, RULE_ALIGN_NEXT_MONTH);
	conf_free(&c);

	/* Without any later key, later instruments take eif_delay and eif_align. */
	assert_loads(MINIMAL, &c);
	assert_false(c.treaties[0].rule.later_set);
	assert_false(c.treaties[0].rule.has_not_before);
	conf_free(&c);
}

static void
test_final_clause_errors(void **state)
{
	struct conf c;

	assert_one_error(MINIMAL "later = after-signature\n", 4,
	    "bad later 'after-signature': use after-entry-into-force or after-threshold");
	assert_one_error(MINIMAL "later_delay = soon\n", 4, "bad later_delay 'soon'");
	assert_one_error(MINIMAL "later_align = first\n", 4, "bad later_align 'first'");
	assert_one_error(MINIMAL "not_before = 1 January 2019\n", 4,
	    "bad not_before '1 January 2019': use a date YYYY-MM-DD");
	assert_one_error(MINIMAL "requires = India\nrequires = India\n", 5,
	    "requires names 'India' twice");
	assert_one_error(MINIMAL "withdrawn = Burundi 2017-10-27\n", 4,
	    "bad withdrawn 'Burundi 2017-10-27': use NAME: YYYY-MM-DD");
	assert_one_error(MINIMAL "withdrawn = : 2017-10-27\n", 4, "bad withdrawn ': 2017-10-27'");
	assert_one_error(MINIMAL "withdrawn = Burundi: 2017-13-01\n", 4,
	    "bad withdrawn 'Burundi: 2017-13-01'");
	assert_one_error(MINIMAL "effective = Benin: \n", 4, "bad effective 'Benin:'");
	assert_one_error(MINIMAL "withdrawn = A: 2001-01-01\nwithdrawn = A: 2002-01-01\n", 5,
	    "withdrawn names 'A' twice");
	assert_one_error(MINIMAL "after_treaty = IV-15\n", 4,
	    "after_treaty 'IV-15' has no [treaty IV-15] section");
	assert_one_error(MINIMAL "after_treaty = IV-13\n", 4,
	    "after_treaty 'IV-13' leads back to [treaty IV-13]");
	assert_int_equal(load(MINIMAL "after_treaty = B\n[treaty B]\nurl = http://h/\n"
	    "threshold = 1\nafter_treaty = IV-13\n", &c), -1);
	assert_true(has_error(&c, 4, "after_treaty 'B' leads back to [treaty IV-13]"));
	assert_true(has_error(&c, 8, "after_treaty 'IV-13' leads back to [treaty B]"));
	conf_free(&c);
	assert_one_error(MINIMAL "after_treaty = a/b\n", 4, "bad after_treaty 'a/b'");
	assert_one_error("[ratd]\nday_zone = Mars/Olympus\n" MINIMAL, 2,
	    "day_zone: unknown time zone 'Mars/Olympus'");
	assert_one_error("[ratd]\nday_zone = ../../etc/passwd\n" MINIMAL, 2,
	    "day_zone: bad time zone '../../etc/passwd'");
}

/* day_zone: New York's day begins at 05:00 UTC in winter and 04:00 UTC in summer. The
 * offsets are computed from a fixed day, so the test does not depend on today. */
static void
test_day_zone(void **state)
{
	struct zone z;
	struct conf c;
	char msg[256];
	time_t winter = 1736139600;   /* 2025-01-06T05:00:00Z, 00:00 in New York */
	time_t summer = 1751256000;   /* 2025-06-30T04:00:00Z, 00:00 in New York */
	const char *tz = getenv("TZ");
	char *saved = tz != NULL ? strdup(tz) : NULL;

	/* Whatever the environment running the test says. */
	assert_int_equal(unsetenv("TZ"), 0);
	assert_int_equal(zone_load(&z, "America/New_York", winter - 86400 * 5, msg,
	    sizeof(msg)), 0);
	assert_int_equal(zone_day(&z, winter - 1), date_from_ymd(2025, 1, 5));
	assert_int_equal(zone_day(&z, winter), date_from_ymd(2025, 1, 6));
	assert_int_equal(zone_day(&z, summer - 1), date_from_ymd(2025, 6, 29));
	assert_int_equal(zone_day(&z, summer), date_from_ymd(2025, 6, 30));
	assert_int_equal(zone_next_midnight(&z, winter - 3600), winter);
	assert_int_equal(zone_next_midnight(&z, winter), winter + 86400);
	assert_int_equal(zone_next_midnight(&z, summer - 10), summer);
	/* 9 March 2025 has 23 hours in New York: the next day starts at 04:00 UTC. */
	assert_int_equal(zone_next_midnight(&z, 1741496400), 1741579200);
	/* The process's own zone is left as it was: unset, or set to another zone. */
	assert_null(getenv("TZ"));
	zone_free(&z);
	assert_int_equal(setenv("TZ", "Asia/Tokyo", 1), 0);
	assert_int_equal(zone_load(&z, "America/New_York", winter, msg, sizeof(msg)), 0);
	assert_int_equal(zone_day(&z, winter), date_from_ymd(2025, 1, 6));
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	zone_free(&z);
	helpers_setenv("TZ", saved);
	tzset();
	free(saved);
	/* A bad name is quoted back cut between characters: 63 bytes, then "é" across the
	 * 64-byte bound. */
	assert_int_equal(zone_load(&z, "Europe/Xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "\xc3\xa9\xc3\xa9", winter, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "xxxx': use"));
	assert_null(strchr(msg, '\xc3'));

	assert_loads("[ratd]\nday_zone = America/New_York\n" MINIMAL, &c);
	assert_string_equal(c.day_zone.name, "America/New_York");
	assert_string_equal(zone_label(&c.day_zone), "America/New_York");
	assert_true(c.day_zone.n > 1);
	conf_free(&c);
	/* Named UTC, days are UTC's: what the published pages call plain UTC. */
	assert_loads("[ratd]\nday_zone = Etc/UTC\n" MINIMAL, &c);
	assert_null(zone_label(&c.day_zone));
	conf_free(&c);

	/* The default: UTC days. */
	assert_loads(MINIMAL, &c);
	assert_null(zone_label(&c.day_zone));
	assert_int_equal(zone_day(&c.day_zone, winter - 1), date_from_ymd(2025, 1, 6));
	assert_int_equal(zone_next_midnight(&c.day_zone, winter), 1736208000);
	conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_interval_resolved_after_file),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_eif_delay),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_socket_group_empty_is_unset),
		cmocka_unit_test(test_redirect_hosts),
		cmocka_unit_test(test_structure_errors),
		cmocka_unit_test(test_final_clause_keys),
		cmocka_unit_test(test_final_clause_errors),
		cmocka_unit_test(test_day_zone),
		cmocka_unit_test(test_missing_and_duplicates),
		cmocka_unit_test(test_alert_treaty_defined_later),
		cmocka_unit_test(test_every_error_collected),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_text_checks),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_state_directory),
		cmocka_unit_test(test_shipped_configs),
		cmocka_unit_test(test_shipped_alert_examples),
		cmocka_unit_test(test_include_pattern_in_name_order),
		cmocka_unit_test(test_include_many_files),
		cmocka_unit_test(test_include_relative_to_including_file),
		cmocka_unit_test(test_include_matching_nothing_is_fine),
		cmocka_unit_test(test_include_plain_path_must_exist),
		cmocka_unit_test(test_include_errors_name_the_included_file),
		cmocka_unit_test(test_include_ends_the_section),
		cmocka_unit_test(test_include_cycles_and_depth),
		cmocka_unit_test(test_include_whole_config_checks),
		cmocka_unit_test(test_presets),
		cmocka_unit_test(test_publish),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
