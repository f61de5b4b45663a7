/* render.c: the human output of status, parties, refresh and history replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "render.h"

typedef void (*render_fn)(FILE *, const json_t *, bool);

#define RULE_IV13 \
	"\"rule\": {\"threshold\": 20, \"eif_delay\": \"3 months\", \"eif_align\": \"next-month\"," \
	" \"count\": [\"ratification\", \"accession\", \"acceptance\", \"approval\"," \
	" \"succession\", \"confirmation\"], \"exclude\": []}"

#define TITLE_IV13 \
	"International Convention on the Protection of the Rights of All Migrant Workers " \
	"and Members of Their Families"

/* IV-13 today: in force since 2003, fetched a few hours ago. */
static const char status_in_force[] = "{\"treaties\": [{"
	"\"id\": \"IV-13\", \"title\": \"" TITLE_IV13 "\","
	"\"url\": \"https://treaties.un.org/Pages/ViewDetails.aspx?src=TREATY&mtdsg_no=IV-13\","
	"\"as_of\": \"2026-11-26\", \"parties\": 59, \"counted\": 59, \"signatories\": 40,"
	"\"threshold\": 20, \"remaining\": 0, \"threshold_reached\": true,"
	"\"threshold_date\": \"2003-03-14\","
	"\"threshold_participants\": [\"El Salvador\", \"Guatemala\"],"
	"\"entry_into_force\": \"2003-07-01\", \"in_force\": true, " RULE_IV13 ","
	"\"interval\": 21600,"
	"\"source\": {\"state\": \"ok\", \"status_as_at\": \"2024-09-30T09:00:44Z\","
	" \"stated_parties\": 59, \"stated_signatories\": 40, \"stated_entry_into_force\": null,"
	" \"last_attempt\": \"2026-11-26T10:00:00Z\", \"last_success\": \"2026-11-26T10:00:00Z\","
	" \"last_change\": \"2026-11-20T10:00:00Z\", \"next_fetch\": \"2026-11-26T16:04:00Z\","
	" \"consecutive_failures\": 0, \"error\": null}}]}";

/* IV-13 as of 2000-12-04: 15 instruments, 5 to go. */
static const char status_not_reached[] = "{\"treaties\": [{"
	"\"id\": \"IV-13\", \"title\": \"" TITLE_IV13 "\", \"as_of\": \"2000-12-04\","
	"\"parties\": 15, \"counted\": 15, \"signatories\": 12, \"threshold\": 20,"
	"\"remaining\": 5, \"threshold_reached\": false, \"threshold_date\": null,"
	"\"threshold_participants\": [], \"entry_into_force\": null, \"in_force\": false, "
	RULE_IV13 ","
	"\"source\": {\"state\": \"ok\", \"status_as_at\": null, \"stated_parties\": null,"
	" \"stated_signatories\": null, \"last_success\": \"2026-11-26T10:00:00Z\","
	" \"next_fetch\": \"2026-11-26T16:04:00Z\", \"consecutive_failures\": 0,"
	" \"error\": null}}]}";

/* Fresh install without network: the bundled seed is all there is. */
static const char status_seed[] = "{\"treaties\": [{"
	"\"id\": \"IV-13\", \"title\": \"" TITLE_IV13 "\", \"as_of\": \"2026-11-26\","
	"\"parties\": 59, \"counted\": 59, \"signatories\": 40, \"threshold\": 20,"
	"\"remaining\": 0, \"threshold_reached\": true, \"threshold_date\": \"2003-03-14\","
	"\"threshold_participants\": [\"El Salvador\", \"Guatemala\"],"
	"\"entry_into_force\": \"2003-07-01\", \"in_force\": true, " RULE_IV13 ","
	"\"source\": {\"state\": \"seed\", \"status_as_at\": \"2024-09-30T09:00:44Z\","
	" \"stated_parties\": 59, \"stated_signatories\": 40,"
	" \"last_attempt\": \"2026-11-26T10:00:00Z\", \"last_success\": null,"
	" \"last_change\": null, \"next_fetch\": \"2026-11-26T10:05:00Z\","
	" \"consecutive_failures\": 1,"
	" \"error\": \"could not resolve host treaties.un.org\"}}]}";

