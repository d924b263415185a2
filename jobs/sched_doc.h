/*
 * sched_doc.h - the JSON documents the scheduler's writes carry: the
 * details of task.attempt (a finished attempt, a lease taken back),
 * task.preview, task.verify, job.deadline_missed and of the job-level
 * events of an evaluation (jobs/evaluate.h), and a task's cumulative
 * deleted counts. Pure: plain values in, a malloc'ed JSON object text out,
 * built with cJSON (numbers past 2^53 exactly, util/json.h). To the store
 * the text is opaque bytes; the event chain hashes it, so each shape is
 * byte for byte what earlier versions wrote (keys, order, number forms).
 * Allocation failure aborts, so nothing here fails.
 */
#ifndef TENANTDEL_SCHED_DOC_H
#define TENANTDEL_SCHED_DOC_H

#include <stdint.h>

#include "jobs/evaluate.h"
#include "jobs/jobs.h"

/*
 * The counts of this call added to what earlier calls of the task deleted
 * (an under-deletion retried deletes the rest): old and add are JSON
 * objects of integer counts; a key in both is summed (capped at
 * INT64_MAX), a key in one is kept, a value that is no integer in add is
 * ignored. A copy of add when old is NULL or either is no JSON object.
 * NULL when add is NULL.
 */
char *sched_doc_merge_counts(const char *old, const char *add);

/* A finished attempt, as its task.attempt event tells it. */
struct sched_doc_attempt {
	enum task_kind kind;
	int attempt;              /* calls sent, this one's included */
	const char *outcome;      /* "success", "retry", "permanent" */
	const char *state;        /* the task's new state, or "lease_lost" */
	int http_status;          /* 0: no answer (null) */
	int64_t duration_ms;
	const char *counts_json;  /* deleted counts of this call (JSON object), NULL none */
	int64_t total;            /* -1: none */
	const char *error;        /* NULL: none */
	int free_wait;            /* a wait the service asked for: no retry budget used */
	int waiting;              /* the task waits: next_attempt_at is written */
	int64_t next_attempt_at;  /* epoch ms (<= 0: null) */
};

/* {"kind","attempt","outcome","state","http_status","duration_ms",
 * ["deleted_counts"],["total_deleted"],["error"],["free_wait"],
 * ["next_attempt_at"]}. */
char *sched_doc_attempt(const struct sched_doc_attempt *a);

/* The task.attempt of a lease taken back: {"kind","attempt","outcome":
 * "permanent"|"retry","state":"dead"|"waiting","http_status":null,"error",
 * "lease_owner"} (kind NULL: "delete"; owner NULL: ""). */
char *sched_doc_reclaimed(const char *kind, int attempt, int dead, const char *error,
			  const char *owner);

/* task.preview, before the purge: {"when":"before",["counts"],["total"],
 * ["error"]}; counts (JSON object text) is left out when it does not
 * parse, total when < 0, error when NULL. */
char *sched_doc_preview(const char *counts_json, int64_t total, const char *error);

/* task.verify, after it: {"remaining": n, "verified": n == 0}. */
char *sched_doc_verify(int64_t remaining);

/* job.deadline_missed: {"deadline_at": RFC 3339 or null, "state"}. */
char *sched_doc_deadline_missed(int64_t deadline_at, enum job_state state);

/* The detail of the event of an evaluation (jobs_eval_event): job.failed
 * {"dead_tasks": n}, job.running {"from":"failed","reason":"no dead task
 * left"}; NULL for the others (job.succeeded is written with {}). */
char *sched_doc_eval(const struct jobs_eval *e, const struct jobs_eval_view *v);

#endif
