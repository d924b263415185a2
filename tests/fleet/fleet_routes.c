/*
 * fleet_routes.c - the service routes of the fake fleet:
 *
 *   DELETE /api/v1/{seg}/tenant/{id}                    delete
 *   GET    /api/v1/{seg}/tenant/{id}/deletion-preview   preview
 *   POST   /api/v1/{seg}/tenant/{id}/suspend | /restore suspend, restore
 *   DELETE /api/v1/tenants/{id}, GET .../deletion-preview, POST .../suspend
 *          | /restore                                    the tenant service
 *
 * and the user routes of fleet_users.c. Injected faults are applied here,
 * after the bearer token is checked.
 */
#include "tests/fleet/fleet.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BIG_BODY_BYTES (2u * 1024 * 1024)
#define HANG_DEFAULT_MS (3600LL * 1000)
#define SLOW_DEFAULT_MS 1000LL

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *fleet_percent_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[j++] = s[i];
			continue;
		}
		int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
		int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		out[j++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[j] = '\0';
	return out;
}

/* Splits "a/b/c" (no leading slash) into at most max raw segments. */
static int split_path(const char *p, const char **seg, size_t *len, int max)
{
	int n = 0;
	while (n < max) {
		const char *slash = strchr(p, '/');
		seg[n] = p;
		len[n] = slash ? (size_t)(slash - p) : strlen(p);
		n++;
		if (slash == NULL)
			return n;
		p = slash + 1;
	}
	return max + 1; /* too many */
}

bool fleet_seg_is(const char *seg, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(seg, word, len) == 0;
}

/* Sets op and method_ok from the route's suffix (NULL: the bare id). */
static void route_op(struct fleet_request *rq, const char *suffix, size_t len)
{
	static const struct { const char *suffix, *method; enum fleet_op op; } ops[] = {
		{NULL, "DELETE", OP_DELETE},
		{"deletion-preview", "GET", OP_PREVIEW},
		{"suspend", "POST", OP_SUSPEND},
		{"restore", "POST", OP_RESTORE},
	};
	for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
		if ((suffix == NULL) != (ops[i].suffix == NULL))
			continue;
		if (suffix != NULL && !fleet_seg_is(suffix, len, ops[i].suffix))
			continue;
		rq->known_route = true;
		rq->op = ops[i].op;
		rq->method_ok = strcmp(rq->method, ops[i].method) == 0 ||
				(ops[i].op == OP_PREVIEW && strcmp(rq->method, "HEAD") == 0);
		return;
	}
}

void fleet_route_parse(struct fleet_request *rq)
{
	const char *seg[8];
	size_t len[8];
	int n, id_at;

	rq->service = -1;
	rq->op = OP_NONE;
	if (strncmp(rq->path, "/_fleet/", 8) == 0) {
		rq->control = true;
		return;
	}
	if (strncmp(rq->path, "/api/v1/", 8) != 0)
		return;
	n = split_path(rq->path + 8, seg, len, 6);
	if (n < 2 || n > 5 || fleet_users_route_parse(rq, seg, len, n))
		return;
	for (size_t s = 0; s < fleet_service_count; s++)
		if (fleet_seg_is(seg[0], len[0], fleet_services[s].seg))
			rq->service = (int)s;
	if (rq->service < 0)
		return;
	if (strcmp(fleet_services[rq->service].seg, "tenants") == 0) {
		id_at = 1;
	} else {
		if (n < 3 || !fleet_seg_is(seg[1], len[1], "tenant"))
			goto unknown;
		id_at = 2;
	}
	if (n > id_at + 2 || len[id_at] == 0)
		goto unknown;
	rq->tenant_id = fleet_percent_decode(seg[id_at], len[id_at]);
	if (rq->tenant_id == NULL || rq->tenant_id[0] == '\0')
		goto unknown;
	if (n == id_at + 2)
		route_op(rq, seg[id_at + 1], len[id_at + 1]);
	else
		route_op(rq, NULL, 0);
	if (rq->known_route)
		return;
unknown:
	/* keep the service for the log: a wrong path to a known service */
	free(rq->tenant_id);
	rq->tenant_id = NULL;
	rq->op = OP_NONE;
}