/* Four failures in a row after a good fetch; the page also disagrees with its table. */
static const char status_failing[] = "{\"treaties\": [{"
	"\"id\": \"IV-13\", \"title\": \"" TITLE_IV13 "\", \"as_of\": \"2026-11-26\","
	"\"parties\": 59, \"counted\": 59, \"signatories\": 40, \"threshold\": 20,"
	"\"remaining\": 0, \"threshold_reached\": true, \"threshold_date\": \"2003-03-14\","
	"\"threshold_participants\": [\"El Salvador\", \"Guatemala\"],"
	"\"entry_into_force\": \"2003-07-01\", \"in_force\": true, " RULE_IV13 ","
	"\"source\": {\"state\": \"failing\", \"status_as_at\": \"2024-09-30T09:00:44Z\","
	" \"stated_parties\": 61, \"stated_signatories\": 40,"
	" \"last_attempt\": \"2026-11-26T09:00:00Z\", \"last_success\": \"2026-11-25T10:00:00Z\","
	" \"next_fetch\": \"2026-11-26T10:00:00Z\", \"consecutive_failures\": 4,"
	" \"error\": \"HTTP 503 from treaties.un.org\"}}]}";

static const char parties_iv13[] = "{\"treaty\": \"IV-13\", \"as_of\": \"2026-11-26\","
	"\"participants\": ["
	"{\"name\": \"Albania\", \"signature\": null,"
	" \"instrument\": {\"date\": \"2007-06-05\", \"kind\": \"accession\"},"
	" \"entry_into_force\": \"2007-10-01\", \"withdrawn\": false, \"counts\": true},"
	"{\"name\": \"C\u00f4te d'Ivoire\", \"signature\": null,"
	" \"instrument\": {\"date\": \"2023-09-26\", \"kind\": \"accession\"},"
	" \"entry_into_force\": \"2024-01-01\", \"withdrawn\": false, \"counts\": true},"
	"{\"name\": \"El Salvador\","
	" \"signature\": {\"date\": \"2002-09-13\", \"kind\": \"signature\"},"
	" \"instrument\": {\"date\": \"2003-03-14\", \"kind\": \"ratification\"},"
	" \"entry_into_force\": \"2003-07-01\", \"withdrawn\": false, \"counts\": true},"
	"{\"name\": \"European Union\", \"signature\": null,"
	" \"instrument\": {\"date\": \"2010-01-04\", \"kind\": \"approval\"},"
	" \"entry_into_force\": \"2010-05-01\", \"withdrawn\": false, \"counts\": false},"
	"{\"name\": \"Montenegro\","
	" \"signature\": {\"date\": \"2006-10-23\", \"kind\": \"succession\"},"
	" \"instrument\": null, \"entry_into_force\": null, \"withdrawn\": false,"
	" \"counts\": false},"
	"{\"name\": \"Old State\","
	" \"signature\": {\"date\": \"1995-01-01\", \"kind\": \"signature\"},"
	" \"instrument\": {\"date\": \"1996-01-01\", \"kind\": \"ratification\"},"
	" \"entry_into_force\": null, \"withdrawn\": true, \"counts\": false}]}";

#define TITLE_XXI10 \
	"Agreement under the United Nations Convention on the Law of the Sea on the " \
	"Conservation and Sustainable Use of Marine Biological Diversity of Areas beyond " \
	"National Jurisdiction"

