/*
 * materialize.c - a job's delete tasks created from its snapshot when it
 * starts (DESIGN 3 "Which services a job covers", DESIGN 8), and until
 * then shown as synthesized records. The PostgreSQL twin of the SQLite
 * backend's, over the sets of store/pg/service_sets.c.
 */
#include "store/pg/pg_int.h"
#include "jobs/service_detail.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char SQL_JOB_SET[] =
	"SELECT state, due_at, created_at, service_set_id FROM jobs"
	" WHERE id = $1 AND service_set_id IS NOT NULL";
static const char SQL_ADD_TASK[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, skip_reason, updated_at)"
	" VALUES ($1, $2, 'delete', $3, $4, $5, $6)";
static const char SQL_ADD_ALL_TASKS[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, updated_at)"
	" SELECT $1, service, 'delete', phase, 'pending', $3::bigint FROM service_set_members"
	" WHERE set_id = $2 ORDER BY phase, service";
static const char SQL_STALE_JOBS[] =
	"SELECT id FROM jobs WHERE service_set_id IS NOT NULL AND state IN ('scheduled','held')"
	" AND service_set_id <> (SELECT value::bigint FROM meta"
	" WHERE key = 'configured_set_id')";
static const char SQL_MATERIALIZED[] =
	"UPDATE jobs SET service_set_id = NULL WHERE id = $1 AND service_set_id = $2";

/* One delete task (store_stale_ops.insert_task). */
static int insert_task(struct store *base, const char *job_id, const char *name, int phase,
		       int skipped, const char *reason, int64_t now)
{
	struct pg_params p = { 0 };

	pg_p_text(&p, job_id);
	pg_p_text(&p, name);
	pg_p_int(&p, phase);
	pg_p_text(&p, skipped ? "skipped" : "pending");
	pg_p_text(&p, skipped ? reason : NULL);
	pg_p_int(&p, now);
	return pg_run_changes(pg_of(base), SQL_ADD_TASK, &p) < 0 ? -1 : 0;
}

static const struct store_stale_ops stale_ops = {
	.set_members = pg_set_members,
	.retired_reason = pg_retired_reason,
	.insert_task = insert_task,
	.event_append = pg_event_append,
};

int pg_job_set(struct store *base, const char *job_id, struct store_job_set *j)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	PGresult *r;
	int found;

	memset(j, 0, sizeof *j);
	pg_p_text(&p, job_id);
	if ((r = pg_run(s, SQL_JOB_SET, &p)) == NULL)
		return STORE_ERR;
	found = sym_PQntuples(r) > 0;
	if (found) {
		const char *name = pg_str(r, 0, 0);
		if (name == NULL || jobs_job_state_parse(name, &j->state) < 0)
			j->state = JOB_SCHEDULED;
		j->due_at = pg_int(r, 0, 1, 0);
		j->created_at = pg_int(r, 0, 2, 0);
		j->set_id = pg_int(r, 0, 3, 0);
	}
	sym_PQclear(r);
	return found ? STORE_OK : STORE_NOT_FOUND;
}

int pg_materialize_tasks(struct pg_store *s, const char *job_id, int64_t now)
{
	struct pg_params p = { 0 };
	struct store_job_set j;
	int64_t conf;
	int rc = pg_job_set(&s->base, job_id, &j);

	if (rc != STORE_OK)
		return rc == STORE_NOT_FOUND ? 0 : -1;
	pg_p_text(&p, job_id);
	pg_p_int(&p, j.set_id);
	if (pg_configured_id(&s->base, &conf) < 0 ||
	    (rc = pg_run_changes(s, SQL_MATERIALIZED, &p)) < 0)
		return -1;
	if (rc == 0) /* another writer did it */
		return 0;
	if (conf == 0 || conf == j.set_id) {
		p.n = 0;
		pg_p_text(&p, job_id);
		pg_p_int(&p, j.set_id);
		pg_p_int(&p, now);
		return pg_run_changes(s, SQL_ADD_ALL_TASKS, &p) < 0 ? -1 : 0;
	}
	return store_add_stale_tasks(&s->base, &stale_ops, job_id, j.set_id, conf, now);
}

int pg_materialize_stale(struct pg_store *s, int64_t now, int *count)
{
	PGresult *r = pg_run(s, SQL_STALE_JOBS, NULL);
	int rc = 0;

	*count = 0;
	if (r == NULL)
		return -1;
	for (int i = 0; rc == 0 && i < sym_PQntuples(r); i++)
		rc = pg_materialize_tasks(s, sym_PQgetvalue(r, i, 0), now);
	*count = sym_PQntuples(r);
	sym_PQclear(r);
	return rc;
}
