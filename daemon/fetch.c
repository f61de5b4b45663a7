/* HTTP fetching: libcurl's multi interface driven by libev, in the shape of curl's
 * evhiperfifo.c: one ev_io per socket curl asks for, one ev_timer for curl's timeout. */
#include <curl/curl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fetch.h"
#include "hostq.h"
#include "log.h"

#define FETCH_MAX_HEADER 8192     /* longest response header line we keep */
#define FETCH_SHOWN 160           /* bytes of a server's URL quoted back in a message */
/* How long a host that answered 429 or 503 is left alone: its Retry-After within these
 * bounds, else the shortest. */
#define FETCH_HOLD_MIN 60.0
#define FETCH_HOLD_MAX 86400.0

struct fetcher {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	struct fetch_opts opts;
	struct fetch *all;        /* transfers in progress or waiting, for fetcher_free */
	struct hostq *hostq;      /* page fetches' turns, per host */
};

struct fetch {
	struct fetcher *f;
	CURL *easy;
	struct curl_slist *headers;
	fetch_done_fn *done;
	void *arg;
	struct fetch_result res;
	size_t cap;
	size_t max;
	bool too_big;
	bool mail;
	char *send;               /* what a POST or a message sends, owned */
	size_t send_len, send_off;
	struct curl_slist *rcpt;
	bool follow;              /* a page fetch: its redirects are followed here */
	int hops;                 /* redirects followed so far */
	double spent;             /* seconds taken by the hops before this one */
	double timeout;           /* the whole transfer's, redirects included */
	char **hosts;             /* where a redirect may lead, NULL-terminated */
	bool validator_logged;    /* a dropped ETag/Last-Modified was logged */
	struct fetch *next, *prev;
	struct hostq_item turn;   /* a per_host fetch's place in its host's queue */
	char errbuf[CURL_ERROR_SIZE];
};

/* Per-socket watcher, attached to curl's socket with curl_multi_assign. */
struct fetch_sock {
	struct fetcher *f;
	curl_socket_t fd;
	ev_io io;
};

static void fetch_check_done(struct fetcher *f);

static void
fetch_socket_action(struct fetcher *f, curl_socket_t fd, int action)
{
	int running;
	CURLMcode rc;

	rc = curl_multi_socket_action(f->multi, fd, action, &running);
	if (rc != CURLM_OK)
		log_err("fetch: curl_multi_socket_action: %s", curl_multi_strerror(rc));
	/* curl's timer callback alone arms and disarms the timer: a transfer started from
	 * a completion callback below has just armed it. */
	fetch_check_done(f);
}

static void
fetch_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fetch_sock *s = w->data;
	int action = 0;

	if (revents & EV_READ)
		action |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	fetch_socket_action(s->f, s->fd, action);
}

static void
fetch_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	fetch_socket_action(w->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: re-arm the one timer. A zero timeout becomes a zero-delay
 * timer because curl must not be re-entered from inside its own callback. */
static int
fetch_multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct fetcher *f = userp;

	ev_timer_stop(f->loop, &f->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&f->timer, timeout_ms / 1000.0, 0.);
		ev_timer_start(f->loop, &f->timer);
	}
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: keep one ev_io per socket in step with what curl waits for. */
static int
fetch_multi_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct fetcher *f = userp;
	struct fetch_sock *s = sockp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			ev_io_stop(f->loop, &s->io);
			free(s);
		}
		return 0;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->f = f;
		s->fd = fd;
		ev_init(&s->io, fetch_io_cb);
		s->io.data = s;
		curl_multi_assign(f->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	ev_io_stop(f->loop, &s->io);
	ev_io_set(&s->io, fd, events);
	ev_io_start(f->loop, &s->io);
	return 0;
}

