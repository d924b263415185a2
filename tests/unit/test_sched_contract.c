/*
 * test_sched_contract.c - the scheduler's store operations under
 * concurrency, through store.h only, against SQLite and (when
 * TENANTDEL_TEST_PG_DSN names a throwaway database: tests/pg/cluster) against
 * PostgreSQL: each worker is a forked process with its own store handle,
 * as hosts sharing one database are.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "util/log.h"
#include "util/util.h"

#define ME "hostA/boot/1/1"
#define OTHER "hostB/boot/2/2"
#define HOOK "http://127.0.0.1:9/hook"
#define MAX_JOBS 200

struct fx {
	const char *backend;
	char dir[64], path[128];
	const char *dsn;
};

static struct fx SQLITE_FX = { .backend = "sqlite" };
static struct fx PG_FX = { .backend = "postgresql" };

static struct sched_service SVC[2] = {
	{ .name = "orders", .phase = 1, .enabled = 1, .max_in_flight = 8, .lease_ms = 60000 },
	{ .name = "pos", .phase = 1, .enabled = 1, .max_in_flight = 8, .lease_ms = 60000 },
};
static const struct store_service NEW_SVC[2] = { { .name = "orders", .phase = 1 },
						  { .name = "pos", .phase = 1 } };

static struct store *fx_open(const struct fx *f)
{
	struct store_config c = { .backend = f->backend, .path = f->path, .dsn = f->dsn,
				  .flags = STORE_OPEN_CREATE };
	char err[256] = "";
	struct store *s = store_open(&c, err, sizeof err);

	if (s == NULL)
		fprintf(stderr, "open: %s\n", err);
	assert_non_null(s);
	store_set_webhooks(s, (const char *const[]){ HOOK }, 1);
	return s;
}

/* An empty database for each test. */
static int fx_setup(void **state)
{
	struct fx *f = *state;

	if (strcmp(f->backend, "sqlite") == 0) {
		snprintf(f->dir, sizeof f->dir, "/tmp/schedc.XXXXXX");
		assert_non_null(mkdtemp(f->dir));
		snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
	} else {
		PGconn *c = PQconnectdb(f->dsn);
		PGresult *q = PQexec(c, "SET client_min_messages = warning");

		PQclear(q);
		PGresult *r = PQexec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
		PQfinish(c);
	}
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	if (f->dir[0] != '\0') {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
		assert_int_equal(system(cmd), 0);
		f->dir[0] = '\0';
	}
	return 0;
}

/* n jobs covering n_svc services, started: their tasks due at now. */
static void start_jobs(struct store *s, int n, size_t n_svc, int64_t now,
		       char (*ids)[JOBS_ID_LEN + 1])
{
	struct store_new_job j[MAX_JOBS];
	char tenants[MAX_JOBS][16];
	int created[MAX_JOBS];
	struct sched_maint m;

	for (int i = 0; i < n; i++) {
		snprintf(tenants[i], sizeof tenants[i], "t%03d", i);
		j[i] = (struct store_new_job){ .tenant_id = tenants[i], .requested_by = "test",
					       .reason = "unit", .due_at = now - 1000,
					       .deadline_at = now + 86400000LL };
	}
	assert_int_equal(store_schedule(s, j, (size_t)n, NEW_SVC, n_svc, now, ids, created),
			 STORE_OK);
	assert_int_equal(sched_sync_services(s, SVC, n_svc, now, NULL, NULL), STORE_OK);
	do
		assert_int_equal(sched_maintain(s, ME, NULL, NULL, 0, NULL, 0, now, &m), STORE_OK);
	while (m.more);
}

static struct sched_result succeeded(const struct sched_claimed *c)
{
	return (struct sched_result){
		.task_id = c->task_id, .lease_until = c->lease_until, .job_id = c->job_id,
		.tenant_id = c->tenant_id, .service = c->service, .kind = c->kind,
		.attempt = c->attempts + 1, .state = TASK_SUCCEEDED, .http_status = 200,
		.outcome = "success", .total = -1, .before_total = -1, .verified_after = -1,
		.duration_ms = 5, .breaker = POLICY_BREAKER_SKIP,
	};
}

