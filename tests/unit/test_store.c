/*
 * test_store.c - the store against a real SQLite file: scheduling (batch,
 * idempotency, all or nothing), every operator transition allowed and
 * refused, listings, tasks created at start, reclaims after a crash. The
 * event hash chain: test_store_chain.c.
 * Each test gets its own temporary folder and database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"
#include "tests/unit/store_fixture.h"

#define SVCS fx_svcs()
#define N_SVCS FX_N_SVCS

static int setup(void **state)
{
	return fx_setup(state, "test_store");
}

static int teardown(void **state)
{
	return fx_teardown(state);
}

/* Schedules one tenant due at due with SVCS; returns created. */
static int sched(struct store *s, const char *tenant, int64_t due, char id[JOBS_ID_LEN + 1])
{
	return fx_schedule(s, tenant, NOW, due, SVCS, N_SVCS, id);
}

static void set_job_state(struct store *s, const char *id, const char *state)
{
	char *sql = xasprintf("UPDATE jobs SET state = '%s' WHERE id = '%s'", state, id);
	fx_exec(s, sql);
	free(sql);
}

static void test_schedule_creates_tasks_and_event(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct job_record j;
	struct task_record *t;
	size_t n;

	assert_int_equal(sched(f->s, "acme", NOW + DAY, id), 1);
	assert_int_equal(jobs_id_check(id), 0);
	assert_int_equal(store_job_get(f->s, id, &j), STORE_OK);
	assert_string_equal(j.tenant_id, "acme");
	assert_int_equal(j.state, JOB_SCHEDULED);
	assert_int_equal(j.due_at, NOW + DAY);
	assert_int_equal(j.deadline_at, NOW + 2 * DAY);
	assert_int_equal(j.created_at, NOW);
	jobs_job_record_clear(&j);

	/* Only the suspend task is stored; the delete tasks are shown as they
	 * will be created when the job starts. */
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks"), 1);
	assert_int_equal(store_job_tasks(f->s, id, &t, &n), STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(t[0].kind, TASK_KIND_SUSPEND); /* suspend first */
	assert_int_equal(t[1].id, 0);
	assert_string_equal(t[1].service, "orders"); /* then phase, service */
	assert_string_equal(t[2].service, "pos");
	assert_string_equal(t[3].service, "tenant");
	assert_int_equal(fx_find_task(t, n, "orders", TASK_KIND_SUSPEND)->next_attempt_at, NOW);
	assert_int_equal(fx_find_task(t, n, "orders", TASK_KIND_DELETE)->next_attempt_at, NOW + DAY);
	assert_int_equal(fx_find_task(t, n, "pos", TASK_KIND_DELETE)->next_attempt_at, NOW + DAY);
	/* phase 2 is opened by the scheduler when phase 1 has finished */
	assert_int_equal(fx_find_task(t, n, "tenant", TASK_KIND_DELETE)->next_attempt_at, 0);
	assert_int_equal(fx_find_task(t, n, "tenant", TASK_KIND_DELETE)->state, TASK_PENDING);
	jobs_task_records_free(t, n);

	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM events WHERE type = 'job.scheduled'"), 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM outbox WHERE type = 'job.scheduled'"), 1);
}

static void test_schedule_idempotent(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1], b[JOBS_ID_LEN + 1];

	assert_int_equal(sched(f->s, "acme", NOW, a), 1);
	assert_int_equal(sched(f->s, "acme", NOW + DAY, b), 0);
	assert_string_equal(a, b);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM jobs"), 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM events"), 1);
}

static void test_schedule_again_after_cancel(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1], b[JOBS_ID_LEN + 1];

	sched(f->s, "acme", NOW, a);
	assert_int_equal(store_job_cancel(f->s, a, "t", NULL, SVCS, N_SVCS, NOW, NULL), STORE_OK);
	assert_int_equal(sched(f->s, "acme", NOW, b), 1);
	assert_string_not_equal(a, b);
}

static void test_batch_duplicate_maps_to_same_job(void **state)
{
	struct fx *f = *state;
	struct store_new_job j[3] = {
		{ .tenant_id = "x", .due_at = NOW, .deadline_at = NOW + DAY },
		{ .tenant_id = "y", .due_at = NOW, .deadline_at = NOW + DAY },
		{ .tenant_id = "x", .due_at = NOW, .deadline_at = NOW + DAY },
	};
	char ids[3][JOBS_ID_LEN + 1];
	int created[3];

	assert_int_equal(store_schedule(f->s, j, 3, SVCS, N_SVCS, NOW, ids, created), STORE_OK);
	assert_string_equal(ids[0], ids[2]);
	assert_string_not_equal(ids[0], ids[1]);
	assert_int_equal(created[0], 1);
	assert_int_equal(created[1], 1);
	assert_int_equal(created[2], 0);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM jobs"), 2);
}

