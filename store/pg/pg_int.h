/*
 * pg_int.h - shared by the files of the PostgreSQL backend (store/pg/) and
 * its unit tests only: the handle, the backend's operations (its table is
 * store/pg/backend.c), running a statement with text parameters, reading
 * rows, transactions that retry what the server asks to retry, and the
 * event chain.
 *
 * Conventions of the backend. SQL names parameters $1..$n, each passed as
 * text (struct pg_params), with a cast where the server cannot infer a
 * type ($1::bigint IS NULL). Statements are static strings, prepared once
 * per connection (cached by address). Every write runs inside pg_tx (READ
 * COMMITTED; rows that a decision depends on are locked with SELECT ...
 * FOR UPDATE before they change); its events are queued by
 * pg_event_append and written at the end of the transaction, under the
 * chain's lock (store/pg/events.c).
 */
#ifndef TENANTDEL_STORE_PG_INT_H
#define TENANTDEL_STORE_PG_INT_H

#include <stdint.h>

#include "jobs/counts.h"
#include "jobs/document.h"
#include "jobs/timefmt.h"
#include "store/pg/libpq.h"
#include "store/shared.h"

#define PG_STMT_CACHE 200
#define PG_MAX_PARAMS 24
#define PG_NODE_MAX 64

/* Advisory lock keys (pg_advisory_xact_lock): one per purpose, stable. */
#define PG_LOCK_MIGRATE 0x7464656c0001LL /* "tdel" 1: applying migrations */
#define PG_LOCK_CHAIN 0x7464656c0002LL   /* "tdel" 2: the event chain's tip */
#define PG_LOCK_SETS 0x7464656c0003LL    /* "tdel" 3: creating a service set */

/* A prepared statement of this connection: the cache key is sql's address. */
struct pg_prepared {
	const char *sql;
	int n_params; /* what the server found in it (checked at each run) */
};

/* One event queued by pg_event_append until the end of its transaction. */
struct pg_event {
	char *job_id, *type, *service, *detail;
	int64_t at;
};

/* An open PostgreSQL store: struct store first (store/backend.h). */
struct pg_store {
	struct store base;
	PGconn *conn;
	char *dsn;                  /* a secret: never logged or printed */
	char node[PG_NODE_MAX];     /* [store] node: what this host's leases carry */
	char label[128];            /* "database D on H": how errors name the store */
	int in_tx;
	uint64_t generation;        /* + 1 at each reconnection: what was set up on the
				     * old connection (prepared statements, LISTEN) is gone */
	struct pg_prepared cache[PG_STMT_CACHE];
	int n_cache;
	struct pg_event *pending;   /* this transaction's events, in order */
	size_t n_pending, cap_pending;
	int chain_held;             /* this transaction holds PG_LOCK_CHAIN: its
				     * events went in after chain_id (hash chain_prev) */
	int64_t chain_id;
	char chain_prev[STORE_HASH_HEX];
	char sqlstate[6];           /* of the last failed statement ("" none) */
	int lost;                   /* the connection broke (until a reconnection) */
	int brief;                  /* a command (STORE_OPEN_BRIEF): waits for a server
				     * coming back, where a daemon tries once */
	int64_t reconnect_at;       /* a daemon's next try at reconnecting, not before
				     * (clock_mono_ms) */
	/* store/pg/sched.c: LISTEN (set up on connection generation listen_gen,
	 * when listening) and the other hosts' NOTIFYs seen so far */
	int listening;
	uint64_t listen_gen, notified;
	struct pg_load *load;       /* a load_begin's copy in progress (store/pg/load.c) */
};

/* The PostgreSQL handle of an open store (one this backend opened). */
static inline struct pg_store *pg_of(struct store *s)
{
	return (struct pg_store *)s;
}

/*
 * The operations of the table, each with the contract of its store.h
 * namesake (store_<op> or sched_<op>).
 */
