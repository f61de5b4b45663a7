/* libFuzzer target: untc_parse_xml on arbitrary bytes. */
#include "fuzz.h"
#include "untc.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct snapshot *s;

	err[0] = '\0';
	s = untc_parse_xml((const char *)data, size, err, sizeof(err));
	if (s == NULL) {
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
			fuzz_fail("untc_parse_xml failed without a reason");
		return 0;
	}
	fuzz_check_snapshot(s);
	snapshot_free(s);
	return 0;
}
