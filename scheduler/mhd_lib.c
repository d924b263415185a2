/*
 * mhd_lib.c - libmicrohttpd loaded on first use; see util/dl.h.
 */
#include "scheduler/mhd_lib.h"

DL_LIBRARY(libmhd, MHD_LIB_FUNCS, "libmicrohttpd.so.12", "libmicrohttpd12",
	   "the HTTP API ([api])", NULL);

int mhd_lib_load(char *err, size_t errlen)
{
	return dl_load(&libmhd, err, errlen);
}
