/*
 * mhd_lib.h - libmicrohttpd, loaded when the HTTP API starts (see
 * util/dl.h): sym_MHD_start_daemon() and so on.
 */
#ifndef TENANTDEL_SCHEDULER_MHD_LIB_H
#define TENANTDEL_SCHEDULER_MHD_LIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "util/dl.h"

#define MHD_LIB_FUNCS(X)                                                                     \
	X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_get_daemon_info) X(MHD_get_fdset2)      \
	X(MHD_get_timeout) X(MHD_run) X(MHD_run_from_select) X(MHD_get_connection_info)      \
	X(MHD_get_connection_values_n) X(MHD_lookup_connection_value)                        \
	X(MHD_suspend_connection) X(MHD_resume_connection)                                   \
	X(MHD_create_response_from_buffer) X(MHD_add_response_header)                        \
	X(MHD_queue_response) X(MHD_destroy_response)

MHD_LIB_FUNCS(DL_DECLARE)

/* Loads libmicrohttpd (once). 0, or -1 with err. */
int mhd_lib_load(char *err, size_t errlen);

#endif
