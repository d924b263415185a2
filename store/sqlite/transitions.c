/*
 * transitions.c - the operator's transitions: cancel, hold, release, retry.
 * Each is one BEGIN IMMEDIATE transaction: read the job, ask the rules
 * (jobs_action_check) whether the action is allowed, write the change where
 * the job is still as it was read, its events and its webhook outbox row,
 * commit. The documents (event details, outbox bodies) come from
 * jobs/document.h.
 */
#include "store/sqlite/sched_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes the change of one action to the job read as cur; STORE_OK,
 * STORE_REFUSED (moved meanwhile) or STORE_ERR. */
/* Every write below names the state it expects the job (or task) in: a
 * change of 0 rows means the job moved since it was read. */
static const char SQL_CANCEL_JOB[] =
	"UPDATE jobs SET state = 'cancelled', finished_at = :now"
	" WHERE id = :id AND state = :expected";
/* Nothing of a cancelled job runs again except the restores created below. */
static const char SQL_CANCEL_TASKS[] =
	"UPDATE tasks SET state = 'skipped', skip_reason = 'job cancelled',"
	" next_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL,"
	" updated_at = :now"
	" WHERE job_id = :id AND kind IN ('suspend','delete')"
	" AND state IN ('pending','waiting','in_flight')";
/* A restore only where the suspend may have reached the service. */
static const char SQL_ADD_RESTORE[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" SELECT job_id, service, 'restore', phase, 'pending', :now, :now FROM tasks"
	" WHERE job_id = :id AND service = :service AND kind = 'suspend'"
	" AND (attempts > 0 OR state = 'succeeded')"
	" ON CONFLICT DO NOTHING";
static const char SQL_HOLD_JOB[] =
	"UPDATE jobs SET state = 'held', held_from = :from, hold_reason = :reason"
	" WHERE id = :id AND state = :from";
static const char SQL_RELEASE_JOB[] =
	"UPDATE jobs SET state = :to, held_from = NULL, hold_reason = NULL"
	" WHERE id = :id AND state = 'held' AND held_from = :to";
/* Four eyes: only a job still pending is approved (its state is unchanged). */
static const char SQL_APPROVE_JOB[] =
	"UPDATE jobs SET approval = 'approved', approved_by = :by, approved_at = :now"
	" WHERE id = :id AND approval = 'pending' AND state = :expected";
static const char SQL_COUNT_DEAD[] =
	"SELECT COUNT(*) FROM tasks"
	" WHERE job_id = :id AND state = 'dead' AND (:service IS NULL OR service = :service)";
static const char SQL_COUNT_CHILDREN_DEAD[] =
	"SELECT COUNT(*) FROM tasks t JOIN jobs c ON c.id = t.job_id"
	" WHERE c.parent_id = :id AND t.state = 'dead'"
	" AND (:service IS NULL OR t.service = :service)";
static const char SQL_RETRY_TASKS[] =
	"UPDATE tasks SET state = 'waiting', attempts = 0, free_waits = 0, next_attempt_at = :now,"
	" first_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL,"
	" updated_at = :now"
	" WHERE job_id = :id AND state = 'dead' AND (:service IS NULL OR service = :service)";
static const char SQL_RETRY_JOB[] =
	"UPDATE jobs SET state = :to, finished_at = NULL WHERE id = :id AND state = :expected";

/* sqlite_job_changed with a detail this function frees. */
static int changed(struct sqlite_store *s, const char *job_id, const char *type, char *detail,
		   int64_t now, struct job_record *out)
{
	int rc = sqlite_job_changed(s, job_id, type, detail, now, out);

	free(detail);
	return rc < 0 ? STORE_ERR : STORE_OK;
}

/* Creates the restore tasks of a cancelled job; *names (the services that
 * got one, pointing into a->svcs) and *n receive them. 0 or -1. */
static int add_restores(struct sqlite_store *s, const char *job_id,
			const struct store_action *a, const char **names, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < a->n_svcs; i++) {
		sqlite3_stmt *st;
		int k;

		if (!a->svcs[i].has_restore)
			continue;
		if ((st = sqlite_stmt(s, SQL_ADD_RESTORE)) == NULL)
			return -1;
		sqlite_bind_text(st, ":id", job_id);
		sqlite_bind_text(st, ":service", a->svcs[i].name);
		sqlite_bind_int(st, ":now", a->now);
		if ((k = sqlite_step_changes(s, st)) < 0)
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
	struct sqlite_store *s = sqlite_of(base);
	const char **restores = xcalloc(a->n_svcs ? a->n_svcs : 1, sizeof *restores);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_CANCEL_JOB);
	size_t n = 0;
	int rc = STORE_ERR;

	if (st == NULL)
		goto out;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_int(st, ":now", a->now);
	sqlite_bind_text(st, ":expected", jobs_job_state_name(cur->state));
	if ((rc = store_moved(&s->base, cur, sqlite_step_changes(s, st), 1)) != STORE_OK)
		goto out;
	rc = STORE_ERR;
	if ((st = sqlite_stmt(s, SQL_CANCEL_TASKS)) == NULL)
		goto out;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_int(st, ":now", a->now);
	if (sqlite_step_done(s, st) < 0 || add_restores(s, cur->id, a, restores, &n) < 0)
		goto out;
	rc = changed(s, cur->id, "job.cancelled",
		     jobs_detail_cancelled(a->by, a->reason, restores, n), a->now, out);
out:
	free(restores);
	return rc;
}

