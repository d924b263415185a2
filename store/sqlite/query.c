/*
 * query.c - listing jobs, and what a dashboard reads next to a listing:
 * the jobs' tasks by state and each service's latest error. Rows are
 * streamed to a callback straight from the statement, so a listing of a
 * million jobs costs one row of memory.
 */
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTIVE "('scheduled','running','failed','held')"

/* Filters every listing applies; the leading clause of each query below
 * picks the index (tenant, state/due, or the id order itself). */
#define LIST_FILTERS \
	" AND (:state IS NULL OR jobs.state = :state)" \
	" AND (:tenant IS NULL OR (jobs.tenant_id = :tenant AND jobs.kind <> 'user'))" \
	" AND (:user IS NULL OR (jobs.tenant_id = :user AND jobs.kind = 'user'))" \
	" AND (:due IS NULL OR (jobs.due_at <= :due AND jobs.state IN " ACTIVE "))" \
	" AND (:overdue IS NULL OR (jobs.deadline_at < :overdue AND jobs.state IN " ACTIVE "))" \
	" AND (:kind IS NULL OR jobs.kind = :kind)" \
	" AND (:awaiting IS NULL OR jobs.approval = 'pending')" \
	" AND (:before IS NULL OR jobs.id < :before)"

/* One tenant or user (a subject job keeps its user id in tenant_id): few
 * rows, sorted in memory either way. */
