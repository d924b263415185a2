/*
 * certificate.c - the deletion certificate rendered from a proof_record,
 * and the job.scheduled detail of a reapply job. The canonical form and
 * the HMAC-SHA256 signature are in jobs/signature.c.
 */
#include "jobs/certificate.h"
#include "jobs/certificate_int.h"
#include "jobs/document.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jobs_proof_record_clear(struct proof_record *p)
{
	if (p == NULL)
		return;
	jobs_job_record_clear(&p->job);
	jobs_task_records_free(p->tasks, p->n_tasks);
	free(p->tenants);
	free(p->children);
	memset(p, 0, sizeof *p);
}

int jobs_certificate_issuable(const struct job_record *j)
{
	return j->state == JOB_SUCCEEDED;
}

/* ---- small renderers ---- */

/* A stored JSON object text as a tree; null when absent or unreadable. */
static void add_json_text(cJSON *o, const char *key, const char *text)
{
	cJSON *v = json_parse_exact(text);

	if (v == NULL || !cJSON_IsObject(v)) {
		cJSON_Delete(v);
		cJSON_AddNullToObject(o, key);
		return;
	}
	cJSON_AddItemToObject(o, key, v);
}

static const char *verification_result(const struct task_record *t)
{
	if (t->verified_after < 0)
		return PROOF_NOT_VERIFIED;
	return t->verified_after == 0 ? PROOF_VERIFIED : PROOF_RECORDS_REMAINED;
}

struct totals {
	int64_t before, deleted, after;
	int before_known, deleted_known, after_known;
};

static void add_total(int64_t *sum, int *known, int64_t v)
{
	if (v >= 0) {
		*sum += v;
		*known = 1;
	}
}

cJSON *certificate_render_service(const struct task_record *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "service", t->service ? t->service : "");
	cJSON_AddNumberToObject(o, "phase", t->phase);
	cJSON_AddStringToObject(o, "state", jobs_task_state_name(t->state));
	jobs_json_add_count(o, "before", t->before_total);
	add_json_text(o, "before_counts", t->preview_before);
	jobs_json_add_count(o, "deleted", t->total_deleted);
	add_json_text(o, "deleted_counts", t->deleted_counts);
	jobs_json_add_count(o, "after", t->verified_after);
	cJSON_AddStringToObject(o, "verification", verification_result(t));
	cJSON_AddNumberToObject(o, "attempts", t->attempts);
	if (t->http_status > 0)
		cJSON_AddNumberToObject(o, "http_status", t->http_status);
	else
		cJSON_AddNullToObject(o, "http_status");
	jobs_json_add_time(o, "completed_at", t->state == TASK_SUCCEEDED ? t->updated_at : 0);
	return o;
}

/* A skipped delete task as a "skipped_services" entry. */
static cJSON *render_skipped(const struct task_record *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "service", t->service ? t->service : "");
	jobs_json_add_str(o, "reason", t->skip_reason);
	return o;
}

/* "services" (delete tasks that ran), "skipped_services" and "totals". */
static void render_tasks(cJSON *cert, const struct task_record *tasks, size_t n)
{
	cJSON *svcs = cJSON_AddArrayToObject(cert, "services");
	cJSON *skipped = cJSON_AddArrayToObject(cert, "skipped_services");
	cJSON *tot_o;
	struct totals tot = { 0 };
	int verified = 0, unverified = 0;

	for (size_t i = 0; i < n; i++) {
		const struct task_record *t = &tasks[i];
		if (t->kind != TASK_KIND_DELETE)
			continue;
		if (t->state == TASK_SKIPPED) {
			cJSON_AddItemToArray(skipped, render_skipped(t));
			continue;
		}
		cJSON_AddItemToArray(svcs, certificate_render_service(t));
		add_total(&tot.before, &tot.before_known, t->before_total);
		add_total(&tot.deleted, &tot.deleted_known, t->total_deleted);
		add_total(&tot.after, &tot.after_known, t->verified_after);
		if (t->verified_after == 0)
			verified++;
		else
			unverified++;
	}
	tot_o = cJSON_AddObjectToObject(cert, "totals");
	jobs_json_add_count(tot_o, "before", tot.before_known ? tot.before : -1);
	jobs_json_add_count(tot_o, "deleted", tot.deleted_known ? tot.deleted : -1);
	jobs_json_add_count(tot_o, "after", tot.after_known ? tot.after : -1);
	cJSON_AddNumberToObject(tot_o, "services_verified", verified);
	cJSON_AddNumberToObject(tot_o, "services_not_verified", unverified);
	cJSON_AddNumberToObject(tot_o, "services_skipped", cJSON_GetArraySize(skipped));
}

