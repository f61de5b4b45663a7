/* Fetching: which validators a response may leave behind, and where a redirect may lead.
 * fetch.c is included, as chrony's tests do, to reach its header callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fetch.c"
#include "helpers.h"

/* A transfer that never starts, enough for fetch_header_cb: the state of the tests of
 * headers, freed after each even when it fails. */
static int
alone_setup(void **state)
{
	struct fetch *fe = calloc(1, sizeof(*fe));

	if (fe == NULL || (fe->easy = curl_easy_init()) == NULL) {
		free(fe);
		return -1;
	}
	fe->res.retry_after = -1;
	*state = fe;
	return 0;
}

static int
alone_teardown(void **state)
{
	struct fetch *fe = *state;

	curl_easy_cleanup(fe->easy);
	fetch_result_clear(&fe->res);
	free(fe);
	return 0;
}

/* Feeds one header line, as libcurl does: not NUL-terminated, CRLF included. */
static void
header(struct fetch *fe, const char *line, size_t len)
{
	char *copy = malloc(len);

	assert_non_null(copy);
	memcpy(copy, line, len);
	assert_int_equal(fetch_header_cb(copy, 1, len, fe), len);
	free(copy);
}

#define HEADER(fe, lit) header((fe), (lit), sizeof(lit) - 1)

static void
test_validator_ok(void **state)
{
	char longest[FETCH_MAX_VALIDATOR + 2];

	assert_true(fetch_validator_ok("\"5f2a-61c8\""));
	assert_true(fetch_validator_ok("W/\"5f2a-61c8\""));
	assert_true(fetch_validator_ok("Mon, 30 Nov 2026 10:00:00 GMT"));
	assert_true(fetch_validator_ok("~"));
	assert_false(fetch_validator_ok(""));
	assert_false(fetch_validator_ok("\"caf\xe9\""));             /* Latin-1 */
	assert_false(fetch_validator_ok("\"caf\xc3\xa9\""));         /* UTF-8 */
	assert_false(fetch_validator_ok("\"a\r\nSet-Cookie: x\""));
	assert_false(fetch_validator_ok("\"a\tb\""));
	assert_false(fetch_validator_ok("\"a\x7f\""));
	assert_false(fetch_validator_ok("\"\xe2\x80\xae\""));        /* U+202E */
	memset(longest, 'a', FETCH_MAX_VALIDATOR);
	longest[FETCH_MAX_VALIDATOR] = '\0';
	assert_true(fetch_validator_ok(longest));
	longest[FETCH_MAX_VALIDATOR] = 'a';
	longest[FETCH_MAX_VALIDATOR + 1] = '\0';
	assert_false(fetch_validator_ok(longest));
}

static void
test_ascii_validators_are_kept(void **state)
{
	struct fetch *fe = *state;

	HEADER(fe, "HTTP/1.1 200 OK\r\n");
	HEADER(fe, "etag:   W/\"5f2a-61c8\"  \r\n");
	HEADER(fe, "Last-Modified: Mon, 30 Nov 2026 10:00:00 GMT\r\n");
	HEADER(fe, "Retry-After: 120\r\n");
	assert_string_equal(fe->res.etag, "W/\"5f2a-61c8\"");
	assert_string_equal(fe->res.last_modified, "Mon, 30 Nov 2026 10:00:00 GMT");
	assert_int_equal(fe->res.retry_after, 120);
}

/* What made every commit fail with "cannot encode state": bytes >= 0x80 in a validator,
 * stored as is and then refused by the JSON encoder. */
