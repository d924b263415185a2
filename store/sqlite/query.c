/*
 * query.c - listing jobs. Rows are streamed to a callback straight from the
 * statement, so a listing of a million jobs costs one row of memory.
 */
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

#define ACTIVE "('scheduled','running','failed','held')"

/* Filters every listing applies; the leading clause of each query below
 * picks the index (tenant, state/due, or the id order itself). */
#define LIST_FILTERS \
	" AND (:state IS NULL OR jobs.state = :state)" \
	" AND (:tenant IS NULL OR jobs.tenant_id = :tenant)" \
	" AND (:due IS NULL OR (jobs.due_at <= :due AND jobs.state IN " ACTIVE "))" \
	" AND (:overdue IS NULL OR (jobs.deadline_at < :overdue AND jobs.state IN " ACTIVE "))"

/* One tenant: few rows, sorted in memory either way. */
static const char SQL_LIST_TENANT[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.tenant_id = :tenant" LIST_FILTERS
	" ORDER BY CASE WHEN :due IS NULL THEN 0 ELSE jobs.due_at END,"
	" CASE WHEN :due IS NULL THEN jobs.id END DESC, jobs.id LIMIT :limit";
/* What starts purging soon: jobs_by_state_due, soonest first. */
static const char SQL_LIST_DUE[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.state IN " ACTIVE
	" AND jobs.due_at <= :due" LIST_FILTERS " ORDER BY jobs.due_at, jobs.id LIMIT :limit";
static const char SQL_LIST_STATE[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.state = :state" LIST_FILTERS
	" ORDER BY jobs.id DESC LIMIT :limit";
static const char SQL_LIST_OVERDUE[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.state IN " ACTIVE
	" AND jobs.deadline_at < :overdue" LIST_FILTERS " ORDER BY jobs.id DESC LIMIT :limit";
/* Everything, newest first: the id index walked backwards (ids are time-ordered). */
static const char SQL_LIST_ALL[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE 1" LIST_FILTERS
	" ORDER BY jobs.id DESC LIMIT :limit";

static const char *pick_list_sql(const struct store_list_filter *f)
{
	if (f->tenant_id != NULL)
		return SQL_LIST_TENANT;
	if (f->due_before > 0)
		return SQL_LIST_DUE;
	if (f->state != NULL)
		return SQL_LIST_STATE;
	if (f->overdue)
		return SQL_LIST_OVERDUE;
	return SQL_LIST_ALL;
}

static void bind_list(sqlite3_stmt *st, const struct store_list_filter *f)
{
	sqlite_bind_text(st, ":state", f->state);
	sqlite_bind_text(st, ":tenant", f->tenant_id);
	sqlite_bind_opt_int(st, ":due", f->due_before, 0);
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
	if (!stop && rc != SQLITE_DONE) {
		sqlite_log_error(s, sql);
		sqlite_reset(st);
		return STORE_ERR;
	}
	sqlite_reset(st);
	return STORE_OK;
}
