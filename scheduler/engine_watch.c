/*
 * engine_watch.c - the engine's watchers other than the prepare watcher
 * (engine.c): the wake-up timer, the 1 s poll and the store's wake-up
 * descriptor (another process's writes), the clock-step check, the
 * idle watcher that runs housekeeping left over, the metrics timer, and
 * the signals (SIGTERM/SIGINT stop, SIGHUP reload).
 * Callbacks only note what happened; the prepare watcher does the work.
 */
#include "scheduler/engine_int.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "scheduler/recorder.h"
#include "util/log.h"
#include "util/util.h"

#define CLOCK_JUMP_MS 1000      /* wall vs monotonic drift taken for a clock step */

/*
 * The wall clock stepped (NTP, a VM resumed) when it moved apart from the
 * monotonic clock: due times are wall-clock times, so the wake-up armed
 * before is wrong. A cycle at once re-arms it (a backward step makes
 * nothing due early: claims compare against the wall clock).
 */
static void check_clock(struct engine *e)
{
	int64_t off = clock_now_ms() - clock_mono_ms();
	int64_t jump = off - e->clock_offset;
	struct log_line *l;

	e->clock_offset = off;
	if (jump > -CLOCK_JUMP_MS && jump < CLOCK_JUMP_MS)
		return;
	l = log_start(LOG_WARN, "clock.jumped");
	log_int(l, "by_ms", jump);
	log_done(l);
	e->cycle_needed = 1;
	e->maint_needed = 1;
}

/* The loop had nothing pending: the housekeeping left by the last cycle
 * (jobs still to start) runs now, while this turn's requests are out. */
static void more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct engine *e = w->data;

	ev_idle_stop(loop, w);
	e->cycle_needed = 1;
	e->maint_needed = 1;
}

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct engine *e = w->data;

	check_clock(e);
	e->cycle_needed = 1;
	e->maint_needed = 1;
}

/* The store's wake-up watcher on fd (< 0: none), started anew. */
static void rewatch(struct engine *e, int fd)
{
	ev_io_stop(e->loop, &e->notify);
	ev_io_set(&e->notify, fd, EV_READ);
	if (fd >= 0)
		ev_io_start(e->loop, &e->notify);
}

/* Another process's writes (the poll, or the store's wake-up descriptor:
 * re-watched each time, unwatched while the store fails, watched anew when
 * the token moved: a store that reconnected may hold a new socket under
 * the old number, which epoll would no longer report). */
static void look_for_changes(struct engine *e)
{
	uint64_t v;
	int fd, moved;

	if (engine_store_backing_off(e))
		return;
	if (recorder_busy(e->rec)) {
		/* not now: the store is the recorder's (and a PostgreSQL store's
		 * socket, readable with its answers, would wake this again) */
		e->look_needed = 1;
		ev_io_stop(e->loop, &e->notify);
		return;
	}
	e->look_needed = 0;
	if (store_changed_token(e->store, &v) != STORE_OK) {
		ev_io_stop(e->loop, &e->notify);
		engine_store_failed(e, "changed token");
		return;
	}
	moved = v != e->changed;
	if (moved) {
		e->changed = v;
		e->cycle_needed = 1;
		e->maint_needed = 1;
	}
	if ((fd = e->stopping ? -1 : store_wait_fd(e->store)) != e->notify.fd ||
	    !ev_is_active(&e->notify) || moved)
		rewatch(e, fd);
}

void engine_recorded(struct engine *e)
{
	if (e->look_needed)
		look_for_changes(e);
}

void engine_watch_store_fd(struct engine *e)
{
	int fd;

	if (!ev_is_active(&e->notify) || recorder_busy(e->rec))
		return; /* look_for_changes starts it, once the recorder is idle */
	fd = e->stopping || engine_store_backing_off(e) ? -1 : store_wait_fd(e->store);
	if (fd != e->notify.fd)
		rewatch(e, fd);
}

static void poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	check_clock(w->data);
	look_for_changes(w->data);
}

static void notify_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	look_for_changes(w->data);
}

/* The metrics file is written on the recorder's thread: it reads the
 * store, which the loop does not wait on. */
static void metrics_work(void *arg)
{
	engine_write_metrics(arg);
}

static void metrics_done(void *arg)
{
	((struct engine *)arg)->metrics_given = 0;
}

static void metrics_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct engine *e = w->data;

	if (e->metrics_given)
		return; /* the last one is still under way */
	e->metrics_given = 1;
	recorder_run(e->rec, metrics_work, metrics_done, e);
}

static void grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct engine *e = w->data;

	log_msg(LOG_WARN, "engine.shutdown.grace_over",
		"%zu attempts still in flight after the grace period: aborted", e->n_in_flight);
	e->aborted = 1;
	http_abort_all(e->http, "aborted: shutdown grace period over");
}

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct engine *e = w->data;
	double grace = (double)e->cfg->shutdown_grace_ms / 1000.0;

	if (e->stopping)
		return;
	e->stopping = 1;
	log_msg(LOG_INFO, "engine.stopping", "signal %d: claiming nothing new, %zu in flight",
		w->signum, e->n_in_flight);
	ev_timer_stop(loop, &e->wake);
	ev_timer_stop(loop, &e->poll);
	ev_io_stop(loop, &e->notify);
	for (size_t i = 0; i < e->n_hooks; i++)
		if (e->hooks[i].on_stop)
			e->hooks[i].on_stop(e->hooks[i].ctx, e);
	ev_timer_set(&e->grace, grace > 0 ? grace : 0.0, 0.);
	ev_timer_start(loop, &e->grace);
}

