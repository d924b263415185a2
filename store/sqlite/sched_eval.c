/*
 * sched_eval.c - a job brought up to date with its delete tasks: the store
 * reads the view (jobs/evaluate.h), jobs_evaluate decides, and the answer
 * is written here, each write guarded by what the view saw. Runs inside the
 * caller's transaction, after whatever changed the tasks.
 */
#include "store/sqlite/sched_int.h"
#include "jobs/evaluate.h"
#include "jobs/sched_doc.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The job and its delete tasks' summary in one read. A succeeded or skipped
 * task counts for nothing, so the join leaves it out. Comparisons, not
 * `state IN (...)` lists: SQLite builds an ephemeral table for a list of
 * three values or more, which was most of this read's cost. */
static const char SQL_VIEW[] =
	"SELECT j.state, j.kind, j.tenant_id,"
	" COALESCE(SUM(t.state = 'dead'), 0), COALESCE(SUM(t.state <> 'dead'), 0),"
	" MIN(t.phase),"
	" MIN(CASE WHEN t.state = 'pending' AND t.next_attempt_at IS NULL THEN t.phase END),"
	" j.parent_id, j.kind = 'user' AND EXISTS (SELECT 1 FROM subject_tenants WHERE job_id = j.id)"
	" FROM jobs j LEFT JOIN tasks t ON t.job_id = j.id AND t.kind = 'delete'"
	"  AND t.state <> 'succeeded' AND t.state <> 'skipped'"
	" WHERE j.id = :id GROUP BY j.id";
/* A subject job's children (DESIGN 9), read only for a subject job that
 * has discovered tenants: failed ones, and those not succeeded. */
static const char SQL_CHILDREN_VIEW[] =
	"SELECT COALESCE(SUM(c.state = 'failed'), 0), COALESCE(SUM(c.state <> 'succeeded'), 0)"
	" FROM subject_tenants st JOIN jobs c ON c.id = st.child_job_id WHERE st.job_id = :id";
static const char SQL_SET_JOB_STATE[] =
	"UPDATE jobs SET state = :to, finished_at = :fin WHERE id = :id AND state = :from";
/* SQLITE_ROWS_A_STATEMENT tasks at a time (the rest: again). */
static const char SQL_OPEN_PHASE[] =
	"UPDATE tasks SET next_attempt_at = :now, updated_at = :now"
	" WHERE id IN (SELECT id FROM tasks WHERE job_id = :id AND kind = 'delete'"
	"  AND phase = :phase AND state = 'pending' AND next_attempt_at IS NULL LIMIT :rows)"
	" AND EXISTS (SELECT 1 FROM jobs WHERE id = :id AND state = 'running')";
/* The tombstone names the services whose deletion succeeded. */
static const char SQL_TOMBSTONE[] =
	"INSERT INTO tombstones (job_id, tenant_id, purged_at, services)"
	" SELECT j.id, j.tenant_id, :now, (SELECT json_group_array(service) FROM"
	"   (SELECT service FROM tasks WHERE job_id = j.id AND kind = 'delete'"
	"    AND state = 'succeeded' ORDER BY service))"
	" FROM jobs j WHERE j.id = :id AND j.kind = 'purge' ON CONFLICT DO NOTHING";

int sqlite_idset_collect(struct sqlite_store *s, sqlite3_stmt *st, const char *sql,
			 struct store_idset *set)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		store_idset_push(set, (const char *)sqlite3_column_text(st, 0));
	sqlite_reset(st);
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, sql);
		store_idset_free(set);
		return -1;
	}
	return 0;
}


/* The children's part of a subject job's view. 0 or -1. */
static int read_children(struct sqlite_store *s, const char *job_id, struct store_job_view *v)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_CHILDREN_VIEW);
	int rc;

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", job_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		v->eval.children_failed = sqlite3_column_int64(st, 0);
		v->eval.children_unfinished = sqlite3_column_int64(st, 1);
	} else {
		sqlite_log_error(s, SQL_CHILDREN_VIEW);
	}
	sqlite_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* The job and its delete tasks' summary (store_eval_ops.read_view). */
static int read_view(struct store *base, const char *job_id, struct store_job_view *v)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_VIEW);
	int rc;

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", job_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 0);
		const char *kind = (const char *)sqlite3_column_text(st, 1);
		const char *tenant = (const char *)sqlite3_column_text(st, 2);
		enum job_state js;
		if (state == NULL || jobs_job_state_parse(state, &js) < 0)
			js = JOB_HELD; /* unknown: touch nothing */
		jobs_eval_view_init(&v->eval, js);
		v->purge = kind != NULL && strcmp(kind, "purge") == 0;
		snprintf(v->tenant, sizeof v->tenant, "%s", tenant ? tenant : "");
		v->eval.dead = sqlite3_column_int64(st, 3);
		v->eval.unfinished = sqlite3_column_int64(st, 4);
		v->eval.lowest_phase = sqlite_col_int(st, 5, -1);
		v->eval.lowest_unopened = sqlite_col_int(st, 6, -1);
		snprintf(v->parent, sizeof v->parent, "%s",
			 sqlite3_column_type(st, 7) == SQLITE_NULL ? ""
								    : (const char *)sqlite3_column_text(st, 7));
		v->has_children = sqlite3_column_int(st, 8);
	} else if (rc != SQLITE_DONE) {
		sqlite_log_error(s, SQL_VIEW);
	}
	sqlite_reset(st);
	if (rc == SQLITE_ROW && v->has_children && read_children(s, job_id, v) < 0)
		return -1;
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

static int set_state(struct store *base, const char *job_id, enum job_state from,
		     enum job_state to, int64_t fin)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_SET_JOB_STATE);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", job_id);
	sqlite_bind_text(st, ":from", jobs_job_state_name(from));
	sqlite_bind_text(st, ":to", jobs_job_state_name(to));
	sqlite_bind_opt_int(st, ":fin", fin, 0);
	return sqlite_step_changes(s, st);
}

static int job_changed(struct store *base, const char *job_id, const char *type,
		       const char *detail, int64_t now)
{
	return sqlite_job_changed(sqlite_of(base), job_id, type, detail, now, NULL);
}

static int tombstone(struct store *base, const char *job_id, int64_t now)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_TOMBSTONE);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", job_id);
	sqlite_bind_int(st, ":now", now);
	return sqlite_step_done(s, st);
}

static int open_phase(struct store *base, const char *job_id, int64_t phase, int64_t now)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_OPEN_PHASE);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", job_id);
	sqlite_bind_int(st, ":now", now);
	sqlite_bind_int(st, ":phase", phase);
	return sqlite_step_in_rows(s, st);
}

static const struct store_eval_ops eval_ops = {
	.read_view = read_view,
	.set_state = set_state,
	.job_changed = job_changed,
	.tombstone = tombstone,
	.open_phase = open_phase,
};

int sqlite_eval_job(struct sqlite_store *s, const char *job_id, int64_t now, int *failed)
{
	return store_eval_job(&s->base, &eval_ops, job_id, now, failed);
}

int sqlite_eval_jobs(struct sqlite_store *s, const struct store_idset *set, int64_t now,
		     int *failed)
{
	return store_eval_jobs(&s->base, &eval_ops, set, now, failed);
}
