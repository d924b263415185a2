/*
 * test_jobs.c - the operator's action checks, names, tenant ids, job ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "jobs/jobs.h"

#define NO (-1) /* refused */

/* Asks jobs_action_check; the state after, or NO. */
static int check(enum job_action act, const char *reason, int64_t dead, enum job_state from,
		 enum job_state held_from)
{
	struct job_action_ask ask = { .act = act, .reason = reason, .dead_tasks = dead };
	enum job_state to = (enum job_state)99;
	const char *why = NULL;

	if (jobs_action_check(&ask, from, held_from, &to, &why) < 0) {
		assert_non_null(why);
		assert_int_equal(to, 99); /* untouched */
		return NO;
	}
	return (int)to;
}

/*
 * The operator's actions, [action][from] -> to (NO when refused), for a
 * held job held from running, a hold with a reason and a retry with a dead
 * task. DESIGN 3.
 */
static const int action_table[4][JOB_STATE_COUNT] = {
	/*                scheduled      running       succeeded failed       cancelled held */
	[JOB_ACT_RETRY]   = { NO,          JOB_RUNNING, NO, JOB_RUNNING, NO, NO },
	[JOB_ACT_CANCEL]  = { JOB_CANCELLED, NO,        NO, NO,          NO, NO },
	[JOB_ACT_HOLD]    = { JOB_HELD,    JOB_HELD,    NO, JOB_HELD,    NO, NO },
	[JOB_ACT_RELEASE] = { NO,          NO,          NO, NO,          NO, JOB_RUNNING },
};

static void test_action_table(void **state)
{
	(void)state;
	for (int a = 0; a < 4; a++) {
		for (int f = 0; f < JOB_STATE_COUNT; f++) {
			int to = check((enum job_action)a, "why", 1, (enum job_state)f, JOB_RUNNING);
			if (to != action_table[a][f])
				fail_msg("action %d from %s: got %d, want %d", a,
					 jobs_job_state_name(f), to, action_table[a][f]);
		}
	}
	assert_int_equal(check((enum job_action)99, "why", 1, JOB_SCHEDULED, JOB_SCHEDULED), NO);
}

static void test_release_returns_to_held_from(void **state)
{
	(void)state;
	const enum job_state ok[] = { JOB_SCHEDULED, JOB_RUNNING, JOB_FAILED };
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(check(JOB_ACT_RELEASE, NULL, 0, JOB_HELD, ok[i]), ok[i]);
	/* A hold can never have been put on these; a corrupt row is refused. */
	const enum job_state bad[] = { JOB_SUCCEEDED, JOB_CANCELLED, JOB_HELD, (enum job_state)42 };
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(check(JOB_ACT_RELEASE, NULL, 0, JOB_HELD, bad[i]), NO);
	/* held_from is ignored for other states. */
	assert_int_equal(check(JOB_ACT_CANCEL, NULL, 0, JOB_SCHEDULED, JOB_SUCCEEDED),
			 JOB_CANCELLED);
}

static void test_held_cannot_cancel_or_hold(void **state)
{
	(void)state;
	assert_int_equal(check(JOB_ACT_CANCEL, "r", 0, JOB_HELD, JOB_SCHEDULED), NO);
	assert_int_equal(check(JOB_ACT_HOLD, "r", 0, JOB_HELD, JOB_SCHEDULED), NO);
}

/* A hold needs a reason whatever the state: the one rule the CLI, the API
 * and the store all ask. */
