/*
 * sched_doc.c - the scheduler's event details and cumulative counts (see
 * sched_doc.h). The key order and number forms are those the store wrote
 * before they moved here: old event chains hash these bytes.
 */
#include "jobs/sched_doc.h"

#include <cjson/cJSON.h>

#include "jobs/document.h"
#include "util/json.h"
#include "util/util.h"

/* Adds key: the JSON text parsed (numbers exact); nothing when it does not parse. */
static void add_json_text(cJSON *o, const char *key, const char *text)
{
	cJSON *v = json_parse_exact(text);

	if (v != NULL)
		cJSON_AddItemToObject(o, key, v);
}

/*
 * Adds key: v as a JSON number, in the bytes cJSON_AddNumberToObject's item
 * prints. cJSON 1.7.15 prints every number with "%1.15g" and reads it back
 * with sscanf (~3 k instructions, three times per attempt); under 10^15 in
 * magnitude that text is the integer's digits, which a raw item prints
 * without the round trip. Past it ("1e+15") cJSON's own number.
 */
static void add_whole(cJSON *o, const char *key, int64_t v)
{
	if (v > -1000000000000000LL && v < 1000000000000000LL)
		json_add_int(o, key, v);
	else
		cJSON_AddNumberToObject(o, key, (double)v);
}

char *sched_doc_merge_counts(const char *old, const char *add)
{
	cJSON *o, *a, *it;
	int64_t was, more;

	if (add == NULL || old == NULL)
		return xstrdup(add); /* the first counts of the task: nothing to add up */
	o = json_parse_exact(old);
	a = json_parse_exact(add);
	if (!cJSON_IsObject(o) || !cJSON_IsObject(a)) {
		cJSON_Delete(o);
		cJSON_Delete(a);
		return xstrdup(add);
	}
	cJSON_ArrayForEach(it, a) {
		cJSON *cur = cJSON_GetObjectItemCaseSensitive(o, it->string);
		if (json_get_int(it, &more) < 0)
			continue;
		if (cur == NULL)
			json_add_int(o, it->string, more);
		else if (json_get_int(cur, &was) == 0) /* past INT64_MAX (never met) stays there */
			/* InObject, not ViaPointer: that one drops the key */
			cJSON_ReplaceItemInObjectCaseSensitive(o, it->string, json_create_int(
				more > INT64_MAX - was ? INT64_MAX : was + more));
	}
	cJSON_Delete(a);
	return json_print_owned(o);
}

char *sched_doc_attempt(const struct sched_doc_attempt *a)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "kind", jobs_task_kind_name(a->kind));
	add_whole(d, "attempt", a->attempt);
	cJSON_AddStringToObject(d, "outcome", a->outcome);
	cJSON_AddStringToObject(d, "state", a->state);
	if (a->http_status > 0)
		add_whole(d, "http_status", a->http_status);
	else
		cJSON_AddNullToObject(d, "http_status");
	add_whole(d, "duration_ms", a->duration_ms);
	add_json_text(d, "deleted_counts", a->counts_json);
	if (a->total >= 0)
		json_add_int(d, "total_deleted", a->total);
	if (a->error != NULL)
		cJSON_AddStringToObject(d, "error", a->error);
	if (a->free_wait)
		cJSON_AddBoolToObject(d, "free_wait", 1);
	if (a->waiting)
		jobs_json_add_time(d, "next_attempt_at", a->next_attempt_at);
	return json_print_owned(d);
}

char *sched_doc_reclaimed(const char *kind, int attempt, int dead, const char *error,
			  const char *owner)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "kind", kind ? kind : "delete");
	cJSON_AddNumberToObject(d, "attempt", attempt);
	cJSON_AddStringToObject(d, "outcome", dead ? "permanent" : "retry");
	cJSON_AddStringToObject(d, "state", dead ? "dead" : "waiting");
	cJSON_AddNullToObject(d, "http_status");
	cJSON_AddStringToObject(d, "error", error);
	cJSON_AddStringToObject(d, "lease_owner", owner ? owner : "");
	return json_print_owned(d);
}

char *sched_doc_preview(const char *counts_json, int64_t total, const char *error)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "when", "before");
	add_json_text(d, "counts", counts_json);
	if (total >= 0)
		json_add_int(d, "total", total);
	if (error != NULL)
		cJSON_AddStringToObject(d, "error", error);
	return json_print_owned(d);
}

char *sched_doc_verify(int64_t remaining)
{
	cJSON *d = cJSON_CreateObject();

	json_add_int(d, "remaining", remaining);
	cJSON_AddBoolToObject(d, "verified", remaining == 0);
	return json_print_owned(d);
}

char *sched_doc_deadline_missed(int64_t deadline_at, enum job_state state)
{
	cJSON *d = cJSON_CreateObject();

	jobs_json_add_time(d, "deadline_at", deadline_at);
	cJSON_AddStringToObject(d, "state", jobs_job_state_name(state));
	return json_print_owned(d);
}

char *sched_doc_eval(const struct jobs_eval *e, const struct jobs_eval_view *v)
{
	cJSON *d;

	if (e->act != JOBS_EVAL_RESUME && e->act != JOBS_EVAL_FAIL)
		return NULL;
	d = cJSON_CreateObject();
	if (e->act == JOBS_EVAL_RESUME) {
		cJSON_AddStringToObject(d, "from", jobs_job_state_name(JOB_FAILED));
		cJSON_AddStringToObject(d, "reason", "no dead task left");
	} else {
		cJSON_AddNumberToObject(d, "dead_tasks", (double)v->dead);
	}
	return json_print_owned(d);
}
