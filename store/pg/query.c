/*
 * query.c - listing jobs (every filter of store_list_filter, each order of
 * store_job_list) and the tombstones. A listing's rows are read whole,
 * then handed to the callback, which may call the store again (the
 * connection is free by then); callers bound big listings with a limit.
 */
#include "store/pg/pg_int.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

#define ACTIVE "('scheduled','running','failed','held')"

/* $1 state, $2 tenant (its purge and reapply jobs), $3 due, $4 overdue
 * (now), $5 kind, $6 awaiting, $7 before (a job id), $8 limit (NULL:
 * none), $9 user (a subject job keeps its user id in tenant_id). The leading clause of each
 * query below picks the index; these apply to all. */
#define LIST_FILTERS \
	" AND ($1::text IS NULL OR jobs.state = $1)" \
	" AND ($2::text IS NULL OR (jobs.tenant_id = $2 AND jobs.kind <> 'user'))" \
	" AND ($9::text IS NULL OR (jobs.tenant_id = $9 AND jobs.kind = 'user'))" \
	" AND ($3::bigint IS NULL OR (jobs.due_at <= $3 AND jobs.state IN " ACTIVE "))" \
	" AND ($4::bigint IS NULL OR (jobs.deadline_at < $4 AND jobs.state IN " ACTIVE "))" \
	" AND ($5::text IS NULL OR jobs.kind = $5)" \
	" AND ($6::bigint IS NULL OR jobs.approval = 'pending')" \
	" AND ($7::text IS NULL OR jobs.id < $7)"
#define LIMIT " LIMIT $8::bigint"

static const char SQL_LIST_TENANT[] =
	"SELECT " PG_JOB_COLS " FROM jobs WHERE jobs.tenant_id = COALESCE($2, $9)" LIST_FILTERS
	" ORDER BY CASE WHEN $3 IS NULL THEN 0 ELSE jobs.due_at END,"
	" CASE WHEN $3 IS NULL THEN jobs.id END DESC, jobs.id" LIMIT;
static const char SQL_LIST_DUE[] =
	"SELECT " PG_JOB_COLS " FROM jobs WHERE jobs.state IN " ACTIVE
	" AND jobs.due_at <= $3" LIST_FILTERS " ORDER BY jobs.due_at, jobs.id" LIMIT;
static const char SQL_LIST_STATE[] =
	"SELECT " PG_JOB_COLS " FROM jobs WHERE jobs.state = $1" LIST_FILTERS
	" ORDER BY jobs.id DESC" LIMIT;
static const char SQL_LIST_LATE[] =
	"SELECT " PG_JOB_COLS " FROM jobs WHERE jobs.state IN " ACTIVE
	" AND jobs.deadline_at < $4" LIST_FILTERS " ORDER BY jobs.deadline_at, jobs.id" LIMIT;
static const char SQL_LIST_OVERDUE[] =
	"SELECT " PG_JOB_COLS " FROM jobs WHERE jobs.state IN " ACTIVE
	" AND jobs.deadline_at < $4" LIST_FILTERS " ORDER BY jobs.id DESC" LIMIT;
static const char SQL_LIST_ALL[] =
	"SELECT " PG_JOB_COLS " FROM jobs WHERE true" LIST_FILTERS
	" ORDER BY jobs.id DESC" LIMIT;
static const char SQL_LIST_BEFORE[] =
	"SELECT " PG_JOB_COLS " FROM jobs WHERE jobs.id < $7" LIST_FILTERS
	" ORDER BY jobs.id DESC" LIMIT;

static const char SQL_TOMBSTONES[] =
	"SELECT t.job_id, t.tenant_id, j.tenant_name, t.purged_at, t.services"
	" FROM tombstones t LEFT JOIN jobs j ON j.id = t.job_id"
	" WHERE t.purged_at >= $1 AND (j.kind IS NULL OR j.kind = 'purge')"
	" ORDER BY t.purged_at, t.job_id";

static const char *pick_list_sql(const struct store_list_filter *f)
{
	if (f->tenant_id != NULL || f->user_id != NULL)
		return SQL_LIST_TENANT;
	if (f->due_before > 0)
		return SQL_LIST_DUE;
	if (f->overdue && f->late_first)
		return SQL_LIST_LATE;
	if (f->state != NULL)
		return SQL_LIST_STATE;
	if (f->overdue)
		return SQL_LIST_OVERDUE;
	if (f->before_id != NULL)
		return SQL_LIST_BEFORE;
	return SQL_LIST_ALL;
}

int pg_job_list(struct store *base, const struct store_list_filter *f, store_job_cb cb,
		void *ctx)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	struct job_record j;
	PGresult *r;
	int stop = 0;

	pg_p_text(&p, f->state);
	pg_p_text(&p, f->tenant_id);
	pg_p_opt_int(&p, f->due_before, 0);
	if (f->overdue)
		pg_p_int(&p, f->now);
	else
		pg_p_text(&p, NULL);
	pg_p_text(&p, f->kind);
	pg_p_opt_int(&p, f->awaiting_approval, 0);
	pg_p_text(&p, f->before_id);
	pg_p_opt_int(&p, f->limit > 0 ? f->limit : 0, 0);
	pg_p_text(&p, f->user_id);
	if ((r = pg_run(s, pick_list_sql(f), &p)) == NULL)
		return STORE_ERR;
	for (int i = 0; !stop && i < sym_PQntuples(r); i++) {
		pg_row_job(r, i, &j);
		stop = cb(ctx, &j);
		jobs_job_record_clear(&j);
	}
	sym_PQclear(r);
	return STORE_OK;
}

int pg_tombstones_list(struct store *base, int64_t since, store_tombstone_cb cb, void *ctx)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	struct store_tombstone t;
	PGresult *r;
	int stop = 0;

	pg_p_int(&p, since);
	if ((r = pg_run(s, SQL_TOMBSTONES, &p)) == NULL)
		return STORE_ERR;
	for (int i = 0; !stop && i < sym_PQntuples(r); i++) {
		t.job_id = pg_str(r, i, 0);
		t.tenant_id = pg_str(r, i, 1);
		t.tenant_name = pg_str(r, i, 2);
		t.purged_at = pg_int(r, i, 3, 0);
		t.services = pg_str(r, i, 4);
		stop = cb(ctx, &t);
	}
	sym_PQclear(r);
	return STORE_OK;
}