void fleet_reply_json(struct fleet_reply *out, int status, cJSON *json)
{
	out->status = status;
	out->body = cJSON_PrintUnformatted(json);
	out->body_len = strlen(out->body);
	out->content_type = "application/json";
	cJSON_Delete(json);
}

cJSON *fleet_detail_json(const char *detail)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "detail", detail);
	return o;
}

static void reply_detail(struct fleet_reply *out, int status, const char *detail)
{
	fleet_reply_json(out, status, fleet_detail_json(detail));
}

/* The name of the request's path id in answers. */
static const char *id_key(const struct fleet_request *rq)
{
	int usvc = rq->service - (int)fleet_service_count;
	return usvc >= 0 && usvc != FLEET_USVC_ADMINS ? "user_id" : "tenant_id";
}

/* The service's name in its answers: the user routes answer as the tenant
 * service, but for the auth service's. */
static const char *reply_name(int service)
{
	int usvc = service - (int)fleet_service_count;
	if (usvc < 0 || usvc == FLEET_USVC_AUTH)
		return fleet_services[service].seg;
	return "tenants";
}

static void rfc3339_now(char *ts, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Counts of each table of a service as a JSON object; sums them in total. */
static cJSON *counts_json(int service, const int64_t *counts, int64_t *total)
{
	const struct fleet_service *svc = &fleet_services[service];
	cJSON *o = cJSON_CreateObject();
	*total = 0;
	for (int i = 0; i < FLEET_MAX_TABLES && svc->tables[i] != NULL; i++) {
		cJSON_AddNumberToObject(o, svc->tables[i], (double)counts[i]);
		*total += counts[i];
	}
	return o;
}

void fleet_take_rows(int64_t *rows, int64_t keep, int64_t *removed)
{
	for (int i = 0; i < FLEET_MAX_TABLES; i++) {
		int64_t left = (i == 0 && keep > 0) ? (rows[i] < keep ? rows[i] : keep) : 0;
		removed[i] = rows[i] - left;
		rows[i] = left;
	}
}

/* Removes the tenant's rows in one service, leaving keep in table 0. */
static void delete_rows(struct fleet *f, int service, const char *id,
			int64_t keep, int64_t *removed)
{
	struct fleet_tenant *t = fleet_state_tenant(f, id, false);
	memset(removed, 0, sizeof(int64_t) * FLEET_MAX_TABLES);
	if (t != NULL)
		fleet_take_rows(fleet_state_rows(t, service), keep, removed);
}

cJSON *fleet_delete_answer(const char *id_key, const char *id, int service,
			   const int64_t *removed, bool toplevel)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *where = root;
	char ts[32];
	int64_t total;

	rfc3339_now(ts, sizeof ts);
	cJSON_AddStringToObject(root, "message", strcmp(id_key, "user_id") == 0
				? "User data deletion completed"
				: "Tenant data deletion completed");
	if (!toplevel)
		where = cJSON_AddObjectToObject(root, "summary");
	cJSON_AddStringToObject(where, id_key, id);
	cJSON_AddStringToObject(where, "service_name", reply_name(service));
	cJSON_AddBoolToObject(where, "success", true);
	cJSON_AddItemToObject(where, "deleted_counts", counts_json(service, removed, &total));
	cJSON_AddNumberToObject(where, "total_deleted", (double)total);
	cJSON_AddArrayToObject(where, "errors");
	cJSON_AddStringToObject(where, "timestamp", ts);
	return root;
}