/* Who, why, when. */
static void render_job(cJSON *cert, const struct job_record *j)
{
	if (j->kind == JOB_KIND_USER) { /* the subject: tenant_id holds the user id */
		cJSON_AddStringToObject(cert, "user_id", j->tenant_id ? j->tenant_id : "");
	} else {
		cJSON_AddStringToObject(cert, "tenant_id", j->tenant_id ? j->tenant_id : "");
		jobs_json_add_str(cert, "tenant_name", j->tenant_name);
	}
	cJSON_AddStringToObject(cert, "job_id", j->id);
	cJSON_AddStringToObject(cert, "kind", jobs_job_kind_name(j->kind));
	if (j->kind == JOB_KIND_REAPPLY)
		jobs_json_add_str(cert, "reapply_of", j->origin_job_id);
	cJSON_AddStringToObject(cert, "state", jobs_job_state_name(j->state));
	jobs_json_add_str(cert, "requested_by", j->requested_by);
	jobs_json_add_str(cert, "reason", j->reason);
	if (j->approval == JOB_APPROVAL_APPROVED) {
		/* Four eyes: who approved the purge, and when. */
		cJSON *ap = cJSON_AddObjectToObject(cert, "approval");

		jobs_json_add_str(ap, "by", j->approved_by);
		jobs_json_add_time(ap, "at", j->approved_at);
	}
	jobs_json_add_time(cert, "received_at", j->created_at);
	jobs_json_add_time(cert, "due_at", j->due_at);
	jobs_json_add_time(cert, "deadline_at", j->deadline_at);
	jobs_json_add_time(cert, "started_at", j->started_at);
	jobs_json_add_time(cert, "finished_at", j->finished_at);
	cJSON_AddBoolToObject(cert, "deadline_met",
			      j->finished_at > 0 && j->finished_at <= j->deadline_at);
	cJSON_AddStringToObject(cert, "method", PROOF_METHOD);
	cJSON_AddStringToObject(cert, "verification_method", PROOF_VERIFICATION_METHOD);
}

/* "events" (this job's) and the whole chain: "chain_head", "chain_verified". */
static void render_chain(cJSON *cert, const struct proof_events *je,
			 const struct proof_chain *chain)
{
	cJSON *ev = cJSON_AddObjectToObject(cert, "events");

	cJSON_AddNumberToObject(ev, "count", (double)je->count);
	jobs_json_add_count(ev, "first_id", je->count ? je->first_id : -1);
	jobs_json_add_count(ev, "last_id", je->count ? je->last_id : -1);
	jobs_json_add_str(ev, "last_hash", je->count ? je->last_hash : NULL);
	cJSON_AddBoolToObject(ev, "verified", je->all_ok);
	cJSON_AddNumberToObject(cert, "event_count", (double)je->count);
	cJSON_AddNumberToObject(cert, "chain_events", (double)chain->events);
	cJSON_AddStringToObject(cert, "chain_head", chain->head);
	jobs_json_add_count(cert, "chain_head_id", chain->head_id > 0 ? chain->head_id : -1);
	cJSON_AddBoolToObject(cert, "chain_verified", chain->broken_at == 0);
	if (chain->broken_at != 0)
		cJSON_AddNumberToObject(cert, "chain_broken_at", (double)chain->broken_at);
}

cJSON *jobs_certificate_build(const struct proof_record *p, int64_t issued_at,
			      const char *tool_version)
{
	cJSON *cert, *tool;

	if (!jobs_certificate_issuable(&p->job))
		return NULL;
	cert = cJSON_CreateObject();
	cJSON_AddStringToObject(cert, "certificate", "certificate of sanitization");
	cJSON_AddStringToObject(cert, "modelled_on", "NIST SP 800-88 Rev. 1, Appendix G");
	render_job(cert, &p->job);
	if (p->job.kind == JOB_KIND_USER)
		certificate_render_subject(cert, p);
	else
		render_tasks(cert, p->tasks, p->n_tasks);
	render_chain(cert, &p->events, &p->chain);
	jobs_json_add_time(cert, "issued_at", issued_at);
	tool = cJSON_AddObjectToObject(cert, "tool");
	cJSON_AddStringToObject(tool, "name", "tenantdel");
	cJSON_AddStringToObject(tool, "version", tool_version ? tool_version : "");
	return cert;
}

int jobs_certificate_head(const cJSON *cert, struct proof_head *out, char *why,
			  size_t whylen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(cert, "chain_head_id");
	const cJSON *hash = cJSON_GetObjectItemCaseSensitive(cert, "chain_head");

	memset(out, 0, sizeof *out);
	if (json_get_int(id, &out->id) < 0 || out->id < 1) {
		out->id = 0;
		snprintf(why, whylen, "it names no chain_head_id (issued by an older tenantdel, "
			 "or over a chain that did not verify)");
		return -1;
	}
	if (!cJSON_IsString(hash) || strlen(hash->valuestring) != PROOF_HASH_HEX - 1 ||
	    strspn(hash->valuestring, "0123456789abcdef") != PROOF_HASH_HEX - 1) {
		snprintf(why, whylen, "its chain_head is not a sha256 in hex");
		return -1;
	}
	memcpy(out->hash, hash->valuestring, PROOF_HASH_HEX);
	return 0;
}

/* ---- the reapply job's job.scheduled detail ---- */

char *jobs_reapply_detail(const struct job_record *j, const char *service, int64_t purged_at,
			  int64_t since)
{
	cJSON *o = jobs_render_scheduled(j, &service, 1);

	cJSON_AddStringToObject(o, "reapply_of", j->origin_job_id ? j->origin_job_id : "");
	jobs_json_add_time(o, "purged_at", purged_at);
	jobs_json_add_time(o, "since", since);
	return json_print_owned(o);
}
