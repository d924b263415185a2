/*
 * recorder.h - the engine's second thread: it runs one piece of work at a
 * time (the group commit of a batch of finished attempts) while the loop
 * goes on with the network, and tells the loop when it is done.
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

typedef void (*recorder_work_fn)(void *arg); /* on the recorder's thread */
typedef void (*recorder_done_fn)(void *arg); /* on the loop, after it */

/* Starts the thread; NULL when it cannot be started (errno set). */
struct recorder *recorder_new(struct ev_loop *loop);

/* Runs work(arg) on the thread, then done(arg) on the loop. Only while
 * not busy. */
void recorder_give(struct recorder *r, recorder_work_fn work, recorder_done_fn done, void *arg);

/* 1 from recorder_give until its done callback has run. */
int recorder_busy(const struct recorder *r);

/* Waits for the work given to end and runs its done callback now (no-op
 * when not busy): for what must see everything recorded (a reload, the
 * end of a run). */
void recorder_wait(struct recorder *r);

/* Waits (recorder_wait), ends the thread, frees r. NULL-safe. */
void recorder_free(struct recorder *r);

#endif
