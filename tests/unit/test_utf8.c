/* Cutting and repairing UTF-8: text from outside is never cut inside a character, and
 * a string that is not UTF-8 still becomes JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "date.h"
#include "utf8.h"

/* utf8_cut(text, max) keeps want bytes. */
static const struct {
	const char *text;
	size_t max, want;
} cuts[] = {
	/* What fits is kept. */
	{ "", 60, 0 },
	{ "Runtime Error", 60, 13 },
	{ "Runtime Error", 7, 7 },
	{ "abc", 0, 0 },
	/* Exactly at the end of a character: nothing lost. */
	{ "trait\xc3\xa9s", 7, 7 },
	/* é (2 bytes), — (3 bytes), 𝄞 (4 bytes): every cut inside one goes before it. */
	{ "trait\xc3\xa9s", 6, 5 },
	{ "Unies \xe2\x80\x94 erreur", 7, 6 },
	{ "Unies \xe2\x80\x94 erreur", 8, 6 },
	{ "Unies \xe2\x80\x94 erreur", 9, 9 },
	{ "a\xf0\x9d\x84\x9e", 4, 1 },
	{ "a\xf0\x9d\x84\x9e", 5, 5 },
	/* Bytes that are not UTF-8 are one character each: cut anywhere between them. */
	{ "ab\xff\xfe", 3, 3 },
	{ "ab\xc3", 3, 3 },
	{ "\xe2\x80x", 2, 2 },
};

static void
test_cut_never_splits_a_character(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		assert_int_equal(utf8_cut(cuts[i].text, cuts[i].max), cuts[i].want);
	/* The title of a French ASP.NET error page: its 60th byte is inside "é". */
	const char *title = "Collection des trait\xc3\xa9s des Nations Unies \xe2\x80\x94 "
	    "erreur d\xe2\x80\x99\x65x\xc3\xa9\x63ution";
	assert_int_equal(utf8_cut(title, 60), 59);
}

static void
test_trim_partial(void **state)
{
	/* A character cut short at the end is dropped; whole ones are kept. */
	static const char *const trims[][2] = {
		{ "ab\xc3", "ab" }, { "ab\xe2\x80", "ab" }, { "ab\xe2\x80\x94", "ab\xe2\x80\x94" },
		{ "ab", "ab" }, { "a\xf0\x9d\x84", "a" },
	};
	char buf[16];
	size_t i;

	for (i = 0; i < sizeof(trims) / sizeof(trims[0]); i++) {
		strcpy(buf, trims[i][0]);
		utf8_trim_partial(buf);
		assert_string_equal(buf, trims[i][1]);
	}
}

static void
test_repair(void **state)
{
	/* Each byte that is not UTF-8 becomes U+FFFD. */
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} repairs[] = {
		{ "d\xe2\x80\x99\x65x\xc3", 7, "d\xe2\x80\x99\x65x\xef\xbf\xbd" },
		/* An overlong '/' and a surrogate are not UTF-8 either. */
		{ "\xc0\xaf|\xed\xa0\x80", 6,
		    "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "ok", 2, "ok" },
	};
	char *r;
	size_t i;

	for (i = 0; i < sizeof(repairs) / sizeof(repairs[0]); i++) {
		assert_non_null(r = utf8_repair(repairs[i].in, repairs[i].len));
		assert_string_equal(r, repairs[i].out);
		free(r);
	}
}

/* The state file's strings: one that is not UTF-8 is stored repaired, not refused. */
static void
test_text_json_repairs(void **state)
{
	json_t *v = text_json("page title 'erreur d'ex\xc3");

	assert_non_null(v);
	assert_string_equal(json_string_value(v), "page title 'erreur d'ex\xef\xbf\xbd");
	json_decref(v);
	assert_true(json_is_null(v = text_json(NULL)));
	json_decref(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_never_splits_a_character),
		cmocka_unit_test(test_trim_partial),
		cmocka_unit_test(test_repair),
		cmocka_unit_test(test_text_json_repairs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
