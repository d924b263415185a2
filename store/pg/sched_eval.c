/*
 * sched_eval.c - a job brought up to date with its delete tasks, on
 * PostgreSQL: the job row is locked first, the view read after the lock
 * (so that a second host finishing the job's last task sees the first
 * one's, committed), jobs_evaluate decides, and each write is guarded by
 * what the view saw. Also the small set of job ids the scheduler's
 * transactions collect, and the job-row locks they take in id order.
 */
#include "store/pg/pg_int.h"
#include "jobs/evaluate.h"
#include "jobs/sched_doc.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_LOCK_JOB[] = "SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE";
/* A child purge's subject job too: its evaluation may move the parent. */
static const char SQL_LOCK_JOBS[] =
	"SELECT id FROM jobs WHERE id = ANY($1::text[])"
	" OR id IN (SELECT parent_id FROM jobs WHERE id = ANY($1::text[]))"
	" ORDER BY id FOR UPDATE";
static const char SQL_VIEW[] =
	"SELECT j.state, j.kind, j.tenant_id,"
	" count(t.id) FILTER (WHERE t.state = 'dead'),"
	" count(t.id) FILTER (WHERE t.state <> 'dead'),"
	" min(t.phase),"
	" min(t.phase) FILTER (WHERE t.state = 'pending' AND t.next_attempt_at IS NULL),"
	" j.parent_id,"
	" j.kind = 'user' AND EXISTS (SELECT 1 FROM subject_tenants WHERE job_id = j.id)"
	" FROM jobs j LEFT JOIN tasks t ON t.job_id = j.id AND t.kind = 'delete'"
	"  AND t.state NOT IN ('succeeded','skipped')"
	" WHERE j.id = $1 GROUP BY j.id";
/* A subject job's children (DESIGN 9), read only for a subject job that
 * has discovered tenants: failed ones, and those not succeeded. */
static const char SQL_CHILDREN_VIEW[] =
	"SELECT count(*) FILTER (WHERE c.state = 'failed'),"
	" count(*) FILTER (WHERE c.state <> 'succeeded')"
	" FROM subject_tenants st JOIN jobs c ON c.id = st.child_job_id WHERE st.job_id = $1";
static const char SQL_SET_JOB_STATE[] =
	"UPDATE jobs SET state = $2, finished_at = $3::bigint WHERE id = $1 AND state = $4";
static const char SQL_OPEN_PHASE[] =
	"UPDATE tasks SET next_attempt_at = $2::bigint, updated_at = $2::bigint"
	" WHERE job_id = $1 AND kind = 'delete' AND phase = $3::bigint AND state = 'pending'"
	" AND next_attempt_at IS NULL"
	" AND EXISTS (SELECT 1 FROM jobs WHERE id = $1 AND state = 'running')";
/* The tombstone names the services whose deletion succeeded, as the
 * SQLite store writes them (["a","b"], no spaces). */
static const char SQL_TOMBSTONE[] =
	"INSERT INTO tombstones (job_id, tenant_id, purged_at, services)"
	" SELECT j.id, j.tenant_id, $2::bigint, '[' || COALESCE((SELECT"
	"   string_agg(to_json(service)::text, ',' ORDER BY service) FROM tasks"
	"   WHERE job_id = j.id AND kind = 'delete' AND state = 'succeeded'), '') || ']'"
	" FROM jobs j WHERE j.id = $1 AND j.kind = 'purge' ON CONFLICT DO NOTHING";
static const char SQL_NOTIFY[] = "SELECT pg_notify('tenantdel_due', '')";

int pg_idset_collect(PGresult *r, struct store_idset *set)
{
	if (r == NULL)
		return -1;
	for (int i = 0; i < sym_PQntuples(r); i++)
		store_idset_push(set, sym_PQgetvalue(r, i, 0));
	sym_PQclear(r);
	return 0;
}

int pg_lock_jobs(struct pg_store *s, const struct store_idset *set)
{
	struct pg_params p = { 0 };
	struct buf arr;
	PGresult *r;

	if (set->n == 0)
		return 0;
	buf_init(&arr);
	for (size_t i = 0; i < set->n; i++)
		pg_array_add(&arr, set->ids[i]);
	pg_array_end(&arr);
	pg_p_text(&p, arr.data);
	r = pg_run(s, SQL_LOCK_JOBS, &p);
	buf_free(&arr);
	sym_PQclear(r);
	return r == NULL ? -1 : 0;
}

int pg_notify_due(struct pg_store *s)
{
	PGresult *r = pg_run(s, SQL_NOTIFY, NULL);

	sym_PQclear(r);
	return r == NULL ? -1 : 0;
}


