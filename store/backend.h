/*
 * backend.h - the seam between the store's interface (store.h) and a
 * database: a table of function pointers, one per operation, in the
 * manner of SQLite's sqlite3_io_methods or redis's ConnectionType. For
 * the backends and the shared files of store/ only: callers include
 * store.h, never this.
 *
 * A backend's handle embeds struct store first (struct sqlite_store {
 * struct store base; sqlite3 *db; ... }) and casts back in each operation.
 * Each operation has the contract of the store.h function of the same name
 * (store_<op> or sched_<op>); store/store.c dispatches to it. What every
 * backend shares is written once above them: the error state, the webhook
 * urls, the event hash, the chain's verification over the rows a backend
 * walks (store/events.c), the proof reads (store/proof.c), freeing
 * the records, and the rules of store/shared.h over a backend's row
 * primitives (a job's tasks, an operator's action, a job's evaluation, a
 * recorded attempt, lease take-over).
 *
 * What a second backend (PostgreSQL, issue 11) does in the same shapes:
 * claim_tasks with FOR UPDATE SKIP LOCKED under a per-service lock;
 * events appended last in each transaction under one lock, so the chain
 * stays one; changed_token fed by LISTEN/NOTIFY; lease owners that carry
 * the node name; the connection string from struct store_config.
 */
#ifndef TENANTDEL_STORE_BACKEND_H
#define TENANTDEL_STORE_BACKEND_H

#include <pthread.h>

#include <stdarg.h>

#include "store/store.h"

#define STORE_HASH_HEX 65

/* An operator's action on one job, as the job_act operation takes it. */
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
 * Called once per event row that events_walk reads, in id order; ev's
 * strings are valid during the call. pred is the stored hash of event
 * ev->id - 1 (NULL when there is none) in a walk of one job's events, NULL
 * in a walk of them all (the walker has it: the row before). Non-zero stops.
 */
typedef int (*store_event_row_cb)(void *ctx, const struct event_record *ev, const char *pred);

/*
 * Copying a whole store (store_copy, store/copy.c): the portable tables,
 * each a list of columns of two types, and rows as plain values. A
 * backend reads its rows (rows_walk) and writes rows it is given
 * (load_begin, load_row, load_done, load_end) without knowing the other
 * backend.
 */
enum store_col_type { STORE_COL_INT, STORE_COL_TEXT };

struct store_column {
	const char *name;
	enum store_col_type type;
};

struct store_table {
	const char *name;
	const struct store_column *cols;
	int n_cols;
	int n_key; /* the first n_key columns are its primary key (the walk's order) */
};

/* One column's value in a row: null, else num (STORE_COL_INT) or text
 * (STORE_COL_TEXT, valid during the call that passes it). */
struct store_value {
	int null;
	int64_t num;
	const char *text;
};

/* A backend's open starts its handle with store_base_init (the handle's
 * lock: every operation holds it, so that the engine's recording thread
 * and its loop can share one store, one at a time; recursive, for an
 * operation or a callback that calls another); its close ends with
 * store_base_clear. store_lock/store_unlock are for an operation that
 * reaches a backend without store.c's dispatch (store_events_list). */
struct store_backend;
void store_base_init(struct store *s, const struct store_backend *be);
void store_base_clear(struct store *s);
void store_lock(struct store *s);
void store_unlock(struct store *s);

/* The portable tables in the order a load must follow (a row's foreign
 * keys point into tables earlier in the list): store/copy.c. */
extern const struct store_table store_tables[];
extern const int store_n_tables;

/*
 * Called by rows_walk once per row of table t (n_cols values in t's column
 * order), total being the rows t has in the walk's snapshot. Non-zero
 * stops the walk.
 */
typedef int (*store_row_cb)(void *ctx, const struct store_table *t, int64_t total,
			    const struct store_value *row);

/* The part of every backend's handle that the shared files of store/ know. */
struct store {
	const struct store_backend *be;
	pthread_mutex_t lock;            /* held by each operation (store.c): the
					  * engine records on a second thread */
	enum store_error_kind err_kind;  /* of err_msg (store_last_error_kind) */
	char err_msg[256];               /* store_last_error */
	char **webhook_urls;             /* store_set_webhooks: the outbox is written */
	size_t n_webhook_urls;           /*   only while there is one */
};

