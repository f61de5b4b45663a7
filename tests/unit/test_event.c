/* Events (man/ratd.8, EVENTS): what a commit of one snapshot over another raises, their
 * ids and their validation. The IV-13 threshold day is the real case: 14 March 2003,
 * El Salvador and Guatemala deposit the 20th and 21st instruments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "helpers.h"
#include "untc.h"

#define K(k) (1u << (k))
#define ALL_INSTRUMENTS (K(KIND_RATIFICATION) | K(KIND_ACCESSION) | K(KIND_ACCEPTANCE) | \
	K(KIND_APPROVAL) | K(KIND_SUCCESSION) | K(KIND_CONFIRMATION))

static char iv13_id[] = "IV-13";

/* [treaty IV-13] as etc/ratd.conf has it: article 87, approaching = 3. */
static struct conf_treaty
iv13(void)
{
	struct conf_treaty ct = {
		.id = iv13_id,
		.rule = { .threshold = 20, .delay_months = 3, .align = RULE_ALIGN_NEXT_MONTH,
		    .count_mask = ALL_INSTRUMENTS },
		.approaching = 3,
	};

	return ct;
}

/* A small treaty for synthetic tables: 5 instruments. */
static struct conf_treaty
five(int approaching)
{
	struct conf_treaty ct = iv13();

	ct.rule.threshold = 5;
	ct.approaching = approaching;
	return ct;
}

/* Days read like the dates they are. */
#define D(iso) helpers_day(iso)

/* 09:00 UTC on that day. */
static time_t
at(const char *iso)
{
	return (time_t)D(iso) * 86400 + 9 * 3600;
}

/* One row of a synthetic table; NULL dates are empty cells. */
struct row {
	const char *name;
	bool withdrawn;
	const char *signed_on;
	const char *deposited;
	enum kind kind;
};

static struct snapshot *
table(const struct row *rows, size_t n)
{
	struct snapshot *s = snapshot_new();
	struct action sig, ins;
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++) {
		sig.date = rows[i].signed_on ? D(rows[i].signed_on) : DAY_NONE;
		sig.kind = rows[i].signed_on ? KIND_SIGNATURE : KIND_NONE;
		ins.date = rows[i].deposited ? D(rows[i].deposited) : DAY_NONE;
		ins.kind = rows[i].deposited ? rows[i].kind : KIND_NONE;
		assert_int_equal(snapshot_add(s, rows[i].name, rows[i].withdrawn, sig, ins), 0);
	}
	return s;
}

#define TABLE(rows) table((rows), sizeof(rows) / sizeof((rows)[0]))

/* Runs event_diff and checks it succeeds. */
static void
diff(struct event_list *l, const struct conf_treaty *ct, const struct snapshot *before,
    const struct snapshot *after, const char *today)
{
	assert_int_equal(event_diff(l, ct, before, after, D(today), DAY_NONE, at(today)), 0);
}

/* One commit: the tables before and after it, the treaty's configuration, and the list
 * the events go to. */
struct commit {
	struct conf_treaty ct;
	struct snapshot *before, *after;
	struct event_list l;
};

/* The events of committing c->after over c->before on today, in c->l (emptied first). */
static void
commit(struct commit *c, const char *today)
{
	event_list_clear(&c->l);
	diff(&c->l, &c->ct, c->before, c->after, today);
}

static void
commit_clear(struct commit *c)
{
	event_list_clear(&c->l);
	helpers_snapshots_free(c->before, c->after, NULL);
}

/* A commit of the table r2 over the table r1, for five(approaching). */
static void
tables(struct commit *c, int approaching, const struct row *r1, size_t n1,
    const struct row *r2, size_t n2)
{
	*c = (struct commit){ .ct = five(approaching) };
	c->before = table(r1, n1);
	c->after = table(r2, n2);
}

#define TABLES(c, approaching, r1, r2) tables((c), (approaching), \
	(r1), sizeof(r1) / sizeof((r1)[0]), (r2), sizeof(r2) / sizeof((r2)[0]))

static size_t
count(const struct event_list *l, const char *type)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++)
		n += strcmp(event_type(l->v[i]), type) == 0;
	return n;
}

