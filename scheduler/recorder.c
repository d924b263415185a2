/*
 * recorder.c - the engine's second thread (recorder.h).
 *
 * Why: a group commit (the batch's rows, events, job evaluations, the
 * fsync) was a third of run --once's instructions and all of its waits on
 * the disk, during which the loop answered no socket. On its own thread
 * the next answers are read, parsed and decided meanwhile, on the second
 * core.
 *
 * A short queue, run in order: the thread sleeps on a condition variable
 * until given work, runs each piece, counts it ended and wakes the loop
 * through an ev_async (libev's thread-safe wake-up, which coalesces); the
 * loop's watcher runs the done callbacks of what ended, in order. The
 * mutex orders the hand-over both ways, so what the work wrote is seen by
 * the loop, and the reverse.
 */
#include "scheduler/recorder.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "util/log.h"
#include "util/util.h"


struct item {
	recorder_work_fn work;
	recorder_done_fn done;
	void *arg;
};

struct recorder {
	struct ev_loop *loop;
	ev_async ended_w;      /* the thread's wake-up of the loop */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;     /* work given, work ended, quit */
	struct item q[RECORDER_QUEUE];  /* q[i % RECORDER_QUEUE] for i in [doned, given) */
	unsigned given;        /* under mu (written by the loop) */
	unsigned ran;          /* under mu (written by the thread): ended */
	unsigned doned;        /* the loop's own: done callbacks run */
	int quit;              /* under mu */
};

static void *thread_main(void *p)
{
	struct recorder *r = p;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (r->ran == r->given && !r->quit)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->ran == r->given)
			break; /* quit, nothing left */
		struct item it = r->q[r->ran % RECORDER_QUEUE];
		pthread_mutex_unlock(&r->mu);
		it.work(it.arg);
		pthread_mutex_lock(&r->mu);
		r->ran++;
		pthread_cond_broadcast(&r->cv);
		ev_async_send(r->loop, &r->ended_w);
	}
	pthread_mutex_unlock(&r->mu);
	log_thread_done();
	return NULL;
}

/* The done callbacks of the work that ended, in the order given. */
static void run_dones(struct recorder *r)
{
	for (;;) {
		struct item it;
		pthread_mutex_lock(&r->mu);
		if (r->doned == r->ran) {
			pthread_mutex_unlock(&r->mu);
			return;
		}
		it = r->q[r->doned % RECORDER_QUEUE];
		pthread_mutex_unlock(&r->mu);
		r->doned++;
		if (it.done != NULL)
			it.done(it.arg);
	}
}

static void ended_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	run_dones(w->data);
}

struct recorder *recorder_new(struct ev_loop *loop)
{
	struct recorder *r = xcalloc(1, sizeof *r);
	sigset_t all, old;
	int err;

	r->loop = loop;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	ev_async_init(&r->ended_w, ended_cb);
	r->ended_w.data = r;
	/* the thread blocks every signal (it inherits the mask): SIGTERM,
	 * SIGHUP ... are the loop's, and never interrupt the store's calls */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&r->thread, NULL, thread_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
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

int recorder_give(struct recorder *r, recorder_work_fn work, recorder_done_fn done, void *arg)
{
	pthread_mutex_lock(&r->mu);
	if (r->given - r->doned == RECORDER_QUEUE) {
		pthread_mutex_unlock(&r->mu);
		return -1;
	}
	r->q[r->given % RECORDER_QUEUE] = (struct item){ work, done, arg };
	r->given++;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void recorder_run(struct recorder *r, recorder_work_fn work, recorder_done_fn done, void *arg)
{
	if (r != NULL && recorder_give(r, work, done, arg) == 0)
		return;
	work(arg);
	if (done != NULL)
		done(arg);
}

int recorder_busy(const struct recorder *r)
{
	return r != NULL && r->doned != r->given; /* both the loop's to write */
}

void recorder_wait(struct recorder *r)
{
	if (!recorder_busy(r))
		return;
	pthread_mutex_lock(&r->mu);
	while (r->ran != r->given)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	run_dones(r);
	/* a done callback that gave more work: that too */
	recorder_wait(r);
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
