/*
 * jobs.c - scheduling jobs and reading them back: store_schedule,
 * store_job_get, store_job_tasks. The operator transitions are in
 * store/transitions.c, listings and the audit trail in store/query.c.
 */
#include "store/store_int.h"
#include "jobs/timefmt.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Bulk scheduling is set-based: the batch is staged in two TEMP tables
 * (plain, unindexed, private to this connection), then one INSERT ... SELECT
 * creates every job and one creates every task. Per-row statements would
 * pay the CHECK constraints' set-up (an ephemeral table for each IN list)
 * on every row: 14 times per job instead of once per batch.
 */
static const char SQL_STAGE_TABLES[] =
	"CREATE TEMP TABLE IF NOT EXISTS schedule_stage (seq INTEGER PRIMARY KEY, id TEXT,"
	" tenant_id TEXT, tenant_name TEXT, requested_by TEXT, reason TEXT, due_at INTEGER,"
	" deadline_at INTEGER);"
	"CREATE TEMP TABLE IF NOT EXISTS schedule_services (seq INTEGER PRIMARY KEY,"
	" service TEXT, kind TEXT, phase INTEGER, at_due INTEGER, at_now INTEGER);"
	"DELETE FROM temp.schedule_stage; DELETE FROM temp.schedule_services;";

static const char SQL_STAGE_JOB[] =
	"INSERT INTO temp.schedule_stage (seq, id, tenant_id, tenant_name, requested_by, reason,"
	" due_at, deadline_at) VALUES (:seq, :id, :tenant, :name, :by, :reason, :due, :deadline)";

static const char SQL_STAGE_SERVICE[] =
	"INSERT INTO temp.schedule_services (service, kind, phase, at_due, at_now)"
	" VALUES (:service, :kind, :phase, :at_due, :at_now)";

/* ON CONFLICT DO NOTHING: the partial unique index jobs_one_active_purge
 * turns a second active purge of one tenant (already stored, or earlier in
 * this batch) into "no row inserted". */
static const char SQL_INSERT_JOBS[] =
	"INSERT INTO jobs (id, tenant_id, tenant_name, kind, state, requested_by, reason,"
	" created_at, due_at, deadline_at)"
	" SELECT id, tenant_id, tenant_name, 'purge', 'scheduled', requested_by, reason, :now,"
	" due_at, deadline_at FROM temp.schedule_stage WHERE 1 ORDER BY seq"
	" ON CONFLICT DO NOTHING";

/* Tasks of the jobs that were created: a staged id exists in jobs only then. */
static const char SQL_INSERT_TASKS[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" SELECT st.id, sv.service, sv.kind, sv.phase, 'pending',"
	" CASE WHEN sv.at_now THEN :now WHEN sv.at_due THEN st.due_at END, :now"
	" FROM temp.schedule_stage st JOIN jobs ON jobs.id = st.id"
	" CROSS JOIN temp.schedule_services sv ORDER BY st.seq, sv.seq";

/* Each staged job in order, with whether it was created or the tenant's
 * active job instead. */
static const char SQL_STAGE_RESULT[] =
	"SELECT st.id, jobs.id IS NOT NULL, CASE WHEN jobs.id IS NULL THEN"
	" (SELECT a.id FROM jobs a WHERE a.tenant_id = st.tenant_id AND a.kind = 'purge'"
	"  AND a.state NOT IN ('succeeded','cancelled')) END"
	" FROM temp.schedule_stage st LEFT JOIN jobs ON jobs.id = st.id ORDER BY st.seq";

static const char SQL_JOB_TASKS[] =
	"SELECT " STORE_TASK_COLS " FROM tasks WHERE job_id = :job"
	" ORDER BY CASE kind WHEN 'suspend' THEN 0 WHEN 'delete' THEN 1 ELSE 2 END,"
	" phase, service";

const char *store_last_error(struct store *s)
{
	return s->last_error;
}

static void add_time(cJSON *o, const char *key, int64_t ms)
{
	char ts[TIMEFMT_TIME_LEN];

	timefmt_format_time(ms, ts);
	cJSON_AddStringToObject(o, key, ts);
}

static void add_opt_str(cJSON *o, const char *key, const char *v)
{
	if (v == NULL)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddStringToObject(o, key, v);
}

/* The job.scheduled event's detail. Caller deletes. */
static cJSON *scheduled_detail(const struct store_new_job *j, const struct store_service *svcs,
			       size_t n_svcs)
{
	cJSON *d = cJSON_CreateObject();
	cJSON *arr;

	cJSON_AddStringToObject(d, "tenant_id", j->tenant_id);
	add_opt_str(d, "tenant_name", j->tenant_name);
	add_time(d, "due_at", j->due_at);
	add_time(d, "deadline_at", j->deadline_at);
	add_opt_str(d, "requested_by", j->requested_by);
	add_opt_str(d, "reason", j->reason);
	arr = cJSON_AddArrayToObject(d, "services");
	for (size_t i = 0; i < n_svcs; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(svcs[i].name));
	return d;
}

static int lowest_phase(const struct store_service *svcs, size_t n_svcs)
{
	int lowest = 0;

	for (size_t i = 0; i < n_svcs; i++)
		if (i == 0 || svcs[i].phase < lowest)
			lowest = svcs[i].phase;
	return lowest;
}

/* One template row per task a job gets; run_bulk multiplies them out. */
static int stage_services(struct store *s, const struct store_service *svcs, size_t n_svcs)
{
	int lowest = lowest_phase(svcs, n_svcs);

	for (size_t i = 0; i < 2 * n_svcs; i++) {
		const struct store_service *sv = &svcs[i / 2];
		int suspend = i % 2;
		sqlite3_stmt *st;

		if (suspend && !sv->has_suspend)
			continue;
		if ((st = store_stmt(s, SQL_STAGE_SERVICE)) == NULL)
			return -1;
		store_bind_text(st, ":service", sv->name);
		store_bind_text(st, ":kind", suspend ? "suspend" : "delete");
		store_bind_int(st, ":phase", sv->phase);
		store_bind_int(st, ":at_due", !suspend && sv->phase == lowest);
		store_bind_int(st, ":at_now", suspend);
		if (store_step_done(s, st) < 0)
			return -1;
	}
	return 0;
}

static int stage_job(struct store *s, size_t seq, const struct store_new_job *j, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, SQL_STAGE_JOB);
	char id[JOBS_ID_LEN + 1];

	if (st == NULL)
		return -1;
	jobs_id_new(now, id);
	store_bind_int(st, ":seq", (int64_t)seq);
	store_bind_text(st, ":id", id);
	store_bind_text(st, ":tenant", j->tenant_id);
	store_bind_text(st, ":name", j->tenant_name);
	store_bind_text(st, ":by", j->requested_by);
	store_bind_text(st, ":reason", j->reason);
	store_bind_int(st, ":due", j->due_at);
	store_bind_int(st, ":deadline", j->deadline_at);
	return store_step_done(s, st);
}

