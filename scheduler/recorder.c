/*
 * recorder.c - the engine's second thread (recorder.h).
 *
 * Why: a group commit (the batch's rows, events, job evaluations, the
 * fsync) was a third of run --once's instructions and all of its waits on
 * the disk, during which the loop answered no socket. On its own thread
 * the next answers are read, parsed and decided meanwhile, on the second
 * core.
 *
 * One piece of work at a time: the thread sleeps on a condition variable
 * until given work, runs it, marks it ended and wakes the loop through an
 * ev_async (libev's thread-safe wake-up); the loop's watcher runs the done
 * callback. The mutex orders the hand-over both ways, so what the work
 * wrote is seen by the loop, and the reverse.
 */
#include "scheduler/recorder.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/util.h"

struct recorder {
	struct ev_loop *loop;
	ev_async ended_w;      /* the thread's wake-up of the loop */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;     /* work given, work ended, quit */
	recorder_work_fn work; /* under mu: given and not yet run */
	recorder_done_fn done;
	void *arg;
	int ended;             /* under mu: the work ran; done not yet called */
	int quit;              /* under mu */
	int busy;              /* the loop's own: given, done not yet called */
};

static void *thread_main(void *p)
{
	struct recorder *r = p;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (r->work == NULL && !r->quit)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->work == NULL)
			break; /* quit, nothing given */
		recorder_work_fn work = r->work;
		void *arg = r->arg;
		pthread_mutex_unlock(&r->mu);
		work(arg);
		pthread_mutex_lock(&r->mu);
		r->work = NULL;
		r->ended = 1;
		pthread_cond_broadcast(&r->cv);
		ev_async_send(r->loop, &r->ended_w);
	}
	pthread_mutex_unlock(&r->mu);
	log_thread_done();
	return NULL;
}

/* The work ended (r->mu held by the caller, released here): done on the
 * loop. */
static void run_done(struct recorder *r)
{
	recorder_done_fn done = r->done;
	void *arg = r->arg;

	r->ended = 0;
	r->done = NULL;
	pthread_mutex_unlock(&r->mu);
	r->busy = 0;
	if (done != NULL)
		done(arg);
}

static void ended_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct recorder *r = w->data;

	pthread_mutex_lock(&r->mu);
	if (!r->ended) {
		pthread_mutex_unlock(&r->mu); /* already run by recorder_wait */
		return;
	}
	run_done(r);
}

struct recorder *recorder_new(struct ev_loop *loop)
{
	struct recorder *r = xcalloc(1, sizeof *r);
	int err;

	r->loop = loop;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	ev_async_init(&r->ended_w, ended_cb);
	r->ended_w.data = r;
	if ((err = pthread_create(&r->thread, NULL, thread_main, r)) != 0) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		free(r);
		errno = err;
		return NULL;
	}
	ev_async_start(loop, &r->ended_w);
	ev_unref(loop); /* the wake-up alone keeps no loop running */
	return r;
}

void recorder_give(struct recorder *r, recorder_work_fn work, recorder_done_fn done, void *arg)
{
	pthread_mutex_lock(&r->mu);
	r->work = work;
	r->done = done;
	r->arg = arg;
	r->busy = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

int recorder_busy(const struct recorder *r)
{
	return r != NULL && r->busy;
}

void recorder_wait(struct recorder *r)
{
	if (!recorder_busy(r))
		return;
	pthread_mutex_lock(&r->mu);
	while (!r->ended)
		pthread_cond_wait(&r->cv, &r->mu);
	run_done(r);
}

void recorder_free(struct recorder *r)
{
	if (r == NULL)
		return;
	recorder_wait(r);
	pthread_mutex_lock(&r->mu);
	r->quit = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	ev_ref(r->loop);
	ev_async_stop(r->loop, &r->ended_w);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