/* The k-th (0-based) event of that type; fails the test when there is none. */
static const json_t *
nth(const struct event_list *l, const char *type, size_t k)
{
	size_t i, seen = 0;

	for (i = 0; i < l->n; i++)
		if (strcmp(event_type(l->v[i]), type) == 0 && seen++ == k)
			return l->v[i];
	fail_msg("no %s event number %zu", type, k);
	return NULL;
}

static const json_t *
data(const json_t *ev)
{
	const json_t *d = json_object_get(ev, "data");

	assert_true(json_is_object(d));
	return d;
}

/* The member key of o, failing the test unless it is of type (what, for the message). */
static const json_t *
member(const json_t *o, const char *key, json_type type, const char *what)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL || json_typeof(v) != type)
		fail_msg("\"%s\" is not %s", key, what);
	return v;
}

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(member(o, key, JSON_STRING, "a string"));
}

static json_int_t
num(const json_t *o, const char *key)
{
	return json_integer_value(member(o, key, JSON_INTEGER, "an integer"));
}

static void
assert_new_party(const json_t *ev, const char *who, const char *date, const char *kind,
    int parties, int remaining)
{
	const json_t *d = data(ev);

	assert_string_equal(str(d, "participant"), who);
	assert_string_equal(str(d, "date"), date);
	assert_string_equal(str(d, "kind"), kind);
	assert_int_equal(num(d, "parties"), parties);
	assert_int_equal(num(d, "remaining"), remaining);
	assert_int_equal(json_object_size(d), 5);
}

/* The commit of the IV-13 page of the day the threshold was reached over the page of
 * its eve. */
static int
threshold_day_setup(void **state)
{
	struct commit *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -1;
	d->ct = iv13();
	d->before = helpers_parse_fixture("IV-13.2003-03-13.html", UNTC_AUTO);
	d->after = helpers_parse_fixture("IV-13.2003-03-14.html", UNTC_AUTO);
	*state = d;
	return 0;
}

static int
threshold_day_teardown(void **state)
{
	commit_clear(*state);
	free(*state);
	return 0;
}

static void
test_iv13_threshold_day(void **state)
{
	struct commit *fx = *state;
	const json_t *ev, *d, *who;
	size_t i;

	commit(fx, "2003-03-14");
	assert_int_equal(fx->l.n, 3);
	assert_int_equal(count(&fx->l, EV_NEW_PARTY), 2);
	assert_int_equal(count(&fx->l, EV_THRESHOLD_REACHED), 1);

	assert_new_party(nth(&fx->l, EV_NEW_PARTY, 0), "El Salvador", "2003-03-14",
	    "ratification", 21, 0);
	assert_new_party(nth(&fx->l, EV_NEW_PARTY, 1), "Guatemala", "2003-03-14",
	    "ratification", 21, 0);

	ev = nth(&fx->l, EV_THRESHOLD_REACHED, 0);
	d = data(ev);
	assert_int_equal(num(d, "parties"), 21);
	assert_int_equal(num(d, "threshold"), 20);
	assert_string_equal(str(d, "threshold_date"), "2003-03-14");
	assert_string_equal(str(d, "entry_into_force"), "2003-07-01");
	who = json_object_get(d, "threshold_participants");
	assert_true(json_is_array(who));
	assert_int_equal(json_array_size(who), 2);
	assert_string_equal(json_string_value(json_array_get(who, 0)), "El Salvador");
	assert_string_equal(json_string_value(json_array_get(who, 1)), "Guatemala");
	assert_non_null(strstr(str(ev, "summary"), "2003-07-01"));

	for (i = 0; i < fx->l.n; i++) {
		assert_string_equal(event_treaty(fx->l.v[i]), "IV-13");
		assert_string_equal(str(fx->l.v[i], "time"), "2003-03-14T09:00:00Z");
		/* Not numbered yet: the journal gives ids. */
		assert_int_equal(event_id(fx->l.v[i]), 0);
		assert_int_equal(event_check(fx->l.v[i]), -1);
	}
}

/* A protocol that waits for its convention: the threshold event gives the date the
 * convention allows, or says what it waits for. */
