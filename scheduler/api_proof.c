/*
 * api_proof.c - the audit trail and proof endpoints of DESIGN 6: a job's
 * events (GET /v1/jobs/ID/events) and its deletion certificate (GET
 * /v1/jobs/ID/certificate), read through the same store functions as the
 * CLI's `events` and `certificate`.
 */
#include "jobs/certificate.h"
#include "jobs/document.h"
#include "jobs/signature.h"
#include "scheduler/api_int.h"
#include "store/store.h"
#include "util/util.h"

#ifndef TENANTDEL_VERSION
#define TENANTDEL_VERSION "0.1.0"
#endif

static int event_row(void *ctx, const struct event_record *ev)
{
	cJSON_AddItemToArray(ctx, jobs_render_event(ev));
	return 0;
}

int api_h_events(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	struct job_record j;
	int rc = store_job_get(a->deps.store, id, &j);
	cJSON *arr;

	if (rc == STORE_NOT_FOUND)
		return api_no_job(id, ans);
	if (rc != STORE_OK)
		return api_store_failed(a, ans);
	jobs_job_record_clear(&j);
	arr = cJSON_CreateArray();
	if (store_events_list(a->deps.store, id, event_row, arr) != STORE_OK) {
		cJSON_Delete(arr);
		return api_store_failed(a, ans);
	}
	return api_json(ans, 200, arr);
}

int api_h_certificate(struct api *a, struct api_req *r, const char *id,
		      struct api_answer *ans)
{
	const struct config *cfg = a->deps.cfg;
	struct proof_record p;
	cJSON *cert;
	int rc = store_proof_read(a->deps.store, id, &p);

	if (rc == STORE_NOT_FOUND)
		return api_no_job(id, ans);
	if (rc == STORE_OK && !jobs_certificate_issuable(&p.job)) {
		rc = api_fail(ans, 409, "job %s is %s, not succeeded: no certificate yet", id,
			      jobs_job_state_name(p.job.state));
		jobs_proof_record_clear(&p);
		return rc;
	}
	if (rc != STORE_OK || store_proof_read_chain(a->deps.store, &p.chain) != STORE_OK) {
		jobs_proof_record_clear(&p);
		return api_store_failed(a, ans);
	}
	cert = jobs_certificate_build(&p, clock_now_ms(), TENANTDEL_VERSION);
	jobs_proof_record_clear(&p);
	if (jobs_certificate_sign_with(cert, &(struct jobs_signing_keys){
			.hmac_key = (const unsigned char *)cfg->certificate_key,
			.hmac_len = cfg->certificate_key_len,
			.ed25519 = cfg->certificate_signing_key }) < 0) {
		cJSON_Delete(cert);
		return api_fail(ans, 500, "cannot sign the certificate");
	}
	return api_json(ans, 200, cert);
}
