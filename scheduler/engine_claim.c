/*
 * engine_claim.c - the engine's claims: the due tasks the recorder leases
 * for the free slots (a turn's share, CLAIM_TURN_MAX at most), and the
 * ready reserve, the claims made ahead of free slots that an answer's
 * freed slot takes again in the same loop turn. The cycle (engine.c)
 * gives its claims here; so does a batch about to be recorded.
 */
#include "scheduler/engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "scheduler/recorder.h"
#include "util/util.h"

/* Claims a turn at most. Each new connection holds ~1.4 KiB of curl's
 * connect state until the loop sees it connected: 4096 claimed in one turn
 * had ~6 MB of it alive at once (massif). Past this many, the rest are
 * claimed when the loop is idle, after those connections are made. */
#define CLAIM_TURN_MAX 512
/* The ready reserve: tasks claimed ahead of free slots, a quarter of
 * max_in_flight up to this many, so that a slot an answer frees is taken
 * again in the same loop turn instead of after the store's next claims
 * (a recorder turn or two: the dips after each wave of slow answers). */
#define READY_RESERVE_MAX 128
/* A ready claim not started within this goes back unsent: its lease (the
 * service's calls x timeout + 10 s) must still cover every call. Slots
 * that turn over this slowly gain nothing from a reserve: there is none
 * for READY_PAUSE_MS after. */
#define READY_MAX_MS 1000
#define READY_PAUSE_MS 10000

/* The ready reserve's size: none for max_in_flight < 4, nor for a while
 * after a ready claim went back for want of a slot (every slot held by
 * services that answer slowly or hang: claims made ahead would only go
 * back unsent, again and again). */
static int ready_reserve(const struct engine *e)
{
	int r = clock_mono_ms() < e->ready_paused_until ? 0 : e->cfg->max_in_flight / 4;

	return r > READY_RESERVE_MAX ? READY_RESERVE_MAX : r;
}

/* The free slots and the ready reserve's room. */
static int claim_want(const struct engine *e)
{
	return e->cfg->max_in_flight + ready_reserve(e) - (int)e->n_in_flight - (int)e->n_ready;
}

/* The claims a turn may make now: claim_want, at most CLAIM_TURN_MAX (0
 * when stopping). */
int engine_claim_room(const struct engine *e)
{
	int room = claim_want(e);

	if (e->stopping || room <= 0)
		return 0;
	return room > CLAIM_TURN_MAX ? CLAIM_TURN_MAX : room;
}

/* The service a claim serves first, moved on at each call. */
static size_t claim_first(struct engine *e)
{
	size_t first = e->claim_first;

	/* Start at another service each time so that, when the global limit
	 * is smaller than the services' slots, none is always last. */
	if (e->n_svcs > 0)
		e->claim_first = (e->claim_first + 1) % e->n_svcs;
	return first;
}

/* The ready claims start while slots are free, oldest first; one held
 * past READY_MAX_MS, or any when stopping, goes back unsent. Runs each
 * loop turn, whether or not the store is busy. */
void engine_start_ready(struct engine *e)
{
	int64_t now = clock_mono_ms();

	while (e->n_ready > 0) {
		struct ready_claim *r = &e->ready[e->ready_head];
		int stale = now - r->at > READY_MAX_MS;

		if (!e->stopping && !stale && (int)e->n_in_flight >= e->cfg->max_in_flight)
			break;
		e->ready_head++;
		e->n_ready--;
		if (e->stopping || stale) {
			attempt_not_sent(e, &r->c, e->stopping ? "shutting down" : "no slot came free");
			if (stale)
				e->ready_paused_until = now + READY_PAUSE_MS;
			continue;
		}
		if (r->c.kind == TASK_KIND_DELETE)
			engine_note_worked(e, r->c.job_id);
		attempt_start(e, &r->c);
	}
	if (e->n_ready == 0)
		e->ready_head = 0;
}

/* The ready claims dropped unsent (their leases are taken back: the owner
 * is gone). */
