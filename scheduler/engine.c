/*
 * engine.c - the loop. Callbacks only note what happened (a timer fired,
 * an attempt finished, another process wrote); the prepare watcher, which
 * libev runs once per loop turn just before it blocks, does the work: one
 * scheduling cycle (housekeeping, claims, the wake-up timer re-armed for
 * the earliest due work), then the finished attempts handed to the
 * recorder (recorder.c) as one batch: one transaction on its own thread,
 * while the loop goes on reading answers. While the recorder holds the
 * store the prepare watcher leaves it alone; the batch's end brings the
 * next cycle. So a burst of answers costs one transaction, and the disk's
 * waits are not the loop's. The claims and the ready reserve are in
 * engine_claim.c, the services as the store wants them in
 * engine_services.c, the watchers in engine_watch.c.
 */
#include "scheduler/engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/recorder.h"
#include "util/log.h"
#include "util/util.h"

#define MAX_SLEEP_S 60.0        /* a clock jump missed never hangs work longer */
#define STORE_BACKOFF_FIRST_MS 500
#define STORE_BACKOFF_MAX_MS 60000
#define ONCE_STORE_TRIES 5      /* run --once gives up after this many failed steps */
#define MAINT_EVERY_MS 1000     /* leases of dead owners reclaimed within this */
#define SWEEP_EVERY_MS 60000
#define ONCE_HORIZON_MS 10000   /* run --once waits for work due this soon */
#define ONCE_HOOKS_RECHECK_S 0.1 /* run --once, hooks busy: done yet? */

/* Whether a lease's owner still runs, for housekeeping's reclaims. */
static enum sched_owner owner_judge(void *ctx, const char *owner)
{
	struct engine *e = ctx;

	switch (lease_owner_liveness(&e->owner, owner)) {
	case LEASE_OWNER_DEAD:
		return SCHED_OWNER_DEAD;
	case LEASE_OWNER_ALIVE:
		return SCHED_OWNER_ALIVE;
	default:
		return SCHED_OWNER_UNKNOWN;
	}
}

/* ---- hooks ---- */

static size_t hooks_busy(struct engine *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n_hooks; i++)
		if (e->hooks[i].busy)
			n += e->hooks[i].busy(e->hooks[i].ctx, e);
	return n;
}

static int64_t hooks_wake(struct engine *e, int64_t now)
{
	int64_t at = INT64_MAX;

	for (size_t i = 0; i < e->n_hooks; i++)
		if (e->hooks[i].next_wake) {
			int64_t t = e->hooks[i].next_wake(e->hooks[i].ctx, e, now);
			if (t < at)
				at = t;
		}
	return at;
}

void engine_write_metrics(struct engine *e)
{
	for (size_t i = 0; e->opts.metrics_file && i < e->n_hooks; i++)
		if (e->hooks[i].write_metrics)
			e->hooks[i].write_metrics(e->hooks[i].ctx, e, e->opts.metrics_file);
}

/* ---- the cycle ---- */

static void arm_wake(struct engine *e, double delay)
{
	if (delay < 0)
		delay = 0;
	if (delay > MAX_SLEEP_S)
		delay = MAX_SLEEP_S;
	ev_timer_stop(e->loop, &e->wake);
	ev_timer_set(&e->wake, delay, 0.);
	ev_timer_start(e->loop, &e->wake);
}

/* The jobs whose first phase fills the free slots: a wide max_in_flight
 * starts that many a pass, not the store's short batch. */
static int room_jobs(const struct engine *e)
{
	int room = e->cfg->max_in_flight - (int)e->n_in_flight;

	return room > 0 && e->first_phase_tasks > 0 ? room / e->first_phase_tasks + 1 : 0;
}

/* The recorder's work: housekeeping in one transaction (leases of dead
 * owners back, due jobs started, deadlines marked), then the sweep when it
 * is due. It reads only what maintain() set for it. */