struct fetcher *
fetcher_new(struct ev_loop *loop)
{
	struct fetcher *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->loop = loop;
	if ((f->multi = curl_multi_init()) == NULL) {
		log_err("fetch: curl_multi_init failed");
		free(f);
		return NULL;
	}
	if ((f->hostq = hostq_new(loop)) == NULL) {
		log_err("fetch: out of memory");
		curl_multi_cleanup(f->multi);
		free(f);
		return NULL;
	}
	ev_init(&f->timer, fetch_timer_cb);
	f->timer.data = f;
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, fetch_multi_sock_cb);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, fetch_multi_timer_cb);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	f->opts.timeout = 60;
	f->opts.max_page_size = 16 << 20;
	f->opts.user_agent = "ratd";
	return f;
}

void
fetcher_set_opts(struct fetcher *f, const struct fetch_opts *opts)
{
	f->opts = *opts;
	hostq_set_limits(f->hostq, opts->host_concurrency, opts->host_spacing);
}

void
fetch_ask(struct fetch *fe)
{
	if (fe != NULL)
		hostq_ask(&fe->turn);
}

static void
fetch_result_clear(struct fetch_result *r)
{
	free(r->body);
	free(r->etag);
	free(r->last_modified);
	memset(r, 0, sizeof(*r));
}

static void
fetch_hosts_free(char **hosts)
{
	size_t i;

	for (i = 0; hosts != NULL && hosts[i] != NULL; i++)
		free(hosts[i]);
	free(hosts);
}

static void
fetch_destroy(struct fetch *fe)
{
	struct fetcher *f = fe->f;

	if (fe->prev != NULL)
		fe->prev->next = fe->next;
	else
		f->all = fe->next;
	if (fe->next != NULL)
		fe->next->prev = fe->prev;
	hostq_leave(&fe->turn);
	curl_multi_remove_handle(f->multi, fe->easy);
	curl_easy_cleanup(fe->easy);
	curl_slist_free_all(fe->headers);
	curl_slist_free_all(fe->rcpt);
	fetch_hosts_free(fe->hosts);
	fetch_result_clear(&fe->res);
	free(fe->send);
	free(fe);
}

void
fetch_cancel(struct fetch *fe)
{
	if (fe != NULL)
		fetch_destroy(fe);
}

void
fetcher_free(struct fetcher *f)
{
	if (f == NULL)
		return;
	while (f->all != NULL)
		fetch_destroy(f->all);
	ev_timer_stop(f->loop, &f->timer);
	hostq_free(f->hostq);
	curl_multi_cleanup(f->multi);
	free(f);
}

