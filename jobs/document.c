/*
 * document.c - the JSON documents of a job: show --json, events --json,
 * the webhook outbox body and the operator's event details. See
 * document.h; the bulk schedule's templates are in document_bulk.c.
 */
#include "jobs/document.h"
#include "jobs/timefmt.h"
#include "util/json.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jobs_json_add_time(cJSON *o, const char *key, int64_t ms)
{
	char buf[TIMEFMT_TIME_LEN];

	if (ms <= 0) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	timefmt_format_time(ms, buf);
	cJSON_AddStringToObject(o, key, buf);
}

void jobs_json_add_str(cJSON *o, const char *key, const char *s)
{
	if (s == NULL)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddStringToObject(o, key, s);
}

/* Adds parsed JSON text under key, or null when absent or unreadable. */
static void add_json(cJSON *o, const char *key, const char *text)
{
	cJSON *v = json_parse_exact(text);

	if (v == NULL)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddItemToObject(o, key, v);
}

void jobs_json_add_count(cJSON *o, const char *key, int64_t v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, key);
	else
		json_add_int(o, key, v);
}

cJSON *jobs_render_task(const struct task_record *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "service", t->service);
	cJSON_AddStringToObject(o, "kind", jobs_task_kind_name(t->kind));
	cJSON_AddNumberToObject(o, "phase", t->phase);
	cJSON_AddStringToObject(o, "state", jobs_task_state_name(t->state));
	cJSON_AddNumberToObject(o, "attempts", t->attempts);
	if (t->http_status == 0)
		cJSON_AddNullToObject(o, "http_status");
	else
		json_add_int(o, "http_status", t->http_status);
	add_json(o, "deleted_counts", t->deleted_counts);
	jobs_json_add_count(o, "total_deleted", t->total_deleted);
	jobs_json_add_count(o, "duration_ms", t->duration_ms);
	jobs_json_add_str(o, "last_error", t->last_error);
	if (t->state == TASK_PENDING || t->state == TASK_WAITING)
		jobs_json_add_time(o, "next_attempt_at", t->next_attempt_at);
	else
		cJSON_AddNullToObject(o, "next_attempt_at");
	add_json(o, "preview_before", t->preview_before);
	jobs_json_add_count(o, "before_total", t->before_total);
	jobs_json_add_count(o, "verified_remaining", t->verified_after);
	if (t->state == TASK_SKIPPED)
		jobs_json_add_str(o, "skip_reason", t->skip_reason);
	return o;
}

/* Four eyes (DESIGN 10): "approval", and who approved and when. Nothing
 * for a job that needs no approval: documents stay as they were for those
 * who do not use approvals (a reader sees "approval" as absent/null). */
static void add_approval(cJSON *o, const struct job_record *j)
{
	if (j->approval == JOB_APPROVAL_NONE)
		return;
	jobs_json_add_str(o, "approval", jobs_approval_name(j->approval));
	if (j->approval == JOB_APPROVAL_APPROVED) {
		jobs_json_add_str(o, "approved_by", j->approved_by);
		jobs_json_add_time(o, "approved_at", j->approved_at);
	}
}

cJSON *jobs_render_job(const struct job_record *j, const struct task_record *tasks,
		       size_t n_tasks)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "job_id", j->id);
	if (j->kind == JOB_KIND_USER) { /* the subject: tenant_id holds the user id */
		cJSON_AddNullToObject(o, "tenant_id");
		cJSON_AddStringToObject(o, "user_id", j->tenant_id);
	} else {
		cJSON_AddStringToObject(o, "tenant_id", j->tenant_id);
	}
	jobs_json_add_str(o, "tenant_name", j->tenant_name);
	cJSON_AddStringToObject(o, "kind", jobs_job_kind_name(j->kind));
	cJSON_AddStringToObject(o, "state", jobs_job_state_name(j->state));
	if (j->state == JOB_HELD) {
		cJSON_AddStringToObject(o, "held_from", jobs_job_state_name(j->held_from));
		jobs_json_add_str(o, "hold_reason", j->hold_reason);
	}
	jobs_json_add_str(o, "requested_by", j->requested_by);
	jobs_json_add_str(o, "reason", j->reason);
	jobs_json_add_time(o, "created_at", j->created_at);
	jobs_json_add_time(o, "due_at", j->due_at);
	jobs_json_add_time(o, "deadline_at", j->deadline_at);
	jobs_json_add_time(o, "started_at", j->started_at);
	jobs_json_add_time(o, "finished_at", j->finished_at);
	json_add_int(o, "total_deleted", j->total_deleted);
	cJSON_AddBoolToObject(o, "deadline_missed", j->deadline_missed != 0);
	add_approval(o, j);
	if (j->origin_job_id != NULL)
		cJSON_AddStringToObject(o, "origin_job_id", j->origin_job_id);
	if (j->parent_id != NULL)
		cJSON_AddStringToObject(o, "parent_id", j->parent_id);
	if (tasks != NULL) {
		cJSON *arr = cJSON_AddArrayToObject(o, "tasks");
		for (size_t i = 0; i < n_tasks; i++)
			cJSON_AddItemToArray(arr, jobs_render_task(&tasks[i]));
	}
	return o;
}

