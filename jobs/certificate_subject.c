/*
 * certificate_subject.c - the part of a subject job's certificate (DESIGN
 * 9) that says what happened to the person: the tenants discovery found
 * and what was decided for each, a reference to each child purge's own
 * certificate (its job id and its head in the event chain), and the
 * counts of the memberships and user-data steps.
 */
#include "jobs/certificate_int.h"
#include "jobs/document.h"
#include "util/json.h"

#include <string.h>

/* The child purge of a tenant: enough to find and check its certificate. */
static cJSON *render_child(const char *job_id, const struct proof_child *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "job_id", job_id);
	cJSON_AddStringToObject(o, "state", jobs_job_state_name(c->state));
	jobs_json_add_count(o, "deleted", c->total_deleted);
	jobs_json_add_count(o, "head_event_id", c->events.count ? c->events.last_id : -1);
	jobs_json_add_str(o, "head_event_hash", c->events.count ? c->events.last_hash : NULL);
	return o;
}

/* "tenants"; *purged and *deleted receive the children's count and records. */
static void render_tenants(cJSON *cert, const struct proof_record *p, int *purged,
			   int64_t *deleted)
{
	cJSON *arr = cJSON_AddArrayToObject(cert, "tenants");

	for (size_t i = 0; i < p->n_tenants; i++) {
		const struct subject_tenant *t = &p->tenants[i];
		cJSON *o = subject_render_tenant(t);

		if (t->child_job_id[0] != '\0') {
			cJSON_AddItemToObject(o, "child", render_child(t->child_job_id,
								       &p->children[i]));
			(*purged)++;
			if (p->children[i].total_deleted > 0)
				*deleted += p->children[i].total_deleted;
		} else {
			cJSON_AddNullToObject(o, "child");
		}
		cJSON_AddItemToArray(arr, o);
	}
}

/* The step task of the subject job named step, as key (null when absent);
 * its deleted count, -1 when unknown. */
static int64_t render_step(cJSON *cert, const char *key, const struct proof_record *p,
			   enum subject_step step)
{
	const char *name = subject_step_name(step);

	for (size_t i = 0; i < p->n_tasks; i++) {
		if (p->tasks[i].service != NULL && strcmp(p->tasks[i].service, name) == 0) {
			cJSON_AddItemToObject(cert, key, certificate_render_service(&p->tasks[i]));
			return p->tasks[i].total_deleted;
		}
	}
	cJSON_AddNullToObject(cert, key);
	return -1;
}

void certificate_render_subject(cJSON *cert, const struct proof_record *p)
{
	int purged = 0;
	int64_t children = 0, mem, user;
	cJSON *tot;

	render_tenants(cert, p, &purged, &children);
	render_step(cert, "discovery", p, SUBJECT_DISCOVER);
	mem = render_step(cert, "memberships", p, SUBJECT_MEMBERSHIPS);
	user = render_step(cert, "user_data", p, SUBJECT_USER);
	tot = cJSON_AddObjectToObject(cert, "totals");
	json_add_int(tot, "tenants", (int64_t)p->n_tenants);
	json_add_int(tot, "tenants_purged", purged);
	json_add_int(tot, "tenants_kept", (int64_t)p->n_tenants - purged);
	json_add_int(tot, "deleted_in_tenants", children);
	jobs_json_add_count(tot, "memberships_deleted", mem);
	jobs_json_add_count(tot, "user_data_deleted", user);
}
