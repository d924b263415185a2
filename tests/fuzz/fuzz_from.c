/*
 * fuzz_from.c - libFuzzer harness for the reader of `schedule --from FILE`
 * (one tenant id a line; blank and '#' lines skipped; all or nothing). The
 * input is the whole file, given through a memfd as /proc/self/fd/N.
 *
 * The reader is still a static function of cli/cmd_jobs.c, so this file
 * includes that source to reach it. Once it is exported from cli/ (e.g.
 * cli_read_tenant_ids(FILE *, ...) in cli/cli_int.h), call that instead and
 * drop the #include. What is checked: on success every id read is a valid
 * tenant id (jobs_tenant_id_check), so nothing invalid is ever scheduled.
 */
#include "cli/cmd_jobs.c"
#include "jobs/jobs.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_memfile mf;
	struct tenant_list l = {0};
	const char *why;

	if (fuzz_memfile_set(&mf, "fuzz_from.txt", data, size) < 0)
		return 0;
	if (read_tenants(mf.path, &l) == EXIT_OK) {
		for (size_t i = 0; i < l.n; i++) {
			if (jobs_tenant_id_check(l.ids[i], &why) < 0)
				abort();
		}
	}
	tenant_list_free(&l);
	return 0;
}
