/*
 * types.h - the plain records that cross the store's interface (store.h):
 * what callers hand to the store and what it hands back, whatever the
 * backend. Strings a caller passes in are read during the call only;
 * records the store fills belong to the caller, each with its _free.
 */
#ifndef TENANTDEL_STORE_TYPES_H
#define TENANTDEL_STORE_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/jobs.h"
#include "jobs/policy.h"
#include "jobs/record.h"
#include "jobs/subject.h"

/* What int functions of the store return. */
enum {
	STORE_OK = 0,
	STORE_ERR = -1,      /* a database error: logged, and kept for store_last_error */
	STORE_NOT_FOUND = 1, /* no such job (or service) */
	STORE_REFUSED = 2,   /* refused by the rules (jobs_action_check: the job's
			      * state, a hold without a reason, nothing to retry),
			      * or the job moved meanwhile; the reason is
			      * store_last_error's */
};

/* What kind of error the last STORE_ERR (or refusal) was. */
enum store_error_kind {
	STORE_E_NONE,  /* none yet */
	STORE_E_FILE,  /* the store's own condition: disk full, read-only,
			* damaged, an I/O error; it cannot be used as it is */
	STORE_E_BUSY,  /* another writer held its lock too long */
	STORE_E_OTHER, /* anything else, refusals included */
};

/* store_config flags. */
enum {
	STORE_OPEN_CREATE = 1, /* a writer: create the store when there is none */
	STORE_OPEN_CHECK = 2,  /* check the store's pages first (the commands that
				* start work: schedule, run); see store_open */
	STORE_OPEN_BRIEF = 4,  /* a short-lived command: closing leaves the file's
				* upkeep (SQLite: folding its write-ahead log back
				* into the database) to the daemon or a later writer */
};

/*
 * Which store to open, and how. Zero is the default of every field.
 */
struct store_config {
	const char *backend;  /* "sqlite" or "postgresql" (NULL: "sqlite"); see store_open */
	const char *path;     /* sqlite: the database file */
	const char *dsn;      /* postgresql: the connection string, a secret (read
			       * from dsn_file or dsn_env): never logged or printed */
	const char *node;     /* postgresql: this host's name in leases (NULL: the
			       * host name) */
	int flags;            /* STORE_OPEN_* */
	int busy_wait_ms;     /* how long a writer waits for another's lock:
			       * 0 the default (10 s), < 0 not at all */
};

/* A service as the store needs to know it when creating tasks. */
struct store_service {
	const char *name;
	int phase;
	int has_suspend; /* suspend_url set: a suspend task at schedule time */
	int has_restore; /* restore_url set: a restore task on cancel */
};

/* A service that unfinished work names and the config lacks (or disables). */
struct store_absent {
	char *service;
	int64_t tasks;            /* its unfinished tasks (they wait for it) */
	int64_t jobs_not_started; /* jobs not started yet that will cover it */
};

struct store_new_job {
	const char *tenant_id;   /* already validated */
	const char *tenant_name; /* may be NULL */
	const char *requested_by;
	const char *reason;
	int64_t due_at;
	int64_t deadline_at;
	int approval_pending;    /* 1: four eyes, the job waits for an approval */
};

struct store_list_filter {
	const char *state;       /* NULL: any */
	const char *tenant_id;   /* the tenant's purge and reapply jobs; NULL: any */
	const char *user_id;     /* the user's erasure (kind user) jobs; NULL: any */
	const char *kind;        /* "purge", "reapply", "user"; NULL: any */
	int64_t due_before;      /* > 0: active jobs with due_at <= this, soonest first */
	int overdue;             /* 1: active jobs past deadline_at (now) */
	int late_first;          /* with overdue: the earliest deadline first */
	int awaiting_approval;   /* 1: only jobs whose approval is pending */
	const char *before_id;   /* a job id: only jobs older than it (ids are
				  * time-ordered), the page after it in the
				  * newest-first order; NULL: from the newest */
	int64_t now;
	int limit;               /* <= 0: no limit */
};

/* A job's tasks by state (store_jobs_progress): what its progress shows. */
struct store_job_progress {
	char job_id[JOBS_ID_LEN + 1];
	int64_t tasks[TASK_STATE_COUNT]; /* by enum task_state; a job not started
					  * yet counts the delete tasks it will have */
};

/* The newest error of a service's unfinished or recently dead tasks
 * (store_service_errors_free). */
struct store_service_error {
	char *service;
	char job_id[JOBS_ID_LEN + 1];
	char *tenant_id;
	char *error;             /* the task's last_error */
	int64_t at;              /* when the task last changed */
};

/* Called once per job; return non-zero to stop early. */
typedef int (*store_job_cb)(void *ctx, const struct job_record *job);

