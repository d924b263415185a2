/*
 * test_sched.c - the scheduler's side of the store against a real SQLite
 * file: the group commit (a batch of results in one transaction, counts
 * added up, a late result fenced off by its lease), job evaluation as the
 * engine meets it (phases, success and tombstone, failure, held jobs, a
 * failed job running again), and the next wake-up. Housekeeping (reclaims,
 * deadlines) is test_sched_maint.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/sqlite/sched_int.h"
#include "util/log.h"
#include "util/util.h"
#include "tests/unit/store_fixture.h"
#include "tests/unit/sched_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "test_sched");
}

static int teardown(void **state)
{
	return fx_teardown(state);
}

/* The kept counts of jobs by state, and how many jobs there are. */
static void assert_states_kept(struct store *s, int64_t jobs)
{
	fx_assert_states_kept(s);
	assert_int_equal(q_int(s, "SELECT count(*) FROM jobs"), jobs);
}

/* ---- the group commit ---- */

static void test_record_batch_one_transaction(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c;
	size_t n = started_and_claimed(f, id, &c);
	struct sched_result r[2] = { result(&c[0], TASK_SUCCEEDED, 0),
				     result(&c[1], TASK_WAITING, NOW + 5000) };
	int failed = -1;
	uint64_t before, after;
	struct store *other;
	char err[256];

	other = fx_open(f->path, 0, err, sizeof err);
	assert_non_null(other);
	assert_int_equal(store_changed_token(other, &before), STORE_OK);
	assert_int_equal(sched_record_results(f->s, ME, r, n, SVCS, N_SVCS, NOW + 10, &failed),
			 STORE_OK);
	assert_int_equal(failed, 0);
	/* one commit: the other handle sees one change, everything at once */
	assert_int_equal(store_changed_token(other, &after), STORE_OK);
	assert_true(after != before);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE id = %lld AND state ="
				     " 'succeeded' AND lease_owner IS NULL AND total_deleted = 3",
			       (long long)c[0].task_id), 1);
	assert_int_equal(q_int(f->s, "SELECT next_attempt_at FROM tasks WHERE id = %lld",
			       (long long)c[1].task_id), NOW + 5000);
	assert_int_equal(events(f->s, id, "task.attempt"), 2);
	assert_int_equal(q_int(f->s, "SELECT value FROM counters WHERE name = 'attempts'"
				     " AND service = '%s' AND label = 'success'", c[0].service), 1);
	assert_int_equal(q_int(f->s, "SELECT value FROM counters WHERE name = 'attempts'"
				     " AND service = '%s' AND label = 'retry'", c[1].service), 1);
	assert_int_equal(q_int(f->s, "SELECT value FROM counters WHERE name = 'deleted'"), 3);
	store_close(other);
	sched_claimed_free(c, n);
}

/* A second call adds its counts to what the first deleted. */
static void test_record_adds_up_counts(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c, *again;
	size_t n = started_and_claimed(f, id, &c);
	struct sched_result r = result(&c[0], TASK_WAITING, NOW + 1);

	r.counts_json = "{\"rows\":2,\"logs\":1}";
	r.total = 3;
	assert_int_equal(sched_record_results(f->s, ME, &r, 1, SVCS, N_SVCS, NOW, NULL),
			 STORE_OK);
	sched_claimed_free(c, n);
	assert_int_equal(claim(f->s, ME, NOW + 1, &again), 1);
	r = result(&again[0], TASK_SUCCEEDED, 0);
	assert_int_equal(sched_record_results(f->s, ME, &r, 1, SVCS, N_SVCS, NOW + 2, NULL),
			 STORE_OK);
	assert_int_equal(q_int(f->s, "SELECT total_deleted FROM tasks WHERE id = %lld",
			       (long long)again[0].task_id), 6);
	assert_int_equal(q_int(f->s, "SELECT deleted_counts = '{\"rows\":5,\"logs\":1}'"
				     " FROM tasks WHERE id = %lld", (long long)again[0].task_id), 1);
	sched_claimed_free(again, 1);
}

/*
 * A late result whose lease was taken over changes nothing: the lease ran
 * out, another process took it back, and this very owner claimed the task
 * again (a new lease). The first attempt's answer must not overwrite the
 * second attempt's row; it is still an event (lease_lost), whatever detail
 * the engine made for it beforehand (r->detail is for a kept record), and
 * a kept record's event carries that detail as made.
 */