static void
test_validators_not_ascii_are_dropped(void **state)
{
	struct fetch *fe = *state;
	char line[FETCH_MAX_VALIDATOR + 32];
	int n;

	HEADER(fe, "HTTP/1.1 200 OK\r\n");
	HEADER(fe, "ETag: \"\xe9t\xe9-2026\"\r\n");
	HEADER(fe, "Last-Modified: Mon, 30 Nov 2026 10:00:00 GM\xc9\r\n");
	assert_null(fe->res.etag);
	assert_null(fe->res.last_modified);
	assert_true(fe->validator_logged);

	/* A later good one is kept, a later bad one drops what was there. */
	HEADER(fe, "ETag: \"ok\"\r\n");
	assert_string_equal(fe->res.etag, "\"ok\"");
	/* A NUL would hide what follows it: such a line is no header at all. */
	HEADER(fe, "ETag: \"a\0\xe9\"\r\n");
	assert_string_equal(fe->res.etag, "\"ok\"");
	HEADER(fe, "ETag: \"caf\xc3\xa9\"\r\n");
	assert_null(fe->res.etag);
	HEADER(fe, "ETag: \"a\x01\"\r\n");
	assert_null(fe->res.etag);
	HEADER(fe, "ETag: \r\n");
	assert_null(fe->res.etag);

	n = snprintf(line, sizeof(line), "ETag: \"%0*d\"\r\n", FETCH_MAX_VALIDATOR, 7);
	header(fe, line, (size_t)n);
	assert_null(fe->res.etag);
	n = snprintf(line, sizeof(line), "ETag: %0*d\r\n", FETCH_MAX_VALIDATOR, 7);
	header(fe, line, (size_t)n);
	assert_int_equal(strlen(fe->res.etag), FETCH_MAX_VALIDATOR);
}

/* A redirect's own validators are not the page's. */
static void
test_status_line_forgets_validators(void **state)
{
	struct fetch *fe = *state;

	HEADER(fe, "HTTP/1.1 302 Found\r\n");
	HEADER(fe, "ETag: \"redirect\"\r\n");
	HEADER(fe, "Retry-After: 5\r\n");
	HEADER(fe, "HTTP/1.1 200 OK\r\n");
	assert_null(fe->res.etag);
	assert_int_equal(fe->res.retry_after, -1);
}

/* A request echoes only a validator that could have been kept. */
static void
test_request_echoes_valid_validators_only(void **state)
{
	struct fetch *fe = *state;
	struct fetch_request req = {
		.url = "http://127.0.0.1/page",
		.etag = "\"caf\xc3\xa9\"",
		.last_modified = "Mon, 30 Nov 2026 10:00:00 GMT",
	};
	struct fetcher f = { .opts = { .timeout = 60, .max_page_size = 1024,
	    .user_agent = "test" } };
	struct curl_slist *l;
	bool inm = false, ims = false;

	fe->f = &f;
	assert_int_equal(fetch_setup(fe, &req), 0);
	for (l = fe->headers; l != NULL; l = l->next) {
		inm |= strncmp(l->data, "If-None-Match:", 14) == 0;
		ims |= strcmp(l->data, "If-Modified-Since: Mon, 30 Nov 2026 10:00:00 GMT") == 0;
	}
	assert_false(inm);
	assert_true(ims);
	curl_slist_free_all(fe->headers);
}

/* fetch_redirect_allowed, with why checked to be printable ASCII naming the target. */
static bool
allowed(const char *from, const char *to, const char *const *hosts, const char *why_has)
{
	char why[512];
	bool ok;
	size_t i;

	why[0] = '\0';
	ok = fetch_redirect_allowed(from, to, hosts, why, sizeof(why));
	for (i = 0; why[i] != '\0'; i++)
		if ((unsigned char)why[i] < 0x20 || (unsigned char)why[i] > 0x7e)
			fail_msg("%s -> %s: why is not printable ASCII: %s", from, to, why);
	if (ok && why[0] != '\0')
		fail_msg("%s -> %s: allowed, yet why says %s", from, to, why);
	if (!ok && why_has != NULL && strstr(why, why_has) == NULL)
		fail_msg("%s -> %s: why is \"%s\", not about \"%s\"", from, to, why, why_has);
	return ok;
}