static void warn_secret(void *ctx, const char *msg)
{
	log_msg(LOG_ERROR, "config.secret", "%s", msg);
}

/* The recorder's work after a reload: the new services synced to the
 * store (tasks for a service added, held for one gone). */
static void reload_sync_work(void *arg)
{
	struct engine *e = arg;

	e->reload_sync_rc = sched_sync_services(e->store, e->svcs, e->n_conf_svcs, clock_now_ms(),
						&e->reload_added, &e->reload_held);
}

/* On the loop: the reload is done (its line says what the sync did); a
 * sync that failed is tried again by the next housekeeping. */
static void reload_sync_done(void *arg)
{
	struct engine *e = arg;

	if (e->reload_sync_rc != STORE_OK) {
		e->sync_needed = 1;
		engine_store_failed(e, "sync services");
	}
	log_msg(LOG_INFO, "config.reloaded",
		"%s: %zu services (%d tasks added, %d waiting for services not in it)",
		e->cfg->path, e->cfg->n_services, e->reload_added, e->reload_held);
	e->cycle_needed = e->maint_needed = 1;
}

/* SIGHUP: a new config, or the old one kept when the new one is bad. */
static void hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct engine *e = w->data;
	char err[1024] = "";
	struct config *n = config_load(e->cfg->path, err, sizeof err);

	if (n != NULL && (config_load_secrets(n, warn_secret, NULL) < 0 || n->token == NULL)) {
		snprintf(err, sizeof err, "%s: the service token cannot be read", e->cfg->path);
		config_free(n);
		n = NULL;
	}
	if (n == NULL) {
		log_msg(LOG_ERROR, "config.reload.failed", "%s; keeping the running config", err);
		return;
	}
	/* in use once the recorder is idle (engine_reload): its work reads
	 * e->svcs and the config, and the loop does not wait for it (work of
	 * its held up by a lock another process holds would hold the loop);
	 * a newer SIGHUP's config replaces one not yet in use */
	config_free(e->reload_cfg);
	e->reload_cfg = n;
}

void engine_reload(struct engine *e)
{
	struct config *n = e->reload_cfg;

	if (n == NULL)
		return;
	e->reload_cfg = NULL;
	config_free(e->cfg);
	e->cfg = n;
	engine_build_services(e);
	{
		struct http_tls tls = { n->ca_file, n->client_cert, n->client_key };
		struct config_secret sec[CONFIG_MAX_SECRETS];
		http_client_set_tls(e->http, &tls);
		http_client_set_secrets(e->http, sec, config_list_secrets(n, sec));
	}
	for (size_t i = 0; i < e->n_hooks; i++)
		if (e->hooks[i].on_reload)
			e->hooks[i].on_reload(e->hooks[i].ctx, e);
	e->last_sweep = 0;
	/* the sync on the recorder, so that a lock another process holds does
	 * not stall the loop; what the loop gives it next comes after */
	e->reload_added = e->reload_held = 0;
	recorder_run(e->rec, reload_sync_work, reload_sync_done, e);
}

void engine_watchers_init(struct engine *e)
{
	ev_timer_init(&e->wake, wake_cb, 0., 0.);
	ev_idle_init(&e->more, more_cb);
	ev_timer_init(&e->poll, poll_cb, ENGINE_POLL_S, ENGINE_POLL_S);
	ev_timer_init(&e->grace, grace_cb, 0., 0.);
	ev_timer_init(&e->metrics, metrics_cb, 0., 0.);
	ev_io_init(&e->notify, notify_cb, -1, EV_READ);
	ev_signal_init(&e->sigterm, stop_cb, SIGTERM);
	ev_signal_init(&e->sigint, stop_cb, SIGINT);
	ev_signal_init(&e->sighup, hup_cb, SIGHUP);
	e->wake.data = e->more.data = e->poll.data = e->grace.data = e->metrics.data = e;
	e->notify.data = e->sigterm.data = e->sigint.data = e->sighup.data = e;
}

static void hup_mask(int how)
{
	sigset_t hup;

	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(how, &hup, NULL);
}

void engine_hold_reloads(void)
{
	hup_mask(SIG_BLOCK);
}

void engine_watchers_start(struct engine *e)
{
	double every = e->opts.metrics_every_ms > 0 ? (double)e->opts.metrics_every_ms / 1000.0
						     : 15.0;

	signal(SIGPIPE, SIG_IGN);
	ev_timer_start(e->loop, &e->poll);
	look_for_changes(e);
	ev_signal_start(e->loop, &e->sigterm);
	ev_signal_start(e->loop, &e->sigint);
	ev_signal_start(e->loop, &e->sighup);
	hup_mask(SIG_UNBLOCK); /* held since the start (engine_hold_reloads): handled now */
	if (e->opts.metrics_file != NULL) {
		ev_timer_set(&e->metrics, every, every);
		ev_timer_start(e->loop, &e->metrics);
	}
}

void engine_watchers_stop(struct engine *e)
{
	ev_timer_stop(e->loop, &e->wake);
	ev_idle_stop(e->loop, &e->more);
	ev_timer_stop(e->loop, &e->poll);
	ev_timer_stop(e->loop, &e->grace);
	ev_timer_stop(e->loop, &e->metrics);
	ev_io_stop(e->loop, &e->notify);
	ev_signal_stop(e->loop, &e->sigterm);
	ev_signal_stop(e->loop, &e->sigint);
	ev_signal_stop(e->loop, &e->sighup);
}
