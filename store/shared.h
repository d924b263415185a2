/*
 * shared.h - the store's rules that do not depend on a database, written
 * once above the backends (store/tasks.c, store/actions.c, ...): each
 * takes what a backend reads as plain records, or a small table of the
 * backend's row primitives, the way store/events.c checks the chain over
 * the rows a backend walks. For the backends and the shared files of
 * store/ only: callers include store.h, never this.
 */
#ifndef TENANTDEL_STORE_SHARED_H
#define TENANTDEL_STORE_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/counts.h"
#include "jobs/evaluate.h"
#include "jobs/policy.h"
#include "store/backend.h"

/* The last error of a task whose service the config lacks: it waits. */
#define STORE_ABSENT_ERROR "service not in config"

/* A service set read back: its members by phase, then name. */
struct store_set {
	struct store_set_member {
		char *name;
		int phase;
	} *v;
	size_t n, cap;
};

/* Frees the members' names and the array, and zeroes the set (it can be
 * filled again). Accepts an empty set. Can't fail. */
void store_set_free(struct store_set *set);

/* 1 when the set has a member called name (NULL: ""), else 0. */
int store_set_has(const struct store_set *set, const char *name);

/* The job ids a transaction touched, each once. */
struct store_idset {
	char (*ids)[JOBS_ID_LEN + 1];
	size_t n, cap;
};

/* Adds id unless the set has it (O(n): small sets). Can't fail. */
void store_idset_add(struct store_idset *set, const char *id);
/* Appends id without the duplicate check. Can't fail. */
void store_idset_push(struct store_idset *set, const char *id);
/* Frees the ids and zeroes the set (it can be filled again). */
void store_idset_free(struct store_idset *set);

/* 1 when name is one of a subject job's steps: no config service ([subject]
 * names their URLs), so never absent from the config. */
int store_is_step(const char *name);

/* Logs service.absent for each of the n services whose unfinished tasks
 * wait because the config lacks them, and adds their tasks to *held. */
void store_log_absent(const struct store_absent *v, size_t n, int *held);

/* 1 when a task of service name has its service in svcs (n of them), or is
 * a subject job's step. */
int store_is_configured(const struct store_service *svcs, size_t n, const char *name);

/* A job not started yet: its state, times and snapshot (service set). */
struct store_job_set {
	enum job_state state;
	int64_t due_at, created_at;
	int64_t set_id;
};

/* What store_read_job_tasks reads through a backend. */
struct store_task_ops {
	/* The job's stored task rows: suspend first, then delete by phase,
	 * then restore. Caller frees. STORE_OK or STORE_ERR. */
	int (*read_tasks)(struct store *s, const char *job_id, struct task_record **out,
			  size_t *n);
	/* The job's snapshot and state: STORE_OK, STORE_NOT_FOUND (no
	 * snapshot: its tasks exist) or STORE_ERR. */
	int (*job_set)(struct store *s, const char *job_id, struct store_job_set *j);
	/* Appends the members of set id to *out (by phase, then name). 0 or -1. */
	int (*set_members)(struct store *s, int64_t id, struct store_set *out);
	/* The id of the configured set the last config sync recorded (*id 0:
	 * none yet). 0 or -1. */
	int (*configured_id)(struct store *s, int64_t *id);
	/* Whether service was retired (*found 1) and why (*reason, may be
	 * NULL, malloc'ed). 0 or -1. */
	int (*retired_reason)(struct store *s, const char *service, char **reason,
			      int64_t *found);
};

/*
 * The job's tasks (store_job_tasks): suspend first, then delete by phase,
 * then restore. A job not started yet has no delete task rows: they are
 * synthesized from its snapshot (id 0; pending, the lowest phase due at
 * due_at; skipped when the job was cancelled) and put after the suspends.
 * A waiting task of a service the config lacks carries
 * STORE_ABSENT_ERROR (a retired one of a job not started is shown
 * skipped). Caller frees *out. STORE_OK or STORE_ERR.
 */
int store_read_job_tasks(struct store *s, const struct store_task_ops *ops, const char *job_id,
			 struct task_record **out, size_t *n);

