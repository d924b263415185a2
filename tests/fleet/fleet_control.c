/*
 * fleet_control.c - the /_fleet/ control API (no auth, JSON bodies):
 *
 *   POST /_fleet/seed {"tenant_id", "rows": {svc: {table: n}}}  add rows
 *   GET  /_fleet/tenants/{id}          the tenant's rows and suspensions
 *   POST /_fleet/users {"user_id", "memberships", "auth"}  add or extend a user
 *   GET  /_fleet/users/{id}            the user's memberships and auth rows
 *   POST /_fleet/fault {...}           queue a fault
 *   GET  /_fleet/faults                the queued faults
 *   POST /_fleet/faults/clear          drop every queued fault
 *   POST /_fleet/reset                 faults, rows, users and request log
 *   POST /_fleet/reset-log             the request log (and counters)
 *   GET  /_fleet/requests[?since=SEQ]  the request log
 *   GET  /_fleet/stats                 request and in-flight counters
 *   GET  /_fleet/health                {"ok": true}
 */
#include "tests/fleet/fleet.h"
#include "util/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void reply_error(struct fleet_reply *out, int status, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", msg);
	fleet_reply_json(out, status, o);
}

static void reply_ok(struct fleet_reply *out)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", true);
	fleet_reply_json(out, 200, o);
}

static bool is_count(const cJSON *v, double min)
{
	return cJSON_IsNumber(v) && v->valuedouble >= min &&
	       v->valuedouble <= 1e15 && floor(v->valuedouble) == v->valuedouble;
}

/* Checks {table: n} for service s; NULL when good, else a message. */
static const char *tables_check(int s, const cJSON *tables)
{
	const cJSON *tbl;
	if (!cJSON_IsObject(tables))
		return "table counts must be an object {table: n}";
	cJSON_ArrayForEach(tbl, tables) {
		if (fleet_table_find(s, tbl->string) < 0)
			return "unknown table for that service";
		if (!is_count(tbl, 0))
			return "table counts are non-negative integers";
	}
	return NULL;
}

/* Adds {table: n} (checked; NULL: the service's defaults) to rows. */
static void tables_add(int s, int64_t *rows, const cJSON *tables)
{
	const cJSON *tbl;
	if (tables == NULL) {
		for (int i = 0; i < FLEET_MAX_TABLES && fleet_services[s].tables[i] != NULL; i++)
			rows[i] += fleet_services[s].defaults[i];
		return;
	}
	cJSON_ArrayForEach(tbl, tables)
		rows[fleet_table_find(s, tbl->string)] += (int64_t)tbl->valuedouble;
}

/* Checks a seed's "rows" object; NULL when good, else a message. */
static const char *seed_check(const cJSON *rows)
{
	const cJSON *svc;
	const char *err;
	if (!cJSON_IsObject(rows))
		return "rows must be an object";
	cJSON_ArrayForEach(svc, rows) {
		int s = fleet_service_find(svc->string);
		if (s < 0)
			return "rows: unknown service";
		if ((err = tables_check(s, svc)) != NULL)
			return err;
	}
	return NULL;
}

static void seed_apply(struct fleet_tenant *t, const cJSON *rows)
{
	const cJSON *svc;
	if (rows == NULL) {
		for (size_t s = 0; s < fleet_service_count; s++)
			tables_add((int)s, fleet_state_rows(t, (int)s), NULL);
		return;
	}
	cJSON_ArrayForEach(svc, rows) {
		int s = fleet_service_find(svc->string);
		tables_add(s, fleet_state_rows(t, s), svc);
	}
}

