/*
 * sched.h - every query the scheduler needs, behind a narrow interface (a
 * PostgreSQL backend would implement these same functions with FOR UPDATE
 * SKIP LOCKED claims).
 *
 * The hot path is three calls: sched_maintain (reclaim dead leases, start
 * due jobs, mark missed deadlines), sched_claim_tasks (one BEGIN IMMEDIATE:
 * due tasks of dispatchable jobs -> in_flight under this owner's lease) and
 * sched_record_results (one transaction for a whole batch of finished
 * attempts: task rows, task.attempt events, metrics counters, breakers,
 * next phases, finished jobs). sched_next_wake tells the loop when to come
 * back. Job-level changes (job.started, job.succeeded, job.failed,
 * job.deadline_missed) and breaker.opened/closed are logged here, once
 * their transaction has committed.
 *
 * Return values follow store.h: STORE_OK, or STORE_ERR (already logged).
 */
#ifndef TENANTDEL_STORE_SCHED_H
#define TENANTDEL_STORE_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/jobs.h"
#include "jobs/policy.h"
#include "store/store.h"

/* A configured service as the scheduler's queries need it. */
struct sched_service {
	const char *name;
	int phase;
	int enabled;
	int max_in_flight;          /* across every process sharing the file */
	int64_t lease_ms;           /* how long one claim may stay in flight */
	int preview_first;          /* a delete task's first attempt previews before its call */
	struct policy_breaker_conf breaker;
};

/* What is known of the process named by a lease owner string. */
enum sched_owner {
	SCHED_OWNER_UNKNOWN, /* another host, or cannot tell: its lease must run out */
	SCHED_OWNER_DEAD,    /* its leases may be taken over at once */
	SCHED_OWNER_ALIVE,   /* on this host and running: never taken over */
};
typedef enum sched_owner (*sched_owner_fn)(void *ctx, const char *owner);

/*
 * One transaction of housekeeping at `now`:
 *  - leases of other owners that judge() (NULL: all unknown) says are
 *    dead, or that expired and whose owner is not known alive (and, when
 *    reclaim_self, leases in this owner's own name: a process that has
 *    just started holds none), go back to waiting, due now, each a failed
 *    attempt ("lease expired", "lease owner died") with a task.attempt
 *    event; when the calls it counted exhaust retry (NULL: no limit), the
 *    task is dead instead and its job evaluated (failed). A lease whose
 *    owner is alive on this host is never taken, whatever the clock says;
 *  - scheduled jobs with due_at <= now become running (job.started);
 *  - active jobs past their deadline get job.deadline_missed, once;
 *  - jobs started above are evaluated (their first phase made due).
 * At most a batch of jobs is started / marked per call: m->more says to
 * call again at once. *m is filled (zeros on error).
 */
struct sched_maint {
	int reclaimed, started, missed;
	int more;
};

int sched_maintain(struct store *s, const char *owner, sched_owner_fn judge, void *ctx,
		   int reclaim_self, const struct policy_retry *retry, int64_t now,
		   struct sched_maint *m);

/*
 * Evaluates every running job (next phase due, finished, failed): the sweep
 * a process does at start, after a config reload, and now and then, for
 * jobs changed behind its back (a release of a job with a dead task).
 */
int sched_sweep_jobs(struct store *s, int64_t now);

/* A task claimed for one attempt. */
struct sched_claimed {
	int64_t task_id;
	char job_id[JOBS_ID_LEN + 1];
	char *tenant_id;
	char *service;
	enum task_kind kind;
	int phase;
	int attempts;             /* calls sent before this claim (DESIGN 3) */
	int free_waits;           /* of those, free waits (policy_attempts_used) */
	int64_t first_attempt_at;
	int has_before;           /* the pre-purge preview is already stored */
	int verify_owed;          /* the call succeeded: only its verification is left */
	int retry_streak;         /* attempts in a row that used up no attempt */
	int64_t lease_until;      /* the lease's expiry: with the owner, what every
				     later write of this attempt expects */
	int counted;              /* the claim counted the call: it goes out at once */
	int probe;                /* the half-open breaker's probe */
};

void sched_claimed_free(struct sched_claimed *c, size_t n); /* NULL-safe */

/*
 * In one BEGIN IMMEDIATE transaction, claims up to max tasks that are due
 * (pending/waiting, next_attempt_at <= now) of dispatchable jobs (delete:
 * job running; suspend: scheduled or running; restore: cancelled; never
 * held), respecting each service's max_in_flight (counted over every
 * process) and its breaker (open: none; half-open: one probe). Each becomes
 * in_flight with lease_owner = owner, lease_expires_at = now + the
 * service's lease_ms, first_attempt_at set if unset. A claim whose call
 * goes first (no preview before it) counts it (attempts + 1, counted set):
 * the caller sends it in the same loop turn; the others are counted by
 * sched_count_sent when their call goes out. Tasks of
 * services not in svcs are left alone. Services are served in turn from
 * svcs[first % n_svcs] (the caller moves first on, so that none is always
 * last when max is smaller than their slots). *out (caller frees with
 * sched_claimed_free) and *n receive the claims, oldest due first.
 */
int sched_claim_tasks(struct store *s, const char *owner, const struct sched_service *svcs,
		      size_t n_svcs, size_t first, int max, int64_t now,
		      struct sched_claimed **out, size_t *n);