/* What the rules said yes to: the request as checked and the job's next
 * state (store_action_apply passes it to the backend's write). */
struct store_checked {
	struct job_action_ask ask;   /* retry: dead_tasks counts a subject job's
				      * children's too */
	enum job_state to;
	int64_t own_dead;            /* retry: the job's own dead tasks */
};

/* The write of one action (struct store_act_ops). */
typedef int (*store_act_write_fn)(struct store *s, const struct job_record *cur,
				  const struct store_checked *c, const struct store_action *a,
				  struct job_record *out);

/* What store_action_apply and store_action_cascade do through a backend,
 * inside its transaction. */
struct store_act_ops {
	/* The dead tasks a retry would take back (service NULL: every
	 * service's): job_id's own, or (children 1) its children's. 0 or -1. */
	int (*count_dead)(struct store *s, const char *job_id, const char *service,
			  int children, int64_t *n);
	/* The unfinished subject job that waits for purge job_id into parent:
	 * 1, 0 none, -1. */
	int (*waiting_parent)(struct store *s, const char *job_id,
			      char parent[JOBS_ID_LEN + 1]);
	/* Each action's write of the change the rules allowed (c) to the job
	 * read as cur, where it is still so, with its events and outbox row;
	 * *out the job after. STORE_OK, STORE_REFUSED (moved meanwhile) or
	 * STORE_ERR. */
	store_act_write_fn cancel, hold, release, retry, approve;
	/* Pushes the unfinished children of parent into set, in id order. 0 or -1. */
	int (*children)(struct store *s, const char *parent, struct store_idset *set);
	/* Reads a child to act on it (locked where the backend locks rows):
	 * STORE_OK, STORE_NOT_FOUND or STORE_ERR. */
	int (*child_by_id)(struct store *s, const char *job_id, struct job_record *out);
};

/* The check of a guarded write of the job read as cur that changed n rows
 * (-1: it failed) where want were expected: STORE_OK; STORE_REFUSED when
 * the job moved meanwhile (logged, and "the job moved meanwhile" in
 * store_last_error); STORE_ERR. */
int store_moved(struct store *s, const struct job_record *cur, int n, int want);

/*
 * Asks the rules about a on cur (approve: jobs_approval_check, the state
 * stays; else jobs_action_check, with the dead tasks a retry takes back
 * and whether a subject job waits for a purge being cancelled), then has
 * the backend write it. STORE_OK; STORE_REFUSED with the reason in
 * store_last_error (or the job moved meanwhile); STORE_ERR.
 */
int store_action_apply(struct store *s, const struct store_act_ops *ops,
		       const struct job_record *cur, const struct store_action *a,
		       struct job_record *out);

/*
 * A subject job's action reaches its unfinished children (DESIGN 9): each
 * that the rules allow it on gets it too (one refused, such as a hold of a
 * child already held, is left as it is); an approval does not cascade.
 * STORE_OK or STORE_ERR.
 */
int store_action_cascade(struct store *s, const struct store_act_ops *ops,
			 const struct job_record *parent, const struct store_action *a);

/* What store_add_stale_tasks reads and writes through a backend, inside
 * the caller's transaction. */
struct store_stale_ops {
	/* As struct store_task_ops. */
	int (*set_members)(struct store *s, int64_t id, struct store_set *out);
	int (*retired_reason)(struct store *s, const char *service, char **reason,
			      int64_t *found);
	/* Inserts one delete task of job_id: pending, or (skipped) skipped
	 * for reason (may be NULL). 0 or -1. */
	int (*insert_task)(struct store *s, const char *job_id, const char *service, int phase,
			   int skipped, const char *reason, int64_t now);
	/* Appends an event (detail: a JSON text) to the chain. 0 or -1. */
	int (*event_append)(struct store *s, const char *job_id, int64_t at, const char *type,
			    const char *service, const char *detail);
};

/*
 * The delete tasks of job_id, starting with a snapshot (set set_id) that
 * is not the configured set (conf_id): one per snapshot service (pending,
 * and waiting for it like any other when the config lacks it; skipped
 * with a task.skipped event when it was retired), then one with a
 * task.added event per configured service the snapshot lacks. 0 or -1.
 */
