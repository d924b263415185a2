/*
 * sched_eval.c - what a job's delete tasks mean for the job: the next
 * phase, success (with its tombstone), failure. Runs inside the caller's
 * transaction, after whatever changed the tasks.
 */
#include "store/sched_int.h"
#include "jobs/timefmt.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_JOB_STATE[] =
	"SELECT state, kind, tenant_id FROM jobs WHERE id = :id";
static const char SQL_TASK_SUMMARY[] =
	"SELECT COALESCE(SUM(state = 'dead'), 0),"
	" COALESCE(SUM(state NOT IN ('succeeded','skipped','dead')), 0),"
	" MIN(CASE WHEN state NOT IN ('succeeded','skipped') THEN phase END),"
	" MIN(CASE WHEN state = 'pending' AND next_attempt_at IS NULL THEN phase END)"
	" FROM tasks WHERE job_id = :id AND kind = 'delete'";
static const char SQL_SET_JOB_STATE[] =
	"UPDATE jobs SET state = :to, finished_at = :fin WHERE id = :id AND state = :from";
static const char SQL_OPEN_PHASE[] =
	"UPDATE tasks SET next_attempt_at = :now, updated_at = :now"
	" WHERE job_id = :id AND kind = 'delete' AND phase = :phase AND state = 'pending'"
	" AND next_attempt_at IS NULL";
/* The tombstone names the services whose deletion succeeded. */
static const char SQL_TOMBSTONE[] =
	"INSERT INTO tombstones (job_id, tenant_id, purged_at, services)"
	" SELECT j.id, j.tenant_id, :now, (SELECT json_group_array(service) FROM"
	"   (SELECT service FROM tasks WHERE job_id = j.id AND kind = 'delete'"
	"    AND state = 'succeeded' ORDER BY service))"
	" FROM jobs j WHERE j.id = :id AND j.kind = 'purge' ON CONFLICT DO NOTHING";

void sched_idset_push(struct sched_idset *set, const char *id)
{
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 16;
		set->ids = xrealloc(set->ids, set->cap * sizeof *set->ids);
	}
	snprintf(set->ids[set->n++], JOBS_ID_LEN + 1, "%s", id);
}

void sched_idset_add(struct sched_idset *set, const char *id)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->ids[i], id) == 0)
			return;
	sched_idset_push(set, id);
}

void sched_idset_free(struct sched_idset *set)
{
	free(set->ids);
	memset(set, 0, sizeof *set);
}

void sched_add_time(cJSON *o, const char *key, int64_t ms)
{
	char ts[TIMEFMT_TIME_LEN];

	if (ms <= 0) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	timefmt_format_time(ms, ts);
	cJSON_AddStringToObject(o, key, ts);
}

void sched_log_job(int level, const char *event, const char *job_id, const char *tenant_id)
{
	struct log_line *l = log_start((enum log_level)level, event);

	log_str(l, "job_id", job_id);
	log_str(l, "tenant_id", tenant_id);
	log_done_held(l);
}

struct job_view {
	enum job_state state;
	int purge;
	char tenant[JOBS_TENANT_ID_MAX + 1];
	int64_t dead, unfinished, phase; /* phase -1: none unfinished */
	int64_t closed; /* lowest phase with a task not opened yet, -1 none */
};

/* Reads the job's state and its delete tasks' summary; 0, 1 (no job) or -1. */
static int read_view(struct store *s, const char *job_id, struct job_view *v)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_STATE);
	int rc;

	if (st == NULL)
		return -1;
	store_bind_text(st, ":id", job_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 0);
		const char *kind = (const char *)sqlite3_column_text(st, 1);
		const char *tenant = (const char *)sqlite3_column_text(st, 2);
		if (state == NULL || jobs_job_state_parse(state, &v->state) < 0)
			v->state = JOB_HELD; /* unknown: touch nothing */
		v->purge = kind != NULL && strcmp(kind, "purge") == 0;
		snprintf(v->tenant, sizeof v->tenant, "%s", tenant ? tenant : "");
	}
	store_reset(st);
	if (rc != SQLITE_ROW) {
		if (rc != SQLITE_DONE)
			store_log_error(s, SQL_JOB_STATE);
		return rc == SQLITE_DONE ? 1 : -1;
	}
	st = store_stmt(s, SQL_TASK_SUMMARY);
	if (st == NULL)
		return -1;
	store_bind_text(st, ":id", job_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		store_log_error(s, SQL_TASK_SUMMARY);
		store_reset(st);
		return -1;
	}
	v->dead = sqlite3_column_int64(st, 0);
	v->unfinished = sqlite3_column_int64(st, 1);
	v->phase = store_col_int(st, 2, -1);
	v->closed = store_col_int(st, 3, -1);
	store_reset(st);
	return 0;
}

