/*
 * test_recorder.c - the engine's second thread (scheduler/recorder.h):
 * work runs off the loop's thread, in the order given; each done callback
 * runs on the loop's thread, in the same order, once its work ended (from
 * the loop's ev_async, or at once from recorder_wait); the queue refuses
 * a fifth piece; recorder_free waits for what was given; the thread blocks
 * the signals the loop watches. Also the thread's log holds, which are its
 * own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>
#include <ev.h>

#include "scheduler/recorder.h"
#include "store/backend.h"
#include "util/log.h"

struct trace {
	pthread_t loop_thread;
	pthread_mutex_t mu;
	char works[32];  /* the order work ran in (under mu) */
	char dones[32];  /* the order done callbacks ran in (the loop's) */
	int off_loop;    /* work that ran on the loop's thread: must stay 0 */
	int signals_open; /* work that ran with SIGTERM or SIGHUP deliverable */
	int on_loop;     /* done callbacks that ran on the loop's thread */
	int gate;        /* under mu: work 'a' waits until it is 1 */
	pthread_cond_t cv;
};

struct piece {
	struct trace *t;
	char name;
	struct ev_loop *loop; /* break it from this done callback */
};

static void append(char *s, char c)
{
	size_t n = strlen(s);
	s[n] = c;
	s[n + 1] = '\0';
}

static void work(void *arg)
{
	struct piece *p = arg;

	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	pthread_mutex_lock(&p->t->mu);
	if (pthread_equal(pthread_self(), p->t->loop_thread))
		p->t->off_loop++;
	if (!sigismember(&cur, SIGTERM) || !sigismember(&cur, SIGHUP))
		p->t->signals_open++; /* the loop's signals would land here */
	while (p->name == 'a' && !p->t->gate)
		pthread_cond_wait(&p->t->cv, &p->t->mu);
	append(p->t->works, p->name);
	pthread_mutex_unlock(&p->t->mu);
}

static void done(void *arg)
{
	struct piece *p = arg;

	if (pthread_equal(pthread_self(), p->t->loop_thread))
		p->t->on_loop++;
	append(p->t->dones, p->name);
	if (p->loop != NULL)
		ev_break(p->loop, EVBREAK_ALL);
}

static void trace_init(struct trace *t)
{
	memset(t, 0, sizeof *t);
	t->loop_thread = pthread_self();
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
}

static void open_gate(struct trace *t)
{
	pthread_mutex_lock(&t->mu);
	t->gate = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

/* Keeps ev_run going until a done callback breaks it (the recorder's own
 * watcher does not hold the loop), failing after 5 s. */
static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	fail_msg("the done callback never came");
}

static void test_work_off_the_loop_dones_on_it_in_order(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct recorder *r = recorder_new(loop);
	struct trace t;
	struct piece a = { &t, 'a', NULL }, b = { &t, 'b', NULL }, c = { &t, 'c', loop };
	ev_timer guard;

	trace_init(&t);
	assert_non_null(r);
	assert_false(recorder_busy(r));
	assert_int_equal(recorder_give(r, work, done, &a), 0);
	assert_int_equal(recorder_give(r, work, done, &b), 0);
	assert_int_equal(recorder_give(r, work, done, &c), 0);
	assert_true(recorder_busy(r));
	/* 'a' holds the thread: nothing ended, nothing done */
	usleep(20000);
	assert_string_equal(t.works, "");
	assert_string_equal(t.dones, "");
	open_gate(&t);
	ev_timer_init(&guard, timeout_cb, 5.0, 0.);
	ev_timer_start(loop, &guard);
	while (strlen(t.dones) < 3)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &guard);
	assert_string_equal(t.works, "abc");
	assert_string_equal(t.dones, "abc");
	assert_int_equal(t.off_loop, 0);
	assert_int_equal(t.signals_open, 0);
	assert_int_equal(t.on_loop, 3);
	assert_false(recorder_busy(r));
	recorder_free(r);
	ev_loop_destroy(loop);
}

static void test_wait_runs_the_dones_at_once(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct recorder *r = recorder_new(loop);
	struct trace t;
	struct piece a = { &t, 'a', NULL }, b = { &t, 'b', NULL };

	trace_init(&t);
	t.gate = 1;
	assert_int_equal(recorder_give(r, work, done, &a), 0);
	assert_int_equal(recorder_give(r, work, NULL, &b), 0); /* no done: fine */
	recorder_wait(r); /* no ev_run: the dones run here */
	assert_string_equal(t.works, "ab");
	assert_string_equal(t.dones, "a");
	assert_false(recorder_busy(r));
	/* the ev_async that fired meanwhile finds nothing left to do */
	ev_run(loop, EVRUN_NOWAIT);
	assert_string_equal(t.dones, "a");
	recorder_wait(r); /* not busy: returns at once */
	recorder_free(r);
	ev_loop_destroy(loop);
}

