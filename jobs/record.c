/*
 * record.c - job/task records and their JSON form.
 */
#include "jobs/record.h"
#include "jobs/timefmt.h"
#include "util/json.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static const char *kind_names[] = {"purge", "reapply"};

const char *jobs_job_kind_name(enum job_kind k)
{
	return (unsigned)k < ARRAY_LEN(kind_names) ? kind_names[k] : "unknown";
}

int jobs_job_kind_parse(const char *name, enum job_kind *out)
{
	for (size_t i = 0; i < ARRAY_LEN(kind_names); i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*out = (enum job_kind)i;
			return 0;
		}
	}
	return -1;
}

void jobs_job_record_clear(struct job_record *j)
{
	if (j == NULL)
		return;
	free(j->tenant_id);
	free(j->tenant_name);
	free(j->requested_by);
	free(j->reason);
	free(j->hold_reason);
	free(j->origin_job_id);
	memset(j, 0, sizeof *j);
}

void jobs_task_record_clear(struct task_record *t)
{
	if (t == NULL)
		return;
	free(t->service);
	free(t->deleted_counts);
	free(t->preview_before);
	free(t->last_error);
	free(t->skip_reason);
	free(t->lease_owner);
	memset(t, 0, sizeof *t);
}

void jobs_task_records_free(struct task_record *t, size_t n)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		jobs_task_record_clear(&t[i]);
	free(t);
}

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

static void add_opt_int(cJSON *o, const char *key, int64_t v, int64_t none)
{
	if (v == none)
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
	add_opt_int(o, "http_status", t->http_status, 0);
	add_json(o, "deleted_counts", t->deleted_counts);
	add_opt_int(o, "total_deleted", t->total_deleted, -1);
	add_opt_int(o, "duration_ms", t->duration_ms, -1);
	jobs_json_add_str(o, "last_error", t->last_error);
	if (t->state == TASK_PENDING || t->state == TASK_WAITING)
		jobs_json_add_time(o, "next_attempt_at", t->next_attempt_at);
	else
		cJSON_AddNullToObject(o, "next_attempt_at");
	add_json(o, "preview_before", t->preview_before);
	add_opt_int(o, "before_total", t->before_total, -1);
	add_opt_int(o, "verified_remaining", t->verified_after, -1);
	if (t->state == TASK_SKIPPED)
		jobs_json_add_str(o, "skip_reason", t->skip_reason);
	return o;
}

cJSON *jobs_render_job(const struct job_record *j, const struct task_record *tasks,
		       size_t n_tasks)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "job_id", j->id);
	cJSON_AddStringToObject(o, "tenant_id", j->tenant_id);
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
	if (j->origin_job_id != NULL)
		cJSON_AddStringToObject(o, "origin_job_id", j->origin_job_id);
	if (tasks != NULL) {
		cJSON *arr = cJSON_AddArrayToObject(o, "tasks");
		for (size_t i = 0; i < n_tasks; i++)
			cJSON_AddItemToArray(arr, jobs_render_task(&tasks[i]));
	}
	return o;
}