static void test_batch_all_or_nothing(void **state)
{
	struct fx *f = *state;
	/* The NULL tenant violates NOT NULL in the middle of the batch. */
	struct store_new_job j[3] = {
		{ .tenant_id = "x", .due_at = NOW, .deadline_at = NOW + DAY },
		{ .tenant_id = NULL, .due_at = NOW, .deadline_at = NOW + DAY },
		{ .tenant_id = "z", .due_at = NOW, .deadline_at = NOW + DAY },
	};
	char ids[3][JOBS_ID_LEN + 1];
	int created[3];

	assert_int_equal(store_schedule(f->s, j, 3, SVCS, N_SVCS, NOW, ids, created), STORE_ERR);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM jobs"), 0);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks"), 0);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM events"), 0);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM outbox"), 0);
	/* and the handle still works afterwards */
	assert_int_equal(sched(f->s, "x", NOW, ids[0]), 1);
}

/* 40 jobs: two statements of SQLITE_ROWS_A_STATEMENT rows and a tail of 8
 * one by one. "t-3" is already scheduled, "t-20" comes twice in the second
 * statement, "t-37" twice in the tail: those statements insert fewer rows
 * than they were given and each of their jobs is looked up. Every created
 * job has its suspend task and its event, in the batch's order, and the
 * chain verifies. */
static void test_batch_in_statements_of_many_rows(void **state)
{
	struct fx *f = *state;
	struct store_new_job j[40];
	char names[40][16], ids[40][JOBS_ID_LEN + 1], before[JOBS_ID_LEN + 1], head[65], why[160];
	int created[40], n_created = 0;
	int64_t bad = -1, count = 0;
	sqlite3_stmt *st;

	assert_int_equal(sched(f->s, "t-3", NOW, before), 1);
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof names[i], "t-%d", i == 25 ? 20 : i == 39 ? 37 : i);
		j[i] = (struct store_new_job){ .tenant_id = names[i], .due_at = NOW + DAY,
					       .deadline_at = NOW + 2 * DAY };
	}
	assert_int_equal(store_schedule(f->s, j, 40, SVCS, N_SVCS, NOW, ids, created), STORE_OK);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(created[i], !(i == 3 || i == 25 || i == 39));
		n_created += created[i];
	}
	assert_string_equal(ids[3], before);
	assert_string_equal(ids[25], ids[20]);
	assert_string_equal(ids[39], ids[37]);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM jobs"), 1 + n_created);
	fx_assert_states_kept(f->s);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks WHERE kind = 'suspend'"),
			 1 + n_created);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM outbox"), 1 + n_created);
	/* the events after the first job's, in the batch's order */
	assert_int_equal(sqlite3_prepare_v2(sqlite_of(f->s)->db,
					    "SELECT job_id FROM events WHERE id > 1 ORDER BY id", -1,
					    &st, NULL),
			 SQLITE_OK);
	for (int i = 0; i < 40; i++) {
		if (!created[i])
			continue;
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), ids[i]);
	}
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	assert_int_equal(store_events_verify(f->s, &bad, why, sizeof why, &count, head), STORE_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(count, 1 + n_created);
}

/* A row refused in the middle of a statement of many rows: nothing of the
 * batch stays, and the chain goes on from where it was. */
static void test_batch_of_many_rows_all_or_nothing(void **state)
{
	struct fx *f = *state;
	struct store_new_job j[20];
	char names[20][16], ids[20][JOBS_ID_LEN + 1], head[65], why[160];
	int created[20];
	int64_t bad = -1, count = 0;

	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof names[i], "u-%d", i);
		j[i] = (struct store_new_job){ .tenant_id = i == 9 ? NULL : names[i],
					       .due_at = NOW, .deadline_at = NOW + DAY };
	}
	assert_int_equal(store_schedule(f->s, j, 20, SVCS, N_SVCS, NOW, ids, created), STORE_ERR);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM jobs"), 0);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM events"), 0);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks"), 0);
	fx_assert_states_kept(f->s);
	j[9].tenant_id = names[9];
	assert_int_equal(store_schedule(f->s, j, 20, SVCS, N_SVCS, NOW, ids, created), STORE_OK);
	assert_int_equal(store_events_verify(f->s, &bad, why, sizeof why, &count, head), STORE_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(count, 20);
}