static size_t
fetch_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct fetch *fe = userp;
	struct fetch_result *r = &fe->res;
	size_t n = size * nmemb;
	char *nb;

	/* The bound applies to decoded bytes, so a compressed bomb stops here too. */
	if (n > fe->max - r->len) {
		fe->too_big = true;
		return 0;
	}
	if (r->len + n + 1 > fe->cap) {
		size_t cap = fe->cap ? fe->cap : 64 * 1024;

		while (cap < r->len + n + 1)
			cap *= 2;
		if ((nb = realloc(r->body, cap)) == NULL)
			return 0;
		r->body = nb;
		fe->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

/* Copies a header's value, trimmed, if line is "name: value". */
static int
fetch_header_value(const char *line, size_t len, const char *name, char **out)
{
	size_t nl = strlen(name);
	const char *v, *end = line + len;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return 0;
	for (v = line + nl + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	free(*out);
	*out = strndup(v, (size_t)(end - v));
	return 1;
}

static long
fetch_parse_retry_after(const char *v)
{
	char *end;
	long secs;
	time_t when;

	if (v == NULL || *v == '\0')
		return -1;
	secs = strtol(v, &end, 10);
	if (*end == '\0' && end != v)
		return secs < 0 ? -1 : secs;
	/* Otherwise an HTTP-date. */
	if ((when = curl_getdate(v, NULL)) == -1)
		return -1;
	secs = (long)(when - time(NULL));
	return secs < 0 ? 0 : secs;
}

bool
fetch_validator_ok(const char *v)
{
	size_t n;

	for (n = 0; v[n] != '\0'; n++)
		if (n >= FETCH_MAX_VALIDATOR || (unsigned char)v[n] < 0x20 ||
		    (unsigned char)v[n] > 0x7e)
			return false;
	return n > 0;
}

/* Drops a validator fetch_validator_ok refuses: one that cannot be stored would make
 * every commit fail for as long as the server sends it. Logged once per transfer. */
static void
fetch_keep_validator(struct fetch *fe, const char *name, char **slot)
{
	char *url = NULL;

	if (*slot == NULL || fetch_validator_ok(*slot))
		return;
	if (!fe->validator_logged) {
		curl_easy_getinfo(fe->easy, CURLINFO_EFFECTIVE_URL, &url);
		log_info("fetch %s: %s header ignored (not 1 to %d bytes of printable ASCII); "
		    "the next fetch of it is unconditional", url ? url : "?", name,
		    FETCH_MAX_VALIDATOR);
		fe->validator_logged = true;
	}
	free(*slot);
	*slot = NULL;
}

static size_t
fetch_header_cb(char *line, size_t size, size_t nmemb, void *userp)
{
	struct fetch *fe = userp;
	struct fetch_result *r = &fe->res;
	size_t n = size * nmemb;
	char *ra = NULL;

	/* A line with a NUL in it would be read as shorter than it is: not a header. */
	if (n > FETCH_MAX_HEADER || memchr(line, '\0', n) != NULL)
		return n;
	/* A new status line starts a new response (redirect or 100): forget the last one's. */
	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		free(r->etag);
		free(r->last_modified);
		r->etag = r->last_modified = NULL;
		r->retry_after = -1;
		return n;
	}
	if (fetch_header_value(line, n, "ETag", &r->etag)) {
		fetch_keep_validator(fe, "ETag", &r->etag);
		return n;
	}
	if (fetch_header_value(line, n, "Last-Modified", &r->last_modified)) {
		fetch_keep_validator(fe, "Last-Modified", &r->last_modified);
		return n;
	}
	if (fetch_header_value(line, n, "Retry-After", &ra)) {
		r->retry_after = fetch_parse_retry_after(ra);
		free(ra);
	}
	return n;
}

static int
fetch_add_header(struct fetch *fe, const char *name, const char *value)
{
	char buf[FETCH_MAX_HEADER];
	struct curl_slist *l;

	if (value == NULL)
		return 0;
	/* A validator we stored is echoed verbatim; refuse one that could split headers. */
	if (strpbrk(value, "\r\n") != NULL)
		return 0;
	if ((size_t)snprintf(buf, sizeof(buf), "%s: %s", name, value) >= sizeof(buf))
		return 0;
	if ((l = curl_slist_append(fe->headers, buf)) == NULL)
		return -1;
	fe->headers = l;
	return 0;
}

static size_t
fetch_read_cb(char *buf, size_t size, size_t nmemb, void *userp)
{
	struct fetch *fe = userp;
	size_t n = size * nmemb;

	if (n > fe->send_len - fe->send_off)
		n = fe->send_len - fe->send_off;
	memcpy(buf, fe->send + fe->send_off, n);
	fe->send_off += n;
	return n;
}

/* The parts of a request that send something: a POST body, or a message over SMTP. */
static int
fetch_setup_send(struct fetch *fe, const struct fetch_request *req)
{
	CURL *e = fe->easy;
	struct curl_slist *l;
	size_t i;

	if ((fe->send = malloc(req->body_len + 1)) == NULL)
		return -1;
	memcpy(fe->send, req->body, req->body_len);
	fe->send_len = req->body_len;
	if (req->mail_from == NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, fe->send);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)fe->send_len);
		return 0;
	}
	fe->mail = true;
	for (i = 0; req->mail_rcpt != NULL && req->mail_rcpt[i] != NULL; i++) {
		if ((l = curl_slist_append(fe->rcpt, req->mail_rcpt[i])) == NULL)
			return -1;
		fe->rcpt = l;
	}
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, req->mail_from);
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, fe->rcpt);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)fe->send_len);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, fetch_read_cb);
	curl_easy_setopt(e, CURLOPT_READDATA, fe);
	return 0;
}

