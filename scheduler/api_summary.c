/*
 * api_summary.c - GET /v1/summary: what an operator's overview shows, in
 * one answer (DESIGN 6, the dashboard's overview): jobs by state, the
 * overdue count and the most overdue jobs, the due lag, the webhook
 * backlog, and per service its breaker, its attempts by outcome and its
 * latest error. Read from the store's metrics (as GET /metrics), one list
 * of the most overdue jobs and one read of the services' latest errors.
 */
#include "jobs/document.h"
#include "jobs/jobs.h"
#include "jobs/policy.h"
#include "scheduler/api_int.h"
#include "store/store.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

#define SUMMARY_LATE_JOBS 10
/* A dead task's error counts as recent for a day. */
#define SUMMARY_ERROR_WINDOW_MS (24 * 3600 * 1000LL)

/* What the summary is made of (summary_clear). */
struct summary_src {
	int64_t now;
	struct store_metrics m;
	struct store_service_error *errors;
	size_t n_errors;
	cJSON *late; /* the most overdue jobs, rendered */
	int64_t awaiting; /* jobs whose approval is pending (four eyes) */
};

static void summary_clear(struct summary_src *src)
{
	store_metrics_clear(&src->m);
	store_service_errors_free(src->errors, src->n_errors);
	cJSON_Delete(src->late);
}

/* One overdue job: its id, tenant, state, deadline and how late it is. */
static int late_row(void *ctx, const struct job_record *j)
{
	struct summary_src *src = ctx;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "job_id", j->id);
	cJSON_AddStringToObject(o, "tenant_id", j->tenant_id);
	jobs_json_add_str(o, "tenant_name", j->tenant_name);
	cJSON_AddStringToObject(o, "state", jobs_job_state_name(j->state));
	jobs_json_add_time(o, "deadline_at", j->deadline_at);
	cJSON_AddNumberToObject(o, "late_seconds", (double)(src->now - j->deadline_at) / 1000.0);
	cJSON_AddItemToArray(src->late, o);
	return 0;
}

/* Counts a job waiting for its approval. */
static int awaiting_row(void *ctx, const struct job_record *j)
{
	(void)j;
	((struct summary_src *)ctx)->awaiting++;
	return 0;
}

/* Reads everything the summary shows; -1 (store error) with src cleared. */
static int summary_read(struct api *a, struct summary_src *src)
{
	const struct config *cfg = a->deps.cfg;
	struct store_list_filter f = { .overdue = 1, .late_first = 1, .limit = SUMMARY_LATE_JOBS };
	struct store_list_filter aw = { .awaiting_approval = 1 };

	memset(src, 0, sizeof *src);
	src->now = f.now = aw.now = clock_now_ms();
	src->late = cJSON_CreateArray();
	if (store_metrics_read(a->deps.store, src->now, (const char *const *)cfg->webhook_urls,
			       cfg->n_webhook_urls, &src->m) != STORE_OK) {
		cJSON_Delete(src->late);
		return -1;
	}
	if (store_job_list(a->deps.store, &f, late_row, src) != STORE_OK ||
	    store_job_list(a->deps.store, &aw, awaiting_row, src) != STORE_OK ||
	    store_service_errors(a->deps.store, src->now - SUMMARY_ERROR_WINDOW_MS, &src->errors,
				 &src->n_errors) != STORE_OK) {
		summary_clear(src);
		return -1;
	}
	return 0;
}

/* The service entry called name in arr, added (with its zeros) if new. */
static cJSON *service_entry(cJSON *arr, const char *name)
{
	cJSON *o, *att;

	cJSON_ArrayForEach(o, arr) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "service"));
		if (n != NULL && strcmp(n, name) == 0)
			return o;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "service", name);
	cJSON_AddStringToObject(o, "breaker", policy_breaker_state_name(BREAKER_CLOSED));
	att = cJSON_AddObjectToObject(o, "attempts");
	cJSON_AddNumberToObject(att, "success", 0);
	cJSON_AddNumberToObject(att, "retry", 0);
	cJSON_AddNumberToObject(att, "permanent", 0);
	cJSON_AddNullToObject(o, "latest_error");
	cJSON_AddItemToArray(arr, o);
	return o;
}

static cJSON *render_error(const struct store_service_error *e)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "job_id", e->job_id);
	jobs_json_add_str(o, "tenant_id", e->tenant_id);
	jobs_json_add_str(o, "error", e->error);
	jobs_json_add_time(o, "at", e->at);
	return o;
}

/* The configured services first (as /metrics lists them), then any other
 * that the store knows a breaker, an attempt or an error of. */
static cJSON *render_services(const struct config *cfg, const struct summary_src *src)
{
	const struct store_metrics *m = &src->m;
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].enabled)
			service_entry(arr, cfg->services[i].name);
	for (size_t i = 0; i < m->n_breakers; i++)
		cJSON_ReplaceItemInObjectCaseSensitive(
			service_entry(arr, m->breakers[i].service), "breaker",
			cJSON_CreateString(policy_breaker_state_name(m->breakers[i].state)));
	for (size_t i = 0; i < m->n_counters; i++) {
		const struct store_counter *c = &m->counters[i];
		cJSON *att;
		if (strcmp(c->name, "attempts") != 0 || c->service == NULL || c->label == NULL)
			continue;
		att = cJSON_GetObjectItemCaseSensitive(service_entry(arr, c->service), "attempts");
		cJSON_DeleteItemFromObjectCaseSensitive(att, c->label);
		cJSON_AddNumberToObject(att, c->label, (double)c->value);
	}
	for (size_t i = 0; i < src->n_errors; i++)
		cJSON_ReplaceItemInObjectCaseSensitive(service_entry(arr, src->errors[i].service),
						       "latest_error",
						       render_error(&src->errors[i]));
	return arr;
}

static cJSON *render_summary(const struct config *cfg, struct summary_src *src)
{
	const struct store_metrics *m = &src->m;
	cJSON *o = cJSON_CreateObject(), *jobs = cJSON_AddObjectToObject(o, "jobs");
	int64_t lag = m->oldest_due_at == INT64_MAX || m->oldest_due_at > src->now ?
		0 : src->now - m->oldest_due_at;

	jobs_json_add_time(o, "at", src->now);
	for (int i = 0; i < JOB_STATE_COUNT; i++)
		cJSON_AddNumberToObject(jobs, jobs_job_state_name((enum job_state)i),
					(double)m->jobs[i]);
	cJSON_AddNumberToObject(o, "overdue", (double)m->overdue);
	cJSON_AddItemToObject(o, "overdue_jobs", src->late);
	src->late = NULL;
	cJSON_AddNumberToObject(o, "awaiting_approval", (double)src->awaiting);
	cJSON_AddNumberToObject(o, "due_lag_seconds", (double)lag / 1000.0);
	cJSON_AddNumberToObject(o, "webhook_backlog", (double)m->webhook_backlog);
	cJSON_AddItemToObject(o, "services", render_services(cfg, src));
	return o;
}

int api_h_summary(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	struct summary_src src;
	cJSON *doc;

	if (summary_read(a, &src) < 0)
		return api_store_failed(a, ans);
	doc = render_summary(a->deps.cfg, &src);
	summary_clear(&src);
	return api_json(ans, 200, doc);
}