struct store *pg_open(const struct store_config *c, char *err, size_t errlen);
void pg_close(struct store *s);
int pg_check_integrity(struct store *s, int *intact, char *why, size_t whylen);
int pg_schedule(struct store *s, const struct store_job_feed *feed,
		const struct store_service *svcs, size_t n_svcs, int64_t now);
int pg_job_get(struct store *s, const char *job_id, struct job_record *out);
int pg_job_tasks(struct store *s, const char *job_id, struct task_record **out, size_t *n);
int pg_job_list(struct store *s, const struct store_list_filter *f, store_job_cb cb,
		void *ctx);
int pg_job_act(struct store *s, const char *job_id, const struct store_action *a,
	       struct job_record *out);
int pg_events_walk(struct store *s, const char *job_id, store_event_row_cb cb, void *ctx);
int pg_tombstones_list(struct store *s, int64_t since, store_tombstone_cb cb, void *ctx);
int pg_same_store(struct store *a, struct store *b, int *same);
int pg_rows_walk(struct store *s, const struct store_table *t, int n, store_row_cb cb,
		 void *ctx);
int pg_load_begin(struct store *s, const struct store_table *t, int n);
int pg_load_row(struct store *s, const struct store_table *t, const struct store_value *row);
int pg_load_done(struct store *s, const struct store_table *t, int n);
int pg_load_end(struct store *s, int commit);

/* ---- inside the backend ---- */

/* The migrations (store/pg/schema.c): migration i (1-based) takes the
 * database from tenantdel_schema.version i-1 to i. */
extern const char *const pg_migrations[];
extern const int pg_n_migrations;

/* Applies pending migrations in one transaction under PG_LOCK_MIGRATE, so
 * that processes opening the store at once apply each exactly once. 0, or
 * -1 with err set. */
int pg_migrate(struct pg_store *s, char *err, size_t errlen);

/* Text parameters of one statement ($1 is v[0]). NULL text is SQL NULL. */
struct pg_params {
	int n;
	const char *v[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][24];
};

/* Appends one parameter. More than PG_MAX_PARAMS is a programming error:
 * it aborts. */
void pg_p_text(struct pg_params *p, const char *v);
void pg_p_int(struct pg_params *p, int64_t v);
void pg_p_opt_int(struct pg_params *p, int64_t v, int64_t none); /* NULL when v == none */

struct buf;
/* A text[] parameter's literal ({"a","b"}) built an element at a time in b
 * (empty at the first): each element quoted, its " and \ escaped. The
 * literal is b->data once pg_array_end has closed it. */
void pg_array_add(struct buf *b, const char *v);
void pg_array_end(struct buf *b);

/*
 * Runs sql (a static string: prepared on this connection at its first use)
 * with p (NULL: none). A parameter count that differs from the
 * statement's is a programming error: it aborts, naming the SQL. Returns
 * the result (PGRES_COMMAND_OK or PGRES_TUPLES_OK; the caller PQclears
 * it), or NULL after logging and keeping the error (s->sqlstate; a broken
 * connection sets s->lost). Outside a transaction a connection found
 * broken is reconnected (pg_reconnect) before the statement, or after
 * it broke under it and the statement run once more: one reconnection a
 * call at most.
 */
PGresult *pg_run(struct pg_store *s, const char *sql, const struct pg_params *p);

/* pg_run for a write: the rows it changed (0: what it expected was not
 * there), or -1. */
int pg_run_changes(struct pg_store *s, const char *sql, const struct pg_params *p);

/* pg_run for one value: *v = row 0 column 0 (none when NULL or no row).
 * 0 or -1. */
int pg_run_int(struct pg_store *s, const char *sql, const struct pg_params *p,
	       int64_t none, int64_t *v);

/* Runs SQL without parameters or results (may hold several statements:
 * the simple protocol). 0 or -1 (logged, kept). */
int pg_exec(struct pg_store *s, const char *sql);

/*
 * Runs SQL built at run time in b (store_copy's, from the static table
 * list: never from input; not prepared), expecting status; b is freed.
 * *out receives the result when out is not NULL (the caller PQclears it).
 * 0, or -1 after keeping the error (pg_keep_error).
 */