/* XXI-10 (BBNJ) on the day of its fixture page: 20 of 60, the countdown. */
static const char status_countdown[] = "{\"treaties\": [{"
	"\"id\": \"XXI-10\", \"title\": \"" TITLE_XXI10 "\", \"as_of\": \"2025-06-30\","
	"\"parties\": 21, \"counted\": 20, \"signatories\": 29, \"threshold\": 60,"
	"\"remaining\": 40, \"threshold_reached\": false, \"threshold_date\": null,"
	"\"threshold_participants\": [], \"entry_into_force\": null, \"in_force\": false,"
	"\"rule\": {\"threshold\": 60, \"eif_delay\": \"120 days\", \"eif_align\": \"none\","
	" \"count\": [\"ratification\", \"accession\", \"acceptance\", \"approval\","
	" \"confirmation\"], \"exclude\": [\"European Union\"]},"
	"\"earliest_entry_into_force\": \"2025-10-28\","
	"\"projection\": {\"window_months\": 24, \"instruments_in_window\": 20,"
	" \"pace_per_month\": 0.8333, \"threshold_date\": \"2029-06-30\","
	" \"entry_into_force\": \"2029-10-28\"},"
	"\"discrepancies\": [\"the page states 22 parties, its table lists 21\"],"
	"\"source\": {\"state\": \"ok\", \"status_as_at\": \"2025-06-30T09:00:44Z\","
	" \"stated_parties\": 22, \"stated_signatories\": 29,"
	" \"last_success\": \"2025-06-30T10:00:00Z\", \"next_fetch\": \"2025-06-30T16:00:00Z\","
	" \"consecutive_failures\": 0, \"error\": null}}]}";

/* Renders the JSON text with fn and returns what was written (free it). */
static char *
render(render_fn fn, const char *text, bool color)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	struct helpers_out o;

	assert_non_null(v);
	helpers_out_open(&o);
	fn(o.f, v, color);
	json_decref(v);
	return helpers_out_text(&o);
}

static void
assert_has(const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL)
		fail_msg("missing \"%s\" in:\n%s", needle, text);
}

static void
assert_lacks(const char *text, const char *needle)
{
	if (strstr(text, needle) != NULL)
		fail_msg("unexpected \"%s\" in:\n%s", needle, text);
}

static void
status_in_force_block(void **state)
{
	char *out = render(render_status, status_in_force, false);

	assert_string_equal(out,
	    "IV-13  " TITLE_IV13 "\n"
	    "  as of              2026-11-26\n"
	    "  parties            59 (59 counted towards the threshold)\n"
	    "  signatories        40\n"
	    "  threshold          20: reached on 2003-03-14 by El Salvador, Guatemala\n"
	    "  entry into force   2003-07-01 (in force)\n"
	    "  rule               20 instruments, then 3 months, first day of the next month\n"
	    "  source             ok, status as at 2024-09-30T09:00:44Z\n"
	    "  last success       2026-11-26T10:00:00Z\n"
	    "  next fetch         2026-11-26T16:04:00Z\n");
	free(out);
}

static void
status_not_reached_says_what_remains(void **state)
{
	char *out = render(render_status, status_not_reached, false);

	assert_has(out, "  as of              2000-12-04\n");
	assert_has(out, "  parties            15 (15 counted towards the threshold)\n");
	assert_has(out, "  threshold          20: 5 remaining\n");
	assert_has(out, "  entry into force   not yet (when the threshold is reached: "
	    "3 months, then first day of the next month)\n");
	assert_has(out, "  source             ok\n");
	assert_lacks(out, "page states");
	free(out);
}

static void
status_seed_says_why(void **state)
{
	char *out = render(render_status, status_seed, false);

	assert_has(out, "  source             seed: bundled snapshot, no successful fetch yet"
	    " (status as at 2024-09-30T09:00:44Z)\n");
	assert_has(out, "  last error         could not resolve host treaties.un.org\n");
	assert_has(out, "  last success       never\n");
	assert_has(out, "  last attempt       2026-11-26T10:00:00Z\n");
	free(out);
}

static void
status_failing_shows_error_and_page_disagreement(void **state)
{
	char *out = render(render_status, status_failing, false);

	assert_has(out, "  source             failing since 4 attempts: "
	    "HTTP 503 from treaties.un.org\n");
	assert_has(out, "  page states        61 parties (table has 59), 40 signatories\n");
	assert_has(out, "  last success       2026-11-25T10:00:00Z\n");
	assert_lacks(out, "last error");
	free(out);
}

static void
status_rule_names_exclusions_and_narrowed_kinds(void **state)
{
	char *out = render(render_status, "{\"treaties\": [{\"id\": \"X-1\", \"rule\": {"
	    "\"threshold\": 35, \"eif_delay\": \"90 days\", \"eif_align\": \"none\","
	    "\"count\": [\"ratification\", \"accession\"], \"exclude\": [\"European Union\"]},"
	    "\"threshold_reached\": false, \"remaining\": 3}]}", false);

	assert_has(out, "X-1\n");
	assert_has(out, "  rule               35 instruments, then 90 days; counted: "
	    "ratification, accession; not counted: European Union\n");
	assert_has(out, "  entry into force   not yet (when the threshold is reached: 90 days)\n");
	free(out);
}

