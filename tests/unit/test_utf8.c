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
struct cut_case {
	const char *text;
	size_t max, want;
};

static void
assert_cuts(const struct cut_case *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(utf8_cut(c[i].text, c[i].max), c[i].want);
}

static void
test_cut_keeps_what_fits(void **state)
{
	static const struct cut_case cases[] = {
		{ "", 60, 0 },
		{ "Runtime Error", 60, 13 },
		{ "Runtime Error", 7, 7 },
		{ "abc", 0, 0 },
		/* Exactly at the end of a character: nothing lost. */
		{ "trait\xc3\xa9s", 7, 7 },
	};

	assert_cuts(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_cut_never_splits_a_character(void **state)
{
	static const struct cut_case cases[] = {
		/* é (2 bytes), — (3 bytes), 𝄞 (4 bytes): every cut inside one goes before it. */
		{ "trait\xc3\xa9s", 6, 5 },
		{ "Unies \xe2\x80\x94 erreur", 7, 6 },
		{ "Unies \xe2\x80\x94 erreur", 8, 6 },
		{ "Unies \xe2\x80\x94 erreur", 9, 9 },
		{ "a\xf0\x9d\x84\x9e", 4, 1 },
		{ "a\xf0\x9d\x84\x9e", 5, 5 },
	};

	assert_cuts(cases, sizeof(cases) / sizeof(cases[0]));
	/* The title of a French ASP.NET error page: its 60th byte is inside "é". */
	const char *title = "Collection des trait\xc3\xa9s des Nations Unies \xe2\x80\x94 "
	    "erreur d\xe2\x80\x99\x65x\xc3\xa9\x63ution";
	assert_int_equal(utf8_cut(title, 60), 59);
}

static void
test_cut_counts_bad_bytes_as_characters(void **state)
{
	static const struct cut_case cases[] = {
		/* Bytes that are not UTF-8 are one character each: cut anywhere between them. */
		{ "ab\xff\xfe", 3, 3 },
		{ "ab\xc3", 3, 3 },
		{ "\xe2\x80x", 2, 2 },
	};

	assert_cuts(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_trim_partial(void **state)
{
	char a[] = "ab\xc3", b[] = "ab\xe2\x80", c[] = "ab\xe2\x80\x94", d[] = "ab",
	    e[] = "a\xf0\x9d\x84";

	utf8_trim_partial(a);
	assert_string_equal(a, "ab");
	utf8_trim_partial(b);
	assert_string_equal(b, "ab");
	utf8_trim_partial(c);
	assert_string_equal(c, "ab\xe2\x80\x94");
	utf8_trim_partial(d);
	assert_string_equal(d, "ab");
	utf8_trim_partial(e);
	assert_string_equal(e, "a");
}

static void
test_repair(void **state)
{
	char *r;

	assert_non_null(r = utf8_repair("d\xe2\x80\x99\x65x\xc3", 7));
	assert_string_equal(r, "d\xe2\x80\x99\x65x\xef\xbf\xbd");
	free(r);
	/* An overlong '/' and a surrogate are not UTF-8 either. */
	assert_non_null(r = utf8_repair("\xc0\xaf|\xed\xa0\x80", 6));
	assert_string_equal(r, "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	free(r);
	assert_non_null(r = utf8_repair("ok", 2));
	assert_string_equal(r, "ok");
	free(r);
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
		cmocka_unit_test(test_cut_keeps_what_fits),
		cmocka_unit_test(test_cut_never_splits_a_character),
		cmocka_unit_test(test_cut_counts_bad_bytes_as_characters),
		cmocka_unit_test(test_trim_partial),
		cmocka_unit_test(test_repair),
		cmocka_unit_test(test_text_json_repairs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
