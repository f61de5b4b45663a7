/* HTTP fetching: libcurl's multi interface driven by libev, in the shape of curl's
 * evhiperfifo.c: one ev_io per socket curl asks for, one ev_timer for curl's timeout. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fetch.h"
#include "log.h"

#define FETCH_MAX_HEADER 8192     /* longest response header line we keep */
#define FETCH_MAX_REDIRS 5

struct fetcher {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	struct fetch_opts opts;
	struct fetch *all;        /* transfers in progress, for fetcher_free */
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
	bool validator_logged;    /* a dropped ETag/Last-Modified was logged */
	struct fetch *next, *prev;
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
fetch_destroy(struct fetch *fe)
{
	struct fetcher *f = fe->f;

	if (fe->prev != NULL)
		fe->prev->next = fe->next;
	else
		f->all = fe->next;
	if (fe->next != NULL)
		fe->next->prev = fe->prev;
	curl_multi_remove_handle(f->multi, fe->easy);
	curl_easy_cleanup(fe->easy);
	curl_slist_free_all(fe->headers);
	curl_slist_free_all(fe->rcpt);
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
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* Pages may move; a webhook that redirects a POST is misconfigured. */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, req->body == NULL ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRS);
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
	    curl_multi_add_handle(f->multi, fe->easy) != CURLM_OK) {
		if (fe->easy != NULL)
			curl_easy_cleanup(fe->easy);
		curl_slist_free_all(fe->headers);
		curl_slist_free_all(fe->rcpt);
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
	r->seconds = secs;
	if (fe->too_big || cc == CURLE_FILESIZE_EXCEEDED)
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
	if (r->ok && !r->not_modified && !fe->mail && r->body == NULL) {
		/* An empty 200 is still an answer: the parser says what is missing. */
		if ((r->body = strdup("")) == NULL) {
			r->ok = false;
			snprintf(r->error, sizeof(r->error), "out of memory");
		}
	}
}

static void
fetch_check_done(struct fetcher *f)
{
	CURLMsg *msg;
	int left;
	struct fetch *fe;

	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&fe);
		fetch_finish(fe, msg->data.result);
		fe->done(fe->arg, &fe->res);
		fetch_destroy(fe);
	}
}
