/*
 * fuzz_from.c - libFuzzer harness for the reader of `schedule --from FILE`
 * (cli_read_tenant_ids: one tenant id a line; blank and '#' lines skipped;
 * all or nothing). The input is the whole file, read through fmemopen.
 * What is checked besides the sanitizers: on success every id read is a
 * valid tenant id (jobs_tenant_id_check), so nothing invalid is ever
 * scheduled; on failure nothing is returned and the message is non-empty.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli_int.h"
#include "jobs/jobs.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cli_tenant_ids l = {0};
	char err[512] = "";
	const char *why;
	FILE *f = fmemopen(size ? (void *)data : (void *)"", size, "r");

	if (f == NULL)
		return 0;
	if (cli_read_tenant_ids(f, "fuzz", &l, err, sizeof err) == 0) {
		for (size_t i = 0; i < l.n; i++)
			if (jobs_tenant_id_check(l.ids[i], &why) < 0)
				abort();
	} else if (l.n != 0 || err[0] == '\0') {
		abort();
	}
	cli_tenant_ids_free(&l);
	fclose(f);
	return 0;
}