static void
test_threshold_of_a_protocol(void **state)
{
	struct commit *fx = *state;
	char conv[] = "IV-99";
	const json_t *ev;

	fx->ct.rule.after_treaty = conv;
	assert_int_equal(event_diff(&fx->l, &fx->ct, fx->before, fx->after,
	    D("2003-03-14"), DAY_NONE, at("2003-03-14")), 0);
	ev = nth(&fx->l, EV_THRESHOLD_REACHED, 0);
	assert_true(json_is_null(json_object_get(data(ev), "entry_into_force")));
	assert_non_null(strstr(str(ev, "summary"), "enters into force with IV-99"));
	event_list_clear(&fx->l);

	assert_int_equal(event_diff(&fx->l, &fx->ct, fx->before, fx->after,
	    D("2003-03-14"), D("2004-01-01"), at("2003-03-14")), 0);
	ev = nth(&fx->l, EV_THRESHOLD_REACHED, 0);
	assert_string_equal(str(data(ev), "entry_into_force"), "2004-01-01");
	assert_non_null(strstr(str(ev, "summary"), "enters into force on 2004-01-01"));
}

static void
test_iv13_instruments_dated_tomorrow_are_not_yet_facts(void **state)
{
	struct commit *fx = *state;

	commit(fx, "2003-03-13");
	assert_int_equal(count(&fx->l, EV_NEW_PARTY), 0);
	assert_int_equal(count(&fx->l, EV_THRESHOLD_REACHED), 0);
	assert_int_equal(fx->l.n, 0);
}

static void
test_identical_snapshots_raise_nothing(void **state)
{
	struct conf_treaty ct = iv13();
	struct snapshot *a = helpers_parse_fixture("IV-13.2003-03-14.html", UNTC_AUTO);
	struct snapshot *b = helpers_parse_fixture("IV-13.2003-03-14.html", UNTC_AUTO);
	struct event_list l = { 0 };

	diff(&l, &ct, a, b, "2003-03-14");
	assert_int_equal(l.n, 0);
	diff(&l, &ct, a, b, "2024-09-30");
	assert_int_equal(l.n, 0);
	event_list_clear(&l);
	helpers_snapshots_free(a, b, NULL);
}

static void
test_new_signatory(void **state)
{
	static const struct row r1[] = {
		{ "Albania", false, "2020-01-10", NULL, KIND_NONE },
		{ "Chile", false, NULL, NULL, KIND_NONE },
	};
	static const struct row r2[] = {
		{ "Albania", false, "2020-01-10", NULL, KIND_NONE },
		{ "Chile", false, "2020-02-03", NULL, KIND_NONE },
		{ "Benin", false, "2020-02-04", NULL, KIND_NONE },
	};
	struct commit c;
	const json_t *d;

	TABLES(&c, 3, r1, r2);
	commit(&c, "2020-03-01");
	assert_int_equal(c.l.n, 2);
	assert_int_equal(count(&c.l, EV_NEW_SIGNATORY), 2);
	d = data(nth(&c.l, EV_NEW_SIGNATORY, 0));
	assert_string_equal(str(d, "participant"), "Chile");
	assert_string_equal(str(d, "date"), "2020-02-03");
	assert_int_equal(json_object_size(d), 2);
	d = data(nth(&c.l, EV_NEW_SIGNATORY, 1));
	assert_string_equal(str(d, "participant"), "Benin");
	assert_string_equal(str(d, "date"), "2020-02-04");

	/* A signature dated after today is not yet a signature. */
	commit(&c, "2020-02-03");
	assert_int_equal(c.l.n, 1);
	assert_string_equal(str(data(c.l.v[0]), "participant"), "Chile");
	commit_clear(&c);
}

/* A table of n ratifications, the i-th by "State i" on 2020-01-(i+1). */
static struct snapshot *
ratified(int n)
{
	struct snapshot *s = snapshot_new();
	struct action none = { DAY_NONE, KIND_NONE }, ins = { D("2020-01-01"), KIND_RATIFICATION };
	char name[32];
	int i;

	assert_non_null(s);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "State %d", i);
		ins.date = D("2020-01-01") + i;
		assert_int_equal(snapshot_add(s, name, false, none, ins), 0);
	}
	return s;
}

