/*
 * api_routes.c - the router of DESIGN 6 (a table of method, path pattern
 * and handler), the input checks and answers every endpoint shares, and
 * the small endpoints: /healthz, /metrics and a tenant's preview. The
 * jobs' endpoints are in api_jobs.c and api_list.c, the summary in
 * api_summary.c, the audit trail and certificate in api_proof.c. Each
 * endpoint checks its input (400 on anything unexpected, before anything
 * is stored) and calls the same store functions as the CLI.
 */
#include "jobs/document.h"
#include "jobs/jobs.h"
#include "jobs/subject.h"
#include "scheduler/api_int.h"
#include "scheduler/metrics.h"
#include "scheduler/recorder.h"
#include "store/store.h"
#include "util/log.h"
#include "util/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- input ---- */

/*
 * 1 when JSON text p[0..n) holds the escape \u0000. Escapes are read whole,
 * so an escaped backslash followed by "u0000" is text, not a NUL. (A
 * backslash outside a string makes the text invalid JSON anyway.)
 */
static int has_escaped_nul(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '\\')
			continue;
		if (p[i + 1] == 'u' && n - i >= 6 && memcmp(p + i + 2, "0000", 4) == 0)
			return 1;
		i++; /* the escaped character */
	}
	return 0;
}

/*
 * r's body as a JSON object whose keys are all in allowed (NULL-terminated).
 * An empty body is {} unless required. NULL after filling ans with a 400.
 */
cJSON *api_parse_body(struct api_req *r, const char *const *allowed, int required,
			 struct api_answer *ans)
{
	cJSON *o, *it;
	size_t bad_at;

