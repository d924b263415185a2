/*
 * sched_sync.c - keeping unfinished jobs in line with the configured
 * services (DESIGN 3 "Which services a job covers"), and the sweep that
 * re-evaluates running jobs.
 */
#include "store/sqlite/sched_int.h"
#include "jobs/service_detail.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Eligible later: sqlite_eval_job makes it due when its phase comes. A job
 * not started yet (service_set_id set) has no delete tasks: it gets the
 * configured services when it starts (sqlite_materialize_tasks). */
static const char SQL_ADD_TASKS[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" SELECT j.id, :svc, 'delete', :phase, 'pending', NULL, :now FROM jobs j"
	" WHERE j.kind = 'purge' AND j.service_set_id IS NULL"
	" AND j.state NOT IN ('succeeded','cancelled')" /* the index jobs_with_tasks */
	" AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.service = :svc"
	"   AND t.kind = 'delete')"
	" RETURNING job_id";
/* A service configured again is no longer retired: should it leave the
 * config again, its tasks wait as any other's (DESIGN 3). */
static const char SQL_UNRETIRE[] = "DELETE FROM retired_services WHERE service = :svc";
static const char SQL_ACTIVE_JOBS[] =
	"SELECT id FROM jobs WHERE state IN ('running','failed')";

/* Adds svc's delete task to every unfinished purge job lacking it. */
static int add_service(struct sqlite_store *s, const struct sched_service *svc, int64_t now,
		       struct store_idset *jobs, int *added)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_ADD_TASKS);
	struct store_idset ids = { 0 };
	char *detail;
	int rc;

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":svc", svc->name);
	sqlite_bind_int(st, ":phase", svc->phase);
	sqlite_bind_int(st, ":now", now);
	if (sqlite_idset_collect(s, st, SQL_ADD_TASKS, &ids) < 0)
		return -1;
	detail = jobs_detail_task_change("delete", "service added to config", NULL);
	rc = 0;
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		rc = sqlite_event_append(&s->base, ids.ids[i], now, "task.added", svc->name, detail);
		store_idset_push(jobs, ids.ids[i]);
	}
	free(detail);
	if (ids.n > 0)
		log_msg(LOG_INFO, "task.added", "service %s added to %zu unfinished jobs",
			svc->name, ids.n);
	*added += (int)ids.n;
	store_idset_free(&ids);
	return rc;
}

/* Adds svc's tasks where missing and takes it off the retired list. */
static int sync_service(struct sqlite_store *s, const struct sched_service *svc, int64_t now,
			struct store_idset *jobs, int *added)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_UNRETIRE);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":svc", svc->name);
	if (sqlite_step_done(s, st) < 0)
		return -1;
	return add_service(s, svc, now, jobs, added);
}

/*
 * Warns about each service whose unfinished tasks wait because the config
 * lacks it (a truncated file, a bad edit): nothing is skipped for that.
 * conf: the enabled services. *held receives how many tasks wait.
 */
static int warn_absent(struct sqlite_store *s, const struct store_service *conf, size_t n_conf,
		       int *held)
{
	struct store_absent *v = NULL;
	size_t n = 0;
	int rc;

	rc = sqlite_absent_services(&s->base, conf, n_conf, &v, &n) == STORE_OK ? 0 : -1;
	store_log_absent(v, n, held);
	store_absent_free(v, n);
	return rc;
}

/* The enabled services (names point into svcs). Caller frees. */
static struct store_service *enabled(const struct sched_service *svcs, size_t n, size_t *n_on)
{
	struct store_service *v = xcalloc(n + 1, sizeof *v);

	*n_on = 0;
	for (size_t i = 0; i < n; i++)
		if (svcs[i].enabled)
			v[(*n_on)++] = (struct store_service){ .name = svcs[i].name,
							       .phase = svcs[i].phase };
	return v;
}

int sqlite_sync_services(struct store *base, const struct sched_service *svcs, size_t n_svcs,
			 int64_t now, int *added, int *held)
{
	struct sqlite_store *s = sqlite_of(base);
	struct store_idset jobs = { 0 };
	int n_added = 0, n_held = 0, n_stale = 0, rc = 0;
	size_t n_conf;
	struct store_service *conf = enabled(svcs, n_svcs, &n_conf);

	if (sqlite_begin(s) != STORE_OK) {
		free(conf);
		return STORE_ERR;
	}
	/* what a job that starts later covers: the enabled services of now */
	rc = sqlite_set_configured(s, conf, n_conf);
	if (rc == 0)
		rc = sqlite_materialize_stale(s, now, &n_stale);
	for (size_t i = 0; rc == 0 && i < n_svcs; i++)
		if (svcs[i].enabled)
			rc = sync_service(s, &svcs[i], now, &jobs, &n_added);
	if (rc == 0)
		rc = warn_absent(s, conf, n_conf, &n_held);
	if (rc == 0)
		rc = sqlite_eval_jobs(s, &jobs, now, NULL);
	store_idset_free(&jobs);
	free(conf);
	if (rc < 0) {
		sqlite_rollback(s);
		return STORE_ERR;
	}
	if (sqlite_commit(s) != STORE_OK)
		return STORE_ERR;
	if (n_stale > 0)
		log_msg(LOG_INFO, "task.materialized",
			"%d jobs not started yet got the configured services", n_stale);
	if (added != NULL)
		*added = n_added;
	if (held != NULL)
		*held = n_held;
	return STORE_OK;
}

int sqlite_sweep_jobs(struct store *base, int64_t now)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st;
	struct store_idset jobs = { 0 };

	if (sqlite_begin(s) != STORE_OK)
		return STORE_ERR;
	if ((st = sqlite_stmt(s, SQL_ACTIVE_JOBS)) == NULL ||
	    sqlite_idset_collect(s, st, SQL_ACTIVE_JOBS, &jobs) < 0)
		goto fail;
	if (sqlite_eval_jobs(s, &jobs, now, NULL) < 0)
		goto fail;
	store_idset_free(&jobs);
	return sqlite_commit(s) == STORE_OK ? STORE_OK : STORE_ERR;
fail:
	store_idset_free(&jobs);
	sqlite_rollback(s);
	return STORE_ERR;
}
