/*
 * transitions.c - the operator's transitions: cancel, hold, release,
 * retry, approve. Each is one transaction: lock the job's row (SELECT ...
 * FOR UPDATE: a host finishing or starting the job waits, and so does
 * another operator), ask the rules (jobs_action_check) whether the action
 * is allowed, write the change where the job is still as it was read, its
 * events and its webhook outbox row, commit. The documents come from
 * jobs/document.h.
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every write names the state it expects the job (or task) in. */
static const char SQL_CANCEL_JOB[] =
	"UPDATE jobs SET state = 'cancelled', finished_at = $2 WHERE id = $1 AND state = $3";
static const char SQL_CANCEL_TASKS[] =
	"UPDATE tasks SET state = 'skipped', skip_reason = 'job cancelled',"
	" next_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $2"
	" WHERE job_id = $1 AND kind IN ('suspend','delete')"
	" AND state IN ('pending','waiting','in_flight')";
static const char SQL_ADD_RESTORE[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" SELECT job_id, service, 'restore', phase, 'pending', $3::bigint, $3::bigint FROM tasks"
	" WHERE job_id = $1 AND service = $2 AND kind = 'suspend'"
	" AND (attempts > 0 OR state = 'succeeded')"
	" ON CONFLICT DO NOTHING";
static const char SQL_HOLD_JOB[] =
	"UPDATE jobs SET state = 'held', held_from = $2, hold_reason = $3"
	" WHERE id = $1 AND state = $2";
static const char SQL_RELEASE_JOB[] =
	"UPDATE jobs SET state = $2, held_from = NULL, hold_reason = NULL"
	" WHERE id = $1 AND state = 'held' AND held_from = $2";
static const char SQL_APPROVE_JOB[] =
	"UPDATE jobs SET approval = 'approved', approved_by = $2, approved_at = $3"
	" WHERE id = $1 AND approval = 'pending' AND state = $4";
static const char SQL_COUNT_DEAD[] =
	"SELECT COUNT(*) FROM tasks"
	" WHERE job_id = $1 AND state = 'dead' AND ($2::text IS NULL OR service = $2)";
static const char SQL_COUNT_CHILDREN_DEAD[] =
	"SELECT COUNT(*) FROM tasks t JOIN jobs c ON c.id = t.job_id"
	" WHERE c.parent_id = $1 AND t.state = 'dead' AND ($2::text IS NULL OR t.service = $2)";
static const char SQL_RETRY_TASKS[] =
	"UPDATE tasks SET state = 'waiting', attempts = 0, free_waits = 0, next_attempt_at = $3,"
	" first_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $3"
	" WHERE job_id = $1 AND state = 'dead' AND ($2::text IS NULL OR service = $2)";
static const char SQL_RETRY_JOB[] =
	"UPDATE jobs SET state = $2, finished_at = NULL WHERE id = $1 AND state = $3";

/* pg_job_changed with a detail this function frees. */
static int changed(struct pg_store *s, const char *job_id, const char *type, char *detail,
		   int64_t now, struct job_record *out)
{
	int rc = pg_job_changed(s, job_id, type, detail, now, out);

	free(detail);
	return rc < 0 ? STORE_ERR : STORE_OK;
}

/* A write of the job's row: $1 the job id, then up to three more texts or
 * the time; the rows it changed, or -1. */
static int write_job(struct pg_store *s, const char *sql, const char *id, const char *v2,
		     const char *v3, const char *v4)
{
	struct pg_params p = { 0 };

	pg_p_text(&p, id);
	if (v2 != NULL)
		pg_p_text(&p, v2);
	if (v3 != NULL)
		pg_p_text(&p, v3);
	if (v4 != NULL)
		pg_p_text(&p, v4);
	return pg_run_changes(s, sql, &p);
}

static int add_restores(struct pg_store *s, const char *job_id, const struct store_action *a,
			const char **names, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < a->n_svcs; i++) {
		struct pg_params p = { 0 };
		int k;

		if (!a->svcs[i].has_restore)
			continue;
		pg_p_text(&p, job_id);
		pg_p_text(&p, a->svcs[i].name);
		pg_p_int(&p, a->now);
		if ((k = pg_run_changes(s, SQL_ADD_RESTORE, &p)) < 0)
			return -1;
		if (k > 0)
			names[(*n)++] = a->svcs[i].name;
	}
	return 0;
}

static int apply_cancel(struct store *base, const struct job_record *cur,
			const struct store_checked *c, const struct store_action *a,
			struct job_record *out)
{
	struct pg_store *s = pg_of(base);
	const char **restores = xcalloc(a->n_svcs ? a->n_svcs : 1, sizeof *restores);
	char now[24];
	size_t n = 0;
	int rc;

	snprintf(now, sizeof now, "%lld", (long long)a->now);
	rc = store_moved(&s->base, cur, write_job(s, SQL_CANCEL_JOB, cur->id, now,
						  jobs_job_state_name(cur->state), NULL), 1);
	if (rc == STORE_OK && (write_job(s, SQL_CANCEL_TASKS, cur->id, now, NULL, NULL) < 0 ||
			       add_restores(s, cur->id, a, restores, &n) < 0))
		rc = STORE_ERR;
	if (rc == STORE_OK)
		rc = changed(s, cur->id, "job.cancelled",
			     jobs_detail_cancelled(a->by, a->reason, restores, n), a->now, out);
	free(restores);
	return rc;
}

static int apply_hold(struct store *base, const struct job_record *cur,
		      const struct store_checked *c, const struct store_action *a,
		      struct job_record *out)
{
	struct pg_store *s = pg_of(base);
	int n = write_job(s, SQL_HOLD_JOB, cur->id, jobs_job_state_name(cur->state),
			  a->reason ? a->reason : "", NULL);
	int rc = store_moved(&s->base, cur, n, 1);

