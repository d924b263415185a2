/*
 * transitions.c - the operator's transitions: cancel, hold, release, retry.
 * Each is one BEGIN IMMEDIATE transaction: read the job, ask the state
 * machine (jobs_job_next) whether the action is allowed, write the change,
 * its events and its webhook outbox row, commit.
 */
#include "store/store_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct op {
	enum job_action act;
	const char *by;
	const char *reason;
	const char *service;
	const struct store_service *svcs;
	size_t n_svcs;
	int64_t now;
};

/* Writes the change of one action; STORE_OK, STORE_REFUSED or STORE_ERR. */
typedef int (*apply_fn)(struct store *s, const struct job_record *cur, enum job_state to,
			const struct op *op, struct job_record *out);

static const char SQL_CANCEL_JOB[] =
	"UPDATE jobs SET state = 'cancelled', finished_at = :now WHERE id = :id";
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
	"UPDATE jobs SET state = 'held', held_from = :from, hold_reason = :reason WHERE id = :id";
static const char SQL_RELEASE_JOB[] =
	"UPDATE jobs SET state = :to, held_from = NULL, hold_reason = NULL WHERE id = :id";
static const char SQL_RETRY_TASKS[] =
	"UPDATE tasks SET state = 'waiting', attempts = 0, free_waits = 0, next_attempt_at = :now,"
	" first_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL,"
	" updated_at = :now"
	" WHERE job_id = :id AND state = 'dead' AND (:service IS NULL OR service = :service)";
static const char SQL_RETRY_JOB[] =
	"UPDATE jobs SET state = :to, finished_at = NULL WHERE id = :id";

/* Runs a prepared UPDATE/INSERT bound by the caller; the rows changed, or -1. */
static int run_write(struct store *s, sqlite3_stmt *st)
{
	if (store_step_done(s, st) < 0)
		return -1;
	return sqlite3_changes(s->db);
}

/* store_job_changed with a detail tree that this function deletes. */
static int changed(struct store *s, const char *job_id, const char *type, cJSON *detail,
		   int64_t now, struct job_record *out)
{
	int rc = store_job_changed(s, job_id, type, detail, now, out);

	cJSON_Delete(detail);
	return rc < 0 ? STORE_ERR : STORE_OK;
}

/* Creates the restore tasks of a cancelled job; adds their services to arr. */
static int add_restores(struct store *s, const char *job_id, const struct op *op, cJSON *arr)
{
	for (size_t i = 0; i < op->n_svcs; i++) {
		sqlite3_stmt *st;
		int n;

		if (!op->svcs[i].has_restore)
			continue;
		st = store_stmt(s, SQL_ADD_RESTORE);
		if (st == NULL)
			return -1;
		store_bind_text(st, ":id", job_id);
		store_bind_text(st, ":service", op->svcs[i].name);
		store_bind_int(st, ":now", op->now);
		if ((n = run_write(s, st)) < 0)
			return -1;
		if (n > 0)
			cJSON_AddItemToArray(arr, cJSON_CreateString(op->svcs[i].name));
	}
	return 0;
}

static int apply_cancel(struct store *s, const struct job_record *cur, enum job_state to,
			const struct op *op, struct job_record *out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_CANCEL_JOB);
	cJSON *detail = cJSON_CreateObject();
	cJSON *restores = cJSON_CreateArray();

	jobs_json_add_str(detail, "by", op->by);
	jobs_json_add_str(detail, "reason", op->reason);
	cJSON_AddItemToObject(detail, "restores", restores);
	if (st == NULL)
		goto fail;
	store_bind_text(st, ":id", cur->id);
	store_bind_int(st, ":now", op->now);
	if (run_write(s, st) < 0 || (st = store_stmt(s, SQL_CANCEL_TASKS)) == NULL)
		goto fail;
	store_bind_text(st, ":id", cur->id);
	store_bind_int(st, ":now", op->now);
	if (run_write(s, st) < 0 || add_restores(s, cur->id, op, restores) < 0)
		goto fail;
	return changed(s, cur->id, "job.cancelled", detail, op->now, out);
fail:
	cJSON_Delete(detail);
	return STORE_ERR;
}

static int apply_hold(struct store *s, const struct job_record *cur, enum job_state to,
		      const struct op *op, struct job_record *out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_HOLD_JOB);
	cJSON *detail;

	if (st == NULL)
		return STORE_ERR;
	store_bind_text(st, ":id", cur->id);
	store_bind_text(st, ":from", jobs_job_state_name(cur->state));
	store_bind_text(st, ":reason", op->reason);
	if (run_write(s, st) < 0)
		return STORE_ERR;
	detail = cJSON_CreateObject();
	jobs_json_add_str(detail, "by", op->by);
	jobs_json_add_str(detail, "reason", op->reason);
	cJSON_AddStringToObject(detail, "from", jobs_job_state_name(cur->state));
	return changed(s, cur->id, "job.held", detail, op->now, out);
}