static void test_cancel(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct job_record j;
	struct task_record *t;
	size_t n;

	sched(f->s, "acme", NOW + DAY, id);
	/* the suspend reached the service: cancel must compensate */
	fx_exec(f->s, "UPDATE tasks SET attempts = 1, state = 'succeeded' WHERE kind = 'suspend'");
	assert_int_equal(store_job_cancel(f->s, id, "alice", "customer stayed", SVCS, N_SVCS,
					  NOW + 5, &j), STORE_OK);
	assert_int_equal(j.state, JOB_CANCELLED);
	assert_int_equal(j.finished_at, NOW + 5);
	jobs_job_record_clear(&j);
	assert_int_equal(store_job_tasks(f->s, id, &t, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_non_null(fx_find_task(t, n, "orders", TASK_KIND_RESTORE));
	assert_int_equal(fx_find_task(t, n, "orders", TASK_KIND_RESTORE)->state, TASK_PENDING);
	assert_int_equal(fx_find_task(t, n, "orders", TASK_KIND_RESTORE)->next_attempt_at, NOW + 5);
	assert_int_equal(fx_find_task(t, n, "pos", TASK_KIND_DELETE)->state, TASK_SKIPPED);
	assert_int_equal(fx_find_task(t, n, "orders", TASK_KIND_SUSPEND)->state, TASK_SUCCEEDED);
	jobs_task_records_free(t, n);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM outbox WHERE type = 'job.cancelled'"), 1);

	/* twice: refused, and *out shows the job as it is */
	assert_int_equal(store_job_cancel(f->s, id, NULL, NULL, SVCS, N_SVCS, NOW, &j),
			 STORE_REFUSED);
	assert_int_equal(j.state, JOB_CANCELLED);
	jobs_job_record_clear(&j);
}

static void test_cancel_without_suspend_attempt_makes_no_restore(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];

	sched(f->s, "acme", NOW + DAY, id);
	assert_int_equal(store_job_cancel(f->s, id, NULL, NULL, SVCS, N_SVCS, NOW, NULL), STORE_OK);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks WHERE kind = 'restore'"), 0);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks WHERE kind = 'suspend'"
				     " AND state = 'skipped'"), 1);
}

static void test_unknown_job(void **state)
{
	struct fx *f = *state;
	const char *id = "01900000-0000-7000-8000-000000000000";
	struct job_record j;

	assert_int_equal(store_job_get(f->s, id, &j), STORE_NOT_FOUND);
	assert_int_equal(store_job_cancel(f->s, id, NULL, NULL, SVCS, N_SVCS, NOW, &j),
			 STORE_NOT_FOUND);
	assert_int_equal(store_job_hold(f->s, id, NULL, "r", NOW, &j), STORE_NOT_FOUND);
	assert_int_equal(store_job_release(f->s, id, NULL, NOW, &j), STORE_NOT_FOUND);
	assert_int_equal(store_job_retry(f->s, id, NULL, NULL, NOW, &j), STORE_NOT_FOUND);
}

/* Expects the transition's answer and, when it happened, the new state. */
static void expect(struct store *s, int rc, const char *id, const char *action,
		   int want_rc, enum job_state want_state)
{
	struct job_record j;
	(void)action;

	assert_int_equal(rc, want_rc);
	assert_int_equal(store_job_get(s, id, &j), STORE_OK);
	assert_int_equal(j.state, want_state);
	jobs_job_record_clear(&j);
}

