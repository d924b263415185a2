/*
 * service_detail.c - event details about the services a job covers.
 */
#include "jobs/service_detail.h"
#include "util/json.h"

char *jobs_detail_task_change(const char *kind, const char *reason, const char *by)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "kind", kind);
	if (reason != NULL)
		cJSON_AddStringToObject(o, "reason", reason);
	if (by != NULL)
		cJSON_AddStringToObject(o, "retired_by", by);
	return json_print_owned(o);
}

char *jobs_detail_service_retired(const char *reason, const char *by, int64_t tasks_skipped)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "reason", reason);
	if (by != NULL)
		cJSON_AddStringToObject(o, "retired_by", by);
	json_add_int(o, "tasks_skipped", tasks_skipped);
	return json_print_owned(o);
}