static void
status_blocks_are_separated_by_a_blank_line(void **state)
{
	char *out = render(render_status, "{\"treaties\": [{\"id\": \"A-1\"}, {\"id\": \"B-2\"}]}",
	    false);

	assert_has(out, "  next fetch         -\n\nB-2\n");
	assert_int_equal(strncmp(out, "A-1\n", 4), 0);
	free(out);
}

static void
status_colour_only_when_asked(void **state)
{
	char *plain = render(render_status, status_failing, false);
	char *color = render(render_status, status_failing, true);

	assert_lacks(plain, "\033[");
	assert_has(color, "\033[1mIV-13\033[0m");
	assert_has(color, "\033[31mfailing\033[0m");
	free(plain);
	free(color);
}

static void
status_survives_nulls(void **state)
{
	char *out = render(render_status, "{\"treaties\": [{\"id\": \"IV-13\", \"title\": null,"
	    "\"as_of\": null, \"parties\": null, \"counted\": null, \"signatories\": null,"
	    "\"threshold\": null, \"remaining\": null, \"threshold_reached\": null,"
	    "\"threshold_date\": null, \"threshold_participants\": null,"
	    "\"entry_into_force\": null, \"in_force\": null, \"rule\": null,"
	    "\"source\": null}]}", false);

	assert_string_equal(out,
	    "IV-13\n"
	    "  as of              -\n"
	    "  parties            -\n"
	    "  signatories        -\n"
	    "  threshold          -\n"
	    "  entry into force   -\n"
	    "  rule               -\n"
	    "  source             -\n"
	    "  last success       -\n"
	    "  next fetch         -\n");
	free(out);
}

static void
status_survives_wrong_types(void **state)
{
	char *out = render(render_status, "{\"treaties\": [42, \"x\", [], {\"id\": 7,"
	    "\"parties\": \"59\", \"counted\": 1.5, \"threshold_reached\": true,"
	    "\"threshold_date\": 20030314, \"threshold_participants\": [1, \"Ghana\", null],"
	    "\"entry_into_force\": {}, \"in_force\": \"yes\", \"rule\": {\"threshold\": \"20\","
	    "\"count\": \"all\", \"exclude\": [{}]}, \"source\": {\"state\": 1,"
	    "\"error\": [\"x\"], \"last_success\": 5, \"stated_parties\": \"61\"}}]}", false);

	assert_has(out, "  parties            -\n");
	assert_has(out, "  threshold          -: reached on - by -, Ghana, -\n");
	assert_has(out, "  rule               - instruments; not counted: -\n");
	assert_has(out, "  last success       -\n");
	free(out);
	out = render(render_status, "[1, 2]", false);
	assert_string_equal(out, "no treaties\n");
	free(out);
	out = render(render_status, "{\"treaties\": {}}", false);
	assert_string_equal(out, "no treaties\n");
	free(out);
}

static void
status_null_result_prints_no_treaties(void **state)
{
	struct helpers_out o;
	char *buf;

	helpers_out_open(&o);
	render_status(o.f, NULL, false);
	render_parties(o.f, NULL, false);
	render_refresh(o.f, NULL, false);
	render_history(o.f, NULL, false);
	buf = helpers_out_text(&o);
	assert_string_equal(buf, "no treaties\n"
	    "Participant  Signature  Instrument  Kind  In force\n"
	    "0 parties, 0 signatories as of -\n"
	    "no treaties\n"
	    "no events\n");
	free(buf);
}

static void
control_characters_never_reach_the_terminal(void **state)
{
	char *out = render(render_status, "{\"treaties\": [{\"id\": \"IV-13\", \"source\": {"
	    "\"state\": \"seed\", \"error\": \"bad\\n\\u001b[31mthing\\u0085\\u007f\"}}]}", false);

	assert_has(out, "  last error         bad??[31mthing??\n");
	assert_lacks(out, "\033");
	free(out);
}