static void test_hold_release(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	char id[JOBS_ID_LEN + 1];
	struct job_record j;

	sched(s, "acme", NOW + DAY, id);
	expect(s, store_job_hold(s, id, "bob", "litigation", NOW, &j), id, "hold", STORE_OK,
	       JOB_HELD);
	assert_int_equal(j.held_from, JOB_SCHEDULED);
	assert_string_equal(j.hold_reason, "litigation");
	jobs_job_record_clear(&j);
	expect(s, store_job_hold(s, id, "bob", "again", NOW, NULL), id, "hold", STORE_REFUSED,
	       JOB_HELD);
	expect(s, store_job_cancel(s, id, NULL, NULL, SVCS, N_SVCS, NOW, NULL), id, "cancel",
	       STORE_REFUSED, JOB_HELD);
	expect(s, store_job_retry(s, id, NULL, NULL, NOW, NULL), id, "retry", STORE_REFUSED,
	       JOB_HELD);
	expect(s, store_job_release(s, id, "bob", NOW, &j), id, "release", STORE_OK,
	       JOB_SCHEDULED);
	assert_null(j.hold_reason);
	jobs_job_record_clear(&j);
	expect(s, store_job_release(s, id, "bob", NOW, NULL), id, "release", STORE_REFUSED,
	       JOB_SCHEDULED);
	assert_int_equal(fx_int(s, "SELECT count(*) FROM outbox WHERE type IN"
				  " ('job.held','job.released')"), 2);
	/* a hold needs a reason: refused by the rule (jobs_action_check), not
	 * a database error, and the job is left as it is */
	expect(s, store_job_hold(s, id, "bob", "", NOW, &j), id, "hold", STORE_REFUSED,
	       JOB_SCHEDULED);
	assert_string_equal(j.id, id);
	jobs_job_record_clear(&j);
	assert_string_equal(store_last_error(s), "a hold needs a reason");
	expect(s, store_job_hold(s, id, "bob", NULL, NOW, NULL), id, "hold", STORE_REFUSED,
	       JOB_SCHEDULED);
}

static void test_running_and_failed(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	char id[JOBS_ID_LEN + 1];

	sched(s, "acme", NOW, id);
	assert_int_equal(fx_start_due(s, NOW), 1);
	expect(s, store_job_cancel(s, id, NULL, NULL, SVCS, N_SVCS, NOW, NULL), id, "cancel",
	       STORE_REFUSED, JOB_RUNNING);
	expect(s, store_job_retry(s, id, NULL, NULL, NOW, NULL), id, "retry (nothing dead)",
	       STORE_REFUSED, JOB_RUNNING);
	expect(s, store_job_hold(s, id, NULL, "audit", NOW, NULL), id, "hold", STORE_OK, JOB_HELD);
	expect(s, store_job_release(s, id, NULL, NOW, NULL), id, "release", STORE_OK, JOB_RUNNING);

	set_job_state(s, id, "failed");
	fx_exec(s, "UPDATE tasks SET state = 'dead', attempts = 20, first_attempt_at = 1,"
		" last_error = 'HTTP 401' WHERE service = 'pos' AND kind = 'delete'");
	expect(s, store_job_hold(s, id, NULL, "audit", NOW, NULL), id, "hold", STORE_OK, JOB_HELD);
	expect(s, store_job_release(s, id, NULL, NOW, NULL), id, "release", STORE_OK, JOB_FAILED);
	expect(s, store_job_retry(s, id, "orders", NULL, NOW, NULL), id, "retry other service",
	       STORE_REFUSED, JOB_FAILED);
	expect(s, store_job_retry(s, id, "pos", "ops", NOW + 7, NULL), id, "retry", STORE_OK,
	       JOB_RUNNING);
	assert_int_equal(fx_int(s, "SELECT attempts FROM tasks WHERE service = 'pos'"
				  " AND kind = 'delete' AND state = 'waiting'"), 0);
	assert_int_equal(fx_int(s, "SELECT next_attempt_at FROM tasks WHERE service = 'pos'"
				  " AND kind = 'delete'"), NOW + 7);
	assert_int_equal(fx_int(s, "SELECT count(*) FROM events WHERE type = 'job.retried'"), 1);
	assert_int_equal(fx_int(s, "SELECT count(*) FROM outbox WHERE type = 'job.running'"), 1);
}

static void test_terminal_refuses_everything(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	char id[JOBS_ID_LEN + 1];

	sched(s, "acme", NOW, id);
	set_job_state(s, id, "succeeded");
	expect(s, store_job_cancel(s, id, NULL, NULL, SVCS, N_SVCS, NOW, NULL), id, "cancel",
	       STORE_REFUSED, JOB_SUCCEEDED);
	expect(s, store_job_hold(s, id, NULL, "r", NOW, NULL), id, "hold", STORE_REFUSED,
	       JOB_SUCCEEDED);
	expect(s, store_job_release(s, id, NULL, NOW, NULL), id, "release", STORE_REFUSED,
	       JOB_SUCCEEDED);
	expect(s, store_job_retry(s, id, NULL, NULL, NOW, NULL), id, "retry", STORE_REFUSED,
	       JOB_SUCCEEDED);
	/* a succeeded job does not block a new one */
	assert_int_equal(sched(s, "acme", NOW, id), 1);
}

