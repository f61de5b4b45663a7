/* What the unit tests share (helpers.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "helpers.h"
#include "snapshot.h"

struct helpers_dir *
helpers_dir_new(const char *name)
{
	struct helpers_dir *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	strcpy(d->dir, "/tmp/ratd-test-XXXXXX");
	if (mkdtemp(d->dir) == NULL) {
		free(d);
		return NULL;
	}
	snprintf(d->path, sizeof(d->path), "%s/%s", d->dir, name);
	return d;
}

void
helpers_dir_free(struct helpers_dir *d)
{
	char path[512];
	struct dirent *de;
	DIR *dir;

	if (d == NULL)
		return;
	if ((dir = opendir(d->dir)) != NULL) {
		while ((de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", d->dir, de->d_name);
			unlink(path);
		}
		closedir(dir);
	}
	rmdir(d->dir);
	free(d);
}

int
helpers_entries(const char *dir, const char *prefix, char *found, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		fail_msg("cannot open the directory %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (prefix == NULL ? strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0
		    : strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		n++;
		if (found != NULL)
			snprintf(found, len, "%s/%s", dir, de->d_name);
	}
	closedir(d);
	return n;
}

char *
helpers_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((n = ftell(f)) >= 0);
	rewind(f);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

char *
helpers_read_fixture(const char *name, size_t *len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	return helpers_read_file(path, len);
}

day_t
helpers_day(const char *iso)
{
	day_t d;

	if (date_parse_iso(iso, &d) == -1)
		fail_msg("bad date in test: %s", iso);
	return d;
}

struct snapshot *
helpers_parse_fixture(const char *name, enum untc_format fmt)
{
	char err[256] = "";
	struct snapshot *s;
	size_t len;
	char *buf = helpers_read_fixture(name, &len);

	assert_true(len > 0);
	s = untc_parse(buf, len, fmt, err, sizeof(err));
	free(buf);
	if (s == NULL)
		fail_msg("%s: %s", name, err);
	return s;
}

const struct participant *
helpers_participant(const struct snapshot *s, const char *name)
{
	long i = snapshot_find(s, name);

	if (i < 0)
		fail_msg("no participant '%s'", name);
	return &s->v[i];
}

void
helpers_find_each(const char *text, bool present, ...)
{
	const char *s, *bad = NULL;
	va_list ap;

	va_start(ap, present);
	while (bad == NULL && (s = va_arg(ap, const char *)) != NULL)
		if ((strstr(text, s) != NULL) != present)
			bad = s;
	va_end(ap);
	if (bad != NULL)
		fail_msg("%s \"%s\" in (its first 500 bytes):\n%.500s",
		    present ? "no" : "unwanted", bad, text);
}

void
helpers_out_open(struct helpers_out *o)
{
	o->buf = NULL;
	o->len = 0;
	assert_non_null(o->f = open_memstream(&o->buf, &o->len));
}

char *
helpers_out_text(struct helpers_out *o)
{
	assert_int_equal(fclose(o->f), 0);
	o->f = NULL;
	return o->buf;
}

void
helpers_setenv(const char *name, const char *value)
{
	if (value != NULL)
		assert_int_equal(setenv(name, value, 1), 0);
	else
		assert_int_equal(unsetenv(name), 0);
}

int
helpers_run_with_curl(const char *group, const struct CMUnitTest *tests, size_t n)
{
	static const char *const proxies[] = {
		"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
		"ALL_PROXY", "no_proxy", "NO_PROXY",
	};
	size_t i;
	int rc;

	/* The tests' servers are on 127.0.0.1: a proxy set for the machine must not carry
	 * their transfers (libcurl reads these variables). */
	for (i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	curl_global_cleanup();
	return rc;
}

void
helpers_snapshots_free(struct snapshot *s, ...)
{
	va_list ap;

	va_start(ap, s);
	for (; s != NULL; s = va_arg(ap, struct snapshot *))
		snapshot_free(s);
	va_end(ap);
}
