/*
 * test_evaluate.c - what a job's delete tasks mean for it (jobs_evaluate):
 * phases opened in order, skipped tasks as done, a dead task failing the
 * job, a failed job running again once no dead task is left, and held or
 * idle jobs left alone; the view built from a task list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "jobs/evaluate.h"

/* One delete task of a test job. */
struct t {
	enum task_state state;
	int phase;
	int opened; /* a pending task made due */
};

/* The decision for a job in state with tasks. */
static struct jobs_eval eval(enum job_state state, const struct t *tasks, size_t n)
{
	struct jobs_eval_view v;
	struct jobs_eval e;

	jobs_eval_view_init(&v, state);
	for (size_t i = 0; i < n; i++)
		jobs_eval_view_add(&v, tasks[i].state, tasks[i].phase, tasks[i].opened);
	jobs_evaluate(&v, &e);
	return e;
}

#define EVAL(state, ...) \
	eval(state, (const struct t[]){ __VA_ARGS__ }, \
	     sizeof((const struct t[]){ __VA_ARGS__ }) / sizeof(struct t))

static void assert_act(struct jobs_eval e, enum jobs_eval_act act)
{
	assert_string_equal(jobs_eval_act_name(e.act), jobs_eval_act_name(act));
}

static void test_view_from_tasks(void **state)
{
	struct jobs_eval_view v;

	(void)state;
	jobs_eval_view_init(&v, JOB_RUNNING);
	assert_int_equal(v.lowest_phase, -1);
	assert_int_equal(v.lowest_unopened, -1);
	jobs_eval_view_add(&v, TASK_SUCCEEDED, 1, 1);
	jobs_eval_view_add(&v, TASK_SKIPPED, 1, 1);
	assert_int_equal(v.unfinished, 0);
	assert_int_equal(v.lowest_phase, -1);
	jobs_eval_view_add(&v, TASK_WAITING, 3, 1);
	jobs_eval_view_add(&v, TASK_PENDING, 2, 0);
	jobs_eval_view_add(&v, TASK_IN_FLIGHT, 2, 1);
	jobs_eval_view_add(&v, TASK_PENDING, 4, 1); /* opened: due, not claimed */
	jobs_eval_view_add(&v, TASK_DEAD, 5, 1);
	assert_int_equal(v.dead, 1);
	assert_int_equal(v.unfinished, 4);
	assert_int_equal(v.lowest_phase, 2);
	assert_int_equal(v.lowest_unopened, 2);
}

static void test_all_done_succeeds(void **state)
{
	struct jobs_eval e;

	(void)state;
	e = EVAL(JOB_RUNNING, { TASK_SUCCEEDED, 1, 1 }, { TASK_SUCCEEDED, 2, 1 });
	assert_act(e, JOBS_EVAL_SUCCEED);
	assert_int_equal(e.from, JOB_RUNNING);
	assert_int_equal(e.to, JOB_SUCCEEDED);
	/* skipped (retired service, cancelled saga step) counts as done */
	assert_act(EVAL(JOB_RUNNING, { TASK_SKIPPED, 1, 1 }, { TASK_SUCCEEDED, 2, 1 }),
		   JOBS_EVAL_SUCCEED);
	assert_act(EVAL(JOB_RUNNING, { TASK_SKIPPED, 1, 0 }, { TASK_SKIPPED, 2, 0 }),
		   JOBS_EVAL_SUCCEED);
	/* a running job without delete tasks (no service) has nothing left */
	assert_act(eval(JOB_RUNNING, NULL, 0), JOBS_EVAL_SUCCEED);
}

