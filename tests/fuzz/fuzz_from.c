/*
 * fuzz_from.c - libFuzzer harness for the reader of `schedule --from FILE`
 * (cli_id_next: one tenant id a line; blank and '#' lines skipped; the
 * first invalid line ends the reading). The input is the whole file, read
 * through fmemopen. What is checked besides the sanitizers: every id given
 * is a valid tenant id (jobs_tenant_id_check), so nothing invalid is ever
 * scheduled; a refusal comes with a message; the reading ends.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli_int.h"
#include "jobs/jobs.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cli_id_reader r;
	char err[512] = "";
	const char *why, *id;
	FILE *f = fmemopen(size ? (void *)data : (void *)"", size, "r");
	size_t n = 0;
	int got;

	if (f == NULL)
		return 0;
	cli_id_reader_init(&r, f, "fuzz");
	while ((got = cli_id_next(&r, &id, err, sizeof err)) == 1) {
		if (jobs_tenant_id_check(id, &why) < 0 || ++n > size)
			abort();
	}
	if (got < 0 && err[0] == '\0')
		abort();
	fclose(f);
	return 0;
}