cJSON *fleet_preview_answer(const char *id_key, const char *id, int service,
			    const int64_t *counts, bool toplevel)
{
	cJSON *root = cJSON_CreateObject();
	int64_t total;

	cJSON_AddStringToObject(root, id_key, id);
	cJSON_AddStringToObject(root, "service", reply_name(service));
	cJSON_AddItemToObject(root, "preview", counts_json(service, counts, &total));
	if (!toplevel) /* "toplevel" preview: no total, the reader sums */
		cJSON_AddNumberToObject(root, "total_records", (double)total);
	return root;
}

static cJSON *preview_answer(struct fleet *f, struct fleet_request *rq, bool toplevel)
{
	struct fleet_tenant *t = fleet_state_tenant(f, rq->tenant_id, false);
	int64_t zero[FLEET_MAX_TABLES] = {0};
	cJSON *root = fleet_preview_answer("tenant_id", rq->tenant_id, rq->service,
					   t ? fleet_state_rows(t, rq->service) : zero,
					   toplevel);

	cJSON_AddStringToObject(root, "warning",
				"These records will be permanently deleted and cannot be recovered");
	return root;
}

static cJSON *suspend_answer(struct fleet *f, struct fleet_request *rq)
{
	struct fleet_tenant *t = fleet_state_tenant(f, rq->tenant_id, true);
	bool hide = rq->op == OP_SUSPEND;
	int64_t total;
	cJSON *root = cJSON_CreateObject();

	t->suspended[rq->service] = hide;
	cJSON_AddBoolToObject(root, "success", true);
	cJSON_AddStringToObject(root, "tenant_id", rq->tenant_id);
	cJSON_AddStringToObject(root, "service", fleet_services[rq->service].seg);
	cJSON_AddBoolToObject(root, "suspended", hide);
	cJSON_Delete(counts_json(rq->service, fleet_state_rows(t, rq->service), &total));
	cJSON_AddNumberToObject(root, "affected_records", (double)total);
	return root;
}

/* Carries out the operation (lock held); returns its answer, sets *status. */
static cJSON *do_op(struct fleet *f, struct fleet_request *rq,
		    const struct fleet_fault *ft, int *status)
{
	enum fleet_mode mode = ft ? ft->mode : MODE_STATUS;
	bool toplevel = ft != NULL && mode == MODE_TOPLEVEL;
	int64_t keep = (ft && mode == MODE_UNDERDELETE) ? ft->remaining : 0;
	int64_t removed[FLEET_MAX_TABLES];

	*status = 200;
	if (rq->service >= (int)fleet_service_count)
		return fleet_users_op(f, rq, keep, toplevel, status);
	switch (rq->op) {
	case OP_DELETE:
		delete_rows(f, rq->service, rq->tenant_id, keep, removed);
		if (strcmp(fleet_services[rq->service].seg, "tenants") == 0)
			fleet_users_drop_tenant(f, rq->tenant_id); /* its tenant_members */
		return fleet_delete_answer("tenant_id", rq->tenant_id, rq->service,
					   removed, toplevel);
	case OP_PREVIEW:
		return preview_answer(f, rq, toplevel);
	default:
		return suspend_answer(f, rq);
	}
}

static cJSON *success_false_answer(struct fleet_request *rq)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *sum;
	char ts[32];

	rfc3339_now(ts, sizeof ts);
	cJSON_AddStringToObject(root, "message", strcmp(id_key(rq), "user_id") == 0
				? "User data deletion failed" : "Tenant data deletion failed");
	cJSON_AddBoolToObject(root, "success", false);
	sum = cJSON_AddObjectToObject(root, "summary");
	cJSON_AddStringToObject(sum, id_key(rq), rq->tenant_id);
	cJSON_AddStringToObject(sum, "service_name", reply_name(rq->service));
	cJSON_AddBoolToObject(sum, "success", false);
	cJSON_AddObjectToObject(sum, "deleted_counts");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(sum, "errors"),
			     cJSON_CreateString("db locked"));
	cJSON_AddStringToObject(sum, "timestamp", ts);
	return root;
}