void engine_drop_ready(struct engine *e)
{
	for (size_t i = 0; i < e->n_ready; i++) {
		struct sched_claimed *c = &e->ready[e->ready_head + i].c;

		free(c->tenant_id);
		free(c->service);
	}
	e->ready_head = e->n_ready = 0;
}

/* Claimed attempts join the ready claims (c freed) and start as slots
 * allow; a claim held back by the turn's cap leaves the rest to the idle
 * loop. */
void engine_start_claimed(struct engine *e, struct sched_claimed *c, size_t n)
{
	int64_t now = clock_mono_ms();

	if (e->ready_head > 0 && e->ready_head + e->n_ready + n > e->cap_ready) {
		memmove(e->ready, e->ready + e->ready_head, e->n_ready * sizeof *e->ready);
		e->ready_head = 0;
	}
	e->ready = xreserve(e->ready, &e->cap_ready, e->ready_head + e->n_ready + n,
			    sizeof *e->ready);
	for (size_t i = 0; i < n; i++) {
		struct ready_claim *r = &e->ready[e->ready_head + e->n_ready++];

		r->c = c[i];
		r->at = now;
		memset(&c[i], 0, sizeof c[i]);
	}
	sched_claimed_free(c, n);
	engine_start_ready(e);
	/* the cap held claims back: the rest when the loop is idle */
	if (n == CLAIM_TURN_MAX && (int)e->n_in_flight < e->cfg->max_in_flight)
		ev_idle_start(e->loop, &e->more);
}

/* The recorder's work: the turn's claims (one transaction); for a cycle
 * (round_wake), then the earliest due work when slots are left (a query
 * that reads the due tasks' index; moot when every slot is taken: the
 * next answer runs the next cycle). It reads only the round_* inputs, the
 * owner and e->svcs, which the loop leaves alone meanwhile. */
static void claim_work(void *arg)
{
	struct engine *e = arg;

	e->round_now = clock_now_ms();
	e->round_claim_rc = sched_claim_tasks(e->store, e->owner.id, e->svcs, e->n_svcs,
					      e->round_first, e->round_room, e->round_now,
					      &e->round_claimed, &e->n_round_claimed);
	e->round_wake_rc = STORE_OK;
	if (!e->round_wake || e->round_claim_rc != STORE_OK)
		return;
	if ((int)e->n_round_claimed >= e->round_free)
		e->round_wake_at = e->round_now + (int64_t)(ENGINE_POLL_S * 1000);
	else
		e->round_wake_rc = sched_next_wake(e->store, e->owner.id, e->svcs, e->n_svcs,
						   e->round_now, &e->round_wake_at);
}

/* Hands the claims for room slots to the recorder; done runs on the loop
 * once they are made. */
void engine_give_claim_work(struct engine *e, int room, int wake, recorder_done_fn done)
{
	e->round_claim_rc = STORE_OK;
	e->round_room = room;
	e->round_free = claim_want(e);
	e->round_wake = wake;
	e->round_first = claim_first(e);
	recorder_run(e->rec, claim_work, done, e);
}

/* On the loop: the claims committed go out now, while the recorder goes
 * on to record the batch given after them. */
static void claims_done(void *arg)
{
	struct engine *e = arg;

	if (e->round_claim_rc != STORE_OK)
		engine_store_failed(e, "claim");
	else
		engine_start_claimed(e, e->round_claimed, e->n_round_claimed);
	e->round_claimed = NULL;
	e->n_round_claimed = 0;
}

/*
 * With a batch to record, the slots it freed are claimed on the
 * recorder's thread first, in their own transaction: their requests go
 * out while the batch is recorded, and the loop does not wait for the
 * claims' commit (their fsync) either.
 */
void engine_give_claims(struct engine *e)
{
	int room = engine_claim_room(e);

	/* round_claim_rc is STORE_OK here: set back by the done callback of
	 * the cycle's claims, or of the batch that follows a turn's claims
	 * (and a cycle's claims may be running now: not to be touched) */
	if (room <= 0 || e->n_finished == 0 || e->n_batch > 0)
		return;
	engine_give_claim_work(e, room, 0, claims_done);
}
