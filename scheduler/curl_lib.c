/*
 * curl_lib.c - libcurl loaded on first use; see util/dl.h.
 */
#include "scheduler/curl_lib.h"

static int global_init(void)
{
	return sym_curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

DL_LIBRARY(libcurl, CURL_LIB_FUNCS, "libcurl.so.4", "libcurl4", "HTTP requests", global_init);

int curl_lib_load(char *err, size_t errlen)
{
	return dl_load(&libcurl, err, errlen);
}

void curl_lib_preload(struct dl_preload *p)
{
	dl_preload_start(p, &libcurl);
}