/* Tasks of the jobs in state st, summed (one grouped read). */
static int64_t tasks_in(struct store *s, char (*ids)[JOBS_ID_LEN + 1], int n, enum task_state st)
{
	struct store_job_progress p[MAX_JOBS];
	int64_t sum = 0;

	for (int i = 0; i < n; i++)
		memcpy(p[i].job_id, ids[i], sizeof p[i].job_id);
	assert_int_equal(store_jobs_progress(s, p, (size_t)n), STORE_OK);
	for (int i = 0; i < n; i++)
		sum += p[i].tasks[st];
	return sum;
}

/* Waits for n children; returns how many exited non-zero. */
static int reap(int n)
{
	int bad = 0, st;

	for (int i = 0; i < n; i++) {
		assert_true(wait(&st) > 0);
		bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	return bad;
}

/* ---- 16 claimers, max_in_flight 8 ---- */

#define CLAIMERS 16
#define ROUNDS 12

/* One claimer: claims, checks the service's in-flight count, records. */
static int claimer(const struct fx *f, char (*ids)[JOBS_ID_LEN + 1], int n_jobs, int k, int wfd)
{
	struct store *s = fx_open(f);
	char owner[64];
	int over = 0, claims = 0;

	snprintf(owner, sizeof owner, "host%d/boot/%d/1", k, k);
	for (int round = 0; round < ROUNDS; round++) {
		struct sched_claimed *c = NULL;
		struct sched_result r[4];
		size_t n = 0;

		if (sched_claim_tasks(s, owner, SVC, 1, 0, 4, clock_now_ms(), &c, &n) != STORE_OK)
			return 2;
		if (tasks_in(s, ids, n_jobs, TASK_IN_FLIGHT) > 8)
			over = 1;
		for (size_t i = 0; i < n; i++)
			r[i] = succeeded(&c[i]);
		if (sched_record_results(s, owner, r, n, SVC, 1, clock_now_ms(), NULL) != STORE_OK)
			return 2;
		claims += (int)n;
		sched_claimed_free(c, n);
	}
	store_close(s);
	assert_true(write(wfd, &claims, sizeof claims) == sizeof claims);
	return over;
}

static void test_claimers_hold_max_in_flight(void **state)
{
	struct fx *f = *state;
	char ids[MAX_JOBS][JOBS_ID_LEN + 1];
	struct store *s = fx_open(f);
	int64_t now = clock_now_ms(), t0;
	int fds[2], total = 0, got;

	start_jobs(s, MAX_JOBS, 1, now, ids);
	store_close(s);
	assert_int_equal(pipe(fds), 0);
	t0 = clock_mono_ms();
	for (int k = 0; k < CLAIMERS; k++)
		if (fork() == 0)
			_exit(claimer(f, ids, MAX_JOBS, k, fds[1]));
	close(fds[1]);
	assert_int_equal(reap(CLAIMERS), 0); /* nobody saw more than 8 in flight */
	while (read(fds[0], &got, sizeof got) == sizeof got)
		total += got;
	close(fds[0]);
	fprintf(stderr, "# %s: %d claims and records by %d processes in %lld ms\n", f->backend,
		total, CLAIMERS, (long long)(clock_mono_ms() - t0));
	s = fx_open(f);
	assert_int_equal(tasks_in(s, ids, MAX_JOBS, TASK_IN_FLIGHT), 0);
	assert_int_equal(tasks_in(s, ids, MAX_JOBS, TASK_SUCCEEDED), total);
	store_close(s);
}

/* ---- a job's last two tasks recorded at once ---- */

#define RACE_JOBS 30

/* Records the claims of one service in one batch (one transaction) after
 * the go: the other process's batch runs at the same time. */
static int recorder(const struct fx *f, struct sched_claimed *c, size_t n, const char *svc,
		    int go)
{
	struct store *s = fx_open(f);
	struct sched_result r[2 * RACE_JOBS];
	size_t k = 0;
	char byte;

	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].service, svc) == 0)
			r[k++] = succeeded(&c[i]);
	assert_true(read(go, &byte, 1) == 1);
	if (sched_record_results(s, ME, r, k, SVC, 2, clock_now_ms(), NULL) != STORE_OK)
		return 1;
	store_close(s);
	return 0;
}

