/*
 * attempt_record.c - the attempts' store work, given to the recorder's
 * thread: a call counted just before it goes out (after its preview), and
 * the group commit of the finished attempts (one transaction a turn),
 * after which their results are logged.
 */
#include "scheduler/engine_int.h"

#include <string.h>

#include "util/log.h"
#include "util/util.h"

#include "scheduler/attempt_int.h"
#include "scheduler/recorder.h"

/* The recorder's work: the calls being counted, in one transaction. It
 * reads only the leases copied for it. */
static void count_work(void *arg)
{
	struct engine *e = arg;

	e->count_rc = sched_count_sent(e->store, e->owner.id, e->count_leases, e->n_counting,
				       clock_now_ms(), e->count_held);
}

/* On the loop: each call counted and still under this owner's lease goes
 * to curl; the others (lease lost, store failure, shutting down) finish
 * unsent. */
static void calls_counted(void *arg)
{
	struct engine *e = arg;
	size_t n = e->n_counting;
	int rc = e->count_rc;

	e->n_counting = 0;
	for (size_t i = 0; i < n; i++) {
		struct attempt *a = e->counting[i];
		int counted = rc == STORE_OK && e->count_held[i];

		if (e->aborted || !counted) {
			if (counted) { /* counted, yet it never went */
				a->call = POLICY_CALL_NOT_SENT;
				a->counted_unsent = 1;
			}
			attempt_set_error(a, "not sent: %s", e->aborted	     ? "shutting down"
						     : rc != STORE_OK ? "the attempt could not be counted"
								      : "the lease was lost");
			attempt_finish(a);
			continue;
		}
		a->call = POLICY_CALL_SENT;
		attempt_send_now(a);
	}
	if (rc != STORE_OK)
		engine_store_failed(e, "count the calls");
}

/* The attempts of *from move to *to (empty) by swapping their arrays: the
 * old one of *to, empty, becomes *from's, so no allocation a turn. */
static void move_list(struct attempt ***to, size_t *to_n, size_t *to_cap,
		      struct attempt ***from, size_t *from_n, size_t *from_cap)
{
	struct attempt **swap = *to;
	size_t cap = *to_cap;

	*to = *from;
	*to_cap = *from_cap;
	*to_n = *from_n;
	*from = swap;
	*from_cap = cap;
	*from_n = 0;
}

void attempt_count_give(struct engine *e)
{
	if (e->n_calls == 0 || e->n_counting > 0)
		return;
	/* the calls queued become the ones counted */
	move_list(&e->counting, &e->n_counting, &e->cap_counting, &e->calls, &e->n_calls,
		  &e->cap_calls);
	if (e->aborted) { /* nothing more goes out: not counted either */
		e->count_rc = STORE_OK;
		e->count_held = xreserve(e->count_held, &e->cap_count_held, e->n_counting,
					 sizeof *e->count_held);
		memset(e->count_held, 0, e->n_counting * sizeof *e->count_held);
		calls_counted(e);
		return;
	}
	e->count_leases = xreserve(e->count_leases, &e->cap_count_leases, e->n_counting,
				   sizeof *e->count_leases);
	e->count_held = xreserve(e->count_held, &e->cap_count_held, e->n_counting,
				 sizeof *e->count_held);
	for (size_t i = 0; i < e->n_counting; i++) {
		e->count_leases[i].task_id = e->counting[i]->c.task_id;
		e->count_leases[i].until = e->counting[i]->c.lease_until;
	}
	recorder_run(e->rec, count_work, calls_counted, e);
}

/* The recorder's work: the batch in one transaction. It reads only the
 * batch, the store (under the store's lock) and what the loop leaves alone
 * while the recorder is busy (the owner, e->svcs). */
static void record_batch(void *arg)
{
	struct engine *e = arg;

	if (e->round_claim_rc != STORE_OK) {
		e->batch_rc = STORE_ERR; /* the store failed the claims just now */
		return;
	}
	e->batch_rc = sched_record_results(e->store, e->owner.id, e->batch_rs, e->n_batch,
					   e->svcs, e->n_svcs, clock_now_ms(), NULL);
}

/* The batch's lines, once recorded (a result never committed is never
 * announced), after the lines of its transaction (job.succeeded, ...).
 * On the loop: the store's thread is the one that bounds a run, and the
 * loop has time to spare (~10,000 instructions a line). They go out
 * together (a write(2) per PIPE_BUF of them, not one per line). */
static void log_batch(struct engine *e, size_t n)
{
	log_hold();
	for (size_t i = 0; i < n; i++)
		attempt_log_result(e->batch[i], e->batch[i]->decided_at);
	log_release(1);
}

/* On the loop, once the recorder is done with the batch: recorded, its
 * attempts are freed; not, they go back in front of those finished since,
 * for the next try after a back-off step. */
static void batch_recorded(void *arg)
{
	struct engine *e = arg;
	size_t n = e->n_batch;

	e->n_batch = 0;
	e->cycle_needed = 1; /* what the batch made due (a next phase, a retry) */
	if (e->batch_rc != STORE_OK) {
		e->finished = xreserve(e->finished, &e->cap_finished, e->n_finished + n,
				       sizeof *e->finished);
		memmove(e->finished + n, e->finished, e->n_finished * sizeof *e->finished);
		memcpy(e->finished, e->batch, n * sizeof *e->finished);
		e->n_finished += n;
		/* after the claims' failure, this is within that step: no new one */
		engine_store_failed(e, "record attempts");
	} else {
		log_batch(e, n);
		for (size_t i = 0; i < n; i++) {
			/* a discovery's child purges are due now: start them at once */
			if (e->batch[i]->r->discovery)
				e->maint_needed = 1;
			attempt_free(e->batch[i]);
		}
		engine_store_worked(e);
	}
	e->round_claim_rc = STORE_OK;
}

void attempt_flush_give(struct engine *e)
{
	if (e->n_finished == 0 || e->n_batch > 0)
		return;
	/* the finished list becomes the batch */
	move_list(&e->batch, &e->n_batch, &e->cap_batch, &e->finished, &e->n_finished,
		  &e->cap_finished);
	e->batch_rs = xreserve(e->batch_rs, &e->cap_batch_rs, e->n_batch, sizeof *e->batch_rs);
	for (size_t i = 0; i < e->n_batch; i++)
		e->batch_rs[i] = *e->batch[i]->r;
	recorder_run(e->rec, record_batch, batch_recorded, e);
}

int attempt_flush(struct engine *e)
{
	recorder_wait(e->rec);
	attempt_flush_give(e);
	recorder_wait(e->rec);
	return e->n_finished > 0 ? -1 : 0;
}

void attempt_free_all(struct engine *e)
{
	for (size_t i = 0; i < e->n_calls; i++) {
		attempt_unlink(e->calls[i]);
		attempt_free(e->calls[i]);
	}
	e->n_calls = 0;
	for (size_t i = 0; i < e->n_counting; i++) { /* the count's end finds none */
		attempt_unlink(e->counting[i]);
		attempt_free(e->counting[i]);
	}
	e->n_counting = 0;
	for (size_t i = 0; i < e->n_finished; i++)
		attempt_free(e->finished[i]);
	e->n_finished = 0;
}