static void
parties_table(void **state)
{
	char *out = render(render_parties, parties_iv13, false);

	assert_string_equal(out,
	    "Participant     Signature                Instrument  Kind          In force\n"
	    "Albania         -                        2007-06-05  accession     2007-10-01\n"
	    "C\u00f4te d'Ivoire   -                        2023-09-26  accession     2024-01-01\n"
	    "El Salvador     2002-09-13               2003-03-14  ratification  2003-07-01\n"
	    "European Union  -                        2010-01-04  approval *    2010-05-01\n"
	    "Montenegro      2006-10-23 (succession)  -           -             -\n"
	    "[Old State]     1995-01-01               1996-01-01  ratification  -\n"
	    "* does not count towards the threshold\n"
	    "4 parties, 2 signatories as of 2026-11-26\n");
	free(out);
}

static void
parties_footer_counts_at_the_date(void **state)
{
	char *out = render(render_parties, "{\"treaty\": \"IV-13\", \"as_of\": \"2003-03-13\","
	    "\"participants\": [{\"name\": \"Ghana\","
	    " \"signature\": {\"date\": \"2000-09-07\", \"kind\": \"signature\"},"
	    " \"instrument\": {\"date\": \"2000-09-07\", \"kind\": \"ratification\"},"
	    " \"withdrawn\": false, \"counts\": true},"
	    "{\"name\": \"El Salvador\","
	    " \"signature\": {\"date\": \"2002-09-13\", \"kind\": \"signature\"},"
	    " \"instrument\": {\"date\": \"2003-03-14\", \"kind\": \"ratification\"},"
	    " \"withdrawn\": false, \"counts\": false}]}", false);

	assert_has(out, "1 party, 2 signatories as of 2003-03-13\n");
	/* An instrument after the date is not an uncounted one: no footnote. */
	assert_lacks(out, "*");
	free(out);
}

static void
parties_survive_wrong_types(void **state)
{
	char *out = render(render_parties, "{\"treaty\": 1, \"as_of\": [], \"participants\": ["
	    "null, 3, {\"name\": 5, \"signature\": \"2000-01-01\", \"instrument\": {\"date\": 1,"
	    " \"kind\": null}, \"withdrawn\": \"no\", \"counts\": 0}]}", false);

	assert_has(out, "-            -          -           -     -\n");
	assert_has(out, "0 parties, 0 signatories as of -\n");
	free(out);
}

static void
refresh_lines(void **state)
{
	char *out = render(render_refresh, "{\"treaties\": ["
	    "{\"id\": \"IV-13\", \"result\": \"changed\", \"error\": null},"
	    "{\"id\": \"XVIII-10\", \"result\": \"error\","
	    " \"error\": \"could not resolve host treaties.un.org\"},"
	    "{\"id\": \"IV-4\", \"result\": \"not-modified\", \"error\": null},"
	    "{\"id\": 4, \"result\": null}, 17]}", false);

	assert_string_equal(out,
	    "IV-13: changed\n"
	    "XVIII-10: error: could not resolve host treaties.un.org\n"
	    "IV-4: not-modified\n"
	    "-: -\n"
	    "-: -\n");
	free(out);
}

static void
history_lines(void **state)
{
	char *out = render(render_history, "{\"events\": [{\"id\": 41,"
	    " \"time\": \"2026-11-26T10:00:03Z\", \"type\": \"new-party\", \"treaty\": \"IV-13\","
	    " \"summary\": \"IV-13: Ghana deposited an accession; 60 parties\", \"data\": {}},"
	    "{\"id\": \"42\", \"type\": 5}]}", false);

	assert_string_equal(out,
	    "#41 2026-11-26T10:00:03Z IV-13 new-party IV-13: Ghana deposited an accession; "
	    "60 parties\n"
	    "#- - - - -\n");
	free(out);
	out = render(render_history, "{\"events\": []}", false);
	assert_string_equal(out, "no events\n");
	free(out);
}