/* The events of going from `from` ratifications to `to` with threshold 5. */
static void
step(struct event_list *l, int approaching, int from, int to)
{
	struct conf_treaty ct = five(approaching);
	struct snapshot *before = ratified(from), *after = ratified(to);

	event_list_clear(l);
	diff(l, &ct, before, after, "2020-12-31");
	helpers_snapshots_free(before, after, NULL);
}

static void
test_approaching_threshold(void **state)
{
	struct event_list l = { 0 };
	const json_t *d;

	/* remaining 4 -> 3: within approaching = 3. */
	step(&l, 3, 1, 2);
	assert_int_equal(count(&l, EV_NEW_PARTY), 1);
	assert_int_equal(count(&l, EV_APPROACHING), 1);
	assert_int_equal(l.n, 2);
	d = data(nth(&l, EV_APPROACHING, 0));
	assert_int_equal(num(d, "parties"), 2);
	assert_int_equal(num(d, "remaining"), 3);
	assert_int_equal(json_object_size(d), 2);

	/* remaining 3 -> 1: fires again, with the new figure. */
	step(&l, 3, 2, 4);
	assert_int_equal(count(&l, EV_APPROACHING), 1);
	assert_int_equal(num(data(nth(&l, EV_APPROACHING, 0)), "remaining"), 1);

	/* remaining 5 -> 4: not yet close enough. */
	step(&l, 3, 0, 1);
	assert_int_equal(count(&l, EV_APPROACHING), 0);

	/* remaining stays 3: nothing new to say. */
	step(&l, 3, 2, 2);
	assert_int_equal(l.n, 0);

	/* remaining 1 -> 0 is threshold-reached, not approaching. */
	step(&l, 3, 4, 5);
	assert_int_equal(count(&l, EV_APPROACHING), 0);
	assert_int_equal(count(&l, EV_THRESHOLD_REACHED), 1);

	/* remaining rises 1 -> 3 (a row vanished): not approaching. */
	step(&l, 3, 4, 2);
	assert_int_equal(count(&l, EV_APPROACHING), 0);
	assert_int_equal(count(&l, EV_PARTICIPANT_CHANGED), 2);

	/* approaching = 0 turns the alert off. */
	step(&l, 0, 1, 4);
	assert_int_equal(count(&l, EV_APPROACHING), 0);
	assert_int_equal(count(&l, EV_NEW_PARTY), 3);
	event_list_clear(&l);
}

static void
test_participant_withdrawn(void **state)
{
	static const struct row r1[] = {
		{ "Albania", false, "2020-01-10", "2020-02-10", KIND_RATIFICATION },
		{ "Benin", false, "2020-01-11", NULL, KIND_NONE },
		{ "Chile", true, "2020-01-12", "2020-02-12", KIND_RATIFICATION },
	};
	static const struct row r2[] = {
		{ "Albania", true, "2020-01-10", "2020-02-10", KIND_RATIFICATION },
		{ "Benin", true, "2020-01-11", "2020-03-01", KIND_RATIFICATION },
		{ "Chile", true, "2020-01-12", "2020-02-12", KIND_RATIFICATION },
	};
	struct commit c;

	TABLES(&c, 3, r1, r2);
	commit(&c, "2020-12-31");
	/* Albania and Benin become bracketed (Benin with a new instrument); Chile already was. */
	assert_int_equal(count(&c.l, EV_PARTICIPANT_WITHDRAWN), 2);
	assert_int_equal(c.l.n, 2);
	assert_string_equal(str(data(nth(&c.l, EV_PARTICIPANT_WITHDRAWN, 0)), "participant"),
	    "Albania");
	assert_string_equal(str(data(nth(&c.l, EV_PARTICIPANT_WITHDRAWN, 1)), "participant"),
	    "Benin");
	/* The participant and the date of effect, unknown here (null). */
	assert_int_equal(json_object_size(data(c.l.v[0])), 2);
	assert_true(json_is_null(json_object_get(data(c.l.v[0]), "withdrawal_date")));
	assert_int_equal(count(&c.l, EV_NEW_PARTY), 0);
	event_list_clear(&c.l);

	/* Still withdrawn on the next commit: nothing. */
	diff(&c.l, &c.ct, c.after, c.after, "2020-12-31");
	assert_int_equal(c.l.n, 0);

	/* A date the page gives (or the day ratd first saw the brackets) is in the event. */
	c.after->v[0].withdrawal_date = date_from_ymd(2020, 11, 30);
	c.after->v[0].withdrawal_from_page = true;
	commit(&c, "2020-12-31");
	assert_string_equal(str(data(nth(&c.l, EV_PARTICIPANT_WITHDRAWN, 0)), "withdrawal_date"),
	    "2020-11-30");
	commit_clear(&c);
}

