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

/* What the rules said yes to: the request as checked and the job's next state. */
struct checked {
	struct job_action_ask ask;   /* retry: dead_tasks counts a subject job's
				      * children's too */
	enum job_state to;
	int64_t own_dead;            /* retry: the job's own dead tasks */
};

typedef int (*apply_fn)(struct pg_store *s, const struct job_record *cur,
			const struct checked *c, const struct store_action *a,
			struct job_record *out);

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

/* A write that changed other than `want` rows: the job moved meanwhile. */
static int moved(struct pg_store *s, const struct job_record *cur, int n, int want)
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

static int apply_cancel(struct pg_store *s, const struct job_record *cur,
			const struct checked *c, const struct store_action *a,
			struct job_record *out)
{
	const char **restores = xcalloc(a->n_svcs ? a->n_svcs : 1, sizeof *restores);
	char now[24];
	size_t n = 0;
	int rc;

	snprintf(now, sizeof now, "%lld", (long long)a->now);
	rc = moved(s, cur, write_job(s, SQL_CANCEL_JOB, cur->id, now,
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

static int apply_hold(struct pg_store *s, const struct job_record *cur, const struct checked *c,
		      const struct store_action *a, struct job_record *out)
{
	int rc = moved(s, cur, write_job(s, SQL_HOLD_JOB, cur->id, jobs_job_state_name(cur->state),
					 a->reason ? a->reason : "", NULL), 1);

	if (rc != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.held", jobs_detail_held(a->by, a->reason, cur->state),
		       a->now, out);
}

static int apply_release(struct pg_store *s, const struct job_record *cur,
			 const struct checked *c, const struct store_action *a,
			 struct job_record *out)
{
	int rc = moved(s, cur, write_job(s, SQL_RELEASE_JOB, cur->id,
					 jobs_job_state_name(c->to), NULL, NULL), 1);

	if (rc != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.released",
		       jobs_detail_released(a->by, cur->hold_reason, c->to), a->now, out);
}

static int apply_approve(struct pg_store *s, const struct job_record *cur,
			 const struct checked *c, const struct store_action *a,
			 struct job_record *out)
{
	struct pg_params p = { 0 };
	int rc;

	pg_p_text(&p, cur->id);
	pg_p_text(&p, a->by);
	pg_p_int(&p, a->now);
	pg_p_text(&p, jobs_job_state_name(cur->state));
	if ((rc = moved(s, cur, pg_run_changes(s, SQL_APPROVE_JOB, &p), 1)) != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.approved", jobs_detail_approved(a->by), a->now, out);
}

/* The job of a retry goes back to running (when it was not). */
static int retry_job(struct pg_store *s, const struct job_record *cur, enum job_state to,
		     const struct store_action *a, struct job_record *out)
{
	int rc = moved(s, cur, write_job(s, SQL_RETRY_JOB, cur->id, jobs_job_state_name(to),
					 jobs_job_state_name(cur->state), NULL), 1);

	if (rc != STORE_OK)
		return rc;
	return changed(s, cur->id, "job.running", jobs_detail_running(a->by, cur->state),
		       a->now, out);
}

/* Dead tasks back to waiting: as many as were counted when checking. */
static int apply_retry(struct pg_store *s, const struct job_record *cur,
		       const struct checked *c, const struct store_action *a,
		       struct job_record *out)
{
	struct pg_params p = { 0 };
	int64_t dead = c->own_dead;
	char *detail;
	int rc;

	pg_p_text(&p, cur->id);
	pg_p_text(&p, a->service);
	pg_p_int(&p, a->now);
	if ((rc = moved(s, cur, pg_run_changes(s, SQL_RETRY_TASKS, &p), (int)dead)) != STORE_OK)
		return rc;
	detail = jobs_detail_retried(a->by, a->service, dead, cur->state);
	rc = pg_event_append(s, cur->id, a->now, "job.retried", a->service, detail);
	free(detail);
	if (rc < 0)
		return STORE_ERR;
	if (c->to != cur->state)
		return retry_job(s, cur, c->to, a, out);
	return pg_job_by_id(s, cur->id, 0, out);
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

/* What a retry would take back: the job's dead tasks, and a subject job's
 * children's (DESIGN 9: retrying the parent retries its failed child). */
static int count_retry(struct pg_store *s, const struct job_record *cur,
		       const struct store_action *a, struct checked *c)
{
	struct pg_params p = { 0 };
	int64_t children = 0;

	pg_p_text(&p, cur->id);
	pg_p_text(&p, a->service);
	if (pg_run_int(s, SQL_COUNT_DEAD, &p, 0, &c->own_dead) < 0)
		return -1;
	if (cur->kind == JOB_KIND_USER &&
	    pg_run_int(s, SQL_COUNT_CHILDREN_DEAD, &p, 0, &children) < 0)
		return -1;
	c->ask.dead_tasks = c->own_dead + children;
	return 0;
}

/* Asks the rules about a on cur, then applies it. */
static int action_apply(struct pg_store *s, const struct job_record *cur,
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
	    (waits = pg_waiting_parent(s, cur->id, parent)) < 0)
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
 * a child already held, is left as it is). Children's ids are later than
 * their parent's: locked after it, in id order. STORE_OK or STORE_ERR.
 */
static int cascade(struct pg_store *s, const struct job_record *parent,
		   const struct store_action *a)
{
	struct store_idset kids = { 0 };
	int rc = STORE_OK;

	if (parent->kind != JOB_KIND_USER || a->act == JOB_ACT_APPROVE)
		return STORE_OK;
	if (pg_children(s, parent->id, &kids) < 0)
		return STORE_ERR;
	for (size_t i = 0; rc != STORE_ERR && i < kids.n; i++) {
		struct job_record cur, after;

		memset(&after, 0, sizeof after);
		if (pg_job_by_id(s, kids.ids[i], 1, &cur) != STORE_OK) {
			rc = STORE_ERR;
			break;
		}
		rc = action_apply(s, &cur, a, &after);
		jobs_job_record_clear(&cur);
		jobs_job_record_clear(&after);
	}
	store_idset_free(&kids);
	return rc == STORE_ERR ? STORE_ERR : STORE_OK;
}

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
	rc = action_apply(s, &t->cur, t->a, &t->after);
	if (rc == STORE_OK)
		rc = cascade(s, &t->cur, t->a);
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
