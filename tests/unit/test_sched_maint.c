/*
 * test_sched_maint.c - the scheduler's housekeeping against a real SQLite
 * file: lease reclaims (dead, live and unknown owners; a lease changed
 * since it was read is not taken), deadlines marked once (twice called,
 * two handles), and the store's changed token.
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
	return fx_setup(state, "test_sched_maint");
}

static int teardown(void **state)
{
	return fx_teardown(state);
}

/* ---- lease reclaim ---- */

static enum sched_owner judge_other(void *ctx, const char *owner)
{
	return *(enum sched_owner *)ctx;
}

/* ME's two claims, then OTHER looks at now, judging ME as who. */
static int reclaimed_when(struct fx *f, enum sched_owner who, int64_t now)
{
	struct sched_maint m;

	assert_int_equal(sched_maintain(f->s, OTHER, judge_other, &who, 0, NULL, 0, now, &m),
			 STORE_OK);
	return m.reclaimed;
}

static void test_reclaim_dead_owner_at_once(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c;
	size_t n = started_and_claimed(f, id, &c);

	assert_int_equal(reclaimed_when(f, SCHED_OWNER_DEAD, NOW + 1), 2);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE state = 'waiting'"
				     " AND next_attempt_at = %lld AND lease_owner IS NULL"
				     " AND last_error = 'lease owner died'", (long long)(NOW + 1)), 2);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM events WHERE type = 'task.attempt'"
				     " AND detail LIKE '%%\"lease_owner\":\"" ME "\"}'"), 2);
	sched_claimed_free(c, n);
}

static void test_reclaim_live_owner_never(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c;
	size_t n = started_and_claimed(f, id, &c);

	assert_int_equal(reclaimed_when(f, SCHED_OWNER_ALIVE, NOW + 100 * LEASE), 0);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE state = 'in_flight'"), 2);
	sched_claimed_free(c, n);
}

static void test_reclaim_unknown_owner_after_expiry(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c;
	size_t n = started_and_claimed(f, id, &c);

	/* the lease holds while now < its expiry */
	assert_int_equal(reclaimed_when(f, SCHED_OWNER_UNKNOWN, NOW + LEASE - 1), 0);
	assert_int_equal(reclaimed_when(f, SCHED_OWNER_UNKNOWN, NOW + LEASE), 2);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE state = 'waiting'"
				     " AND last_error = 'lease expired'"), 2);
	sched_claimed_free(c, n);
}

/* The takeover expects the lease it read: one claimed again since (by the
 * same owner) is not taken, and no event says it was. */
static void test_reclaim_guarded_by_lease_read(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct sched_claimed *c;
	size_t n = started_and_claimed(f, id, &c);
	struct store_idset dead = { 0 };
	struct sqlite_lost l = { .id = c[0].task_id, .service = c[0].service, .kind = "delete",
				.owner = ME, .lease_until = c[0].lease_until,
				.first_attempt_at = NOW, .why = "lease expired" };
	int taken = -1;

	snprintf(l.job_id, sizeof l.job_id, "%s", id);
	/* recorded and claimed again by the same owner after it was read */
	fx_exec(f->s, "UPDATE tasks SET lease_expires_at = lease_expires_at + 5"
		      " WHERE state = 'in_flight'");
	assert_int_equal(sqlite_begin(sqlite_of(f->s)), STORE_OK);
	assert_int_equal(sqlite_reclaim_one(sqlite_of(f->s), &l, NULL, NOW + LEASE + 1, &dead,
					    &taken), 0);
	assert_int_equal(sqlite_commit(sqlite_of(f->s)), STORE_OK);
	assert_int_equal(taken, 0);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM tasks WHERE state = 'in_flight'"), 2);
	assert_int_equal(events(f->s, id, "task.attempt"), 0);
	/* the lease as it is now is taken */
	l.lease_until += 5;
	assert_int_equal(sqlite_begin(sqlite_of(f->s)), STORE_OK);
	assert_int_equal(sqlite_reclaim_one(sqlite_of(f->s), &l, NULL, NOW + LEASE + 6, &dead,
					    &taken), 0);
	assert_int_equal(sqlite_commit(sqlite_of(f->s)), STORE_OK);
	assert_int_equal(taken, 1);
	assert_int_equal(events(f->s, id, "task.attempt"), 1);
	store_idset_free(&dead);
	sched_claimed_free(c, n);
}

