/*
 * libpq.c - libpq loaded on first use; see util/dl.h.
 */
#include "store/pg/libpq.h"

DL_LIBRARY(libpq, PG_LIBPQ_FUNCS, "libpq.so.5", "libpq5", "a PostgreSQL store", NULL);

int pg_libpq_load(char *err, size_t errlen)
{
	return dl_load(&libpq, err, errlen);
}
