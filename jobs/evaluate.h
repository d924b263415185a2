/*
 * evaluate.h - what a job's delete tasks mean for the job: fail it (a task
 * is dead), run a failed one again (no dead task left), finish it (every
 * task succeeded or was skipped), open its next phase, or nothing. One
 * rule, decided here for every caller (the engine's group commit, lease
 * reclaims, config syncs, retirements, sweeps); the store reads the view,
 * asks jobs_evaluate, and applies the answer with guarded writes. Pure.
 */
#ifndef TENANTDEL_EVALUATE_H
#define TENANTDEL_EVALUATE_H

#include <stdint.h>

#include "jobs/jobs.h"

/*
 * A job and a summary of its delete tasks (suspend and restore tasks never
 * decide a job's fate). Fill it from the task list with jobs_eval_view_init
 * and jobs_eval_view_add, or directly from an aggregate query.
 */
struct jobs_eval_view {
	enum job_state state;
	int64_t dead;             /* delete tasks dead */
	int64_t unfinished;       /* pending, in flight or waiting */
	int64_t lowest_phase;     /* lowest phase of a task neither succeeded nor
				   * skipped (dead ones included); -1 none */
	int64_t lowest_unopened;  /* lowest phase of a pending task not yet made
				   * due (its phase not reached); -1 none */
	/* A subject job's child purge jobs (DESIGN 9; 0 for any other job):
	 * a failed child fails the parent, and the parent's later phases wait
	 * until every child has succeeded. */
	int64_t children_failed;
	int64_t children_unfinished; /* not succeeded (failed ones included) */
};

/* An empty view of a job in state (no tasks). Can't fail. */
void jobs_eval_view_init(struct jobs_eval_view *v, enum job_state state);

/* Counts one delete task: its state, phase, and whether it was made due
 * (a pending task is opened when its phase is reached). Can't fail. */
void jobs_eval_view_add(struct jobs_eval_view *v, enum task_state state, int phase,
			int opened);

enum jobs_eval_act {
	JOBS_EVAL_NOTHING,    /* held, not running, or the phase is under way */
	JOBS_EVAL_RESUME,     /* failed -> running: no dead task is left
			       * (retried, skipped, retired); evaluate again */
	JOBS_EVAL_FAIL,       /* running -> failed (job.failed): a task is dead */
	JOBS_EVAL_SUCCEED,    /* running -> succeeded (job.succeeded; a purge
			       * leaves its tombstone): every task done */
	JOBS_EVAL_OPEN_PHASE, /* make the pending tasks of phase due now */
};

struct jobs_eval {
	enum jobs_eval_act act;
	enum job_state from, to; /* RESUME, FAIL, SUCCEED: the job's move */
	int64_t phase;           /* OPEN_PHASE */
};

/*
 * What happens to the job now (its children count as tasks of the phase
 * that is open: a failed child fails the job, and the next phase opens
 * only once none is unfinished). One step: after RESUME the caller applies it
 * and asks again with the job running. Only a running job moves forward
 * (a held, scheduled, cancelled or finished job gets NOTHING). Can't fail.
 */
void jobs_evaluate(const struct jobs_eval_view *v, struct jobs_eval *out);

/* The name of an act ("nothing", "resume", "fail", "succeed",
 * "open_phase"), for logs and tests. Never NULL. */
const char *jobs_eval_act_name(enum jobs_eval_act act);

/* The event an act writes ("job.failed", "job.running", "job.succeeded"),
 * NULL for NOTHING and OPEN_PHASE. Its detail: jobs/sched_doc.h. */
const char *jobs_eval_event(enum jobs_eval_act act);

#endif