struct store_backend {
	const char *name; /* [store] backend = NAME */

	/* open fills base (store_base_init); close frees the handle (never NULL
	 * here). */
	struct store *(*open)(const struct store_config *c, char *err, size_t errlen);
	void (*close)(struct store *s);
	int (*check_integrity)(struct store *s, int *intact, char *why, size_t whylen);

	/* store_schedule_feed (store_schedule is one chunk of it) */
	int (*schedule)(struct store *s, const struct store_job_feed *feed,
			const struct store_service *svcs, size_t n_svcs, int64_t now);
	int (*job_get)(struct store *s, const char *job_id, struct job_record *out);
	int (*job_tasks)(struct store *s, const char *job_id, struct task_record **out,
			 size_t *n);
	int (*job_list)(struct store *s, const struct store_list_filter *f, store_job_cb cb,
			void *ctx);
	int (*jobs_progress)(struct store *s, struct store_job_progress *out, size_t n);
	int (*service_errors)(struct store *s, int64_t since, struct store_service_error **out,
			      size_t *n);
	/* store_job_cancel, _hold, _release, _retry, _approve */
	int (*job_act)(struct store *s, const char *job_id, const struct store_action *a,
		       struct job_record *out);
	int (*retire_service)(struct store *s, const char *service, const char *reason,
			      const char *by, int64_t now, int64_t *skipped);
	int (*absent_services)(struct store *s, const struct store_service *svcs,
			       size_t n_svcs, struct store_absent **out, size_t *n);

	/* The events of job_id (NULL: every event), in id order; see above. */
	int (*events_walk)(struct store *s, const char *job_id, store_event_row_cb cb,
			   void *ctx);

	int (*maintain)(struct store *s, const char *owner, sched_owner_fn judge, void *ctx,
			int reclaim_self, const struct policy_retry *retry, int want_jobs,
			int64_t now, struct sched_maint *m);
	int (*sweep_jobs)(struct store *s, int64_t now);
	int (*claim_tasks)(struct store *s, const char *owner, const struct sched_service *svcs,
			   size_t n_svcs, size_t first, int max, int64_t now,
			   struct sched_claimed **out, size_t *n);
	int (*count_sent)(struct store *s, const char *owner, const struct sched_lease *leases,
			  size_t n, int64_t now, int *held);
	int (*record_results)(struct store *s, const char *owner, const struct sched_result *r,
			      size_t n, const struct sched_service *svcs, size_t n_svcs,
			      int64_t now, int *failed_jobs);
	int (*next_wake)(struct store *s, const char *owner, const struct sched_service *svcs,
			 size_t n_svcs, int64_t now, int64_t *at);
	int (*changed_token)(struct store *s, uint64_t *token);
	int (*wait_fd)(struct store *s); /* NULL: none (store_wait_fd) */
	int (*sync_services)(struct store *s, const struct sched_service *svcs, size_t n_svcs,
			     int64_t now, int *added, int *held);
	int (*jobs_failed)(struct store *s, const char *const *ids, size_t n, size_t *failed);

	int (*webhook_enqueue)(struct store *s, const char *const *urls, size_t n, int batch,
			       int64_t now, int *more);
	int (*webhook_claim)(struct store *s, const char *url, const char *owner, int64_t now,
			     int64_t lease_ms, int limit, struct store_delivery **out, size_t *n);
	int (*webhook_finish)(struct store *s, int64_t outbox_id, const char *url,
			      int delivered, int status, const char *error,
			      int64_t next_attempt_at, int64_t now);
	int (*webhook_release)(struct store *s, const char *owner);
	int (*webhook_lease_owners)(struct store *s, char ***owners, size_t *n);
	int (*webhook_prune)(struct store *s, const char *const *urls, size_t n,
			     int64_t before, int limit, int *more);
	int (*webhook_backlog)(struct store *s, const char *const *urls, size_t n,
			       int64_t *count);

