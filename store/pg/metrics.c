/*
 * metrics.c - the counts the metrics show, on PostgreSQL (as
 * store/sqlite/metrics.c), the counters the attempts add to, and the reads
 * of the dashboard: jobs' progress and each service's latest error.
 */
#include "store/pg/pg_int.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTIVE "('scheduled','running','failed','held')"

static const char SQL_JOBS_BY_STATE[] = "SELECT state, count(*) FROM jobs GROUP BY state";
/* The gauges in one round trip ($1 now): overdue jobs, the oldest due
 * task nobody has started (not on hold nor awaiting approval), the oldest
 * scheduled job due. */
static const char SQL_GAUGES[] =
	"SELECT (SELECT count(*) FROM jobs WHERE state IN " ACTIVE " AND deadline_at < $1::bigint),"
	" (SELECT min(t.next_attempt_at) FROM tasks t JOIN jobs j ON j.id = t.job_id"
	"  WHERE t.state IN ('pending','waiting') AND t.next_attempt_at IS NOT NULL"
	"  AND t.next_attempt_at <= $1::bigint AND j.state <> 'held'"
	"  AND j.approval IS DISTINCT FROM 'pending'),"
	" (SELECT min(due_at) FROM jobs WHERE state = 'scheduled' AND due_at <= $1::bigint"
	"  AND approval IS DISTINCT FROM 'pending')";
static const char SQL_COUNTERS[] =
	"SELECT name, service, label, value FROM counters ORDER BY name, service, label";
static const char SQL_BREAKERS[] = "SELECT service, state FROM breakers ORDER BY service";
static const char SQL_COUNT_ADD[] =
	"INSERT INTO counters (name, service, label, value) VALUES ($1, $2, $3, $4::bigint)"
	" ON CONFLICT (name, service, label) DO UPDATE SET value = counters.value + excluded.value";
/* The tasks of jobs $1 (a text[]) by state, and for a job not started yet
 * the delete tasks its service set will give it. */
static const char SQL_PROGRESS[] =
	"SELECT job_id, state, count(*) FROM tasks WHERE job_id = ANY($1::text[])"
	" GROUP BY job_id, state"
	" UNION ALL"
	" SELECT j.id, CASE WHEN j.state = 'cancelled' THEN 'skipped' ELSE 'pending' END,"
	" ss.n_services FROM jobs j JOIN service_sets ss ON ss.id = j.service_set_id"
	" WHERE j.id = ANY($1::text[])";
static const char SQL_SERVICE_ERRORS[] =
	"SELECT DISTINCT ON (t.service) t.service, t.job_id, j.tenant_id, t.last_error,"
	" t.updated_at FROM tasks t JOIN jobs j ON j.id = t.job_id"
	" WHERE t.state IN ('pending','waiting','in_flight','dead')"
	" AND t.last_error IS NOT NULL AND (t.state <> 'dead' OR t.updated_at >= $1::bigint)"
	" ORDER BY t.service, t.updated_at DESC, t.id DESC";

static int count_cmp(const void *a, const void *b)
{
	const struct jobs_count *x = *(const struct jobs_count *const *)a;
	const struct jobs_count *y = *(const struct jobs_count *const *)b;
	int c = strcmp(x->name, y->name);

	if (c == 0)
		c = strcmp(x->service, y->service);
	return c != 0 ? c : strcmp(x->label, y->label);
}

int pg_metrics_flush(struct pg_store *s, const struct jobs_counts *c)
{
	const struct jobs_count **v = xcalloc(c->n + 1, sizeof *v);
	int rc = STORE_OK;

	for (size_t i = 0; i < c->n; i++)
		v[i] = &c->v[i];
	qsort(v, c->n, sizeof *v, count_cmp);
	for (size_t i = 0; rc == STORE_OK && i < c->n; i++) {
		struct pg_params p = { 0 };
		pg_p_text(&p, v[i]->name);
		pg_p_text(&p, v[i]->service);
		pg_p_text(&p, v[i]->label);
		pg_p_int(&p, v[i]->n);
		if (pg_run_changes(s, SQL_COUNT_ADD, &p) < 0)
			rc = STORE_ERR;
	}
	free(v);
	return rc;
}

static enum breaker_state breaker_parse(const char *state)
{
	if (state == NULL || strcmp(state, "closed") == 0)
		return BREAKER_CLOSED;
	return strcmp(state, "open") == 0 ? BREAKER_OPEN : BREAKER_HALF_OPEN;
}