static int
fetch_setup(struct fetch *fe, const struct fetch_request *req)
{
	const struct fetch_opts *o = &fe->f->opts;
	double timeout = req->timeout > 0 ? req->timeout : o->timeout;
	CURL *e = fe->easy;
	size_t i;

	/* A validator is echoed verbatim: only one that could have been kept. */
	if (req->body == NULL &&
	    (fetch_add_header(fe, "Accept", "text/html, application/xml;q=0.9, */*;q=0.1") < 0 ||
	    (req->etag != NULL && fetch_validator_ok(req->etag) &&
	    fetch_add_header(fe, "If-None-Match", req->etag) < 0) ||
	    (req->last_modified != NULL && fetch_validator_ok(req->last_modified) &&
	    fetch_add_header(fe, "If-Modified-Since", req->last_modified) < 0)))
		return -1;
	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		struct curl_slist *l;

		if (strpbrk(req->headers[i], "\r\n") != NULL ||
		    (l = curl_slist_append(fe->headers, req->headers[i])) == NULL)
			return -1;
		fe->headers = l;
	}
	if (req->body != NULL && fetch_setup_send(fe, req) < 0)
		return -1;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, fe);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, fe->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, fe->mail ? "smtp,smtps" : "http,https");
	/* A page's redirects are followed by fetch_follow, one checked hop at a time, so
	 * that nothing is asked of a host before it is known to be allowed; a webhook that
	 * redirects a POST is misconfigured. */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	fe->follow = req->body == NULL;
	fe->timeout = timeout;
	/* Fetches are hours apart: a kept-alive connection is never reused, and its close
	 * by the server would only wake the loop. */
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout * 1000));
	curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_page_size);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, fe->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fetch_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, fe);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, fetch_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, fe);
	return 0;
}

/* s as printable ASCII (others shown as '?'), cut to fit n bytes: what a server sent is
 * quoted in messages, never passed on raw. */
static void
fetch_shown(const char *s, char *out, size_t n)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < n; i++)
		out[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	out[i] = '\0';
	if (s[i] != '\0' && i >= 3)
		memcpy(out + i - 3, "...", 3);
}

/* Scheme and host of u, the host in its xn-- form when libcurl can make it. */
static int
fetch_url_parts(CURLU *u, char **scheme, char **host)
{
	*scheme = *host = NULL;
	if (curl_url_get(u, CURLUPART_SCHEME, scheme, 0) != CURLUE_OK)
		return -1;
#ifdef CURLU_PUNYCODE
	if (curl_url_get(u, CURLUPART_HOST, host, CURLU_PUNYCODE) == CURLUE_OK)
		return 0;
	/* libcurl 7.88 may hand out the host even when it fails to convert it. */
	curl_free(*host);
	*host = NULL;
#endif
	return curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK ? 0 : -1;
}

/* "scheme://host[:port]/" of u, for messages: a refusal names where, without the path
 * and query, which may carry anything. */
static void
fetch_url_origin(CURLU *u, const char *scheme, const char *host, char *out, size_t n)
{
	char buf[FETCH_SHOWN], *port = NULL;

	curl_url_get(u, CURLUPART_PORT, &port, 0);
	snprintf(buf, sizeof(buf), "%s://%s%s%s/", scheme, host, port ? ":" : "",
	    port ? port : "");
	curl_free(port);
	fetch_shown(buf, out, n);
}

static bool
fetch_host_listed(const char *host, const char *const *hosts)
{
	for (; hosts != NULL && *hosts != NULL; hosts++)
		if (strcasecmp(host, *hosts) == 0)
			return true;
	return false;
}

