/*
 * engine.h - the scheduler: one libev loop that claims due tasks from the
 * store, sends their HTTP calls through the curl-multi client, records the
 * results in batches, and sleeps until the earliest due work (DESIGN 3).
 *
 * Attaching more to the same loop (the HTTP API, the webhook dispatcher,
 * the metrics file) is done through hooks, from cli_cmd_run:
 *
 *   struct engine *e = engine_new(cfg, store, &opts, err, sizeof err);
 *   api_attach(e);      // ev_io on MHD's epoll fd: engine_loop(e)
 *   webhooks_attach(e); // http_send(engine_http(e), ...) from on_cycle
 *   rc = engine_run(e);
 *   engine_free(e);     // calls every hook's on_free
 *
 * Hooks run on the loop's thread. The engine's own store work runs on its
 * recorder's thread (scheduler/recorder.h), which a hook may give its own
 * to (engine_recorder(e)), so that the loop does not wait on the store; a
 * hook may also use engine_store(e) directly (the store has its own lock,
 * and is never in a transaction between callbacks), waiting meanwhile.
 * After writing work with it (e.g. the API scheduling a job), call
 * engine_wake(e): the 1 s poll of the store's changed token only sees
 * other processes' commits.
 */
#ifndef TENANTDEL_ENGINE_H
#define TENANTDEL_ENGINE_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "scheduler/http.h"
#include "store/store.h"

struct engine;

struct engine_opts {
	int once;                 /* run --once: exit when nothing is due soon and nothing in flight */
	const char *metrics_file; /* run --metrics-file: passed to hooks' write_metrics */
	int64_t metrics_every_ms; /* how often write_metrics runs; <= 0: 15 s */
};

/*
 * Extension points; every member may be NULL. Several hook sets may be
 * added; they run in the order added.
 */
struct engine_hooks {
	void *ctx;
	/* After each scheduling cycle (claims made, wake-up armed). A webhook
	 * dispatcher claims its due outbox rows here. */
	void (*on_cycle)(void *ctx, struct engine *e, int64_t now);
	/* A SIGHUP reload succeeded: engine_config(e) is the new config. */
	void (*on_reload)(void *ctx, struct engine *e);
	/* SIGTERM/SIGINT: stop accepting new work (close listeners). */
	void (*on_stop)(void *ctx, struct engine *e);
	/* Requests of the hook still in flight: shutdown and --once wait for 0
	 * (shutdown at most shutdown_grace). */
	size_t (*busy)(void *ctx, struct engine *e);
	/* The earliest time (epoch ms) the hook wants a cycle, INT64_MAX none. */
	int64_t (*next_wake)(void *ctx, struct engine *e, int64_t now);
	/* run --metrics-file PATH: write the Prometheus text there atomically.
	 * Called every metrics_every_ms and once at exit. 0 or -1. */
	int (*write_metrics)(void *ctx, struct engine *e, const char *path);
	/* engine_free: release the hook's resources (watchers stopped first). */
	void (*on_free)(void *ctx, struct engine *e);
};

/*
 * SIGHUP's default action ends the process: a reload asked for while the
 * daemon starts (a `systemctl reload` just after the start, log rotation)
 * would kill it before engine_run watches the signal. Called first thing
 * by `run`: SIGHUP is held (blocked: pending, not lost) until engine_run's
 * watcher takes it, which then reloads once the loop runs.
 */
void engine_hold_reloads(void);

/*
 * Builds the engine: its loop (the default loop, with signal watchers),
 * the HTTP client, the lease identity. Takes ownership of cfg (which must
 * have its secrets loaded and a service token). store stays the caller's.
 * Returns NULL with a message in err.
 */
struct engine *engine_new(struct config *cfg, struct store *store,
			  const struct engine_opts *opts, char *err, size_t errlen);

/* Adds a hook set (copied). Before engine_run. */
void engine_add_hooks(struct engine *e, const struct engine_hooks *h);

/*
 * Runs until SIGTERM/SIGINT (after the in-flight attempts finished or the
 * grace ran out) or, with once, until nothing is due. Returns the process
 * exit code: 0, or 1 when --once saw a job it worked on end failed, or
 * when the database failed.
 */
int engine_run(struct engine *e);

/* Frees everything (the config too); NULL-safe. */
void engine_free(struct engine *e);

struct ev_loop *engine_loop(struct engine *e);
struct http_client *engine_http(struct engine *e);
struct store *engine_store(struct engine *e);
struct recorder *engine_recorder(struct engine *e);
const struct config *engine_config(const struct engine *e);
/* Asks for a scheduling cycle on the next loop turn (work written here). */
void engine_wake(struct engine *e);

#endif
