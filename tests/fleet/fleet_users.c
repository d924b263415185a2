/*
 * fleet_users.c - the people of the fake fleet: users, their memberships
 * in tenants (each one tenant_members row of its tenant) and their rows at
 * the auth service, and the routes data-subject erasure talks to:
 *
 *   GET    /api/v1/tenants/user/{user_id}                  user_tenants, discover
 *   GET    /api/v1/tenants/{tenant_id}/admins              admins, discover
 *   DELETE /api/v1/tenants/user/{user_id}/memberships      memberships, delete
 *   GET    .../memberships/deletion-preview                memberships, preview
 *   DELETE /api/v1/auth/users/{user_id}                    auth, delete
 *   GET    /api/v1/auth/users/{user_id}/deletion-preview   auth, preview
 *
 * Callers hold fleet->lock.
 */
#include "tests/fleet/fleet.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static int usvc_index(enum fleet_user_service u)
{
	return (int)fleet_service_count + (int)u;
}

/* The tenant's tenant_members row at the tenant service (NULL: no tenant). */
static int64_t *tenant_members_row(struct fleet *f, const char *tenant_id, bool create)
{
	int svc = fleet_service_find("tenants");
	struct fleet_tenant *t = fleet_state_tenant(f, tenant_id, create);
	return t ? &fleet_state_rows(t, svc)[fleet_table_find(svc, "tenant_members")] : NULL;
}

struct fleet_user *fleet_users_get(struct fleet *f, const char *id, bool create)
{
	for (size_t i = 0; i < f->users_len; i++)
		if (strcmp(f->users[i].id, id) == 0)
			return &f->users[i];
	if (!create)
		return NULL;
	f->users = xreserve(f->users, &f->users_cap, f->users_len + 1, sizeof *f->users);
	struct fleet_user *u = &f->users[f->users_len++];
	memset(u, 0, sizeof *u);
	u->id = xstrdup(id);
	return u;
}

void fleet_users_join(struct fleet *f, const char *user_id, const char *tenant_id,
		      enum fleet_role role)
{
	for (size_t i = 0; i < f->members_len; i++) {
		struct fleet_membership *m = &f->members[i];
		if (strcmp(m->user_id, user_id) == 0 && strcmp(m->tenant_id, tenant_id) == 0) {
			m->role = role;
			return;
		}
	}
	f->members = xreserve(f->members, &f->members_cap, f->members_len + 1,
			      sizeof *f->members);
	f->members[f->members_len++] = (struct fleet_membership){
		xstrdup(user_id), xstrdup(tenant_id), role};
	(*tenant_members_row(f, tenant_id, true))++;
}

/*
 * Removes the memberships for which user_id (or tenant_id) matches, the
 * first keep of them excepted, keeping the order of the others. Returns
 * how many it removed.
 */
static int64_t drop_members(struct fleet *f, const char *user_id,
			    const char *tenant_id, int64_t keep)
{
	size_t j = 0;
	int64_t removed = 0;

	for (size_t i = 0; i < f->members_len; i++) {
		struct fleet_membership *m = &f->members[i];
		bool hit = user_id ? strcmp(m->user_id, user_id) == 0
				   : strcmp(m->tenant_id, tenant_id) == 0;
		if (hit && keep > 0) {
			keep--;
			hit = false;
		}
		if (!hit) {
			f->members[j++] = *m;
			continue;
		}
		if (user_id != NULL) { /* its tenant keeps its other rows */
			int64_t *row = tenant_members_row(f, m->tenant_id, false);
			if (row != NULL && *row > 0)
				(*row)--;
		}
		free(m->user_id);
		free(m->tenant_id);
		removed++;
	}
	f->members_len = j;
	return removed;
}

void fleet_users_drop_tenant(struct fleet *f, const char *tenant_id)
{
	drop_members(f, NULL, tenant_id, 0);
}