static const json_t *
instrument_of(const json_t *row)
{
	const json_t *ins;

	assert_true(json_is_object(row));
	ins = json_object_get(row, "instrument");
	assert_true(json_is_object(ins));
	return ins;
}

/* d, the data of a participant-changed event, is who's, whose instrument's field went
 * from before to after. */
static void
assert_instrument_changed(const json_t *d, const char *who, const char *field,
    const char *before, const char *after)
{
	assert_string_equal(str(d, "participant"), who);
	assert_string_equal(str(instrument_of(json_object_get(d, "before")), field), before);
	assert_string_equal(str(instrument_of(json_object_get(d, "after")), field), after);
}

static void
test_participant_changed(void **state)
{
	static const struct row r1[] = {
		{ "Albania", false, NULL, "2020-02-10", KIND_RATIFICATION },
		{ "Benin", false, NULL, "2020-02-11", KIND_RATIFICATION },
		{ "Chile", false, "2020-01-12", NULL, KIND_NONE },
		{ "Djibouti", false, NULL, "2020-02-13", KIND_ACCESSION },
	};
	static const struct row r2[] = {
		{ "Albania", false, NULL, "2020-02-12", KIND_RATIFICATION },
		{ "Benin", false, NULL, "2020-02-11", KIND_ACCESSION },
		{ "Chile", false, "2020-01-15", NULL, KIND_NONE },
	};
	struct commit c;
	const json_t *d;

	TABLES(&c, 0, r1, r2);
	commit(&c, "2020-12-31");
	assert_int_equal(count(&c.l, EV_PARTICIPANT_CHANGED), 4);
	assert_int_equal(c.l.n, 4);

	/* Albania's deposit moved from the 10th to the 12th. */
	d = data(nth(&c.l, EV_PARTICIPANT_CHANGED, 0));
	assert_instrument_changed(d, "Albania", "date", "2020-02-10", "2020-02-12");
	assert_string_equal(str(json_object_get(d, "after"), "name"), "Albania");
	assert_true(json_is_false(json_object_get(json_object_get(d, "after"), "withdrawn")));
	assert_true(json_is_null(json_object_get(json_object_get(d, "after"), "signature")));
	assert_int_equal(json_object_size(d), 3);

	/* Benin's ratification became an accession. */
	assert_instrument_changed(data(nth(&c.l, EV_PARTICIPANT_CHANGED, 1)), "Benin", "kind",
	    "ratification", "accession");

	/* Chile's signature moved. */
	d = data(nth(&c.l, EV_PARTICIPANT_CHANGED, 2));
	assert_string_equal(str(d, "participant"), "Chile");
	assert_string_equal(str(json_object_get(json_object_get(d, "after"), "signature"),
	    "date"), "2020-01-15");

	/* Djibouti is no longer listed. */
	d = data(nth(&c.l, EV_PARTICIPANT_CHANGED, 3));
	assert_string_equal(str(d, "participant"), "Djibouti");
	assert_string_equal(str(instrument_of(json_object_get(d, "before")), "kind"),
	    "accession");
	assert_true(json_is_null(json_object_get(d, "after")));
	commit_clear(&c);
}

