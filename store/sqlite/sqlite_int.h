/*
 * sqlite_int.h - shared by the files of the SQLite backend (store/sqlite/)
 * and its unit tests only: the handle, the backend's operations (its
 * table is store/sqlite/backend.c), the statement cache, binding helpers,
 * row readers and the event chain.
 */
#ifndef TENANTDEL_STORE_SQLITE_INT_H
#define TENANTDEL_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>

#include "jobs/counts.h"
#include "jobs/document.h"
#include "jobs/timefmt.h"
#include "store/shared.h"

#define STORE_STMT_CACHE 160

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

/* An open SQLite store: struct store first (store/backend.h). */
struct sqlite_store {
	struct store base;
	sqlite3 *db;
	char *path;
	int in_tx;
	int brief;  /* opened with STORE_OPEN_BRIEF: see integrity.c */
	int checked; /* the file passed its check at open (or was just built) */
	char good_stamp[128]; /* the main file's stamp as this handle last knew it
				 checked: at open, after its own checkpoints ("" none) */
	int busy_ms;    /* how long a write waits for another's lock (configured) */
	int busy_now;   /* ... at the moment (sqlite_set_busy) */
	int64_t busy_since;  /* when the wait for a lock began (monotonic ms) */
	unsigned busy_seed;  /* its jitter */
	int wal_frames; /* pages in the log after the last commit (its WAL hook) */
	int wal_done;   /* wal_frames at its last checkpoint */
	struct store_stmt_slot cache[STORE_STMT_CACHE];
	int n_cache;
	struct store_chain tip;
	struct sqlite_load *load;   /* a load_begin's copy in progress (store/sqlite/copy.c) */
};

/* The SQLite handle of an open store (one this backend opened). */
static inline struct sqlite_store *sqlite_of(struct store *s)
{
	return (struct sqlite_store *)s;
}

/*
 * The operations of the table, each with the contract of its store.h
 * namesake (store_<op> or sched_<op>).
 */
struct store *sqlite_open(const struct store_config *c, char *err, size_t errlen);
void sqlite_close(struct store *s);
/* How long a write waits for another's lock from now on (0: not at all;
 * store/sqlite/open.c). */
void sqlite_set_busy(struct sqlite_store *s, int ms);
/* store/sqlite/integrity.c: the quick check at open, unless the file's
 * stamp says it passed already (files past 64 MiB: none; 0, or -1 with
 * err), and the stamp of a store just built remembered; the log's
 * checkpoints, which remember the stamp they leave: set up at open, after
 * each commit (sqlite_commit), at close. */
int sqlite_check_if_changed(struct sqlite_store *s, const struct stat *st, char *err,
			    size_t errlen);
void sqlite_remember_built(struct sqlite_store *s);
int sqlite_wal_setup(struct sqlite_store *s);
void sqlite_wal_upkeep(struct sqlite_store *s);
void sqlite_wal_close(struct sqlite_store *s);
int sqlite_check_integrity(struct store *s, int *intact, char *why, size_t whylen);
int sqlite_schedule(struct store *s, const struct store_job_feed *feed,
		    const struct store_service *svcs, size_t n_svcs, int64_t now);
int sqlite_job_get(struct store *s, const char *job_id, struct job_record *out);
int sqlite_job_tasks(struct store *s, const char *job_id, struct task_record **out,
		     size_t *n);
int sqlite_job_list(struct store *s, const struct store_list_filter *f, store_job_cb cb,
		    void *ctx);
int sqlite_jobs_progress(struct store *s, struct store_job_progress *out, size_t n);
int sqlite_service_errors(struct store *s, int64_t since, struct store_service_error **out,
			  size_t *n);
int sqlite_schedule_subject(struct store *s, const struct store_new_job *j, int64_t now,
			    char id[JOBS_ID_LEN + 1], int *created);
int sqlite_subject_tenants(struct store *s, const char *job_id, struct subject_tenant **out,
			   size_t *n);
int sqlite_job_act(struct store *s, const char *job_id, const struct store_action *a,
		   struct job_record *out);
int sqlite_retire_service(struct store *s, const char *service, const char *reason,
			  const char *by, int64_t now, int64_t *skipped);
int sqlite_absent_services(struct store *s, const struct store_service *svcs,
			   size_t n_svcs, struct store_absent **out, size_t *n);
int sqlite_events_walk(struct store *s, const char *job_id, store_event_row_cb cb,
		       void *ctx);