static void test_dead_task_fails(void **state)
{
	struct jobs_eval e;

	(void)state;
	e = EVAL(JOB_RUNNING, { TASK_DEAD, 1, 1 }, { TASK_SUCCEEDED, 1, 1 });
	assert_act(e, JOBS_EVAL_FAIL);
	assert_int_equal(e.to, JOB_FAILED);
	/* at once, whatever else is under way or waits for its phase */
	assert_act(EVAL(JOB_RUNNING, { TASK_DEAD, 1, 1 }, { TASK_WAITING, 1, 1 },
			{ TASK_PENDING, 2, 0 }), JOBS_EVAL_FAIL);
	assert_act(EVAL(JOB_RUNNING, { TASK_SUCCEEDED, 1, 1 }, { TASK_DEAD, 2, 1 }),
		   JOBS_EVAL_FAIL);
	/* already failed: nothing more */
	assert_act(EVAL(JOB_FAILED, { TASK_DEAD, 1, 1 }, { TASK_WAITING, 1, 1 }),
		   JOBS_EVAL_NOTHING);
}

static void test_failed_without_dead_resumes(void **state)
{
	struct jobs_eval_view v;
	struct jobs_eval e;

	(void)state;
	/* its dead task retried (waiting again): the job runs again */
	jobs_eval_view_init(&v, JOB_FAILED);
	jobs_eval_view_add(&v, TASK_WAITING, 1, 1);
	jobs_eval_view_add(&v, TASK_PENDING, 2, 0);
	jobs_evaluate(&v, &e);
	assert_act(e, JOBS_EVAL_RESUME);
	assert_int_equal(e.from, JOB_FAILED);
	assert_int_equal(e.to, JOB_RUNNING);
	/* one step at a time: asked again as running, phase 1 is under way */
	v.state = e.to;
	jobs_evaluate(&v, &e);
	assert_act(e, JOBS_EVAL_NOTHING);
	/* its dead task skipped (service retired) and nothing else left:
	 * resume, then succeed */
	jobs_eval_view_init(&v, JOB_FAILED);
	jobs_eval_view_add(&v, TASK_SKIPPED, 1, 1);
	jobs_eval_view_add(&v, TASK_SUCCEEDED, 1, 1);
	jobs_evaluate(&v, &e);
	assert_act(e, JOBS_EVAL_RESUME);
	v.state = e.to;
	jobs_evaluate(&v, &e);
	assert_act(e, JOBS_EVAL_SUCCEED);
}

static void test_phases_open_in_order(void **state)
{
	struct jobs_eval e;

	(void)state;
	/* just started: the lowest phase is made due */
	e = EVAL(JOB_RUNNING, { TASK_PENDING, 1, 0 }, { TASK_PENDING, 1, 0 },
		 { TASK_PENDING, 2, 0 });
	assert_act(e, JOBS_EVAL_OPEN_PHASE);
	assert_int_equal(e.phase, 1);
	/* phase 1 under way (due, in flight, waiting): phase 2 waits */
	assert_act(EVAL(JOB_RUNNING, { TASK_PENDING, 1, 1 }, { TASK_PENDING, 2, 0 }),
		   JOBS_EVAL_NOTHING);
	assert_act(EVAL(JOB_RUNNING, { TASK_IN_FLIGHT, 1, 1 }, { TASK_SUCCEEDED, 1, 1 },
			{ TASK_PENDING, 2, 0 }), JOBS_EVAL_NOTHING);
	assert_act(EVAL(JOB_RUNNING, { TASK_WAITING, 1, 1 }, { TASK_PENDING, 2, 0 }),
		   JOBS_EVAL_NOTHING);
	/* phase 1 done (succeeded or skipped): phase 2 opens */
	e = EVAL(JOB_RUNNING, { TASK_SUCCEEDED, 1, 1 }, { TASK_SKIPPED, 1, 1 },
		 { TASK_PENDING, 2, 0 });
	assert_act(e, JOBS_EVAL_OPEN_PHASE);
	assert_int_equal(e.phase, 2);
	/* phases need not be consecutive */
	e = EVAL(JOB_RUNNING, { TASK_SUCCEEDED, 1, 1 }, { TASK_PENDING, 7, 0 },
		 { TASK_PENDING, 9, 0 });
	assert_act(e, JOBS_EVAL_OPEN_PHASE);
	assert_int_equal(e.phase, 7);
	/* a task added to an opened phase (config sync) is opened with it */
	e = EVAL(JOB_RUNNING, { TASK_WAITING, 1, 1 }, { TASK_PENDING, 1, 0 });
	assert_act(e, JOBS_EVAL_OPEN_PHASE);
	assert_int_equal(e.phase, 1);
	/* phase 2 opened already, nothing more to open */
	assert_act(EVAL(JOB_RUNNING, { TASK_SUCCEEDED, 1, 1 }, { TASK_PENDING, 2, 1 }),
		   JOBS_EVAL_NOTHING);
}

