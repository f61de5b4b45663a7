/* libFuzzer target: conf_load on arbitrary file contents, kept in one memfd that every
 * run rewrites, so no file or descriptor is left behind. */
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

static int fuzz_fd = -1;
static char fuzz_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	/* STATE_DIRECTORY would change what conf_resolve does from run to run. */
	unsetenv("STATE_DIRECTORY");
	if ((fuzz_fd = memfd_create("ratd-fuzz.conf", MFD_CLOEXEC)) < 0) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf conf;
	size_t i;
	int rc;

	if (fuzz_fd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	if (ftruncate(fuzz_fd, 0) < 0 || pwrite(fuzz_fd, data, size, 0) != (ssize_t)size) {
		perror("memfd");
		exit(1);
	}
	rc = conf_load(fuzz_path, &conf);
	if (rc == 0 && (conf.nerrors != 0 || conf.ntreaties == 0))
		fuzz_fail("conf_load accepted a configuration with errors or no treaty");
	if (rc < 0 && conf.path != NULL && conf.nerrors == 0)
		fuzz_fail("conf_load refused a configuration without saying why");
	for (i = 0; rc == 0 && i < conf.ntreaties; i++) {
		if (conf.treaties[i].id == NULL || conf.treaties[i].url == NULL ||
		    conf.treaties[i].interval <= 0)
			fuzz_fail("a valid configuration has an incomplete treaty");
		if (conf_treaty_find(&conf, conf.treaties[i].id) != &conf.treaties[i])
			fuzz_fail("two treaties share an id");
	}
	for (i = 0; i < conf.nerrors; i++)
		if (conf.errors[i] == NULL || strchr(conf.errors[i], '\n') != NULL)
			fuzz_fail("an error message is missing or spans lines");
	conf_free(&conf);
	return 0;
}