static void test_hold_needs_a_reason(void **state)
{
	struct job_action_ask ask = { .act = JOB_ACT_HOLD };
	const char *why = NULL;

	(void)state;
	assert_int_equal(jobs_action_check_input(&ask, &why), -1);
	assert_string_equal(why, "a hold needs a reason");
	ask.reason = "";
	assert_int_equal(jobs_action_check_input(&ask, NULL), -1);
	ask.reason = "legal";
	assert_int_equal(jobs_action_check_input(&ask, NULL), 0);
	assert_int_equal(check(JOB_ACT_HOLD, NULL, 0, JOB_SCHEDULED, JOB_SCHEDULED), NO);
	assert_int_equal(check(JOB_ACT_HOLD, "", 0, JOB_RUNNING, JOB_SCHEDULED), NO);
	/* Only a hold asks for one. */
	ask = (struct job_action_ask){ .act = JOB_ACT_CANCEL };
	assert_int_equal(jobs_action_check_input(&ask, NULL), 0);
}

/* A retry needs a dead task, in a job that is failed or running. */
static void test_retry_needs_a_dead_task(void **state)
{
	struct job_action_ask ask = { .act = JOB_ACT_RETRY, .dead_tasks = 0 };
	enum job_state to;
	const char *why = NULL;

	(void)state;
	assert_int_equal(jobs_action_check(&ask, JOB_FAILED, JOB_FAILED, &to, &why), -1);
	assert_string_equal(why, "no dead task to retry");
	assert_int_equal(check(JOB_ACT_RETRY, NULL, 2, JOB_FAILED, JOB_FAILED), JOB_RUNNING);
	assert_int_equal(check(JOB_ACT_RETRY, NULL, 2, JOB_SUCCEEDED, JOB_FAILED), NO);
}

/* A purge a user's erasure waits for is never cancelled alone (DESIGN 9). */
static void test_cancel_refused_while_an_erasure_waits(void **state)
{
	struct job_action_ask ask = { .act = JOB_ACT_CANCEL, .parent_waits = 1 };
	enum job_state to = JOB_SCHEDULED;
	const char *why = NULL;

	(void)state;
	assert_int_equal(jobs_action_check(&ask, JOB_SCHEDULED, JOB_SCHEDULED, &to, &why), -1);
	assert_string_equal(why, "a user's erasure waits for it");
	ask.parent_waits = 0;
	assert_int_equal(jobs_action_check(&ask, JOB_SCHEDULED, JOB_SCHEDULED, &to, &why), 0);
	assert_int_equal(to, JOB_CANCELLED);
	/* a hold of it is still fine: the erasure waits, it does not hang */
	ask = (struct job_action_ask){ .act = JOB_ACT_HOLD, .reason = "legal", .parent_waits = 1 };
	assert_int_equal(jobs_action_check(&ask, JOB_SCHEDULED, JOB_SCHEDULED, &to, &why), 0);
}

