/*
 * sched_int.h - shared by store/sqlite/sched*.c (and their unit tests): job
 * evaluation (next phase, finished, failed), a small set of job ids, the
 * breakers table, and the single steps of housekeeping.
 */
#ifndef TENANTDEL_STORE_SQLITE_SCHED_INT_H
#define TENANTDEL_STORE_SQLITE_SCHED_INT_H

#include "store/sqlite/sqlite_int.h"

/* Dispatchable: delete needs a running job, suspend a scheduled or running
 * one not awaiting approval (four eyes: nothing is sent on one person's
 * word), restore a cancelled one; a held job runs nothing. */
#define DISPATCHABLE \
	" ((t.kind = 'delete' AND j.state = 'running')" \
	" OR (t.kind = 'suspend' AND j.state IN ('scheduled','running')" \
	"     AND j.approval IS NOT 'pending')" \
	" OR (t.kind = 'restore' AND j.state = 'cancelled'))"

/* Steps st (bound by the caller) to its end, pushing column 0 of each row
 * into set, and resets it. 0, or -1 (logged as sql; set freed). */
int sqlite_idset_collect(struct sqlite_store *s, sqlite3_stmt *st, const char *sql,
			 struct store_idset *set);

/*
 * Inside a transaction: brings one job up to date with its delete tasks. A
 * running job with a dead delete task fails (job.failed); a failed job
 * with none left runs again; a running job whose delete tasks all
 * succeeded or were skipped succeeds (job.succeeded, tombstone for a
 * purge); otherwise the lowest unfinished phase is made due now. Adds 1 to
 * *failed (may be NULL) when it failed the job. 0 or -1.
 */
int sqlite_eval_job(struct sqlite_store *s, const char *job_id, int64_t now, int *failed);

/* sqlite_eval_job for every id of the set. */
int sqlite_eval_jobs(struct sqlite_store *s, const struct store_idset *set, int64_t now,
		     int *failed);

/* The breaker row of service (closed when there is none; *probe_owner, may
 * be NULL, receives who holds the half-open probe, caller frees); 0 or -1. */
int sqlite_breaker_load(struct sqlite_store *s, const char *service, struct policy_breaker *b,
			char **probe_owner);
/* Writes it back (probe_owner stored while a probe is in flight); 0 or -1. */
int sqlite_breaker_save(struct sqlite_store *s, const char *service,
			const struct policy_breaker *b, const char *probe_owner, int64_t now);

/*
 * Inside a transaction: job_id gets job.deadline_missed, unless it is
 * marked already, finished (succeeded, cancelled) or not past its deadline
 * at now (what the write expects: a second writer, or a second call,
 * changes nothing and sends nothing). Sets *marked (may be NULL) to 1 when
 * it marked it. 0 or -1.
 */
int sqlite_mark_missed(struct sqlite_store *s, const char *job_id, int64_t now, int *marked);

/*
 * Inside a transaction: remembers what the discover step r found (its
 * tenants, decisions and reasons), creates a child purge job for each
 * tenant to purge (or links the tenant's active purge) and appends the
 * subject.discovered event. 0 or -1.
 */
int sqlite_subject_discovered(struct store *s, const struct sched_result *r, int64_t now);

/* The unfinished subject job that waits for purge job_id (its child, or
 * the tenant's purge that stands for one) into parent: 1, 0 none, -1. */
int sqlite_waiting_parent(struct store *s, const char *job_id,
			  char parent[JOBS_ID_LEN + 1]);

/* Pushes the unfinished children of parent (jobs.parent_id) into set. 0 or -1. */
int sqlite_children(struct store *s, const char *parent, struct store_idset *set);

/* An in-flight task whose lease may be taken over, as it was read. */
struct sqlite_lost {
	int64_t id;
	char job_id[JOBS_ID_LEN + 1];
	char *service, *kind, *owner;
	int64_t lease_until;      /* the lease read: the takeover expects it */
	int attempts;             /* calls sent: a lost call counted is one */
	int free_waits;           /* of those, free waits */
	int verify_owed;          /* only a verification was lost: no call */
	int64_t first_attempt_at;
	const char *why;          /* "lease expired", "lease owner died" */
};

/*
 * Inside a transaction: takes the lease l read back, only while the task
 * is still in flight under that very lease (owner and expiry): the task
 * waits for its next attempt, due now, or is dead when retry (NULL: no
 * limit) says its budget is spent; a task.attempt event tells it. *taken
 * is 1 when it was taken, 0 when the lease changed since it was read
 * (nothing written); a dead delete task's job goes into dead_jobs. 0 or -1.
 */
int sqlite_reclaim_one(struct sqlite_store *s, const struct sqlite_lost *l,
		       const struct policy_retry *retry, int64_t now,
		       struct store_idset *dead_jobs, int *taken);

#endif
