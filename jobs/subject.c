/*
 * subject.c - data-subject erasure: the discovery answers and the
 * decisions (see subject.h).
 */
#include "jobs/subject.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static const char *const step_names[SUBJECT_N_STEPS] = {
	SUBJECT_STEP_DISCOVER, SUBJECT_STEP_MEMBERSHIPS, SUBJECT_STEP_USER,
};

const char *subject_step_name(enum subject_step step)
{
	return (unsigned)step < SUBJECT_N_STEPS ? step_names[step] : "unknown";
}

int subject_step_parse(const char *service, enum subject_step *out)
{
	for (int i = 0; service != NULL && i < SUBJECT_N_STEPS; i++) {
		if (strcmp(service, step_names[i]) == 0) {
			*out = (enum subject_step)i;
			return 0;
		}
	}
	return -1;
}

static const char *const role_names[] = { "owner", "admin", "member" };

const char *subject_role_name(enum subject_role r)
{
	return (unsigned)r < 3 ? role_names[r] : "unknown";
}

int subject_role_parse(const char *s, enum subject_role *out)
{
	for (int i = 0; s != NULL && i < 3; i++) {
		if (strcmp(s, role_names[i]) == 0) {
			*out = (enum subject_role)i;
			return 0;
		}
	}
	return -1;
}

const char *subject_decision_name(enum subject_decision d)
{
	return d == SUBJECT_PURGE ? "purge" : "keep";
}

int subject_decision_parse(const char *s, enum subject_decision *out)
{
	if (s != NULL && strcmp(s, "purge") == 0)
		*out = SUBJECT_PURGE;
	else if (s != NULL && strcmp(s, "keep") == 0)
		*out = SUBJECT_KEEP;
	else
		return -1;
	return 0;
}

int subject_runs(enum subject_role r)
{
	return r == SUBJECT_ROLE_OWNER || r == SUBJECT_ROLE_ADMIN;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The answer as an object whose key names id and whose key list is an
 * array; NULL (err set) otherwise. */
static cJSON *parse_answer(const char *body, size_t len, const char *key, const char *id,
			   const char *list, char *err, size_t errlen)
{
	cJSON *root = body != NULL ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *echo, *arr;

	if (root == NULL || !cJSON_IsObject(root)) {
		fail(err, errlen, "not a JSON object");
		goto bad;
	}
	echo = cJSON_GetObjectItemCaseSensitive(root, key);
	if (!cJSON_IsString(echo)) {
		fail(err, errlen, "no %s", key);
		goto bad;
	}
	if (strcmp(echo->valuestring, id) != 0) {
		fail(err, errlen, "%s is '%.80s', not '%s'", key, echo->valuestring, id);
		goto bad;
	}
	arr = cJSON_GetObjectItemCaseSensitive(root, list);
	if (!cJSON_IsArray(arr)) {
		fail(err, errlen, "no %s list", list);
		goto bad;
	}
	return root;
bad:
	cJSON_Delete(root);
	return NULL;
}

/* One {"<idkey>": string, "role": known} entry; 0 or -1 (err set). */
static int read_entry(const cJSON *e, const char *idkey, const char **id,
		      enum subject_role *role, char *err, size_t errlen)
{
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(e, idkey);
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "role");

	if (!cJSON_IsObject(e) || !cJSON_IsString(i))
		return fail(err, errlen, "an entry without %s", idkey);
	*id = i->valuestring;
	if (!cJSON_IsString(r))
		return fail(err, errlen, "%.128s has no role", *id);
	if (subject_role_parse(r->valuestring, role) < 0)
		return fail(err, errlen, "%.128s has an unknown role '%.40s'", *id,
			    r->valuestring);
	return 0;
}