int sqlite_maintain(struct store *s, const char *owner, sched_owner_fn judge, void *ctx,
		    int reclaim_self, const struct policy_retry *retry, int want_jobs,
		    int64_t now, struct sched_maint *m);
int sqlite_sweep_jobs(struct store *s, int64_t now);
int sqlite_claim_tasks(struct store *s, const char *owner, const struct sched_service *svcs,
		       size_t n_svcs, size_t first, int max, int64_t now,
		       struct sched_claimed **out, size_t *n);
int sqlite_count_sent(struct store *s, const char *owner, const struct sched_lease *leases,
		      size_t n, int64_t now, int *held);
int sqlite_record_results(struct store *s, const char *owner, const struct sched_result *r,
			  size_t n, const struct sched_service *svcs, size_t n_svcs,
			  int64_t now, int *failed_jobs);
int sqlite_next_wake(struct store *s, const char *owner, const struct sched_service *svcs,
		     size_t n_svcs, int64_t now, int64_t *at);
int sqlite_changed_token(struct store *s, uint64_t *token);
int sqlite_jobs_failed(struct store *s, const char *const *ids, size_t n, size_t *failed);
int sqlite_sync_services(struct store *s, const struct sched_service *svcs, size_t n_svcs,
			 int64_t now, int *added, int *held);
int sqlite_webhook_enqueue(struct store *s, const char *const *urls, size_t n, int batch,
			   int64_t now, int *more);
int sqlite_webhook_claim(struct store *s, const char *url, const char *owner, int64_t now,
			 int64_t lease_ms, int limit, struct store_delivery **out, size_t *n);
int sqlite_webhook_finish(struct store *s, int64_t outbox_id, const char *url,
			  int delivered, int status, const char *error, int64_t next_attempt_at, int64_t now);
int sqlite_webhook_release(struct store *s, const char *owner);
int sqlite_webhook_lease_owners(struct store *s, char ***owners, size_t *n);
int sqlite_webhook_prune(struct store *s, const char *const *urls, size_t n,
			 int64_t before, int limit, int *more);
int sqlite_webhook_backlog(struct store *s, const char *const *urls, size_t n,
			   int64_t *count);
int sqlite_tombstones_list(struct store *s, int64_t since, store_tombstone_cb cb,
			   void *ctx);
int sqlite_reapply(struct store *s, const struct store_reapply_req *r,
		   struct store_reapply_item **items, size_t *n);
int sqlite_metrics_read(struct store *s, int64_t now, const char *const *urls,
			size_t n_urls, struct store_metrics *out);
int sqlite_same_store(struct store *a, struct store *b, int *same);
int sqlite_rows_walk(struct store *s, const struct store_table *t, int n, store_row_cb cb,
		     void *ctx);
int sqlite_load_begin(struct store *s, const struct store_table *t, int n);
int sqlite_load_row(struct store *s, const struct store_table *t,
		    const struct store_value *row);
int sqlite_load_done(struct store *s, const struct store_table *t, int n);
int sqlite_load_end(struct store *s, int commit);

/* ---- inside the backend ---- */

/* The VFS the store's files are opened with (store/sqlite/walbuf.c):
 * SQLite's default one, its writes to a WAL gathered into a few large
 * ones until a sync or anything that reads them; NULL (the default VFS
 * then) if it could not be registered. */
const char *sqlite_walbuf_vfs(void);

/* Since the process started: write calls SQLite made to WAL files, the
 * writes that reached them, statement journals that outgrew SQLite's
 * memory (SQLITE_ROWS_A_STATEMENT; held by walbuf.c in its own), those
 * that outgrew that too and became temporary files, and the bytes walbuf.c
 * holds for journals now. */
struct walbuf_stats {
	uint64_t calls, writes, spilled, spilled_to_disk, held;
};
void sqlite_walbuf_stats(struct walbuf_stats *out);

/* The meta key of the file's last quick check (store/sqlite/open.c): this
 * file's own bookkeeping, never copied to another store. */