static void test_last_two_tasks_at_once(void **state)
{
	struct fx *f = *state;
	char ids[MAX_JOBS][JOBS_ID_LEN + 1];
	struct store *s = fx_open(f);
	struct sched_claimed *c = NULL;
	size_t n = 0;
	int go[2];
	enum job_state st;

	SVC[0].max_in_flight = SVC[1].max_in_flight = 0;
	start_jobs(s, RACE_JOBS, 2, clock_now_ms(), ids);
	assert_int_equal(sched_claim_tasks(s, ME, SVC, 2, 0, 2 * RACE_JOBS, clock_now_ms(), &c, &n),
			 STORE_OK);
	assert_int_equal(n, 2 * RACE_JOBS);
	store_close(s);
	assert_int_equal(pipe(go), 0);
	for (int k = 0; k < 2; k++)
		if (fork() == 0)
			_exit(recorder(f, c, n, SVC[k].name, go[0]));
	assert_int_equal(write(go[1], "gg", 2), 2);
	assert_int_equal(reap(2), 0);
	s = fx_open(f);
	for (int i = 0; i < RACE_JOBS; i++) {
		assert_int_equal(sched_job_state(s, ids[i], &st), STORE_OK);
		assert_int_equal(st, JOB_SUCCEEDED);
	}
	store_close(s);
	sched_claimed_free(c, n);
	close(go[0]);
	close(go[1]);
	SVC[0].max_in_flight = SVC[1].max_in_flight = 8;
}

/* The metrics' oldest due work among tasks (no job is scheduled): the
 * first due task of any service, whichever comes first in the services'
 * order (orders retries later than pos); a retry not due yet is no due
 * work. */
static void test_oldest_due_task(void **state)
{
	struct fx *f = *state;
	char ids[MAX_JOBS][JOBS_ID_LEN + 1];
	struct store *s = fx_open(f);
	struct sched_claimed *c = NULL;
	struct sched_result r[4];
	struct store_metrics m;
	int64_t t = clock_now_ms(), first = INT64_MAX;
	size_t n = 0;

	start_jobs(s, 2, 2, t, ids);
	assert_int_equal(store_metrics_read(s, t + 1000, NULL, 0, &m), STORE_OK);
	assert_true(m.oldest_due_at <= t);
	store_metrics_clear(&m);
	assert_int_equal(sched_claim_tasks(s, ME, SVC, 2, 0, 4, t, &c, &n), STORE_OK);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		int pos = strcmp(c[i].service, "pos") == 0;

		r[i] = succeeded(&c[i]);
		r[i].state = TASK_WAITING;
		r[i].outcome = "retry";
		r[i].http_status = 503;
		r[i].error = "HTTP 503";
		r[i].next_attempt_at = t + (pos ? 5000 : 20000) + 7 * (int64_t)i;
		if (pos && r[i].next_attempt_at < first)
			first = r[i].next_attempt_at;
	}
	assert_int_equal(sched_record_results(s, ME, r, n, SVC, 2, t, NULL), STORE_OK);
	assert_int_equal(store_metrics_read(s, t + 4000, NULL, 0, &m), STORE_OK);
	assert_true(m.oldest_due_at == INT64_MAX);
	store_metrics_clear(&m);
	assert_int_equal(store_metrics_read(s, t + 60000, NULL, 0, &m), STORE_OK);
	assert_true(m.oldest_due_at == first);
	store_metrics_clear(&m);
	sched_claimed_free(c, n);
	store_close(s);
}

/* ---- leases ---- */

static enum sched_owner other_unknown(void *ctx, const char *owner)
{
	return SCHED_OWNER_UNKNOWN;
}

static enum sched_owner other_dead(void *ctx, const char *owner)
{
	return strcmp(owner, OTHER) == 0 ? SCHED_OWNER_DEAD : SCHED_OWNER_UNKNOWN;
}

/* PostgreSQL: another node's lease is taken back only once the database's
 * clock has passed it, whatever the caller's clock says. */