/* from -> to with its event; 0, 1 (the job moved meanwhile) or -1. */
static int set_state(struct store *s, const char *job_id, enum job_state from,
		     enum job_state to, const char *event, cJSON *detail, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, SQL_SET_JOB_STATE);
	int rc = -1;

	if (st == NULL)
		goto out;
	store_bind_text(st, ":id", job_id);
	store_bind_text(st, ":from", jobs_job_state_name(from));
	store_bind_text(st, ":to", jobs_job_state_name(to));
	store_bind_opt_int(st, ":fin", to == JOB_RUNNING ? 0 : now, 0);
	if (store_step_done(s, st) < 0)
		goto out;
	if (sqlite3_changes(s->db) == 0) {
		rc = 1;
		goto out;
	}
	rc = store_job_changed(s, job_id, event, detail, now, NULL);
out:
	cJSON_Delete(detail);
	return rc;
}

static int succeed(struct store *s, const char *job_id, const struct job_view *v,
		   int64_t now)
{
	sqlite3_stmt *st;
	int rc = set_state(s, job_id, JOB_RUNNING, JOB_SUCCEEDED, "job.succeeded", NULL, now);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (v->purge) {
		st = store_stmt(s, SQL_TOMBSTONE);
		if (st == NULL)
			return -1;
		store_bind_text(st, ":id", job_id);
		store_bind_int(st, ":now", now);
		if (store_step_done(s, st) < 0)
			return -1;
	}
	sched_log_job(LOG_INFO, "job.succeeded", job_id, v->tenant);
	return 0;
}

static int open_phase(struct store *s, const char *job_id, const struct job_view *v,
		      int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, SQL_OPEN_PHASE);
	struct log_line *l;
	int n;

	/* Every unopened task is unfinished, so its phase is >= v->phase:
	 * the UPDATE below changes rows only when closed == phase. */
	if (v->closed != v->phase)
		return 0;
	if (st == NULL)
		return -1;
	store_bind_text(st, ":id", job_id);
	store_bind_int(st, ":now", now);
	store_bind_int(st, ":phase", v->phase);
	if (store_step_done(s, st) < 0)
		return -1;
	n = sqlite3_changes(s->db);
	if (n > 0) {
		l = log_start(LOG_INFO, "job.phase.opened");
		log_str(l, "job_id", job_id);
		log_str(l, "tenant_id", v->tenant);
		log_int(l, "phase", v->phase);
		log_int(l, "tasks", n);
		log_done_held(l);
	}
	return 0;
}

int sched_eval_job(struct store *s, const char *job_id, int64_t now, int *failed)
{
	struct job_view v;
	cJSON *d;
	int rc = read_view(s, job_id, &v);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (v.state == JOB_FAILED && v.dead == 0) {
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "from", "failed");
		cJSON_AddStringToObject(d, "reason", "no dead task left");
		if (set_state(s, job_id, JOB_FAILED, JOB_RUNNING, "job.running", d, now) < 0)
			return -1;
		v.state = JOB_RUNNING;
	}
	if (v.state != JOB_RUNNING)
		return 0;
	if (v.dead > 0) {
		d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "dead_tasks", (double)v.dead);
		rc = set_state(s, job_id, JOB_RUNNING, JOB_FAILED, "job.failed", d, now);
		if (rc == 0) {
			sched_log_job(LOG_ERROR, "job.failed", job_id, v.tenant);
			if (failed != NULL)
				(*failed)++;
		}
		return rc < 0 ? -1 : 0;
	}
	if (v.unfinished == 0)
		return succeed(s, job_id, &v, now);
	return open_phase(s, job_id, &v, now);
}

int sched_eval_jobs(struct store *s, const struct sched_idset *set, int64_t now, int *failed)
{
	for (size_t i = 0; i < set->n; i++)
		if (sched_eval_job(s, set->ids[i], now, failed) < 0)
			return -1;
	return 0;
}