static int add_tenant(struct subject_tenant *v, size_t n, const char *id, enum subject_role role,
		      char *err, size_t errlen)
{
	const char *why;

	if (jobs_tenant_id_check(id, &why) < 0)
		return fail(err, errlen, "tenant id '%.80s': %s", id, why);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].tenant_id, id) == 0)
			return fail(err, errlen, "tenant %s listed twice", id);
	memset(&v[n], 0, sizeof v[n]);
	snprintf(v[n].tenant_id, sizeof v[n].tenant_id, "%s", id);
	v[n].role = role;
	v[n].decision = SUBJECT_KEEP;
	return 0;
}

int subject_parse_tenants(const char *body, size_t len, const char *user_id,
			  struct subject_tenant **out, size_t *n, char *err, size_t errlen)
{
	cJSON *root = parse_answer(body, len, "user_id", user_id, "tenants", err, errlen);
	const cJSON *arr, *e;
	struct subject_tenant *v;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (root == NULL)
		return -1;
	arr = cJSON_GetObjectItemCaseSensitive(root, "tenants");
	v = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *v);
	cJSON_ArrayForEach(e, arr) {
		const char *id;
		enum subject_role role;

		if (read_entry(e, "tenant_id", &id, &role, err, errlen) < 0 ||
		    add_tenant(v, k, id, role, err, errlen) < 0) {
			free(v);
			cJSON_Delete(root);
			return -1;
		}
		k++;
	}
	cJSON_Delete(root);
	*out = v;
	*n = k;
	return 0;
}

/* Whether one of the first k entries of arr (already read) names id. */
static int listed_before(const cJSON *arr, int k, const char *id)
{
	for (int j = 0; j < k; j++) {
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, j),
								   "user_id");
		if (strcmp(u->valuestring, id) == 0)
			return 1;
	}
	return 0;
}

/* Counts the owners and admins of arr other than user_id into t; -1 when
 * an entry is bad or someone is listed twice. *self: 1 user_id listed as
 * owner or admin, -1 as a member, 0 not listed. */
static int count_admins(const cJSON *arr, const char *user_id, struct subject_tenant *t,
			int *self, char *err, size_t errlen)
{
	const cJSON *e;
	int k = 0;

	cJSON_ArrayForEach(e, arr) {
		const char *id;
		enum subject_role role;

		if (read_entry(e, "user_id", &id, &role, err, errlen) < 0)
			return -1;
		if (listed_before(arr, k++, id))
			return fail(err, errlen, "user %.128s listed twice", id);
		if (strcmp(id, user_id) == 0)
			*self = subject_runs(role) ? 1 : -1;
		else if (subject_runs(role))
			t->other_admins++;
	}
	return 0;
}

int subject_parse_admins(const char *body, size_t len, const char *user_id,
			 struct subject_tenant *t, char *err, size_t errlen)
{
	cJSON *root = parse_answer(body, len, "tenant_id", t->tenant_id, "admins", err, errlen);
	int self = 0, rc;

	t->other_admins = 0;
	if (root == NULL)
		return -1;
	rc = count_admins(cJSON_GetObjectItemCaseSensitive(root, "admins"), user_id, t, &self,
			  err, errlen);
	cJSON_Delete(root);
	if (rc < 0)
		return -1;
	if (self != 1)
		return fail(err, errlen, "%s is %s of %s, yet %s", user_id,
			    subject_role_name(t->role), t->tenant_id,
			    self == 0 ? "not among its admins" : "listed as a member there");
	return 0;
}

void subject_decide(struct subject_tenant *t)
{
	t->decision = SUBJECT_KEEP;
	if (!subject_runs(t->role)) {
		snprintf(t->reason, sizeof t->reason, "kept: member only");
	} else if (t->other_admins == 0) {
		t->decision = SUBJECT_PURGE;
		snprintf(t->reason, sizeof t->reason, "purged: only %s", subject_role_name(t->role));
	} else {
		snprintf(t->reason, sizeof t->reason, "kept: %d other admin%s", t->other_admins,
			 t->other_admins == 1 ? "" : "s");
	}
}