#define UNTC "https://treaties.un.org/Pages/ViewDetails.aspx?src=TREATY&mtdsg_no=IV-13"

static void
test_redirect_same_host(void **state)
{
	assert_true(allowed(UNTC, "https://treaties.un.org/Pages/Other.aspx", NULL, NULL));
	assert_true(allowed(UNTC, "/Pages/Other.aspx", NULL, NULL));
	assert_true(allowed(UNTC, "Other.aspx?x=1", NULL, NULL));
	assert_true(allowed(UNTC, "?mtdsg_no=IV-13&clang=_en", NULL, NULL));
	assert_true(allowed(UNTC, "//treaties.un.org/x", NULL, NULL));
	assert_true(allowed(UNTC, "HTTPS://TREATIES.UN.ORG/x", NULL, NULL));
	assert_true(allowed("https://Treaties.UN.org/", "https://treaties.un.org/x", NULL, NULL));
	/* Ports are not compared: the host, not the port, is what its certificate names. */
	assert_true(allowed(UNTC, "https://treaties.un.org:8443/x", NULL, NULL));
	assert_true(allowed("http://127.0.0.1:8080/page", "http://127.0.0.1:9090/x", NULL,
	    NULL));
	/* The forms of an address libcurl connects to alike compare alike. */
	assert_true(allowed("http://127.0.0.1:8080/page", "http://127.1:8080/x", NULL, NULL));
	assert_true(allowed("http://127.0.0.1:8080/page", "http://2130706433/x", NULL, NULL));
	assert_true(allowed("http://[::1]:8080/page", "http://[0:0::1]/x", NULL, NULL));
	/* http may move up to https. */
	assert_true(allowed("http://treaties.un.org/x", "https://treaties.un.org/x", NULL,
	    NULL));
}

static void
test_redirect_other_host(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const listed[] = { "www.un.org", "Evil.Example", NULL };

	assert_false(allowed(UNTC, "https://evil.example/", NULL,
	    "redirect to https://evil.example/ refused: host not in redirect_hosts"));
	assert_false(allowed(UNTC, "https://evil.example/", none, "[ratd] redirect_hosts"));
	assert_false(allowed(UNTC, "//evil.example/x", NULL, "https://evil.example/"));
	assert_false(allowed("http://127.0.0.1:8080/page", "http://localhost:8080/moved", NULL,
	    "redirect to http://localhost:8080/ refused"));
	assert_false(allowed(UNTC, "https://un.org/", listed, "un.org"));
	assert_false(allowed(UNTC, "https://treaties.un.org.evil.example/", listed, NULL));
	assert_false(allowed(UNTC, "https://evil.example:443/", NULL, NULL));
	/* Listed: any case, either side. */
	assert_true(allowed(UNTC, "https://www.un.org/x", listed, NULL));
	assert_true(allowed(UNTC, "https://EVIL.example/x", listed, NULL));
	assert_true(allowed(UNTC, "https://evil.example:8443/x", listed, NULL));
}

