/*
 * store_int.h - shared by the files of store/ only: the handle, the
 * statement cache, binding helpers, row readers and the event chain.
 */
#ifndef TENANTDEL_STORE_INT_H
#define TENANTDEL_STORE_INT_H

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdint.h>

#include "jobs/timefmt.h"
#include "store/store.h"

#define STORE_STMT_CACHE 160
#define STORE_HASH_HEX 65

struct store_stmt_slot {
	const char *sql; /* a static string: the cache key is its address */
	sqlite3_stmt *st;
};

/* A formatted time, remembered: a batch formats the same few times
 * (now, its due and deadline) once per job otherwise. */
#define STORE_TIME_MEMO 8
struct store_time_memo {
	int set;
	int64_t ms;
	char text[TIMEFMT_TIME_LEN];
};

struct store {
	sqlite3 *db;
	char *path;
	int in_tx;
	struct store_stmt_slot cache[STORE_STMT_CACHE];
	int n_cache;
	/* The chain tip, read once per transaction (other processes append). */
	int tip_loaded;
	int64_t tip_id;
	char tip_hash[STORE_HASH_HEX];
	struct store_time_memo times[STORE_TIME_MEMO];
	unsigned next_time; /* the memo entry replaced next (round robin) */
	/* The last error logged, for the front end (store_last_error). */
	char last_error[256];
	/* The configured webhook urls (store_set_webhooks): the outbox is
	 * written only while there is one. */
	char **webhook_urls;
	size_t n_webhook_urls;
};

/* PRAGMA application_id of a tenantdel store ("tdel"; migration 5). */
#define STORE_APPLICATION_ID 0x7464656c

extern const char *const store_migrations[];
extern const int store_n_migrations;

/*
 * The prepared statement for sql (a string with static storage: it is
 * cached by address, prepared on first use). Returns NULL after logging
 * when it does not prepare. Use it, then store_reset() it.
 */
sqlite3_stmt *store_stmt(struct store *s, const char *sql);
void store_reset(sqlite3_stmt *st);

/* Bind by name (":name"); NULL text binds NULL. Return 0 or -1 (logged). */
int store_bind_text(sqlite3_stmt *st, const char *name, const char *value);
int store_bind_int(sqlite3_stmt *st, const char *name, int64_t value);
int store_bind_null(sqlite3_stmt *st, const char *name);
/* Binds NULL when value == none. */
int store_bind_opt_int(sqlite3_stmt *st, const char *name, int64_t value, int64_t none);

/*
 * What an SQLite result rc on db means for the operator, in the words of
 * DESIGN 4 ("disk full", "read-only", "damaged: run audit verify", ...),
 * or NULL when SQLite's own message says it best. Static text.
 */
const char *store_error_phrase(sqlite3 *db, int rc);

/* Logs the failing step: event store.error with the SQL and sqlite3_errmsg. */
void store_log_error(struct store *s, const char *what);

/* Steps a write statement to SQLITE_DONE and resets it. 0 or -1 (logged). */
int store_step_done(struct store *s, sqlite3_stmt *st);

/* Runs SQL without results (may hold several statements). 0 or -1. */
int store_exec(struct store *s, const char *sql);

/* Column helpers: a malloc'ed copy (NULL for SQL NULL); int with default. */
char *store_col_text(sqlite3_stmt *st, int col);
int64_t store_col_int(sqlite3_stmt *st, int col, int64_t null_value);

/* Column lists and readers for jobs and tasks rows: SELECT STORE_JOB_COLS FROM jobs ... */
#define STORE_JOB_COLS \
	"jobs.id, jobs.tenant_id, jobs.tenant_name, jobs.kind, jobs.state, jobs.held_from," \
	" jobs.hold_reason, jobs.requested_by, jobs.reason, jobs.origin_job_id," \
	" jobs.created_at, jobs.due_at, jobs.deadline_at, jobs.started_at, jobs.finished_at," \
	" jobs.deadline_missed," \
	" (SELECT COALESCE(SUM(total_deleted), 0) FROM tasks" \
	"    WHERE tasks.job_id = jobs.id AND tasks.kind = 'delete')"
#define STORE_TASK_COLS \
	"tasks.id, tasks.job_id, tasks.service, tasks.kind, tasks.phase, tasks.state," \
	" tasks.attempts, tasks.http_status, tasks.deleted_counts, tasks.total_deleted," \
	" tasks.preview_before, tasks.before_total, tasks.verified_after, tasks.duration_ms," \
	" tasks.last_error, tasks.skip_reason, tasks.lease_owner, tasks.lease_expires_at," \
	" tasks.next_attempt_at, tasks.first_attempt_at, tasks.updated_at"

/* Fill a record from a row selected with the column list above (from column 0). */
void store_read_job(sqlite3_stmt *st, struct job_record *j);
void store_read_task(sqlite3_stmt *st, struct task_record *t);

/* timefmt_format_time, memoized per handle. Can't fail. */
void store_format_time(struct store *s, int64_t ms, char out[TIMEFMT_TIME_LEN]);

