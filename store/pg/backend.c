/*
 * backend.c - the PostgreSQL backend's table of operations
 * (store/backend.h): one database shared by every host, [store] backend =
 * postgresql. An operation not written yet is NULL: store/store.c
 * refuses it with a message.
 */
#include "store/pg/pg_int.h"

const struct store_backend store_pg_backend = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.check_integrity = pg_check_integrity,
	.schedule = pg_schedule,
	.job_get = pg_job_get,
	.job_tasks = pg_job_tasks,
	.job_list = pg_job_list,
	.job_act = pg_job_act,
	.events_walk = pg_events_walk,
	.tombstones_list = pg_tombstones_list,
	.same_store = pg_same_store,
	.rows_walk = pg_rows_walk,
	.load_begin = pg_load_begin,
	.load_row = pg_load_row,
	.load_done = pg_load_done,
	.load_end = pg_load_end,
};