/* The children's part of a subject job's view. 0 or -1. */
static int read_children(struct pg_store *s, const struct pg_params *p,
			 struct store_job_view *v)
{
	PGresult *r = pg_run(s, SQL_CHILDREN_VIEW, p);

	if (r == NULL)
		return -1;
	v->eval.children_failed = pg_int(r, 0, 0, 0);
	v->eval.children_unfinished = pg_int(r, 0, 1, 0);
	sym_PQclear(r);
	return 0;
}

/* Locks the job and reads its view (store_eval_ops.read_view). */
static int read_view(struct store *base, const char *job_id, struct store_job_view *v)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	PGresult *r;
	enum job_state js;
	const char *state;

	pg_p_text(&p, job_id);
	if ((r = pg_run(s, SQL_LOCK_JOB, &p)) == NULL)
		return -1;
	sym_PQclear(r);
	if ((r = pg_run(s, SQL_VIEW, &p)) == NULL)
		return -1;
	if (sym_PQntuples(r) == 0) {
		sym_PQclear(r);
		return 1;
	}
	state = pg_str(r, 0, 0);
	if (state == NULL || jobs_job_state_parse(state, &js) < 0)
		js = JOB_HELD; /* unknown: touch nothing */
	jobs_eval_view_init(&v->eval, js);
	v->purge = pg_str(r, 0, 1) != NULL && strcmp(pg_str(r, 0, 1), "purge") == 0;
	snprintf(v->tenant, sizeof v->tenant, "%s", pg_str(r, 0, 2) ? pg_str(r, 0, 2) : "");
	v->eval.dead = pg_int(r, 0, 3, 0);
	v->eval.unfinished = pg_int(r, 0, 4, 0);
	v->eval.lowest_phase = pg_int(r, 0, 5, -1);
	v->eval.lowest_unopened = pg_int(r, 0, 6, -1);
	snprintf(v->parent, sizeof v->parent, "%s", pg_str(r, 0, 7) ? pg_str(r, 0, 7) : "");
	v->has_children = pg_str(r, 0, 8) != NULL && strcmp(pg_str(r, 0, 8), "t") == 0;
	sym_PQclear(r);
	return v->has_children ? read_children(s, &p, v) : 0;
}

static int set_state(struct store *base, const char *job_id, enum job_state from,
		     enum job_state to, int64_t fin)
{
	struct pg_params p = { 0 };

	pg_p_text(&p, job_id);
	pg_p_text(&p, jobs_job_state_name(to));
	pg_p_opt_int(&p, fin, 0);
	pg_p_text(&p, jobs_job_state_name(from));
	return pg_run_changes(pg_of(base), SQL_SET_JOB_STATE, &p);
}

static int job_changed(struct store *base, const char *job_id, const char *type,
		       const char *detail, int64_t now)
{
	return pg_job_changed(pg_of(base), job_id, type, detail, now, NULL);
}

static int tombstone(struct store *base, const char *job_id, int64_t now)
{
	struct pg_params p = { 0 };

	pg_p_text(&p, job_id);
	pg_p_int(&p, now);
	return pg_run_changes(pg_of(base), SQL_TOMBSTONE, &p) < 0 ? -1 : 0;
}

/* The phase's tasks become due now: the other hosts are told. */
static int open_phase(struct store *base, const char *job_id, int64_t phase, int64_t now)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	int n;

	pg_p_text(&p, job_id);
	pg_p_int(&p, now);
	pg_p_int(&p, phase);
	if ((n = pg_run_changes(s, SQL_OPEN_PHASE, &p)) > 0 && pg_notify_due(s) < 0)
		return -1;
	return n;
}

static const struct store_eval_ops eval_ops = {
	.read_view = read_view,
	.set_state = set_state,
	.job_changed = job_changed,
	.tombstone = tombstone,
	.open_phase = open_phase,
};

int pg_eval_job(struct pg_store *s, const char *job_id, int64_t now, int *failed)
{
	return store_eval_job(&s->base, &eval_ops, job_id, now, failed);
}

int pg_eval_jobs(struct pg_store *s, const struct store_idset *set, int64_t now, int *failed)
{
	if (pg_lock_jobs(s, set) < 0)
		return -1;
	return store_eval_jobs(&s->base, &eval_ops, set, now, failed);
}

void pg_hold_fresh(int *held)
{
	if (*held)
		log_release(0);
	log_hold();
	*held = 1;
}

void pg_hold_end(int *held, int committed)
{
	if (*held)
		log_release(committed);
	*held = 0;
}