static void test_lease_expires_on_database_clock(void **state)
{
	struct fx *f = *state;
	char ids[1][JOBS_ID_LEN + 1];
	struct store *s = fx_open(f);
	struct sched_claimed *c = NULL;
	struct sched_maint m;
	size_t n = 0;
	int64_t now = clock_now_ms(), until;

	start_jobs(s, 1, 1, now, ids);
	SVC[0].lease_ms = 300;
	assert_int_equal(sched_claim_tasks(s, OTHER, SVC, 1, 0, 1, now, &c, &n), STORE_OK);
	SVC[0].lease_ms = 60000;
	assert_int_equal(n, 1);
	/* a host whose clock runs an hour ahead */
	assert_int_equal(sched_maintain(s, ME, other_unknown, NULL, 0, NULL, 0, now + 3600000, &m),
			 STORE_OK);
	assert_int_equal(m.reclaimed, 0);
	assert_int_equal(tasks_in(s, ids, 1, TASK_IN_FLIGHT), 1);
	/* once the database's clock passes the lease, it is taken */
	until = clock_mono_ms() + 10000;
	do
		assert_int_equal(sched_maintain(s, ME, other_unknown, NULL, 0, NULL, 0, now, &m),
				 STORE_OK);
	while (m.reclaimed == 0 && clock_mono_ms() < until);
	assert_int_equal(m.reclaimed, 1);
	assert_int_equal(tasks_in(s, ids, 1, TASK_WAITING), 1);
	sched_claimed_free(c, n);
	store_close(s);
}

