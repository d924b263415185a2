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
	STORE_REFUSED = 2,   /* refused by the rules (jobs_action_check: the job's
			      * state, a hold without a reason, nothing to retry),
			      * or the job moved meanwhile */
};

struct store;

/* store_open flags. */
enum {
	STORE_OPEN_CREATE = 1,   /* a writer: create the store when path does not exist */
	STORE_OPEN_CHECK = 2,    /* quick_check a file up to 64 MiB first: the commands
				  * that start work (schedule, run); readers rely on
				  * SQLite's per-page checks, audit verify on the full
				  * integrity_check */
};

/*
 * Opens the tenantdel store at path, applies pending migrations, sets WAL,
 * synchronous=FULL, foreign keys and a busy timeout. A missing path is
 * created (whole, never half) only with STORE_OPEN_CREATE; anything else
 * that is not an intact tenantdel store is refused, even for a writer: a
 * directory, an empty file, another program's database, a newer schema, a
 * read-only file, a full disk, a page SQLite finds damaged, and with
 * STORE_OPEN_CHECK a file that fails PRAGMA quick_check (files up to 64 MiB;
 * see store/sqlite/open.c). Returns NULL with one line in
 * err naming the file and the reason ("no store at PATH", "PATH: is a
 * directory", "PATH: disk full", "PATH: read-only", "PATH: not a tenantdel
 * store (...)", "PATH: damaged: run audit verify (...)").
 */
struct store *store_open(const char *path, int flags, char *err, size_t errlen);
void store_close(struct store *s); /* NULL-safe; finalizes every statement */

/*
 * The last database error of this handle as a readable phrase ("database is
 * locked"), for a front end that reports STORE_ERR on one line; "" if none.
 * Points into the handle: valid until the next store call.
 */
const char *store_last_error(struct store *s);

/*
 * 1 when the last error is the store file's own condition (disk full,
 * read-only, damaged, an I/O error): the store cannot be used as it is, and a
 * front end reports it as it reports a store it cannot open. 0 otherwise (a
 * lock held too long, a refusal, no error). Can't fail.
 */
int store_last_error_is_file(struct store *s);

/*
 * Runs SQLite's full PRAGMA integrity_check over the whole file (seconds on
 * a large store). STORE_OK with *intact 1, or 0 and why = its first
 * finding; STORE_ERR when the check itself cannot run.
 */
int store_check_integrity(struct store *s, int *intact, char *why, size_t whylen);

/* Backend options of store_open_with. */
struct store_open_opts {
	int flags;           /* STORE_OPEN_* */
	int busy_timeout_ms; /* how long a writer waits for another's lock; < 0: 10000 */
};

/* store_open with backend options (store_open: flags, the defaults). */
struct store *store_open_with(const char *path, const struct store_open_opts *o, char *err,
			      size_t errlen);

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

/* A service that unfinished work names and the config lacks (or disables). */
struct store_absent {
	char *service;
	int64_t tasks;            /* its unfinished tasks (they wait for it) */
	int64_t jobs_not_started; /* jobs not started yet that will cover it */
};

/*
 * The services that unfinished tasks or the snapshots of jobs not started
 * yet name, that are not among svcs (the enabled services of a config:
 * config_enabled_services) and not retired, in name order. *out
 * (store_absent_free) and *n receive them. STORE_OK or STORE_ERR.
 */
int store_absent_services(struct store *s, const struct store_service *svcs, size_t n_svcs,
			  struct store_absent **out, size_t *n);
void store_absent_free(struct store_absent *v, size_t n); /* NULL-safe */

/*
 * Retires service for good (DESIGN 3): in one transaction its pending,
 * waiting and dead tasks become skipped with reason (task.skipped events),
 * a jobs-wide service.retired event records who and why, the jobs touched
 * are evaluated (they may succeed), and a job not started yet skips it when
 * it starts. *skipped receives how many tasks were skipped. STORE_OK,
 * STORE_NOT_FOUND (the store has never known that service) or STORE_ERR.
 * Whether the config still has it is the caller's question.
 */
int store_retire_service(struct store *s, const char *service, const char *reason,
			 const char *by, int64_t now, int64_t *skipped);

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
 * not started yet: synthesized, id 0). A pending or waiting task of a
 * service the last config sync did not have shows last_error "service not
 * in config" (one retired shows skipped). *out is the caller's. */
int store_job_tasks(struct store *s, const char *job_id, struct task_record **out,
		    size_t *n);

/*
 * Operator transitions. Each runs in its own transaction: reads the job,
 * asks jobs_action_check (jobs/jobs.h) whether the action is allowed,
 * writes the change only where the job is still in the state it read,
 * appends the event(s) and outbox row, and fills *out (may be NULL) with
 * the job after the change, or as it is when the answer is STORE_REFUSED
 * (the rules' reason in store_last_error).
 *  cancel:  scheduled -> cancelled; unfinished suspend tasks are skipped and
 *           a restore task is created for each service in svcs with
 *           has_restore whose suspend was attempted.
 *  hold:    scheduled, running or failed -> held (reason required).
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

/* Called once per event (struct event_record, jobs/record.h; its strings
 * are valid during the call); return non-zero to stop early. Render it
 * with jobs_render_event (jobs/document.h). */
typedef int (*store_event_cb)(void *ctx, const struct event_record *ev);

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