static const char SQL_LIST_TENANT[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.tenant_id = COALESCE(:tenant, :user)"
	LIST_FILTERS
	" ORDER BY CASE WHEN :due IS NULL THEN 0 ELSE jobs.due_at END,"
	" CASE WHEN :due IS NULL THEN jobs.id END DESC, jobs.id LIMIT :limit";
/* What starts purging soon: jobs_by_state_due, soonest first. */
static const char SQL_LIST_DUE[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.state IN " ACTIVE
	" AND jobs.due_at <= :due" LIST_FILTERS " ORDER BY jobs.due_at, jobs.id LIMIT :limit";
static const char SQL_LIST_STATE[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.state = :state" LIST_FILTERS
	" ORDER BY jobs.id DESC LIMIT :limit";
/* The most overdue first (the few active jobs past their deadline). */
static const char SQL_LIST_LATE[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.state IN " ACTIVE
	" AND jobs.deadline_at < :overdue" LIST_FILTERS
	" ORDER BY jobs.deadline_at, jobs.id LIMIT :limit";
static const char SQL_LIST_OVERDUE[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.state IN " ACTIVE
	" AND jobs.deadline_at < :overdue" LIST_FILTERS " ORDER BY jobs.id DESC LIMIT :limit";
/* Everything, newest first: the id index walked backwards (ids are time-ordered). */
static const char SQL_LIST_ALL[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE 1" LIST_FILTERS
	" ORDER BY jobs.id DESC LIMIT :limit";
/* The page after a cursor: the id index walked backwards from it. */
static const char SQL_LIST_BEFORE[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.id < :before" LIST_FILTERS
	" ORDER BY jobs.id DESC LIMIT :limit";

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

static void bind_list(sqlite3_stmt *st, const struct store_list_filter *f)
{
	sqlite_bind_text(st, ":state", f->state);
	sqlite_bind_text(st, ":tenant", f->tenant_id);
	sqlite_bind_text(st, ":user", f->user_id);
	sqlite_bind_text(st, ":kind", f->kind);
	sqlite_bind_text(st, ":before", f->before_id);
	sqlite_bind_opt_int(st, ":due", f->due_before, 0);
	sqlite_bind_opt_int(st, ":awaiting", f->awaiting_approval, 0);
	if (f->overdue)
		sqlite_bind_int(st, ":overdue", f->now);
	else
		sqlite_bind_null(st, ":overdue");
	sqlite_bind_int(st, ":limit", f->limit > 0 ? f->limit : -1);
}

/* Jobs matching f, streamed to cb; see store.h. */
int sqlite_job_list(struct store *base, const struct store_list_filter *f, store_job_cb cb,
		    void *ctx)
{
	struct sqlite_store *s = sqlite_of(base);
	const char *sql = pick_list_sql(f);
	sqlite3_stmt *st = sqlite_stmt(s, sql);
	struct job_record j;
	int rc = SQLITE_DONE, stop = 0;

	if (st == NULL)
		return STORE_ERR;
	bind_list(st, f);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite_row_job(st, &j);
		stop = cb(ctx, &j);
		jobs_job_record_clear(&j);
	}
	return sqlite_walk_end(s, st, stop ? SQLITE_DONE : rc);
}

/* ---- progress: tasks by state, per job ---- */

#define PROGRESS_CHUNK 200

/* The task rows of the jobs ?1..?n by state, and for a job not started yet
 * the delete tasks its service set will give it (as sqlite_synth_tasks). */
static const char SQL_PROGRESS_FMT[] =
	"SELECT job_id, state, COUNT(*) FROM tasks WHERE job_id IN (%s)"
	" GROUP BY job_id, state"
	" UNION ALL"
	" SELECT j.id, CASE WHEN j.state = 'cancelled' THEN 'skipped' ELSE 'pending' END,"
	" ss.n_services FROM jobs j JOIN service_sets ss ON ss.id = j.service_set_id"
	" WHERE j.id IN (%s)";

/* The statement for n job ids, bound (the caller finalizes it); NULL logged. */
static sqlite3_stmt *progress_stmt(struct sqlite_store *s, const struct store_job_progress *v,
				   size_t n)
{
	struct buf marks, sql;
	sqlite3_stmt *st = NULL;

	buf_init(&marks);
	buf_init(&sql);
	for (size_t i = 0; i < n; i++)
		buf_printf(&marks, "%s?%zu", i ? "," : "", i + 1);
	buf_printf(&sql, SQL_PROGRESS_FMT, marks.data, marks.data);
	if (sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
		sqlite_log_error(s, "progress");
		st = NULL;
	}
	for (size_t i = 0; st != NULL && i < n; i++)
		sqlite3_bind_text(st, (int)i + 1, v[i].job_id, -1, SQLITE_STATIC);
	buf_free(&marks);
	buf_free(&sql);
	return st;
}

/* Adds the rows of one chunk of jobs to their counts. */
static int progress_chunk(struct sqlite_store *s, struct store_job_progress *v, size_t n)
{
	sqlite3_stmt *st = progress_stmt(s, v, n);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *state = (const char *)sqlite3_column_text(st, 1);
		enum task_state ts;
		size_t i = 0;
		while (i < n && (id == NULL || strcmp(v[i].job_id, id) != 0))
			i++;
		if (i < n && state != NULL && jobs_task_state_parse(state, &ts) == 0)
			v[i].tasks[ts] += sqlite3_column_int64(st, 2);
	}
	if (rc != SQLITE_DONE)
		sqlite_log_error(s, "progress");
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

/* The jobs' tasks by state; see store.h. */
int sqlite_jobs_progress(struct store *base, struct store_job_progress *out, size_t n)
{
	struct sqlite_store *s = sqlite_of(base);

	for (size_t i = 0; i < n; i++)
		memset(out[i].tasks, 0, sizeof out[i].tasks);
	for (size_t at = 0; at < n; at += PROGRESS_CHUNK) {
		size_t len = n - at < PROGRESS_CHUNK ? n - at : PROGRESS_CHUNK;
		if (progress_chunk(s, out + at, len) != STORE_OK)
			return STORE_ERR;
	}
	return STORE_OK;
}

/* ---- each service's latest error ---- */

static const char SQL_SERVICE_ERRORS[] =
	"SELECT service, job_id, tenant_id, last_error, updated_at FROM"
	" (SELECT t.service, t.job_id, j.tenant_id, t.last_error, t.updated_at,"
	"  ROW_NUMBER() OVER (PARTITION BY t.service"
	"   ORDER BY t.updated_at DESC, t.id DESC) AS nth"
	"  FROM tasks t JOIN jobs j ON j.id = t.job_id"
	"  WHERE t.state IN ('pending','waiting','in_flight','dead')"
	"  AND t.last_error IS NOT NULL AND (t.state <> 'dead' OR t.updated_at >= :since))"
	" WHERE nth = 1 ORDER BY service";

/* Each service's newest error; see store.h. */
int sqlite_service_errors(struct store *base, int64_t since, struct store_service_error **out,
			  size_t *n)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_SERVICE_ERRORS);
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_int(st, ":since", since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_service_error *e;
		*out = xreserve(*out, &cap, *n + 1, sizeof **out);
		e = &(*out)[(*n)++];
		e->service = sqlite_col_text(st, 0);
		snprintf(e->job_id, sizeof e->job_id, "%s",
			 (const char *)sqlite3_column_text(st, 1));
		e->tenant_id = sqlite_col_text(st, 2);
		e->error = sqlite_col_text(st, 3);
		e->at = sqlite3_column_int64(st, 4);
	}
	if (sqlite_walk_end(s, st, rc) < 0) {
		store_service_errors_free(*out, *n);
		*out = NULL;
		*n = 0;
		return STORE_ERR;
	}
	return STORE_OK;
}
