/*
 * fuzz_config.c - libFuzzer harness for the config loader (config_load):
 * the input is the whole tenantdel.conf. config_load reads a path, so the
 * input goes into one memfd, opened again through /proc/self/fd/N; nothing
 * is written to the filesystem. Files the config names are only resolved,
 * never created.
 */
#include "config/config.h"
#include "tests/fuzz/fuzz.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_memfile mf;
	char err[512];
	struct config *cfg;

	if (fuzz_memfile_set(&mf, "fuzz_config.conf", data, size) < 0)
		return 0;
	cfg = config_load(mf.path, err, sizeof err);
	if (cfg != NULL) {
		for (size_t i = 0; i < cfg->n_services; i++)
			free(config_expand_url(cfg->services[i].delete_url, "t-1/%x"));
	}
	config_free(cfg);
	return 0;
}