static void test_late_result_fenced_by_lease(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c, *again;
	size_t n = started_and_claimed(f, id, &c);
	struct sched_result late = result(&c[0], TASK_SUCCEEDED, 0);
	struct sched_lease lease = { c[0].task_id, c[0].lease_until };
	int held = -1;

	/* what the engine made for it, were it kept: not written */
	late.detail = "{\"made\":\"by the engine\"}";

	assert_int_equal(maintain(f->s, OTHER, NULL, NOW + LEASE + 1).reclaimed, 2);
	assert_int_equal(claim(f->s, ME, NOW + LEASE + 2, &again), 2);
	/* the first attempt's call may not be counted under the new lease */
	assert_int_equal(sched_count_sent(f->s, ME, &lease, 1, NOW + LEASE + 3, &held), STORE_OK);
	assert_int_equal(held, 0);
	assert_int_equal(sched_record_results(f->s, ME, &late, 1, SVCS, N_SVCS, NOW + LEASE + 3,
					      NULL), STORE_OK);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE id = %lld AND state ="
				     " 'in_flight' AND lease_expires_at = %lld",
			       (long long)c[0].task_id, (long long)(NOW + LEASE + 2 + LEASE)), 1);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM events WHERE type = 'task.attempt'"
				     " AND detail LIKE '%%\"state\":\"lease_lost\"%%'"), 1);
	assert_int_equal(q_int(f->s, "SELECT state = 'running' FROM jobs WHERE id = '%s'", id), 1);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM events WHERE detail LIKE '%%made%%'"), 0);
	/* the second attempt's own result is taken, with the detail made for it */
	late = result(&again[0], TASK_SUCCEEDED, 0);
	late.detail = "{\"made\":\"by the engine\"}";
	assert_int_equal(sched_record_results(f->s, ME, &late, 1, SVCS, N_SVCS, NOW + LEASE + 4,
					      NULL), STORE_OK);
	assert_int_equal(q_int(f->s, "SELECT state = 'succeeded' FROM tasks WHERE id = %lld",
			       (long long)again[0].task_id), 1);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM events WHERE type = 'task.attempt'"
				     " AND detail = '{\"made\":\"by the engine\"}'"), 1);
	sched_claimed_free(c, n);
	sched_claimed_free(again, 2);
}

/* Another owner's claim fences off this owner's late result too. */
static void test_late_result_of_other_owner(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c, *again;
	size_t n = started_and_claimed(f, id, &c);
	struct sched_result late = result(&c[0], TASK_DEAD, 0);
	int failed = -1;

	assert_int_equal(maintain(f->s, OTHER, NULL, NOW + LEASE + 1).reclaimed, 2);
	assert_int_equal(claim(f->s, OTHER, NOW + LEASE + 2, &again), 2);
	assert_int_equal(sched_record_results(f->s, ME, &late, 1, SVCS, N_SVCS, NOW + LEASE + 3,
					      &failed), STORE_OK);
	assert_int_equal(failed, 0); /* a dead result that was not taken fails nothing */
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE state = 'in_flight'"
				     " AND lease_owner = '" OTHER "'"), 2);
	sched_claimed_free(c, n);
	sched_claimed_free(again, 2);
}

/* ---- job evaluation, as the group commit applies it ---- */