/* Four eyes: a second person approves a pending, unfinished job. */
static void test_approval_check(void **state)
{
	static const struct {
		enum job_approval approval;
		enum job_state state;
		const char *requested_by, *by, *why; /* why NULL: allowed */
	} cases[] = {
		{JOB_APPROVAL_PENDING, JOB_SCHEDULED, "alice", "bob", NULL},
		{JOB_APPROVAL_PENDING, JOB_HELD, NULL, "bob", NULL},
		{JOB_APPROVAL_PENDING, JOB_SCHEDULED, "alice", "alice",
		 "the requester cannot approve their own request"},
		{JOB_APPROVAL_APPROVED, JOB_SCHEDULED, "alice", "bob", "not awaiting approval"},
		{JOB_APPROVAL_NONE, JOB_SCHEDULED, "alice", "bob", "not awaiting approval"},
		{JOB_APPROVAL_PENDING, JOB_CANCELLED, "alice", "bob", "not awaiting approval"},
		{JOB_APPROVAL_PENDING, JOB_SCHEDULED, "alice", "", "an approval needs the approver's name"},
		{JOB_APPROVAL_PENDING, JOB_SCHEDULED, "alice", NULL,
		 "an approval needs the approver's name"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *why = NULL;
		int rc = jobs_approval_check(cases[i].approval, cases[i].state,
					     cases[i].requested_by, cases[i].by, &why);

		assert_int_equal(rc, cases[i].why == NULL ? 0 : -1);
		if (cases[i].why != NULL)
			assert_string_equal(why, cases[i].why);
	}
}

static void test_approval_names(void **state)
{
	enum job_approval a;

	(void)state;
	assert_null(jobs_approval_name(JOB_APPROVAL_NONE));
	assert_string_equal(jobs_approval_name(JOB_APPROVAL_PENDING), "pending");
	assert_string_equal(jobs_approval_name(JOB_APPROVAL_APPROVED), "approved");
	assert_int_equal(jobs_approval_parse(NULL, &a), 0);
	assert_int_equal(a, JOB_APPROVAL_NONE);
	assert_int_equal(jobs_approval_parse("approved", &a), 0);
	assert_int_equal(a, JOB_APPROVAL_APPROVED);
	assert_int_equal(jobs_approval_parse("maybe", &a), -1);
}

static void test_terminal_and_finished(void **state)
{
	(void)state;
	const int terminal[JOB_STATE_COUNT] = { 0, 0, 1, 0, 1, 0 };
	for (int s = 0; s < JOB_STATE_COUNT; s++)
		assert_int_equal(jobs_job_is_terminal((enum job_state)s), terminal[s]);
	const int finished[TASK_STATE_COUNT] = { 0, 0, 0, 1, 1, 1 };
	for (int s = 0; s < TASK_STATE_COUNT; s++)
		assert_int_equal(jobs_task_is_finished((enum task_state)s), finished[s]);
}

static void test_names_round_trip(void **state)
{
	static const char *const jobs_names[] = {
		"scheduled", "running", "succeeded", "failed", "cancelled", "held",
	};
	static const char *const task_names[] = {
		"pending", "in_flight", "waiting", "succeeded", "dead", "skipped",
	};
	static const char *const kinds[] = { "delete", "suspend", "restore" };

	(void)state;
	for (int i = 0; i < JOB_STATE_COUNT; i++) {
		enum job_state s;
		assert_string_equal(jobs_job_state_name((enum job_state)i), jobs_names[i]);
		assert_int_equal(jobs_job_state_parse(jobs_names[i], &s), 0);
		assert_int_equal(s, i);
	}
	for (int i = 0; i < TASK_STATE_COUNT; i++) {
		enum task_state s;
		assert_string_equal(jobs_task_state_name((enum task_state)i), task_names[i]);
		assert_int_equal(jobs_task_state_parse(task_names[i], &s), 0);
		assert_int_equal(s, i);
	}
	for (int i = 0; i < 3; i++) {
		enum task_kind k;
		assert_string_equal(jobs_task_kind_name((enum task_kind)i), kinds[i]);
		assert_int_equal(jobs_task_kind_parse(kinds[i], &k), 0);
		assert_int_equal(k, i);
	}
}

static void test_names_unknown(void **state)
{
	enum job_state js = JOB_HELD;
	enum task_state ts = TASK_DEAD;
	enum task_kind tk = TASK_KIND_RESTORE;

	(void)state;
	assert_string_equal(jobs_job_state_name((enum job_state)77), "unknown");
	assert_string_equal(jobs_task_state_name((enum task_state)-3), "unknown");
	assert_string_equal(jobs_task_kind_name((enum task_kind)3), "unknown");
	assert_int_equal(jobs_job_state_parse("Scheduled", &js), -1);
	assert_int_equal(jobs_job_state_parse("", &js), -1);
	assert_int_equal(jobs_job_state_parse(NULL, &js), -1);
	assert_int_equal(jobs_task_state_parse("in-flight", &ts), -1);
	assert_int_equal(jobs_task_kind_parse("purge", &tk), -1);
	assert_int_equal(js, JOB_HELD);
	assert_int_equal(ts, TASK_DEAD);
	assert_int_equal(tk, TASK_KIND_RESTORE);
}

static void test_tenant_id_valid(void **state)
{
	char max[JOBS_TENANT_ID_MAX + 1];
	const char *why = "untouched";

	(void)state;
	const char *ok[] = { "a", "7", "abc-123", "Tenant_1.prod:eu-west", "a..b", "x.", "0-" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (jobs_tenant_id_check(ok[i], &why) != 0)
			fail_msg("refused valid id '%s': %s", ok[i], why);
	}
	memset(max, 'z', JOBS_TENANT_ID_MAX);
	max[JOBS_TENANT_ID_MAX] = '\0';
	assert_int_equal(jobs_tenant_id_check(max, &why), 0);
	assert_string_equal(why, "untouched");
	assert_int_equal(jobs_tenant_id_check("abc", NULL), 0);
}

static void test_tenant_id_invalid(void **state)
{
	static const char *const len_msg = "tenant id must be 1-128 characters";
	static const char *const char_msg = "tenant id contains a character outside [A-Za-z0-9._:-]";
	static const char *const first_msg = "tenant id must start with a letter or digit";
	char long_id[JOBS_TENANT_ID_MAX + 2];
	const struct { const char *id; const char *msg; } cases[] = {
		{ "", len_msg }, { NULL, len_msg }, { long_id, len_msg },
		{ "../x", char_msg }, { "..x", first_msg }, { ".", first_msg }, { "..", first_msg },
		{ "-a", first_msg }, { "_a", first_msg }, { ":a", first_msg },
		{ "a b", char_msg }, { "a/b", char_msg }, { "x%2e", char_msg },
		{ "caf\xc3\xa9", char_msg }, { "a\nb", char_msg }, { "a\\b", char_msg },
		{ "a?b", char_msg }, { "a#b", char_msg }, { " a", char_msg },
		{ "/", char_msg },
	};

	(void)state;
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0'; /* 129 chars */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		if (jobs_tenant_id_check(cases[i].id, &why) != -1)
			fail_msg("accepted bad id #%zu", i);
		assert_non_null(why);
		if (strcmp(why, cases[i].msg) != 0)
			fail_msg("bad id #%zu: got \"%s\", want \"%s\"", i, why, cases[i].msg);
		assert_int_equal(jobs_tenant_id_check(cases[i].id, NULL), -1);
	}
}

