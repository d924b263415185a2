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

/* What the rules said yes to: the request as checked and the job's next state. */
struct checked {
	struct job_action_ask ask;   /* retry: dead_tasks counts a subject job's
				      * children's too */
	enum job_state to;
	int64_t own_dead;            /* retry: the job's own dead tasks */
};

/* Writes the change of one action to the job read as cur; STORE_OK,
 * STORE_REFUSED (moved meanwhile) or STORE_ERR. */
typedef int (*apply_fn)(struct sqlite_store *s, const struct job_record *cur,
			const struct checked *c, const struct store_action *a, struct job_record *out);

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

/* A write that changed other than `want` rows: the job moved meanwhile. */
static int moved(struct sqlite_store *s, const struct job_record *cur, int n, int want)
{
	if (n < 0)
		return STORE_ERR;
	if (n == want)
		return STORE_OK;
	log_msg(LOG_INFO, "job.moved", "job %s is no longer %s: left as it is", cur->id,
		jobs_job_state_name(cur->state));
	store_set_error(&s->base, STORE_E_OTHER, "the job moved meanwhile");
	return STORE_REFUSED;
}

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

static int apply_cancel(struct sqlite_store *s, const struct job_record *cur,
			const struct checked *c, const struct store_action *a, struct job_record *out)
{
	const char **restores = xcalloc(a->n_svcs ? a->n_svcs : 1, sizeof *restores);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_CANCEL_JOB);
	size_t n = 0;
	int rc = STORE_ERR;

	if (st == NULL)
		goto out;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_int(st, ":now", a->now);
	sqlite_bind_text(st, ":expected", jobs_job_state_name(cur->state));
	if ((rc = moved(s, cur, sqlite_step_changes(s, st), 1)) != STORE_OK)
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

static int apply_hold(struct sqlite_store *s, const struct job_record *cur, const struct checked *c,
		      const struct store_action *a, struct job_record *out)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_HOLD_JOB);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_text(st, ":from", jobs_job_state_name(cur->state));
	sqlite_bind_text(st, ":reason", a->reason);
	if ((rc = moved(s, cur, sqlite_step_changes(s, st), 1)) != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.held", jobs_detail_held(a->by, a->reason, cur->state),
		       a->now, out);
}

static int apply_release(struct sqlite_store *s, const struct job_record *cur,
			 const struct checked *c, const struct store_action *a, struct job_record *out)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_RELEASE_JOB);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_text(st, ":to", jobs_job_state_name(c->to));
	if ((rc = moved(s, cur, sqlite_step_changes(s, st), 1)) != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.released",
		       jobs_detail_released(a->by, cur->hold_reason, c->to), a->now, out);
}

static int apply_approve(struct sqlite_store *s, const struct job_record *cur,
			 const struct checked *c, const struct store_action *a, struct job_record *out)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_APPROVE_JOB);
	int rc;

	(void)c;
	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_text(st, ":by", a->by);
	sqlite_bind_int(st, ":now", a->now);
	sqlite_bind_text(st, ":expected", jobs_job_state_name(cur->state));
	if ((rc = moved(s, cur, sqlite_step_changes(s, st), 1)) != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.approved", jobs_detail_approved(a->by), a->now, out);
}

/* The dead tasks a retry of a would take back (one service's, or all):
 * the job's own (sql SQL_COUNT_DEAD) or its children's. */
static int count_dead(struct sqlite_store *s, const char *sql, const struct job_record *cur,
		      const struct store_action *a, int64_t *n)
{
	sqlite3_stmt *st = sqlite_stmt(s, sql);

	*n = 0;
	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_text(st, ":service", a->service);
	return sqlite_step_int(s, st, 0, n);
}

/* What a retry would take back: the job's dead tasks, and a subject job's
 * children's (DESIGN 9: retrying the parent retries its failed child). */
static int count_retry(struct sqlite_store *s, const struct job_record *cur,
		       const struct store_action *a, struct checked *c)
{
	int64_t children = 0;

	if (count_dead(s, SQL_COUNT_DEAD, cur, a, &c->own_dead) < 0)
		return -1;
	if (cur->kind == JOB_KIND_USER &&
	    count_dead(s, SQL_COUNT_CHILDREN_DEAD, cur, a, &children) < 0)
		return -1;
	c->ask.dead_tasks = c->own_dead + children;
	return 0;
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
	if ((rc = moved(s, cur, sqlite_step_changes(s, st), 1)) != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.running", jobs_detail_running(a->by, cur->state),
		       a->now, out);
}

