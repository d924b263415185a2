/*
 * libpq.h - libpq, loaded when a PostgreSQL store is opened (see
 * util/dl.h): sym_PQexec() and so on.
 */
#ifndef TENANTDEL_STORE_PG_LIBPQ_H
#define TENANTDEL_STORE_PG_LIBPQ_H

#include <libpq-fe.h>
#include <stddef.h>

#include "util/dl.h"

#define PG_LIBPQ_FUNCS(X)                                                                    \
	X(PQconninfoParse) X(PQconninfoFree) X(PQconnectdbParams) X(PQpingParams)            \
	X(PQfinish) X(PQstatus) X(PQtransactionStatus) X(PQerrorMessage) X(PQbackendPID)     \
	X(PQdb) X(PQhost) X(PQsocket) X(PQresetStart) X(PQresetPoll) X(PQconsumeInput)       \
	X(PQnotifies) X(PQfreemem) X(PQexec) X(PQprepare) X(PQdescribePrepared)              \
	X(PQnparams) X(PQexecPrepared) X(PQgetResult) X(PQresultStatus)                      \
	X(PQresultErrorField) X(PQntuples) X(PQgetvalue) X(PQgetisnull) X(PQcmdTuples)       \
	X(PQclear) X(PQputCopyData) X(PQputCopyEnd)

PG_LIBPQ_FUNCS(DL_DECLARE)

/* Loads libpq (once). 0, or -1 with err. */
int pg_libpq_load(char *err, size_t errlen);

#endif