	int (*tombstones_list)(struct store *s, int64_t since, store_tombstone_cb cb,
			       void *ctx);
	int (*reapply)(struct store *s, const struct store_reapply_req *r,
		       struct store_reapply_item **items, size_t *n);

	int (*metrics_read)(struct store *s, int64_t now, const char *const *urls,
			    size_t n_urls, struct store_metrics *out);

	/* data-subject erasure (DESIGN 9); record_results also remembers a
	 * discover step's sched_result.discovered with its child purges */
	int (*schedule_subject)(struct store *s, const struct store_new_job *j, int64_t now,
				char id[JOBS_ID_LEN + 1], int *created);
	int (*subject_tenants)(struct store *s, const char *job_id,
			       struct subject_tenant **out, size_t *n);

	/* ---- copying a store (store_copy) ---- */

	/* *same = 1 when a and b (both of this backend) are one store: the
	 * same file, the same database. STORE_OK or STORE_ERR. */
	int (*same_store)(struct store *a, struct store *b, int *same);
	/* Walks the rows of the n tables, in that order, each by its key, in
	 * one consistent snapshot of them all; a row that only this backend
	 * knows about (a file's own bookkeeping in meta) is left out.
	 * STORE_OK (also when cb stopped it) or STORE_ERR. */
	int (*rows_walk)(struct store *s, const struct store_table *t, int n, store_row_cb cb,
			 void *ctx);
	/* Starts a load: one transaction that keeps every other writer out
	 * until load_end, after checking that the n tables hold no rows (but
	 * this backend's own bookkeeping). STORE_OK; STORE_REFUSED when one
	 * does (store_last_error names it; nothing is begun); STORE_ERR. */
	int (*load_begin)(struct store *s, const struct store_table *t, int n);
	/* Writes one row of t as it is given (ids included). Tables come in
	 * the order of the list, each whole. STORE_OK or STORE_ERR. */
	int (*load_row)(struct store *s, const struct store_table *t,
			const struct store_value *row);
	/* Every row was given: finishes the writes, so that the load's
	 * transaction reads them back (events_walk) and later writes go on
	 * after them (ids assigned by the database, the chain). Not committed
	 * yet. STORE_OK or STORE_ERR. */
	int (*load_done)(struct store *s, const struct store_table *t, int n);
	/* Ends the load: commit (1) or roll back (0). STORE_OK or STORE_ERR
	 * (rolled back, or, for a lost connection during the commit, unknown:
	 * store_last_error says so). */
	int (*load_end)(struct store *s, int commit);
};

/* The backends built in (store/store.c picks one by name). */
extern const struct store_backend store_sqlite_backend;
extern const struct store_backend store_pg_backend; /* "postgresql" */

/*
 * Keeps an error (or a refusal's reason) for store_last_error and
 * store_last_error_kind: kind and the printf-style message (cut at 255
 * bytes). Can't fail.
 */
void store_set_error(struct store *s, enum store_error_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Whether this handle writes outbox rows: a webhook url is configured
 * (store_set_webhooks). Callers skip building a body when it is not. */
int store_outbox_wanted(const struct store *s);

/*
 * The canonical hash of an event: hex sha256 of
 * prev_hash "\n" id "\n" job_id "\n" at "\n" type "\n" service "\n" detail
 * (NULL fields as empty strings). out gets 64 hex chars + NUL.
 */
void store_event_hash(const char *prev_hash, int64_t id, const char *job_id, int64_t at,
		      const char *type, const char *service, const char *detail,
		      char out[STORE_HASH_HEX]);
/* The same hash as its 32 bytes (what a backend stores compactly). */
void store_event_digest(const char *prev_hash, int64_t id, const char *job_id, int64_t at,
			const char *type, const char *service, const char *detail,
			unsigned char md[32]);

/* Frees one delivery's strings and zeroes it (store_deliveries_free frees
 * an array of them). */
void store_delivery_clear(struct store_delivery *d);

/* The prev_hash of the first event: 64 zeros. */
extern const char store_genesis_hash[STORE_HASH_HEX];

#endif