/* Dead tasks back to waiting: as many as were counted when checking. */
static int apply_retry(struct sqlite_store *s, const struct job_record *cur,
		       const struct checked *c, const struct store_action *a, struct job_record *out)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_RETRY_TASKS);
	int64_t dead = c->own_dead;
	char *detail;
	int rc;

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":id", cur->id);
	sqlite_bind_text(st, ":service", a->service);
	sqlite_bind_int(st, ":now", a->now);
	if ((rc = moved(s, cur, sqlite_step_changes(s, st), (int)dead)) != STORE_OK)
		return rc;
	detail = jobs_detail_retried(a->by, a->service, dead, cur->state);
	rc = sqlite_event_append(s, cur->id, a->now, "job.retried", a->service, detail);
	free(detail);
	if (rc < 0)
		return STORE_ERR;
	if (c->to != cur->state)
		return retry_job(s, cur, c->to, a, out);
	return sqlite_job_by_id(s, cur->id, out);
}

static apply_fn apply_of(enum job_action act)
{
	switch (act) {
	case JOB_ACT_CANCEL: return apply_cancel;
	case JOB_ACT_HOLD: return apply_hold;
	case JOB_ACT_RELEASE: return apply_release;
	case JOB_ACT_RETRY: return apply_retry;
	case JOB_ACT_APPROVE: return apply_approve;
	}
	return NULL;
}

int sqlite_action_apply(struct sqlite_store *s, const struct job_record *cur,
			const struct store_action *a, struct job_record *out)
{
	struct checked c = { .ask = { .act = a->act, .reason = a->reason } };
	apply_fn apply = apply_of(a->act);
	const char *why = "";
	char parent[JOBS_ID_LEN + 1] = "";
	int waits = 0;

	if (apply == NULL)
		return STORE_ERR;
	if (a->act == JOB_ACT_RETRY && count_retry(s, cur, a, &c) < 0)
		return STORE_ERR;
	if (a->act == JOB_ACT_CANCEL && cur->kind == JOB_KIND_PURGE &&
	    (waits = sqlite_waiting_parent(s, cur->id, parent)) < 0)
		return STORE_ERR;
	c.ask.parent_waits = waits;
	if (a->act == JOB_ACT_APPROVE) {
		c.to = cur->state;
		if (jobs_approval_check(cur->approval, cur->state, cur->requested_by, a->by,
					&why) < 0) {
			store_set_error(&s->base, STORE_E_OTHER, "%s", why);
			return STORE_REFUSED;
		}
	} else if (jobs_action_check(&c.ask, cur->state, cur->held_from, &c.to, &why) < 0) {
		if (waits && cur->state == JOB_SCHEDULED)
			store_set_error(&s->base, STORE_E_OTHER, "the erasure of a user (job %s)"
					" waits for it: cancel the subject job %s instead", parent,
					parent);
		else
			store_set_error(&s->base, STORE_E_OTHER, "%s", why);
		return STORE_REFUSED;
	}
	return apply(s, cur, &c, a, out);
}

/*
 * A subject job's action reaches its unfinished children (DESIGN 9): each
 * that the rules allow it on gets it too (one refused, such as a hold of
 * a child already held, is left as it is). STORE_OK or STORE_ERR.
 */
static int cascade(struct sqlite_store *s, const struct job_record *parent,
		   const struct store_action *a)
{
	struct store_idset kids = { 0 };
	int rc = STORE_OK;

	if (parent->kind != JOB_KIND_USER || a->act == JOB_ACT_APPROVE)
		return STORE_OK;
	if (sqlite_children(s, parent->id, &kids) < 0)
		return STORE_ERR;
	for (size_t i = 0; rc != STORE_ERR && i < kids.n; i++) {
		struct job_record cur, after;

		memset(&after, 0, sizeof after);
		if ((rc = sqlite_job_by_id(s, kids.ids[i], &cur)) != STORE_OK) {
			rc = STORE_ERR;
			break;
		}
		rc = sqlite_action_apply(s, &cur, a, &after);
		jobs_job_record_clear(&cur);
		jobs_job_record_clear(&after);
	}
	store_idset_free(&kids);
	return rc == STORE_ERR ? STORE_ERR : STORE_OK;
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
		rc = cascade(s, &cur, a);
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