static uint64_t hex_field(const char *s, int n)
{
	char buf[17];

	memcpy(buf, s, (size_t)n);
	buf[n] = '\0';
	return strtoull(buf, NULL, 16);
}

static void test_id_format(void **state)
{
	char id[JOBS_ID_LEN + 1];
	int64_t now = 1767225600123; /* 2026-01-01T00:00:00.123Z */

	(void)state;
	jobs_id_new(now, id);
	assert_int_equal(strlen(id), JOBS_ID_LEN);
	assert_int_equal(jobs_id_check(id), 0);
	/* 48-bit big-endian ms timestamp, version 7, variant 10xx. */
	uint64_t ts = hex_field(id, 8) << 16 | hex_field(id + 9, 4);
	assert_true(ts >= (uint64_t)now && ts < (uint64_t)now + 5);
	assert_int_equal(id[14], '7');
	assert_non_null(strchr("89ab", id[19]));
	for (const char *p = id; *p; p++)
		assert_true(*p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
}

static void test_id_monotonic_100k(void **state)
{
	enum { N = 100000 };
	char prev[JOBS_ID_LEN + 1], cur[JOBS_ID_LEN + 1];
	struct timespec a, b;
	int64_t base = 1800000000000;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &a);
	jobs_id_new(base, prev);
	for (int i = 1; i < N; i++) {
		/* Same ms for long runs (counter overflow), and a clock going back. */
		int64_t now = base + (i / 20000) - (i % 7 == 0 ? 3 : 0);
		jobs_id_new(now, cur);
		if (strcmp(prev, cur) >= 0)
			fail_msg("id %d not increasing: %s then %s", i, prev, cur);
		memcpy(prev, cur, sizeof(cur));
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	/* > 50,000 ids/s even under sanitizers: 100k ids within 2 s. */
	if (secs > 2.0)
		fail_msg("100k ids took %.3f s", secs);
}

static void test_id_counter_overflow_advances_ms(void **state)
{
	char id[JOBS_ID_LEN + 1];
	int64_t now = 2000000000000;

	(void)state;
	/* 4096 counter values fit in one ms at most; 10000 ids must spill over. */
	for (int i = 0; i < 10000; i++)
		jobs_id_new(now, id);
	uint64_t ts = hex_field(id, 8) << 16 | hex_field(id + 9, 4);
	assert_true(ts > (uint64_t)now);
	assert_true(ts <= (uint64_t)now + 10);
	/* Real time catching up keeps going forward. */
	char next[JOBS_ID_LEN + 1];
	jobs_id_new((int64_t)ts + 1000, next);
	assert_true(strcmp(id, next) < 0);
	assert_true((hex_field(next, 8) << 16 | hex_field(next + 9, 4)) == ts + 1000);
}

static void test_id_fork_differs(void **state)
{
	char parent[JOBS_ID_LEN + 1], child[JOBS_ID_LEN + 1] = "";
	int fds[2];
	int64_t now = 2100000000000;

	(void)state;
	jobs_id_new(now, parent); /* fills the random batch */
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		jobs_id_new(now + 1, child);
		_exit(write(fds[1], child, JOBS_ID_LEN) == JOBS_ID_LEN ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], child, JOBS_ID_LEN), JOBS_ID_LEN);
	child[JOBS_ID_LEN] = '\0';
	close(fds[0]);
	waitpid(pid, NULL, 0);
	jobs_id_new(now + 1, parent);
	/* Same ms in both processes: the random parts must differ. */
	assert_string_not_equal(parent, child);
	assert_memory_not_equal(parent + 19, child + 19, 17);
}

