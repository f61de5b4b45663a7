/* HTTP fetching through libcurl's multi interface, driven by the libev loop. */
#ifndef RATD_FETCH_H
#define RATD_FETCH_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

/* Longest ETag or Last-Modified kept (an HTTP-date is 29 bytes, real ETags under 100). */
#define FETCH_MAX_VALIDATOR 256
/* Redirects one page fetch follows. */
#define FETCH_MAX_REDIRS 5

struct fetcher;
struct fetch;

struct fetch_opts {
	double timeout;          /* whole transfer, seconds */
	size_t max_page_size;    /* decoded body bytes */
	const char *user_agent;
	/* Hosts a page's redirect may lead to besides its URL's own (borrowed: each fetch
	 * copies them when it starts). */
	const char *const *redirect_hosts;
	size_t nredirect_hosts;
	int host_concurrency;    /* page transfers at once to one host */
	double host_spacing;     /* seconds between two page requests' starts to one host */
};

struct fetch_request {
	const char *url;
	const char *etag;           /* echoed as If-None-Match, or NULL */
	const char *last_modified;  /* echoed as If-Modified-Since, or NULL */
	/* Sending instead of fetching: an HTTP POST of body, or with mail_from an SMTP
	 * message (body is the whole message, headers included). */
	const char *body;
	size_t body_len;
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated */
	const char *mail_from;
	const char *const *mail_rcpt;   /* NULL-terminated */
	double timeout;             /* seconds; 0 for the fetcher's */
	/* A page fetch: it waits its turn on its URL's host (host_concurrency,
	 * host_spacing), and a 429, a 503 or a Retry-After pauses that whole host. */
	bool per_host;
	bool asked;                 /* per_host, for an operator: goes despite such a pause */
};

struct fetch_result {
	bool ok;                 /* a 2xx body or a 304 arrived; for mail, it was accepted */
	bool not_modified;       /* 304 */
	long http_status;        /* 0 when no response */
	char *body;              /* NUL-terminated, owned by the result */
	size_t len;
	char *etag;              /* validators of this response, or NULL */
	char *last_modified;
	long retry_after;        /* seconds asked by Retry-After, or -1 */
	double seconds;          /* total transfer time */
	char error[512];         /* when !ok: what went wrong, for users */
};

/* Called once per fetch, from the loop. The result is freed after the call returns. */
typedef void fetch_done_fn(void *arg, struct fetch_result *res);

/* One multi handle per daemon; NULL with a logged reason on failure. */
struct fetcher *fetcher_new(struct ev_loop *loop);
/* Applies to fetches started afterwards. */
void fetcher_set_opts(struct fetcher *f, const struct fetch_opts *opts);
/* Cancels every fetch in progress without calling back, then frees. */
void fetcher_free(struct fetcher *f);
/* Starts a transfer (a per_host one once its host's turn comes: the timeout counts from
 * then); done is called when it ends. NULL (and no callback) on failure. */
struct fetch *fetch_start(struct fetcher *f, const struct fetch_request *req,
    fetch_done_fn *done, void *arg);
/* Abandons a transfer in progress or waiting; its callback is never called. */
void fetch_cancel(struct fetch *fe);
/* A per_host fetch still waiting becomes one for an operator (asked): a host's pause no
 * longer holds it back. Does nothing for NULL or a fetch already under way. */
void fetch_ask(struct fetch *fe);

/* Whether v may be kept and echoed as a validator (ETag, Last-Modified): 1 to
 * FETCH_MAX_VALIDATOR bytes of printable ASCII. Any other is dropped, by the fetch and
 * by the state loader: it could not be stored as JSON text nor be sent back as is. */
bool fetch_validator_ok(const char *v);
/* Whether a page fetch that reached from_url (absolute) may follow a redirect to to_url
 * (absolute, or relative to from_url): to_url must be http or https, not http when
 * from_url is https, and its host from_url's own or one of hosts (NULL-terminated, may be
 * NULL). Hosts compare without regard to ASCII case, in the form libcurl's URL parser
 * gives (percent-decoding done, IPv4 normalised, IDN as xn-- when it can convert);
 * ports are not compared. When refused, why says so in printable ASCII for users. */
bool fetch_redirect_allowed(const char *from_url, const char *to_url,
    const char *const *hosts, char *why, size_t whysz);

#endif