/* A result that comes back after its lease was taken changes nothing. */
static void test_late_result_fenced(void **state)
{
	struct fx *f = *state;
	char ids[1][JOBS_ID_LEN + 1];
	struct store *s = fx_open(f);
	struct sched_claimed *c = NULL, *c2 = NULL;
	struct sched_result r;
	struct sched_maint m;
	size_t n = 0, n2 = 0;
	int64_t now = clock_now_ms();
	enum job_state st;

	start_jobs(s, 1, 1, now, ids);
	assert_int_equal(sched_claim_tasks(s, OTHER, SVC, 1, 0, 1, now, &c, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(sched_maintain(s, ME, other_dead, NULL, 0, NULL, 0, now, &m), STORE_OK);
	assert_int_equal(m.reclaimed, 1);
	assert_int_equal(sched_claim_tasks(s, ME, SVC, 1, 0, 1, now, &c2, &n2), STORE_OK);
	assert_int_equal(n2, 1);
	r = succeeded(&c[0]);
	assert_int_equal(sched_record_results(s, OTHER, &r, 1, SVC, 1, now, NULL), STORE_OK);
	assert_int_equal(tasks_in(s, ids, 1, TASK_IN_FLIGHT), 1); /* ME's claim stands */
	assert_int_equal(sched_job_state(s, ids[0], &st), STORE_OK);
	assert_int_equal(st, JOB_RUNNING);
	sched_claimed_free(c, n);
	sched_claimed_free(c2, n2);
	store_close(s);
}

/* ---- webhook deliveries claimed from two processes ---- */

static int hook_claimer(const struct fx *f, const char *owner, int wfd)
{
	struct store *s = fx_open(f);
	struct store_delivery *d = NULL;
	size_t n;

	do {
		assert_int_equal(store_webhook_claim(s, HOOK, owner, clock_now_ms(), 60000, 3, &d,
						     &n), STORE_OK);
		for (size_t i = 0; i < n; i++)
			assert_true(write(wfd, &d[i].outbox_id, sizeof d[i].outbox_id) ==
				    sizeof d[i].outbox_id);
		store_deliveries_free(d, n);
	} while (n > 0);
	store_close(s);
	return 0;
}

static void test_deliveries_claimed_once(void **state)
{
	struct fx *f = *state;
	char ids[MAX_JOBS][JOBS_ID_LEN + 1];
	struct store *s = fx_open(f);
	int64_t got[4 * MAX_JOBS], id, backlog;
	int fds[2], more = 0, k = 0;

	store_webhook_enqueue(s, (const char *const[]){ HOOK }, 1, 1000, clock_now_ms(), &more);
	start_jobs(s, 60, 1, clock_now_ms(), ids);
	do
		assert_int_equal(store_webhook_enqueue(s, (const char *const[]){ HOOK }, 1, 50,
						       clock_now_ms(), &more), STORE_OK);
	while (more);
	assert_int_equal(store_webhook_backlog(s, (const char *const[]){ HOOK }, 1, &backlog),
			 STORE_OK);
	assert_true(backlog >= 120); /* job.scheduled and job.started of each */
	store_close(s);
	assert_int_equal(pipe(fds), 0);
	for (int i = 0; i < 2; i++)
		if (fork() == 0)
			_exit(hook_claimer(f, i ? ME : OTHER, fds[1]));
	close(fds[1]);
	assert_int_equal(reap(2), 0);
	while (read(fds[0], &id, sizeof id) == sizeof id) {
		for (int i = 0; i < k; i++)
			assert_true(got[i] != id); /* never handed out twice */
		got[k++] = id;
	}
	close(fds[0]);
	assert_int_equal(k, backlog); /* and none left out */
}

/* A pass starts the store's batch of due jobs (128), or as many as the
 * caller has room for when that is more; m.more says there are others. */
static void test_jobs_started_a_pass(void **state)
{
	struct fx *f = *state;
	struct store_new_job j[MAX_JOBS];
	char tenants[MAX_JOBS][16], ids[MAX_JOBS][JOBS_ID_LEN + 1];
	int created[MAX_JOBS];
	struct sched_maint m;
	struct store *s = fx_open(f);
	int64_t now = clock_now_ms();

	for (int i = 0; i < MAX_JOBS; i++) {
		snprintf(tenants[i], sizeof tenants[i], "p%03d", i);
		j[i] = (struct store_new_job){ .tenant_id = tenants[i], .requested_by = "test",
					       .due_at = now - 1000, .deadline_at = now + 86400000LL };
	}
	assert_int_equal(store_schedule(s, j, MAX_JOBS, NEW_SVC, 1, now, ids, created), STORE_OK);
	assert_int_equal(sched_sync_services(s, SVC, 1, now, NULL, NULL), STORE_OK);
	assert_int_equal(sched_maintain(s, ME, NULL, NULL, 0, NULL, 10, now, &m), STORE_OK);
	assert_int_equal(m.started, 128); /* room for 10: the batch all the same */
	assert_true(m.more);
	assert_int_equal(sched_maintain(s, ME, NULL, NULL, 0, NULL, 50, now, &m), STORE_OK);
	assert_int_equal(m.started, MAX_JOBS - 128);
	assert_false(m.more);
	for (int i = 0; i < MAX_JOBS; i++) /* 200 more, due */
		snprintf(tenants[i], sizeof tenants[i], "q%03d", i);
	assert_int_equal(store_schedule(s, j, MAX_JOBS, NEW_SVC, 1, now, ids, created), STORE_OK);
	assert_int_equal(sched_maintain(s, ME, NULL, NULL, 0, NULL, 150, now, &m), STORE_OK);
	assert_int_equal(m.started, 150); /* room for 150: more than the batch */
	assert_true(m.more);
	store_close(s);
}

/* Claims up to max at now, pos first in turn: how many were claimed
 * (*n) and how many of them are pos's (returned). */
static int claim_pos(struct store *s, const struct sched_service *svcs, int max, int64_t now,
		     size_t *n)
{
	struct sched_claimed *c = NULL;
	int pos = 0;

	assert_int_equal(sched_claim_tasks(s, ME, svcs, 2, 1, max, now, &c, n), STORE_OK);
	for (size_t i = 0; i < *n; i++)
		pos += strcmp(c[i].service, "pos") == 0;
	sched_claimed_free(c, *n);
	return pos;
}

/* A service that defers (a job's last phase) yields its due tasks to the
 * others' for defer_ms, never a slot they leave free; once due that long
 * it yields no more. pos is first in turn throughout. */
static void test_deferred_service_yields(void **state)
{
	struct fx *f = *state;
	char ids[MAX_JOBS][JOBS_ID_LEN + 1];
	struct sched_service svcs[2] = { SVC[0], SVC[1] };
	struct store *s = fx_open(f);
	int64_t t = clock_now_ms();
	size_t n = 0;

	start_jobs(s, 8, 2, t, ids); /* 8 orders and 8 pos tasks due at t */
	svcs[1].defer_ms = 1000;
	/* young: orders first, though pos is first in turn */
	assert_int_equal(claim_pos(s, svcs, 2, t + 10, &n), 0);
	assert_int_equal(n, 2);
	/* due for longer than defer_ms: pos competes again */
	assert_true(claim_pos(s, svcs, 2, t + 1500, &n) >= 1);
	assert_int_equal(n, 2);
	/* young again (a longer defer_ms): orders first... */
	svcs[1].defer_ms = 10000;
	assert_int_equal(claim_pos(s, svcs, 2, t + 1500, &n), 0);
	assert_int_equal(n, 2);
	/* ...but room the others leave goes to pos at once: all 10 left */
	assert_true(claim_pos(s, svcs, 50, t + 1500, &n) >= 6);
	assert_int_equal(n, 10);
	store_close(s);
}

/* run --once's exit status: the failed jobs among those it worked on, asked
 * in one go (SQLite binds 200 ids a statement: the 201st is in a second). */
static void test_failed_jobs_counted(void **state)
{
	struct fx *f = *state;
	struct store *s = fx_open(f);
	int64_t now = clock_now_ms();
	char ids[3][JOBS_ID_LEN + 1], unknown[201][JOBS_ID_LEN + 1];
	const char *ask[201];
	struct sched_claimed *c = NULL;
	struct sched_result r[3];
	size_t n = 0, failed = 99;

	start_jobs(s, 3, 1, now, ids);
	assert_int_equal(sched_claim_tasks(s, ME, SVC, 1, 0, 3, now, &c, &n), STORE_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		r[i] = succeeded(&c[i]);
		if (strcmp(c[i].job_id, ids[1]) == 0) {
			r[i].state = TASK_DEAD;
			r[i].http_status = 400;
			r[i].outcome = "permanent";
		}
	}
	assert_int_equal(sched_record_results(s, ME, r, n, SVC, 1, now, NULL), STORE_OK);
	sched_claimed_free(c, n);
	for (int i = 0; i < 3; i++)
		ask[i] = ids[i];
	assert_int_equal(sched_jobs_failed(s, ask, 3, &failed), STORE_OK);
	assert_int_equal(failed, 1);
	assert_int_equal(sched_jobs_failed(s, ask, 1, &failed), STORE_OK);
	assert_int_equal(failed, 0); /* the job that succeeded */
	assert_int_equal(sched_jobs_failed(s, ask, 0, &failed), STORE_OK);
	assert_int_equal(failed, 0);
	for (int i = 0; i < 200; i++) { /* ids the store never had, then the failed one */
		snprintf(unknown[i], sizeof unknown[i], "00000000-0000-7000-8000-%012d", i);
		ask[i] = unknown[i];
	}
	snprintf(unknown[7], sizeof unknown[7], "%s", "a\"b\\c,{d}"); /* quoted in an array */
	ask[200] = ids[1];
	assert_int_equal(sched_jobs_failed(s, ask, 201, &failed), STORE_OK);
	assert_int_equal(failed, 1);
	assert_int_equal(sched_jobs_failed(s, ask, 200, &failed), STORE_OK);
	assert_int_equal(failed, 0);
	store_close(s);
}

#define TESTS(fx)                                                                            \
	cmocka_unit_test_prestate_setup_teardown(test_claimers_hold_max_in_flight, fx_setup,  \
						 fx_teardown, fx),                             \
	cmocka_unit_test_prestate_setup_teardown(test_last_two_tasks_at_once, fx_setup,       \
						 fx_teardown, fx),                             \
	cmocka_unit_test_prestate_setup_teardown(test_oldest_due_task, fx_setup,              \
						 fx_teardown, fx),                             \
	cmocka_unit_test_prestate_setup_teardown(test_late_result_fenced, fx_setup,           \
						 fx_teardown, fx),                             \
	cmocka_unit_test_prestate_setup_teardown(test_jobs_started_a_pass, fx_setup,          \
						 fx_teardown, fx),                             \
	cmocka_unit_test_prestate_setup_teardown(test_deliveries_claimed_once, fx_setup,      \
						 fx_teardown, fx),                             \
	cmocka_unit_test_prestate_setup_teardown(test_failed_jobs_counted, fx_setup,          \
						 fx_teardown, fx),                             \
	cmocka_unit_test_prestate_setup_teardown(test_deferred_service_yields, fx_setup,      \
						 fx_teardown, fx)

int main(void)
{
	const struct CMUnitTest sqlite_tests[] = { TESTS(&SQLITE_FX) };
	const struct CMUnitTest pg_tests[] = {
		TESTS(&PG_FX),
		cmocka_unit_test_prestate_setup_teardown(test_lease_expires_on_database_clock,
							 fx_setup, fx_teardown, &PG_FX),
	};
	int rc;

	log_set_level(LOG_ERROR);
	rc = cmocka_run_group_tests_name("sqlite", sqlite_tests, NULL, NULL);
	PG_FX.dsn = getenv("TENANTDEL_TEST_PG_DSN");
	if (PG_FX.dsn == NULL || PG_FX.dsn[0] == '\0') {
		fprintf(stderr, "# postgresql: TENANTDEL_TEST_PG_DSN not set, skipped\n");
		return rc;
	}
	return rc | cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
}
