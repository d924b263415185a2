/*
 * engine_int.h - shared by the engine's files: engine.c (the cycle),
 * engine_watch.c (its watchers), attempt.c, engine_once.c, discover.c.
 */
#ifndef TENANTDEL_ENGINE_INT_H
#define TENANTDEL_ENGINE_INT_H

#include "scheduler/engine.h"
#include "scheduler/lease.h"
#include "scheduler/recorder.h"
#include "store/store.h"
#include "jobs/subject.h"

#define ENGINE_MAX_HOOKS 8
#define ENGINE_POLL_S 1.0 /* other processes' writes seen within this */

struct attempt;

/* A task claimed ahead of a free slot (the ready reserve): it starts when
 * one frees, without waiting for the store. */
struct ready_claim {
	struct sched_claimed c;
	int64_t at;                /* clock_mono_ms() of the claim */
};

struct engine {
	struct ev_loop *loop;
	struct config *cfg;
	struct store *store;
	struct http_client *http;
	struct lease_owner owner;
	struct engine_opts opts;
	struct engine_hooks hooks[ENGINE_MAX_HOOKS];
	size_t n_hooks;

	struct sched_service *svcs; /* from cfg; names point into it */
	size_t n_svcs;
	int first_phase_tasks;       /* a job's tasks in its first phase, by the
				      * config (enabled services of the lowest phase) */
	size_t n_conf_svcs;         /* of them, the configured services (the
				     * rest: a subject job's steps) */
	size_t claim_first;         /* the service the next claim serves first */

	ev_prepare prepare;   /* group commit + cycle, before the loop blocks */
	ev_timer wake;        /* the earliest due work */
	ev_idle more;         /* housekeeping left (m.more), once the loop has
			       * nothing pending: the requests the cycle
			       * handed to curl go out first */
	ev_timer poll;        /* 1 s: did another process write? */
	ev_io notify;         /* the store's wake-ups (store_wait_fd), if it has them */
	ev_timer grace;       /* shutdown_grace */
	ev_timer metrics;     /* --metrics-file */
	ev_signal sigterm, sigint, sighup;

	int cycle_needed, maint_needed, first_maint;
	int look_needed;             /* a look for other processes' writes put off
				      * while the recorder held the store */
	int sync_needed;             /* the config's services not yet synced to the store */
	int metrics_given;           /* the metrics file is being written (recorder) */
	struct config *reload_cfg;   /* a SIGHUP's config, in use once the recorder is idle */
	int reload_sync_rc, reload_added, reload_held; /* a reload's sync (recorder) */
	int stopping, aborted, done;
	uint64_t changed;     /* store_changed_token at the last look */
	int64_t last_maint, last_sweep;
	int64_t clock_offset;      /* wall - monotonic at the last look (ms) */
	int store_failures;        /* failed store steps in a row */
	int64_t store_backoff_ms;  /* 0: the store works */
	int64_t store_retry_at;    /* monotonic ms: the end of the back-off step */

	size_t n_in_flight;        /* attempts holding a max_in_flight slot */
	struct ready_claim *ready; /* the ready reserve, oldest first from ready_head */
	size_t ready_head, n_ready, cap_ready;
	int64_t ready_paused_until; /* clock_mono_ms(): a ready claim went back for
				     * want of a slot, no reserve until then */
	struct attempt **finished; /* waiting for the group commit */
	size_t n_finished, cap_finished;
	/* The group commit under way on the recorder's thread: its attempts
	 * and their results, the recorder's until its done callback. */
	struct recorder *rec;
	struct attempt **batch;
	size_t n_batch, cap_batch;
	struct sched_result *batch_rs;
	size_t cap_batch_rs;
	int batch_rc;
	/* Housekeeping on the recorder's thread (maintain): its inputs,
	 * then what it did. */
	struct policy_retry maint_retry;
	int maint_first, maint_want, maint_sweep, maint_sync, maint_rc;
	int maint_more;              /* housekeeping left: once the next cycle claimed */
	int64_t maint_now;
	struct sched_maint maint_m;
	/* The turn's claims, made on the recorder's thread before its batch
	 * (engine_give_claims), or a cycle's claims and its earliest due work
	 * (run_cycle): asked, then got. */
	int round_room, round_free, round_wake;
	size_t round_first;
	int round_claim_rc, round_wake_rc;
	int64_t round_now, round_wake_at;
	struct sched_claimed *round_claimed;
	size_t n_round_claimed;
	struct attempt **calls;    /* calls waiting to be counted, then sent */
	size_t n_calls, cap_calls;
	/* The calls being counted on the recorder's thread (attempt_count_give):
	 * their leases, then whether each is still held. */
	struct attempt **counting;
	size_t n_counting, cap_counting;
	struct sched_lease *count_leases;
	size_t cap_count_leases;
	int *count_held;
	size_t cap_count_held;
	int count_rc;

	/* run --once: the jobs worked on, for the exit status. An open-
	 * addressing hash set (cap a power of two, "" = free slot), so that a
	 * run over a large backlog stays linear. */
	char (*worked)[JOBS_ID_LEN + 1];
	size_t n_worked, cap_worked;
	int db_failed;
};

/* The [retry] policy of cfg for tasks. */
struct policy_retry engine_retry_policy(const struct config *cfg);