static void control_seed(struct fleet *f, const cJSON *req, struct fleet_reply *out)
{
	const cJSON *tid = cJSON_GetObjectItemCaseSensitive(req, "tenant_id");
	const cJSON *rows = cJSON_GetObjectItemCaseSensitive(req, "rows");
	const char *err;

	if (!cJSON_IsString(tid) || tid->valuestring[0] == '\0')
		return reply_error(out, 400, "tenant_id (a non-empty string) is required");
	if (cJSON_IsNull(rows))
		rows = NULL;
	if (rows != NULL && (err = seed_check(rows)) != NULL)
		return reply_error(out, 400, err);
	pthread_mutex_lock(&f->lock);
	seed_apply(fleet_state_tenant(f, tid->valuestring, true), rows);
	cJSON *state = fleet_state_tenant_json(f, tid->valuestring);
	pthread_mutex_unlock(&f->lock);
	fleet_reply_json(out, 200, state);
}

/* Checks a user's "memberships" array; NULL when good, else a message. */
static const char *memberships_check(const cJSON *ms)
{
	const cJSON *m, *prev;

	if (!cJSON_IsArray(ms))
		return "memberships must be an array";
	cJSON_ArrayForEach(m, ms) {
		const cJSON *tid = cJSON_GetObjectItemCaseSensitive(m, "tenant_id");
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		if (!cJSON_IsObject(m) || !cJSON_IsString(tid) || tid->valuestring[0] == '\0')
			return "memberships: each is {\"tenant_id\", \"role\"} with a non-empty tenant_id";
		if (!cJSON_IsString(role) || fleet_role_parse(role->valuestring) < 0)
			return "memberships: role must be owner, admin or member";
		for (prev = ms->child; prev != m; prev = prev->next)
			if (strcmp(cJSON_GetObjectItemCaseSensitive(prev, "tenant_id")->valuestring,
				   tid->valuestring) == 0)
				return "memberships: a tenant is listed twice";
	}
	return NULL;
}

static void control_users(struct fleet *f, const cJSON *req, struct fleet_reply *out)
{
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(req, "user_id");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(req, "memberships");
	const cJSON *auth = cJSON_GetObjectItemCaseSensitive(req, "auth");
	int auth_svc = fleet_service_find_any("auth");
	const cJSON *m;
	const char *err = NULL;

	if (!cJSON_IsString(uid) || uid->valuestring[0] == '\0')
		return reply_error(out, 400, "user_id (a non-empty string) is required");
	if (cJSON_IsNull(ms))
		ms = NULL;
	if (cJSON_IsNull(auth))
		auth = NULL;
	if ((ms != NULL && (err = memberships_check(ms)) != NULL) ||
	    (auth != NULL && (err = tables_check(auth_svc, auth)) != NULL))
		return reply_error(out, 400, err);
	pthread_mutex_lock(&f->lock);
	struct fleet_user *u = fleet_users_get(f, uid->valuestring, false);
	if (u == NULL || auth != NULL) /* a new user gets the default rows */
		tables_add(auth_svc, fleet_users_get(f, uid->valuestring, true)->auth, auth);
	cJSON_ArrayForEach(m, ms) {
		const char *role = cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring;
		fleet_users_join(f, uid->valuestring,
				 cJSON_GetObjectItemCaseSensitive(m, "tenant_id")->valuestring,
				 (enum fleet_role)fleet_role_parse(role));
	}
	cJSON *state = fleet_users_json(f, uid->valuestring);
	pthread_mutex_unlock(&f->lock);
	fleet_reply_json(out, 200, state);
}

