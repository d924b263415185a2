/*
 * preview.h - a tenant's deletion preview from every service at once (the
 * `preview` command and GET /v1/tenants/{id}/preview), through the
 * engine's curl-multi client, without blocking the loop.
 */
#ifndef TENANTDEL_PREVIEW_H
#define TENANTDEL_PREVIEW_H

#include <cjson/cJSON.h>

#include "config/config.h"
#include "scheduler/http.h"

/*
 * Called once with the `preview --json` object: {"tenant_id", "services":
 * {name: {"counts": {...}, "total": N} | {"error": "..."}}, "total_records",
 * "complete": false when some service could not answer}. The callee owns
 * result.
 */
typedef void (*preview_done_fn)(void *arg, cJSON *result);

/*
 * Sends GET preview_url to every enabled service that has one, in
 * parallel, with the service token. URLs and token are copied: cfg may
 * change afterwards. Returns 0 when done(arg, ...) will be called exactly
 * once (possibly before this returns, when there is no service to ask), or
 * -1 when nothing could be started (done is never called).
 */
int preview_start(struct http_client *http, const struct config *cfg, const char *tenant_id,
		  preview_done_fn done, void *arg);

/* preview_start with the engine's client and config: ctx is a struct
 * engine *. Its signature is the API's api_preview_fn. */
int engine_preview(void *ctx, const char *tenant_id, preview_done_fn done, void *arg);

#endif