/* The depositary renamed a participant: one change, not a vanished row and a new party. */
static void
test_renamed_participant(void **state)
{
	static const struct row r1[] = {
		{ "Albania", false, NULL, "2020-02-10", KIND_RATIFICATION },
		{ "Turkey", false, "1999-01-13", "2004-09-27", KIND_RATIFICATION },
	};
	static const struct row r2[] = {
		{ "Albania", false, NULL, "2020-02-10", KIND_RATIFICATION },
		{ "T\xc3\xbcrkiye", false, "1999-01-13", "2004-09-27", KIND_RATIFICATION },
	};
	static const struct row twins[] = {
		{ "Albania", false, NULL, "2020-02-10", KIND_RATIFICATION },
		{ "Ruritania", false, "1999-01-13", "2004-09-27", KIND_RATIFICATION },
		{ "T\xc3\xbcrkiye", false, "1999-01-13", "2004-09-27", KIND_RATIFICATION },
	};
	struct snapshot *ambiguous = TABLE(twins);
	struct commit c;
	const json_t *d;

	TABLES(&c, 0, r1, r2);
	commit(&c, "2020-12-31");
	assert_int_equal(c.l.n, 1);
	d = data(nth(&c.l, EV_PARTICIPANT_CHANGED, 0));
	assert_string_equal(str(d, "participant"), "T\xc3\xbcrkiye");
	assert_string_equal(str(json_object_get(d, "before"), "name"), "Turkey");
	assert_string_equal(str(json_object_get(d, "after"), "name"), "T\xc3\xbcrkiye");
	event_list_clear(&c.l);

	/* Two new rows could be the old one: no guess, each is reported as it is. */
	diff(&c.l, &c.ct, c.before, ambiguous, "2020-12-31");
	assert_int_equal(count(&c.l, EV_NEW_PARTY), 2);
	assert_int_equal(count(&c.l, EV_PARTICIPANT_CHANGED), 1);
	commit_clear(&c);
	snapshot_free(ambiguous);
}

static void
test_numbering_gives_consecutive_ids(void **state)
{
	struct event_list l = { 0 };
	uint64_t next = 7;
	time_t now = at("2024-09-30");

	assert_int_equal(event_add(&l, now, EV_SOURCE_FAILING, "IV-13", json_object(), "down %d", 1), 0);
	assert_int_equal(event_add(&l, now, EV_SOURCE_RECOVERED, "IV-13", json_object(), "up"), 0);
	assert_int_equal(event_add(&l, now, EV_SOURCE_ANOMALY, "IV-13",
	    json_pack("{s:s}", "reason", "participants table is empty"), "odd"), 0);
	assert_int_equal(l.n, 3);
	event_list_number(&l, &next);
	assert_int_equal(event_id(l.v[0]), 7);
	assert_int_equal(event_id(l.v[1]), 8);
	assert_int_equal(event_id(l.v[2]), 9);
	assert_int_equal(next, 10);
	assert_string_equal(str(l.v[0], "summary"), "down 1");
	assert_string_equal(event_type(l.v[2]), "source-anomaly");
	assert_string_equal(str(data(l.v[2]), "reason"), "participants table is empty");
	assert_int_equal(json_object_size(data(l.v[0])), 0);
	event_list_clear(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);

	assert_int_equal(event_add(&l, now, EV_SOURCE_RECOVERED, "IV-13", json_object(), "up"), 0);
	event_list_number(&l, &next);
	assert_int_equal(event_id(l.v[0]), 10);
	assert_int_equal(next, 11);
	event_list_clear(&l);
}

static void
test_event_check(void **state)
{
	static const char *const fields[] = { "id", "time", "type", "treaty", "summary", "data" };
	struct commit *fx = *state;
	uint64_t next = 1;
	json_t *ev, *bad;
	size_t i;

	commit(fx, "2003-03-14");
	event_list_number(&fx->l, &next);
	for (i = 0; i < fx->l.n; i++)
		assert_int_equal(event_check(fx->l.v[i]), 0);

	ev = fx->l.v[0];
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		bad = json_deep_copy(ev);
		json_object_del(bad, fields[i]);
		if (event_check(bad) != -1)
			fail_msg("an event without \"%s\" passed", fields[i]);
		json_decref(bad);
	}

#define ASSERT_REJECTED(key, value) do {                                \
		bad = json_deep_copy(ev);                               \
		json_object_set_new(bad, (key), (value));               \
		assert_int_equal(event_check(bad), -1);                 \
		json_decref(bad);                                       \
	} while (0)
	ASSERT_REJECTED("id", json_integer(0));
	ASSERT_REJECTED("id", json_integer(-3));
	ASSERT_REJECTED("id", json_string("1"));
	ASSERT_REJECTED("type", json_string("party-time"));
	ASSERT_REJECTED("type", json_integer(1));
	ASSERT_REJECTED("time", json_string("14 March 2003"));
	ASSERT_REJECTED("treaty", json_null());
	ASSERT_REJECTED("summary", json_integer(3));
	ASSERT_REJECTED("data", json_string("{}"));
