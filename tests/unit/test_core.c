/* The modules between the bottom and the daemon (core, treaty, status, metrics) used
 * without a daemon: a core of one treaty served from its seed, its owner's callbacks
 * counting what they are told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "core.h"
#include "fetch.h"
#include "helpers.h"
#include "metrics.h"
#include "status.h"
#include "treaty.h"

/* What the owner heard. */
struct owner {
	int touched;
	int reports;
	struct treaty_report last;
	int waited;
	enum treaty_outcome waited_outcome;
};

struct fx {
	struct helpers_dir *dir;
	struct conf conf;
	struct core core;
	struct treaty *treaty;
	struct owner owner;
};

static void
owner_touched(void *arg)
{
	((struct owner *)arg)->touched++;
}

static void
owner_report(void *arg, struct treaty *t, const struct treaty_report *r)
{
	struct owner *o = arg;

	o->reports++;
	o->last = *r;
}

/* A ratd.conf of one treaty whose URL refuses connections, seeded from the fixtures. */
static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	FILE *f;

	if (fx == NULL || (fx->dir = helpers_dir_new("ratd.conf")) == NULL ||
	    (f = fopen(fx->dir->path, "w")) == NULL)
		return -1;
	fprintf(f, "[ratd]\nstate_dir = %s\nseed_dir = %s\n\n[treaty IV-13]\n"
	    "url = http://127.0.0.1:1/IV-13\nthreshold = 20\neif_delay = 3 months\n"
	    "eif_align = next-month\n", fx->dir->dir, FIXTURES);
	fclose(f);
	if (conf_load(fx->dir->path, &fx->conf) < 0)
		return -1;
	fx->core.loop = ev_loop_new(EVFLAG_AUTO);
	fx->core.conf = &fx->conf;
	fx->core.journal.fd = -1;
	fx->core.rng = 42;
	fx->core.once = true;    /* no timers: the tests run the loop themselves */
	fx->core.touched = owner_touched;
	fx->core.owner = &fx->owner;
	fx->treaty = treaty_new(&fx->core, &fx->conf.treaties[0], owner_report, &fx->owner);
	if (fx->core.loop == NULL || fx->treaty == NULL)
		return -1;
	fx->core.treaties = &fx->treaty;
	fx->core.ntreaties = 1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	treaty_free(fx->treaty);
	fetcher_free(fx->core.fetcher);
	ev_loop_destroy(fx->core.loop);
	conf_free(&fx->conf);
	helpers_dir_free(fx->dir);
	free(fx);
	return 0;
}

static void
test_touch_tells_the_owner(void **state)
{
	struct fx *fx = *state;
	uint64_t gen = fx->core.generation;
	int i;

	fx->owner.touched = 0;
	core_touch(&fx->core);
	core_touch(&fx->core);
	assert_int_equal(fx->core.generation, gen + 2);
	assert_int_equal(fx->owner.touched, 2);
	for (i = 0; i < 1000; i++) {
		double r = core_random(&fx->core);

		assert_true(r >= 0 && r < 1);
	}
}

static void
test_treaty_find(void **state)
{
	struct fx *fx = *state;

	assert_ptr_equal(treaty_find(&fx->core, "IV-13"), fx->treaty);
	assert_null(treaty_find(&fx->core, "IV-1"));
}

/* status reads the treaty (its seed), not a daemon. */
static void
test_status_of_the_seed(void **state)
{
	struct fx *fx = *state;
	json_t *st = status_treaty(fx->treaty, date_from_ymd(2010, 1, 1));

	assert_non_null(st);
	assert_string_equal(json_string_value(json_object_get(st, "id")), "IV-13");
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "source"),
	    "state")), "seed");
	assert_int_equal(json_integer_value(json_object_get(st, "threshold")), 20);
	assert_true(json_is_true(json_object_get(st, "in_force")));
	assert_string_equal(json_string_value(json_object_get(st, "entry_into_force")),
	    "2003-07-01");
	json_decref(st);
}

/* metrics reads the treaties through core and the counters its owner keeps. */
static void
test_metrics_text(void **state)
{
	struct fx *fx = *state;
	static const char *const want[] = {
		"ratd_treaty_threshold{treaty=\"IV-13\"} 20\n",
		"ratd_treaty_in_force{treaty=\"IV-13\"} 1\n",
		"ratd_fetches_total{result=\"error\"} 2\n",
		"ratd_fetches_total{result=\"not-modified\"} 0\n",
		"ratd_fetch_bytes_total 1234\n",
		/* No sinks set: none shown, the type lines still there. */
		"# TYPE ratd_sink_pending gauge\n",
	};
	struct metrics m = { .core = &fx->core };
	char *text;
	size_t i;

	m.fetches[TREATY_ERROR] = 2;
	m.bytes = 1234;
	assert_non_null(text = metrics_text(&m));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(text, want[i]) == NULL)
			fail_msg("no line %s in:\n%s", want[i], text);
	assert_null(strstr(text, "ratd_sink_pending{"));
	free(text);
}

static void
waiter(void *arg, struct treaty *t, enum treaty_outcome o, const char *error)
{
	struct owner *ow = arg;

	ow->waited++;
	ow->waited_outcome = o;
	assert_int_equal(ow->reports, 1);
	assert_non_null(error);
	ev_break(t->core->loop, EVBREAK_ALL);
}

/* A fetch that fails is reported to the owner once, before the waiter hears of it. */
static void
test_failed_fetch_is_reported(void **state)
{
	struct fx *fx = *state;

	assert_non_null(fx->core.fetcher = fetcher_new(fx->core.loop));
	treaty_fetch_now(fx->treaty, waiter, &fx->owner);
	if (fx->owner.waited == 0)
		ev_run(fx->core.loop, 0);
	assert_int_equal(fx->owner.waited, 1);
	assert_int_equal(fx->owner.waited_outcome, TREATY_ERROR);
	assert_int_equal(fx->owner.reports, 1);
	assert_int_equal(fx->owner.last.outcome, TREATY_ERROR);
	assert_int_equal(fx->owner.last.bytes, 0);
	assert_true(fx->owner.last.parse_seconds == 0);
	assert_int_equal(fx->treaty->meta.consecutive_failures, 1);
	assert_string_equal(treaty_source_state(fx->treaty), "seed");
}

/* Every test runs in a fresh fixture. */
#define FX(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX(test_touch_tells_the_owner),
		FX(test_treaty_find),
		FX(test_status_of_the_seed),
		FX(test_metrics_text),
		FX(test_failed_fetch_is_reported),
	};

	return HELPERS_RUN_WITH_CURL(tests);
}
