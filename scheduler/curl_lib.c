/*
 * curl_lib.c - libcurl loaded on first use; see util/dl.h.
 */
#include "scheduler/curl_lib.h"

#include <pthread.h>
#include <stdio.h>

DL_LIBRARY(libcurl, CURL_LIB_FUNCS, "libcurl.so.4", "libcurl4", "HTTP requests");

static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static int inited;

int curl_lib_load(char *err, size_t errlen)
{
	int rc = 0;

	if (dl_load(&libcurl, err, errlen) < 0)
		return -1;
	pthread_mutex_lock(&init_mu);
	if (!inited) {
		if (sym_curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {
			inited = 1;
		} else {
			snprintf(err, errlen, "curl_global_init failed");
			rc = -1;
		}
	}
	pthread_mutex_unlock(&init_mu);
	return rc;
}
