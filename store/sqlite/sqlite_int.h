/*
 * sqlite_int.h - shared by the files of the SQLite backend (store/sqlite/) only: the
 * statement cache, binding helpers, row readers and the event chain.
 */
#ifndef TENANTDEL_STORE_SQLITE_INT_H
#define TENANTDEL_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "jobs/document.h"
#include "jobs/timefmt.h"
#include "store/store.h"

#define STORE_STMT_CACHE 160
#define STORE_HASH_HEX 65

struct store_stmt_slot {
	const char *sql; /* a static string: the cache key is its address */
	sqlite3_stmt *st;
};

/*
 * The tip of the event chain (the newest event's id and hash) as this
 * handle's write transaction sees it: read at its first append, advanced
 * by each append, forgotten at COMMIT and ROLLBACK. See store/sqlite/events.c.
 */
struct store_chain {
	int loaded;
	int64_t id;
	char hash[STORE_HASH_HEX];
};

struct store {
	sqlite3 *db;
	char *path;
	int in_tx;
	struct store_stmt_slot cache[STORE_STMT_CACHE];
	int n_cache;
	struct store_chain tip;
	/* The last error logged, for the front end (store_last_error). */
	char last_error[256];
	int last_error_file; /* last_error is the file's own condition (store_last_error_is_file) */
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

/*
 * Bind by name (":name"); NULL text binds NULL. A name the statement does
 * not have is a programming error: it aborts, in every build, with a
 * message naming the SQL and the name (else a typo binds NULL, changes no
 * row, and reads as "the job moved meanwhile"). So does any other bind
 * failure (out of memory). Can't fail otherwise.
 */
void store_bind_text(sqlite3_stmt *st, const char *name, const char *value);
void store_bind_int(sqlite3_stmt *st, const char *name, int64_t value);
void store_bind_null(sqlite3_stmt *st, const char *name);
/* Binds NULL when value == none. */
void store_bind_opt_int(sqlite3_stmt *st, const char *name, int64_t value, int64_t none);

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

/* Steps a write statement to SQLITE_DONE and resets it: the rows it
 * changed (0: what it expected was not there), or -1 (logged). */
int store_step_changes(struct store *s, sqlite3_stmt *st);

/*
 * Appends one event to the chain: the one place event ids and hashes are
 * assigned (store/sqlite/events.c says how a backend with several writers keeps
 * them in order). Inside a write transaction. detail is JSON object text
 * (NULL: {}), built by the code that owns its format. 0 or -1.
 */
int store_event_append_text(struct store *s, const char *job_id, int64_t at,
			    const char *type, const char *service, const char *detail);

/* Whether this handle writes outbox rows: a webhook url is configured
 * (store_set_webhooks). Callers skip building a body when it is not. */
int store_outbox_wanted(const struct store *s);

/* Inserts one webhook outbox row, inside a transaction: body is the whole
 * payload {"id": eid, "type", "created_at", "job"} as JSON text
 * (jobs_outbox_body). Does nothing while no webhook url is configured.
 * 0 or -1. */
int store_outbox_append_text(struct store *s, const char *eid, const char *type,
			     const char *job_id, const char *body, int64_t now);

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
 * `type` (e.g. "job.started") with detail (JSON object text, NULL: {}),
 * and the webhook outbox row whose body is jobs_outbox_body of the job as
 * it is now. Inside a transaction. If out is not NULL it receives the job.
 * 0 or -1.
 */
int store_job_changed_text(struct store *s, const char *job_id, const char *type,
			   const char *detail, int64_t now, struct job_record *out);


/* An operator's action as the store carries it out. */
struct store_action {
	enum job_action act;
	const char *by;
	const char *reason;                /* cancel, hold */
	const char *service;               /* retry: NULL for every service */
	const struct store_service *svcs;  /* cancel: the services to restore */
	size_t n_svcs;
	int64_t now;
};

/*
 * Carries out a on the job read as cur, inside the caller's write
 * transaction: asks jobs_action_check, then writes the change with cur as
 * its expectation (UPDATE ... WHERE id = cur's AND state = cur's state),
 * its events and its outbox row. STORE_OK with *out (not NULL) the job
 * after; STORE_REFUSED when the rules refuse it (why in last_error) or the
 * job is no longer as cur says (moved meanwhile: the caller rolls back and
 * reads it again); STORE_ERR. store_job_cancel and the other transitions
 * read cur and call this in one transaction.
 */
int store_action_apply(struct store *s, const struct job_record *cur,
		       const struct store_action *a, struct job_record *out);

/* The id of the service set whose members are svcs' names and phases
 * (service_sets, migration 7), created when new. In a transaction. 0 or -1. */
int store_service_set_id(struct store *s, const struct store_service *svcs, size_t n,
			 int64_t *id);

/* A service set read back: its members by phase, then name. */
struct store_set {
	struct store_set_member {
		char *name;
		int phase;
	} *v;
	size_t n, cap;
};

void store_set_free(struct store_set *set); /* keeps it reusable */

/* The last error of a task whose service the config lacks: it waits. */
#define STORE_ABSENT_ERROR "service not in config"

/* The configured services the last config sync recorded into *out
 * (store_set_free); *found 0 when none was recorded yet. 0 or -1. */
int store_configured_set(struct store *s, struct store_set *out, int *found);

/* 1 when the set has a service called name. */
int store_set_has(const struct store_set *set, const char *name);

/* Whether service was retired (*found 1) and why (*reason, may be NULL,
 * malloc'ed). 0 or -1. */
int store_retired_reason(struct store *s, const char *service, char **reason, int64_t *found);

/* Marks the waiting tasks of services the config lacks in records read
 * for display (see store_job_tasks). 0 or -1. */
int store_mark_absent(struct store *s, struct task_record *t, size_t n);

/* Records svcs (names and phases) as the services configured now (what a
 * job starting later covers). In a transaction. 0 or -1. */
int store_set_configured(struct store *s, const struct store_service *svcs, size_t n);

/*
 * Inside a transaction, when a job starts: creates its delete tasks from its
 * snapshot (pending, not yet eligible; one of a service no longer
 * configured waits for it like any other, one of a retired service is
 * skipped with the retirement's reason and a task.skipped event), and one
 * with a task.added event for a configured service the snapshot lacks (as
 * the config sync does for jobs whose tasks exist), dropping the snapshot
 * reference (guarded: nothing is done when it changed since it was read).
 * Nothing to do (0) for a job whose tasks exist. 0 or -1.
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