static int apply_release(struct store *s, const struct job_record *cur, enum job_state to,
			 const struct op *op, struct job_record *out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_RELEASE_JOB);
	cJSON *detail;

	if (st == NULL)
		return STORE_ERR;
	store_bind_text(st, ":id", cur->id);
	store_bind_text(st, ":to", jobs_job_state_name(to));
	if (run_write(s, st) < 0)
		return STORE_ERR;
	detail = cJSON_CreateObject();
	jobs_json_add_str(detail, "by", op->by);
	jobs_json_add_str(detail, "hold_reason", cur->hold_reason);
	cJSON_AddStringToObject(detail, "to", jobs_job_state_name(to));
	return changed(s, cur->id, "job.released", detail, op->now, out);
}

/* Dead tasks back to waiting; 0 of them is a refusal (nothing to retry). */
static int apply_retry(struct store *s, const struct job_record *cur, enum job_state to,
		       const struct op *op, struct job_record *out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_RETRY_TASKS);
	cJSON *detail;
	int n;

	if (st == NULL)
		return STORE_ERR;
	store_bind_text(st, ":id", cur->id);
	store_bind_text(st, ":service", op->service);
	store_bind_int(st, ":now", op->now);
	if ((n = run_write(s, st)) <= 0)
		return n < 0 ? STORE_ERR : STORE_REFUSED;
	detail = cJSON_CreateObject();
	jobs_json_add_str(detail, "by", op->by);
	jobs_json_add_str(detail, "service", op->service);
	cJSON_AddNumberToObject(detail, "tasks", n);
	cJSON_AddStringToObject(detail, "from", jobs_job_state_name(cur->state));
	if (store_event_append(s, cur->id, op->now, "job.retried", op->service, detail) < 0) {
		cJSON_Delete(detail);
		return STORE_ERR;
	}
	cJSON_Delete(detail);
	if (to == cur->state)
		return out ? store_read_job_by_id(s, cur->id, out) : STORE_OK;
	if ((st = store_stmt(s, SQL_RETRY_JOB)) == NULL)
		return STORE_ERR;
	store_bind_text(st, ":id", cur->id);
	store_bind_text(st, ":to", jobs_job_state_name(to));
	if (run_write(s, st) < 0)
		return STORE_ERR;
	detail = cJSON_CreateObject();
	jobs_json_add_str(detail, "by", op->by);
	cJSON_AddStringToObject(detail, "from", jobs_job_state_name(cur->state));
	return changed(s, cur->id, "job.running", detail, op->now, out);
}

/*
 * The shared shape of every transition. On STORE_REFUSED *out receives the
 * job as it is; on STORE_OK as it became.
 */
static int transition(struct store *s, const char *job_id, const struct op *op,
		      apply_fn apply, struct job_record *out)
{
	struct job_record cur, after;
	enum job_state to;
	int rc;

	memset(&after, 0, sizeof after);
	if (out != NULL)
		memset(out, 0, sizeof *out);
	if (store_begin(s) != STORE_OK)
		return STORE_ERR;
	rc = store_read_job_by_id(s, job_id, &cur);
	if (rc != STORE_OK) {
		store_rollback(s);
		return rc;
	}
	if (jobs_job_next(cur.state, cur.held_from, op->act, &to) < 0)
		rc = STORE_REFUSED;
	else
		rc = apply(s, &cur, to, op, &after);
	if (rc == STORE_OK && store_commit(s) != STORE_OK)
		rc = STORE_ERR;
	if (rc != STORE_OK)
		store_rollback(s);
	if (out != NULL && rc == STORE_OK) {
		*out = after;
		memset(&after, 0, sizeof after);
	} else if (out != NULL && rc == STORE_REFUSED) {
		*out = cur;
		memset(&cur, 0, sizeof cur);
	}
	jobs_job_record_clear(&after);
	jobs_job_record_clear(&cur);
	return rc;
}

int store_job_cancel(struct store *s, const char *job_id, const char *by,
		     const char *reason, const struct store_service *svcs, size_t n_svcs,
		     int64_t now, struct job_record *out)
{
	struct op op = { .act = JOB_ACT_CANCEL, .by = by, .reason = reason, .svcs = svcs,
			 .n_svcs = n_svcs, .now = now };

	return transition(s, job_id, &op, apply_cancel, out);
}

int store_job_hold(struct store *s, const char *job_id, const char *by,
		   const char *reason, int64_t now, struct job_record *out)
{
	struct op op = { .act = JOB_ACT_HOLD, .by = by, .reason = reason, .now = now };

	if (out != NULL)
		memset(out, 0, sizeof *out);
	if (reason == NULL || reason[0] == '\0') {
		log_msg(LOG_ERROR, "store.error", "hold of job %s without a reason", job_id);
		snprintf(s->last_error, sizeof s->last_error, "a hold needs a reason");
		return STORE_ERR;
	}
	return transition(s, job_id, &op, apply_hold, out);
}

int store_job_release(struct store *s, const char *job_id, const char *by, int64_t now,
		      struct job_record *out)
{
	struct op op = { .act = JOB_ACT_RELEASE, .by = by, .now = now };

	return transition(s, job_id, &op, apply_release, out);
}

int store_job_retry(struct store *s, const char *job_id, const char *service,
		    const char *by, int64_t now, struct job_record *out)
{
	struct op op = { .act = JOB_ACT_RETRY, .by = by, .service = service, .now = now };

	return transition(s, job_id, &op, apply_retry, out);
}
