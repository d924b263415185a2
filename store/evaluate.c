/*
 * evaluate.c - a job brought up to date with its delete tasks, the same
 * on every backend: the backend reads the view (struct store_eval_ops),
 * jobs_evaluate decides, and each answer is written through the backend
 * guarded by what the view saw; a child that finished moves its subject
 * job. Runs inside the caller's transaction, after whatever changed the
 * tasks.
 */
#include "store/shared.h"
#include "jobs/sched_doc.h"
#include "util/log.h"

#include <stdlib.h>

void store_log_job(int level, const char *event, const char *job_id, const char *tenant_id)
{
	struct log_line *l = log_start((enum log_level)level, event);

	log_str(l, "job_id", job_id);
	log_str(l, "tenant_id", tenant_id);
	log_done_held(l);
}

/* The job's move (e->from -> e->to, only from that state) with its event;
 * 0, 1 (the job moved meanwhile: nothing written) or -1. */
static int set_state(struct store *s, const struct store_eval_ops *ops, const char *job_id,
		     const struct store_job_view *v, const struct jobs_eval *e, int64_t now)
{
	char *detail;
	int n, rc;

	n = ops->set_state(s, job_id, e->from, e->to, e->to == JOB_RUNNING ? 0 : now);
	if (n <= 0)
		return n < 0 ? -1 : 1;
	detail = sched_doc_eval(e, &v->eval);
	rc = ops->job_changed(s, job_id, jobs_eval_event(e->act), detail, now);
	free(detail);
	return rc;
}

/* The phase's pending tasks become due now. 0 or -1. */
static int open_phase(struct store *s, const struct store_eval_ops *ops, const char *job_id,
		      const struct store_job_view *v, int64_t phase, int64_t now)
{
	struct log_line *l;
	int n = ops->open_phase(s, job_id, phase, now);

	if (n <= 0)
		return n;
	l = log_start(LOG_INFO, "job.phase.opened");
	log_str(l, "job_id", job_id);
	log_str(l, "tenant_id", v->tenant);
	log_int(l, "phase", phase);
	log_int(l, "tasks", n);
	log_done_held(l);
	return 0;
}

/* Writes one decision; 0, 1 (the job moved meanwhile) or -1. */
static int apply(struct store *s, const struct store_eval_ops *ops, const char *job_id,
		 const struct store_job_view *v, const struct jobs_eval *e, int64_t now,
		 int *failed)
{
	int rc;

	switch (e->act) {
	case JOBS_EVAL_OPEN_PHASE:
		return open_phase(s, ops, job_id, v, e->phase, now);
	case JOBS_EVAL_RESUME:
	case JOBS_EVAL_FAIL:
	case JOBS_EVAL_SUCCEED:
		if ((rc = set_state(s, ops, job_id, v, e, now)) != 0)
			return rc;
		if (e->act == JOBS_EVAL_SUCCEED) {
			/* a purge leaves its tombstone */
			store_log_job(LOG_INFO, "job.succeeded", job_id, v->tenant);
			return v->purge ? ops->tombstone(s, job_id, now) : 0;
		}
		if (e->act == JOBS_EVAL_FAIL) {
			store_log_job(LOG_ERROR, "job.failed", job_id, v->tenant);
			if (failed != NULL)
				(*failed)++;
		}
		return 0;
	default:
		return 0;
	}
}

int store_eval_job(struct store *s, const struct store_eval_ops *ops, const char *job_id,
		   int64_t now, int *failed)
{
	struct store_job_view v;
	struct jobs_eval e;
	enum job_state before, after;
	int rc = ops->read_view(s, job_id, &v);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	before = v.eval.state;
	jobs_evaluate(&v.eval, &e);
	rc = apply(s, ops, job_id, &v, &e, now, failed);
	if (rc == 0 && e.act == JOBS_EVAL_RESUME) {
		v.eval.state = e.to; /* running again: what now? */
		jobs_evaluate(&v.eval, &e);
		rc = apply(s, ops, job_id, &v, &e, now, failed);
	}
	/* a child that finished or failed moves its subject job (DESIGN 9) */
	after = e.act == JOBS_EVAL_FAIL || e.act == JOBS_EVAL_SUCCEED ? e.to : v.eval.state;
	if (rc == 0 && v.parent[0] != '\0' && after != before)
		rc = store_eval_job(s, ops, v.parent, now, failed);
	return rc < 0 ? -1 : 0;
}

int store_eval_jobs(struct store *s, const struct store_eval_ops *ops,
		    const struct store_idset *set, int64_t now, int *failed)
{
	for (size_t i = 0; i < set->n; i++)
		if (store_eval_job(s, ops, set->ids[i], now, failed) < 0)
			return -1;
	return 0;
}