#undef ASSERT_REJECTED

	bad = json_array();
	assert_int_equal(event_check(bad), -1);
	json_decref(bad);
}

static void
test_type_names(void **state)
{
	static const char *const known[] = { "new-party", "new-signatory", "threshold-reached",
	    "approaching-threshold", "entered-into-force", "participant-changed",
	    "participant-withdrawn", "source-failing", "source-recovered", "source-anomaly" };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		assert_true(event_type_known(known[i]));
	assert_false(event_type_known("new_party"));
	assert_false(event_type_known("New-Party"));
	assert_false(event_type_known(""));
	assert_false(event_type_known("*"));
}

/* 39 instruments deposited on the threshold day, as the UNTC spells their names: their
 * list passes 400 bytes, and the 400-byte buffer that once held it cut "Príncipe" in two,
 * so the event could not be encoded and the alert was lost. */
static const char *const day_of_39[] = {
	"Afghanistan",
	"Albania",
	"Austria",
	"Azerbaijan",
	"Belgium",
	"Bolivia (Plurinational State of)",
	"Bulgaria",
	"Burundi",
	"Cabo Verde",
	"Cameroon",
	"Canada",
	"Chile",
	"Czechia",
	"C\xc3\xb4te d'Ivoire",
	"El Salvador",
	"Georgia",
	"India",
	"Jamaica",
	"Kenya",
	"Kuwait",
	"Kyrgyzstan",
	"Lebanon",
	"Liberia",
	"Maldives",
	"Mali",
	"Mongolia",
	"Nepal",
	"Netherlands",
	"New Zealand",
	"Niger",
	"Oman",
	"Pakistan",
	"Portugal",
	"Rwanda",
	"Samoa",
	"Slovenia",
	"South Africa",
	"S\xc3\xa3o Tom\xc3\xa9 and Pr\xc3\xadncipe",
	"T\xc3\xbcrkiye",
};

static bool
valid_utf8(const char *s)
{
	json_t *v = json_string(s);   /* jansson refuses invalid UTF-8 */

	json_decref(v);
	return v != NULL;
}

static void
test_threshold_day_of_39_names(void **state)
{
	enum { N = sizeof(day_of_39) / sizeof(day_of_39[0]) };
	struct row r1[N], r2[N];
	struct commit c;
	const json_t *ev, *who;
	char joined[2048] = "", tail[64];
	const char *summary, *end;
	size_t i, shown;

	for (i = 0; i < N; i++) {
		r1[i] = (struct row){ day_of_39[i], false, "2020-01-10", NULL, KIND_NONE };
		r2[i] = (struct row){ day_of_39[i], false, "2020-01-10", "2024-05-02",
		    KIND_RATIFICATION };
		strcat(joined, i ? ", " : "");
		strcat(joined, day_of_39[i]);
	}
	/* The case itself: byte 399 of the joined names is inside a character. */
	assert_true(strlen(joined) > 400);
	assert_true(((unsigned char)joined[399] & 0xC0) == 0x80);
	tables(&c, 0, r1, N, r2, N);
	c.ct.rule.threshold = N;
	commit(&c, "2024-05-02");
	assert_int_equal(count(&c.l, EV_THRESHOLD_REACHED), 1);
	ev = nth(&c.l, EV_THRESHOLD_REACHED, 0);
	summary = str(ev, "summary");
	assert_true(valid_utf8(summary));
	assert_true(strlen(summary) <= 1024);

	/* Whole names, then "and N others" for the rest: never half a name. */
	assert_non_null(end = strstr(summary, " others); enters into force on 2024-"));
	for (shown = 0; shown < N; shown++) {
		char piece[256];

		snprintf(piece, sizeof(piece), "%s%s", shown ? ", " : "(", day_of_39[shown]);
		if (strstr(summary, piece) == NULL)
			break;
	}
	assert_true(shown > 0 && shown < N);
	snprintf(tail, sizeof(tail), "%s and %zu others); enters", day_of_39[shown - 1],
	    (size_t)N - shown);
	assert_non_null(strstr(summary, tail));

	/* data keeps every name, in table order. */
	who = json_object_get(data(ev), "threshold_participants");
	assert_int_equal(json_array_size(who), N);
	for (i = 0; i < N; i++)
		assert_string_equal(json_string_value(json_array_get(who, i)), day_of_39[i]);
	assert_int_equal(num(data(ev), "parties"), N);
	commit_clear(&c);
}