int store_add_stale_tasks(struct store *s, const struct store_stale_ops *ops,
			  const char *job_id, int64_t set_id, int64_t conf_id, int64_t now);

/* One structured log line about a job (job_id, tenant_id), held with the
 * transaction's lines until it ends. level is an enum log_level. */
void store_log_job(int level, const char *event, const char *job_id, const char *tenant_id);

/* A job's evaluation view as a backend reads it. */
struct store_job_view {
	struct jobs_eval_view eval;
	int purge;
	int has_children;             /* a subject job with discovered tenants */
	char tenant[JOBS_TENANT_ID_MAX + 1];
	char parent[JOBS_ID_LEN + 1]; /* "" none */
};

/* What store_eval_job reads and writes through a backend, inside the
 * caller's transaction. */
struct store_eval_ops {
	/* The job and its delete tasks' summary, and for a subject job with
	 * discovered tenants its children's (the job's row locked first
	 * where the backend locks rows): 0, 1 (no job) or -1. */
	int (*read_view)(struct store *s, const char *job_id, struct store_job_view *v);
	/* Moves the job from -> to, finished_at fin (0: none), only where it
	 * is still in from: the rows changed (0 or 1), or -1. */
	int (*set_state)(struct store *s, const char *job_id, enum job_state from,
			 enum job_state to, int64_t fin);
	/* The job's state changed: its event (type, detail) and its outbox
	 * row. 0 or -1. */
	int (*job_changed)(struct store *s, const char *job_id, const char *type,
			   const char *detail, int64_t now);
	/* The succeeded purge's tombstone. 0 or -1. */
	int (*tombstone)(struct store *s, const char *job_id, int64_t now);
	/* The pending delete tasks of phase become due now, the job still
	 * running (a backend with other hosts tells them): how many, or -1. */
	int (*open_phase)(struct store *s, const char *job_id, int64_t phase, int64_t now);
};

/*
 * Brings job_id up to date with its delete tasks: jobs_evaluate on the
 * view, its answer written (a phase opened; resumed, failed or succeeded
 * with its event, a purge's tombstone), a resumed job evaluated again,
 * and the subject job of a child that finished or failed evaluated in
 * turn. A job that is gone or moved meanwhile is left as it is. *failed
 * (may be NULL) is incremented per job that failed. 0 or -1.
 */
int store_eval_job(struct store *s, const struct store_eval_ops *ops, const char *job_id,
		   int64_t now, int *failed);

/* store_eval_job for every id of the set, in its order. 0 or -1. */
int store_eval_jobs(struct store *s, const struct store_eval_ops *ops,
		    const struct store_idset *set, int64_t now, int *failed);

/* The service called name among svcs (n of them), or NULL. */
const struct sched_service *store_find_service(const struct sched_service *svcs, size_t n,
					       const char *name);

/* Logs breaker.opened or breaker.closed when b (of service) moved there
 * from before; held with the transaction's lines. */
void store_log_breaker(const char *service, enum breaker_state before,
		       const struct policy_breaker *b);

/* A backend's breaker rows, for store_breakers_apply. */
struct store_breaker_ops {
	/* b (and *probe_owner, caller-freed, may be NULL) of service: a
	 * closed breaker when it has no row. 0 or -1. */
	int (*load)(struct store *s, const char *service, struct policy_breaker *b,
		    char **probe_owner);
	int (*save)(struct store *s, const char *service, const struct policy_breaker *b,
		    const char *probe_owner, int64_t now); /* 0 or -1 */
	/* Takes the lock under which service's breaker changes (NULL: the
	 * transaction is the lock already). 0 or -1. */
	int (*lock)(struct store *s, const char *service);
};

/*
 * The verdicts of a batch of n results on their services' breakers (those
 * of svcs; POLICY_BREAKER_SKIP ones aside), one service at a time in name
 * order: its breaker read once, every verdict on it applied in the batch's
 * order, written once if it changed (read again under ops->lock first,
 * when there is one), breaker.opened/closed logged. A success on a closed
 * breaker, the common case, reads one row a service and writes nothing.
 * 0 or -1.
 */