void fleet_users_clear(struct fleet *f)
{
	for (size_t i = 0; i < f->users_len; i++)
		free(f->users[i].id);
	f->users_len = 0;
	for (size_t i = 0; i < f->members_len; i++) {
		free(f->members[i].user_id);
		free(f->members[i].tenant_id);
	}
	f->members_len = 0;
}

/* [{"tenant_id", "role"}] or [{"user_id", "role"}]: the memberships of a
 * user (tenant_id NULL) or the owners and admins of a tenant. */
static cJSON *members_json(struct fleet *f, const char *user_id, const char *tenant_id,
			   int64_t *count)
{
	cJSON *arr = cJSON_CreateArray();

	*count = 0;
	for (size_t i = 0; i < f->members_len; i++) {
		const struct fleet_membership *m = &f->members[i];
		cJSON *o;
		if (user_id ? strcmp(m->user_id, user_id) != 0
			    : strcmp(m->tenant_id, tenant_id) != 0 || m->role == ROLE_MEMBER)
			continue;
		o = cJSON_CreateObject();
		if (user_id != NULL)
			cJSON_AddStringToObject(o, "tenant_id", m->tenant_id);
		else
			cJSON_AddStringToObject(o, "user_id", m->user_id);
		cJSON_AddStringToObject(o, "role", fleet_role_name(m->role));
		cJSON_AddItemToArray(arr, o);
		(*count)++;
	}
	return arr;
}

static int64_t count_members(struct fleet *f, const char *user_id)
{
	int64_t n;
	cJSON_Delete(members_json(f, user_id, NULL, &n));
	return n;
}

cJSON *fleet_users_json(struct fleet *f, const char *id)
{
	const struct fleet_service *auth = &fleet_services[usvc_index(FLEET_USVC_AUTH)];
	struct fleet_user *u = fleet_users_get(f, id, false);
	cJSON *root = cJSON_CreateObject();
	cJSON *counts;
	int64_t total;

	cJSON_AddStringToObject(root, "user_id", id);
	cJSON_AddBoolToObject(root, "known", u != NULL);
	cJSON_AddItemToObject(root, "memberships", members_json(f, id, NULL, &total));
	counts = cJSON_AddObjectToObject(root, "auth");
	for (int i = 0; i < FLEET_MAX_TABLES && auth->tables[i] != NULL; i++) {
		int64_t n = u ? u->auth[i] : 0;
		cJSON_AddNumberToObject(counts, auth->tables[i], (double)n);
		total += n;
	}
	cJSON_AddNumberToObject(root, "total", (double)total);
	return root;
}

/* Sets the route's service, op, method_ok and path id (seg, len bytes). */
static void user_route(struct fleet_request *rq, enum fleet_user_service u,
		       enum fleet_op op, const char *seg, size_t len)
{
	const char *method = op == OP_DELETE ? "DELETE" : "GET";

	rq->service = usvc_index(u);
	rq->tenant_id = fleet_percent_decode(seg, len);
	if (rq->tenant_id == NULL || rq->tenant_id[0] == '\0') {
		free(rq->tenant_id);
		rq->tenant_id = NULL;
		return;
	}
	rq->known_route = true;
	rq->op = op;
	rq->method_ok = strcmp(rq->method, method) == 0 ||
			(op == OP_PREVIEW && strcmp(rq->method, "HEAD") == 0);
}

/* A tenant route of a tenant named "user": /api/v1/tenants/user/{suffix}. */
static bool tenant_suffix(const char *seg, size_t len)
{
	return fleet_seg_is(seg, len, "deletion-preview") ||
	       fleet_seg_is(seg, len, "suspend") || fleet_seg_is(seg, len, "restore");
}