/* The rules of fetch_redirect_allowed, on parsed parts; where is the target as shown. */
static bool
fetch_redirect_check(const char *fs, const char *fh, const char *ts, const char *th,
    const char *const *hosts, const char *where, char *why, size_t whysz)
{
	char host[FETCH_SHOWN];

	if (strcmp(ts, "http") != 0 && strcmp(ts, "https") != 0)
		snprintf(why, whysz, "redirect to %s refused: only http and https are followed",
		    where);
	else if (strcmp(fs, "https") == 0 && strcmp(ts, "http") == 0)
		snprintf(why, whysz, "redirect to %s refused: it leaves https for plain http; "
		    "if the page is only served over http, set the treaty's url to it", where);
	else if (strcasecmp(fh, th) != 0 && !fetch_host_listed(th, hosts)) {
		fetch_shown(th, host, sizeof(host));
		snprintf(why, whysz, "redirect to %s refused: host not in redirect_hosts; if "
		    "the page has moved there, set the treaty's url to it or add %s to "
		    "[ratd] redirect_hosts", where, host);
	} else
		return true;
	return false;
}

bool
fetch_redirect_allowed(const char *from_url, const char *to_url, const char *const *hosts,
    char *why, size_t whysz)
{
	CURLU *from = curl_url(), *to = NULL;
	char *fs = NULL, *fh = NULL, *ts = NULL, *th = NULL, where[FETCH_SHOWN];
	bool ok = false;

	/* libcurl's own parser: the host compared is the one curl would connect to. */
	if (from == NULL || curl_url_set(from, CURLUPART_URL, from_url, 0) != CURLUE_OK ||
	    fetch_url_parts(from, &fs, &fh) < 0) {
		fetch_shown(from_url, where, sizeof(where));
		snprintf(why, whysz, "redirect from %s refused: not an absolute URL", where);
	} else if ((to = curl_url_dup(from)) == NULL ||
	    curl_url_set(to, CURLUPART_URL, to_url, 0) != CURLUE_OK ||
	    fetch_url_parts(to, &ts, &th) < 0) {
		fetch_shown(to_url, where, sizeof(where));
		snprintf(why, whysz, "redirect to %s refused: not an http or https URL", where);
	} else {
		fetch_url_origin(to, ts, th, where, sizeof(where));
		ok = fetch_redirect_check(fs, fh, ts, th, hosts, where, why, whysz);
	}
	curl_free(fs);
	curl_free(fh);
	curl_free(ts);
	curl_free(th);
	curl_url_cleanup(from);
	curl_url_cleanup(to);
	return ok;
}

/* Where this fetch's redirects may lead: redirect_hosts and the URL's own host, copied
 * so that a reload cannot take them away mid-transfer. */
