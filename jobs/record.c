/*
 * record.c - job and task records: kind names, clearing.
 */
#include "jobs/record.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static const char *kind_names[] = {"purge", "reapply", "user"};

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
	free(j->parent_id);
	free(j->approved_by);
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