/* A short list is shown whole, with no count. */
static void
test_threshold_few_names_all_shown(void **state)
{
	static const struct row r1[] = {
		{ "S\xc3\xa3o Tom\xc3\xa9 and Pr\xc3\xadncipe", false, NULL, NULL, KIND_NONE },
		{ "T\xc3\xbcrkiye", false, NULL, NULL, KIND_NONE },
	};
	static const struct row r2[] = {
		{ "S\xc3\xa3o Tom\xc3\xa9 and Pr\xc3\xadncipe", false, NULL, "2024-05-02",
		    KIND_RATIFICATION },
		{ "T\xc3\xbcrkiye", false, NULL, "2024-05-02", KIND_ACCESSION },
	};
	struct commit c;

	TABLES(&c, 0, r1, r2);
	c.ct.rule.threshold = 2;
	commit(&c, "2024-05-02");
	assert_non_null(strstr(str(nth(&c.l, EV_THRESHOLD_REACHED, 0), "summary"),
	    "(S\xc3\xa3o Tom\xc3\xa9 and Pr\xc3\xadncipe, T\xc3\xbcrkiye); enters"));
	commit_clear(&c);
}

/* Any summary is bounded, cut between characters; an event whose text cannot be encoded
 * is still raised, in a minimal valid form. */
static void
test_event_add_never_drops(void **state)
{
	struct event_list l = { 0 };
	char big[3000];
	const char *s;
	size_t i;

	for (i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);   /* é, 2 bytes each */
	big[i] = '\0';
	assert_int_equal(event_add(&l, at("2024-05-02"), EV_SOURCE_ANOMALY, "IV-13",
	    json_pack("{s:s}", "reason", "x"), "IV-13: x%s", big), 0);
	s = str(l.v[0], "summary");
	assert_true(strlen(s) <= 1024);
	assert_true(valid_utf8(s));
	assert_non_null(strstr(s, "\xe2\x80\xa6"));

	/* Invalid UTF-8 in the text, and data that failed to build. */
	assert_int_equal(event_add(&l, at("2024-05-02"), EV_SOURCE_FAILING, "IV-13",
	    json_pack("{s:s}", "error", "\xff"), "IV-13: bad \xff\xfe byte"), 0);
	assert_int_equal(l.n, 2);
	s = str(l.v[1], "summary");
	assert_true(valid_utf8(s));
	assert_non_null(strstr(s, "IV-13: bad "));
	assert_true(json_is_object(data(l.v[1])));
	assert_string_equal(event_type(l.v[1]), EV_SOURCE_FAILING);
	assert_string_equal(event_treaty(l.v[1]), "IV-13");
	event_list_clear(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_iv13_threshold_day,
		    threshold_day_setup, threshold_day_teardown),
		cmocka_unit_test_setup_teardown(test_iv13_instruments_dated_tomorrow_are_not_yet_facts,
		    threshold_day_setup, threshold_day_teardown),
		cmocka_unit_test(test_identical_snapshots_raise_nothing),
		cmocka_unit_test(test_new_signatory),
		cmocka_unit_test(test_approaching_threshold),
		cmocka_unit_test(test_participant_withdrawn),
		cmocka_unit_test_setup_teardown(test_threshold_of_a_protocol,
		    threshold_day_setup, threshold_day_teardown),
		cmocka_unit_test(test_participant_changed),
		cmocka_unit_test(test_renamed_participant),
		cmocka_unit_test(test_numbering_gives_consecutive_ids),
		cmocka_unit_test_setup_teardown(test_event_check,
		    threshold_day_setup, threshold_day_teardown),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_threshold_day_of_39_names),
		cmocka_unit_test(test_threshold_few_names_all_shown),
		cmocka_unit_test(test_event_add_never_drops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