static void
status_countdown_block(void **state)
{
	char *out = render(render_status, status_countdown, false);

	assert_string_equal(out,
	    "XXI-10  " TITLE_XXI10 "\n"
	    "  as of              2025-06-30\n"
	    "  parties            21 (20 counted towards the threshold)\n"
	    "  signatories        29\n"
	    "  threshold          60: 40 remaining\n"
	    "  entry into force   not yet (when the threshold is reached: 120 days)\n"
	    "  earliest possible  2025-10-28 (the 40 remaining all deposited on 2025-06-30)\n"
	    "  projection         threshold 2029-06-30, entry into force 2029-10-28,\n"
	    "                     at the pace of the last 24 months (20 instruments),\n"
	    "                     not a forecast\n"
	    "  rule               60 instruments, then 120 days; counted: ratification, "
	    "accession, acceptance, approval, confirmation; not counted: European Union\n"
	    "  source             ok, status as at 2025-06-30T09:00:44Z\n"
	    "  page disagrees     the page states 22 parties, its table lists 21\n"
	    "  last success       2025-06-30T10:00:00Z\n"
	    "  next fetch         2025-06-30T16:00:00Z\n");
	free(out);
}

/* No pace to project from, nothing the page disagrees with: said, not left out. */
static void
status_countdown_without_projection(void **state)
{
	char *out = render(render_status, "{\"treaties\": [{\"id\": \"XVIII-16\","
	    "\"as_of\": \"2025-06-30\", \"threshold\": 40, \"remaining\": 40,"
	    "\"threshold_reached\": false, \"earliest_entry_into_force\": \"2025-09-28\","
	    "\"projection\": null, \"discrepancies\": [],"
	    "\"source\": {\"stated_parties\": 3, \"state\": \"ok\"}, \"parties\": 0}]}", false);

	assert_has(out, "  earliest possible  2025-09-28 (the 40 remaining all deposited on "
	    "2025-06-30)\n");
	assert_has(out, "  projection         none: no counted instrument in the recent past to "
	    "set a pace\n");
	/* The daemon cross-checked and found nothing: no client-side guess either. */
	assert_lacks(out, "page states");
	assert_lacks(out, "page disagrees");
	free(out);
}

/* A treaty in force has no countdown, whatever the reply holds. */
static void
status_in_force_has_no_countdown(void **state)
{
	char *out = render(render_status, "{\"treaties\": [{\"id\": \"IV-13\","
	    "\"threshold_reached\": true, \"earliest_entry_into_force\": null,"
	    "\"projection\": null, \"discrepancies\": [\"the page states entry into force on "
	    "2003-07-02, the rule gives 2003-07-01\", 7]}]}", false);

	assert_lacks(out, "earliest possible");
	assert_lacks(out, "projection");
	assert_has(out, "  page disagrees     the page states entry into force on 2003-07-02, "
	    "the rule gives 2003-07-01\n");
	assert_has(out, "  page disagrees     -\n");
	free(out);
}

static const char parties_pending[] = "{\"treaty\": \"XXI-10\", \"as_of\": \"2025-06-30\","
	"\"participants\": ["
	"{\"name\": \"Australia\", \"signature\": {\"date\": \"2023-09-20\", \"kind\":"
	" \"signature\"}, \"instrument\": null, \"withdrawn\": false, \"counts\": false},"
	"{\"name\": \"Chile\", \"signature\": {\"date\": \"2023-09-20\", \"kind\":"
	" \"signature\"}, \"instrument\": {\"date\": \"2024-02-20\", \"kind\":"
	" \"ratification\"}, \"withdrawn\": false, \"counts\": true},"
	"{\"name\": \"Micronesia (Federated States of)\", \"signature\": {\"date\":"
	" \"2023-09-20\", \"kind\": \"signature\"}, \"instrument\": {\"date\": \"2025-09-20\","
	" \"kind\": \"ratification\"}, \"withdrawn\": false, \"counts\": false},"
	"{\"name\": \"Montenegro\", \"signature\": {\"date\": \"2006-10-23\", \"kind\":"
	" \"succession\"}, \"instrument\": null, \"withdrawn\": false, \"counts\": false},"
	"{\"name\": \"Late Signer\", \"signature\": {\"date\": \"2025-07-01\", \"kind\":"
	" \"signature\"}, \"instrument\": null, \"withdrawn\": false, \"counts\": false},"
	"{\"name\": \"Old State\", \"signature\": {\"date\": \"1995-01-01\", \"kind\":"
	" \"signature\"}, \"instrument\": null, \"withdrawn\": true, \"counts\": false},"
	"{\"name\": \"Cook Islands\", \"signature\": null, \"instrument\": null,"
	" \"withdrawn\": false, \"counts\": false}]}";

