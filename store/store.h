/*
 * store.h - the only interface to tenantdel's durable state: what the CLI,
 * the API and the engine may ask of the store, as domain operations on
 * plain records (store/types.h, jobs/record.h). Which database keeps them
 * is the backend's business (store/backend.h; today store/sqlite/); no
 * backend's type, setting or error text crosses this header.
 *
 * Return values: int functions return STORE_OK (0), or STORE_ERR (-1) on
 * a database error (already logged; store_last_error says it in words);
 * lookups and transitions may also return STORE_NOT_FOUND or
 * STORE_REFUSED. Pointer functions return NULL on error. Records filled
 * by the store belong to the caller (jobs_job_record_clear,
 * jobs_task_records_free, and the _free of each type below).
 *
 * The operations:
 *   open, close        store_open, store_close, store_last_error(_kind),
 *                      store_check_integrity
 *   jobs               store_schedule(_feed), store_job_get, store_job_tasks,
 *                      store_job_list, store_jobs_progress,
 *                      store_service_errors, store_job_cancel/hold/release/retry,
 *                      store_retire_service, store_absent_services
 *   audit trail        store_events_list, store_events_verify
 *   the engine         sched_maintain, sched_sweep_jobs, sched_claim_tasks,
 *                      sched_count_sent, sched_record_results,
 *                      sched_next_wake, store_changed_token,
 *                      sched_sync_services, sched_job_state, sched_jobs_failed
 *   webhooks           store_set_webhooks, store_webhook_enqueue/claim/
 *                      finish/release/lease_owners/prune/backlog
 *   proof              store_proof_read, store_proof_read_chain,
 *                      store_tombstones_list, store_reapply
 *   metrics            store_metrics_read
 *   moving a store     store_same, store_copy
 */
#ifndef TENANTDEL_STORE_H
#define TENANTDEL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/types.h"

struct store;        /* an open store: opaque */
struct proof_record; /* jobs/certificate.h */
struct proof_chain;
struct proof_head;

/* ---- open, close, errors ---- */

/*
 * Opens the store c names with c->backend ("sqlite"; NULL: "sqlite"),
 * applies pending migrations. A store that does not exist is created
 * (whole, never half) only with STORE_OPEN_CREATE; anything else that is
 * not an intact tenantdel store is refused, even for a writer. SQLite: a
 * directory, an empty file, another program's database, a newer schema, a
 * read-only file, a full disk, a page found damaged, and with
 * STORE_OPEN_CHECK a file up to 64 MiB that fails a quick check of its
 * pages (see store/sqlite/open.c). Returns NULL with one line in err
 * naming the store and the reason ("no store at PATH", "PATH: is a
 * directory", "PATH: disk full", "PATH: read-only", "PATH: not a tenantdel
 * store (...)", "PATH: damaged: run audit verify (...)", "no store backend
 * called NAME").
 */
struct store *store_open(const struct store_config *c, char *err, size_t errlen);
void store_close(struct store *s); /* NULL-safe */

/*
 * The last error of this handle as a phrase an operator can read
 * ("database is locked", "disk full"), or the reason of the last refusal;
 * "" if none. Points into the handle: valid until the next store call.
 */
const char *store_last_error(const struct store *s);

/* What kind of error that was (STORE_E_FILE: the store cannot be used as
 * it is, and a front end reports it as a store it cannot open). Can't fail. */
enum store_error_kind store_last_error_kind(const struct store *s);

/*
 * Checks every page and index of the whole store (seconds on a large
 * store). STORE_OK with *intact 1, or 0 and why = its first finding;
 * STORE_ERR when the check itself cannot run.
 */
int store_check_integrity(struct store *s, int *intact, char *why, size_t whylen);

/* ---- jobs ---- */

/*
 * Schedules n jobs in one transaction, all or nothing, durable before
 * returning. For a tenant that already has an active purge job that job's
 * id is returned and created[i] = 0; otherwise a job and a suspend task
 * per service with has_suspend is created, with a job.scheduled event and
 * webhook outbox row, created[i] = 1. The job's delete tasks (one per
 * service; phase > lowest: not eligible yet) are created when it starts,
 * from the snapshot of svcs stored now; until then store_job_tasks shows
 * them as they will be. ids[i] receives the job id. Duplicate tenants
 * inside one batch map to the same job.
 */
