/* Fetching: which validators a response may leave behind.
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

/* A transfer that never starts: enough for fetch_header_cb. */
static struct fetch *
fetch_alone(void)
{
	struct fetch *fe = calloc(1, sizeof(*fe));

	assert_non_null(fe);
	assert_non_null(fe->easy = curl_easy_init());
	fe->res.retry_after = -1;
	return fe;
}

static void
fetch_alone_free(struct fetch *fe)
{
	curl_easy_cleanup(fe->easy);
	fetch_result_clear(&fe->res);
	free(fe);
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
	struct fetch *fe = fetch_alone();

	HEADER(fe, "HTTP/1.1 200 OK\r\n");
	HEADER(fe, "etag:   W/\"5f2a-61c8\"  \r\n");
	HEADER(fe, "Last-Modified: Mon, 30 Nov 2026 10:00:00 GMT\r\n");
	HEADER(fe, "Retry-After: 120\r\n");
	assert_string_equal(fe->res.etag, "W/\"5f2a-61c8\"");
	assert_string_equal(fe->res.last_modified, "Mon, 30 Nov 2026 10:00:00 GMT");
	assert_int_equal(fe->res.retry_after, 120);
	fetch_alone_free(fe);
}

/* What made every commit fail with "cannot encode state": bytes >= 0x80 in a validator,
 * stored as is and then refused by the JSON encoder. */
static void
test_validators_not_ascii_are_dropped(void **state)
{
	struct fetch *fe = fetch_alone();
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
	fetch_alone_free(fe);
}

/* A redirect's own validators are not the page's. */
static void
test_status_line_forgets_validators(void **state)
{
	struct fetch *fe = fetch_alone();

	HEADER(fe, "HTTP/1.1 302 Found\r\n");
	HEADER(fe, "ETag: \"redirect\"\r\n");
	HEADER(fe, "Retry-After: 5\r\n");
	HEADER(fe, "HTTP/1.1 200 OK\r\n");
	assert_null(fe->res.etag);
	assert_int_equal(fe->res.retry_after, -1);
	fetch_alone_free(fe);
}

/* A request echoes only a validator that could have been kept. */
static void
test_request_echoes_valid_validators_only(void **state)
{
	struct fetch *fe = fetch_alone();
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
	fetch_alone_free(fe);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validator_ok),
		cmocka_unit_test(test_ascii_validators_are_kept),
		cmocka_unit_test(test_validators_not_ascii_are_dropped),
		cmocka_unit_test(test_status_line_forgets_validators),
		cmocka_unit_test(test_request_echoes_valid_validators_only),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
