/*
 * sched_sync.c - keeping unfinished jobs in line with the configured
 * services (DESIGN 3 "Which services a job covers") on PostgreSQL, and
 * the sweep that re-evaluates running jobs. As store/sqlite/sched_sync.c;
 * the services missing from the config are reported after the commit (a
 * read: the transaction may run more than once).
 */
#include "store/pg/pg_int.h"
#include "jobs/service_detail.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Eligible later: pg_eval_job makes it due when its phase comes. */
static const char SQL_ADD_TASKS[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" SELECT j.id, $1, 'delete', $2::bigint, 'pending', NULL, $3::bigint FROM jobs j"
	" WHERE j.kind = 'purge' AND j.state IN ('scheduled','running','failed','held')"
	" AND j.service_set_id IS NULL"
	" AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.service = $1"
	"   AND t.kind = 'delete')"
	" ON CONFLICT (job_id, service, kind) DO NOTHING RETURNING job_id";
static const char SQL_UNRETIRE[] = "DELETE FROM retired_services WHERE service = $1";
/* Jobs another writer holds are being changed (and evaluated) by it. */
static const char SQL_ACTIVE_JOBS[] =
	"SELECT id FROM jobs WHERE state IN ('running','failed') ORDER BY id"
	" FOR UPDATE SKIP LOCKED";

struct sync_ctx {
	const struct sched_service *svcs;
	size_t n_svcs;
	struct store_service *conf;
	size_t n_conf;
	int64_t now;
	int added, stale;
};

/* Adds svc's delete task to every unfinished purge job lacking it, and
 * takes svc off the retired list. */
static int sync_service(struct pg_store *s, const struct sched_service *svc, int64_t now,
			struct store_idset *jobs, int *added)
{
	struct pg_params p = { 0 };
	struct store_idset ids = { 0 };
	char *detail;
	int rc;

	pg_p_text(&p, svc->name);
	if (pg_run_changes(s, SQL_UNRETIRE, &p) < 0)
		return -1;
	pg_p_int(&p, svc->phase);
	pg_p_int(&p, now);
	if (pg_idset_collect(pg_run(s, SQL_ADD_TASKS, &p), &ids) < 0)
		return -1;
	detail = jobs_detail_task_change("delete", "service added to config", NULL);
	rc = 0;
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		rc = pg_event_append(&s->base, ids.ids[i], now, "task.added", svc->name, detail);
		store_idset_add(jobs, ids.ids[i]);
	}
	free(detail);
	*added += (int)ids.n;
	store_idset_free(&ids);
	return rc;
}

static int sync_tx(struct pg_store *s, void *ctx)
{
	struct sync_ctx *c = ctx;
	struct store_idset jobs = { 0 };
	int rc;

	c->added = c->stale = 0;
	rc = pg_set_configured(s, c->conf, c->n_conf);
	if (rc == 0)
		rc = pg_materialize_stale(s, c->now, &c->stale);
	for (size_t i = 0; rc == 0 && i < c->n_svcs; i++)
		if (c->svcs[i].enabled)
			rc = sync_service(s, &c->svcs[i], c->now, &jobs, &c->added);
	if (rc == 0)
		rc = pg_eval_jobs(s, &jobs, c->now, NULL);
	if (rc == 0 && c->added > 0) /* tasks for a service added: due now everywhere */
		rc = pg_notify_due(s);
	store_idset_free(&jobs);
	return rc == 0 ? STORE_OK : STORE_ERR;
}

/* Warns about each service whose unfinished tasks wait because the config
 * lacks it; *held receives how many tasks wait. */
static int warn_absent(struct store *base, const struct store_service *conf, size_t n_conf,
		       int *held)
{
	struct store_absent *v = NULL;
	size_t n = 0;
	int rc = pg_absent_services(base, conf, n_conf, &v, &n);

	store_log_absent(v, n, held);
	store_absent_free(v, n);
	return rc;
}

int pg_sync_services(struct store *base, const struct sched_service *svcs, size_t n_svcs,
		     int64_t now, int *added, int *held)
{
	struct sync_ctx c = { .svcs = svcs, .n_svcs = n_svcs, .now = now };
	int n_held = 0, rc;

	c.conf = xcalloc(n_svcs + 1, sizeof *c.conf);
	for (size_t i = 0; i < n_svcs; i++)
		if (svcs[i].enabled)
			c.conf[c.n_conf++] = (struct store_service){ .name = svcs[i].name,
								     .phase = svcs[i].phase };
	rc = pg_tx(pg_of(base), sync_tx, &c);
	if (rc == STORE_OK)
		rc = warn_absent(base, c.conf, c.n_conf, &n_held);
	free(c.conf);
	if (rc != STORE_OK)
		return STORE_ERR;
	if (c.added > 0)
		log_msg(LOG_INFO, "task.added", "%d tasks added for services added to the config",
			c.added);
	if (c.stale > 0)
		log_msg(LOG_INFO, "task.materialized",
			"%d jobs not started yet got the configured services", c.stale);
	if (added != NULL)
		*added = c.added;
	if (held != NULL)
		*held = n_held;
	return STORE_OK;
}

static int sweep_tx(struct pg_store *s, void *ctx)
{
	const int64_t *now = ctx;
	struct store_idset jobs = { 0 };
	int rc = pg_idset_collect(pg_run(s, SQL_ACTIVE_JOBS, NULL), &jobs);

	if (rc == 0)
		rc = pg_eval_jobs(s, &jobs, *now, NULL);
	store_idset_free(&jobs);
	return rc == 0 ? STORE_OK : STORE_ERR;
}

int pg_sweep_jobs(struct store *base, int64_t now)
{
	int held = 0;
	int rc;

	log_hold();
	held = 1;
	rc = pg_tx(pg_of(base), sweep_tx, &now);
	pg_hold_end(&held, rc == STORE_OK);
	return rc == STORE_OK ? STORE_OK : STORE_ERR;
}
