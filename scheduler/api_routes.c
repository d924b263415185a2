/*
 * api_routes.c - the endpoints of DESIGN 6. Each one checks its input
 * (400 on anything unexpected, before anything is stored), calls the same
 * store functions as the CLI and renders records with jobs/record.h.
 */
#include "jobs/document.h"
#include "jobs/jobs.h"
#include "jobs/schedule.h"
#include "jobs/timefmt.h"
#include "scheduler/api_int.h"
#include "scheduler/metrics.h"
#include "store/store.h"
#include "util/log.h"
#include "util/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT_LIMIT 100
#define LIST_MAX_LIMIT 1000

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
static cJSON *parse_body(struct api_req *r, const char *const *allowed, int required,
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
static int get_str(const cJSON *o, const char *key, const char **out, struct api_answer *ans)
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

static int check_tenant(const char *id, struct api_answer *ans)
{
	const char *why = "";

	if (jobs_tenant_id_check(id, &why) < 0)
		return api_fail(ans, 400, "invalid tenant_id: %s", why), -1;
	return 0;
}

int api_store_failed(struct api *a, struct api_answer *ans)
{
	return api_fail(ans, 500, "database error: %s", store_last_error(a->deps.store));
}

int api_no_job(const char *id, struct api_answer *ans)
{
	return api_fail(ans, 404, "no such job: %.64s", id);
}

/* Tells the engine that work was written (it then looks at once). */
static void wrote(struct api *a)
{
	if (a->deps.wrote != NULL)
		a->deps.wrote(a->deps.wrote_ctx);
}

/* ---- answers ---- */

/* The job with its tasks (show --json) as the answer, with status. */
static int answer_job(struct api *a, const char *id, unsigned status, struct api_answer *ans)
{
	struct job_record j;
	struct task_record *t = NULL;
	size_t n = 0;
	int rc = store_job_get(a->deps.store, id, &j);

	if (rc == STORE_NOT_FOUND)
		return api_no_job(id, ans);
	if (rc != STORE_OK)
		return api_store_failed(a, ans);
	if (store_job_tasks(a->deps.store, id, &t, &n) != STORE_OK) {
		jobs_job_record_clear(&j);
		return api_store_failed(a, ans);
	}
	api_json(ans, status, jobs_render_job(&j, t, n));
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

/* Parses text, the value of field key, as an RFC 3339 time; -1 after a 400. */
static int get_time(const char *key, const char *text, int64_t *ms, struct api_answer *ans)
{
	if (timefmt_parse_time(text, ms) == 0)
		return 0;
	if (errno == ERANGE)
		return api_fail(ans, 400, "'%s' is outside 1970-01-01 .. 9999-12-31", key), -1;
	return api_fail(ans, 400, "'%s' is not an RFC 3339 time", key), -1;
}

/* due_at and deadline_at from "after" | "at" | "now" and "deadline"
 * (jobs/schedule.h, the rule the CLI follows too). */
static int job_times(struct api *a, const cJSON *o, int64_t now, struct store_new_job *nj,
		     struct api_answer *ans)
{
	struct jobs_schedule_req req = { .mode = JOBS_DUE_RETENTION,
					 .retention_ms = a->deps.cfg->retention_ms,
					 .deadline_ms = a->deps.cfg->deadline_ms };
	const char *after, *at, *deadline;
	const cJSON *nowv = cJSON_GetObjectItemCaseSensitive(o, "now");
	char err[200];

	if (get_str(o, "after", &after, ans) < 0 || get_str(o, "at", &at, ans) < 0 ||
	    get_str(o, "deadline", &deadline, ans) < 0)
		return -1;
	if (nowv != NULL && !cJSON_IsBool(nowv))
		return api_fail(ans, 400, "'now' must be true or false"), -1;
	if ((after != NULL) + (at != NULL) + cJSON_IsTrue(nowv) > 1)
		return api_fail(ans, 400, "give at most one of 'after', 'at', 'now'"), -1;
	if (after != NULL) {
		req.mode = JOBS_DUE_AFTER;
		if (timefmt_parse_duration(after, &req.after_ms) < 0)
			return api_fail(ans, 400, errno == ERANGE ? "'after' is longer than 100 years" :
					"'after' is not a duration (e.g. 30d, 12h, 1h30m)"), -1;
	} else if (at != NULL) {
		req.mode = JOBS_DUE_AT;
		if (get_time("at", at, &req.at_ms, ans) < 0)
			return -1;
	} else if (cJSON_IsTrue(nowv)) {
		req.mode = JOBS_DUE_NOW;
	}
	req.has_deadline = deadline != NULL;
	if (deadline != NULL && get_time("deadline", deadline, &req.deadline_at, ans) < 0)
		return -1;
	if (jobs_schedule_times(&req, now, &nj->due_at, &nj->deadline_at, err, sizeof err) < 0)
		return api_fail(ans, 400, "%s", err), -1;
	return 0;
}

static int h_create(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	static const char *const fields[] = {"tenant_id", "tenant_name", "requested_by",
					     "reason", "after", "at", "now", "deadline", NULL};
	struct store_new_job nj = {0};
	char ids[1][JOBS_ID_LEN + 1];
	int created = 0, rc = -1;
	int64_t now = clock_now_ms();
	struct store_service *svcs = NULL;
	size_t n_svcs;
	cJSON *o = parse_body(r, fields, 1, ans);

	if (o == NULL)
		return 0;
	if (get_str(o, "tenant_id", &nj.tenant_id, ans) < 0 ||
	    get_str(o, "tenant_name", &nj.tenant_name, ans) < 0 ||
	    get_str(o, "requested_by", &nj.requested_by, ans) < 0 ||
	    get_str(o, "reason", &nj.reason, ans) < 0 || job_times(a, o, now, &nj, ans) < 0)
		goto out;
	if (nj.tenant_id == NULL) {
		api_fail(ans, 400, "'tenant_id' is required");
		goto out;
	}
	if (check_tenant(nj.tenant_id, ans) < 0)
		goto out;
	if (api_actor(r, "requested_by", &nj.requested_by, ans) < 0)
		goto out;
	svcs = config_enabled_services(a->deps.cfg, &n_svcs);
	rc = store_schedule(a->deps.store, &nj, 1, svcs, n_svcs, now, ids, &created);
	if (rc != STORE_OK) {
		api_store_failed(a, ans);
	} else {
		if (created)
			wrote(a);
		answer_job(a, ids[0], created ? 201 : 200, ans);
	}
out:
	free(svcs);
	cJSON_Delete(o);
	return 0;
}

static int h_get(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	return answer_job(a, id, 200, ans);
}

/* ---- list ---- */

struct list_args {
	const char *tenant_id, *state, *limit;
	const char *bad, *why; /* the first parameter that is no filter, and why */
};

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			      size_t key_size, const char *value, size_t value_size)
{
	struct list_args *la = cls;
	const char **dst = NULL;

	if (la->bad != NULL)
		return MHD_YES;
	if (strcmp(key, "tenant_id") == 0)
		dst = &la->tenant_id;
	else if (strcmp(key, "state") == 0)
		dst = &la->state;
	else if (strcmp(key, "limit") == 0)
		dst = &la->limit;
	/* A decoded %00 would cut a value short unseen: the sizes tell. */
	if (dst == NULL || strlen(key) != key_size)
		la->why = "is unknown";
	else if (*dst != NULL)
		la->why = "is given twice";
	else if (value == NULL || value[0] == '\0')
		la->why = "is empty";
	else if (strlen(value) != value_size)
		la->why = "contains a NUL";
	else
		*dst = value;
	if (la->why != NULL)
		la->bad = key;
	return MHD_YES;
}

static int list_row(void *ctx, const struct job_record *j)
{
	cJSON_AddItemToArray(ctx, jobs_render_job(j, NULL, 0));
	return 0;
}

static int h_list(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	struct list_args la = {0};
	struct store_list_filter f = {0};
	enum job_state st;
	cJSON *arr;

	MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, on_arg, &la);
	if (la.bad != NULL)
		return api_fail(ans, 400, "query parameter '%.64s' %s", la.bad, la.why);
	if (la.tenant_id != NULL && check_tenant(la.tenant_id, ans) < 0)
		return 0;
	if (la.state != NULL && jobs_job_state_parse(la.state, &st) < 0)
		return api_fail(ans, 400, "unknown state '%.32s'", la.state);
	f.limit = LIST_DEFAULT_LIMIT;
	if (la.limit != NULL) {
		char *end;
		long v;
		errno = 0;
		v = strtol(la.limit, &end, 10);
		if (errno != 0 || *end != '\0' || v < 1 || v > LIST_MAX_LIMIT)
			return api_fail(ans, 400, "'limit' must be an integer from 1 to %d",
					LIST_MAX_LIMIT);
		f.limit = (int)v;
	}
	f.tenant_id = la.tenant_id;
	f.state = la.state;
	f.now = clock_now_ms();
	arr = cJSON_CreateArray();
	if (store_job_list(a->deps.store, &f, list_row, arr) != STORE_OK) {
		cJSON_Delete(arr);
		return api_store_failed(a, ans);
	}
	return api_json(ans, 200, arr);
}

