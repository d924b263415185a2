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

enum job_action {
	JOB_ACT_START,   /* scheduled -> running: due_at reached */
	JOB_ACT_SUCCEED, /* running -> succeeded: every task succeeded/skipped */
	JOB_ACT_FAIL,    /* running -> failed: a task is dead */
	JOB_ACT_RETRY,   /* failed|running -> running: operator retry (a running
			    job may hold dead tasks; whether any exist is the store's call) */
	JOB_ACT_CANCEL,  /* scheduled -> cancelled (a held job is released first) */
	JOB_ACT_HOLD,    /* scheduled|running|failed -> held */
	JOB_ACT_RELEASE, /* held -> the state it was in before the hold */
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
const char *jobs_job_action_name(enum job_action a);
/* Parse a name; 0 on success, -1 if unknown. */
int jobs_job_state_parse(const char *name, enum job_state *out);
int jobs_task_state_parse(const char *name, enum task_state *out);
int jobs_task_kind_parse(const char *name, enum task_kind *out);

/* Terminal: succeeded, cancelled. Active: every other state. */
int jobs_job_is_terminal(enum job_state s);
/* A task is finished when succeeded, dead or skipped. */
int jobs_task_is_finished(enum task_state s);

/*
 * The job state machine. Given the current state (and, for a held job, the
 * state it was held from) and an action, stores the next state in *to and
 * returns 0; returns -1 when the action is not allowed in that state.
 */
int jobs_job_next(enum job_state from, enum job_state held_from,
		  enum job_action act, enum job_state *to);

/*
 * The task state machine: 0 when from -> to is an allowed transition
 * (pending->in_flight, in_flight->succeeded|waiting|dead, waiting->in_flight,
 * in_flight->waiting on lease loss, dead->waiting on retry, any unfinished
 * -> skipped), else -1.
 */
int jobs_task_can(enum task_state from, enum task_state to);

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