int store_schedule(struct store *s, const struct store_new_job *jobs, size_t n,
		   const struct store_service *svcs, size_t n_svcs, int64_t now,
		   char (*ids)[JOBS_ID_LEN + 1], int *created);

/*
 * The jobs of a bulk schedule, chunk by chunk (store_schedule_feed), so
 * that memory stays bounded whatever their number. Each callback returns
 * 0, or -1 to abandon the schedule (nothing is scheduled; the caller knows
 * why).
 *   next    the next chunk into *jobs, *n (0: no more); the chunk stays
 *           valid until the next call
 *   stored  what each job of the chunk just written (inside the open
 *           transaction: not durable yet) became: ids[i], created[i]
 *   rewind  back to the first chunk, forgetting what stored was told: the
 *           store runs the transaction again (a PostgreSQL conflict);
 *           -1 when the jobs cannot be produced again
 */
struct store_job_feed {
	int (*next)(void *ctx, const struct store_new_job **jobs, size_t *n);
	int (*stored)(void *ctx, size_t n, char (*ids)[JOBS_ID_LEN + 1], const int *created);
	int (*rewind)(void *ctx);
	void *ctx;
};

/*
 * store_schedule for the jobs of feed, every chunk in one transaction, all
 * or nothing, durable before returning (the rules of store_schedule hold
 * across chunks: a tenant twice in the feed maps to one job). STORE_OK, or
 * STORE_ERR when the store failed or a callback abandoned it.
 */
int store_schedule_feed(struct store *s, const struct store_job_feed *feed,
			const struct store_service *svcs, size_t n_svcs, int64_t now);

/*
 * Data-subject erasure (DESIGN 9): creates a job of kind user for the user
 * id j->tenant_id (already validated), due and deadline as in j, with its
 * three step tasks (jobs/subject.h), and its job.scheduled event, in one
 * transaction; or, when the user has an active subject job, returns that
 * one (*created 0). id receives the job id. STORE_OK or STORE_ERR.
 */
int store_schedule_subject(struct store *s, const struct store_new_job *j, int64_t now,
			   char id[JOBS_ID_LEN + 1], int *created);

/* What a subject job's discovery found and decided, by tenant id (none
 * before it ran). *out is the caller's (free()). STORE_OK or STORE_ERR. */
int store_subject_tenants(struct store *s, const char *job_id, struct subject_tenant **out,
			  size_t *n);

/* Reads one job. STORE_OK, STORE_NOT_FOUND or STORE_ERR. */
int store_job_get(struct store *s, const char *job_id, struct job_record *out);

/* The job's tasks ordered by kind, phase, service (delete tasks of a job
 * not started yet: synthesized, id 0). A pending or waiting task of a
 * service the last config sync did not have shows last_error "service not
 * in config" (one retired shows skipped). *out is the caller's. */
int store_job_tasks(struct store *s, const char *job_id, struct task_record **out,
		    size_t *n);

/* Jobs matching f, newest first (or soonest due first with due_before,
 * the earliest deadline first with overdue and late_first). */
int store_job_list(struct store *s, const struct store_list_filter *f, store_job_cb cb,
		   void *ctx);

/*
 * The tasks of each of the n jobs out[i].job_id by state, read in one
 * grouped query (per 200 jobs): fills out[i].tasks (zeros for a job that
 * is not there). A job not started yet counts the delete tasks
 * store_job_tasks synthesizes for it.
 */
int store_jobs_progress(struct store *s, struct store_job_progress *out, size_t n);

/*
 * Per service, the newest last_error among its unfinished tasks (pending,
 * waiting, in flight) and the tasks that went dead at or after since, in
 * one query; services in name order, none for a service without such an
 * error. *out is the caller's: store_service_errors_free.
 */
int store_service_errors(struct store *s, int64_t since, struct store_service_error **out,
			 size_t *n);
void store_service_errors_free(struct store_service_error *v, size_t n); /* NULL-safe */