/* Called once per event (its strings are valid during the call); return
 * non-zero to stop early. Render it with jobs_render_event (jobs/document.h). */
typedef int (*store_event_cb)(void *ctx, const struct event_record *ev);

/* ---- the engine's records ---- */

/* A configured service as the engine's operations need it. */
struct sched_service {
	const char *name;
	int phase;
	int enabled;
	int max_in_flight;          /* across every process sharing the store */
	int64_t lease_ms;           /* how long one claim may stay in flight */
	int preview_first;          /* a delete task's first attempt previews before its call */
	/* Its due tasks yield to the other services' for this long: a claim
	 * takes one sooner only with room the others left (0: never yields). */
	int64_t defer_ms;
	struct policy_breaker_conf breaker;
};

/* What is known of the process named by a lease owner string. */
enum sched_owner {
	SCHED_OWNER_UNKNOWN, /* another host, or cannot tell: its lease must run out */
	SCHED_OWNER_DEAD,    /* its leases may be taken over at once */
	SCHED_OWNER_ALIVE,   /* on this host and running: never taken over */
};
typedef enum sched_owner (*sched_owner_fn)(void *ctx, const char *owner);

/* What one sched_maintain did; more: call again at once. */
struct sched_maint {
	int reclaimed, started, missed;
	int more;
};

/* A task claimed for one attempt (sched_claimed_free). */
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

/* One lease of this owner: a claimed task and its lease's expiry. */
struct sched_lease {
	int64_t task_id;
	int64_t until;
};

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
	/* The task.attempt detail when the record keeps the task
	 * (store_attempt_detail(r, 1)), made by the engine on its loop; NULL:
	 * the store makes it. */
	const char *detail;
	/* A subject job's discover step that succeeded (discovery 1): what
	 * it found and decided, remembered with the task's success, the
	 * child purge jobs created in the same transaction. */
	int discovery;
	const struct subject_tenant *discovered;
	size_t n_discovered;
};

/* ---- webhooks ---- */

/* One claimed delivery. Strings are malloc'ed (store_deliveries_free). */
struct store_delivery {
	int64_t outbox_id;
	char *url;
	char *event_id;  /* the outbox event id: Tenantdel-Event-Id */
	char *type;      /* "job.scheduled", ... */
	char *body;      /* the JSON to POST, byte for byte as stored */
	int attempts;    /* POSTs made, this one included */
};

/* ---- proof ---- */

/* One purged tenant, as the engine recorded it when its purge succeeded. */
struct store_tombstone {
	const char *job_id;      /* the purge job */
	const char *tenant_id;
	const char *tenant_name; /* from the job; may be NULL */
	int64_t purged_at;
	const char *services;    /* as stored: a JSON array of service names */
};

/* Called once per tombstone; strings valid during the call only. Non-zero stops. */
typedef int (*store_tombstone_cb)(void *ctx, const struct store_tombstone *t);

struct store_reapply_req {
	const char *service;     /* a service of the config in force */
	int phase;               /* its phase (the single task's phase) */
	int64_t since;           /* tombstones with purged_at >= since */
	const char *by;          /* requested_by of the new jobs; may be NULL */
	const char *reason;      /* reason of the new jobs; may be NULL */
	int64_t now;             /* due_at of the new jobs */
	int64_t deadline_at;     /* deadline_at of the new jobs */
};

struct store_reapply_item {
	char job_id[JOBS_ID_LEN + 1];    /* the reapply job (new or already pending) */
	char origin_job_id[JOBS_ID_LEN + 1]; /* the purge it repeats */
	char *tenant_id;
	int created;                     /* 0: an unfinished reapply job of this
					    tenant and service already existed */
};

/* ---- metrics ---- */

/* One counters row. */
struct store_counter {
	char *name;    /* "attempts", "deleted", "duration_bucket", "duration_sum_ms" */
	char *service;
	char *label;   /* see jobs/counts.h */
	int64_t value;
};

/* A service's circuit breaker as last written. */
struct store_breaker_state {
	char *service;
	enum breaker_state state;
};

/* What the metrics show, as of one moment (store_metrics_clear). */
struct store_metrics {
	int64_t jobs[JOB_STATE_COUNT]; /* by enum job_state */
	int64_t overdue;               /* active jobs past their deadline */
	int64_t oldest_due_at;         /* the oldest due work nobody has started
					* (claimable tasks of jobs not on hold,
					* scheduled jobs due); INT64_MAX: none */
	int64_t webhook_backlog;       /* deliveries to the urls not acknowledged */
	struct store_counter *counters; /* by name, service, label */
	size_t n_counters;
	struct store_breaker_state *breakers; /* by service */
	size_t n_breakers;
};

#endif