	if (r->body.len == 0 && !required)
		return cJSON_CreateObject();
	if (r->body.len == 0) {
		api_fail(ans, 400, "a JSON object body is required");
		return NULL;
	}
	/* cJSON would cut a string at an escaped NUL: refuse it outright. */
	if (memchr(r->body.data, '\0', r->body.len) != NULL ||
	    has_escaped_nul(r->body.data, r->body.len)) {
		api_fail(ans, 400, "NUL characters are not allowed");
		return NULL;
	}
	if (utf8_check(r->body.data, r->body.len, &bad_at) < 0) {
		api_fail(ans, 400, "the body is not valid UTF-8 (byte %zu)", bad_at);
		return NULL;
	}
	/* body.data is NUL-terminated: length + 1 lets cJSON check that
	 * nothing follows the value. */
	o = cJSON_ParseWithLengthOpts(r->body.data, r->body.len + 1, NULL, 1);
	if (o == NULL || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		api_fail(ans, 400, "the body is not a JSON object");
		return NULL;
	}
	cJSON_ArrayForEach(it, o) {
		size_t i = 0;
		while (allowed[i] != NULL && strcmp(allowed[i], it->string) != 0)
			i++;
		if (allowed[i] == NULL) {
			api_fail(ans, 400, "unknown field '%.64s'", it->string);
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

/* o[key] as a string: *out = NULL when absent or null. -1 (400) on another type. */
int api_get_str(const cJSON *o, const char *key, const char **out, struct api_answer *ans)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return api_fail(ans, 400, "'%s' must be a string", key), -1;
	*out = v->valuestring;
	return 0;
}

int api_check_id(const char *field, const char *id, struct api_answer *ans)
{
	const char *why = "";

	if (jobs_tenant_id_check(id, &why) < 0)
		return api_fail(ans, 400, "invalid %s: %s", field, why), -1;
	return 0;
}

int api_store_failed(struct api *a, struct api_answer *ans)
{
	/* a lock held too long, a database unreachable for now: try again
	 * (503 with Retry-After); anything else is the server's fault */
	if (store_last_error_kind(a->deps.store) == STORE_E_BUSY)
		return api_fail(ans, MHD_HTTP_SERVICE_UNAVAILABLE, "database busy or unreachable: %s",
				store_last_error(a->deps.store));
	return api_fail(ans, 500, "database error: %s", store_last_error(a->deps.store));
}

int api_no_job(const char *id, struct api_answer *ans)
{
	return api_fail(ans, 404, "no such job: %.64s", id);
}

/* ---- answers ---- */

/* The job with its tasks (show --json) as the answer, with status. */
int api_answer_job(struct api *a, const char *id, unsigned status, struct api_answer *ans)
{
	struct job_record j = {0};
	struct task_record *t = NULL;
	struct subject_tenant *tn = NULL;
	size_t n = 0, n_tn = 0;
	int rc = store_job_get(a->deps.store, id, &j);

	if (rc == STORE_NOT_FOUND)
		return api_no_job(id, ans);
	if (rc == STORE_OK)
		rc = store_job_tasks(a->deps.store, id, &t, &n);
	if (rc == STORE_OK && j.kind == JOB_KIND_USER)
		rc = store_subject_tenants(a->deps.store, id, &tn, &n_tn);
	if (rc == STORE_OK)
		api_json(ans, status, subject_render_job(&j, t, n, tn, n_tn));
	else
		api_store_failed(a, ans);
	free(tn);
	jobs_task_records_free(t, n);
	jobs_job_record_clear(&j);
	return 0;
}

/* ---- endpoints ---- */

static int h_healthz(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", "ok");
	return api_json(ans, 200, o);
}

static int h_metrics(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	struct buf b;

	buf_init(&b);
	if (metrics_render(a->deps.store, a->deps.cfg, clock_now_ms(), &b) < 0) {
		buf_free(&b);
		return api_store_failed(a, ans);
	}
	ans->status = 200;
	ans->json = buf_steal(&b);
	ans->content_type = METRICS_CONTENT_TYPE;
	return 0;
}

/* ---- preview: answered when the engine's preview ends ---- */

static void on_preview_done(void *arg, cJSON *result)
{
	struct api_ticket *t = arg;
	struct api_req *r = t->req;
	struct api_answer ans = {0};

	free(t);
	if (r == NULL) { /* the client went away, or the API stopped */
		cJSON_Delete(result);
		return;
	}
	r->ticket = NULL;
	if (result == NULL)
		api_fail(&ans, 503, "preview failed");
	else
		api_json(&ans, 200, result);
	api_req_complete(r, &ans);
}

static int h_preview(struct api *a, struct api_req *r, const char *tenant,
		     struct api_answer *ans)
{
	struct api_ticket *t;

	if (api_check_id("tenant_id", tenant, ans) < 0)
		return 0;
	if (a->deps.preview == NULL)
		return api_fail(ans, 503, "preview is not available in this process");
	t = xcalloc(1, sizeof *t);
	t->req = r;
	r->ticket = t;
	if (a->deps.preview(a->deps.preview_ctx, tenant, on_preview_done, t) < 0) {
		r->ticket = NULL;
		free(t);
		return api_fail(ans, 503, "preview could not start");
	}
	return 1;
}

/* ---- handlers on the recorder's thread ---- */

typedef int (*handler_fn)(struct api *a, struct api_req *r, const char *param,
			  struct api_answer *ans);

#define API_STORE_BATCH 32 /* handlers given to the recorder at a time */

/*
 * A request whose handler uses the store: it runs on the engine's recorder
 * (so the loop, curl's sockets and the API itself never wait on the
 * store, nor on a write lock another process holds), and its answer comes
 * back on the loop. The handler reads the request (suspended meanwhile:
 * nothing else touches it), the store and the config (a reload swaps it
 * only while the recorder is idle).
 */
struct api_store_job {
	struct api_ticket t;
	handler_fn fn;
	char param[512];
	struct api_answer ans;
	int wrote;
	STAILQ_ENTRY(api_store_job) link;
};

/* The job whose handler runs on this thread (the recorder's), if any. */
static _Thread_local struct api_store_job *running_job;

/* Tells the engine that work was written (it then looks at once): from a
 * handler on the recorder's thread, once its answer is back on the loop. */
void api_wrote(struct api *a)
{
	if (running_job != NULL)
		running_job->wrote = 1;
	else if (a->deps.wrote != NULL)
		a->deps.wrote(a->deps.wrote_ctx);
}

/* The recorder's work: the batch's handlers, in order. */
static void store_jobs_work(void *arg)
{
	struct api *a = arg;
	struct api_store_job *j;

	STAILQ_FOREACH(j, &a->store_batch, link) {
		running_job = j;
		j->fn(a, j->t.req, j->param, &j->ans);
		running_job = NULL;
	}
}

/* On the loop: the batch's answers go out; the engine is told of writes. */
static void store_jobs_done(void *arg)
{
	struct api *a = arg;
	struct api_store_job *j;
	int wrote = 0;

	while ((j = STAILQ_FIRST(&a->store_batch)) != NULL) {
		STAILQ_REMOVE_HEAD(&a->store_batch, link);
		wrote |= j->wrote;
		if (j->t.req != NULL) {
			j->t.req->ticket = NULL;
			api_req_complete(j->t.req, &j->ans);
		}
		free(j->ans.json);
		free(j);
	}
	a->store_busy = 0;
	if (wrote)
		api_wrote(a);
}

/*
 * Gives the queue's first handlers to the recorder, one batch at a time.
 * A prepare watcher of the lowest priority: it runs after the engine's,
 * which gives its own work only when the recorder is idle; so the two
 * take turns, and a stream of requests never starves the engine.
 */
static void store_give_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct api *a = w->data;
	struct api_store_job *j;

	if (a->store_busy)
		return;
	if (STAILQ_EMPTY(&a->store_queue)) {
		ev_prepare_stop(loop, w);
		return;
	}
	for (int i = 0; i < API_STORE_BATCH && (j = STAILQ_FIRST(&a->store_queue)) != NULL; i++) {
		STAILQ_REMOVE_HEAD(&a->store_queue, link);
		STAILQ_INSERT_TAIL(&a->store_batch, j, link);
	}
	a->store_busy = 1;
	recorder_run(a->deps.rec, store_jobs_work, store_jobs_done, a);
}

/* Queues fn for the recorder; r is suspended until its answer is back. 1. */
static int defer_to_store(struct api *a, struct api_req *r, handler_fn fn, const char *param)
{
	struct api_store_job *j = xcalloc(1, sizeof *j);

	j->t.req = r;
	j->fn = fn;
	snprintf(j->param, sizeof j->param, "%s", param);
	r->ticket = &j->t;
	STAILQ_INSERT_TAIL(&a->store_queue, j, link);
	ev_prepare_start(a->loop, &a->store_give);
	return 1;
}

void api_store_jobs_init(struct api *a)
{
	STAILQ_INIT(&a->store_queue);
	STAILQ_INIT(&a->store_batch);
	ev_prepare_init(&a->store_give, store_give_cb);
	ev_set_priority(&a->store_give, EV_MINPRI);
	a->store_give.data = a;
}

void api_store_jobs_stop(struct api *a)
{
	struct api_store_job *j;

	if (a->store_busy)
		recorder_wait(a->deps.rec); /* its done callback answers the batch */
	ev_prepare_stop(a->loop, &a->store_give);
	while ((j = STAILQ_FIRST(&a->store_queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&a->store_queue, link);
		if (j->t.req != NULL)
			j->t.req->ticket = NULL;
		free(j);
	}
}

/* ---- routing ---- */

/* A path pattern: segments, "*" matching one non-empty segment (the param). */
struct route {
	const char *method;
	const char *pattern;
	handler_fn fn;
	int job_param; /* the param is a job id: 404 when not shaped like one */
	int store;     /* the handler uses the store: run on the recorder */
};

static const struct route ROUTES[] = {
	{"GET", "/healthz", h_healthz, 0, 0},
	{"GET", "/metrics", h_metrics, 0, 1},
	{"GET", "/v1/summary", api_h_summary, 0, 1},
	{"POST", "/v1/jobs", api_h_create, 0, 1},
	{"GET", "/v1/jobs", api_h_list, 0, 1},
	{"GET", "/v1/jobs/*", api_h_get, 1, 1},
	{"POST", "/v1/jobs/*/cancel", api_h_cancel, 1, 1},
	{"POST", "/v1/jobs/*/hold", api_h_hold, 1, 1},
	{"POST", "/v1/jobs/*/release", api_h_release, 1, 1},
	{"POST", "/v1/jobs/*/retry", api_h_retry, 1, 1},
	{"POST", "/v1/jobs/*/approve", api_h_approve, 1, 1},
	{"GET", "/v1/jobs/*/events", api_h_events, 1, 1},
	{"GET", "/v1/jobs/*/certificate", api_h_certificate, 1, 1},
	{"GET", "/v1/tenants/*/preview", h_preview, 0, 0},
};

/* 1 when path matches pattern; the "*" segment is copied into param. */
static int match(const char *pattern, const char *path, char *param, size_t paramlen)
{
	while (*pattern != '\0' && *path != '\0') {
		if (*pattern == '*') {
			size_t n = strcspn(path, "/");
			if (n == 0 || n >= paramlen)
				return 0;
			memcpy(param, path, n);
			param[n] = '\0';
			path += n;
			pattern++;
		} else if (*pattern++ != *path++) {
			return 0;
		}
	}
	return *pattern == '\0' && *path == '\0';
}

int api_route(struct api *a, struct api_req *r, struct api_answer *ans)
{
	char param[512]; /* longer than any valid id: the check names the problem */
	char allow[sizeof ans->allow] = "";

	for (size_t i = 0; i < ARRAY_LEN(ROUTES); i++) {
		const struct route *rt = &ROUTES[i];
		if (!match(rt->pattern, r->path, param, sizeof param))
			continue;
		if (strcmp(rt->method, r->method) != 0) {
			size_t len = strlen(allow);
			snprintf(allow + len, sizeof allow - len, "%s%s", len ? ", " : "",
				 rt->method);
			continue;
		}
		if (rt->job_param && jobs_id_check(param) < 0)
			return api_no_job(param, ans);
		if (rt->store && a->deps.rec != NULL)
			return defer_to_store(a, r, rt->fn, param);
		return rt->fn(a, r, param, ans);
	}
	if (allow[0] != '\0') {
		api_fail(ans, 405, "method %.16s not allowed on %.200s", r->method, r->path);
		snprintf(ans->allow, sizeof ans->allow, "%s", allow);
		return 0;
	}
	return api_fail(ans, 404, "no such route: %.200s", r->path);
}