bool fleet_users_route_parse(struct fleet_request *rq, const char **seg,
			     const size_t *len, int n)
{
	bool preview = fleet_seg_is(seg[n - 1], len[n - 1], "deletion-preview");

	if (fleet_seg_is(seg[0], len[0], "auth")) {
		rq->service = usvc_index(FLEET_USVC_AUTH);
		if (fleet_seg_is(seg[1], len[1], "users") && (n == 3 || (n == 4 && preview)))
			user_route(rq, FLEET_USVC_AUTH, n == 4 ? OP_PREVIEW : OP_DELETE,
				   seg[2], len[2]);
		return true;
	}
	if (!fleet_seg_is(seg[0], len[0], "tenants") || n < 3)
		return false;
	if (n == 3 && fleet_seg_is(seg[2], len[2], "admins")) {
		user_route(rq, FLEET_USVC_ADMINS, OP_DISCOVER, seg[1], len[1]);
		return true;
	}
	if (!fleet_seg_is(seg[1], len[1], "user") || (n == 3 && tenant_suffix(seg[2], len[2])))
		return false;
	rq->service = usvc_index(FLEET_USVC_USER_TENANTS);
	if (n == 3)
		user_route(rq, FLEET_USVC_USER_TENANTS, OP_DISCOVER, seg[2], len[2]);
	else if (fleet_seg_is(seg[3], len[3], "memberships") && (n == 4 || (n == 5 && preview)))
		user_route(rq, FLEET_USVC_MEMBERSHIPS, n == 4 ? OP_DELETE : OP_PREVIEW,
			   seg[2], len[2]);
	return true;
}

/* The tenant service knows a tenant with a tenants row or a membership. */
static bool tenant_known(struct fleet *f, const char *id)
{
	int svc = fleet_service_find("tenants");
	struct fleet_tenant *t = fleet_state_tenant(f, id, false);

	if (t != NULL && fleet_state_rows(t, svc)[fleet_table_find(svc, "tenants")] > 0)
		return true;
	for (size_t i = 0; i < f->members_len; i++)
		if (strcmp(f->members[i].tenant_id, id) == 0)
			return true;
	return false;
}

static cJSON *discover_answer(struct fleet *f, const struct fleet_request *rq,
			      int *status)
{
	bool admins = rq->service == usvc_index(FLEET_USVC_ADMINS);
	const char *id = rq->tenant_id;
	cJSON *root;
	int64_t n;

	if (admins ? !tenant_known(f, id) : fleet_users_get(f, id, false) == NULL) {
		*status = 404;
		return fleet_detail_json(admins ? "tenant not found" : "user not found");
	}
	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, admins ? "tenant_id" : "user_id", id);
	cJSON_AddItemToObject(root, admins ? "admins" : "tenants",
			      admins ? members_json(f, NULL, id, &n)
				     : members_json(f, id, NULL, &n));
	return root;
}

/* Deletes (or previews) the user's auth rows; keep rows stay in table 0. */
static void auth_rows(struct fleet *f, const char *id, bool delete, int64_t keep,
		      int64_t *counts)
{
	struct fleet_user *u = fleet_users_get(f, id, false);

	memset(counts, 0, sizeof(int64_t) * FLEET_MAX_TABLES);
	if (u == NULL)
		return;
	if (delete)
		fleet_take_rows(u->auth, keep, counts);
	else
		memcpy(counts, u->auth, sizeof u->auth);
}

cJSON *fleet_users_op(struct fleet *f, const struct fleet_request *rq, int64_t keep,
		      bool toplevel, int *status)
{
	int64_t counts[FLEET_MAX_TABLES] = {0};
	bool delete = rq->op == OP_DELETE;

	*status = 200;
	if (rq->op == OP_DISCOVER)
		return discover_answer(f, rq, status);
	if (rq->service == usvc_index(FLEET_USVC_AUTH))
		auth_rows(f, rq->tenant_id, delete, keep, counts);
	else if (delete)
		counts[0] = drop_members(f, rq->tenant_id, NULL, keep);
	else
		counts[0] = count_members(f, rq->tenant_id);
	if (delete)
		return fleet_delete_answer("user_id", rq->tenant_id, rq->service, counts,
					   toplevel);
	return fleet_preview_answer("user_id", rq->tenant_id, rq->service, counts, toplevel);
}