#define SQLITE_META_CHECKED "integrity.checked"
/*
 * The most rows one statement of the hot path writes (a job's tasks as it
 * starts, a phase opened), and the rows a statement of a bulk schedule
 * writes (jobs, events: one statement opens a table and its indexes once
 * for all of them). A statement that writes several rows keeps each page
 * it changes, to undo itself alone; past the 124 KiB SQLite keeps in
 * memory (~30 pages) that journal becomes a file for the rest of the
 * transaction (walbuf.c's memory, a temporary file past 16 MiB), and
 * every later statement's journal is copied there. A task's row changes
 * one page of tasks_of_service or tasks_due_by_service each, its
 * service's: 30 services in a phase spilled it on every job started
 * (72,000 pwrite(2)s for 600 jobs, when that file was on disk). 16 rows:
 * ~20 pages.
 */
#define SQLITE_ROWS_A_STATEMENT 16

/* PRAGMA application_id of a tenantdel store ("tdel"; migration 5). */
#define STORE_APPLICATION_ID 0x7464656c

extern const char *const sqlite_migrations[];
extern const int sqlite_n_migrations;

/*
 * The prepared statement for sql (a string with static storage: it is
 * cached by address, prepared on first use). Returns NULL after logging
 * when it does not prepare. Use it, then sqlite_reset() it.
 */
sqlite3_stmt *sqlite_stmt(struct sqlite_store *s, const char *sql);
void sqlite_reset(sqlite3_stmt *st);

/*
 * Bind by name (":name"); NULL text binds NULL. A name the statement does
 * not have is a programming error: it aborts, in every build, with a
 * message naming the SQL and the name (else a typo binds NULL, changes no
 * row, and reads as "the job moved meanwhile"). So does any other bind
 * failure (out of memory). Can't fail otherwise.
 */
void sqlite_bind_text(sqlite3_stmt *st, const char *name, const char *value);
void sqlite_bind_int(sqlite3_stmt *st, const char *name, int64_t value);
void sqlite_bind_blob(sqlite3_stmt *st, const char *name, const void *p, size_t n);
void sqlite_bind_null(sqlite3_stmt *st, const char *name);
/* By position (1-based), for statements of many rows bound at each row's
 * offset; a failure aborts as above. */
void sqlite_bind_text_at(sqlite3_stmt *st, int index, const char *value);
void sqlite_bind_int_at(sqlite3_stmt *st, int index, int64_t value);
void sqlite_bind_blob_at(sqlite3_stmt *st, int index, const void *p, size_t n);
/* Binds NULL when value == none. */
void sqlite_bind_opt_int(sqlite3_stmt *st, const char *name, int64_t value, int64_t none);

/*
 * What an SQLite result rc on db means for the operator, in the words of
 * DESIGN 4 ("disk full", "read-only", "damaged: run audit verify", ...),
 * or NULL when SQLite's own message says it best. Static text.
 */
const char *sqlite_error_phrase(sqlite3 *db, int rc);

/*
 * Keeps the error of SQLite result rc for store_last_error: its phrase
 * (sqlite_error_phrase, kind STORE_E_FILE), else msg (NULL: sqlite3_errmsg)
 * as STORE_E_BUSY for a lock held too long, STORE_E_OTHER otherwise.
 */
void sqlite_keep_error(struct sqlite_store *s, int rc, const char *msg);

/* Logs the failing step: event store.error with the SQL and sqlite3_errmsg
 * (kept by sqlite_keep_error). */
void sqlite_log_error(struct sqlite_store *s, const char *what);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Not nestable. STORE_OK or STORE_ERR
 * (a failed commit is rolled back). */
int sqlite_begin(struct sqlite_store *s);
int sqlite_commit(struct sqlite_store *s);
void sqlite_rollback(struct sqlite_store *s);

/* Steps a write statement to SQLITE_DONE and resets it. 0 or -1 (logged). */
int sqlite_step_done(struct sqlite_store *s, sqlite3_stmt *st);

/*
 * Steps st (from sqlite_stmt, bound by the caller; NULL when it did not
 * prepare) for its one row: *v = its first column (none when NULL). Resets
 * st. 0, or -1 (logged; *v untouched) when no row came.
 */
int sqlite_step_int(struct sqlite_store *s, sqlite3_stmt *st, int64_t none, int64_t *v);

/*
 * Ends a walk over st's rows whose last sqlite3_step returned rc (pass
 * SQLITE_DONE when the caller stopped the walk early): resets st. 0, or -1
 * (logged) when rc is not SQLITE_DONE.
 */
int sqlite_walk_end(struct sqlite_store *s, sqlite3_stmt *st, int rc);

/* Runs SQL without results (may hold several statements). 0 or -1. */
int sqlite_exec(struct sqlite_store *s, const char *sql);

