/*
 * test_store_guards.c - every write states what it expects. Two handles on
 * one file: handle A reads a job, handle B changes it, then A writes what
 * it decided from its stale read (sqlite_action_apply, the write half of
 * each operator transition). The write must change nothing and answer
 * STORE_REFUSED, "moved meanwhile". Also: binding a name a statement does
 * not have aborts, and the event chain stays one line across handles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite/sqlite_int.h"
#include "util/util.h"
#include "tests/unit/store_fixture.h"

static const struct store_service SVCS[] = {
	{ .name = "orders", .phase = 1, .has_suspend = 1, .has_restore = 1 },
	{ .name = "tenant", .phase = 2 },
};
#define N_SVCS 2

/* The fixture's store is handle A; b is a second handle on the same file. */
struct two {
	struct fx *f;
	struct store *b;
	char id[JOBS_ID_LEN + 1];
};

static int setup(void **state)
{
	struct store_new_job j = { .tenant_id = "acme", .requested_by = "test", .reason = "unit",
				   .due_at = NOW + DAY, .deadline_at = NOW + 2 * DAY };
	char ids[1][JOBS_ID_LEN + 1], err[256];
	struct two *t = xcalloc(1, sizeof *t);
	int created;

	fx_setup((void **)&t->f, "test_store_guards");
	t->b = fx_open(t->f->path, 0, err, sizeof err);
	assert_non_null(t->b);
	assert_int_equal(store_schedule(t->f->s, &j, 1, SVCS, N_SVCS, NOW, ids, &created),
			 STORE_OK);
	memcpy(t->id, ids[0], sizeof t->id);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct two *t = *state;

	store_close(t->b);
	fx_teardown((void **)&t->f);
	free(t);
	return 0;
}

static enum job_state state_of(struct store *s, const char *id)
{
	struct job_record j;
	enum job_state st;

	assert_int_equal(store_job_get(s, id, &j), STORE_OK);
	st = j.state;
	jobs_job_record_clear(&j);
	return st;
}

/*
 * A applies a on its stale read of the job (cur): refused, nothing
 * written (no event, no outbox row), the job left as B made it.
 */
static void expect_moved(struct two *t, const struct job_record *cur,
			 const struct store_action *a, enum job_state now_state)
{
	struct store *s = t->f->s;
	int64_t events = fx_int(s, "SELECT COUNT(*) FROM events");
	int64_t outbox = fx_int(s, "SELECT COUNT(*) FROM outbox");
	struct job_record out = { 0 };

	assert_int_equal(sqlite_begin(sqlite_of(s)), STORE_OK);
	assert_int_equal(sqlite_action_apply(sqlite_of(s), cur, a, &out), STORE_REFUSED);
	sqlite_rollback(sqlite_of(s));
	jobs_job_record_clear(&out);
	assert_string_equal(store_last_error(s), "the job moved meanwhile");
	assert_int_equal(state_of(s, t->id), now_state);
	assert_int_equal(fx_int(s, "SELECT COUNT(*) FROM events"), events);
	assert_int_equal(fx_int(s, "SELECT COUNT(*) FROM outbox"), outbox);
}

/* Held by B after A read it scheduled: A's cancel must not cancel a held job. */
static void test_cancel_of_a_job_held_meanwhile(void **state)
{
	struct two *t = *state;
	struct store_action a = { .act = JOB_ACT_CANCEL, .by = "a", .svcs = SVCS,
				  .n_svcs = N_SVCS, .now = NOW };
	struct job_record cur;

	assert_int_equal(store_job_get(t->f->s, t->id, &cur), STORE_OK);
	assert_int_equal(store_job_hold(t->b, t->id, "b", "legal", NOW, NULL), STORE_OK);
	expect_moved(t, &cur, &a, JOB_HELD);
	assert_int_equal(fx_int(t->f->s, "SELECT COUNT(*) FROM tasks WHERE state = 'skipped'"), 0);
	jobs_job_record_clear(&cur);
}

/* Cancelled by B after A read it scheduled: A's hold must not revive it. */
static void test_hold_of_a_job_cancelled_meanwhile(void **state)
{
	struct two *t = *state;
	struct store_action a = { .act = JOB_ACT_HOLD, .by = "a", .reason = "legal", .now = NOW };
	struct job_record cur;

	assert_int_equal(store_job_get(t->f->s, t->id, &cur), STORE_OK);
	assert_int_equal(store_job_cancel(t->b, t->id, "b", NULL, SVCS, N_SVCS, NOW, NULL),
			 STORE_OK);
	expect_moved(t, &cur, &a, JOB_CANCELLED);
	jobs_job_record_clear(&cur);
}

/* Released and cancelled by B after A read it held: A's release must not
 * bring a cancelled job back to scheduled. */
