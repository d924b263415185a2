/*
 * preview.c - every service's deletion preview in parallel.
 */
#include "scheduler/preview.h"

#include <stdlib.h>
#include <string.h>

#include "jobs/outcome.h"
#include "scheduler/engine.h"
#include "util/log.h"
#include "util/json.h"
#include "util/util.h"

struct preview {
	cJSON *result;
	cJSON *services;
	int64_t total;
	int pending, failed;
	preview_done_fn done;
	void *arg;
};

struct preview_call {
	struct preview *p;
	char *service;
};

static void complete(struct preview *p)
{
	json_add_int(p->result, "total_records", p->total);
	cJSON_AddBoolToObject(p->result, "complete", p->failed == 0);
	p->done(p->arg, p->result);
	free(p);
}

static void on_answer(void *arg, const struct http_response *hr)
{
	struct preview_call *c = arg;
	struct preview *p = c->p;
	struct outcome_http h = { .transport = hr->transport, .transport_error = hr->error,
				  .status = hr->status, .body = hr->body,
				  .body_len = hr->body_len, .retry_after = hr->retry_after,
				  .now_ms = clock_now_ms() };
	struct outcome o;
	cJSON *entry = cJSON_CreateObject();

	outcome_classify_preview(&h, &o);
	if (o.kind == OUTCOME_SUCCESS && o.total > INT64_MAX - p->total) {
		cJSON_AddStringToObject(entry, "error", "the services' totals add up past 2^63 - 1");
		p->failed++;
	} else if (o.kind == OUTCOME_SUCCESS) {
		cJSON *counts = json_parse_exact(o.counts_json);
		cJSON_AddItemToObject(entry, "counts", counts ? counts : cJSON_CreateObject());
		json_add_int(entry, "total", o.total);
		p->total += o.total;
	} else {
		cJSON_AddStringToObject(entry, "error", o.error);
		p->failed++;
	}
	outcome_clear(&o);
	cJSON_ReplaceItemInObjectCaseSensitive(p->services, c->service, entry);
	free(c->service);
	free(c);
	if (--p->pending == 0)
		complete(p);
}

int preview_start(struct http_client *http, const struct config *cfg, const char *tenant_id,
		  preview_done_fn done, void *arg)
{
	struct preview *p = xcalloc(1, sizeof *p);
	int started = 0;

	p->result = cJSON_CreateObject();
	cJSON_AddStringToObject(p->result, "tenant_id", tenant_id);
	p->services = cJSON_AddObjectToObject(p->result, "services");
	p->done = done;
	p->arg = arg;
	p->pending = 1; /* held until every request is started */
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct config_service *s = &cfg->services[i];
		struct http_request rq = { .method = "GET", .bearer = cfg->token,
					   .connect_timeout_ms = cfg->connect_timeout_ms };
		struct preview_call *c;

		if (!s->enabled || s->preview_url == NULL)
			continue;
		cJSON_AddNullToObject(p->services, s->name); /* config order */
		c = xcalloc(1, sizeof *c);
		c->p = p;
		c->service = xstrdup(s->name);
		rq.url = config_expand_url(s->preview_url, tenant_id);
		rq.timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : cfg->timeout_ms;
		p->pending++;
		if (http_send(http, &rq, on_answer, c) < 0) {
			cJSON *entry = cJSON_CreateObject();
			cJSON_AddStringToObject(entry, "error", "request could not be started");
			cJSON_ReplaceItemInObjectCaseSensitive(p->services, c->service, entry);
			p->failed++;
			p->pending--;
			free(c->service);
			free(c);
		} else {
			started++;
		}
		free((char *)rq.url);
	}
	if (started == 0 && p->failed > 0) {
		cJSON_Delete(p->result);
		free(p);
		return -1;
	}
	if (--p->pending == 0)
		complete(p);
	return 0;
}

int engine_preview(void *ctx, const char *tenant_id, preview_done_fn done, void *arg)
{
	struct engine *e = ctx;

	return preview_start(engine_http(e), engine_config(e), tenant_id, done, arg);
}
