/*
 * recorder.h - the engine's second thread: it runs the store's work the
 * loop gives it (a turn's claims, then the group commit of a batch of
 * finished attempts), in order, while the loop goes on with the network,
 * and tells the loop as each piece is done.
 *
 * The loop gives work with recorder_give and, until the done callback has
 * run (on the loop, from an ev_async), leaves whatever that work reads
 * alone. The store is shared under its own lock (store/backend.h); the
 * loop stays off it meanwhile so as not to wait (recorder_busy).
 */
#ifndef TENANTDEL_RECORDER_H
#define TENANTDEL_RECORDER_H

#include <ev.h>

struct recorder;

/* Pieces of work given and not yet done, at most (a power of two): the
 * engine gives at most 4, and only to an idle recorder (engine.c,
 * prepare_work); the API, the webhook dispatcher and the metrics file
 * one each at a time. */
#define RECORDER_QUEUE 8

typedef void (*recorder_work_fn)(void *arg); /* on the recorder's thread */
typedef void (*recorder_done_fn)(void *arg); /* on the loop, after it */

/* Starts the thread; NULL when it cannot be started (errno set). */
struct recorder *recorder_new(struct ev_loop *loop);

/* Queues work(arg) for the thread, after what was given before; done(arg)
 * (may be NULL) runs on the loop once it ended. 0, or -1 when RECORDER_QUEUE
 * pieces are already waiting for their done callbacks. */
int recorder_give(struct recorder *r, recorder_work_fn work, recorder_done_fn done, void *arg);

/* Gives work as recorder_give does; when r is NULL or its queue is full
 * (never, as the engine and its hooks use it), runs work(arg) and then
 * done(arg) here instead, so that no work is ever dropped. */
void recorder_run(struct recorder *r, recorder_work_fn work, recorder_done_fn done, void *arg);

/* 1 from a recorder_give until every done callback has run. */
int recorder_busy(const struct recorder *r);

/* Waits for all the work given to end and runs the done callbacks now
 * (no-op when not busy): for what must see everything recorded (the end
 * of a run, the API stopping). */
void recorder_wait(struct recorder *r);

/* Waits (recorder_wait), ends the thread, frees r. NULL-safe. */
void recorder_free(struct recorder *r);

#endif