/*
 * Operator actions, each in its own transaction: reads the job, asks
 * jobs_action_check (jobs/jobs.h) whether the action is allowed, writes the
 * change only where the job is still in the state it read, appends the
 * event(s) and outbox row, and fills *out (may be NULL) with the job after
 * the change, or as it is when the answer is STORE_REFUSED (the rules'
 * reason, or "the job moved meanwhile", in store_last_error).
 *  cancel:  scheduled -> cancelled; unfinished suspend tasks are skipped and
 *           a restore task is created for each service in svcs with
 *           has_restore whose suspend was attempted.
 *  hold:    scheduled, running or failed -> held (reason required).
 *  release: held -> the state it was held from.
 *  retry:   dead tasks (of one service, or all when service is NULL) back to
 *           waiting with attempts reset, due now; a failed job -> running.
 *           REFUSED when there is no dead task to retry.
 *  approve: four eyes (jobs_approval_check): a job whose approval is
 *           pending becomes approved by `by` at now (its state unchanged),
 *           with a job.approved event; REFUSED when it is not pending or by
 *           is its requester.
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
int store_job_approve(struct store *s, const char *job_id, const char *by, int64_t now,
		      struct job_record *out);

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

/*
 * The services that unfinished tasks or the snapshots of jobs not started
 * yet name, that are not among svcs (the enabled services of a config:
 * config_enabled_services) and not retired, in name order. *out
 * (store_absent_free) and *n receive them. STORE_OK or STORE_ERR.
 */
int store_absent_services(struct store *s, const struct store_service *svcs, size_t n_svcs,
			  struct store_absent **out, size_t *n);
void store_absent_free(struct store_absent *v, size_t n); /* NULL-safe */

/* ---- the audit trail: one hash chain of append-only events ---- */

/* The job's events in order, each with chain_ok checked. */
int store_events_list(struct store *s, const char *job_id, store_event_cb cb, void *ctx);

/*
 * Walks the whole event chain. Returns STORE_OK with *first_bad = 0 when it
 * verifies, or with *first_bad = the id of the first event whose hash or link
 * is wrong (why, may be NULL, says which). head receives the last event's
 * hash ("" when there are no events), *count the number of events.
 */
int store_events_verify(struct store *s, int64_t *first_bad, char *why, size_t whylen,
			int64_t *count, char head[65]);

/*
 * ---- the engine ----
 *
 * The hot path is batch-shaped: sched_maintain (reclaim dead leases, start
 * due jobs, mark missed deadlines), sched_claim_tasks (one transaction:
 * due tasks across services -> in flight under this owner's lease) and
 * sched_record_results (one transaction for a whole batch of finished
 * attempts). sched_next_wake tells the loop when to come back,
 * store_changed_token whether another process wrote meanwhile. Job-level
 * changes (job.started, job.succeeded, job.failed, job.deadline_missed)
 * and breaker.opened/closed are logged once their transaction committed.
 */

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
 * At most a batch of jobs is started per call, the store's (128, short:
 * the loop waits for it) or want_jobs when larger (the jobs the caller has
 * free slots for), and a batch of deadlines marked: m->more says to call
 * again at once. *m is filled (zeros on error).
 */
int sched_maintain(struct store *s, const char *owner, sched_owner_fn judge, void *ctx,
		   int reclaim_self, const struct policy_retry *retry, int want_jobs,
		   int64_t now, struct sched_maint *m);

/*
 * Evaluates every running job (next phase due, finished, failed): the sweep
 * a process does at start, after a config reload, and now and then, for
 * jobs changed behind its back (a release of a job with a dead task).
 */
int sched_sweep_jobs(struct store *s, int64_t now);

/*
 * In one transaction, claims up to max tasks that are due (pending/waiting,
 * next_attempt_at <= now) of dispatchable jobs (delete: job running;
 * suspend: scheduled or running; restore: cancelled; never held),
 * respecting each service's max_in_flight (counted over every process)
 * and its breaker (open: none; half-open: one probe). Each becomes
 * in_flight with lease_owner = owner, lease_expires_at = now + the
 * service's lease_ms, first_attempt_at set if unset. A claim whose call
 * goes first (no preview before it) counts it (attempts + 1, counted set):
 * the caller sends it in the same loop turn; the others are counted by
 * sched_count_sent when their call goes out. Tasks of services not in
 * svcs are left alone. Services are served in turn from svcs[first %
 * n_svcs] (the caller moves first on, so that none is always last when max
 * is smaller than their slots). *out (sched_claimed_free) and *n receive
 * the claims, oldest due first.
 */