static void test_a_piece_past_the_queue_is_refused(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct recorder *r = recorder_new(loop);
	struct trace t;
	struct piece p[RECORDER_QUEUE + 1];
	char all[RECORDER_QUEUE + 2] = "";

	trace_init(&t);
	for (int i = 0; i <= RECORDER_QUEUE; i++) {
		p[i] = (struct piece){ &t, (char)('a' + i), NULL };
		all[i] = (char)('a' + i);
	}
	for (int i = 0; i < RECORDER_QUEUE; i++)
		assert_int_equal(recorder_give(r, work, done, &p[i]), 0);
	assert_int_equal(recorder_give(r, work, done, &p[RECORDER_QUEUE]), -1);
	open_gate(&t);
	recorder_wait(r);
	all[RECORDER_QUEUE] = '\0';
	assert_string_equal(t.dones, all);
	/* room again */
	assert_int_equal(recorder_give(r, work, done, &p[RECORDER_QUEUE]), 0);
	recorder_free(r); /* waits for the last and runs its done */
	all[RECORDER_QUEUE] = (char)('a' + RECORDER_QUEUE);
	assert_string_equal(t.works, all);
	assert_string_equal(t.dones, all);
	ev_loop_destroy(loop);
}

/* recorder_run never drops work: with the queue full (or no recorder), the
 * piece runs here at once, its done callback right after. */
static void test_run_past_the_queue_runs_here(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct recorder *r = recorder_new(loop);
	struct trace t;
	struct piece p[RECORDER_QUEUE + 2];

	trace_init(&t);
	for (int i = 0; i < RECORDER_QUEUE + 2; i++)
		p[i] = (struct piece){ &t, (char)('a' + i), NULL };
	for (int i = 0; i < RECORDER_QUEUE; i++)
		recorder_run(r, work, done, &p[i]);
	assert_int_equal(t.off_loop, 0);
	recorder_run(r, work, done, &p[RECORDER_QUEUE]); /* full: here, now */
	assert_int_equal(t.off_loop, 1);
	assert_int_equal(t.on_loop, 1);
	assert_int_equal(t.dones[0], 'a' + RECORDER_QUEUE);
	recorder_run(NULL, work, done, &p[RECORDER_QUEUE + 1]); /* none: here too */
	assert_int_equal(t.off_loop, 2);
	open_gate(&t);
	recorder_free(r);
	assert_int_equal((int)strlen(t.dones), RECORDER_QUEUE + 2);
	ev_loop_destroy(loop);
}

/* A thread's log hold is its own: the recorder's held lines are not
 * written by the loop's release, nor dropped by it. */
static int pipe_fd[2];

static void held_work(void *arg)
{
	struct log_line *l;

	log_hold();
	l = log_start(LOG_INFO, "from.recorder");
	log_done_held(l);
	*(int *)arg = 1; /* held, not yet released */
	log_release(1);
}

static void test_log_holds_are_a_threads_own(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct recorder *r;
	struct log_line *l;
	char buf[4096];
	ssize_t n;
	int flag = 0;

	assert_int_equal(pipe2(pipe_fd, O_NONBLOCK), 0); /* a line missing fails, never hangs */
	log_set_fd(pipe_fd[1]);
	r = recorder_new(loop);
	log_hold(); /* the loop's hold */
	l = log_start(LOG_INFO, "from.loop");
	log_done_held(l);
	assert_int_equal(recorder_give(r, held_work, NULL, &flag), 0);
	recorder_wait(r);
	/* the recorder's line is out, the loop's still held */
	n = read(pipe_fd[0], buf, sizeof buf - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "from.recorder"));
	assert_null(strstr(buf, "from.loop"));
	log_release(1);
	n = read(pipe_fd[0], buf, sizeof buf - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "from.loop"));
	recorder_free(r);
	log_set_fd(2);
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	ev_loop_destroy(loop);
}

/* The store's last error is the calling thread's own: the loop and the
 * recorder each read the failure of their own call, whatever the other
 * set on the handle since. */
struct err_piece {
	struct store *s;
	char seen[64];
};

static void recorder_fails(void *arg)
{
	struct err_piece *p = arg;

	store_set_error(p->s, STORE_E_BUSY, "the recorder's");
	usleep(20000); /* the loop sets its own meanwhile (below) */
	snprintf(p->seen, sizeof p->seen, "%s/%d", store_last_error(p->s),
		 (int)store_last_error_kind(p->s));
}

static void test_last_error_is_the_threads_own(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct recorder *r = recorder_new(loop);
	struct store st;
	struct err_piece p = { &st, "" };
	char want[64];

	memset(&st, 0, sizeof st);
	store_base_init(&st, NULL);
	assert_int_equal(recorder_give(r, recorder_fails, NULL, &p), 0);
	usleep(5000);
	store_set_error(&st, STORE_E_OTHER, "the loop's");
	recorder_wait(r);
	snprintf(want, sizeof want, "the recorder's/%d", (int)STORE_E_BUSY);
	assert_string_equal(p.seen, want);
	assert_string_equal(store_last_error(&st), "the loop's");
	assert_int_equal(store_last_error_kind(&st), STORE_E_OTHER);
	recorder_free(r);
	store_base_clear(&st);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_work_off_the_loop_dones_on_it_in_order),
		cmocka_unit_test(test_wait_runs_the_dones_at_once),
		cmocka_unit_test(test_a_piece_past_the_queue_is_refused),
		cmocka_unit_test(test_run_past_the_queue_runs_here),
		cmocka_unit_test(test_log_holds_are_a_threads_own),
		cmocka_unit_test(test_last_error_is_the_threads_own),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