static void test_id_check(void **state)
{
	(void)state;
	assert_int_equal(jobs_id_check("01890a5d-ac96-774b-bcce-b302099a8057"), 0);
	assert_int_equal(jobs_id_check("00000000-0000-0000-0000-000000000000"), 0);
	const char *bad[] = {
		NULL, "", "01890A5D-AC96-774B-BCCE-B302099A8057",
		"01890a5d-ac96-774b-bcce-b302099a805", "01890a5d-ac96-774b-bcce-b302099a80570",
		"01890a5dac96-774b-bcce-b302099a8057-", "01890a5d_ac96_774b_bcce_b302099a8057",
		"01890a5d-ac96-774b-bcce-b302099a805g", "../../../../../../../../../etc/passwd",
		"01890a5d-ac96-774b-bcce-b302099a805 ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (jobs_id_check(bad[i]) != -1)
			fail_msg("accepted bad id #%zu", i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_action_table),
		cmocka_unit_test(test_cancel_refused_while_an_erasure_waits),
		cmocka_unit_test(test_release_returns_to_held_from),
		cmocka_unit_test(test_held_cannot_cancel_or_hold),
		cmocka_unit_test(test_hold_needs_a_reason),
		cmocka_unit_test(test_retry_needs_a_dead_task),
		cmocka_unit_test(test_approval_check),
		cmocka_unit_test(test_approval_names),
		cmocka_unit_test(test_terminal_and_finished),
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_names_unknown),
		cmocka_unit_test(test_tenant_id_valid),
		cmocka_unit_test(test_tenant_id_invalid),
		cmocka_unit_test(test_id_format),
		cmocka_unit_test(test_id_monotonic_100k),
		cmocka_unit_test(test_id_counter_overflow_advances_ms),
		cmocka_unit_test(test_id_fork_differs),
		cmocka_unit_test(test_id_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
