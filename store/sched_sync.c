/*
 * sched_sync.c - keeping unfinished jobs in line with the configured
 * services (DESIGN 3 "Which services a job covers"), and the sweep that
 * re-evaluates running jobs.
 */
#include "store/sched_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKIP_REASON "service removed from config"

/* Eligible later: sched_eval_job makes it due when its phase comes. A job
 * not started yet (service_set_id set) has no delete tasks: it gets the
 * configured services when it starts (store_materialize_tasks). */
static const char SQL_ADD_TASKS[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" SELECT j.id, :svc, 'delete', :phase, 'pending', NULL, :now FROM jobs j"
	" WHERE j.kind = 'purge' AND j.state IN ('scheduled','running','failed','held')"
	" AND j.service_set_id IS NULL"
	" AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.service = :svc"
	"   AND t.kind = 'delete')"
	" RETURNING job_id";
/* The next service name after :prev (an index skip-scan done by hand). */
static const char SQL_NEXT_SERVICE[] =
	"SELECT service FROM tasks WHERE service > :prev ORDER BY service LIMIT 1";
static const char SQL_UNFINISHED_OF[] =
	"SELECT id, job_id, kind FROM tasks WHERE service = :svc"
	" AND state IN ('pending','waiting','dead')";
static const char SQL_SKIP_TASK[] =
	"UPDATE tasks SET state = 'skipped', skip_reason = :reason, next_attempt_at = NULL,"
	" updated_at = :now WHERE id = :id AND state IN ('pending','waiting','dead')";
static const char SQL_ACTIVE_JOBS[] =
	"SELECT id FROM jobs WHERE state IN ('running','failed')";

static int event_for(struct store *s, const char *job_id, const char *type, const char *svc,
		     const char *kind, const char *reason, int64_t now)
{
	cJSON *d = cJSON_CreateObject();
	int rc;

	cJSON_AddStringToObject(d, "kind", kind);
	if (reason != NULL)
		cJSON_AddStringToObject(d, "reason", reason);
	rc = store_event_append(s, job_id, now, type, svc, d);
	cJSON_Delete(d);
	return rc;
}

/* Adds svc's delete task to every unfinished purge job lacking it. */
static int add_service(struct store *s, const struct sched_service *svc, int64_t now,
		       struct sched_idset *jobs, int *added)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ADD_TASKS);
	struct sched_idset ids = { 0 };
	int rc;

	if (st == NULL)
		return -1;
	store_bind_text(st, ":svc", svc->name);
	store_bind_int(st, ":phase", svc->phase);
	store_bind_int(st, ":now", now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		sched_idset_push(&ids, (const char *)sqlite3_column_text(st, 0));
	store_reset(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, SQL_ADD_TASKS);
		sched_idset_free(&ids);
		return -1;
	}
	rc = 0;
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		rc = event_for(s, ids.ids[i], "task.added", svc->name, "delete",
			       "service added to config", now);
		sched_idset_push(jobs, ids.ids[i]);
	}
	if (ids.n > 0)
		log_msg(LOG_INFO, "task.added", "service %s added to %zu unfinished jobs",
			svc->name, ids.n);
	*added += (int)ids.n;
	sched_idset_free(&ids);
	return rc;
}

static int is_configured(const struct sched_service *svcs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (svcs[i].enabled && strcmp(svcs[i].name, name) == 0)
			return 1;
	return 0;
}

struct row {
	int64_t id;
	char job_id[JOBS_ID_LEN + 1];
	char kind[16];
};

/* Skips the unfinished tasks of a service that left the config. */
static int skip_service(struct store *s, const char *svc, int64_t now,
			struct sched_idset *jobs, int *skipped)
{
	sqlite3_stmt *st = store_stmt(s, SQL_UNFINISHED_OF);
	struct row *rows = NULL;
	size_t n = 0;
	int rc;

	if (st == NULL)
		return -1;
	store_bind_text(st, ":svc", svc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows = xrealloc(rows, (n + 1) * sizeof *rows);
		rows[n].id = sqlite3_column_int64(st, 0);
		snprintf(rows[n].job_id, sizeof rows[n].job_id, "%s", sqlite3_column_text(st, 1));
		snprintf(rows[n].kind, sizeof rows[n].kind, "%s", sqlite3_column_text(st, 2));
		n++;
	}
	store_reset(st);
	rc = rc == SQLITE_DONE ? 0 : -1;
	if (rc < 0)
		store_log_error(s, SQL_UNFINISHED_OF);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if ((st = store_stmt(s, SQL_SKIP_TASK)) == NULL)
			rc = -1;
		else {
			store_bind_int(st, ":id", rows[i].id);
			store_bind_text(st, ":reason", SKIP_REASON);
			store_bind_int(st, ":now", now);
			rc = store_step_done(s, st);
		}
		if (rc == 0)
			rc = event_for(s, rows[i].job_id, "task.skipped", svc, rows[i].kind,
				       SKIP_REASON, now);
		sched_idset_push(jobs, rows[i].job_id);
	}
	if (n > 0)
		log_msg(LOG_WARN, "task.skipped", "service %s left the config: %zu tasks skipped",
			svc, n);
	*skipped += (int)n;
	free(rows);
	return rc;
}