struct collected {
	char tenants[16][16];
	int n;
	int stop_after;
};

static int collect(void *ctx, const struct job_record *j)
{
	struct collected *c = ctx;

	if (c->n < 16)
		snprintf(c->tenants[c->n], sizeof c->tenants[0], "%s", j->tenant_id);
	c->n++;
	return c->stop_after > 0 && c->n >= c->stop_after;
}

static struct collected list(struct store *s, struct store_list_filter flt)
{
	struct collected c = { .n = 0 };

	flt.now = NOW;
	assert_int_equal(store_job_list(s, &flt, collect, &c), STORE_OK);
	return c;
}

static void test_list_filters_and_order(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	char a[JOBS_ID_LEN + 1], b[JOBS_ID_LEN + 1], c[JOBS_ID_LEN + 1], d[JOBS_ID_LEN + 1];
	struct collected r;

	sched(s, "a", NOW + 3 * DAY, a);  /* created first */
	sched(s, "b", NOW + 1 * DAY, b);
	sched(s, "c", NOW - 3 * DAY, c);  /* deadline NOW - 2d: overdue */
	sched(s, "d", NOW + 2 * DAY, d);
	store_job_cancel(s, d, NULL, NULL, SVCS, N_SVCS, NOW, NULL);

	r = list(s, (struct store_list_filter){ 0 });
	assert_int_equal(r.n, 4);
	assert_string_equal(r.tenants[0], "d"); /* newest first */
	assert_string_equal(r.tenants[3], "a");
	r = list(s, (struct store_list_filter){ .state = "cancelled" });
	assert_int_equal(r.n, 1);
	assert_string_equal(r.tenants[0], "d");
	r = list(s, (struct store_list_filter){ .tenant_id = "b" });
	assert_int_equal(r.n, 1);
	r = list(s, (struct store_list_filter){ .due_before = NOW + 2 * DAY + 1 });
	assert_int_equal(r.n, 2); /* d is cancelled, a is later */
	assert_string_equal(r.tenants[0], "c"); /* soonest first, already due included */
	assert_string_equal(r.tenants[1], "b");
	r = list(s, (struct store_list_filter){ .overdue = 1 });
	assert_int_equal(r.n, 1);
	assert_string_equal(r.tenants[0], "c");
	/* marked past its deadline (the engine does), it is still overdue; a
	 * cancelled job never is */
	fx_exec(s, "UPDATE jobs SET deadline_missed = 1, deadline_at = 1 WHERE tenant_id IN ('c', 'd')");
	r = list(s, (struct store_list_filter){ .overdue = 1 });
	assert_int_equal(r.n, 1);
	assert_string_equal(r.tenants[0], "c");
	r = list(s, (struct store_list_filter){ .overdue = 1, .late_first = 1 });
	assert_int_equal(r.n, 1);
	r = list(s, (struct store_list_filter){ .limit = 2 });
	assert_int_equal(r.n, 2);
	r = list(s, (struct store_list_filter){ .state = "scheduled", .due_before = NOW + 10 * DAY,
						 .limit = 1 });
	assert_int_equal(r.n, 1);
	assert_string_equal(r.tenants[0], "c");
	r = list(s, (struct store_list_filter){ .tenant_id = "a", .overdue = 1 });
	assert_int_equal(r.n, 0);
	/* the callback can stop early */
	{
		struct collected st = { .stop_after = 1 };
		struct store_list_filter flt = { .now = NOW };
		assert_int_equal(store_job_list(s, &flt, collect, &st), STORE_OK);
		assert_int_equal(st.n, 1);
	}
}

static enum sched_owner always_dead(void *ctx, const char *owner)
{
	return SCHED_OWNER_DEAD;
}

/* Claims the job's due delete tasks as a process that then dies (after
 * running history, SQL that may be NULL, to give the tasks a past), and
 * lets another take them back under the policy; returns the orders task. */
