/*
 * metrics.c - the counts the metrics show. Gauges are read from the tables
 * each time (indexed counts); counters come from the counters table, which
 * the attempts keep up to date.
 */
#include "store/sqlite/sqlite_int.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

#define ACTIVE "('scheduled','running','failed','held')"

/* Kept by triggers (migration 12): counting a million jobs took 0.2 s. */
static const char SQL_JOBS_BY_STATE[] = "SELECT state, n FROM job_states";
/* Active jobs past their deadline: those not marked yet (jobs_open_deadline)
 * and those marked (jobs_missed), each range walked in its index. */
static const char SQL_OVERDUE[] =
	"SELECT (SELECT COUNT(*) FROM jobs WHERE deadline_missed = 0 AND state NOT IN"
	" ('succeeded','cancelled') AND deadline_at < :now)"
	" + (SELECT COUNT(*) FROM jobs WHERE deadline_missed = 1 AND state <> 'succeeded'"
	" AND state <> 'cancelled' AND deadline_at < :now)";
/* Oldest due work nobody has started: claimable tasks of jobs not on hold
 * nor awaiting approval, and scheduled jobs whose window has ended (not
 * those waiting for a person: four eyes). The tasks are read as the claims
 * read them, in tasks_due_by_service: each service with due tasks in turn
 * (a skip from one service to the next, no walk over the index), its first
 * dispatchable one in next_attempt_at order. */
static const char SQL_DUE_TASKS[] =
	"WITH RECURSIVE svc(name) AS ("
	"  SELECT MIN(service) FROM tasks"
	"  WHERE state IN ('pending','waiting') AND next_attempt_at IS NOT NULL"
	"  UNION ALL"
	"  SELECT (SELECT MIN(service) FROM tasks WHERE state IN ('pending','waiting')"
	"   AND next_attempt_at IS NOT NULL AND service > svc.name)"
	"  FROM svc WHERE name IS NOT NULL)"
	" SELECT MIN((SELECT t.next_attempt_at FROM tasks t CROSS JOIN jobs j"
	"  WHERE t.service = svc.name AND t.state IN ('pending','waiting')"
	"  AND t.next_attempt_at IS NOT NULL AND t.next_attempt_at <= :now"
	"  AND j.id = t.job_id AND j.state <> 'held' AND j.approval IS NOT 'pending'"
	"  ORDER BY t.next_attempt_at LIMIT 1))"
	" FROM svc WHERE name IS NOT NULL";
static const char SQL_DUE_JOBS[] =
	"SELECT MIN(due_at) FROM jobs WHERE state = 'scheduled' AND due_at <= :now"
	" AND approval IS NOT 'pending'";
static const char SQL_COUNTERS[] =
	"SELECT name, service, label, value FROM counters ORDER BY name, service, label";
static const char SQL_BREAKERS[] = "SELECT service, state FROM breakers ORDER BY service";
/* A counter's row exists after its first attempt: an UPDATE finds it in one
 * seek (an upsert would try the insert first, find the conflict, then seek
 * again to update); the upsert only when the UPDATE met no row. */
static const char SQL_COUNT_BUMP[] =
	"UPDATE counters SET value = value + :n"
	" WHERE name = :name AND service = :service AND label = :label";
static const char SQL_COUNT_ADD[] =
	"INSERT INTO counters (name, service, label, value) VALUES (:name, :service, :label, :n)"
	" ON CONFLICT (name, service, label) DO UPDATE SET value = value + excluded.value";

/* Adds c to its counter with sql (SQL_COUNT_BUMP or SQL_COUNT_ADD): the
 * rows changed, or -1. */
static int count_add(struct sqlite_store *s, const char *sql, const struct jobs_count *c)
{
	sqlite3_stmt *st = sqlite_stmt(s, sql);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":name", c->name);
	sqlite_bind_text(st, ":service", c->service);
	sqlite_bind_text(st, ":label", c->label);
	sqlite_bind_int(st, ":n", c->n);
	return sqlite_step_changes(s, st);
}

int sqlite_metrics_flush(struct sqlite_store *s, const struct jobs_counts *c)
{
	for (size_t i = 0; i < c->n; i++) {
		int rc = count_add(s, SQL_COUNT_BUMP, &c->v[i]);
		if (rc == 0)
			rc = count_add(s, SQL_COUNT_ADD, &c->v[i]);
		if (rc < 0)
			return STORE_ERR;
	}
	return STORE_OK;
}

/* Runs a one-value query bound with :now; *v = none for NULL. */
static int query_int(struct sqlite_store *s, const char *sql, int64_t now, int64_t none, int64_t *v)
{
	sqlite3_stmt *st = sqlite_stmt(s, sql);

	if (st != NULL)
		sqlite_bind_int(st, ":now", now);
	return sqlite_step_int(s, st, none, v);
}

static int read_jobs(struct sqlite_store *s, struct store_metrics *m)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_JOBS_BY_STATE);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		enum job_state js;
		if (name != NULL && jobs_job_state_parse(name, &js) == 0)
			m->jobs[js] = sqlite3_column_int64(st, 1);
	}
	return sqlite_walk_end(s, st, rc);
}

static int read_counters(struct sqlite_store *s, struct store_metrics *m)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_COUNTERS);
	size_t cap = 0;
	int rc;

	if (st == NULL)
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_counter *c;
		m->counters = xreserve(m->counters, &cap, m->n_counters + 1, sizeof *c);
		c = &m->counters[m->n_counters++];
		c->name = sqlite_col_text(st, 0);
		c->service = sqlite_col_text(st, 1);
		c->label = sqlite_col_text(st, 2);
		c->value = sqlite3_column_int64(st, 3);
	}
	return sqlite_walk_end(s, st, rc);
}

static enum breaker_state breaker_parse(const char *state)
{
	if (state == NULL || strcmp(state, "closed") == 0)
		return BREAKER_CLOSED;
	return strcmp(state, "open") == 0 ? BREAKER_OPEN : BREAKER_HALF_OPEN;
}

static int read_breakers(struct sqlite_store *s, struct store_metrics *m)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_BREAKERS);
	size_t cap = 0;
	int rc;

	if (st == NULL)
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_breaker_state *b;
		m->breakers = xreserve(m->breakers, &cap, m->n_breakers + 1, sizeof *b);
		b = &m->breakers[m->n_breakers++];
		b->service = sqlite_col_text(st, 0);
		b->state = breaker_parse((const char *)sqlite3_column_text(st, 1));
	}
	return sqlite_walk_end(s, st, rc);
}

int sqlite_metrics_read(struct store *base, int64_t now, const char *const *urls, size_t n_urls,
			struct store_metrics *out)
{
	struct sqlite_store *s = sqlite_of(base);
	int64_t due_task, due_job;

	memset(out, 0, sizeof *out);
	if (read_jobs(s, out) < 0 || query_int(s, SQL_OVERDUE, now, 0, &out->overdue) < 0 ||
	    query_int(s, SQL_DUE_TASKS, now, INT64_MAX, &due_task) < 0 ||
	    query_int(s, SQL_DUE_JOBS, now, INT64_MAX, &due_job) < 0 ||
	    sqlite_webhook_backlog(&s->base, urls, n_urls, &out->webhook_backlog) < 0 ||
	    read_counters(s, out) < 0 || read_breakers(s, out) < 0) {
		store_metrics_clear(out);
		return STORE_ERR;
	}
	out->oldest_due_at = due_task < due_job ? due_task : due_job;
	return STORE_OK;
}

