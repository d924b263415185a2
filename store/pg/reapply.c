/*
 * reapply.c - reapply on PostgreSQL (as store/sqlite/reapply.c): one
 * service's deletion scheduled again, as ordinary jobs of kind 'reapply',
 * for every tenant purged since a time. A tenant that already has an
 * unfinished reapply job for the service gets no second one: the tenant's
 * reapply is decided under a lock of (tenant, service), so two hosts
 * reapplying at once create one job.
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The latest purge of each tenant purged since $1 (a tombstone whose job
 * row is gone still counts; never a reapply's own). */
static const char SQL_LATEST_TOMBSTONES[] =
	"SELECT * FROM (SELECT DISTINCT ON (t.tenant_id) t.job_id, t.tenant_id, j.tenant_name,"
	" t.purged_at FROM tombstones t LEFT JOIN jobs j ON j.id = t.job_id"
	" WHERE t.purged_at >= $1::bigint AND (j.kind IS NULL OR j.kind = 'purge')"
	" ORDER BY t.tenant_id, t.purged_at DESC, t.job_id) x ORDER BY purged_at, job_id";
static const char SQL_LOCK_TENANT[] =
	"SELECT pg_advisory_xact_lock($1::integer, hashtext($2 || '/' || $3))";
static const char SQL_PENDING_REAPPLY[] =
	"SELECT j.id FROM jobs j JOIN tasks k ON k.job_id = j.id"
	" WHERE j.tenant_id = $1 AND j.kind = 'reapply'"
	" AND j.state NOT IN ('succeeded','cancelled')"
	" AND k.service = $2 AND k.kind = 'delete' LIMIT 1";
static const char SQL_INSERT_REAPPLY_JOB[] =
	"INSERT INTO jobs (id, tenant_id, tenant_name, kind, state, requested_by, reason,"
	" origin_job_id, created_at, due_at, deadline_at)"
	" VALUES ($1, $2, $3, 'reapply', 'scheduled', $4, $5, $6, $7::bigint, $7::bigint,"
	" $8::bigint)";
static const char SQL_INSERT_REAPPLY_TASK[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" VALUES ($1, $2, 'delete', $3::bigint, 'pending', $4::bigint, $4::bigint)";

struct reapply_ctx {
	const struct store_reapply_req *r;
	struct store_reapply_item *v;
	size_t n;
};

static int insert_reapply(struct pg_store *s, const struct store_reapply_req *r,
			  const PGresult *t, int i, const char *id)
{
	struct pg_params p = { 0 };

	pg_p_text(&p, id);
	pg_p_text(&p, pg_str(t, i, 1));
	pg_p_text(&p, pg_str(t, i, 2));
	pg_p_text(&p, r->by);
	pg_p_text(&p, r->reason);
	pg_p_text(&p, pg_str(t, i, 0));
	pg_p_int(&p, r->now);
	pg_p_int(&p, r->deadline_at);
	if (pg_run_changes(s, SQL_INSERT_REAPPLY_JOB, &p) < 0)
		return -1;
	p.n = 0;
	pg_p_text(&p, id);
	pg_p_text(&p, r->service);
	pg_p_int(&p, r->phase);
	pg_p_int(&p, r->now);
	return pg_run_changes(s, SQL_INSERT_REAPPLY_TASK, &p) < 0 ? -1 : 0;
}

/* One tenant (row i of t): its pending reapply, or a new one. */
static int reapply_one(struct pg_store *s, const struct store_reapply_req *r, const PGresult *t,
		       int i, struct store_reapply_item *item)
{
	struct pg_params p = { 0 };
	PGresult *q;
	char *detail;
	int rc;

	item->tenant_id = xstrdup(sym_PQgetvalue(t, i, 1));
	snprintf(item->origin_job_id, sizeof item->origin_job_id, "%s", sym_PQgetvalue(t, i, 0));
	pg_p_int(&p, PG_LOCK_SERVICE);
	pg_p_text(&p, item->tenant_id);
	pg_p_text(&p, r->service);
	if ((q = pg_run(s, SQL_LOCK_TENANT, &p)) == NULL)
		return -1;
	sym_PQclear(q);
	p.n = 0;
	pg_p_text(&p, item->tenant_id);
	pg_p_text(&p, r->service);
	if ((q = pg_run(s, SQL_PENDING_REAPPLY, &p)) == NULL)
		return -1;
	if (sym_PQntuples(q) > 0) {
		snprintf(item->job_id, sizeof item->job_id, "%s", sym_PQgetvalue(q, 0, 0));
		sym_PQclear(q);
		return 0;
	}
	sym_PQclear(q);
	item->created = 1;
	jobs_id_new(r->now, item->job_id);
	if (insert_reapply(s, r, t, i, item->job_id) < 0)
		return -1;
	detail = store_reapply_detail(r, item->job_id, pg_str(t, i, 0), pg_str(t, i, 1),
				      pg_str(t, i, 2), pg_int(t, i, 3, 0));
	rc = pg_job_changed(s, item->job_id, "job.scheduled", detail, r->now, NULL);
	free(detail);
	return rc;
}

static int reapply_tx(struct pg_store *s, void *ctx)
{
	struct reapply_ctx *c = ctx;
	struct pg_params p = { 0 };
	PGresult *t;
	int rc = 0;

	store_reapply_items_free(c->v, c->n);
	c->v = NULL;
	c->n = 0;
	pg_p_int(&p, c->r->since);
	if ((t = pg_run(s, SQL_LATEST_TOMBSTONES, &p)) == NULL)
		return STORE_ERR;
	c->v = xcalloc((size_t)sym_PQntuples(t) + 1, sizeof *c->v);
	for (int i = 0; rc == 0 && i < sym_PQntuples(t); i++) {
		rc = reapply_one(s, c->r, t, i, &c->v[i]);
		c->n = (size_t)i + 1;
	}
	sym_PQclear(t);
	if (rc == 0 && c->n > 0)
		rc = pg_notify_due(s);
	return rc == 0 ? STORE_OK : STORE_ERR;
}

int pg_reapply(struct store *base, const struct store_reapply_req *r,
	       struct store_reapply_item **items, size_t *n)
{
	struct reapply_ctx c = { .r = r };
	int rc = pg_tx(pg_of(base), reapply_tx, &c);

	*items = NULL;
	*n = 0;
	if (rc != STORE_OK) {
		store_reapply_items_free(c.v, c.n);
		return STORE_ERR;
	}
	*items = c.v;
	*n = c.n;
	return STORE_OK;
}
