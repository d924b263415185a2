/*
 * subject_doc.c - the documents of data-subject erasure: the discovered
 * tenants (show, the certificate, the subject.discovered event) and the
 * job.scheduled details of a subject job and of its children.
 */
#include "jobs/subject.h"

#include "jobs/document.h"
#include "jobs/record.h"
#include "util/json.h"

cJSON *subject_render_tenant(const struct subject_tenant *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "tenant_id", t->tenant_id);
	cJSON_AddStringToObject(o, "role", subject_role_name(t->role));
	json_add_int(o, "other_admins", t->other_admins);
	cJSON_AddStringToObject(o, "decision", subject_decision_name(t->decision));
	cJSON_AddStringToObject(o, "reason", t->reason);
	return o;
}

cJSON *subject_render_tenants(const struct subject_tenant *v, size_t n)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++) {
		cJSON *o = subject_render_tenant(&v[i]);

		if (v[i].child_job_id[0] != '\0')
			cJSON_AddStringToObject(o, "child_job_id", v[i].child_job_id);
		else
			cJSON_AddNullToObject(o, "child_job_id");
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

cJSON *subject_render_job(const struct job_record *j, const struct task_record *t, size_t n,
			  const struct subject_tenant *tn, size_t n_tn)
{
	cJSON *o = jobs_render_job(j, t, n);

	if (j->kind == JOB_KIND_USER)
		cJSON_AddItemToObject(o, "tenants", subject_render_tenants(tn, n_tn));
	return o;
}

char *subject_detail_discovered(const struct subject_tenant *v, size_t n)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToObject(o, "tenants", subject_render_tenants(v, n));
	return json_print_owned(o);
}

char *subject_detail_scheduled(const struct job_record *j)
{
	cJSON *o = jobs_render_scheduled(j, NULL, 0);

	/* a child gets the configured services when it starts (task.added) */
	cJSON_DeleteItemFromObjectCaseSensitive(o, "services");
	if (j->kind == JOB_KIND_USER) {
		cJSON *steps = cJSON_CreateArray();

		cJSON_DeleteItemFromObjectCaseSensitive(o, "tenant_id");
		cJSON_AddStringToObject(o, "user_id", j->tenant_id);
		for (int i = 0; i < SUBJECT_N_STEPS; i++)
			cJSON_AddItemToArray(steps,
					     cJSON_CreateString(subject_step_name((enum subject_step)i)));
		cJSON_AddItemToObject(o, "steps", steps);
	}
	if (j->parent_id != NULL)
		cJSON_AddStringToObject(o, "parent_id", j->parent_id);
	return json_print_owned(o);
}
