/*
 * sched_int.h - shared by store/sched*.c only: job evaluation (next phase,
 * finished, failed) and a small set of job ids.
 */
#ifndef TENANTDEL_STORE_SCHED_INT_H
#define TENANTDEL_STORE_SCHED_INT_H

#include <cjson/cJSON.h>

#include "store/sched.h"
#include "store/store_int.h"

/* Dispatchable: delete needs a running job, suspend a scheduled or running
 * one, restore a cancelled one; a held job runs nothing. */
#define DISPATCHABLE \
	" ((t.kind = 'delete' AND j.state = 'running')" \
	" OR (t.kind = 'suspend' AND j.state IN ('scheduled','running'))" \
	" OR (t.kind = 'restore' AND j.state = 'cancelled'))"

/* The job ids a transaction touched, each once. */
struct sched_idset {
	char (*ids)[JOBS_ID_LEN + 1];
	size_t n, cap;
};

void sched_idset_add(struct sched_idset *set, const char *id);  /* O(n): small sets */
void sched_idset_push(struct sched_idset *set, const char *id); /* no duplicate check */
void sched_idset_free(struct sched_idset *set);

/*
 * Inside a transaction: brings one job up to date with its delete tasks. A
 * running job with a dead delete task fails (job.failed); a failed job
 * with none left runs again; a running job whose delete tasks all
 * succeeded or were skipped succeeds (job.succeeded, tombstone for a
 * purge); otherwise the lowest unfinished phase is made due now. Adds 1 to
 * *failed (may be NULL) when it failed the job. 0 or -1.
 */
int sched_eval_job(struct store *s, const char *job_id, int64_t now, int *failed);

/* sched_eval_job for every id of the set. */
int sched_eval_jobs(struct store *s, const struct sched_idset *set, int64_t now, int *failed);

/* The breaker row of service (closed when there is none; *probe_owner, may
 * be NULL, receives who holds the half-open probe, caller frees); 0 or -1. */
int sched_breaker_load(struct store *s, const char *service, struct policy_breaker *b,
		       char **probe_owner);
/* Writes it back (probe_owner stored while a probe is in flight); 0 or -1. */
int sched_breaker_save(struct store *s, const char *service, const struct policy_breaker *b,
		       const char *probe_owner, int64_t now);

/* Adds key: RFC 3339 time, or null when ms <= 0. */
void sched_add_time(cJSON *o, const char *key, int64_t ms);

/* Logs one job-level line (job.started, job.failed ...) with the job's ids,
 * held until the caller's transaction commits (log_hold). */
void sched_log_job(int level, const char *event, const char *job_id, const char *tenant_id);

#endif