/* Signed by as_of, no instrument by then, not withdrawn: pending. */
static void
pending_filter_keeps_the_reply_shape(void **state)
{
	json_t *result = json_loads(parties_pending, 0, NULL), *f;
	const json_t *list;

	assert_non_null(result);
	f = render_pending_filter(result);
	assert_non_null(f);
	assert_string_equal(json_string_value(json_object_get(f, "treaty")), "XXI-10");
	assert_string_equal(json_string_value(json_object_get(f, "as_of")), "2025-06-30");
	list = json_object_get(f, "participants");
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
	    "Australia");
	/* Its instrument comes after as_of: pending at as_of. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "name")),
	    "Micronesia (Federated States of)");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "name")),
	    "Montenegro");
	assert_true(json_equal(json_array_get(list, 0),
	    json_array_get(json_object_get(result, "participants"), 0)));
	/* The reply itself is left as it was. */
	assert_int_equal(json_array_size(json_object_get(result, "participants")), 7);
	json_decref(f);
	json_decref(result);

	f = render_pending_filter(NULL);
	assert_non_null(f);
	assert_int_equal(json_array_size(json_object_get(f, "participants")), 0);
	json_decref(f);
}

static void
pending_table(void **state)
{
	json_t *result = json_loads(parties_pending, 0, NULL), *f = render_pending_filter(result);
	char *text = json_dumps(f, 0), *out = render(render_pending, text, false);

	assert_string_equal(out,
	    "Participant                       Signature\n"
	    "Australia                         2023-09-20\n"
	    "Micronesia (Federated States of)  2023-09-20\n"
	    "Montenegro                        2006-10-23 (succession)\n"
	    "3 signatories not yet parties as of 2025-06-30\n");
	free(out);
	out = render(render_pending, "{\"as_of\": \"2025-06-30\", \"participants\": [{\"name\":"
	    " \"Ghana\", \"signature\": {\"date\": \"2023-09-20\"}}]}", false);
	assert_string_equal(out, "Participant  Signature\n"
	    "Ghana        2023-09-20\n"
	    "1 signatory not yet party as of 2025-06-30\n");
	free(out);
	free(text);
	json_decref(f);
	json_decref(result);
}

/* The metrics text as it is, but for what could drive a terminal. */
static void
lines_keep_newlines_only(void **state)
{
	struct helpers_out o;
	char *buf;

	helpers_out_open(&o);
	render_lines(o.f, "# HELP ratd_treaty_parties Parties.\n# TYPE ratd_treaty_parties gauge\n"
	    "ratd_treaty_parties{treaty=\"IV-13\"} 59\n\tx\033[2J\r\n");
	render_lines(o.f, NULL);
	buf = helpers_out_text(&o);
	assert_string_equal(buf, "# HELP ratd_treaty_parties Parties.\n"
	    "# TYPE ratd_treaty_parties gauge\n"
	    "ratd_treaty_parties{treaty=\"IV-13\"} 59\n\tx?[2J?\n");
	free(buf);
}

/* A CTBT-shaped treaty: named participants missing, an earliest date, a convention. */
static const char status_conditions_json[] = "{\"treaties\": [{"
	"\"id\": \"T\", \"title\": \"Test\", \"as_of\": \"2026-01-01\","
	"\"parties\": 3, \"counted\": 3, \"signatories\": 3, \"threshold\": 3,"
	"\"remaining\": 0, \"threshold_reached\": false, \"threshold_date\": null,"
	"\"threshold_participants\": [], \"entry_into_force\": null, \"in_force\": false,"
	"\"required_missing\": [\"India\", \"Pakistan\"],"
	"\"rule\": {\"threshold\": 3, \"eif_delay\": \"180 days\", \"eif_align\": \"none\","
	" \"count\": [], \"exclude\": [], \"later\": \"after-threshold\","
	" \"later_delay\": \"30 days\", \"later_align\": \"none\","
	" \"not_before\": \"1998-09-24\", \"requires\": [\"India\", \"Pakistan\", \"Egypt\"],"
	" \"after_treaty\": \"IV-15\"},"
	"\"source\": {\"state\": \"ok\"}}]}";

