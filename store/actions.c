/*
 * actions.c - an operator's action on one job, as every backend applies
 * it inside its transaction: what the rules need to know (the dead tasks a
 * retry takes back, the subject job a purge's cancel would strand), the
 * answer of the rules (jobs_action_check, jobs_approval_check) and the
 * refusal's words, then the backend's write; and a subject job's action
 * reaching its children. The backend reads and writes through struct
 * store_act_ops.
 */
#include "store/shared.h"
#include "util/log.h"

#include <string.h>

/* The backend's write of act; NULL for an action it does not know. */
static store_act_write_fn write_of(const struct store_act_ops *ops, enum job_action act)
{
	switch (act) {
	case JOB_ACT_CANCEL: return ops->cancel;
	case JOB_ACT_HOLD: return ops->hold;
	case JOB_ACT_RELEASE: return ops->release;
	case JOB_ACT_RETRY: return ops->retry;
	case JOB_ACT_APPROVE: return ops->approve;
	}
	return NULL;
}

int store_moved(struct store *s, const struct job_record *cur, int n, int want)
{
	if (n < 0)
		return STORE_ERR;
	if (n == want)
		return STORE_OK;
	log_msg(LOG_INFO, "job.moved", "job %s is no longer %s: left as it is", cur->id,
		jobs_job_state_name(cur->state));
	store_set_error(s, STORE_E_OTHER, "the job moved meanwhile");
	return STORE_REFUSED;
}

/* What a retry would take back: the job's dead tasks, and a subject job's
 * children's (DESIGN 9: retrying the parent retries its failed child). */
static int count_retry(struct store *s, const struct store_act_ops *ops,
		       const struct job_record *cur, const struct store_action *a,
		       struct store_checked *c)
{
	int64_t children = 0;

	if (ops->count_dead(s, cur->id, a->service, 0, &c->own_dead) < 0)
		return -1;
	if (cur->kind == JOB_KIND_USER &&
	    ops->count_dead(s, cur->id, a->service, 1, &children) < 0)
		return -1;
	c->ask.dead_tasks = c->own_dead + children;
	return 0;
}

int store_action_apply(struct store *s, const struct store_act_ops *ops,
		       const struct job_record *cur, const struct store_action *a,
		       struct job_record *out)
{
	struct store_checked c = { .ask = { .act = a->act, .reason = a->reason } };
	store_act_write_fn write = write_of(ops, a->act);
	const char *why = "";
	char parent[JOBS_ID_LEN + 1] = "";
	int waits = 0;

	if (write == NULL)
		return STORE_ERR;
	if (a->act == JOB_ACT_RETRY && count_retry(s, ops, cur, a, &c) < 0)
		return STORE_ERR;
	if (a->act == JOB_ACT_CANCEL && cur->kind == JOB_KIND_PURGE &&
	    (waits = ops->waiting_parent(s, cur->id, parent)) < 0)
		return STORE_ERR;
	c.ask.parent_waits = waits;
	if (a->act == JOB_ACT_APPROVE) {
		c.to = cur->state;
		if (jobs_approval_check(cur->approval, cur->state, cur->requested_by, a->by,
					&why) < 0) {
			store_set_error(s, STORE_E_OTHER, "%s", why);
			return STORE_REFUSED;
		}
	} else if (jobs_action_check(&c.ask, cur->state, cur->held_from, &c.to, &why) < 0) {
		if (waits && cur->state == JOB_SCHEDULED)
			store_set_error(s, STORE_E_OTHER, "the erasure of a user (job %s)"
					" waits for it: cancel the subject job %s instead", parent,
					parent);
		else
			store_set_error(s, STORE_E_OTHER, "%s", why);
		return STORE_REFUSED;
	}
	return write(s, cur, &c, a, out);
}

int store_action_cascade(struct store *s, const struct store_act_ops *ops,
			 const struct job_record *parent, const struct store_action *a)
{
	struct store_idset kids = { 0 };
	int rc = STORE_OK;

	if (parent->kind != JOB_KIND_USER || a->act == JOB_ACT_APPROVE)
		return STORE_OK;
	if (ops->children(s, parent->id, &kids) < 0)
		return STORE_ERR;
	for (size_t i = 0; rc != STORE_ERR && i < kids.n; i++) {
		struct job_record cur, after;

		memset(&after, 0, sizeof after);
		if (ops->child_by_id(s, kids.ids[i], &cur) != STORE_OK) {
			rc = STORE_ERR;
			break;
		}
		rc = store_action_apply(s, ops, &cur, a, &after);
		jobs_job_record_clear(&cur);
		jobs_job_record_clear(&after);
	}
	store_idset_free(&kids);
	return rc == STORE_ERR ? STORE_ERR : STORE_OK;
}
