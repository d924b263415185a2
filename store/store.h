/*
 * store.h - the only interface to tenantdel's durable state. Everything
 * that touches sqlite3* lives in store/; callers see jobs, tasks and events
 * as plain records (jobs/record.h). The interface is narrow on purpose: a
 * PostgreSQL backend (FOR UPDATE SKIP LOCKED claims) would implement these
 * same functions.
 *
 * Return values: int functions return STORE_OK (0) on success and
 * STORE_ERR (-1) on a database error (already logged with the SQL and
 * sqlite3_errmsg); lookups and transitions may also return STORE_NOT_FOUND
 * or STORE_REFUSED. Records filled by the store belong to the caller
 * (jobs_job_record_clear / jobs_task_records_free).
 */
#ifndef TENANTDEL_STORE_H
#define TENANTDEL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/jobs.h"
#include "jobs/record.h"

enum {
	STORE_OK = 0,
	STORE_ERR = -1,
	STORE_NOT_FOUND = 1, /* no such job */
	STORE_REFUSED = 2,   /* not allowed in the job's current state */
};

struct store;

/*
 * Opens (creating if needed) the database at path, applies pending
 * migrations, sets WAL, synchronous=FULL, foreign keys and a busy timeout.
 * Returns NULL with one line in err naming the file and the problem (not a
 * database, read-only folder, newer schema, locked ...).
 */
struct store *store_open(const char *path, char *err, size_t errlen);
void store_close(struct store *s); /* NULL-safe; finalizes every statement */

/*
 * The last database error of this handle as a readable phrase ("database is
 * locked"), for a front end that reports STORE_ERR on one line; "" if none.
 * Points into the handle: valid until the next store call.
 */
const char *store_last_error(struct store *s);

/* Busy timeout in ms (default 10000): how long a writer waits for the lock. */
void store_set_busy_timeout(struct store *s, int ms);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Not nestable. */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* A service as the store needs to know it when creating tasks. */
struct store_service {
	const char *name;
	int phase;
	int has_suspend; /* suspend_url set: a suspend task at schedule time */
	int has_restore; /* restore_url set: a restore task on cancel */
};

struct config;

/*
 * The enabled services of a config as the store needs them, in config
 * order (names point into cfg). Returns a malloc'ed array the caller
 * frees; *n may be 0. Can't fail.
 */
struct store_service *store_services_from_config(const struct config *cfg, size_t *n);

struct store_new_job {
	const char *tenant_id;   /* already validated */
	const char *tenant_name; /* may be NULL */
	const char *requested_by;
	const char *reason;
	int64_t due_at;
	int64_t deadline_at;
};

/*
 * Schedules n jobs in one transaction, all or nothing, committed with
 * synchronous=FULL before returning. For a tenant that already has an
 * active purge job that job's id is returned and created[i] = 0; otherwise
 * a job and a suspend task per service with has_suspend is created, with a
 * job.scheduled event and webhook outbox row, created[i] = 1. The job's
 * delete tasks (one per service; phase > lowest: not eligible yet) are
 * created when it starts, from the snapshot of svcs stored now (shared by
 * every job scheduled with the same services); until then store_job_tasks
 * shows them as they will be.
 * ids[i] receives the job id. Duplicate tenants inside one batch map to the
 * same job.
 */
int store_schedule(struct store *s, const struct store_new_job *jobs, size_t n,
		   const struct store_service *svcs, size_t n_svcs, int64_t now,
		   char (*ids)[JOBS_ID_LEN + 1], int *created);

/* Reads one job. STORE_OK, STORE_NOT_FOUND or STORE_ERR. */
int store_job_get(struct store *s, const char *job_id, struct job_record *out);

/* The job's tasks ordered by kind, phase, service (delete tasks of a job
 * not started yet: synthesized, id 0). *out is the caller's. */
int store_job_tasks(struct store *s, const char *job_id, struct task_record **out,
		    size_t *n);

/*
 * Operator transitions. Each runs in its own transaction, appends the
 * event(s) and outbox row, and fills *out (may be NULL) with the job after
 * the change, or as it is when the answer is STORE_REFUSED.
 *  cancel:  scheduled -> cancelled; unfinished suspend tasks are skipped and
 *           a restore task is created for each service in svcs with
 *           has_restore whose suspend was attempted.
 *  hold:    any active state -> held (reason required).
 *  release: held -> the state it was held from.
 *  retry:   dead tasks (of one service, or all when service is NULL) back to
 *           waiting with attempts reset, due now; a failed job -> running.
 *           REFUSED when there is no dead task to retry.
 */
int store_job_cancel(struct store *s, const char *job_id, const char *by,
		     const char *reason, const struct store_service *svcs, size_t n_svcs,
		     int64_t now, struct job_record *out);
int store_job_hold(struct store *s, const char *job_id, const char *by,
		   const char *reason, int64_t now, struct job_record *out);
int store_job_release(struct store *s, const char *job_id, const char *by, int64_t now,
		      struct job_record *out);
int store_job_retry(struct store *s, const char *job_id, const char *service,
		    const char *by, int64_t now, struct job_record *out);

struct store_list_filter {
	const char *state;       /* NULL: any */
	const char *tenant_id;   /* NULL: any */
	int64_t due_before;      /* > 0: active jobs with due_at <= this, soonest first */
	int overdue;             /* 1: active jobs past deadline_at (now) */
	int64_t now;
	int limit;               /* <= 0: no limit */
};

/* Called once per job; return non-zero to stop early. */
typedef int (*store_job_cb)(void *ctx, const struct job_record *job);

/* Jobs matching f, newest first (or soonest due first with due_before). */
int store_job_list(struct store *s, const struct store_list_filter *f, store_job_cb cb,
		   void *ctx);

struct store_event {
	int64_t id;
	char *job_id;    /* NULL for database-wide events */
	int64_t at;
	char *type;      /* "job.scheduled", "task.attempt", ... */
	char *service;   /* NULL when not about one service */
	char *detail;    /* JSON object text */
	char *prev_hash; /* hex sha256 */
	char *hash;
	int chain_ok;    /* its hash matches its content and its predecessor */
};

typedef int (*store_event_cb)(void *ctx, const struct store_event *ev);

/* An event as the `events --json` and API shape: {"id","job_id","at","type",
 * "service","detail":{...},"prev_hash","hash","chain_ok"}. Caller deletes. */
struct cJSON;
struct cJSON *store_event_render(const struct store_event *ev);

/* The job's events in order, each with chain_ok checked. */
int store_events_list(struct store *s, const char *job_id, store_event_cb cb, void *ctx);

/*
 * Walks the whole event chain. Returns STORE_OK with *first_bad = 0 when it
 * verifies, or with *first_bad = the id of the first event whose hash or link
 * is wrong (why says which). head receives the last event's hash ("" when
 * there are no events), *count the number of events.
 */
int store_events_verify(struct store *s, int64_t *first_bad, char *why, size_t whylen,
			int64_t *count, char head[65]);

#endif