static int apply_hold(struct store *base, const struct job_record *cur,
		      const struct store_checked *c, const struct store_action *a,
		      struct job_record *out)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_HOLD_JOB);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_text(st, ":from", jobs_job_state_name(cur->state));
	sqlite_bind_text(st, ":reason", a->reason);
	if ((rc = store_moved(&s->base, cur, sqlite_step_changes(s, st), 1)) != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.held", jobs_detail_held(a->by, a->reason, cur->state),
		       a->now, out);
}

static int apply_release(struct store *base, const struct job_record *cur,
			 const struct store_checked *c, const struct store_action *a,
			 struct job_record *out)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_RELEASE_JOB);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_text(st, ":to", jobs_job_state_name(c->to));
	if ((rc = store_moved(&s->base, cur, sqlite_step_changes(s, st), 1)) != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.released",
		       jobs_detail_released(a->by, cur->hold_reason, c->to), a->now, out);
}

static int apply_approve(struct store *base, const struct job_record *cur,
			 const struct store_checked *c, const struct store_action *a,
			 struct job_record *out)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_APPROVE_JOB);
	int rc;

	(void)c;
	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_text(st, ":by", a->by);
	sqlite_bind_int(st, ":now", a->now);
	sqlite_bind_text(st, ":expected", jobs_job_state_name(cur->state));
	if ((rc = store_moved(&s->base, cur, sqlite_step_changes(s, st), 1)) != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.approved", jobs_detail_approved(a->by), a->now, out);
}

/* The job of a retry goes back to running (when it was not). */
static int retry_job(struct sqlite_store *s, const struct job_record *cur, enum job_state to,
		     const struct store_action *a, struct job_record *out)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_RETRY_JOB);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_text(st, ":to", jobs_job_state_name(to));
	sqlite_bind_text(st, ":expected", jobs_job_state_name(cur->state));
	if ((rc = store_moved(&s->base, cur, sqlite_step_changes(s, st), 1)) != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.running", jobs_detail_running(a->by, cur->state),
		       a->now, out);
}

/* Dead tasks back to waiting: as many as were counted when checking. */
static int apply_retry(struct store *base, const struct job_record *cur,
		       const struct store_checked *c, const struct store_action *a,
		       struct job_record *out)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_RETRY_TASKS);
	int64_t dead = c->own_dead;
	char *detail;
	int rc;

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_text(st, ":service", a->service);
	sqlite_bind_int(st, ":now", a->now);
	if ((rc = store_moved(&s->base, cur, sqlite_step_changes(s, st), (int)dead)) != STORE_OK)
		return rc;
	detail = jobs_detail_retried(a->by, a->service, dead, cur->state);
	rc = sqlite_event_append(&s->base, cur->id, a->now, "job.retried", a->service, detail);
	free(detail);
	if (rc < 0)
		return STORE_ERR;
	if (c->to != cur->state)
		return retry_job(s, cur, c->to, a, out);
	return sqlite_job_by_id(s, cur->id, out);
}

static int count_dead_op(struct store *base, const char *job_id, const char *service,
			 int children, int64_t *n)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, children ? SQL_COUNT_CHILDREN_DEAD : SQL_COUNT_DEAD);

	*n = 0;
	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", job_id);
	sqlite_bind_text(st, ":service", service);
	return sqlite_step_int(s, st, 0, n);
}

static int child_op(struct store *base, const char *job_id, struct job_record *out)
{
	return sqlite_job_by_id(sqlite_of(base), job_id, out);
}

static const struct store_act_ops act_ops = {
	.count_dead = count_dead_op,
	.waiting_parent = sqlite_waiting_parent,
	.cancel = apply_cancel,
	.hold = apply_hold,
	.release = apply_release,
	.retry = apply_retry,
	.approve = apply_approve,
	.children = sqlite_children,
	.child_by_id = child_op,
};

int sqlite_action_apply(struct sqlite_store *s, const struct job_record *cur,
			const struct store_action *a, struct job_record *out)
{
	return store_action_apply(&s->base, &act_ops, cur, a, out);
}

/*
 * The shared shape of every transition. On STORE_REFUSED *out receives the
 * job as it is (read again when it moved meanwhile); on STORE_OK as it
 * became.
 */
int sqlite_job_act(struct store *base, const char *job_id, const struct store_action *a,
		   struct job_record *out)
{
	struct sqlite_store *s = sqlite_of(base);
	struct job_record cur, after;
	int rc;

	memset(&after, 0, sizeof after);
	if (out != NULL)
		memset(out, 0, sizeof *out);
	if (sqlite_begin(s) != STORE_OK)
		return STORE_ERR;
	rc = sqlite_job_by_id(s, job_id, &cur);
	if (rc != STORE_OK) {
		sqlite_rollback(s);
		return rc;
	}
	rc = sqlite_action_apply(s, &cur, a, &after);
	if (rc == STORE_OK)
		rc = store_action_cascade(base, &act_ops, &cur, a);
	if (rc == STORE_OK && sqlite_commit(s) != STORE_OK)
		rc = STORE_ERR;
	if (rc != STORE_OK)
		sqlite_rollback(s);
	if (rc == STORE_REFUSED && out != NULL) {
		/* As it is now: it may have moved since cur was read. */
		jobs_job_record_clear(&after);
		if (sqlite_job_by_id(s, job_id, &after) != STORE_OK) {
			after = cur;
			memset(&cur, 0, sizeof cur);
		}
	}
	if (out != NULL && rc != STORE_ERR) {
		*out = after;
		memset(&after, 0, sizeof after);
	}
	jobs_job_record_clear(&after);
	jobs_job_record_clear(&cur);
	return rc;
}