struct buf;
int pg_run_built(struct pg_store *s, struct buf *b, ExecStatusType status, PGresult **out);

/* Column readers: a malloc'ed copy (NULL for SQL NULL); an integer with a
 * default for NULL; a string pointing into r (NULL for SQL NULL). */
char *pg_text(const PGresult *r, int row, int col);
int64_t pg_int(const PGresult *r, int row, int col, int64_t null_value);
const char *pg_str(const PGresult *r, int row, int col);

/*
 * Keeps the error of a failed result r (NULL: the connection's) for
 * store_last_error and logs it as store.error with the SQL (never the
 * DSN): s->sqlstate, s->lost, the kind (STORE_E_BUSY for a lock or a
 * serialization conflict, STORE_E_OTHER otherwise).
 */
void pg_keep_error(struct pg_store *s, const PGresult *r, const char *sql);

/* Whether the last error is worth running the transaction again for:
 * serialization failure (40001), deadlock (40P01), a lost connection or a
 * server going away (08xxx, 57P0x). */
int pg_transient(const struct pg_store *s);

/*
 * Reconnects a broken connection. A daemon tries once, for at most 2 s
 * (the event loop waits meanwhile), and not again within 0.5 s of a try
 * that failed: its engine backs off and keeps its HTTP work going. A
 * command (s->brief) tries again with back-off for up to about 10 s.
 * Success forgets the prepared statements and bumps s->generation. 0, or
 * -1 with s->lost set and "database unreachable" kept (STORE_E_BUSY).
 */
int pg_reconnect(struct pg_store *s);

/* Sleeps ms milliseconds (the back-off of a transient error). */
void pg_sleep_ms(int64_t ms);

/*
 * A transaction body: runs inside BEGIN ... COMMIT on s and may run more
 * than once (it must start from its inputs each time: reset what it
 * filled). Returns STORE_OK to commit, or STORE_NOT_FOUND / STORE_REFUSED
 * / STORE_ERR to roll back.
 */
typedef int (*pg_tx_fn)(struct pg_store *s, void *ctx);

/*
 * Runs fn in a transaction: BEGIN, fn, the queued events (pg_event_append)
 * under the chain's lock, COMMIT. A serialization failure or a deadlock
 * rolls back and runs it again, up to 8 times with a short back-off
 * (about 0.6 s in all); a connection lost before COMMIT was sent runs it
 * again after one reconnection (pg_reconnect: a daemon's fails at once
 * while the server is away); a connection lost during the COMMIT itself
 * is not retried (whether it committed is unknown) and returns
 * STORE_ERR. Returns what fn returned, or STORE_ERR. Not nestable.
 */
int pg_tx(struct pg_store *s, pg_tx_fn fn, void *ctx);

/*
 * Appends one event to the chain: queued, and written by pg_tx after the
 * transaction's other statements, ids and hashes assigned then (the one
 * place they are: store/pg/events.c). Inside pg_tx only. detail is JSON
 * object text (NULL: {}), built by the code that owns its format. 0 or -1.
 */
int pg_event_append(struct store *s, const char *job_id, int64_t at, const char *type,
		    const char *service, const char *detail);

/* Writes the queued events under PG_LOCK_CHAIN (pg_tx calls it last;
 * pg_event_append, when a transaction queued PG_EVENTS_HELD_MAX: the lock
 * is then held until the transaction ends). 0 or -1. */
int pg_events_flush(struct pg_store *s);

/* Forgets the queued events (a rollback). */
void pg_events_drop(struct pg_store *s);

/* The transaction ended (committed or rolled back): the queued events
 * forgotten, PG_LOCK_CHAIN no longer held. */
void pg_events_end(struct pg_store *s);

/* Column lists and readers for jobs and tasks rows, in the SQLite
 * backend's order: SELECT PG_JOB_COLS FROM jobs ... */