/* Sleeps ms, or less if the fleet shuts down. Lock not held. */
static void fault_sleep(struct fleet *f, int64_t ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->lock);
	while (!f->shutting_down)
		if (pthread_cond_timedwait(&f->wake, &f->lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&f->lock);
}

/* Replies that need no data: returns true when out is set. */
static bool fault_reply_early(struct fleet_fault *ft, struct fleet_request *rq,
			      struct fleet_reply *out)
{
	switch (ft->mode) {
	case MODE_STATUS:
		if (ft->body != NULL) {
			out->status = ft->status;
			out->body = ft->body;
			ft->body = NULL;
			out->body_len = strlen(out->body);
			out->content_type = "application/json";
		} else {
			char *d = xasprintf("injected fault: status %d", ft->status);
			reply_detail(out, ft->status, d);
			free(d);
		}
		out->retry_after = ft->retry_after;
		ft->retry_after = NULL;
		return true;
	case MODE_GARBAGE:
		out->status = 200;
		out->body = ft->body ? ft->body : xstrdup("<html>proxy error</html>");
		ft->body = NULL;
		out->body_len = strlen(out->body);
		out->content_type = "text/html";
		return true;
	case MODE_SUCCESS_FALSE:
		fleet_reply_json(out, 200, success_false_answer(rq));
		return true;
	case MODE_NOTFOUND:
		reply_detail(out, 404, strcmp(id_key(rq), "user_id") == 0
				       ? "user not found" : "Tenant not found");
		return true;
	case MODE_DOWN:
		out->drop = true;
		return true;
	case MODE_RAW:
		out->raw = true;
		out->status = ft->status;
		out->body = ft->body ? ft->body : xstrdup("");
		ft->body = NULL;
		out->body_len = strlen(out->body);
		return true;
	default:
		return false;
	}
}

/* Pads an answer past 2 MiB. */
static void make_big(struct fleet_reply *out, cJSON *answer)
{
	char *pad = xmalloc(BIG_BODY_BYTES + 1);
	memset(pad, 'x', BIG_BODY_BYTES);
	pad[BIG_BODY_BYTES] = '\0';
	cJSON_AddStringToObject(answer, "padding", pad);
	free(pad);
	fleet_reply_json(out, 200, answer);
}

void fleet_route_service(struct fleet *f, struct fleet_request *rq,
			 struct fleet_reply *out)
{
	struct fleet_fault ft;
	bool faulted;
	cJSON *answer;
	int status;

	if (!rq->known_route)
		return reply_detail(out, 404, "Not Found");
	if (!rq->method_ok)
		return reply_detail(out, 405, "Method Not Allowed");
	if (!rq->auth_ok)
		return reply_detail(out, 401, "Invalid or missing service token");

	pthread_mutex_lock(&f->lock);
	faulted = fleet_state_take_fault(f, rq->service, rq->op, rq->tenant_id, &ft);
	pthread_mutex_unlock(&f->lock);
	if (faulted && fault_reply_early(&ft, rq, out)) {
		fleet_fault_clear(&ft);
		return;
	}
	if (faulted && (ft.mode == MODE_HANG || ft.mode == MODE_SLOW)) {
		int64_t ms = ft.delay_ms >= 0 ? ft.delay_ms
			     : ft.mode == MODE_HANG ? HANG_DEFAULT_MS : SLOW_DEFAULT_MS;
		fault_sleep(f, ms);
	}
	pthread_mutex_lock(&f->lock);
	answer = do_op(f, rq, faulted ? &ft : NULL, &status);
	pthread_mutex_unlock(&f->lock);

	if (status != 200) {
		fleet_reply_json(out, status, answer);
	} else if (faulted && ft.mode == MODE_EMPTY204) {
		cJSON_Delete(answer);
		out->status = 204;
	} else if (faulted && ft.mode == MODE_BIG) {
		make_big(out, answer);
	} else {
		fleet_reply_json(out, 200, answer);
	}
	if (faulted)
		fleet_fault_clear(&ft);
}