/* Starts one claimed attempt (takes ownership of c's strings). Can't fail:
 * a request that cannot be sent finishes as a failed attempt. */
void attempt_start(struct engine *e, struct sched_claimed *c);

/* A claimed task goes back unsent (takes ownership of c's strings): its
 * result, "not sent: why", is recorded like any attempt's; a call the claim
 * counted is taken back. */
void attempt_not_sent(struct engine *e, struct sched_claimed *c, const char *why);

/*
 * Hands the calls queued since the last time to the recorder, to be
 * counted in one transaction (sched_count_sent); its done callback hands
 * each still under this owner's lease to curl, and finishes the others
 * unsent (lease lost, store failure: engine_store_failed, shutting down).
 * No-op when none is queued or a count is under way.
 */
void attempt_count_give(struct engine *e);

/*
 * The group commit: the finished attempts become the recorder's batch,
 * recorded in one transaction on its thread (then each result logged)
 * while the loop goes on; its done callback, on the loop, frees them, or
 * keeps them for a later try (engine_store_failed). After the turn's
 * claims when they were given first (engine_give_claims): when those
 * failed, the batch is not tried. No-op while a batch is under way or
 * nothing finished.
 */
void attempt_flush_give(struct engine *e);

/* The same, waited for (the end of a run): 0, or -1 when attempts are
 * left unrecorded. */
int attempt_flush(struct engine *e);

/* (engine_watch.c) The recorder is idle (engine.c's prepare step): a
 * SIGHUP's config, when one waits, takes the old one's place (services,
 * TLS, hooks) and its services are synced to the store on the recorder. */
void engine_reload(struct engine *e);

/* (engine_watch.c) The recorder is idle (engine.c's prepare step): the
 * look for other processes' writes put off while it held the store is
 * done now. */
void engine_recorded(struct engine *e);

/* Frees the finished attempts never recorded and the calls never counted
 * (at exit). */
void attempt_free_all(struct engine *e);

/* run --once: remembers that this run worked on job_id (engine_once.c). */
void engine_note_worked(struct engine *e, const char *job_id);
/* 1 when a job this run worked on is failed now, else 0. */
int engine_worked_failed(struct engine *e);

/* (discover.c) Appends a subject job's steps to e->svcs (room for SUBJECT_N_STEPS
 * more) when [subject] is configured. Can't fail. */
void discover_add_steps(struct engine *e);

/* (engine_services.c) Builds e->svcs from e->cfg (again after a reload).
 * Can't fail. */
void engine_build_services(struct engine *e);

/* (engine_claim.c) The claims a turn may make now: the free slots and the
 * ready reserve's room, CLAIM_TURN_MAX at most (0 when stopping). */
int engine_claim_room(const struct engine *e);
/* (engine_claim.c) Hands the claims for room slots to the recorder (wake:
 * and the earliest due work after them); done runs on the loop once they
 * are made, with e->round_* set. */
void engine_give_claim_work(struct engine *e, int room, int wake, recorder_done_fn done);
/* (engine_claim.c) With a batch to record, the claims for the slots it
 * freed, first, in their own transaction. */
void engine_give_claims(struct engine *e);
/* (engine_claim.c) Claimed attempts join the ready claims (c freed) and
 * start as slots allow. */
void engine_start_claimed(struct engine *e, struct sched_claimed *c, size_t n);
/* (engine_claim.c) The ready claims start while slots are free, oldest
 * first; stale ones, or any when stopping, go back unsent. Each turn. */
void engine_start_ready(struct engine *e);
/* (engine_claim.c) The ready claims dropped unsent (the owner is gone). */
void engine_drop_ready(struct engine *e);

/* (engine.c) Each hook's write_metrics, with --metrics-file. */
void engine_write_metrics(struct engine *e);

/* (engine.c) 1 while a back-off step after a store failure runs: the store
 * is left alone until it ends. */
int engine_store_backing_off(const struct engine *e);

/* (engine.c) The store worked: a back-off ends (logged when there was
 * one). */
void engine_store_worked(struct engine *e);

/* (engine.c) The store failed doing what: the next try after a back-off
 * step (0.5 s doubling up to 60 s), logged. */
void engine_store_failed(struct engine *e, const char *what);

/* (process.c) A descriptor for each slot (the soft limit raised, again on
 * SIGHUP);
 * the allocator set to keep what it has, once, before the engine runs. */
void engine_raise_fd_limit(int max_in_flight);
void engine_tune_allocator(void);

/* (engine_watch.c) Sets up the watchers (engine_new), starts them
 * (engine_run: a first look at the store's changes included), stops them
 * (engine_free). Can't fail. */
/* Keeps the watcher of the store's wake-up descriptor on the socket the
 * store has now: libev starts watching lazily, at the loop's next poll, and
 * a descriptor closed meanwhile (the store lost its connection, or made a
 * new one under another number) would abort it there. Called last in each
 * turn's prepare. */
void engine_watch_store_fd(struct engine *e);
void engine_watchers_init(struct engine *e);
void engine_watchers_start(struct engine *e);
void engine_watchers_stop(struct engine *e);

/* Called by attempt.c when an attempt finished (queued for the commit). */
void engine_attempt_finished(struct engine *e, struct attempt *a);

#endif