static void maint_work(void *arg)
{
	struct engine *e = arg;

	/* at start (or after a reload's failed): first; a store away then is
	 * waited for like any failure */
	if (e->maint_sync) {
		e->maint_rc = sched_sync_services(e->store, e->svcs, e->n_conf_svcs, e->maint_now,
						  NULL, NULL);
		if (e->maint_rc != STORE_OK)
			return;
	}
	e->maint_rc = sched_maintain(e->store, e->owner.id, owner_judge, e, e->maint_first,
				     &e->maint_retry, e->maint_want, e->maint_now, &e->maint_m);
	if (e->maint_rc == STORE_OK && e->maint_sweep)
		e->maint_rc = sched_sweep_jobs(e->store, e->maint_now);
}

/* On the loop: the housekeeping done; the cycle it cut short runs again
 * (claims for the jobs it started). */
static void maint_done(void *arg)
{
	struct engine *e = arg;

	e->cycle_needed = 1;
	if (e->maint_rc != STORE_OK) {
		engine_store_failed(e, "scheduling cycle");
		return;
	}
	if (e->maint_sync)
		e->sync_needed = 0;
	if (e->n_finished == 0 && e->n_batch == 0)
		engine_store_worked(e); /* else the batch's recording says */
	e->maint_needed = 0;
	e->last_maint = e->maint_now;
	e->first_maint = 0;
	if (e->maint_sweep)
		e->last_sweep = e->maint_now;
	/* Housekeeping left (a batch of jobs started, more due): after the
	 * claims of the cycle this asks for (the jobs just started have due
	 * tasks enough for them), and not in the next turn either, which
	 * would hold back the requests just handed to curl (a new connection
	 * takes a turn or two to write its request), but once the loop has
	 * nothing pending (end_cycle). */
	e->maint_more = e->maint_m.more;
}

/*
 * Housekeeping when due (and the services' sync to the store before it,
 * at start), handed to the recorder (starting 128 jobs is ~13 % of a fast
 * run's instructions: the loop reads answers meanwhile, and the claims
 * and batch given after it see the jobs it started). 1 when given (the
 * cycle ends there: maint_done runs it again), else 0.
 */
static int maintain(struct engine *e, int64_t now)
{
	if (!e->maint_needed && !e->sync_needed && now - e->last_maint < MAINT_EVERY_MS &&
	    now >= e->last_maint)
		return 0;
	e->maint_sync = e->sync_needed;
	e->maint_retry = engine_retry_policy(e->cfg);
	e->maint_first = e->first_maint;
	e->maint_want = room_jobs(e);
	e->maint_now = now;
	e->maint_sweep = now - e->last_sweep >= SWEEP_EVERY_MS || now < e->last_sweep;
	recorder_run(e->rec, maint_work, maint_done, e);
	return 1;
}

/* run --once: done when nothing is in flight and nothing is due soon. */
static int once_done(struct engine *e, size_t claimed, int64_t wake, int64_t now)
{
	if (claimed > 0 || ev_is_active(&e->more) || e->n_in_flight > 0 || e->n_ready > 0 ||
	    e->n_finished > 0 || recorder_busy(e->rec) || hooks_busy(e) > 0)
		return 0;
	/* due but not claimable (breaker open, another process at the limit):
	 * left for the next run; work due within the horizon is waited for */
	return wake <= now || wake - now > ONCE_HORIZON_MS;
}

/*
 * The end of a cycle, its claims made (claimed of them) and wake the
 * earliest due work the store knows of: the hooks' turn, then run --once
 * ends when nothing is left, else the wake-up timer is re-armed.
 */
