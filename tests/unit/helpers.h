/* What the unit tests share, linked into every one of them: files and fixtures read
 * whole, a fixture page parsed, a scratch directory removed with what it holds. Each
 * fails the running test (cmocka) rather than return an error. */
#ifndef RATD_TEST_HELPERS_H
#define RATD_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct CMUnitTest;

#include "date.h"
#include "untc.h"

/* A scratch directory for one test and a file name in it. */
struct helpers_dir {
	char dir[64];      /* /tmp/ratd-test-XXXXXX */
	char path[192];    /* dir/NAME */
};

/* Creates a fresh directory and sets path to dir/name; NULL when it cannot (a cmocka
 * setup then returns -1). */
struct helpers_dir *helpers_dir_new(const char *name);
/* Removes the files in the directory, the directory, and frees d. */
void helpers_dir_free(struct helpers_dir *d);
/* How many entries of dir have a name starting with prefix (NULL: all but . and ..);
 * the path of the last one into found (when found is not NULL). */
int helpers_entries(const char *dir, const char *prefix, char *found, size_t len);
/* The whole file at path, NUL-terminated (malloc'ed); *len (when len is not NULL) its
 * size. Fails the test when it cannot be read. */
char *helpers_read_file(const char *path, size_t *len);
/* The same for the fixture tests/fixtures/NAME. */
char *helpers_read_fixture(const char *name, size_t *len);
/* The day of an ISO date written in a test ("2003-03-14"); fails the test when it is
 * not one. */
day_t helpers_day(const char *iso);
/* The fixture page NAME parsed as fmt; fails the test with the parser's reason. */
struct snapshot *helpers_parse_fixture(const char *name, enum untc_format fmt);
/* Sets the environment variable name to value, or unsets it when value is NULL. */
void helpers_setenv(const char *name, const char *value);
/* A stream written to memory: helpers_out_open(o) opens o->f (failing the test when it
 * cannot); helpers_out_text(o) closes it and returns what was written (free it). */
struct helpers_out {
	char *buf;
	size_t len;
	FILE *f;
};
void helpers_out_open(struct helpers_out *o);
char *helpers_out_text(struct helpers_out *o);
/* Fails the test unless text contains each string of the list, which ends with NULL
 * (present), or if it contains any of them (!present). */
void helpers_find_each(const char *text, bool present, ...);
#define helpers_contains(text, ...) helpers_find_each((text), true, __VA_ARGS__)
#define helpers_lacks(text, ...) helpers_find_each((text), false, __VA_ARGS__)
/* Runs the cmocka group tests (an array) between curl_global_init and
 * curl_global_cleanup, for tests that make curl handles; returns cmocka's result. */
int helpers_run_with_curl(const char *group, const struct CMUnitTest *tests, size_t n);
#define HELPERS_RUN_WITH_CURL(tests) \
	helpers_run_with_curl(#tests, (tests), sizeof(tests) / sizeof((tests)[0]))
/* Frees each snapshot of the list, which ends with NULL. */
void helpers_snapshots_free(struct snapshot *s, ...);
/* The participant called name in s; fails the test when s has none. */
const struct participant *helpers_participant(const struct snapshot *s, const char *name);

#endif