static int
fetch_copy_hosts(struct fetch *fe, const char *url)
{
	const struct fetch_opts *o = &fe->f->opts;
	size_t i, n = o->nredirect_hosts;
	char *scheme = NULL, *host = NULL;
	CURLU *u;
	int rc = 0;

	if ((fe->hosts = calloc(n + 2, sizeof(*fe->hosts))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if ((fe->hosts[i] = strdup(o->redirect_hosts[i])) == NULL)
			return -1;
	/* A URL curl cannot parse fails at once: no own host is needed then. */
	if ((u = curl_url()) != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    fetch_url_parts(u, &scheme, &host) == 0 && (fe->hosts[n] = strdup(host)) == NULL)
		rc = -1;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* The host of a page URL, for its queue (curl's form, or the URL itself when curl cannot
 * parse it: the transfer then fails at once). NULL on out-of-memory. */
static char *
fetch_queue_host(const char *url)
{
	char *scheme = NULL, *host = NULL, *out;
	CURLU *u;

	if ((u = curl_url()) != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    fetch_url_parts(u, &scheme, &host) == 0)
		out = strdup(host);
	else
		out = strdup(url);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return out;
}

/* A fetch's turn on its host: the transfer really starts. */
static void
fetch_go(struct hostq_item *it)
{
	struct fetch *fe = (struct fetch *)((char *)it - offsetof(struct fetch, turn));

	if (curl_multi_add_handle(fe->f->multi, fe->easy) == CURLM_OK)
		return;
	snprintf(fe->res.error, sizeof(fe->res.error), "cannot start a transfer: libcurl "
	    "refused it");
	fe->done(fe->arg, &fe->res);
	fetch_destroy(fe);
}

/* Hands fe to libcurl, or to its host's queue. -1 on failure. */
static int
fetch_launch(struct fetch *fe, const struct fetch_request *req)
{
	char *host;
	int rc;

	if (!req->per_host)
		return curl_multi_add_handle(fe->f->multi, fe->easy) == CURLM_OK ? 0 : -1;
	if ((host = fetch_queue_host(req->url)) == NULL)
		return -1;
	fe->turn.asked = req->asked;
	rc = hostq_enter(fe->f->hostq, &fe->turn, host, fetch_go);
	free(host);
	return rc;
}

struct fetch *
fetch_start(struct fetcher *f, const struct fetch_request *req, fetch_done_fn *done, void *arg)
{
	struct fetch *fe;

	if ((fe = calloc(1, sizeof(*fe))) == NULL)
		return NULL;
	fe->f = f;
	fe->done = done;
	fe->arg = arg;
	fe->max = f->opts.max_page_size;
	fe->res.retry_after = -1;
	if ((fe->easy = curl_easy_init()) == NULL || fetch_setup(fe, req) < 0 ||
	    (fe->follow && fetch_copy_hosts(fe, req->url) < 0) || fetch_launch(fe, req) < 0) {
		if (fe->easy != NULL)
			curl_easy_cleanup(fe->easy);
		curl_slist_free_all(fe->headers);
		curl_slist_free_all(fe->rcpt);
		fetch_hosts_free(fe->hosts);
		free(fe->send);
		free(fe);
		return NULL;
	}
	fe->next = f->all;
	if (f->all != NULL)
		f->all->prev = fe;
	f->all = fe;
	return fe;
}

/* Turns curl's outcome into what the tracker needs: ok, or a reason users can act on. */
static void
fetch_finish(struct fetch *fe, CURLcode cc)
{
	struct fetch_result *r = &fe->res;
	double secs = 0;
	char *url = NULL;

	curl_easy_getinfo(fe->easy, CURLINFO_RESPONSE_CODE, &r->http_status);
	curl_easy_getinfo(fe->easy, CURLINFO_TOTAL_TIME, &secs);
	curl_easy_getinfo(fe->easy, CURLINFO_EFFECTIVE_URL, &url);
	r->seconds = fe->spent + secs;
	if (r->error[0] != '\0')
		;       /* a redirect not followed: fetch_follow said why */
	else if (fe->too_big || cc == CURLE_FILESIZE_EXCEEDED)
		snprintf(r->error, sizeof(r->error), "page larger than max_page_size (%zu bytes)",
		    fe->max);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(r->error, sizeof(r->error), "timed out (%s)",
		    fe->errbuf[0] ? fe->errbuf : "timeout");
	else if (cc != CURLE_OK)
		snprintf(r->error, sizeof(r->error), "%s",
		    fe->errbuf[0] ? fe->errbuf : curl_easy_strerror(cc));
	else if (fe->mail)
		r->ok = true;
	else if (r->http_status == 304)
		r->ok = r->not_modified = true;
	else if (r->http_status >= 200 && r->http_status < 300)
		r->ok = true;
	else
		snprintf(r->error, sizeof(r->error), "HTTP %ld from %s", r->http_status,
		    url ? url : "server");
	/* The host is busy or rate-limiting: every page waiting for it waits longer. */
	if (r->http_status == 429 || r->http_status == 503 || (!r->ok && r->retry_after >= 0))
		hostq_hold(&fe->turn, r->retry_after < 0 ? FETCH_HOLD_MIN :
		    fmin(fmax((double)r->retry_after, FETCH_HOLD_MIN), FETCH_HOLD_MAX));
	if (r->ok && !r->not_modified && !fe->mail && r->body == NULL) {
		/* An empty 200 is still an answer: the parser says what is missing. */
		if ((r->body = strdup("")) == NULL) {
			r->ok = false;
			snprintf(r->error, sizeof(r->error), "out of memory");
		}
	}
}

/* Whether a page transfer ended on a redirect that fetch_follow should look at. */
static bool
fetch_redirected(struct fetch *fe, CURLcode cc)
{
	long status = 0;
	char *to = NULL;

	if (!fe->follow || cc != CURLE_OK)
		return false;
	curl_easy_getinfo(fe->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(fe->easy, CURLINFO_REDIRECT_URL, &to);
	return to != NULL && (status == 301 || status == 302 || status == 303 ||
	    status == 307 || status == 308);
}

/* The next hop of a redirect, once fetch_redirect_allowed lets it: the same easy handle
 * again with the new URL and what is left of the timeout. 1 when the transfer goes on,
 * 0 when it ends here with r->error set. Runs from fetch_check_done, never inside a
 * curl callback, so the handle may leave and rejoin the multi handle. */
static int
fetch_follow(struct fetch *fe)
{
	struct fetch_result *r = &fe->res;
	char *from = NULL, *to = NULL, shown[FETCH_SHOWN];
	double secs = 0, left;
	int ok;

	curl_easy_getinfo(fe->easy, CURLINFO_EFFECTIVE_URL, &from);
	curl_easy_getinfo(fe->easy, CURLINFO_REDIRECT_URL, &to);
	curl_easy_getinfo(fe->easy, CURLINFO_TOTAL_TIME, &secs);
	if (fe->hops >= FETCH_MAX_REDIRS) {
		fetch_shown(from ? from : "?", shown, sizeof(shown));
		snprintf(r->error, sizeof(r->error), "more than %d redirects, the last from %s",
		    FETCH_MAX_REDIRS, shown);
		return 0;
	}
	if (!fetch_redirect_allowed(from, to, (const char *const *)fe->hosts, r->error,
	    sizeof(r->error)))
		return 0;
	if ((left = fe->timeout - fe->spent - secs) <= 0.001) {
		snprintf(r->error, sizeof(r->error), "timed out following redirects");
		return 0;
	}
	/* The URL curl hands out belongs to the handle: copied before the handle changes. */
	if ((to = strdup(to)) == NULL) {
		snprintf(r->error, sizeof(r->error), "out of memory following a redirect");
		return 0;
	}
	curl_multi_remove_handle(fe->f->multi, fe->easy);
	fe->hops++;
	fe->spent += secs;
	r->len = 0;                 /* the redirect's own body is not the page */
	if (r->body != NULL)
		r->body[0] = '\0';
	fe->too_big = false;
	fe->errbuf[0] = '\0';
	curl_easy_setopt(fe->easy, CURLOPT_URL, to);
	curl_easy_setopt(fe->easy, CURLOPT_TIMEOUT_MS, (long)(left * 1000));
	curl_easy_setopt(fe->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(left * 1000));
	ok = curl_multi_add_handle(fe->f->multi, fe->easy) == CURLM_OK;
	free(to);
	if (!ok)
		snprintf(r->error, sizeof(r->error), "cannot follow a redirect: libcurl refused "
		    "the next transfer");
	return ok;
}

static void
fetch_check_done(struct fetcher *f)
{
	CURLMsg *msg;
	CURLcode cc;
	int left;
	struct fetch *fe;

	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg dies with the handle's removal, which fetch_follow does. */
		cc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&fe);
		if (fetch_redirected(fe, cc) && fetch_follow(fe))
			continue;
		fetch_finish(fe, cc);
		fe->done(fe->arg, &fe->res);
		fetch_destroy(fe);
	}
}