	if (rc != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.held", jobs_detail_held(a->by, a->reason, cur->state),
		       a->now, out);
}

static int apply_release(struct store *base, const struct job_record *cur,
			 const struct store_checked *c, const struct store_action *a,
			 struct job_record *out)
{
	struct pg_store *s = pg_of(base);
	int n = write_job(s, SQL_RELEASE_JOB, cur->id, jobs_job_state_name(c->to), NULL, NULL);
	int rc = store_moved(&s->base, cur, n, 1);

	if (rc != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.released",
		       jobs_detail_released(a->by, cur->hold_reason, c->to), a->now, out);
}

static int apply_approve(struct store *base, const struct job_record *cur,
			 const struct store_checked *c, const struct store_action *a,
			 struct job_record *out)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	int rc;

	pg_p_text(&p, cur->id);
	pg_p_text(&p, a->by);
	pg_p_int(&p, a->now);
	pg_p_text(&p, jobs_job_state_name(cur->state));
	rc = store_moved(&s->base, cur, pg_run_changes(s, SQL_APPROVE_JOB, &p), 1);
	if (rc != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.approved", jobs_detail_approved(a->by), a->now, out);
}

/* The job of a retry goes back to running (when it was not). */
static int retry_job(struct pg_store *s, const struct job_record *cur, enum job_state to,
		     const struct store_action *a, struct job_record *out)
{
	int n = write_job(s, SQL_RETRY_JOB, cur->id, jobs_job_state_name(to),
			  jobs_job_state_name(cur->state), NULL);
	int rc = store_moved(&s->base, cur, n, 1);

	if (rc != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.running", jobs_detail_running(a->by, cur->state),
		       a->now, out);
}

/* Dead tasks back to waiting: as many as were counted when checking. */
static int apply_retry(struct store *base, const struct job_record *cur,
		       const struct store_checked *c, const struct store_action *a,
		       struct job_record *out)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	int64_t dead = c->own_dead;
	char *detail;
	int rc;

	pg_p_text(&p, cur->id);
	pg_p_text(&p, a->service);
	pg_p_int(&p, a->now);
	rc = store_moved(&s->base, cur, pg_run_changes(s, SQL_RETRY_TASKS, &p), (int)dead);
	if (rc != STORE_OK)
		return rc;
	detail = jobs_detail_retried(a->by, a->service, dead, cur->state);
	rc = pg_event_append(&s->base, cur->id, a->now, "job.retried", a->service, detail);
	free(detail);
	if (rc < 0)
		return STORE_ERR;
	if (c->to != cur->state)
		return retry_job(s, cur, c->to, a, out);
	return pg_job_by_id(s, cur->id, 0, out);
}

static int count_dead_op(struct store *base, const char *job_id, const char *service,
			 int children, int64_t *n)
{
	struct pg_params p = { 0 };

	pg_p_text(&p, job_id);
	pg_p_text(&p, service);
	return pg_run_int(pg_of(base), children ? SQL_COUNT_CHILDREN_DEAD : SQL_COUNT_DEAD, &p,
			  0, n);
}

/* Children's ids are later than their parent's: locked after it, in id order. */
static int child_op(struct store *base, const char *job_id, struct job_record *out)
{
	return pg_job_by_id(pg_of(base), job_id, 1, out);
}

static const struct store_act_ops act_ops = {
	.count_dead = count_dead_op,
	.waiting_parent = pg_waiting_parent,
	.cancel = apply_cancel,
	.hold = apply_hold,
	.release = apply_release,
	.retry = apply_retry,
	.approve = apply_approve,
	.children = pg_children,
	.child_by_id = child_op,
};

struct act {
	const char *job_id;
	const struct store_action *a;
	struct job_record cur, after;
};

static int act_tx(struct pg_store *s, void *ctx)
{
	struct act *t = ctx;
	int rc;

	jobs_job_record_clear(&t->cur);
	jobs_job_record_clear(&t->after);
	if ((rc = pg_job_by_id(s, t->job_id, 1, &t->cur)) != STORE_OK)
		return rc;
	rc = store_action_apply(&s->base, &act_ops, &t->cur, t->a, &t->after);
	if (rc == STORE_OK)
		rc = store_action_cascade(&s->base, &act_ops, &t->cur, t->a);
	/* what a release, retry, approval or restore makes due, the other
	 * hosts take within a second (NOTIFY, sent at commit) */
	if (rc == STORE_OK && t->a->act != JOB_ACT_HOLD &&
	    (t->a->act != JOB_ACT_CANCEL || t->a->n_svcs > 0) && pg_notify_due(s) < 0)
		rc = STORE_ERR;
	return rc;
}

/* On STORE_REFUSED *out receives the job as it is now; on STORE_OK as it
 * became. */
int pg_job_act(struct store *base, const char *job_id, const struct store_action *a,
	       struct job_record *out)
{
	struct pg_store *s = pg_of(base);
	struct act t = { .job_id = job_id, .a = a };
	int rc;

	if (out != NULL)
		memset(out, 0, sizeof *out);
	rc = pg_tx(s, act_tx, &t);
	if (rc == STORE_REFUSED && out != NULL) {
		jobs_job_record_clear(&t.after);
		if (pg_job_by_id(s, job_id, 0, &t.after) != STORE_OK) {
			t.after = t.cur;
			memset(&t.cur, 0, sizeof t.cur);
		}
	}
	if (out != NULL && rc != STORE_ERR && rc != STORE_NOT_FOUND) {
		*out = t.after;
		memset(&t.after, 0, sizeof t.after);
	}
	jobs_job_record_clear(&t.after);
	jobs_job_record_clear(&t.cur);
	return rc;
}