static void test_phases_then_success_and_tombstone(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c, *c2;
	size_t n = started_and_claimed(f, id, &c);
	struct sched_result r[2] = { result(&c[0], TASK_SUCCEEDED, 0),
				     result(&c[1], TASK_SUCCEEDED, 0) };

	/* phase 2 (tenant) is not due while phase 1 runs */
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE service = 'tenant'"
				     " AND next_attempt_at IS NULL"), 1);
	assert_int_equal(sched_record_results(f->s, ME, r, 1, SVCS, N_SVCS, NOW + 1, NULL),
			 STORE_OK);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE service = 'tenant'"
				     " AND next_attempt_at IS NULL"), 1);
	assert_int_equal(sched_record_results(f->s, ME, r + 1, 1, SVCS, N_SVCS, NOW + 2, NULL),
			 STORE_OK);
	assert_int_equal(q_int(f->s, "SELECT next_attempt_at FROM tasks WHERE service ="
				     " 'tenant'"), NOW + 2);
	assert_int_equal(claim(f->s, ME, NOW + 3, &c2), 1);
	r[0] = result(&c2[0], TASK_SUCCEEDED, 0);
	assert_int_equal(sched_record_results(f->s, ME, r, 1, SVCS, N_SVCS, NOW + 4, NULL),
			 STORE_OK);
	assert_int_equal(q_int(f->s, "SELECT state = 'succeeded' AND finished_at = %lld FROM jobs"
				     " WHERE id = '%s'", (long long)(NOW + 4), id), 1);
	assert_int_equal(events(f->s, id, "job.succeeded"), 1);
	assert_int_equal(q_int(f->s, "SELECT services = '[\"orders\",\"pos\",\"tenant\"]'"
				     " FROM tombstones WHERE job_id = '%s'", id), 1);
	assert_states_kept(f->s, 1);
	sched_claimed_free(c, n);
	sched_claimed_free(c2, 1);
}

static void test_dead_task_fails_job_once(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c;
	size_t n = started_and_claimed(f, id, &c);
	struct sched_result r[2] = { result(&c[0], TASK_DEAD, 0), result(&c[1], TASK_DEAD, 0) };
	int failed = -1;

	assert_int_equal(sched_record_results(f->s, ME, r, 2, SVCS, N_SVCS, NOW + 1, &failed),
			 STORE_OK);
	assert_int_equal(failed, 1);
	assert_int_equal(events(f->s, id, "job.failed"), 1);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM events WHERE type = 'job.failed'"
				     " AND detail = '{\"dead_tasks\":2}'"), 1);
	assert_int_equal(q_int(f->s, "SELECT state = 'failed' FROM jobs WHERE id = '%s'", id), 1);
	/* the sweep finds nothing more to do */
	assert_int_equal(sched_sweep_jobs(f->s, NOW + 2), STORE_OK);
	assert_int_equal(events(f->s, id, "job.failed"), 1);
	sched_claimed_free(c, n);
}

/* A held job is left alone: its dead task fails nothing until released. */
static void test_held_job_not_evaluated(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c;
	size_t n = started_and_claimed(f, id, &c);
	struct sched_result r = result(&c[0], TASK_DEAD, 0);
	int failed = -1;

	job_state(f->s, id, "held");
	assert_int_equal(sched_record_results(f->s, ME, &r, 1, SVCS, N_SVCS, NOW + 1, &failed),
			 STORE_OK);
	assert_int_equal(failed, 0);
	assert_int_equal(q_int(f->s, "SELECT state = 'held' FROM jobs WHERE id = '%s'", id), 1);
	job_state(f->s, id, "running");
	assert_int_equal(sched_sweep_jobs(f->s, NOW + 2), STORE_OK);
	assert_int_equal(q_int(f->s, "SELECT state = 'failed' FROM jobs WHERE id = '%s'", id), 1);
	sched_claimed_free(c, n);
}

/* A failed job whose dead task went back to waiting runs again. */
static void test_failed_job_resumes(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c;
	size_t n = started_and_claimed(f, id, &c);
	struct sched_result r = result(&c[0], TASK_DEAD, 0);

	assert_int_equal(sched_record_results(f->s, ME, &r, 1, SVCS, N_SVCS, NOW + 1, NULL),
			 STORE_OK);
	fx_exec(f->s, "UPDATE tasks SET state = 'waiting', next_attempt_at = 1 WHERE state = 'dead'");
	assert_int_equal(sched_sweep_jobs(f->s, NOW + 2), STORE_OK);
	assert_int_equal(q_int(f->s, "SELECT state = 'running' AND finished_at IS NULL FROM jobs"
				     " WHERE id = '%s'", id), 1);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM events WHERE type = 'job.running'"
				     " AND detail = '{\"from\":\"failed\",\"reason\":\"no dead task"
				     " left\"}'"), 1);
	assert_states_kept(f->s, 1);
	sched_claimed_free(c, n);
}

/* ---- the next wake-up ---- */

