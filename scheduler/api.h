/*
 * api.h - the HTTP API of DESIGN 6, served by libmicrohttpd from the
 * scheduler's own libev loop: MHD runs without a thread of its own
 * (MHD_USE_EPOLL); its epoll fd is watched by an ev_io and its timeout by
 * an ev_timer, both calling MHD_run. So every request is handled on the
 * loop's thread, the only one that touches SQLite, and no request blocks
 * the loop for longer than its few queries. A slow client costs a
 * connection slot until the connection time-out, nothing else.
 */
#ifndef TENANTDEL_API_H
#define TENANTDEL_API_H

#include <cjson/cJSON.h>
#include <ev.h>
#include <stddef.h>

#include "config/config.h"
#include "store/store.h"

#define API_MAX_BODY (64 * 1024)

/*
 * Called once when a preview started by api_preview_fn has ended: result is
 * the `preview --json` object ({"tenant_id", "services", "total_records"}),
 * which the callee owns from then on. May be called before the starting
 * call returns.
 */
typedef void (*api_preview_done_fn)(void *arg, cJSON *result);

/*
 * Starts previewing tenant_id (already validated) on every service, in the
 * loop, without blocking. Returns 0 when done(arg, ...) will be called
 * exactly once, or -1 when it cannot start (then done is never called).
 */
typedef int (*api_preview_fn)(void *ctx, const char *tenant_id, api_preview_done_fn done,
			      void *arg);

struct recorder;

struct api_deps {
	struct ev_loop *loop;
	struct store *store;
	const struct config *cfg;     /* [api] listen/token, services, certificate key */
	api_preview_fn preview;       /* NULL: GET .../preview answers 503 */
	void *preview_ctx;
	void (*wrote)(void *ctx);     /* after a write through the API, or NULL */
	void *wrote_ctx;
	/* The engine's recorder: the handlers that use the store run on its
	 * thread, so the loop never waits on the store (NULL: on the loop). */
	struct recorder *rec;
};

struct api;

/*
 * Binds [api] listen of deps->cfg and starts serving in deps->loop.
 * Returns the server, or NULL with one line in err (bad address, port in
 * use, no API token). Free with api_stop.
 */
struct api *api_start(const struct api_deps *deps, char *err, size_t errlen);

/* The port actually bound (useful with port 0). */
int api_port(const struct api *a);

/* Uses cfg from now on (after a config reload); cfg must outlive the api. */
void api_set_config(struct api *a, const struct config *cfg);

/*
 * Stops accepting, closes every connection, stops the watchers and frees
 * the server. Previews still running are abandoned (their results are
 * dropped when they end). NULL-safe.
 */
void api_stop(struct api *a);

#endif