static int insert_select(struct store *s, const char *sql, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, sql);

	if (st == NULL || store_bind_int(st, ":now", now) < 0 || store_step_done(s, st) < 0)
		return -1;
	return 0;
}

/*
 * Creates the staged jobs and their tasks: two statements for the batch.
 * The CHECK constraints on kind and state are lifted for these two only:
 * every value they check is a constant of the SELECTs above, and checking
 * them would cost half the time of the whole batch (a b-tree probe per IN
 * list per row). Toggling the flag expires the prepared statements, so the
 * unchecked versions never outlive this function.
 */
static int run_bulk(struct store *s, int64_t now)
{
	int rc = -1;

	if (store_exec(s, "PRAGMA ignore_check_constraints = ON") < 0)
		return -1;
	if (insert_select(s, SQL_INSERT_JOBS, now) == 0 &&
	    insert_select(s, SQL_INSERT_TASKS, now) == 0)
		rc = 0;
	if (store_exec(s, "PRAGMA ignore_check_constraints = OFF") < 0)
		rc = -1;
	return rc;
}

/* The job.scheduled event and outbox row of one created job. */
static int announce(struct store *s, const char *id, const struct store_new_job *j,
		    const struct store_service *svcs, size_t n_svcs, int64_t now)
{
	cJSON *detail = scheduled_detail(j, svcs, n_svcs);
	int rc = store_job_changed(s, id, "job.scheduled", detail, now, NULL);

	cJSON_Delete(detail);
	return rc;
}

/* Reads back which staged jobs were created; announces them; fills ids. */
static int collect_results(struct store *s, const struct store_new_job *jobs, size_t n,
			   const struct store_service *svcs, size_t n_svcs, int64_t now,
			   char (*ids)[JOBS_ID_LEN + 1], int *created)
{
	sqlite3_stmt *st = store_stmt(s, SQL_STAGE_RESULT);
	size_t i = 0;

	if (st == NULL)
		return -1;
	while (i < n && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *id;

		created[i] = sqlite3_column_int(st, 1);
		id = sqlite3_column_text(st, created[i] ? 0 : 2);
		if (id == NULL)
			break;
		snprintf(ids[i], JOBS_ID_LEN + 1, "%s", (const char *)id);
		if (created[i] && announce(s, ids[i], &jobs[i], svcs, n_svcs, now) < 0)
			break;
		i++;
	}
	store_reset(st);
	if (i < n) {
		log_msg(LOG_ERROR, "store.error", "schedule: job %zu of %zu not stored", i + 1, n);
		snprintf(s->last_error, sizeof s->last_error, "job %zu of the batch not stored",
			 i + 1);
		return -1;
	}
	return 0;
}

/*
 * One transaction for the whole batch, all or nothing; see the staging
 * comment above for why it is set-based.
 */
int store_schedule(struct store *s, const struct store_new_job *jobs, size_t n,
		   const struct store_service *svcs, size_t n_svcs, int64_t now,
		   char (*ids)[JOBS_ID_LEN + 1], int *created)
{
	if (store_begin(s) != STORE_OK)
		return STORE_ERR;
	if (store_exec(s, SQL_STAGE_TABLES) < 0 || stage_services(s, svcs, n_svcs) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (stage_job(s, i, &jobs[i], now) < 0)
			goto fail;
	if (run_bulk(s, now) < 0 || collect_results(s, jobs, n, svcs, n_svcs, now, ids, created) < 0)
		goto fail;
	if (store_exec(s, "DELETE FROM temp.schedule_stage") < 0)
		goto fail;
	return store_commit(s);
fail:
	store_rollback(s);
	return STORE_ERR;
}

/* Reads one job; STORE_OK, STORE_NOT_FOUND or STORE_ERR. */
int store_job_get(struct store *s, const char *job_id, struct job_record *out)
{
	return store_read_job_by_id(s, job_id, out);
}

/* The job's tasks, suspend first, then delete by phase, then restore. */
int store_job_tasks(struct store *s, const char *job_id, struct task_record **out, size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_TASKS);
	struct task_record *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL || store_bind_text(st, ":job", job_id) < 0)
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		store_read_task(st, &v[len++]);
	}
	if (rc != SQLITE_DONE) {
		store_log_error(s, SQL_JOB_TASKS);
		store_reset(st);
		jobs_task_records_free(v, len);
		return STORE_ERR;
	}
	store_reset(st);
	*out = v;
	*n = len;
	return STORE_OK;
}