#define PG_JOB_COLS \
	"jobs.id, jobs.tenant_id, jobs.tenant_name, jobs.kind, jobs.state, jobs.held_from," \
	" jobs.hold_reason, jobs.requested_by, jobs.reason, jobs.origin_job_id," \
	" jobs.created_at, jobs.due_at, jobs.deadline_at, jobs.started_at, jobs.finished_at," \
	" jobs.deadline_missed," \
	" (SELECT COALESCE(SUM(total_deleted), 0) FROM tasks" \
	"    WHERE tasks.job_id = jobs.id AND tasks.kind = 'delete')," \
	" jobs.approval, jobs.approved_by, jobs.approved_at, jobs.parent_id"
#define PG_TASK_COLS \
	"tasks.id, tasks.job_id, tasks.service, tasks.kind, tasks.phase, tasks.state," \
	" tasks.attempts, tasks.http_status, tasks.deleted_counts, tasks.total_deleted," \
	" tasks.preview_before, tasks.before_total, tasks.verified_after, tasks.duration_ms," \
	" tasks.last_error, tasks.skip_reason, tasks.lease_owner, tasks.lease_expires_at," \
	" tasks.next_attempt_at, tasks.first_attempt_at, tasks.updated_at"

/* Fill a record from row `row` of a result selected with the lists above. */
void pg_row_job(const PGresult *r, int row, struct job_record *j);
void pg_row_task(const PGresult *r, int row, struct task_record *t);

/* Reads one job, inside or outside a transaction (for_update: locks its
 * row until the transaction ends). STORE_OK, STORE_NOT_FOUND or STORE_ERR. */
int pg_job_by_id(struct pg_store *s, const char *job_id, int for_update,
		 struct job_record *out);

/* Inserts one webhook outbox row inside a transaction (nothing while no
 * webhook url is configured): body is jobs_outbox_body's text. 0 or -1. */
int pg_outbox_append(struct pg_store *s, const char *eid, const char *type,
		     const char *job_id, const char *body, int64_t now);

/*
 * A job's state changed (already written): queues the job-level event
 * `type` with detail (NULL: {}) and writes the outbox row of the job as it
 * is now. Inside a transaction. If out is not NULL it receives the job.
 * 0 or -1.
 */
int pg_job_changed(struct pg_store *s, const char *job_id, const char *type,
		   const char *detail, int64_t now, struct job_record *out);

/* ---- service sets (store/pg/service_sets.c, store/pg/materialize.c) ---- */

/* The id of the service set whose members are svcs' names and phases,
 * created when new (under PG_LOCK_SETS: one set per list of members). In a
 * transaction. 0 or -1. */
int pg_service_set_id(struct pg_store *s, const struct store_service *svcs, size_t n,
		      int64_t *id);

/* Appends the members of set id to *out (by phase, then name). 0 or -1. */
int pg_set_members(struct store *s, int64_t id, struct store_set *out);

/* Records svcs as the services configured now (what a job starting later
 * covers). In a transaction. 0 or -1. */
int pg_set_configured(struct pg_store *s, const struct store_service *svcs, size_t n);

/* The configured set's id (*id 0: no config sync recorded yet). 0 or -1. */
int pg_configured_id(struct store *s, int64_t *id);

/* Whether service was retired (*found 1) and why (*reason, may be NULL,
 * malloc'ed). 0 or -1. */
int pg_retired_reason(struct store *s, const char *service, char **reason,
		      int64_t *found);


/*
 * Inside a transaction, when a job starts: creates its delete tasks from
 * its snapshot (as sqlite_materialize_tasks: a service no longer
 * configured waits, a retired one is skipped with a task.skipped event, a
 * configured service the snapshot lacks is added with task.added), and
 * drops the snapshot reference (guarded: nothing is done when another
 * writer did it first). Nothing to do (0) for a job whose tasks exist.
 * 0 or -1.
 */
int pg_materialize_tasks(struct pg_store *s, const char *job_id, int64_t now);

/* pg_materialize_tasks for every job not started yet whose snapshot is not
 * the configured set; *count receives how many. 0 or -1. */
int pg_materialize_stale(struct pg_store *s, int64_t now, int *count);