static const char *fault_strings(struct fleet_fault *ft, const cJSON *req)
{
	const cJSON *tid = cJSON_GetObjectItemCaseSensitive(req, "tenant_id");
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(req, "user_id");
	const cJSON *ra = cJSON_GetObjectItemCaseSensitive(req, "retry_after");
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(req, "body");
	const cJSON *pct = cJSON_GetObjectItemCaseSensitive(req, "body_pct");

	if (uid != NULL && !cJSON_IsNull(uid)) { /* the path id of a user route */
		if (tid != NULL && !cJSON_IsNull(tid))
			return "give tenant_id or user_id, not both";
		tid = uid;
	}
	if (tid != NULL && !cJSON_IsNull(tid)) {
		if (!cJSON_IsString(tid))
			return "tenant_id and user_id must be strings";
		ft->tenant_id = xstrdup(tid->valuestring);
	}
	if (cJSON_IsString(ra))
		ft->retry_after = xstrdup(ra->valuestring);
	else if (is_count(ra, 0))
		ft->retry_after = xasprintf("%lld", (long long)ra->valuedouble);
	else if (ra != NULL && !cJSON_IsNull(ra))
		return "retry_after must be a string or a number";
	if (cJSON_IsString(body))
		ft->body = xstrdup(body->valuestring);
	else if (body != NULL && !cJSON_IsNull(body))
		ft->body = cJSON_PrintUnformatted(body); /* a JSON value: sent as JSON */
	if (pct != NULL && !cJSON_IsNull(pct)) {
		/* bytes JSON cannot carry (invalid UTF-8), percent-encoded */
		free(ft->body);
		ft->body = cJSON_IsString(pct) ? fleet_percent_decode(pct->valuestring,
								      strlen(pct->valuestring))
					       : NULL;
		if (ft->body == NULL)
			return "body_pct must be a percent-encoded string without %00";
	}
	return NULL;
}

/* Reads an optional integer field into *dst; NULL when good. */
static const char *fault_int(const cJSON *req, const char *key, double min, int64_t *dst)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	if (!is_count(v, min))
		return key;
	*dst = (int64_t)v->valuedouble;
	return NULL;
}

static const char *fault_parse(struct fleet_fault *ft, const cJSON *req)
{
	const cJSON *svc = cJSON_GetObjectItemCaseSensitive(req, "service");
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(req, "op");
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(req, "mode");
	int64_t count = 1, status = 500, delay = -1, remaining = 1;
	int v;

	if (!cJSON_IsString(svc))
		return "service is required (a service name, or \"*\")";
	ft->service = strcmp(svc->valuestring, "*") == 0 ? -1
		      : fleet_service_find_any(svc->valuestring);
	if (ft->service < 0 && strcmp(svc->valuestring, "*") != 0)
		return "unknown service";
	ft->op = OP_ANY;
	if (op != NULL && (!cJSON_IsString(op) || (v = fleet_op_parse(op->valuestring)) < 0))
		return "op must be delete, preview, suspend, restore, discover or any";
	if (op != NULL)
		ft->op = (enum fleet_op)v;
	if (!cJSON_IsString(mode) || (v = fleet_mode_parse(mode->valuestring)) < 0)
		return "mode is required: status, hang, slow, garbage, success_false, "
		       "underdelete, notfound, empty204, toplevel, big, down or raw";
	ft->mode = (enum fleet_mode)v;
	if (fault_int(req, "count", -1, &count) != NULL || count == 0)
		return "count must be -1 or a positive integer";
	if (fault_int(req, "status", 100, &status) != NULL || status > 599)
		return "status must be an HTTP status (100-599)";
	if (fault_int(req, "delay_ms", 0, &delay) != NULL)
		return "delay_ms must be a non-negative integer";
	if (fault_int(req, "remaining", 0, &remaining) != NULL)
		return "remaining must be a non-negative integer";
	ft->count = (int)(count > 1000000000 ? 1000000000 : count);
	ft->status = (int)status;
	ft->delay_ms = delay;
	ft->remaining = remaining;
	return fault_strings(ft, req);
}

static void control_fault(struct fleet *f, const cJSON *req, struct fleet_reply *out)
{
	struct fleet_fault *ft = xcalloc(1, sizeof *ft);
	const char *err = fault_parse(ft, req);
	cJSON *o;

	if (err != NULL) {
		fleet_fault_clear(ft);
		free(ft);
		return reply_error(out, 400, err);
	}
	pthread_mutex_lock(&f->lock);
	fleet_state_add_fault(f, ft);
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", true);
	cJSON_AddNumberToObject(o, "id", (double)ft->id);
	pthread_mutex_unlock(&f->lock);
	fleet_reply_json(out, 200, o);
}