/* ---- transitions ---- */

/* The answer to a transition's store result. */
static int transition_answer(struct api *a, int rc, const char *id, const char *verb,
			     struct job_record *j, struct api_answer *ans)
{
	if (rc == STORE_OK) {
		wrote(a);
		answer_job(a, id, 200, ans);
	} else if (rc == STORE_NOT_FOUND)
		api_no_job(id, ans);
	else if (rc == STORE_REFUSED && strcmp(verb, "retry") == 0 && j->state != JOB_HELD &&
		 !jobs_job_is_terminal(j->state))
		api_fail(ans, 409, "job %s is %s with no dead task to retry", id,
			 jobs_job_state_name(j->state));
	else if (rc == STORE_REFUSED)
		api_fail(ans, 409, "job %s is %s: cannot %s it", id, jobs_job_state_name(j->state),
			 verb);
	else
		api_store_failed(a, ans);
	jobs_job_record_clear(j);
	return 0;
}

/* Runs the transition verb; *rc receives the store's answer. -1 on bad input (400 filled). */
static int do_transition(struct api *a, struct api_req *r, const char *id, const char *verb,
			 const cJSON *o, struct job_record *j, int *rc, struct api_answer *ans)
{
	const char *by, *reason, *service;
	struct store_service *svcs;
	size_t n;
	int64_t now = clock_now_ms();

	if (get_str(o, "by", &by, ans) < 0 || get_str(o, "reason", &reason, ans) < 0 ||
	    get_str(o, "service", &service, ans) < 0)
		return -1;
	if (api_actor(r, "by", &by, ans) < 0)
		return -1;
	if (strcmp(verb, "hold") == 0 &&
	    jobs_action_check_input(&(struct job_action_ask){ .act = JOB_ACT_HOLD,
							      .reason = reason }, NULL) < 0)
		return api_fail(ans, 400, "hold needs a non-empty 'reason'"), -1;
	if (strcmp(verb, "cancel") == 0) {
		svcs = config_enabled_services(a->deps.cfg, &n);
		*rc = store_job_cancel(a->deps.store, id, by, reason, svcs, n, now, j);
		free(svcs);
	} else if (strcmp(verb, "hold") == 0) {
		*rc = store_job_hold(a->deps.store, id, by, reason, now, j);
	} else if (strcmp(verb, "release") == 0) {
		*rc = store_job_release(a->deps.store, id, by, now, j);
	} else {
		*rc = store_job_retry(a->deps.store, id, service, by, now, j);
	}
	return 0;
}