static void test_next_wake(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1], b[JOBS_ID_LEN + 1], later[JOBS_ID_LEN + 1];
	struct sched_claimed *c;
	struct sched_result r[2];
	int64_t at;
	size_t n;

	schedule(f->s, "a", NOW, a);
	schedule(f->s, "b", NOW, b);
	maintain(f->s, ME, NULL, NOW);
	n = claim(f->s, ME, NOW, &c);
	assert_int_equal(n, 4);
	schedule(f->s, "later", NOW + 10 * LEASE, later);
	/* every task in flight under this owner: the next scheduled job's due
	 * time, or a deadline (a day on), whichever comes first */
	assert_int_equal(sched_next_wake(f->s, ME, SVCS, N_SVCS, NOW, &at), STORE_OK);
	assert_int_equal(at, NOW + 10 * LEASE);
	/* another owner's lease counts: its expiry */
	assert_int_equal(sched_next_wake(f->s, OTHER, SVCS, N_SVCS, NOW, &at), STORE_OK);
	assert_int_equal(at, NOW + LEASE);
	/* the earliest waiting task over the services: a's pos at +3 s */
	for (size_t i = 0, k = 0; i < n; i++)
		if (strcmp(c[i].job_id, a) == 0)
			r[k++] = result(&c[i], TASK_WAITING,
					NOW + (strcmp(c[i].service, "pos") == 0 ? 3000 : 5000));
	assert_int_equal(sched_record_results(f->s, ME, r, 2, SVCS, N_SVCS, NOW, NULL), STORE_OK);
	assert_int_equal(sched_next_wake(f->s, ME, SVCS, N_SVCS, NOW, &at), STORE_OK);
	assert_int_equal(at, NOW + 3000);
	/* a disabled service's work never counts */
	{
		struct sched_service off[N_SVCS];
		memcpy(off, SVCS, sizeof off);
		off[1].enabled = 0;
		assert_int_equal(sched_next_wake(f->s, ME, off, N_SVCS, NOW, &at), STORE_OK);
		assert_int_equal(at, NOW + 5000);
	}
	/* a held job's waiting tasks never count */
	job_state(f->s, a, "held");
	assert_int_equal(sched_next_wake(f->s, ME, SVCS, N_SVCS, NOW, &at), STORE_OK);
	assert_int_equal(at, NOW + 10 * LEASE);
	/* an open breaker wakes the loop when its cool-off ends */
	fx_exec(f->s, "INSERT INTO breakers (service, state, failures, open_until, updated_at)"
		      " VALUES ('pos', 'open', 5, 1800000030000, 0)");
	assert_int_equal(sched_next_wake(f->s, ME, SVCS, N_SVCS, NOW, &at), STORE_OK);
	assert_int_equal(at, NOW + 30000);
	sched_claimed_free(c, n);
}

/* Nothing ahead: an idle process sleeps. Later phases do not count. */
static void test_next_wake_idle(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	int64_t at;

	assert_int_equal(sched_next_wake(f->s, ME, SVCS, N_SVCS, NOW, &at), STORE_OK);
	assert_int_equal(at, INT64_MAX);
	schedule(f->s, "acme", NOW, id);
	maintain(f->s, ME, NULL, NOW);
	fx_exec(f->s, "UPDATE tasks SET state = 'succeeded' WHERE phase = 1");
	fx_exec(f->s, "UPDATE jobs SET deadline_missed = 1");
	/* phase 2 is pending, not opened yet (the evaluation opens it) */
	assert_int_equal(sched_next_wake(f->s, ME, SVCS, N_SVCS, NOW, &at), STORE_OK);
	assert_int_equal(at, INT64_MAX);
}

/* ---- claims ---- */

/* Less room than the services have due work: each gets its share, oldest
 * jobs first, so the same jobs' tasks go out together (then the room the
 * others left goes to those with more). */
static void test_claim_shares_room(void **state)
{
	struct fx *f = *state;
	char ids[3][JOBS_ID_LEN + 1];
	struct sched_claimed *c = NULL;
	size_t n = 0;

	schedule(f->s, "acme", NOW, ids[0]);
	schedule(f->s, "beta", NOW, ids[1]);
	schedule(f->s, "gamma", NOW, ids[2]);
	assert_int_equal(maintain(f->s, ME, NULL, NOW).started, 3);
	assert_states_kept(f->s, 3);
	assert_int_equal(sched_claim_tasks(f->s, ME, SVCS, N_SVCS, 0, 4, NOW, &c, &n), STORE_OK);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++)
		assert_true(strcmp(c[i].job_id, ids[0]) == 0 || strcmp(c[i].job_id, ids[1]) == 0);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE state = 'in_flight'"
				     " AND service = 'orders'"), 2);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE state = 'in_flight'"
				     " AND service = 'pos'"), 2);
	sched_claimed_free(c, n);
	/* one service with nothing due: the other takes the room left */
	fx_exec(f->s, "UPDATE tasks SET next_attempt_at = NULL WHERE service = 'pos'");
	assert_int_equal(sched_claim_tasks(f->s, ME, SVCS, N_SVCS, 1, 4, NOW, &c, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].service, "orders");
	assert_string_equal(c[0].job_id, ids[2]);
	sched_claimed_free(c, n);
}

