/*
 * integrate.c - the API, the webhook dispatcher and the metrics file on
 * the engine's hooks. See integrate.h.
 */
#include "scheduler/integrate.h"
#include "scheduler/api.h"
#include "scheduler/engine.h"
#include "scheduler/metrics.h"
#include "scheduler/preview.h"
#include "scheduler/webhook.h"
#include "util/util.h"

#include <stdlib.h>

struct integrate {
	struct api *api;         /* NULL: none, or closed at SIGTERM */
	struct webhook *webhook;
};

static void on_api_write(void *ctx)
{
	engine_wake(ctx);
}

static void hook_cycle(void *ctx, struct engine *e, int64_t now)
{
	/* A cycle follows every state change seen, ours or another process's. */
	webhook_kick(((struct integrate *)ctx)->webhook);
}

static void hook_reload(void *ctx, struct engine *e)
{
	struct integrate *in = ctx;

	if (in->api != NULL)
		api_set_config(in->api, engine_config(e));
	webhook_set_config(in->webhook, engine_config(e));
}

static void hook_stop(void *ctx, struct engine *e)
{
	struct integrate *in = ctx;

	api_stop(in->api);
	in->api = NULL;
	webhook_stop(in->webhook);
}

static size_t hook_busy(void *ctx, struct engine *e)
{
	return webhook_in_flight(((struct integrate *)ctx)->webhook);
}

static int hook_write_metrics(void *ctx, struct engine *e, const char *path)
{
	return metrics_write_file(engine_store(e), engine_config(e), path);
}

static void hook_free(void *ctx, struct engine *e)
{
	struct integrate *in = ctx;

	api_stop(in->api);
	webhook_free(in->webhook);
	free(in);
}

static struct api *start_api(struct engine *e, char *err, size_t errlen)
{
	struct api_deps d = {0};

	d.loop = engine_loop(e);
	d.store = engine_store(e);
	d.cfg = engine_config(e);
	d.preview = engine_preview;
	d.preview_ctx = e;
	d.wrote = on_api_write;
	d.wrote_ctx = e;
	d.rec = engine_recorder(e);
	return api_start(&d, err, errlen);
}

int integrate_attach(struct engine *e, int once, char *err, size_t errlen)
{
	struct integrate *in = xcalloc(1, sizeof *in);
	struct webhook_deps wd = {0};
	struct engine_hooks h = {0};

	if (!once && engine_config(e)->api_listen != NULL &&
	    (in->api = start_api(e, err, errlen)) == NULL) {
		free(in);
		return -1;
	}
	wd.loop = engine_loop(e);
	wd.store = engine_store(e);
	wd.http = engine_http(e);
	wd.rec = engine_recorder(e);
	wd.cfg = engine_config(e);
	in->webhook = webhook_start(&wd);
	h.ctx = in;
	h.on_cycle = hook_cycle;
	h.on_reload = hook_reload;
	h.on_stop = hook_stop;
	h.busy = hook_busy;
	h.write_metrics = hook_write_metrics;
	h.on_free = hook_free;
	engine_add_hooks(e, &h);
	return 0;
}
