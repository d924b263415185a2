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

/* ON CONFLICT DO NOTHING: the partial unique index jobs_one_active_purge
 * turns a second active purge of one tenant into "no row inserted". */
static const char SQL_INSERT_JOB[] =
	"INSERT INTO jobs (id, tenant_id, tenant_name, kind, state, requested_by, reason,"
	" created_at, due_at, deadline_at)"
	" VALUES (:id, :tenant, :name, 'purge', 'scheduled', :by, :reason, :now, :due,"
	" :deadline) ON CONFLICT DO NOTHING";

static const char SQL_ACTIVE_JOB[] =
	"SELECT id FROM jobs WHERE tenant_id = :tenant AND kind = 'purge'"
	" AND state NOT IN ('succeeded','cancelled')";

static const char SQL_INSERT_TASK[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" VALUES (:job, :service, :kind, :phase, 'pending', :next, :now)";

static const char SQL_JOB_TASKS[] =
	"SELECT " STORE_TASK_COLS " FROM tasks WHERE job_id = :job"
	" ORDER BY CASE kind WHEN 'suspend' THEN 0 WHEN 'delete' THEN 1 ELSE 2 END,"
	" phase, service";

const char *store_last_error(struct store *s)
{
	return s->last_error;
}

/* The id of the tenant's active purge job into id; 0, or -1 (logged). */
static int find_active(struct store *s, const char *tenant, char id[JOBS_ID_LEN + 1])
{
	sqlite3_stmt *st = store_stmt(s, SQL_ACTIVE_JOB);
	int rc;

	if (st == NULL || store_bind_text(st, ":tenant", tenant) < 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(id, JOBS_ID_LEN + 1, "%s", t ? (const char *)t : "");
		store_reset(st);
		return 0;
	}
	if (rc == SQLITE_DONE)
		snprintf(s->last_error, sizeof s->last_error,
			 "tenant %s: insert refused but no active job found", tenant);
	else
		store_log_error(s, SQL_ACTIVE_JOB);
	store_reset(st);
	return -1;
}

/* Inserts the job row; *inserted = 0 when the tenant already has an active job. */
static int insert_job(struct store *s, const struct store_new_job *j, const char *id,
		      int64_t now, int *inserted)
{
	sqlite3_stmt *st = store_stmt(s, SQL_INSERT_JOB);

	if (st == NULL)
		return -1;
	if (store_bind_text(st, ":id", id) < 0 || store_bind_text(st, ":tenant", j->tenant_id) < 0 ||
	    store_bind_text(st, ":name", j->tenant_name) < 0 ||
	    store_bind_text(st, ":by", j->requested_by) < 0 ||
	    store_bind_text(st, ":reason", j->reason) < 0 || store_bind_int(st, ":now", now) < 0 ||
	    store_bind_int(st, ":due", j->due_at) < 0 ||
	    store_bind_int(st, ":deadline", j->deadline_at) < 0) {
		store_reset(st);
		return -1;
	}
	if (store_step_done(s, st) < 0)
		return -1;
	*inserted = sqlite3_changes(s->db) > 0;
	return 0;
}

/* One task row; next <= 0 leaves next_attempt_at NULL (not eligible yet). */
static int insert_task(struct store *s, const char *job_id, const char *service,
		       const char *kind, int phase, int64_t next, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, SQL_INSERT_TASK);

	if (st == NULL)
		return -1;
	if (store_bind_text(st, ":job", job_id) < 0 || store_bind_text(st, ":service", service) < 0 ||
	    store_bind_text(st, ":kind", kind) < 0 || store_bind_int(st, ":phase", phase) < 0 ||
	    store_bind_opt_int(st, ":next", next, 0) < 0 || store_bind_int(st, ":now", now) < 0) {
		store_reset(st);
		return -1;
	}
	return store_step_done(s, st);
}

/* Delete tasks (only the lowest phase eligible at due_at) and suspend tasks (now). */
static int insert_tasks(struct store *s, const char *job_id, const struct store_new_job *j,
			const struct store_service *svcs, size_t n_svcs, int lowest, int64_t now)
{
	for (size_t i = 0; i < n_svcs; i++) {
		int64_t next = svcs[i].phase == lowest ? j->due_at : 0;
		if (insert_task(s, job_id, svcs[i].name, "delete", svcs[i].phase, next, now) < 0)
			return -1;
		if (svcs[i].has_suspend &&
		    insert_task(s, job_id, svcs[i].name, "suspend", svcs[i].phase, now, now) < 0)
			return -1;
	}
	return 0;
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

/* Schedules one job inside the open transaction. */
static int schedule_one(struct store *s, const struct store_new_job *j,
			const struct store_service *svcs, size_t n_svcs, int lowest, int64_t now,
			char id[JOBS_ID_LEN + 1], int *created)
{
	cJSON *detail;
	int inserted = 0;
	int rc;

	jobs_id_new(now, id);
	if (insert_job(s, j, id, now, &inserted) < 0)
		return -1;
	if (!inserted) {
		*created = 0;
		return find_active(s, j->tenant_id, id);
	}
	*created = 1;
	if (insert_tasks(s, id, j, svcs, n_svcs, lowest, now) < 0)
		return -1;
	detail = scheduled_detail(j, svcs, n_svcs);
	rc = store_job_changed(s, id, "job.scheduled", detail, now, NULL);
	cJSON_Delete(detail);
	return rc;
}

static int lowest_phase(const struct store_service *svcs, size_t n_svcs)
{
	int lowest = 0;

	for (size_t i = 0; i < n_svcs; i++)
		if (i == 0 || svcs[i].phase < lowest)
			lowest = svcs[i].phase;
	return lowest;
}

/*
 * One transaction for the whole batch: every statement is prepared once and
 * reused, so the cost per job is a handful of b-tree inserts.
 */
int store_schedule(struct store *s, const struct store_new_job *jobs, size_t n,
		   const struct store_service *svcs, size_t n_svcs, int64_t now,
		   char (*ids)[JOBS_ID_LEN + 1], int *created)
{
	int lowest = lowest_phase(svcs, n_svcs);

	if (store_begin(s) != STORE_OK)
		return STORE_ERR;
	for (size_t i = 0; i < n; i++) {
		if (schedule_one(s, &jobs[i], svcs, n_svcs, lowest, now, ids[i], &created[i]) < 0) {
			store_rollback(s);
			return STORE_ERR;
		}
	}
	return store_commit(s);
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