/* GET tenants/{id} or users/{id}: the state of one tenant or user. */
static void control_state(struct fleet *f, const char *raw, bool user,
			  struct fleet_reply *out)
{
	char *id = strchr(raw, '/') ? NULL : fleet_percent_decode(raw, strlen(raw));
	if (id == NULL || id[0] == '\0') {
		free(id);
		return reply_error(out, 404, "no such route");
	}
	pthread_mutex_lock(&f->lock);
	cJSON *state = user ? fleet_users_json(f, id) : fleet_state_tenant_json(f, id);
	pthread_mutex_unlock(&f->lock);
	free(id);
	fleet_reply_json(out, 200, state);
}

static void control_get(struct fleet *f, struct fleet_request *rq,
			const char *what, struct fleet_reply *out)
{
	if (strncmp(what, "tenants/", 8) == 0)
		return control_state(f, what + 8, false, out);
	if (strncmp(what, "users/", 6) == 0)
		return control_state(f, what + 6, true, out);
	if (strcmp(what, "health") == 0)
		return reply_ok(out);
	pthread_mutex_lock(&f->lock);
	if (strcmp(what, "requests") == 0) {
		int64_t since = rq->query_since ? strtoll(rq->query_since, NULL, 10) : 0;
		out->status = 200;
		out->body = fleet_state_log_text(f, since);
		out->body_len = strlen(out->body);
		out->content_type = "application/json";
	} else if (strcmp(what, "stats") == 0) {
		fleet_reply_json(out, 200, fleet_state_stats_json(f));
	} else if (strcmp(what, "faults") == 0) {
		fleet_reply_json(out, 200, fleet_state_faults_json(f));
	} else {
		reply_error(out, 404, "no such route");
	}
	pthread_mutex_unlock(&f->lock);
}

/* POSTs that take no body. Returns false when what is none of them. */
static bool control_action(struct fleet *f, const char *what, struct fleet_reply *out)
{
	pthread_mutex_lock(&f->lock);
	if (strcmp(what, "reset") == 0) {
		fleet_state_clear_faults(f);
		fleet_state_clear_tenants(f);
		fleet_users_clear(f);
		fleet_state_clear_log(f);
	} else if (strcmp(what, "reset-log") == 0) {
		fleet_state_clear_log(f);
	} else if (strcmp(what, "faults/clear") == 0) {
		fleet_state_clear_faults(f);
	} else {
		pthread_mutex_unlock(&f->lock);
		return false;
	}
	pthread_mutex_unlock(&f->lock);
	reply_ok(out);
	return true;
}

void fleet_route_control(struct fleet *f, struct fleet_request *rq,
			 const char *body, size_t body_len, struct fleet_reply *out)
{
	const char *what = rq->path + strlen("/_fleet/");
	cJSON *req;

	if (strcmp(rq->method, "GET") == 0)
		return control_get(f, rq, what, out);
	if (strcmp(rq->method, "POST") != 0)
		return reply_error(out, 405, "use GET or POST");
	if (control_action(f, what, out))
		return;
	if (strcmp(what, "seed") != 0 && strcmp(what, "fault") != 0 &&
	    strcmp(what, "users") != 0)
		return reply_error(out, 404, "no such route");
	req = cJSON_ParseWithLength(body ? body : "", body_len);
	if (!cJSON_IsObject(req)) {
		cJSON_Delete(req);
		return reply_error(out, 400, "the body must be a JSON object");
	}
	if (strcmp(what, "seed") == 0)
		control_seed(f, req, out);
	else if (strcmp(what, "users") == 0)
		control_users(f, req, out);
	else
		control_fault(f, req, out);
	cJSON_Delete(req);
}
