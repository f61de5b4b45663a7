/* Per-host queues: how many transfers go at once, how far apart they start, whose turn
 * comes first, and what a host's pause holds back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hostq.h"

#define NITEMS 6

struct job {
	struct hostq_item it;     /* first: the go callback finds its job from it */
	int id;
	ev_tstamp went;           /* 0 until its turn came */
};

static struct ev_loop *loop;
static int order[NITEMS * 2];
static int norder;

static void
job_go(struct hostq_item *it)
{
	struct job *j = (struct job *)it;

	j->went = ev_now(loop);
	order[norder++] = j->id;
}

static void
deadline_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ONE);
}

/*
 * Runs the loop until n jobs have gone or the seconds pass. The deadline is a timer of
 * its own: a queue's longer timer (a host held for a minute) would otherwise keep one
 * turn of the loop waiting past it.
 */
static void
run_until(int n, double seconds)
{
	ev_timer deadline;

	ev_now_update(loop);
	ev_timer_init(&deadline, deadline_cb, seconds, 0.);
	ev_timer_start(loop, &deadline);
	while (norder < n && ev_is_active(&deadline))
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &deadline);
}

/* How long a job that must go may take (run_until returns as soon as it has gone), and
 * how long one that must not go is given to show it would. */
#define GOES_WITHIN 5.0
#define STAYS_FOR 0.2

static void
jobs_enter(struct hostq *q, struct job *j, int n, const char *host)
{
	int i;

	for (i = 0; i < n; i++) {
		memset(&j[i], 0, sizeof(j[i]));
		j[i].id = i;
		assert_int_equal(hostq_enter(q, &j[i].it, host, job_go), 0);
	}
}

/* Every job of j[0..n) leaves the queue. */
static void
jobs_leave(struct job *j, int n)
{
	int i;

	for (i = 0; i < n; i++)
		hostq_leave(&j[i].it);
}

static int
setup(void **state)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	norder = 0;
	return loop == NULL;
}

static int
teardown(void **state)
{
	ev_loop_destroy(loop);
	return 0;
}

/* Two at once, in the order they came; a third goes only when one leaves. */
static void
test_concurrency_first_come_first_served(void **state)
{
	struct hostq *q = hostq_new(loop);
	struct job j[NITEMS];

	hostq_set_limits(q, 2, 0);
	jobs_enter(q, j, NITEMS, "treaties.un.org");
	assert_int_equal(norder, 0);           /* never from inside hostq_enter */
	run_until(2, GOES_WITHIN);             /* one a turn of the loop */
	run_until(3, STAYS_FOR);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);
	assert_int_equal(hostq_waiting(q), 4);
	hostq_leave(&j[1].it);
	run_until(3, GOES_WITHIN);
	assert_int_equal(norder, 3);
	assert_int_equal(order[2], 2);
	/* A waiting one that leaves loses its place: 4 is next after 2. */
	hostq_leave(&j[3].it);
	hostq_leave(&j[0].it);
	run_until(4, GOES_WITHIN);
	assert_int_equal(order[3], 4);
	hostq_leave(&j[2].it);
	hostq_leave(&j[4].it);
	run_until(5, GOES_WITHIN);
	assert_int_equal(order[4], 5);
	hostq_leave(&j[5].it);
	hostq_free(q);
}

/* Hosts do not wait for each other; names compare without regard to case. */
static void
test_hosts_apart(void **state)
{
	struct hostq *q = hostq_new(loop);
	struct job a[2], b[1];

	hostq_set_limits(q, 1, 0);
	jobs_enter(q, a, 2, "treaties.un.org");
	jobs_enter(q, b, 1, "example.org");
	run_until(3, STAYS_FOR);
	assert_int_equal(norder, 2);           /* a[0] and b[0]; a[1] waits for a[0] */
	assert_true(a[0].went > 0 && b[0].went > 0 && a[1].went == 0);
	hostq_leave(&a[0].it);
	run_until(3, GOES_WITHIN);
	assert_true(a[1].went > 0);
	hostq_leave(&a[1].it);
	hostq_leave(&b[0].it);
	hostq_free(q);
}

/* Starts are host_spacing apart even with slots free. */
static void
test_spacing(void **state)
{
	struct hostq *q = hostq_new(loop);
	struct job j[3];

	hostq_set_limits(q, 3, 0.2);
	jobs_enter(q, j, 3, "TREATIES.UN.ORG");
	run_until(3, GOES_WITHIN);
	assert_int_equal(norder, 3);
	assert_true(j[1].went - j[0].went >= 0.19);
	assert_true(j[2].went - j[1].went >= 0.19);
	jobs_leave(j, 3);
	hostq_free(q);
}

/* A pause holds back every waiting transfer of the host but an operator's. */
static void
test_hold_spares_only_the_asked(void **state)
{
	struct hostq *q = hostq_new(loop);
	struct job j[3], asked;

	hostq_set_limits(q, 2, 0);
	jobs_enter(q, j, 1, "h");
	run_until(1, GOES_WITHIN);
	hostq_hold(&j[0].it, 60);
	hostq_leave(&j[0].it);
	jobs_enter(q, &j[1], 2, "h");
	run_until(2, STAYS_FOR);
	assert_int_equal(norder, 1);           /* held */
	memset(&asked, 0, sizeof(asked));
	asked.id = 9;
	asked.it.asked = true;
	assert_int_equal(hostq_enter(q, &asked.it, "h", job_go), 0);
	run_until(2, GOES_WITHIN);
	assert_int_equal(norder, 2);
	assert_int_equal(order[1], 9);
	assert_int_equal(hostq_waiting(q), 2);
	/* A waiting one that someone now waits for goes too, ahead of the other. */
	hostq_ask(&j[2].it);
	run_until(3, GOES_WITHIN);
	assert_int_equal(norder, 3);
	assert_int_equal(order[2], 1);         /* j[2]'s id: jobs_enter numbered it 1 */
	assert_int_equal(hostq_waiting(q), 1);
	hostq_leave(&asked.it);
	hostq_leave(&j[1].it);
	hostq_leave(&j[2].it);
	assert_int_equal(hostq_waiting(q), 0);
	hostq_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrency_first_come_first_served, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hosts_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spacing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_spares_only_the_asked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