/* Jobs by state, the counters and the breakers. */
static int read_tables(struct pg_store *s, struct store_metrics *m)
{
	PGresult *r;
	enum job_state js;

	if ((r = pg_run(s, SQL_JOBS_BY_STATE, NULL)) == NULL)
		return -1;
	for (int i = 0; i < sym_PQntuples(r); i++)
		if (jobs_job_state_parse(sym_PQgetvalue(r, i, 0), &js) == 0)
			m->jobs[js] = pg_int(r, i, 1, 0);
	sym_PQclear(r);
	if ((r = pg_run(s, SQL_COUNTERS, NULL)) == NULL)
		return -1;
	m->n_counters = (size_t)sym_PQntuples(r);
	m->counters = xcalloc(m->n_counters + 1, sizeof *m->counters);
	for (size_t i = 0; i < m->n_counters; i++) {
		m->counters[i].name = pg_text(r, (int)i, 0);
		m->counters[i].service = pg_text(r, (int)i, 1);
		m->counters[i].label = pg_text(r, (int)i, 2);
		m->counters[i].value = pg_int(r, (int)i, 3, 0);
	}
	sym_PQclear(r);
	if ((r = pg_run(s, SQL_BREAKERS, NULL)) == NULL)
		return -1;
	m->n_breakers = (size_t)sym_PQntuples(r);
	m->breakers = xcalloc(m->n_breakers + 1, sizeof *m->breakers);
	for (size_t i = 0; i < m->n_breakers; i++) {
		m->breakers[i].service = pg_text(r, (int)i, 0);
		m->breakers[i].state = breaker_parse(pg_str(r, (int)i, 1));
	}
	sym_PQclear(r);
	return 0;
}

int pg_metrics_read(struct store *base, int64_t now, const char *const *urls, size_t n_urls,
		    struct store_metrics *out)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	int64_t due_task, due_job;
	PGresult *r;

	memset(out, 0, sizeof *out);
	pg_p_int(&p, now);
	if ((r = pg_run(s, SQL_GAUGES, &p)) == NULL)
		return STORE_ERR;
	out->overdue = pg_int(r, 0, 0, 0);
	due_task = pg_int(r, 0, 1, INT64_MAX);
	due_job = pg_int(r, 0, 2, INT64_MAX);
	sym_PQclear(r);
	out->oldest_due_at = due_task < due_job ? due_task : due_job;
	if (read_tables(s, out) < 0 ||
	    pg_webhook_backlog(base, urls, n_urls, &out->webhook_backlog) != STORE_OK) {
		store_metrics_clear(out);
		return STORE_ERR;
	}
	return STORE_OK;
}

/* ---- progress, errors ---- */

int pg_jobs_progress(struct store *base, struct store_job_progress *out, size_t n)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	struct buf arr;
	enum task_state ts;
	PGresult *r;

	for (size_t i = 0; i < n; i++)
		memset(out[i].tasks, 0, sizeof out[i].tasks);
	if (n == 0)
		return STORE_OK;
	buf_init(&arr);
	for (size_t i = 0; i < n; i++)
		pg_array_add(&arr, out[i].job_id);
	pg_array_end(&arr);
	pg_p_text(&p, arr.data);
	r = pg_run(s, SQL_PROGRESS, &p);
	buf_free(&arr);
	if (r == NULL)
		return STORE_ERR;
	for (int row = 0; row < sym_PQntuples(r); row++) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(out[i].job_id, sym_PQgetvalue(r, row, 0)) == 0 &&
			    jobs_task_state_parse(sym_PQgetvalue(r, row, 1), &ts) == 0)
				out[i].tasks[ts] += pg_int(r, row, 2, 0);
	}
	sym_PQclear(r);
	return STORE_OK;
}

int pg_service_errors(struct store *base, int64_t since, struct store_service_error **out,
		      size_t *n)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	PGresult *r;

	*out = NULL;
	*n = 0;
	pg_p_int(&p, since);
	if ((r = pg_run(s, SQL_SERVICE_ERRORS, &p)) == NULL)
		return STORE_ERR;
	*n = (size_t)sym_PQntuples(r);
	*out = xcalloc(*n + 1, sizeof **out);
	for (size_t i = 0; i < *n; i++) {
		struct store_service_error *e = &(*out)[i];
		e->service = pg_text(r, (int)i, 0);
		snprintf(e->job_id, sizeof e->job_id, "%s", sym_PQgetvalue(r, (int)i, 1));
		e->tenant_id = pg_text(r, (int)i, 2);
		e->error = pg_text(r, (int)i, 3);
		e->at = pg_int(r, (int)i, 4, 0);
	}
	sym_PQclear(r);
	return STORE_OK;
}