static struct task_record reclaim_after_crash(struct fx *f, const struct policy_retry *p,
					       char id[JOBS_ID_LEN + 1], const char *history)
{
	struct sched_service svcs[] = {
		{ .name = "orders", .phase = 1, .enabled = 1, .max_in_flight = 8, .lease_ms = DAY,
		  .preview_first = 1 },
	};
	struct sched_claimed *c = NULL;
	struct task_record *t, out;
	struct sched_maint m;
	size_t n = 0;
	struct sched_lease ids[8];
	int held[8];

	sched(f->s, "crashy", NOW, id);
	fx_start_due(f->s, NOW);
	assert_int_equal(sched_claim_tasks(f->s, "host/boot/1/1", svcs, 1, 0, 8, NOW, &c, &n),
			 STORE_OK);
	assert_true(n >= 1 && n <= 8); /* orders' delete (and its suspend) */
	/* the delete previews first: its claim counts nothing; then the calls
	 * went out (counted) before the process died */
	assert_int_equal(fx_int(f->s, "SELECT attempts FROM tasks WHERE service = 'orders'"
				     " AND kind = 'delete'"), 0);
	for (size_t i = 0; i < n; i++)
		ids[i] = (struct sched_lease){ c[i].task_id, c[i].lease_until };
	assert_int_equal(sched_count_sent(f->s, "host/boot/1/1", ids, n, NOW, held), STORE_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(held[i], 1);
	sched_claimed_free(c, n);
	if (history != NULL)
		fx_exec(f->s, history);
	assert_int_equal(sched_maintain(f->s, "host/boot/2/2", always_dead, NULL, 0, p, 0, NOW + 1,
					&m), STORE_OK);
	assert_int_equal(m.reclaimed, (int)n);
	assert_int_equal(store_job_tasks(f->s, id, &t, &n), STORE_OK);
	out = *fx_find_task(t, n, "orders", TASK_KIND_DELETE);
	out.service = xstrdup(out.service);
	out.last_error = xstrdup(out.last_error);
	out.deleted_counts = out.preview_before = out.skip_reason = out.lease_owner = NULL;
	jobs_task_records_free(t, n);
	return out;
}

/* A lost attempt is a failed one: retried while attempts remain ... */
static void test_reclaim_waits_while_attempts_remain(void **state)
{
	struct policy_retry p = { .base_delay_ms = 1000, .max_delay_ms = 1000, .max_attempts = 5 };
	char id[JOBS_ID_LEN + 1];
	struct task_record t = reclaim_after_crash(*state, &p, id, NULL);

	assert_int_equal(t.state, TASK_WAITING);
	assert_string_equal(t.last_error, "lease owner died");
	jobs_task_record_clear(&t);
}

/* ... and dead when it was the last one, so a task whose every attempt
 * kills its process cannot be retried for ever: the job fails. */
static void test_reclaim_of_the_last_attempt_kills_the_task(void **state)
{
	struct fx *f = *state;
	struct policy_retry p = { .base_delay_ms = 1000, .max_delay_ms = 1000, .max_attempts = 1 };
	char id[JOBS_ID_LEN + 1];
	struct task_record t = reclaim_after_crash(f, &p, id, NULL);
	struct job_record j;

	assert_int_equal(t.state, TASK_DEAD);
	assert_non_null(strstr(t.last_error, "gave up after 1 attempts"));
	assert_int_equal(store_job_get(f->s, id, &j), STORE_OK);
	assert_int_equal(j.state, JOB_FAILED);
	jobs_job_record_clear(&j);
	jobs_task_record_clear(&t);
}

/* The retry budget leaves out the free waits (waits the service asked
 * for): 3 calls sent, 2 of them free, is 1 of max_attempts 2 used. */
static void test_reclaim_budget_leaves_out_free_waits(void **state)
{
	struct policy_retry p = { .base_delay_ms = 1000, .max_delay_ms = 1000, .max_attempts = 2 };
	char id[JOBS_ID_LEN + 1];
	struct task_record t = reclaim_after_crash(*state, &p, id,
		"UPDATE tasks SET attempts = attempts + 2, free_waits = 2"
		" WHERE service = 'orders' AND kind = 'delete'");

	assert_int_equal(t.state, TASK_WAITING);
	assert_int_equal(t.attempts, 3); /* every call sent, the free ones too */
	jobs_task_record_clear(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schedule_creates_tasks_and_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schedule_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schedule_again_after_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_duplicate_maps_to_same_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_in_statements_of_many_rows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_batch_of_many_rows_all_or_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_without_suspend_attempt_makes_no_restore,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_running_and_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_terminal_refuses_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_filters_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_waits_while_attempts_remain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_of_the_last_attempt_kills_the_task,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_budget_leaves_out_free_waits, setup,
						teardown),
	};
	/* the errors provoked on purpose would only clutter the TAP output */
	fx_quiet_log(LOG_ERROR, "TEST_STORE_LOG");
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