/* ---- deadlines ---- */

static void test_deadline_missed_once(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	int marked = -1;

	schedule(f->s, "late", NOW, id);
	assert_int_equal(maintain(f->s, ME, NULL, NOW + DAY).missed, 1);
	assert_int_equal(events(f->s, id, "job.deadline_missed"), 1);
	/* a second writer that read the job before the first marked it */
	assert_int_equal(sqlite_begin(sqlite_of(f->s)), STORE_OK);
	assert_int_equal(sqlite_mark_missed(sqlite_of(f->s), id, NOW + DAY, &marked), 0);
	assert_int_equal(sqlite_commit(sqlite_of(f->s)), STORE_OK);
	assert_int_equal(marked, 0);
	assert_int_equal(events(f->s, id, "job.deadline_missed"), 1);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM outbox WHERE type ="
				     " 'job.deadline_missed'"), 1);
	assert_int_equal(maintain(f->s, ME, NULL, NOW + 2 * DAY).missed, 0);
}

/* Two handles on one file: each marks what it sees, one event in all. */
static void test_deadline_missed_two_handles(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1], err[256];
	struct store *other = fx_open(f->path, 0, err, sizeof err);
	int a = -1, b = -1;

	assert_non_null(other);
	schedule(f->s, "late", NOW, id);
	assert_int_equal(sqlite_begin(sqlite_of(f->s)), STORE_OK);
	assert_int_equal(sqlite_mark_missed(sqlite_of(f->s), id, NOW + DAY, &a), 0);
	assert_int_equal(sqlite_commit(sqlite_of(f->s)), STORE_OK);
	assert_int_equal(sqlite_begin(sqlite_of(other)), STORE_OK);
	assert_int_equal(sqlite_mark_missed(sqlite_of(other), id, NOW + DAY, &b), 0);
	assert_int_equal(sqlite_commit(sqlite_of(other)), STORE_OK);
	assert_int_equal(a + b, 1);
	assert_int_equal(events(f->s, id, "job.deadline_missed"), 1);
	/* a job not past its deadline, or finished, is not marked */
	fx_exec(f->s, "UPDATE jobs SET deadline_missed = 0");
	assert_int_equal(sqlite_begin(sqlite_of(f->s)), STORE_OK);
	assert_int_equal(sqlite_mark_missed(sqlite_of(f->s), id, NOW, &a), 0);
	job_state(f->s, id, "cancelled");
	assert_int_equal(sqlite_mark_missed(sqlite_of(f->s), id, NOW + DAY, &b), 0);
	assert_int_equal(sqlite_commit(sqlite_of(f->s)), STORE_OK);
	assert_int_equal(a + b, 0);
	store_close(other);
}

/* ---- the changed token ---- */

static void test_changed_token(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1], err[256];
	struct store *other = fx_open(f->path, 0, err, sizeof err);
	uint64_t t0, t1, t2;

	assert_non_null(other);
	assert_int_equal(store_changed_token(f->s, &t0), STORE_OK);
	assert_int_equal(store_changed_token(f->s, &t1), STORE_OK);
	assert_true(t0 == t1); /* nothing happened */
	schedule(other, "acme", NOW, id);
	assert_int_equal(store_changed_token(f->s, &t2), STORE_OK);
	assert_true(t2 != t1); /* another handle committed */
	store_close(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reclaim_dead_owner_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_live_owner_never, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_unknown_owner_after_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_guarded_by_lease_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_missed_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_missed_two_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_token, setup, teardown),
	};

	log_set_level(LOG_ERROR + 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