static void
status_says_the_extra_conditions(void **state)
{
	char *out = render(render_status, status_conditions_json, false);

	assert_has(out, "also needs         2 of the 3 participants the treaty names, still "
	    "without an instrument: India, Pakistan\n");
	assert_has(out, "not before         1998-09-24 (a date fixed in the treaty: it cannot "
	    "enter into force earlier)\n");
	assert_has(out, "waits for          IV-15 to enter into force");
	assert_has(out, "a State joining after the threshold: 30 days from its own instrument, "
	    "never before the treaty");
	free(out);
	/* A treaty without them says nothing of them. */
	out = render(render_status, status_in_force, false);
	assert_lacks(out, "also needs");
	assert_lacks(out, "not before");
	assert_lacks(out, "waits for");
	free(out);
}

static const char parties_withdrawals[] = "{\"treaty\": \"XVIII-10\", \"as_of\": \"2026-01-01\","
	" \"participants\": [{\"name\": \"Burundi\", \"signature\": null,"
	" \"instrument\": {\"date\": \"2004-09-21\", \"kind\": \"ratification\"},"
	" \"entry_into_force\": null, \"withdrawn\": true, \"withdrawal_date\": \"2017-10-27\","
	" \"counts\": false, \"notes\": [\"On 27 October 2016, Burundi notified its decision "
	"to withdraw; the withdrawal took effect on 27 October 2017.\"]},"
	" {\"name\": \"Ruritania\", \"signature\": null,"
	" \"instrument\": {\"date\": \"2001-02-01\", \"kind\": \"accession\"},"
	" \"entry_into_force\": \"2002-07-01\", \"withdrawn\": false,"
	" \"withdrawal_date\": \"2030-03-01\", \"counts\": true, \"notes\": []}]}";

static void
render_parties_color(FILE *f, const json_t *v, bool color)
{
	render_parties(f, v, color);
	render_parties_notes(f, v);
}

static void
parties_mark_withdrawals_and_show_notes(void **state)
{
	char *out = render(render_parties_color, parties_withdrawals, false);

	assert_has(out, "[Burundi]");
	assert_has(out, "- (withdrew 2017-10-27)");
	assert_has(out, "2002-07-01 (withdraws 2030-03-01)");
	assert_has(out, "Notes (the depositary's footnotes):\nBurundi: On 27 October 2016");
	/* Withdrawn at the date: not among the parties. */
	assert_has(out, "1 party, 0 signatories as of 2026-01-01");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_in_force_block),
		cmocka_unit_test(status_not_reached_says_what_remains),
		cmocka_unit_test(status_seed_says_why),
		cmocka_unit_test(status_failing_shows_error_and_page_disagreement),
		cmocka_unit_test(status_rule_names_exclusions_and_narrowed_kinds),
		cmocka_unit_test(status_blocks_are_separated_by_a_blank_line),
		cmocka_unit_test(status_colour_only_when_asked),
		cmocka_unit_test(status_survives_nulls),
		cmocka_unit_test(status_survives_wrong_types),
		cmocka_unit_test(status_null_result_prints_no_treaties),
		cmocka_unit_test(control_characters_never_reach_the_terminal),
		cmocka_unit_test(parties_table),
		cmocka_unit_test(status_says_the_extra_conditions),
		cmocka_unit_test(parties_mark_withdrawals_and_show_notes),
		cmocka_unit_test(parties_footer_counts_at_the_date),
		cmocka_unit_test(parties_survive_wrong_types),
		cmocka_unit_test(refresh_lines),
		cmocka_unit_test(history_lines),
		cmocka_unit_test(status_countdown_block),
		cmocka_unit_test(status_countdown_without_projection),
		cmocka_unit_test(status_in_force_has_no_countdown),
		cmocka_unit_test(pending_filter_keeps_the_reply_shape),
		cmocka_unit_test(pending_table),
		cmocka_unit_test(lines_keep_newlines_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
