/*
 * curl_lib.h - libcurl, loaded when the first HTTP client is made (see
 * util/dl.h): sym_curl_easy_init() and so on.
 */
#ifndef TENANTDEL_SCHEDULER_CURL_LIB_H
#define TENANTDEL_SCHEDULER_CURL_LIB_H

#include <curl/curl.h>
#include <stddef.h>

#include "util/dl.h"

#define CURL_LIB_FUNCS(X)                                                                    \
	X(curl_global_init) X(curl_easy_init) X(curl_easy_cleanup) X(curl_easy_reset)        \
	X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_header) X(curl_easy_strerror)   \
	X(curl_multi_init) X(curl_multi_cleanup) X(curl_multi_setopt) X(curl_multi_assign)   \
	X(curl_multi_add_handle) X(curl_multi_remove_handle) X(curl_multi_socket_action)     \
	X(curl_multi_info_read) X(curl_multi_strerror) X(curl_share_init)                    \
	X(curl_share_cleanup) X(curl_share_setopt)

CURL_LIB_FUNCS(DL_DECLARE)

/* Loads libcurl (once) and runs curl_global_init. 0, or -1 with err. */
int curl_lib_load(char *err, size_t errlen);
/* The same begun on a thread of its own (util/dl.h: dl_preload). */
void curl_lib_preload(struct dl_preload *p);

#endif