void jobs_add_progress(cJSON *job, const int64_t *by_state)
{
	cJSON *o = cJSON_AddObjectToObject(job, "progress");
	int64_t total = 0;

	for (int i = 0; i < TASK_STATE_COUNT; i++)
		total += by_state[i];
	json_add_int(o, "total", total);
	json_add_int(o, "done", by_state[TASK_SUCCEEDED] + by_state[TASK_SKIPPED]);
	for (int i = 0; i < TASK_STATE_COUNT; i++)
		json_add_int(o, jobs_task_state_name((enum task_state)i), by_state[i]);
}

cJSON *jobs_render_event(const struct event_record *ev)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *detail = json_parse_exact(ev->detail);
	char at[TIMEFMT_TIME_LEN];

	timefmt_format_time(ev->at, at);
	cJSON_AddNumberToObject(o, "id", (double)ev->id);
	jobs_json_add_str(o, "job_id", ev->job_id);
	cJSON_AddStringToObject(o, "at", at);
	cJSON_AddStringToObject(o, "type", ev->type ? ev->type : "");
	jobs_json_add_str(o, "service", ev->service);
	cJSON_AddItemToObject(o, "detail", detail ? detail : cJSON_CreateObject());
	cJSON_AddStringToObject(o, "prev_hash", ev->prev_hash ? ev->prev_hash : "");
	cJSON_AddStringToObject(o, "hash", ev->hash ? ev->hash : "");
	cJSON_AddBoolToObject(o, "chain_ok", ev->chain_ok);
	return o;
}

cJSON *jobs_render_outbox(const char *eid, const char *type, int64_t now,
			  const struct job_record *j)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", eid);
	cJSON_AddStringToObject(o, "type", type);
	jobs_json_add_time(o, "created_at", now);
	cJSON_AddItemToObject(o, "job", jobs_render_job(j, NULL, 0));
	return o;
}

char *jobs_outbox_body(const char *eid, const char *type, int64_t now,
		       const struct job_record *j)
{
	return json_print_owned(jobs_render_outbox(eid, type, now, j));
}

/* Adds s under key; nothing when s is NULL. */
static void add_str_if_set(cJSON *o, const char *key, const char *s)
{
	if (s != NULL)
		cJSON_AddStringToObject(o, key, s);
}

/* One such detail is written per job, so a member that would be null is
 * left out (a million scheduled jobs: 34 MB of "tenant_name":null and
 * "reason":null); a reader takes a missing member as null. */
cJSON *jobs_render_scheduled(const struct job_record *j, const char *const *services,
			     size_t n_services)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *names = cJSON_CreateArray();

	cJSON_AddStringToObject(o, "tenant_id", j->tenant_id);
	add_str_if_set(o, "tenant_name", j->tenant_name);
	jobs_json_add_time(o, "due_at", j->due_at);
	jobs_json_add_time(o, "deadline_at", j->deadline_at);
	add_str_if_set(o, "requested_by", j->requested_by);
	add_str_if_set(o, "reason", j->reason);
	for (size_t i = 0; i < n_services; i++)
		cJSON_AddItemToArray(names, cJSON_CreateString(services[i]));
	cJSON_AddItemToObject(o, "services", names);
	return o;
}

char *jobs_detail_cancelled(const char *by, const char *reason, const char *const *restores,
			    size_t n_restores)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *arr;

	jobs_json_add_str(o, "by", by);
	jobs_json_add_str(o, "reason", reason);
	arr = cJSON_AddArrayToObject(o, "restores");
	for (size_t i = 0; i < n_restores; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(restores[i]));
	return json_print_owned(o);
}

/* {"by": by, key: value (omitted when key is NULL), state_key: s}. */
static char *by_and_state(const char *by, const char *key, const char *value,
			  const char *state_key, enum job_state s)
{
	cJSON *o = cJSON_CreateObject();

	jobs_json_add_str(o, "by", by);
	if (key != NULL)
		jobs_json_add_str(o, key, value);
	cJSON_AddStringToObject(o, state_key, jobs_job_state_name(s));
	return json_print_owned(o);
}

char *jobs_detail_held(const char *by, const char *reason, enum job_state from)
{
	return by_and_state(by, "reason", reason, "from", from);
}

char *jobs_detail_released(const char *by, const char *hold_reason, enum job_state to)
{
	return by_and_state(by, "hold_reason", hold_reason, "to", to);
}

char *jobs_detail_retried(const char *by, const char *service, int64_t tasks,
			  enum job_state from)
{
	cJSON *o = cJSON_CreateObject();

	jobs_json_add_str(o, "by", by);
	jobs_json_add_str(o, "service", service);
	cJSON_AddNumberToObject(o, "tasks", (double)tasks);
	cJSON_AddStringToObject(o, "from", jobs_job_state_name(from));
	return json_print_owned(o);
}

char *jobs_detail_approved(const char *by)
{
	cJSON *o = cJSON_CreateObject();

	jobs_json_add_str(o, "by", by);
	return json_print_owned(o);
}

char *jobs_detail_running(const char *by, enum job_state from)
{
	return by_and_state(by, NULL, NULL, "from", from);
}
