/* libFuzzer target: journal.jsonl as journal_open salvages it (journal_parse and
 * event_check after json_loadb, reached by including the module's .c: journal_open
 * would also rewrite the file on disk). */
#include "daemon/journal.c"

#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal j;
	size_t i, lines = 0, bad;
	char *text, *line;
	json_t *back, **all = NULL;

	/* journal_open hands it a NUL-terminated buffer from atomicfile_read. */
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&j, 0, sizeof(j));
	j.fd = -1;
	bad = journal_parse(&j, text, size, &all, &lines);
	free(text);
	if (lines + bad > size)
		fuzz_fail("journal_parse counts do not add up");
	/* Memory keeps the latest of what was read, as journal_open does. */
	for (i = lines > JOURNAL_MEM ? lines - JOURNAL_MEM : 0; i < lines; i++)
		journal_keep(&j, all[i]);
	if (j.n != (lines < JOURNAL_MEM ? lines : JOURNAL_MEM))
		fuzz_fail("memory does not keep the latest events");
	for (i = 0; i < lines; i++)
		json_decref(all[i]);
	free(all);
	for (i = 0; i < j.n; i++) {
		if (event_check(j.v[i]) < 0)
			fuzz_fail("journal_parse kept an invalid event");
		if (i > 0 && event_id(j.v[i]) <= event_id(j.v[i - 1]))
			fuzz_fail("journal ids are not strictly increasing");
		if (journal_after(&j, event_id(j.v[i])) != i + 1 ||
		    journal_after(&j, event_id(j.v[i]) - 1) != i)
			fuzz_fail("journal_after disagrees with the ids");
		/* journal_rewrite writes each kept event back as one line: it must read again. */
		if ((line = json_dumps(j.v[i], JSON_COMPACT)) == NULL)
			fuzz_fail("a kept event cannot be written back");
		if (strchr(line, '\n') != NULL)
			fuzz_fail("a kept event is written on more than one line");
		back = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
		if (back == NULL || event_check(back) < 0 || !json_equal(back, j.v[i]))
			fuzz_fail("a kept event does not read back unchanged");
		json_decref(back);
		free(line);
	}
	if (j.n > 0 && j.last_id != event_id(j.v[j.n - 1]))
		fuzz_fail("last_id is not the last event's id");
	journal_close(&j);
	return 0;
}
