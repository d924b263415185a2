/*
 * evaluate.c - a job's fate from its delete tasks (see evaluate.h).
 */
#include "jobs/evaluate.h"

#include <stddef.h>

void jobs_eval_view_init(struct jobs_eval_view *v, enum job_state state)
{
	v->state = state;
	v->dead = 0;
	v->unfinished = 0;
	v->lowest_phase = -1;
	v->lowest_unopened = -1;
	v->children_failed = 0;
	v->children_unfinished = 0;
}

static void lower(int64_t *at, int phase)
{
	if (*at < 0 || phase < *at)
		*at = phase;
}

void jobs_eval_view_add(struct jobs_eval_view *v, enum task_state state, int phase,
			int opened)
{
	if (state == TASK_SUCCEEDED || state == TASK_SKIPPED)
		return;
	lower(&v->lowest_phase, phase);
	if (state == TASK_DEAD) {
		v->dead++;
		return;
	}
	v->unfinished++;
	if (state == TASK_PENDING && !opened)
		lower(&v->lowest_unopened, phase);
}

static void move(struct jobs_eval *out, enum jobs_eval_act act, enum job_state from,
		 enum job_state to)
{
	out->act = act;
	out->from = from;
	out->to = to;
}

void jobs_evaluate(const struct jobs_eval_view *v, struct jobs_eval *out)
{
	out->act = JOBS_EVAL_NOTHING;
	out->from = out->to = v->state;
	out->phase = -1;
	int64_t dead = v->dead + v->children_failed;

	if (v->state == JOB_FAILED && dead == 0)
		move(out, JOBS_EVAL_RESUME, JOB_FAILED, JOB_RUNNING);
	else if (v->state != JOB_RUNNING)
		return;
	else if (dead > 0)
		move(out, JOBS_EVAL_FAIL, JOB_RUNNING, JOB_FAILED);
	else if (v->unfinished == 0 && v->children_unfinished == 0)
		move(out, JOBS_EVAL_SUCCEED, JOB_RUNNING, JOB_SUCCEEDED);
	else if (v->lowest_unopened >= 0 && v->lowest_unopened == v->lowest_phase &&
		 v->children_unfinished == 0) {
		/* An unopened task is unfinished, so its phase is at least the
		 * lowest unfinished one: equal means that phase is reached. */
		out->act = JOBS_EVAL_OPEN_PHASE;
		out->phase = v->lowest_phase;
	}
}

const char *jobs_eval_act_name(enum jobs_eval_act act)
{
	switch (act) {
	case JOBS_EVAL_RESUME:
		return "resume";
	case JOBS_EVAL_FAIL:
		return "fail";
	case JOBS_EVAL_SUCCEED:
		return "succeed";
	case JOBS_EVAL_OPEN_PHASE:
		return "open_phase";
	default:
		return "nothing";
	}
}

const char *jobs_eval_event(enum jobs_eval_act act)
{
	switch (act) {
	case JOBS_EVAL_RESUME:
		return "job.running";
	case JOBS_EVAL_FAIL:
		return "job.failed";
	case JOBS_EVAL_SUCCEED:
		return "job.succeeded";
	default:
		return NULL;
	}
}