/* A job not started yet: its snapshot and state (store_task_ops.job_set). */
int pg_job_set(struct store *s, const char *job_id, struct store_job_set *j);

/* ---- the scheduler's side: sched*.c, absent.c, outbox.c, metrics.c,
 * reapply.c ---- */

int pg_jobs_progress(struct store *s, struct store_job_progress *out, size_t n);
int pg_service_errors(struct store *s, int64_t since, struct store_service_error **out,
		      size_t *n);
int pg_retire_service(struct store *s, const char *service, const char *reason,
		      const char *by, int64_t now, int64_t *skipped);
int pg_absent_services(struct store *s, const struct store_service *svcs, size_t n_svcs,
		       struct store_absent **out, size_t *n);
int pg_maintain(struct store *s, const char *owner, sched_owner_fn judge, void *ctx,
		int reclaim_self, const struct policy_retry *retry, int want_jobs, int64_t now,
		struct sched_maint *m);
int pg_sweep_jobs(struct store *s, int64_t now);
int pg_claim_tasks(struct store *s, const char *owner, const struct sched_service *svcs,
		   size_t n_svcs, size_t first, int max, int64_t now,
		   struct sched_claimed **out, size_t *n);
int pg_count_sent(struct store *s, const char *owner, const struct sched_lease *leases,
		  size_t n, int64_t now, int *held);
int pg_record_results(struct store *s, const char *owner, const struct sched_result *r,
		      size_t n, const struct sched_service *svcs, size_t n_svcs, int64_t now,
		      int *failed_jobs);
int pg_next_wake(struct store *s, const char *owner, const struct sched_service *svcs,
		 size_t n_svcs, int64_t now, int64_t *at);
int pg_changed_token(struct store *s, uint64_t *token);
int pg_wait_fd(struct store *s);
int pg_jobs_failed(struct store *s, const char *const *ids, size_t n, size_t *failed);
int pg_sync_services(struct store *s, const struct sched_service *svcs, size_t n_svcs,
		     int64_t now, int *added, int *held);
int pg_webhook_enqueue(struct store *s, const char *const *urls, size_t n, int batch,
		       int64_t now, int *more);
int pg_webhook_claim(struct store *s, const char *url, const char *owner, int64_t now,
		     int64_t lease_ms, int limit, struct store_delivery **out, size_t *n);
int pg_webhook_finish(struct store *s, int64_t outbox_id, const char *url, int delivered,
		      int status, const char *error, int64_t next_attempt_at, int64_t now);
int pg_webhook_release(struct store *s, const char *owner);
int pg_webhook_lease_owners(struct store *s, char ***owners, size_t *n);
int pg_webhook_prune(struct store *s, const char *const *urls, size_t n, int64_t before,
		     int limit, int *more);
int pg_webhook_backlog(struct store *s, const char *const *urls, size_t n, int64_t *count);
int pg_reapply(struct store *s, const struct store_reapply_req *r,
	       struct store_reapply_item **items, size_t *n);
int pg_metrics_read(struct store *s, int64_t now, const char *const *urls, size_t n_urls,
		    struct store_metrics *out);
int pg_schedule_subject(struct store *s, const struct store_new_job *j, int64_t now,
			char id[JOBS_ID_LEN + 1], int *created);
int pg_subject_tenants(struct store *s, const char *job_id, struct subject_tenant **out,
		       size_t *n);

/* Dispatchable (as the SQLite store's DISPATCHABLE): delete needs a
 * running job, suspend a scheduled or running one not awaiting approval,
 * restore a cancelled one; a held job runs nothing. t: tasks, j: jobs. */
#define PG_DISPATCHABLE \
	" ((t.kind = 'delete' AND j.state = 'running')" \
	" OR (t.kind = 'suspend' AND j.state IN ('scheduled','running')" \
	"     AND j.approval IS DISTINCT FROM 'pending')" \
	" OR (t.kind = 'restore' AND j.state = 'cancelled'))"