/* Services that defer (the last phase's) and have only young tasks due
 * share the room left as the others do theirs: the first in turn does not
 * take it all; then what one leaves goes to the other. */
static void test_deferring_services_share_the_room_left(void **state)
{
	struct fx *f = *state;
	struct sched_service svcs[N_SVCS];
	char id[JOBS_ID_LEN + 1], tenant[16];
	struct sched_claimed *c = NULL;
	size_t n = 0;

	memcpy(svcs, SVCS, sizeof svcs);
	svcs[0].defer_ms = svcs[1].defer_ms = 1000;
	for (int i = 0; i < 5; i++) {
		snprintf(tenant, sizeof tenant, "t%d", i);
		schedule(f->s, tenant, NOW, id);
	}
	assert_int_equal(maintain(f->s, ME, NULL, NOW).started, 5);
	assert_int_equal(sched_claim_tasks(f->s, ME, svcs, N_SVCS, 0, 4, NOW + 10, &c, &n),
			 STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE state = 'in_flight'"
				     " AND service = 'orders'"), 2);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE state = 'in_flight'"
				     " AND service = 'pos'"), 2);
	sched_claimed_free(c, n);
	fx_exec(f->s, "UPDATE tasks SET next_attempt_at = NULL WHERE service = 'pos'"
		      " AND state = 'pending'");
	assert_int_equal(sched_claim_tasks(f->s, ME, svcs, N_SVCS, 0, 4, NOW + 20, &c, &n),
			 STORE_OK);
	assert_int_equal(n, 3); /* orders' share (2), then pos's room left (1) */
	sched_claimed_free(c, n);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE state = 'in_flight'"
				     " AND service = 'orders'"), 5);
}

/* A job of many services starts, and its first phase opens, a few rows a
 * statement (SQLITE_ROWS_A_STATEMENT): no statement's journal outgrows
 * memory, however many services; every task is created, the first
 * phase's due at once, the last's left for later. */
static void test_many_services_start_without_spilling(void **state)
{
	enum { N = 40, JOBS = 150 };
	struct fx *f = *state;
	struct store_service svcs[N];
	char names[N][16], ids[JOBS][JOBS_ID_LEN + 1], tenant[24];
	struct walbuf_stats before, after;
	int created;

	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "svc%02d", i);
		svcs[i] = (struct store_service){ .name = names[i], .phase = i == N - 1 ? 2 : 1 };
	}
	for (int i = 0; i < JOBS; i++) {
		struct store_new_job j = { .tenant_id = tenant, .requested_by = "test",
					   .due_at = NOW, .deadline_at = NOW + DAY };
		snprintf(tenant, sizeof tenant, "many-%03d", i);
		assert_int_equal(store_schedule(f->s, &j, 1, svcs, N, NOW, &ids[i], &created),
				 STORE_OK);
	}
	sqlite_walbuf_stats(&before);
	while (maintain(f->s, ME, NULL, NOW).started > 0)
		;
	sqlite_walbuf_stats(&after);
	assert_int_equal(after.spilled, before.spilled);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks"), JOBS * N);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE next_attempt_at = %lld",
			       (long long)NOW), JOBS * (N - 1));
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE phase = 2"
				     " AND next_attempt_at IS NULL"), JOBS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_batch_one_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_adds_up_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_result_fenced_by_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_result_of_other_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phases_then_success_and_tombstone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_task_fails_job_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_job_not_evaluated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_job_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_wake_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_shares_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferring_services_share_the_room_left, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_services_start_without_spilling, setup,
						teardown),
	};

	log_set_level(LOG_ERROR + 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