/*
 * Appends one event to the chain. Must be called inside a transaction.
 * detail may be NULL ({}); it is not consumed. Returns 0 or -1.
 */
int store_event_append(struct store *s, const char *job_id, int64_t at, const char *type,
		       const char *service, const cJSON *detail);

/* Whether this handle writes outbox rows: a webhook url is configured
 * (store_set_webhooks). Callers skip building a body when it is not. */
int store_outbox_wanted(const struct store *s);

/* Inserts one webhook outbox row, inside a transaction: body is the whole
 * payload {"id": eid, "type", "created_at", "job"} as JSON text. Does
 * nothing while no webhook url is configured. 0 or -1. */
int store_outbox_append_text(struct store *s, const char *eid, const char *type,
			     const char *job_id, const char *body, int64_t now);

/* store_event_append with the detail as JSON object text (NULL: {}). */
int store_event_append_text(struct store *s, const char *job_id, int64_t at,
			    const char *type, const char *service, const char *detail);

/*
 * The canonical hash of an event: hex sha256 of
 * prev_hash "\n" id "\n" job_id "\n" at "\n" type "\n" service "\n" detail
 * (NULL fields as empty strings). out gets 64 hex chars + NUL.
 */
void store_event_hash(const char *prev_hash, int64_t id, const char *job_id, int64_t at,
		      const char *type, const char *service, const char *detail,
		      char out[STORE_HASH_HEX]);

/*
 * A job's state changed (already written): appends the job-level event
 * `type` (e.g. "job.started") with detail, and the webhook outbox row whose
 * body is {"id","type","created_at","job": the job as show --json without
 * tasks}. Inside a transaction. If out is not NULL it receives the job.
 */
int store_job_changed(struct store *s, const char *job_id, const char *type,
		      const cJSON *detail, int64_t now, struct job_record *out);

/*
 * As store_job_changed for a job the caller has already rendered: the event
 * with detail (JSON object text, NULL: {}) and the outbox row whose "job"
 * is job (jobs_render_job's shape; consumed, even on error). No re-read.
 * 0 or -1.
 */
int store_job_announce(struct store *s, const char *job_id, const char *type,
		       const char *detail, cJSON *job, int64_t now);

/* A service of a snapshot (service_sets, migration 2). */
struct store_svc_ref {
	const char *name;
	int phase;
};

/*
 * The canonical JSON of a set of services: [{"name","phase"},...] sorted by
 * phase then name, so one config always gives the same text. Caller frees.
 */
char *store_service_set_json(const struct store_svc_ref *v, size_t n);

/* The id of the service_sets row holding json, created when new. In a
 * transaction. 0 or -1. */
int store_service_set_id(struct store *s, const char *json, int64_t *id);

/* The last error of a task whose service the config lacks: it waits. */
#define STORE_ABSENT_ERROR "service not in config"

/* The configured services the last config sync recorded (*out NULL: none
 * yet; caller deletes). 0 or -1. */
int store_configured_set(struct store *s, cJSON **out);

/* 1 when a service set (parsed snapshot JSON) has a service called name. */
int store_set_has(const cJSON *set, const char *name);

/* Whether service was retired (*found 1) and why (*reason, may be NULL,
 * malloc'ed). 0 or -1. */
int store_retired_reason(struct store *s, const char *service, char **reason, int64_t *found);

/* Marks the waiting tasks of services the config lacks in records read
 * for display (see store_job_tasks). 0 or -1. */
int store_mark_absent(struct store *s, struct task_record *t, size_t n);

/* Records json as the services configured now (what a job starting later
 * covers). In a transaction. 0 or -1. */
int store_set_configured(struct store *s, const char *json);

/*
 * Inside a transaction, when a job starts: creates its delete tasks from its
 * snapshot (pending, not yet eligible; one of a service no longer
 * configured waits for it like any other, one of a retired service is
 * skipped with the retirement's reason and a task.skipped event), and one
 * with a task.added event for a configured service the snapshot lacks (as
 * the config sync does for jobs whose tasks exist); then drops the snapshot
 * reference. Nothing to do (0) for a job whose tasks exist. 0 or -1.
 */
int store_materialize_tasks(struct store *s, const char *job_id, int64_t now);

/*
 * store_materialize_tasks for every job not started yet whose snapshot is
 * not the configured set recorded by store_set_configured (the config
 * changed since it was scheduled). *count receives how many. 0 or -1.
 */
int store_materialize_stale(struct store *s, int64_t now, int *count);

/*
 * The delete tasks a job not started yet will get, as records (id 0;
 * pending, the lowest phase due at due_at; skipped when the job was
 * cancelled). *out NULL and *n 0 for a job whose tasks exist. Caller
 * frees. STORE_OK or STORE_ERR.
 */
int store_synth_tasks(struct store *s, const char *job_id, struct task_record **out,
		      size_t *n);

/* Reads one job inside or outside a transaction (as store_job_get). */
int store_read_job_by_id(struct store *s, const char *job_id, struct job_record *out);

#endif