static void end_cycle(struct engine *e, int64_t now, size_t claimed, int64_t wake)
{
	int64_t hook_wake;

	if (e->maint_more) { /* the housekeeping left, now that this cycle claimed */
		e->maint_more = 0;
		ev_idle_start(e->loop, &e->more);
	}

	for (size_t i = 0; i < e->n_hooks; i++)
		if (e->hooks[i].on_cycle)
			e->hooks[i].on_cycle(e->hooks[i].ctx, e, now);
	hook_wake = hooks_wake(e, now); /* a hook's answer may cost a query */
	if (hook_wake < wake)
		wake = hook_wake;
	ev_now_update(e->loop);
	if (e->opts.once && once_done(e, claimed, wake, now)) {
		e->done = 1;
		ev_break(e->loop, EVBREAK_ALL);
		return;
	}
	if (claimed > 0 && !ev_is_active(&e->more))
		arm_wake(e, wake <= now ? 0.0 : (double)(wake - now) / 1000.0);
	else if (wake <= now)
		arm_wake(e, ENGINE_POLL_S); /* blocked: an answer or the poll will come first */
	else if (e->opts.once && hooks_busy(e) > 0)
		/* run --once waits only for a hook's work under way (a webhook
		 * delivery), whose end brings no cycle: looked at again soon,
		 * not at the next due work, up to MAX_SLEEP_S away */
		arm_wake(e, ONCE_HOOKS_RECHECK_S);
	else
		arm_wake(e, (double)(wake - clock_now_ms() + 1) / 1000.0);
}

/* On the loop: a cycle's claims (and the earliest due work) are made:
 * the attempts start and the cycle ends; or the store failed, and the
 * cycle is tried again after a back-off step. */
static void cycle_claims_done(void *arg)
{
	struct engine *e = arg;
	int claim_rc = e->round_claim_rc, wake_rc = e->round_wake_rc;
	size_t n = e->n_round_claimed;

	e->round_claim_rc = STORE_OK;
	if (claim_rc == STORE_OK)
		engine_start_claimed(e, e->round_claimed, n); /* leased: they go, whatever follows */
	e->round_claimed = NULL;
	e->n_round_claimed = 0;
	if (claim_rc != STORE_OK || wake_rc != STORE_OK) {
		e->cycle_needed = 1;
		engine_store_failed(e, "scheduling cycle");
		return;
	}
	if (e->n_finished == 0 && e->n_batch == 0)
		engine_store_worked(e);
	end_cycle(e, e->round_now, n, e->round_wake_at);
}

/*
 * Housekeeping, then claims (unless a batch about to be recorded claims
 * for the slots: may_claim 0), then the wake-up re-armed. The store's
 * part runs on the recorder's thread, so the loop never waits on a lock
 * another process holds: housekeeping, or the claims and the query for
 * the earliest due work, are given to it, and their done callback goes on
 * with the cycle.
 */
static void run_cycle(struct engine *e, int may_claim)
{
	int64_t now = clock_now_ms();
	int room = engine_claim_room(e);

	if (maintain(e, now))
		return; /* given: the rest after it (maint_done) */
	if (may_claim && room > 0) {
		engine_give_claim_work(e, room, 1, cycle_claims_done);
		return;
	}
	/* Nothing to claim now: every slot is taken, or a batch being
	 * recorded claims for them. The next answer, or the batch's end, runs
	 * the next cycle. */
	end_cycle(e, now, 0, now + (int64_t)(ENGINE_POLL_S * 1000));
}

/* ---- a failing store: back off ---- */

/* 1 while a back-off step runs: the store is left alone until it ends. */
int engine_store_backing_off(const struct engine *e)
{
	return e->store_backoff_ms > 0 && clock_mono_ms() < e->store_retry_at;
}

/*
 * The store failed (disk full, I/O error ...): wait before the next try,
 * 0.5 s doubling up to 60 s, one log line per step (the recorder's other
 * work of that turn, failing within the step, adds none). run --once
 * gives up after ONCE_STORE_TRIES steps; a shutdown past its grace, at
 * once.
 */