/* One lease of this owner: a claimed task and its lease's expiry. */
struct sched_lease {
	int64_t task_id;
	int64_t until;
};

/*
 * `attempts` counts the calls actually sent (DESIGN 3): in one transaction,
 * adds 1 to each task's attempts while this owner still holds that lease
 * (leases[i]: task and expiry), just before its call is handed to curl (a
 * call made after a preview). held[i] (n entries, the caller's) is 1 when
 * leases[i] was counted, 0 when the lease was lost meanwhile (reclaimed,
 * even if claimed again since): that call must not go out. A process killed between this commit and the
 * send leaves one attempt counted that the service never saw (the window
 * is the time curl takes to write the request); never the reverse.
 */
int sched_count_sent(struct store *s, const char *owner, const struct sched_lease *leases,
		     size_t n, int64_t now, int *held);

/* A finished attempt, as the engine decided it (jobs/ classifies). */
struct sched_result {
	int64_t task_id;
	int64_t lease_until;       /* the claim's (sched_claimed): the record's fence */
	const char *job_id, *tenant_id, *service;
	enum task_kind kind;
	int attempt;               /* the task's attempts: calls sent, this one's included */
	enum task_state state;     /* TASK_SUCCEEDED, TASK_WAITING or TASK_DEAD */
	int unsent;                /* 1: the call counted for this attempt never
				      went out: attempts - 1 */
	int free_wait;             /* 1: the call was a free wait (policy_decide):
				      free_waits + 1, attempts unchanged */
	int64_t next_attempt_at;   /* when waiting */
	int verify_owed;           /* the next attempt only verifies (call done) */
	int retry_streak;          /* the task's new streak (policy_decide) */
	int http_status;           /* 0: no answer */
	const char *outcome;       /* counter label: "success", "retry", "permanent" */
	const char *counts_json;   /* deleted counts of this call, NULL none */
	int64_t total;             /* -1 none */
	const char *preview_json;  /* pre-purge preview made by this attempt, NULL none */
	int64_t before_total;      /* -1 none */
	const char *preview_error; /* the pre-purge preview failed: why */
	int64_t verified_after;    /* records left at verification, -1 not verified */
	int64_t duration_ms;
	const char *error;         /* NULL on success */
	enum policy_breaker_effect breaker;
	int probe;                 /* it was the half-open breaker's probe */
};

/*
 * Records a batch of finished attempts in one transaction (group commit):
 * each task row (only while still in flight under owner and the very lease
 * of its claim, lease_until: a lease lost meanwhile, even to this owner's
 * own later claim, keeps the newer state; the attempt is still an event,
 * its state "lease_lost"; with
 * verify_owed, retry_streak and free_waits for its next attempt), its
 * task.attempt (and task.preview / task.verify) events, the metrics
 * counters, the service's breaker, then for each job touched: a dead delete
 * task fails a running job (job.failed); all delete tasks succeeded or
 * skipped finish it (job.succeeded + tombstone for a purge); else the next
 * phase is opened once every lower phase is done. *failed_jobs (may be
 * NULL) receives how many jobs this batch failed. Job and breaker lines
 * are logged only once the transaction has committed.
 */
int sched_record_results(struct store *s, const char *owner, const struct sched_result *r,
			 size_t n, const struct sched_service *svcs, size_t n_svcs,
			 int64_t now, int *failed_jobs);

/*
 * The earliest time (epoch ms) at which there may be work: a waiting task
 * of a dispatchable job, a scheduled job's due_at, another owner's lease
 * expiry, an open deadline, an open breaker's end. Held jobs and tasks of
 * later phases never count, so an idle process sleeps. *at = INT64_MAX when
 * nothing is ahead.
 */
int sched_next_wake(struct store *s, const char *owner, const struct sched_service *svcs,
		    size_t n_svcs, int64_t now, int64_t *at);

/*
 * Aligns unfinished work with the configured services: an enabled service
 * without a delete task in an unfinished purge job gets one (pending;
 * eligible when its phase is reached; task.added event) and is no longer
 * retired. Unfinished tasks of a service that is not configured or is
 * disabled are left as they are: nothing claims them, so they wait (and
 * their jobs with them) until the service comes back or is retired
 * (store_retire_service); each such service is logged as a
 * service.absent warning. *added and *held (may be NULL) receive the
 * counts of tasks added and of tasks waiting that way. The configured
 * services are recorded too: a job not started yet has no delete tasks
 * (they are created from its snapshot when it starts) and gets this same
 * treatment then, against the services recorded by the last sync.
 */
int sched_sync_services(struct store *s, const struct sched_service *svcs, size_t n_svcs,
			int64_t now, int *added, int *held);

/*
 * A "something changed" token, cheap enough to poll every second: two
 * equal tokens read through one handle mean nothing that other handles
 * (other processes) commit became visible in between; a different token
 * means something may have. Writes made through this same handle need not
 * change it (their writer knows of them). Only equality means anything.
 * STORE_OK with *token set, or STORE_ERR.
 */
int store_changed_token(struct store *s, uint64_t *token);

/* The state of one job, for run --once's exit status. */
int sched_job_state(struct store *s, const char *job_id, enum job_state *state);

#endif