/* A transition endpoint: its body holds only the given fields (all optional). */
static int h_action(struct api *a, struct api_req *r, const char *id, const char *verb,
		    const char *const *fields, struct api_answer *ans)
{
	struct job_record j = {0};
	cJSON *o = parse_body(r, fields, 0, ans);
	int rc = STORE_ERR, bad;

	if (o == NULL)
		return 0;
	bad = do_transition(a, r, id, verb, o, &j, &rc, ans);
	cJSON_Delete(o);
	if (bad < 0)
		return 0;
	return transition_answer(a, rc, id, verb, &j, ans);
}

static int h_cancel(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	static const char *const f[] = {"by", "reason", NULL};
	return h_action(a, r, id, "cancel", f, ans);
}

static int h_hold(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	static const char *const f[] = {"by", "reason", NULL};
	return h_action(a, r, id, "hold", f, ans);
}

static int h_release(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	static const char *const f[] = {"by", NULL};
	return h_action(a, r, id, "release", f, ans);
}

static int h_retry(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	static const char *const f[] = {"by", "service", NULL};
	return h_action(a, r, id, "retry", f, ans);
}

/* ---- preview: answered when the engine's preview ends ---- */

static void on_preview_done(void *arg, cJSON *result)
{
	struct api_preview_ticket *t = arg;
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
	struct api_preview_ticket *t;

	if (check_tenant(tenant, ans) < 0)
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

/* ---- routing ---- */

typedef int (*handler_fn)(struct api *a, struct api_req *r, const char *param,
			  struct api_answer *ans);

/* A path pattern: segments, "*" matching one non-empty segment (the param). */
struct route {
	const char *method;
	const char *pattern;
	handler_fn fn;
	int job_param; /* the param is a job id: 404 when not shaped like one */
};

static const struct route ROUTES[] = {
	{"GET", "/healthz", h_healthz, 0},
	{"GET", "/metrics", h_metrics, 0},
	{"POST", "/v1/jobs", h_create, 0},
	{"GET", "/v1/jobs", h_list, 0},
	{"GET", "/v1/jobs/*", h_get, 1},
	{"POST", "/v1/jobs/*/cancel", h_cancel, 1},
	{"POST", "/v1/jobs/*/hold", h_hold, 1},
	{"POST", "/v1/jobs/*/release", h_release, 1},
	{"POST", "/v1/jobs/*/retry", h_retry, 1},
	{"GET", "/v1/jobs/*/events", api_h_events, 1},
	{"GET", "/v1/jobs/*/certificate", api_h_certificate, 1},
	{"GET", "/v1/tenants/*/preview", h_preview, 0},
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
		return rt->fn(a, r, param, ans);
	}
	if (allow[0] != '\0') {
		api_fail(ans, 405, "method %.16s not allowed on %.200s", r->method, r->path);
		snprintf(ans->allow, sizeof ans->allow, "%s", allow);
		return 0;
	}
	return api_fail(ans, 404, "no such route: %.200s", r->path);
}