void engine_store_failed(struct engine *e, const char *what)
{
	int64_t d = e->store_backoff_ms;
	struct log_line *l;

	/* the recorder's queue of that turn failing too: the same step */
	if (engine_store_backing_off(e))
		return;
	e->db_failed = 1;
	e->store_failures++;
	e->store_backoff_ms = d <= 0 ? STORE_BACKOFF_FIRST_MS
			      : d >= STORE_BACKOFF_MAX_MS / 2 ? STORE_BACKOFF_MAX_MS : d * 2;
	e->store_retry_at = clock_mono_ms() + e->store_backoff_ms;
	l = log_start(LOG_ERROR, "engine.store.failed");
	log_str(l, "what", what);
	log_int(l, "failures", e->store_failures);
	log_int(l, "unrecorded", (int64_t)(e->n_finished + e->n_batch));
	log_int(l, "retry_in_ms", e->store_backoff_ms);
	log_done(l);
	if ((e->opts.once && e->store_failures >= ONCE_STORE_TRIES) ||
	    (e->stopping && e->aborted)) {
		attempt_free_all(e); /* their leases are taken back (owner gone) */
		engine_drop_ready(e);
		if (e->n_in_flight == 0) {
			ev_break(e->loop, EVBREAK_ALL);
			return;
		}
	}
	arm_wake(e, (double)e->store_backoff_ms / 1000.0);
}

void engine_store_worked(struct engine *e)
{
	if (e->store_failures == 0)
		return;
	log_msg(LOG_INFO, "engine.store.recovered", "the store works again after %d failed tries",
		e->store_failures);
	e->store_failures = 0;
	e->store_backoff_ms = 0;
	e->db_failed = 0; /* recovered: nothing was lost */
}

/*
 * A turn's store work, when the store is free, all of it given to the
 * recorder in this order: the calls readied by this turn's answers (a
 * preview done) to be counted, then housekeeping or the cycle's claims
 * (the freed slots), and last the finished attempts as one batch, with
 * the claims for the slots they freed before it. Each done callback, on
 * the loop, goes on with what the store said (the counted calls go out,
 * the claimed attempts start) while the recorder does the next piece; the
 * loop serves the sockets throughout and never waits on the store. While
 * the recorder holds the store, nothing here runs: the end of its work
 * comes back to this.
 */
static void prepare_work(struct ev_loop *loop, struct engine *e)
{
	int batch;

	engine_start_ready(e); /* slots freed this turn: taken again at once */
	if (recorder_busy(e->rec))
		return; /* the end of its work comes back */
	engine_reload(e); /* a SIGHUP's config, now that nothing reads the old one */
	if (engine_store_backing_off(e))
		return; /* the end of the step (a wake-up) comes back */
	engine_recorded(e); /* a look for other processes' writes put off meanwhile */
	attempt_count_give(e);
	/* With a batch to record, the recorder claims for the slots it
	 * freed first, then records it, and only then does housekeeping
	 * (which may start a batch of jobs: tens of ms that the freed slots
	 * would wait behind); without, the cycle claims. */
	batch = e->n_finished > 0;
	engine_give_claims(e);
	attempt_flush_give(e);
	if (!e->stopping && (e->cycle_needed || e->maint_needed)) {
		e->cycle_needed = 0;
		run_cycle(e, !batch);
	}
	/* recovered once what failed works: the batch, when there is one
	 * (its done callback says so), else this turn's steps */
	if (!batch && !recorder_busy(e->rec))
		engine_store_worked(e);
	if (e->stopping && e->n_in_flight == 0 && e->n_finished == 0 && !recorder_busy(e->rec) &&
	    hooks_busy(e) == 0)
		ev_break(loop, EVBREAK_ALL);
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct engine *e = w->data;

	prepare_work(loop, e);
	/* last before libev hands its watchers to epoll: this turn's store
	 * calls (and the callbacks' before them) may have lost or remade the
	 * store's connection */
	engine_watch_store_fd(e);
}

/* ---- public ---- */

