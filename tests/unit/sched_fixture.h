/*
 * sched_fixture.h - shared by the scheduler's store tests (test_sched.c,
 * test_sched_maint.c): three services (orders and pos in phase 1, tenant
 * in phase 2), two lease owners, and helpers that schedule, start, claim
 * and build results as the engine would. Include after <cmocka.h>,
 * "store/sqlite/sched_int.h" and "tests/unit/store_fixture.h".
 */
#ifndef TENANTDEL_SCHED_FIXTURE_H
#define TENANTDEL_SCHED_FIXTURE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASE 60000LL
#define ME "host/boot/1/1"
#define OTHER "host/boot/2/2"

static const struct store_service NEW_SVCS[] = {
	{ .name = "orders", .phase = 1 },
	{ .name = "pos", .phase = 1 },
	{ .name = "tenant", .phase = 2 },
};

static const struct sched_service SVCS[] = {
	{ .name = "orders", .phase = 1, .enabled = 1, .max_in_flight = 8, .lease_ms = LEASE,
	  .breaker = { .threshold = 1, .cooloff_ms = 30000, .max_cooloff_ms = 60000 } },
	{ .name = "pos", .phase = 1, .enabled = 1, .max_in_flight = 8, .lease_ms = LEASE,
	  .breaker = { .threshold = 5, .cooloff_ms = 30000, .max_cooloff_ms = 60000 } },
	{ .name = "tenant", .phase = 2, .enabled = 1, .max_in_flight = 8, .lease_ms = LEASE,
	  .breaker = { .threshold = 5, .cooloff_ms = 30000, .max_cooloff_ms = 60000 } },
};
#define N_SVCS 3

/* A one-number answer of SQL (printf-style) on the test's own connection. */
static inline int64_t q_int(struct store *s, const char *fmt, ...)
{
	sqlite3_stmt *st;
	char *sql;
	va_list ap;
	int64_t v;

	va_start(ap, fmt);
	assert_true(vasprintf(&sql, fmt, ap) >= 0);
	va_end(ap);
	assert_int_equal(sqlite3_prepare_v2(sqlite_of(s)->db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	free(sql);
	return v;
}

/* Schedules tenant due at due (deadline a day later) into id. */
static inline void schedule(struct store *s, const char *tenant, int64_t due, char id[JOBS_ID_LEN + 1])
{
	struct store_new_job j = { .tenant_id = tenant, .requested_by = "test",
				   .reason = "unit", .due_at = due, .deadline_at = due + DAY };
	char ids[1][JOBS_ID_LEN + 1];
	int created = -1;

	assert_int_equal(store_schedule(s, &j, 1, NEW_SVCS, N_SVCS, NOW, ids, &created),
			 STORE_OK);
	memcpy(id, ids[0], JOBS_ID_LEN + 1);
}

static inline struct sched_maint maintain(struct store *s, const char *owner, sched_owner_fn judge,
				   int64_t now)
{
	struct sched_maint m;

	assert_int_equal(sched_maintain(s, owner, judge, NULL, 0, NULL, 0, now, &m), STORE_OK);
	return m;
}

/* Claims as owner at now; returns how many (claims in *c, caller frees). */
static inline size_t claim(struct store *s, const char *owner, int64_t now, struct sched_claimed **c)
{
	size_t n = 0;

	assert_int_equal(sched_claim_tasks(s, owner, SVCS, N_SVCS, 0, 16, now, c, &n), STORE_OK);
	return n;
}

/* The result of claim c: succeeded (deleted counts {"rows":n}), or waiting
 * until at, or dead. */
static inline struct sched_result result(const struct sched_claimed *c, enum task_state state,
				  int64_t at)
{
	struct sched_result r = {
		.task_id = c->task_id, .lease_until = c->lease_until, .job_id = c->job_id,
		.tenant_id = c->tenant_id, .service = c->service, .kind = c->kind,
		.attempt = c->attempts, .state = state, .next_attempt_at = at,
		.http_status = state == TASK_SUCCEEDED ? 200 : 503,
		.outcome = state == TASK_SUCCEEDED ? "success" : state == TASK_DEAD ? "permanent"
										  : "retry",
		.counts_json = state == TASK_SUCCEEDED ? "{\"rows\":3}" : NULL,
		.total = state == TASK_SUCCEEDED ? 3 : -1, .before_total = -1,
		.verified_after = -1, .duration_ms = 7,
		.error = state == TASK_SUCCEEDED ? NULL : "HTTP 503",
		.breaker = POLICY_BREAKER_SKIP,
	};
	return r;
}

static inline int64_t events(struct store *s, const char *job_id, const char *type)
{
	return q_int(s, "SELECT count(*) FROM events WHERE job_id = '%s' AND type = '%s'", job_id,
		     type);
}

static inline void job_state(struct store *s, const char *id, const char *state)
{
	char *sql = xasprintf("UPDATE jobs SET state = '%s' WHERE id = '%s'", state, id);

	fx_exec(s, sql);
	free(sql);
}

/* A job started at NOW with its phase 1 claimed by ME: orders and pos. */
static inline size_t started_and_claimed(struct fx *f, char id[JOBS_ID_LEN + 1],
				  struct sched_claimed **c)
{
	schedule(f->s, "acme", NOW, id);
	assert_int_equal(maintain(f->s, ME, NULL, NOW).started, 1);
	assert_int_equal(claim(f->s, ME, NOW, c), 2);
	return 2;
}

#endif