int sched_claim_tasks(struct store *s, const char *owner, const struct sched_service *svcs,
		      size_t n_svcs, size_t first, int max, int64_t now,
		      struct sched_claimed **out, size_t *n);
void sched_claimed_free(struct sched_claimed *c, size_t n); /* NULL-safe */

/*
 * `attempts` counts the calls actually sent (DESIGN 3): in one transaction,
 * adds 1 to each task's attempts while this owner still holds that lease
 * (leases[i]: task and expiry), just before its call is handed to curl (a
 * call made after a preview). held[i] (n entries, the caller's) is 1 when
 * leases[i] was counted, 0 when the lease was lost meanwhile (reclaimed,
 * even if claimed again since): that call must not go out. A process
 * killed between this commit and the send leaves one attempt counted that
 * the service never saw (the window is the time curl takes to write the
 * request); never the reverse.
 */
int sched_count_sent(struct store *s, const char *owner, const struct sched_lease *leases,
		     size_t n, int64_t now, int *held);

/*
 * Records a batch of finished attempts in one transaction (group commit):
 * each task row (only while still in flight under owner and the very lease
 * of its claim, lease_until: a lease lost meanwhile, even to this owner's
 * own later claim, keeps the newer state; the attempt is still an event,
 * its state "lease_lost"; with verify_owed, retry_streak and free_waits
 * for its next attempt), its task.attempt (and task.preview /
 * task.verify) events, the metrics counters, the service's breaker, then
 * for each job touched: a dead delete task fails a running job
 * (job.failed); all delete tasks succeeded or skipped finish it
 * (job.succeeded + tombstone for a purge); else the next phase is opened
 * once every lower phase is done. *failed_jobs (may be NULL) receives how
 * many jobs this batch failed.
 */
int sched_record_results(struct store *s, const char *owner, const struct sched_result *r,
			 size_t n, const struct sched_service *svcs, size_t n_svcs,
			 int64_t now, int *failed_jobs);

/* The detail of r's task.attempt event (JSON object text, caller frees):
 * kept 1 when the record keeps the task (its state), 0 when the lease was
 * lost meanwhile ("lease_lost"). Pure: the engine makes it for r->detail
 * before the batch goes to the store. */
char *store_attempt_detail(const struct sched_result *r, int kept);

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
 * A "something changed" token, cheap enough to poll every second: two
 * equal tokens read through one handle mean nothing that other handles
 * (other processes) commit became visible in between; a different token
 * means something may have. Writes made through this same handle need not
 * change it (their writer knows of them). Only equality means anything.
 * STORE_OK with *token set, or STORE_ERR.
 */
int store_changed_token(struct store *s, uint64_t *token);

/*
 * A descriptor that becomes readable when another process may have made
 * work due (PostgreSQL: the connection's socket, LISTEN/NOTIFY), for the
 * loop to watch; then store_changed_token tells. -1 when the backend has
 * none (SQLite: poll the token). It may change after a reconnection: ask
 * again after each store_changed_token. Can't fail otherwise.
 */
int store_wait_fd(struct store *s);

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

/* The state of one job. STORE_OK, STORE_NOT_FOUND or STORE_ERR. */
int sched_job_state(struct store *s, const char *job_id, enum job_state *state);

/* How many of the jobs ids[0..n) are failed now (an id not in the store
 * counts for nothing), for run --once's exit status: a statement for many
 * ids, not a read of each job. STORE_OK or STORE_ERR. */
int sched_jobs_failed(struct store *s, const char *const *ids, size_t n, size_t *failed);

/*
 * ---- webhooks ----
 *
 * The outbox rows (written with each job state change while a webhook url
 * is configured) fanned out to every configured receiver URL, claimed
 * under a lease, marked delivered on a 2xx, and pruned 7 days after
 * delivery. Each URL has a place (the last outbox row fanned out to it),
 * set to the newest row when a process with the url in its config first
 * writes or dispatches: a receiver added later receives what happens from
 * then on, not the history. At-least-once: a crash between the POST and
 * its record sends it again. A url taken out of the config is sent
 * nothing more and no longer counts in the backlog; its undelivered rows
 * and its place are kept while they are less than 7 days old, so a url
 * put back soon resumes where it stopped.
 */