/* Column helpers: a malloc'ed copy (NULL for SQL NULL); int with default. */
char *sqlite_col_text(sqlite3_stmt *st, int col);
int64_t sqlite_col_int(sqlite3_stmt *st, int col, int64_t null_value);

/* Column lists and readers for jobs and tasks rows: SELECT STORE_JOB_COLS FROM jobs ... */
#define STORE_JOB_COLS \
	"jobs.id, jobs.tenant_id, jobs.tenant_name, jobs.kind, jobs.state, jobs.held_from," \
	" jobs.hold_reason, jobs.requested_by, jobs.reason, jobs.origin_job_id," \
	" jobs.created_at, jobs.due_at, jobs.deadline_at, jobs.started_at, jobs.finished_at," \
	" jobs.deadline_missed," \
	" (SELECT COALESCE(SUM(total_deleted), 0) FROM tasks" \
	"    WHERE tasks.job_id = jobs.id AND tasks.kind = 'delete')," \
	" jobs.approval, jobs.approved_by, jobs.approved_at, jobs.parent_id"
#define STORE_TASK_COLS \
	"tasks.id, tasks.job_id, tasks.service, tasks.kind, tasks.phase, tasks.state," \
	" tasks.attempts, tasks.http_status, tasks.deleted_counts, tasks.total_deleted," \
	" tasks.preview_before, tasks.before_total, tasks.verified_after, tasks.duration_ms," \
	" tasks.last_error, tasks.skip_reason, tasks.lease_owner, tasks.lease_expires_at," \
	" tasks.next_attempt_at, tasks.first_attempt_at, tasks.updated_at"

/* Fill a record from a row selected with the column list above (from column 0). */
void sqlite_row_job(sqlite3_stmt *st, struct job_record *j);
void sqlite_row_task(sqlite3_stmt *st, struct task_record *t);

/* Steps a write statement to SQLITE_DONE and resets it: the rows it
 * changed (0: what it expected was not there), or -1 (logged). */
int sqlite_step_changes(struct sqlite_store *s, sqlite3_stmt *st);
/* The id the query sql (binding key to value) finds first into id: 1
 * found, 0 none, -1 (logged). */
int sqlite_id_of(struct sqlite_store *s, const char *sql, const char *key, const char *value,
		 char id[JOBS_ID_LEN + 1]);
/* The tenant's active (unfinished) purge job into id: 1, 0 none, -1. */
int sqlite_active_purge(struct sqlite_store *s, const char *tenant, char id[JOBS_ID_LEN + 1]);
/* Steps a statement that writes at most SQLITE_ROWS_A_STATEMENT rows a
 * step (its :rows, bound here; :skip, when it has one, the rows written so
 * far) again, the caller's other parameters kept, until a step writes
 * fewer. The rows written, or -1. */
int sqlite_step_in_rows(struct sqlite_store *s, sqlite3_stmt *st);

/*
 * Appends one event to the chain: the one place event ids and hashes are
 * assigned (store/sqlite/events.c says how a backend with several writers keeps
 * them in order). Inside a write transaction. detail is JSON object text
 * (NULL: {}), built by the code that owns its format. 0 or -1.
 */
int sqlite_event_append(struct store *s, const char *job_id, int64_t at,
			const char *type, const char *service, const char *detail);

/* Counts n jobs just inserted (all start 'scheduled') in job_states, in
 * the transaction that inserted them (schema version 15: no trigger does).
 * Every INSERT INTO jobs calls it. 0 or -1. */
int sqlite_jobs_created(struct sqlite_store *s, int64_t n);

/* Appends n events in order, as n sqlite_event_append calls would, but
 * SQLITE_ROWS_A_STATEMENT a statement. */
struct sqlite_event_row {
	const char *job_id;
	int64_t at;
	const char *type, *service, *detail;
};
int sqlite_events_append(struct sqlite_store *s, const struct sqlite_event_row *rows, size_t n);

/* The hash stored in column col (32 bytes, or hex text in rows written
 * before version 14) as hex text in out; NULL when the column is NULL. */
const char *sqlite_column_hash(sqlite3_stmt *st, int col, char out[STORE_HASH_HEX]);

/* What a walk of event rows in id order remembers to read their hashes. */
struct sqlite_hash_walk {
	int64_t last_id;           /* the row read before (0: none) */
	char last[STORE_HASH_HEX]; /* its hash */
	char hash[STORE_HASH_HEX], prev[STORE_HASH_HEX], pred[STORE_HASH_HEX];
};

