/*
 * absent.c - services the store knows and the config lacks, on
 * PostgreSQL (as store/sqlite/absent.c): their unfinished tasks wait
 * until the service comes back or an operator retires it for good.
 */
#include "store/pg/pg_int.h"
#include "jobs/service_detail.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each service that has tasks (an index skip-scan in one statement) with
 * its unfinished tasks. */
static const char SQL_SERVICES[] =
	"WITH RECURSIVE s(service) AS (SELECT min(service) FROM tasks"
	" UNION ALL SELECT (SELECT min(service) FROM tasks WHERE service > s.service)"
	" FROM s WHERE s.service IS NOT NULL)"
	" SELECT s.service, (SELECT count(*) FROM tasks WHERE service = s.service"
	"  AND state IN ('pending','waiting','in_flight','dead'))"
	" FROM s WHERE s.service IS NOT NULL ORDER BY 1";
/* Jobs not started yet name their services in their snapshot only: the
 * services not retired, and how many of those jobs cover each. */
static const char SQL_SNAPSHOTS[] =
	"SELECT m.service, count(*) FROM jobs j JOIN service_set_members m"
	" ON m.set_id = j.service_set_id WHERE j.state IN ('scheduled','held')"
	" AND NOT EXISTS (SELECT 1 FROM retired_services r WHERE r.service = m.service)"
	" GROUP BY m.service ORDER BY m.service";
static const char SQL_KNOWN[] =
	"SELECT EXISTS (SELECT 1 FROM tasks WHERE service = $1)"
	" OR EXISTS (SELECT 1 FROM service_set_members WHERE service = $1)";
static const char SQL_RETIRE[] =
	"INSERT INTO retired_services (service, reason, retired_by, retired_at)"
	" VALUES ($1, $2, $3, $4::bigint) ON CONFLICT (service) DO UPDATE SET"
	" reason = excluded.reason, retired_by = excluded.retired_by,"
	" retired_at = excluded.retired_at";
/* Skipped in one statement; a task in flight (or finished) meanwhile is
 * left as it is. */
static const char SQL_SKIP_TASKS[] =
	"UPDATE tasks SET state = 'skipped', skip_reason = $2, next_attempt_at = NULL,"
	" updated_at = $3::bigint WHERE service = $1 AND state IN ('pending','waiting','dead')"
	" RETURNING job_id, kind";

/* The entry for name in *v, appended (zeros) when new. */
static struct store_absent *entry(struct store_absent **v, size_t *n, size_t *cap,
				  const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].service, name) == 0)
			return &(*v)[i];
	*v = xreserve(*v, cap, *n + 1, sizeof **v);
	memset(&(*v)[*n], 0, sizeof **v);
	(*v)[*n].service = xstrdup(name);
	return &(*v)[(*n)++];
}

int pg_absent_services(struct store *base, const struct store_service *svcs, size_t n_svcs,
		       struct store_absent **out, size_t *n)
{
	struct pg_store *s = pg_of(base);
	PGresult *r = pg_run(s, SQL_SERVICES, NULL);
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (r == NULL)
		return STORE_ERR;
	for (int i = 0; i < sym_PQntuples(r); i++)
		if (!store_is_configured(svcs, n_svcs, sym_PQgetvalue(r, i, 0)) && pg_int(r, i, 1, 0) > 0)
			entry(out, n, &cap, sym_PQgetvalue(r, i, 0))->tasks = pg_int(r, i, 1, 0);
	sym_PQclear(r);
	if ((r = pg_run(s, SQL_SNAPSHOTS, NULL)) == NULL) {
		store_absent_free(*out, *n);
		*out = NULL;
		*n = 0;
		return STORE_ERR;
	}
	for (int i = 0; i < sym_PQntuples(r); i++)
		if (!store_is_configured(svcs, n_svcs, sym_PQgetvalue(r, i, 0)))
			entry(out, n, &cap, sym_PQgetvalue(r, i, 0))->jobs_not_started +=
				pg_int(r, i, 1, 0);
	sym_PQclear(r);
	return STORE_OK;
}

struct retire_ctx {
	const char *service, *reason, *by;
	int64_t now;
	int64_t skipped;
};

/* The row, the tasks, their events, the jobs. */
static int retire_tx(struct pg_store *s, void *ctx)
{
	struct retire_ctx *c = ctx;
	struct pg_params p = { 0 }, k = { 0 };
	struct store_idset jobs = { 0 };
	int64_t known = 0;
	PGresult *r;
	char *d;
	int rc = 0;

	c->skipped = 0;
	pg_p_text(&k, c->service);
	if (pg_run_int(s, SQL_KNOWN, &k, 0, &known) < 0)
		return STORE_ERR;
	if (!known)
		return STORE_NOT_FOUND;
	pg_p_text(&p, c->service);
	pg_p_text(&p, c->reason);
	pg_p_text(&p, c->by);
	pg_p_int(&p, c->now);
	if (pg_run_changes(s, SQL_RETIRE, &p) < 0)
		return STORE_ERR;
	p.n = 0;
	pg_p_text(&p, c->service);
	pg_p_text(&p, c->reason);
	pg_p_int(&p, c->now);
	if ((r = pg_run(s, SQL_SKIP_TASKS, &p)) == NULL)
		return STORE_ERR;
	for (int i = 0; rc == 0 && i < sym_PQntuples(r); i++) {
		d = jobs_detail_task_change(sym_PQgetvalue(r, i, 1), c->reason, c->by);
		rc = pg_event_append(&s->base, sym_PQgetvalue(r, i, 0), c->now, "task.skipped", c->service, d);
		free(d);
		store_idset_add(&jobs, sym_PQgetvalue(r, i, 0));
	}
	c->skipped = sym_PQntuples(r);
	sym_PQclear(r);
	d = jobs_detail_service_retired(c->reason, c->by, c->skipped);
	if (rc == 0)
		rc = pg_event_append(&s->base, NULL, c->now, "service.retired", c->service, d);
	free(d);
	if (rc == 0)
		rc = pg_eval_jobs(s, &jobs, c->now, NULL);
	store_idset_free(&jobs);
	return rc == 0 ? STORE_OK : STORE_ERR;
}

int pg_retire_service(struct store *base, const char *service, const char *reason,
		      const char *by, int64_t now, int64_t *skipped)
{
	struct retire_ctx c = { .service = service, .reason = reason, .by = by, .now = now };
	int held = 0;
	int rc;

	log_hold();
	held = 1;
	rc = pg_tx(pg_of(base), retire_tx, &c);
	pg_hold_end(&held, rc == STORE_OK);
	*skipped = rc == STORE_OK ? c.skipped : 0;
	if (rc == STORE_OK)
		log_msg(LOG_WARN, "service.retired",
			"service %s retired: %lld unfinished tasks skipped", service,
			(long long)*skipped);
	return rc == STORE_OK || rc == STORE_NOT_FOUND ? rc : STORE_ERR;
}