/*
 * The config's webhook urls, for this handle's writes from now on (copied;
 * n == 0: none): outbox rows are written only while there is one, and the
 * first write gives each url its place. Call after store_open and after a
 * config reload. Can't fail.
 */
void store_set_webhooks(struct store *s, const char *const *urls, size_t n);

/*
 * Fans new outbox rows out to each url (at most `batch` rows per url per
 * call, oldest first): one delivery row each, due now. A url without a
 * place gets the newest row as its place (no history). Does nothing (and
 * no write transaction) when every place is at the newest outbox row.
 * *more is set to 1 when a url still has rows left to fan out.
 */
int store_webhook_enqueue(struct store *s, const char *const *urls, size_t n, int batch,
			  int64_t now, int *more);

/*
 * Claims up to limit due deliveries of url (undelivered, next_attempt_at
 * <= now, no live lease), oldest due first: each gets lease owner and
 * expiry now + lease_ms and its attempts counted, in one transaction; a
 * row whose lease another process took in between is left out. *out
 * (store_deliveries_free) and *n receive them (possibly *n == 0).
 */
int store_webhook_claim(struct store *s, const char *url, const char *owner, int64_t now,
			int64_t lease_ms, int limit, struct store_delivery **out, size_t *n);
void store_deliveries_free(struct store_delivery *d, size_t n); /* NULL-safe */

/*
 * Records the end of one POST: delivered (a 2xx) sets delivered_at; else
 * next_attempt_at is set for the retry. status is the HTTP status (0
 * none), error a one-line reason or NULL. The lease is released either way.
 */
int store_webhook_finish(struct store *s, int64_t outbox_id, const char *url, int delivered,
			 int status, const char *error, int64_t next_attempt_at, int64_t now);

/* Releases every lease of owner on undelivered rows (due at once), for a
 * clean shutdown. */
int store_webhook_release(struct store *s, const char *owner);

/*
 * The distinct lease owners of undelivered rows, for taking over the leases
 * of a dead process. *owners (each string and the array malloc'ed, the
 * caller frees) and *n.
 */
int store_webhook_lease_owners(struct store *s, char ***owners, size_t *n);

/*
 * Deletes up to limit outbox rows (with their delivery rows) that every
 * one of urls (the configured ones) has had delivered before `before` or
 * never owed, written before `before` too, oldest first (delivery rows of
 * urls not in urls go with them); then forgets the place of each url not
 * in urls whose first missed row, if any, was written before `before`.
 * The newest outbox row is always kept: ids are never reused, so places
 * stay valid. *more is set to 1 when a full batch was deleted. One write
 * transaction.
 */
int store_webhook_prune(struct store *s, const char *const *urls, size_t n, int64_t before,
			int limit, int *more);

/* Deliveries to urls not yet acknowledged: undelivered rows plus outbox
 * rows not yet fanned out. */
int store_webhook_backlog(struct store *s, const char *const *urls, size_t n,
			  int64_t *count);

/*
 * ---- proof of erasure (DESIGN 7) ----
 *
 * The facts a deletion certificate states; the document and its signature
 * are built in jobs/certificate.h and jobs/signature.h.
 */

/*
 * Reads what a certificate of job_id states: the job, all its tasks (the
 * counts as the stored JSON text) and a summary of its own events (count,
 * first and last id, last hash, whether each one's hash checks), and for
 * a subject job its discovered tenants with each child purge's state,
 * records and own events (the same summary). out->chain
 * is left zero: store_proof_read_chain reads it, once the caller knows a
 * certificate is issued (it walks every event of the store). Returns
 * STORE_OK with *out filled (jobs_proof_record_clear), or STORE_NOT_FOUND
 * for an unknown job, or STORE_ERR; *out is zero on error.
 */
int store_proof_read(struct store *s, const char *job_id, struct proof_record *out);

/* Walks the whole event chain (store_events_verify): out gets the number
 * of events, the head hash and id (the id 0 when the chain does not
 * verify) and the id of the first event that does not verify (0: the
 * chain verifies). STORE_OK or STORE_ERR. */