/*
 * Reads the hashes of the event row st is on, from its columns col[0] id,
 * col[1] prev_hash, col[2] hash and col[3] (-1: none) the hash of event
 * id-1: *hash as hex, and *prev as stored, or when not repeated (the empty
 * BLOB written since version 14) the hash of event id-1, which is col[3]
 * or else the row w read before when that is id-1. Returns the hash of
 * event id-1 (the genesis hash for event 1), NULL when unknown. The
 * strings point into w or the row: valid until the next step.
 */
const char *sqlite_event_hashes(struct sqlite_hash_walk *w, sqlite3_stmt *st, const int col[4],
				const char **prev, const char **hash);

/* Inserts one webhook outbox row, inside a transaction: body is the whole
 * payload {"id": eid, "type", "created_at", "job"} as JSON text
 * (jobs_outbox_body). Does nothing while no webhook url is configured.
 * 0 or -1. */
int sqlite_outbox_append(struct sqlite_store *s, const char *eid, const char *type,
			 const char *job_id, const char *body, int64_t now);

/*
 * A job's state changed (already written): appends the job-level event
 * `type` (e.g. "job.started") with detail (JSON object text, NULL: {}),
 * and the webhook outbox row whose body is jobs_outbox_body of the job as
 * it is now. Inside a transaction. If out is not NULL it receives the job.
 * 0 or -1.
 */
int sqlite_job_changed(struct sqlite_store *s, const char *job_id, const char *type,
		       const char *detail, int64_t now, struct job_record *out);

/*
 * Carries out a on the job read as cur, inside the caller's write
 * transaction: asks the rules (store_action_apply), then writes the change
 * with cur as its expectation (UPDATE ... WHERE id = cur's AND state =
 * cur's state), its events and its outbox row. STORE_OK with *out (not NULL) the job
 * after; STORE_REFUSED when the rules refuse it (why: store_last_error) or
 * the job is no longer as cur says (moved meanwhile: the caller rolls back
 * and reads it again); STORE_ERR. sqlite_job_act reads cur and calls this
 * in one transaction.
 */
int sqlite_action_apply(struct sqlite_store *s, const struct job_record *cur,
			const struct store_action *a, struct job_record *out);

/* The id of the service set whose members are svcs' names and phases
 * (service_sets, migration 7), created when new. In a transaction. 0 or -1. */
int sqlite_service_set_id(struct sqlite_store *s, const struct store_service *svcs, size_t n,
			  int64_t *id);

/* The id of the configured set the last config sync recorded (*id 0:
 * none yet). 0 or -1. */
int sqlite_configured_id(struct store *s, int64_t *id);

/* Whether service was retired (*found 1) and why (*reason, may be NULL,
 * malloc'ed). 0 or -1. */
int sqlite_retired_reason(struct store *s, const char *service, char **reason,
			  int64_t *found);

/* Records svcs (names and phases) as the services configured now (what a
 * job starting later covers). In a transaction. 0 or -1. */
int sqlite_set_configured(struct sqlite_store *s, const struct store_service *svcs, size_t n);

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
int sqlite_materialize_tasks(struct sqlite_store *s, const char *job_id, int64_t now);

/*
 * sqlite_materialize_tasks for every job not started yet whose snapshot is
 * not the configured set recorded by sqlite_set_configured (the config
 * changed since it was scheduled). *count receives how many. 0 or -1.
 */
int sqlite_materialize_stale(struct sqlite_store *s, int64_t now, int *count);

/* A job not started yet: its snapshot and state (store_task_ops.job_set). */
int sqlite_job_set(struct store *s, const char *job_id, struct store_job_set *j);

/* Appends the members of set id to *out (by phase, then name). 0 or -1. */
int sqlite_set_members(struct store *s, int64_t id, struct store_set *out);

/* Reads one job inside or outside a transaction: STORE_OK, STORE_NOT_FOUND
 * or STORE_ERR (sqlite_job_get is this behind the table). */
int sqlite_job_by_id(struct sqlite_store *s, const char *job_id, struct job_record *out);

/*
 * Adds a group commit's counters (jobs_counts_add_attempt) to the counters
 * rows; call inside the transaction that records the attempts.
 * STORE_OK or STORE_ERR.
 */
int sqlite_metrics_flush(struct sqlite_store *s, const struct jobs_counts *c);

#endif