/* Every service name that has tasks and is not configured (enabled). */
static int skip_removed(struct store *s, const struct sched_service *svcs, size_t n_svcs,
			int64_t now, struct sched_idset *jobs, int *skipped)
{
	char *prev = xstrdup("");
	int rc = 0;

	for (;;) {
		sqlite3_stmt *st = store_stmt(s, SQL_NEXT_SERVICE);
		char *name;
		int step;

		if (st == NULL || store_bind_text(st, ":prev", prev) < 0) {
			rc = -1;
			break;
		}
		step = sqlite3_step(st);
		name = step == SQLITE_ROW ? store_col_text(st, 0) : NULL;
		store_reset(st);
		if (step != SQLITE_ROW) {
			if (step != SQLITE_DONE) {
				store_log_error(s, SQL_NEXT_SERVICE);
				rc = -1;
			}
			free(name);
			break;
		}
		free(prev);
		prev = name;
		if (!is_configured(svcs, n_svcs, name) &&
		    (rc = skip_service(s, name, now, jobs, skipped)) < 0)
			break;
	}
	free(prev);
	return rc;
}

/* What a job that starts later covers: the enabled services of now. */
static int record_configured(struct store *s, const struct sched_service *svcs, size_t n)
{
	struct store_svc_ref *refs = xcalloc(n ? n : 1, sizeof *refs);
	size_t k = 0;
	char *json;
	int rc;

	for (size_t i = 0; i < n; i++)
		if (svcs[i].enabled)
			refs[k++] = (struct store_svc_ref){ svcs[i].name, svcs[i].phase };
	json = store_service_set_json(refs, k);
	rc = store_set_configured(s, json);
	free(json);
	free(refs);
	return rc;
}

int sched_sync_services(struct store *s, const struct sched_service *svcs, size_t n_svcs,
			int64_t now, int *added, int *skipped)
{
	struct sched_idset jobs = { 0 };
	int n_added = 0, n_skipped = 0, n_stale = 0, rc = 0;

	if (store_begin(s) != STORE_OK)
		return STORE_ERR;
	rc = record_configured(s, svcs, n_svcs);
	if (rc == 0)
		rc = store_materialize_stale(s, now, &n_stale);
	for (size_t i = 0; rc == 0 && i < n_svcs; i++)
		if (svcs[i].enabled)
			rc = add_service(s, &svcs[i], now, &jobs, &n_added);
	if (rc == 0)
		rc = skip_removed(s, svcs, n_svcs, now, &jobs, &n_skipped);
	if (rc == 0)
		rc = sched_eval_jobs(s, &jobs, now, NULL);
	sched_idset_free(&jobs);
	if (rc < 0) {
		store_rollback(s);
		return STORE_ERR;
	}
	if (store_commit(s) != STORE_OK)
		return STORE_ERR;
	if (n_stale > 0)
		log_msg(LOG_INFO, "task.materialized",
			"%d jobs not started yet got the configured services", n_stale);
	if (added != NULL)
		*added = n_added;
	if (skipped != NULL)
		*skipped = n_skipped;
	return STORE_OK;
}

int sched_sweep_jobs(struct store *s, int64_t now)
{
	sqlite3_stmt *st;
	struct sched_idset jobs = { 0 };
	int rc;

	if (store_begin(s) != STORE_OK)
		return STORE_ERR;
	if ((st = store_stmt(s, SQL_ACTIVE_JOBS)) == NULL)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		sched_idset_push(&jobs, (const char *)sqlite3_column_text(st, 0));
	store_reset(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, SQL_ACTIVE_JOBS);
		goto fail;
	}
	if (sched_eval_jobs(s, &jobs, now, NULL) < 0)
		goto fail;
	sched_idset_free(&jobs);
	return store_commit(s) == STORE_OK ? STORE_OK : STORE_ERR;
fail:
	sched_idset_free(&jobs);
	store_rollback(s);
	return STORE_ERR;
}