int store_proof_read_chain(struct store *s, struct proof_chain *out);

/*
 * For each of the n chain heads certificates named (struct proof_head:
 * id and hash), whether the chain still holds it: state PROOF_HEAD_FOUND,
 * _CHANGED (that event now has another hash) or _MISSING (no such event:
 * the chain was cut short). One walk of the chain; heads keep their
 * order. STORE_OK or STORE_ERR.
 */
int store_proof_find_heads(struct store *s, struct proof_head *heads, size_t n);

/* Tombstones with purged_at >= since, oldest first. */
int store_tombstones_list(struct store *s, int64_t since, store_tombstone_cb cb, void *ctx);

/*
 * In one transaction, for every tenant with a tombstone purged_at >= since
 * (its latest purge; every purged tenant, whether or not the service took
 * part in that purge: the tenant was erased, so deleting its rows anywhere
 * is right), creates a job of kind 'reapply' (origin_job_id = the purge job,
 * same tenant) in state 'scheduled', due now, with one 'delete' task for
 * the service eligible now, and a job.scheduled event whose detail is
 * jobs_reapply_detail's. The scheduler then runs it like any due job. A
 * tenant that already has an unfinished reapply job for this service gets
 * no second one (its id is returned with created = 0). Returns STORE_OK
 * with *items (store_reapply_items_free) and *n, or STORE_ERR with nothing
 * created.
 */
int store_reapply(struct store *s, const struct store_reapply_req *r,
		  struct store_reapply_item **items, size_t *n);
void store_reapply_items_free(struct store_reapply_item *items, size_t n); /* NULL-safe */

/* ---- metrics: the counts behind `tenantdel metrics` and GET /metrics ---- */

/*
 * Reads the counts at now (epoch ms) into *out: jobs by state, gauges
 * read from the tables, and the monotonic counters (jobs/counts.h) that
 * sched_record_results adds to; the webhook backlog is that of urls (the
 * configured receivers). STORE_OK, or STORE_ERR with *out empty. Release
 * with store_metrics_clear.
 */
int store_metrics_read(struct store *s, int64_t now, const char *const *urls, size_t n_urls,
		       struct store_metrics *out);
void store_metrics_clear(struct store_metrics *m); /* leaves it empty */

/* ---- moving a store to another one (migrate-store, DESIGN 8) ---- */

/*
 * 1 when a and b are one store (the same file, the same database), 0 when
 * not (stores of two backends never are), -1 when it cannot be told
 * (store_last_error(a)).
 */
int store_same(struct store *a, struct store *b);

/* What store_copy reports of its progress: how far it is in table (done
 * of total rows). Non-zero stops the copy (rolled back). */
typedef int (*store_progress_cb)(void *ctx, const char *table, int64_t done, int64_t total);

/* What store_copy copied: rows in all, events, and the chain's head. */
struct store_copy_result {
	int64_t rows, jobs, tasks, events;
	char head[65]; /* the last event's hash ("" when there is none) */
};

/*
 * Copies every row of from's portable tables (store/copy.c lists them:
 * jobs, tasks, events with their ids and hashes, the outbox and its
 * deliveries, tombstones, breakers, counters, service sets, retired
 * services, meta) into to, which must be another, empty store of any
 * backend, in one transaction of to: the copy is whole or absent. Before
 * committing it walks the chain as to holds it (store_events_verify) and
 * checks it against what was read. progress (may be NULL) is called every
 * few thousand rows and at the end of each table. from is read in one
 * snapshot; what is written to it meanwhile is not copied (stop the
 * schedulers first).
 *
 * Returns STORE_OK with *out filled; STORE_REFUSED when to is not empty or
 * is from itself (store_last_error(to) says which; nothing written);
 * STORE_ERR when reading, writing or the chain's check failed, with
 * nothing committed (store_last_error of the store at fault; errwhich
 * receives it: 0 from, 1 to). A connection lost during the commit itself
 * leaves it unknown whether the copy is stored (store_last_error says so):
 * running the copy again tells (refused: it is).
 */
int store_copy(struct store *from, struct store *to, store_progress_cb progress, void *ctx,
	       struct store_copy_result *out, int *errwhich);

#endif