/* The enabled services' names as a text[] literal; the caller frees. */
char *pg_service_array(const struct sched_service *svcs, size_t n);

/* Log lines held until a pg_tx commits: pg_hold_fresh at the start of the
 * body (it drops what an earlier try held), pg_hold_end after pg_tx. */
void pg_hold_fresh(int *held);
void pg_hold_end(int *held, int committed);

/* The database's clock in epoch ms, as SQL: lease expiry is measured on
 * it, never on a host's clock (hosts' clocks differ). */
#define PG_DB_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

/* The first key of the per-service advisory locks (the second is
 * hashtext(service)): claims and breaker writes of one service, one host
 * at a time, so that max_in_flight and the half-open probe hold across
 * every host. */
#define PG_LOCK_SERVICE 1952736620 /* "tdel" */

/* Takes the advisory lock of service until the transaction ends. 0 or -1. */
int pg_lock_service(struct pg_store *s, const char *service);

/* Queues a wake-up for the other hosts (NOTIFY, sent at commit): call when
 * a write makes work due now. Inside a transaction. 0 or -1. */
int pg_notify_due(struct pg_store *s);

/* Held shared by every writer of outbox rows from before its insert to its
 * commit, exclusively by the fan-out (store/pg/outbox.c says why). */
#define PG_LOCK_OUTBOX 0x7464656c0010LL /* "tdel" 16 */

/* Takes PG_LOCK_OUTBOX shared until the transaction ends: call before
 * inserting an outbox row. 0 or -1. */
int pg_outbox_guard(struct pg_store *s);

/* Pushes column 0 of every row of r (may be NULL: -1) and PQclears it. 0 or -1. */
int pg_idset_collect(PGresult *r, struct store_idset *set);

/* Locks the rows of the set's jobs in id order (the order every writer
 * takes job rows in: no deadlock between them). 0 or -1. */
int pg_lock_jobs(struct pg_store *s, const struct store_idset *set);

/*
 * Inside a transaction: locks the job's row, then brings the job up to
 * date with its delete tasks as sqlite_eval_job does (the lock first, so
 * that two hosts finishing its last two tasks at once see each other's:
 * the second reads after the first committed). Adds 1 to *failed (may be
 * NULL) when it failed the job. 0 or -1.
 */
int pg_eval_job(struct pg_store *s, const char *job_id, int64_t now, int *failed);
int pg_eval_jobs(struct pg_store *s, const struct store_idset *set, int64_t now, int *failed);

/* The breaker row of service (closed when none; *probe_owner, may be
 * NULL, the holder of the half-open probe, caller frees). 0 or -1. */
int pg_breaker_load(struct pg_store *s, const char *service, struct policy_breaker *b,
		    char **probe_owner);
/* Writes it back (probe_owner kept while a probe is in flight). Under the
 * service's lock (pg_lock_service). 0 or -1. */
int pg_breaker_save(struct pg_store *s, const char *service, const struct policy_breaker *b,
		    const char *probe_owner, int64_t now);

/* ---- data-subject erasure (store/pg/subject.c) ---- */

/*
 * Inside a transaction: remembers what the discover step r found (its
 * tenants, decisions and reasons), creates a child purge job for each
 * tenant to purge (or links the tenant's active purge) and appends the
 * subject.discovered event. 0 or -1.
 */
int pg_subject_discovered(struct store *s, const struct sched_result *r, int64_t now);

/* Pushes the unfinished children of parent (jobs.parent_id) into set, in
 * id order. 0 or -1. */
int pg_children(struct store *s, const char *parent, struct store_idset *set);

/* The unfinished subject job that waits for job_id (its child, or the
 * tenant's purge that stands for one) into parent: 1, 0 none, -1. */
int pg_waiting_parent(struct store *s, const char *job_id, char parent[JOBS_ID_LEN + 1]);

/* Adds the counters of one batch (in key order: no deadlock between two
 * batches). Inside a transaction. 0 or -1. */
int pg_metrics_flush(struct pg_store *s, const struct jobs_counts *c);

#endif