/* Userinfo and encodings: the host compared is the one libcurl would connect to. */
static void
test_redirect_host_tricks(void **state)
{
	static const char *const good[] = { "good.example", NULL };
	static const char *const evil[] = { "evil.example", NULL };
	static const char *const puny[] = { "XN--VIL-DMA.example", NULL };

	assert_false(allowed(UNTC, "http://good.example@evil.example/", good, "evil.example"));
	assert_false(allowed(UNTC, "https://treaties.un.org@evil.example/", NULL,
	    "https://evil.example/"));
	assert_false(allowed(UNTC, "https://treaties.un.org:443@evil.example/", NULL, NULL));
	assert_false(allowed(UNTC, "https://evil.example#@treaties.un.org/", NULL, NULL));
	assert_false(allowed(UNTC, "https://evil.example?@treaties.un.org/", NULL, NULL));
	assert_true(allowed(UNTC, "https://evil.example%2F@treaties.un.org/", NULL, NULL));
	assert_true(allowed(UNTC, "https://user:pass@treaties.un.org/x", NULL, NULL));
	/* Percent-encoded hosts are decoded first. */
	assert_false(allowed(UNTC, "https://%65vil.example/", NULL, "https://evil.example/"));
	assert_true(allowed(UNTC, "https://%65vil.example/", evil, NULL));
	assert_true(allowed(UNTC, "https://%74reaties.un.org/x", NULL, NULL));
	/* An internationalised name matches only its xn-- form; shown as ASCII. */
	assert_false(allowed(UNTC, "https://\xc3\xa9vil.example/", evil, "refused"));
	assert_false(allowed(UNTC, "https://\xc3\xa9vil.example/", NULL, "refused"));
	assert_true(allowed(UNTC, "https://xn--vil-dma.example/", puny, NULL));
	assert_true(allowed("https://\xc3\xa9vil.example/a", "/b", NULL, NULL));
	assert_false(allowed(UNTC, "https://xn--vil-dma.example/", evil, NULL));
	/* What libcurl cannot parse is not followed. */
	assert_false(allowed(UNTC, "https://exa mple.org/", NULL, "not an http or https URL"));
	assert_false(allowed(UNTC, "https://treaties.un.org%00.evil.example/", NULL, NULL));
	assert_false(allowed("not a url", "https://treaties.un.org/", NULL, "not an absolute"));
}

static void
test_redirect_schemes(void **state)
{
	static const char *const listed[] = { "treaties.un.org", "evil.example", NULL };

	assert_false(allowed(UNTC, "http://treaties.un.org/Pages/ViewDetails.aspx", NULL,
	    "redirect to http://treaties.un.org/ refused: it leaves https for plain http"));
	assert_false(allowed(UNTC, "http://treaties.un.org/", listed, "plain http"));
	assert_false(allowed(UNTC, "http://evil.example/", listed, "plain http"));
	assert_false(allowed(UNTC, "HTTP://treaties.un.org:443/", NULL, "plain http"));
	assert_false(allowed(UNTC, "ftp://treaties.un.org/x", NULL, "only http and https"));
	assert_false(allowed(UNTC, "file:///etc/passwd", NULL, NULL));
	assert_false(allowed(UNTC, "javascript:alert(1)", NULL, NULL));
	assert_false(allowed(UNTC, "gopher://treaties.un.org/", listed, NULL));
	assert_true(allowed("http://treaties.un.org/x", "http://evil.example/", listed, NULL));
}

/* A small why is filled and cut, never overrun; a long target is cut in it. */
static void
test_redirect_why_bounded(void **state)
{
	char why[24], big[4096];

	memset(why, 'X', sizeof(why));
	assert_false(fetch_redirect_allowed(UNTC, "https://evil.example/", NULL, why, 16));
	assert_int_equal(strlen(why), 15);
	assert_int_equal(why[16], 'X');
	memcpy(big, "https://", 8);
	memset(big + 8, 'a', 3000);
	strcpy(big + 3008, ".example/");
	assert_false(allowed(UNTC, big, NULL, "..."));
}

/* A test given a transfer that never starts. */
#define ALONE(f) cmocka_unit_test_setup_teardown(f, alone_setup, alone_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validator_ok),
		ALONE(test_ascii_validators_are_kept),
		ALONE(test_validators_not_ascii_are_dropped),
		ALONE(test_status_line_forgets_validators),
		ALONE(test_request_echoes_valid_validators_only),
		cmocka_unit_test(test_redirect_same_host),
		cmocka_unit_test(test_redirect_other_host),
		cmocka_unit_test(test_redirect_host_tricks),
		cmocka_unit_test(test_redirect_schemes),
		cmocka_unit_test(test_redirect_why_bounded),
	};

	return HELPERS_RUN_WITH_CURL(tests);
}