static void test_release_of_a_job_cancelled_meanwhile(void **state)
{
	struct two *t = *state;
	struct store_action a = { .act = JOB_ACT_RELEASE, .by = "a", .now = NOW };
	struct job_record cur;

	assert_int_equal(store_job_hold(t->b, t->id, "b", "legal", NOW, NULL), STORE_OK);
	assert_int_equal(store_job_get(t->f->s, t->id, &cur), STORE_OK);
	assert_int_equal(store_job_release(t->b, t->id, "b", NOW, NULL), STORE_OK);
	assert_int_equal(store_job_cancel(t->b, t->id, "b", NULL, SVCS, N_SVCS, NOW, NULL),
			 STORE_OK);
	expect_moved(t, &cur, &a, JOB_CANCELLED);
	jobs_job_record_clear(&cur);
}

/* Held by B after A read it failed with a dead task: A's retry must not
 * set a held job running (nor wake its task). */
static void test_retry_of_a_job_held_meanwhile(void **state)
{
	struct two *t = *state;
	struct store_action a = { .act = JOB_ACT_RETRY, .by = "a", .now = NOW };
	struct job_record cur;
	char *sql = xasprintf("UPDATE jobs SET state = 'failed' WHERE id = '%s';"
			      " UPDATE tasks SET state = 'dead' WHERE job_id = '%s'", t->id, t->id);

	fx_exec(t->f->s, sql);
	free(sql);
	assert_int_equal(store_job_get(t->f->s, t->id, &cur), STORE_OK);
	assert_int_equal(store_job_hold(t->b, t->id, "b", "legal", NOW, NULL), STORE_OK);
	expect_moved(t, &cur, &a, JOB_HELD);
	assert_int_equal(fx_int(t->f->s, "SELECT COUNT(*) FROM tasks WHERE state = 'dead'"), 1);
	jobs_job_record_clear(&cur);
}

/* The public transitions over both handles, interleaved: one chain, ids
 * 1..n with no gap, verified. */
static void test_chain_linear_across_handles(void **state)
{
	struct two *t = *state;
	int64_t bad = -1, count = 0;
	char head[65], why[160];

	assert_int_equal(store_job_hold(t->b, t->id, "b", "legal", NOW, NULL), STORE_OK);
	assert_int_equal(store_job_release(t->f->s, t->id, "a", NOW, NULL), STORE_OK);
	assert_int_equal(store_job_hold(t->b, t->id, "b", "legal", NOW, NULL), STORE_OK);
	assert_int_equal(store_events_verify(t->f->s, &bad, why, sizeof why, &count, head),
			 STORE_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(count, 4);
	assert_int_equal(fx_int(t->f->s, "SELECT MAX(id) - MIN(id) + 1 FROM events"), 4);
}

/* An event written behind a transaction's back after it read the tip:
 * its next append fails instead of forking the chain. */
static void test_append_after_the_tip_moved_fails(void **state)
{
	struct two *t = *state;
	struct store *s = t->f->s;
	int64_t bad = -1, count = 0;
	char head[65], why[160];

	assert_int_equal(sqlite_begin(sqlite_of(s)), STORE_OK);
	assert_int_equal(sqlite_event_append(s, t->id, NOW, "test.one", NULL, NULL), 0);
	fx_exec(s, "INSERT INTO events (id, at, type, detail, prev_hash, hash)"
		   " VALUES ((SELECT MAX(id) + 1 FROM events), 1, 'x', '{}', '', '')");
	assert_int_equal(sqlite_event_append(s, t->id, NOW, "test.two", NULL, NULL), -1);
	sqlite_rollback(sqlite_of(s));
	assert_int_equal(store_events_verify(s, &bad, why, sizeof why, &count, head), STORE_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(count, 1);
}

/* A statement bound with a name it does not have: the process aborts, in
 * every build, naming the SQL and the name (it used to log and go on,
 * binding nothing). */
static void test_bind_of_an_unknown_name_aborts(void **state)
{
	static const char SQL[] = "SELECT id FROM jobs WHERE id = :id";
	struct two *t = *state;
	sqlite3_stmt *st = sqlite_stmt(sqlite_of(t->f->s), SQL);
	char msg[512] = "";
	int fds[2], status = 0;
	ssize_t n;
	pid_t pid;

	assert_non_null(st);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		sqlite_bind_text(st, ":job_id", "x");
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof msg - 1);
	close(fds[0]);
	msg[n > 0 ? n : 0] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(msg, ":job_id"));
	assert_non_null(strstr(msg, SQL));
	sqlite_reset(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cancel_of_a_job_held_meanwhile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_of_a_job_cancelled_meanwhile, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_release_of_a_job_cancelled_meanwhile, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retry_of_a_job_held_meanwhile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_linear_across_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_after_the_tip_moved_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bind_of_an_unknown_name_aborts, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