int store_breakers_apply(struct store *s, const struct store_breaker_ops *ops,
			 const struct sched_result *r, size_t n, const struct sched_service *svcs,
			 size_t n_svcs, int64_t now);

/* What store_record_attempt writes through a backend, inside the caller's
 * transaction. */
struct store_record_ops {
	/* The task row of r where owner still holds its lease (*kept 1), with
	 * its cumulative counts. 0 or -1. */
	int (*write_task)(struct store *s, const char *owner, const struct sched_result *r,
			  int64_t now, int *kept);
	/* Appends an event (detail: a JSON text) to the chain. 0 or -1. */
	int (*event_append)(struct store *s, const char *job_id, int64_t at, const char *type,
			    const char *service, const char *detail);
	/* A discover step's tenants and their child purges. 0 or -1. */
	int (*subject_discovered)(struct store *s, const struct sched_result *r, int64_t now);
};

/*
 * Remembers one finished attempt r of owner: the task row (*kept 0 when
 * the lease was lost meanwhile: logged, the row left as it is), its
 * task.preview and task.verify events, a kept discovery's children, its
 * task.attempt event, and the attempt in counts. The breaker and the job
 * are the caller's. 0 or -1.
 */
int store_record_attempt(struct store *s, const struct store_record_ops *ops, const char *owner,
			 const struct sched_result *r, int64_t now, struct jobs_counts *counts,
			 int *kept);

/* The record of purge job id just written from nj at now: scheduled,
 * approval pending when nj asks for it. Its strings point into nj (not to
 * be cleared). Can't fail. */
void store_scheduled_record(const struct store_new_job *nj, const char *id, int64_t now,
			    struct job_record *j);

/*
 * The job.scheduled detail of reapply job id (jobs_reapply_detail), from
 * what is written: the row of r's new job that repeats purge origin of
 * tenant_id (tenant_name may be NULL) purged at purged_at. Caller frees.
 */
char *store_reapply_detail(const struct store_reapply_req *r, const char *id,
			   const char *origin, const char *tenant_id, const char *tenant_name,
			   int64_t purged_at);

/* What a maintenance pass knows of lease owners (judge() asked once per
 * owner). Fill me, judge (may be NULL: every other owner unknown), jctx
 * and self (reclaim_self: me counts as dead); v grows as owners are met. */
struct store_owners {
	const char *me;
	sched_owner_fn judge;
	void *jctx;
	int self;
	struct store_owner_verdict {
		char *owner;
		enum sched_owner state;
	} *v;
	size_t n, cap;
};

/* What is known of owner's process (NULL: dead). Can't fail. */
enum sched_owner store_owner_state(struct store_owners *o, const char *owner);

/* Frees what o learnt (not me, judge or jctx). Can't fail. */
void store_owners_free(struct store_owners *o);

/* 1 when a lease held by an owner in state who (expired: its time has
 * passed) may be taken over; an owner alive on this host keeps its lease
 * whatever the clock says. */
int store_lease_takeable(enum sched_owner who, int expired);

/* Why a lease is taken over: "lease owner died" or "lease expired". */
const char *store_lease_why(enum sched_owner who);

/*
 * What becomes of a task whose lease is taken over: dead (returns 1) when
 * the calls it counted (less its free waits) reached retry's limit, so a
 * task whose every call kills its process cannot be retried for ever (a
 * claim killed before its call went out counted none; a task owing only
 * its verification counts none: the call is not repeated); else 0, it
 * waits. retry NULL: never dead. *err (caller frees) the task's error:
 * why, and for a dead one how many attempts were made.
 */
int store_reclaim_verdict(const struct policy_retry *retry, int attempts, int free_waits,
			  int verify_owed, int64_t first_attempt_at, const char *why,
			  int64_t now, char **err);

/* Logs task.lease.reclaimed (held with the transaction's lines). */
void store_log_reclaimed(const char *job_id, const char *service, int attempts, int dead,
			 const char *err);

#endif
