/*
 * jobs.h - the domain: job and task states, the transitions between them,
 * tenant-id validation and job ids. Pure functions, no I/O.
 */
#ifndef TENANTDEL_JOBS_H
#define TENANTDEL_JOBS_H

#include <stddef.h>
#include <stdint.h>

enum job_state {
	JOB_SCHEDULED,
	JOB_RUNNING,
	JOB_SUCCEEDED,
	JOB_FAILED,
	JOB_CANCELLED,
	JOB_HELD,
};
#define JOB_STATE_COUNT 6

/* The operator's actions on a job (DESIGN 3). The engine's own moves
 * (scheduled -> running at due_at, running -> succeeded when every task
 * succeeded or was skipped, running -> failed on a dead task) are the job
 * evaluation's, not actions. */
enum job_action {
	JOB_ACT_RETRY,   /* failed|running -> running: dead tasks back to waiting */
	JOB_ACT_CANCEL,  /* scheduled -> cancelled (a held job is released first) */
	JOB_ACT_HOLD,    /* scheduled|running|failed -> held, with a reason */
	JOB_ACT_RELEASE, /* held -> the state it was in before the hold */
	JOB_ACT_APPROVE, /* four eyes: approval pending -> approved (state unchanged) */
};

/* Four eyes (DESIGN 10): a job created under approval = required waits
 * for a second person; NONE for every other job. */
enum job_approval {
	JOB_APPROVAL_NONE,
	JOB_APPROVAL_PENDING,
	JOB_APPROVAL_APPROVED,
};

enum task_state {
	TASK_PENDING,
	TASK_IN_FLIGHT,
	TASK_WAITING,
	TASK_SUCCEEDED,
	TASK_DEAD,
	TASK_SKIPPED,
};
#define TASK_STATE_COUNT 6

/* What a task does: purge (DELETE), or the soft-delete saga steps. */
enum task_kind {
	TASK_KIND_DELETE,
	TASK_KIND_SUSPEND,
	TASK_KIND_RESTORE,
};

/* Names as stored and printed ("scheduled", "in_flight", "delete", ...);
 * "unknown" for an out-of-range value. Never NULL. */
const char *jobs_job_state_name(enum job_state s);
const char *jobs_task_state_name(enum task_state s);
const char *jobs_task_kind_name(enum task_kind k);
/* Parse a name; 0 on success, -1 if unknown. */
int jobs_job_state_parse(const char *name, enum job_state *out);
int jobs_task_state_parse(const char *name, enum task_state *out);
int jobs_task_kind_parse(const char *name, enum task_kind *out);

/* Terminal: succeeded, cancelled. Active: every other state. */
int jobs_job_is_terminal(enum job_state s);
/* A task is finished when succeeded, dead or skipped. */
int jobs_task_is_finished(enum task_state s);

/* An operator's request, and what the answer depends on besides the job's
 * state. */
struct job_action_ask {
	enum job_action act;
	const char *reason; /* hold: required, not empty */
	int64_t dead_tasks; /* retry: the dead tasks it would retry */
	int parent_waits;   /* cancel: an unfinished subject job waits for this
			     * purge (its child, or the tenant's purge that
			     * stands for one; DESIGN 9) */
};

/*
 * The checks on the operator's actions, once for the CLI, the API and the
 * store. jobs_action_check_input: what the request itself must carry,
 * whatever the job's state (a hold needs a reason). jobs_action_check: the
 * same, then whether the action is allowed on a job in state from (held
 * from held_from): cancel only a scheduled job; hold a scheduled, running
 * or failed one; release a held one back to its state; retry a failed or
 * running job that has dead tasks; never cancel alone a purge that a
 * subject job waits for (that job would wait forever: cancel it instead).
 * 0 (and *to the job's state after, for jobs_action_check), or -1 with *why (may be NULL) a static phrase
 * ("a hold needs a reason", "not allowed in its state", "no dead task to
 * retry", "a user's erasure waits for it").
 */
int jobs_action_check_input(const struct job_action_ask *ask, const char **why);
int jobs_action_check(const struct job_action_ask *ask, enum job_state from,
		      enum job_state held_from, enum job_state *to, const char **why);

/*
 * Whether `by` may approve a job whose approval is `approval`, in state
 * `state`, requested by requested_by (may be NULL): by must be named, the
 * job's approval pending and the job not finished, and by must not be the
 * requester (four eyes). 0, or -1 with *why (may be NULL) a static phrase.
 */
int jobs_approval_check(enum job_approval approval, enum job_state state,
			const char *requested_by, const char *by, const char **why);

/* "pending", "approved"; NULL for JOB_APPROVAL_NONE. Parse: 0 or -1. */
const char *jobs_approval_name(enum job_approval a);
int jobs_approval_parse(const char *s, enum job_approval *out);

#define JOBS_TENANT_ID_MAX 128

/*
 * Validates a tenant id (DESIGN 2): 1-128 chars of [A-Za-z0-9._:-], the
 * first a letter or digit. Returns 0 if valid; else -1 and, when why is not
 * NULL, a static message naming the problem.
 */
int jobs_tenant_id_check(const char *id, const char **why);

/* Job ids: UUIDv7 text, 36 chars + NUL. */
#define JOBS_ID_LEN 36
/*
 * Writes a new time-ordered job id for time now_ms into out. Ids made by one
 * process are strictly increasing even within one millisecond (RFC 9562
 * method 1 counter). Randomness from OpenSSL RAND_bytes. Can't fail.
 */
void jobs_id_new(int64_t now_ms, char out[JOBS_ID_LEN + 1]);
/* 0 when s looks like a job id (lower-case UUID text, any version), else -1. */
int jobs_id_check(const char *s);

#endif