static void test_idle_states_untouched(void **state)
{
	static const enum job_state idle[] = { JOB_HELD, JOB_SCHEDULED, JOB_CANCELLED,
					       JOB_SUCCEEDED };

	(void)state;
	for (size_t i = 0; i < sizeof idle / sizeof idle[0]; i++) {
		/* a held job neither fails, finishes nor opens a phase */
		assert_act(EVAL(idle[i], { TASK_DEAD, 1, 1 }), JOBS_EVAL_NOTHING);
		assert_act(EVAL(idle[i], { TASK_SUCCEEDED, 1, 1 }), JOBS_EVAL_NOTHING);
		assert_act(EVAL(idle[i], { TASK_PENDING, 1, 0 }), JOBS_EVAL_NOTHING);
	}
}

/* A subject job: discover done, memberships and user steps pending. */
static struct jobs_eval subject(enum job_state state, int64_t failed, int64_t unfinished)
{
	struct jobs_eval_view v;
	struct jobs_eval e;

	jobs_eval_view_init(&v, state);
	jobs_eval_view_add(&v, TASK_SUCCEEDED, 1, 1);
	jobs_eval_view_add(&v, TASK_PENDING, 2, 0);
	jobs_eval_view_add(&v, TASK_PENDING, 3, 0);
	v.children_failed = failed;
	v.children_unfinished = unfinished;
	jobs_evaluate(&v, &e);
	return e;
}

static void test_children_gate_and_fail(void **state)
{
	struct jobs_eval e;

	(void)state;
	/* children running: the memberships step waits */
	assert_act(subject(JOB_RUNNING, 0, 2), JOBS_EVAL_NOTHING);
	/* every child succeeded: phase 2 opens */
	e = subject(JOB_RUNNING, 0, 0);
	assert_act(e, JOBS_EVAL_OPEN_PHASE);
	assert_int_equal(e.phase, 2);
	/* a failed child fails the parent; once it runs again, so does the parent */
	e = subject(JOB_RUNNING, 1, 2);
	assert_act(e, JOBS_EVAL_FAIL);
	assert_int_equal(e.to, JOB_FAILED);
	assert_act(subject(JOB_FAILED, 1, 2), JOBS_EVAL_NOTHING);
	assert_act(subject(JOB_FAILED, 0, 2), JOBS_EVAL_RESUME);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(jobs_eval_event(JOBS_EVAL_FAIL), "job.failed");
	assert_string_equal(jobs_eval_event(JOBS_EVAL_SUCCEED), "job.succeeded");
	assert_string_equal(jobs_eval_event(JOBS_EVAL_RESUME), "job.running");
	assert_null(jobs_eval_event(JOBS_EVAL_OPEN_PHASE));
	assert_null(jobs_eval_event(JOBS_EVAL_NOTHING));
	assert_string_equal(jobs_eval_act_name(JOBS_EVAL_OPEN_PHASE), "open_phase");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_view_from_tasks),
		cmocka_unit_test(test_all_done_succeeds),
		cmocka_unit_test(test_dead_task_fails),
		cmocka_unit_test(test_failed_without_dead_resumes),
		cmocka_unit_test(test_phases_open_in_order),
		cmocka_unit_test(test_idle_states_untouched),
		cmocka_unit_test(test_children_gate_and_fail),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