struct engine *engine_new(struct config *cfg, struct store *store,
			  const struct engine_opts *opts, char *err, size_t errlen)
{
	struct engine *e;
	struct http_tls tls = { cfg->ca_file, cfg->client_cert, cfg->client_key };
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);

	if (loop == NULL) {
		snprintf(err, errlen, "cannot initialise the event loop (libev)");
		return NULL;
	}
	engine_tune_allocator();
	e = xcalloc(1, sizeof *e);
	e->loop = loop;
	e->cfg = cfg;
	e->store = store;
	e->opts = *opts;
	e->http = http_client_new(loop, &tls);
	if (e->http == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		e->cfg = NULL;
		engine_free(e);
		return NULL;
	}
	{
		struct config_secret sec[CONFIG_MAX_SECRETS];
		http_client_set_secrets(e->http, sec, config_list_secrets(cfg, sec));
	}
	e->rec = recorder_new(loop);
	if (e->rec == NULL) {
		snprintf(err, errlen, "cannot start the recording thread: %s", strerror(errno));
		e->cfg = NULL;
		engine_free(e);
		return NULL;
	}
	lease_owner_self(&e->owner, cfg->store_node);
	engine_build_services(e);
	ev_prepare_init(&e->prepare, prepare_cb);
	e->prepare.data = e;
	engine_watchers_init(e);
	return e;
}

void engine_add_hooks(struct engine *e, const struct engine_hooks *h)
{
	if (e->n_hooks == ENGINE_MAX_HOOKS) {
		log_msg(LOG_ERROR, "engine.error", "too many hooks");
		return;
	}
	e->hooks[e->n_hooks++] = *h;
}

int engine_run(struct engine *e)
{
	int64_t now = clock_now_ms();

	e->first_maint = 1;
	e->maint_needed = e->cycle_needed = 1;
	e->clock_offset = now - clock_mono_ms();
	e->sync_needed = 1;
	if (store_changed_token(e->store, &e->changed) != STORE_OK)
		e->changed = 0; /* read again at the next wake: a change seen, a cycle */
	log_msg(LOG_INFO, "engine.started", "%s: %zu services, owner %s%s", e->cfg->path,
		e->cfg->n_services, e->owner.id, e->opts.once ? ", --once" : "");
	ev_prepare_start(e->loop, &e->prepare);
	engine_watchers_start(e);
	engine_write_metrics(e);
	ev_run(e->loop, 0);
	attempt_flush(e); /* the batch under way, and any finished since */
	engine_write_metrics(e);
	log_msg(LOG_INFO, "engine.stopped", "%s", e->stopping ? "signal" : "nothing left to do");
	if (e->db_failed)
		return 1;
	return e->opts.once && engine_worked_failed(e) ? 1 : 0;
}

void engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	/* the recorder's work under way ends first: its done callbacks may
	 * start watchers (the idle one, the wake-up), stopped below; it ends
	 * after the hooks, which may wait for it too (the API) */
	recorder_wait(e->rec);
	if (e->loop != NULL) {
		ev_prepare_stop(e->loop, &e->prepare);
		engine_watchers_stop(e);
	}
	e->aborted = 1;
	if (e->http != NULL)
		http_abort_all(e->http, "shutting down"); /* callbacks run while hooks live */
	for (size_t i = 0; i < e->n_hooks; i++)
		if (e->hooks[i].on_free)
			e->hooks[i].on_free(e->hooks[i].ctx, e);
	recorder_free(e->rec);
	e->rec = NULL;
	http_client_free(e->http);
	attempt_free_all(e);
	engine_drop_ready(e);
	free(e->ready);
	free(e->finished);
	free(e->batch);
	free(e->batch_rs);
	free(e->calls);
	free(e->counting);
	free(e->count_leases);
	free(e->count_held);
	free(e->svcs);
	free(e->worked);
	config_free(e->reload_cfg);
	config_free(e->cfg);
	free(e);
}

void engine_attempt_finished(struct engine *e, struct attempt *a)
{
	e->finished = xreserve(e->finished, &e->cap_finished, e->n_finished + 1,
			       sizeof *e->finished);
	e->finished[e->n_finished++] = a;
	e->cycle_needed = 1;
}

struct ev_loop *engine_loop(struct engine *e) { return e->loop; }
struct http_client *engine_http(struct engine *e) { return e->http; }
struct store *engine_store(struct engine *e) { return e->store; }
struct recorder *engine_recorder(struct engine *e) { return e->rec; }
const struct config *engine_config(const struct engine *e) { return e->cfg; }

void engine_wake(struct engine *e)
{
	e->cycle_needed = 1;
	e->maint_needed = 1;
}
