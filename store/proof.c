/*
 * proof.c - the deletion certificate: gathered from the job, its tasks and
 * its events, plus the whole chain's verification; its canonical form and
 * HMAC-SHA256 signature. Tombstones and reapply are in store/reapply.c.
 */
#include "store/proof.h"
#include "store/store_int.h"
#include "jobs/timefmt.h"
#include "util/log.h"
#include "util/json.h"
#include "util/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_ALG "HMAC-SHA256"

/* ---- small renderers ---- */

/* A count, or null when unknown (-1). */
static void add_count(cJSON *o, const char *key, int64_t v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, key);
	else
		json_add_int(o, key, v);
}

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

/* One delete task as a "services" entry. */
static cJSON *render_service(const struct task_record *t, struct totals *tot)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "service", t->service ? t->service : "");
	cJSON_AddNumberToObject(o, "phase", t->phase);
	cJSON_AddStringToObject(o, "state", jobs_task_state_name(t->state));
	add_count(o, "before", t->before_total);
	add_json_text(o, "before_counts", t->preview_before);
	add_count(o, "deleted", t->total_deleted);
	add_json_text(o, "deleted_counts", t->deleted_counts);
	add_count(o, "after", t->verified_after);
	cJSON_AddStringToObject(o, "verification", verification_result(t));
	cJSON_AddNumberToObject(o, "attempts", t->attempts);
	if (t->http_status > 0)
		cJSON_AddNumberToObject(o, "http_status", t->http_status);
	else
		cJSON_AddNullToObject(o, "http_status");
	jobs_json_add_time(o, "completed_at", t->state == TASK_SUCCEEDED ? t->updated_at : 0);
	add_total(&tot->before, &tot->before_known, t->before_total);
	add_total(&tot->deleted, &tot->deleted_known, t->total_deleted);
	add_total(&tot->after, &tot->after_known, t->verified_after);
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
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "service", t->service ? t->service : "");
			jobs_json_add_str(o, "reason", t->skip_reason);
			cJSON_AddItemToArray(skipped, o);
			continue;
		}
		cJSON_AddItemToArray(svcs, render_service(t, &tot));
		if (t->verified_after == 0)
			verified++;
		else
			unverified++;
	}
	tot_o = cJSON_AddObjectToObject(cert, "totals");
	add_count(tot_o, "before", tot.before_known ? tot.before : -1);
	add_count(tot_o, "deleted", tot.deleted_known ? tot.deleted : -1);
	add_count(tot_o, "after", tot.after_known ? tot.after : -1);
	cJSON_AddNumberToObject(tot_o, "services_verified", verified);
	cJSON_AddNumberToObject(tot_o, "services_not_verified", unverified);
	cJSON_AddNumberToObject(tot_o, "services_skipped", cJSON_GetArraySize(skipped));
}

/* Who, why, when. */
static void render_job(cJSON *cert, const struct job_record *j)
{
	cJSON_AddStringToObject(cert, "tenant_id", j->tenant_id ? j->tenant_id : "");
	jobs_json_add_str(cert, "tenant_name", j->tenant_name);
	cJSON_AddStringToObject(cert, "job_id", j->id);
	cJSON_AddStringToObject(cert, "kind", jobs_job_kind_name(j->kind));
	if (j->kind == JOB_KIND_REAPPLY)
		jobs_json_add_str(cert, "reapply_of", j->origin_job_id);
	cJSON_AddStringToObject(cert, "state", jobs_job_state_name(j->state));
	jobs_json_add_str(cert, "requested_by", j->requested_by);
	jobs_json_add_str(cert, "reason", j->reason);
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

/* ---- the job's events and the whole chain ---- */

struct job_events {
	int64_t count, first_id, last_id;
	int all_ok;
	char last_hash[STORE_HASH_HEX];
};

static int count_event(void *ctx, const struct event_record *ev)
{
	struct job_events *je = ctx;

	if (je->count++ == 0)
		je->first_id = ev->id;
	je->last_id = ev->id;
	if (!ev->chain_ok)
		je->all_ok = 0;
	snprintf(je->last_hash, sizeof je->last_hash, "%s", ev->hash ? ev->hash : "");
	return 0;
}

/* "events" (this job's) and the whole chain: "chain_head", "chain_verified". */
static int render_chain(struct store *s, cJSON *cert, const char *job_id)
{
	struct job_events je = { .all_ok = 1 };
	int64_t first_bad = 0, count = 0;
	char head[STORE_HASH_HEX], why[200];
	cJSON *ev;

	if (store_events_list(s, job_id, count_event, &je) != STORE_OK)
		return -1;
	if (store_events_verify(s, &first_bad, why, sizeof why, &count, head) != STORE_OK)
		return -1;
	ev = cJSON_AddObjectToObject(cert, "events");
	cJSON_AddNumberToObject(ev, "count", (double)je.count);
	add_count(ev, "first_id", je.count ? je.first_id : -1);
	add_count(ev, "last_id", je.count ? je.last_id : -1);
	jobs_json_add_str(ev, "last_hash", je.count ? je.last_hash : NULL);
	cJSON_AddBoolToObject(ev, "verified", je.all_ok);
	cJSON_AddNumberToObject(cert, "event_count", (double)je.count);
	cJSON_AddNumberToObject(cert, "chain_events", (double)count);
	cJSON_AddStringToObject(cert, "chain_head", head);
	cJSON_AddBoolToObject(cert, "chain_verified", first_bad == 0);
	if (first_bad != 0)
		cJSON_AddNumberToObject(cert, "chain_broken_at", (double)first_bad);
	return 0;
}

int store_certificate_build(struct store *s, const char *job_id, int64_t issued_at,
			    const char *tool_version, cJSON **out, enum job_state *state)
{
	struct job_record j;
	struct task_record *tasks = NULL;
	size_t n = 0;
	cJSON *cert, *tool;
	int rc;

	*out = NULL;
	rc = store_read_job_by_id(s, job_id, &j);
	if (rc != STORE_OK)
		return rc;
	if (state != NULL)
		*state = j.state;
	if (j.state != JOB_SUCCEEDED) {
		jobs_job_record_clear(&j);
		return STORE_REFUSED;
	}
	if (store_job_tasks(s, job_id, &tasks, &n) != STORE_OK) {
		jobs_job_record_clear(&j);
		return STORE_ERR;
	}
	cert = cJSON_CreateObject();
	cJSON_AddStringToObject(cert, "certificate", "certificate of sanitization");
	cJSON_AddStringToObject(cert, "modelled_on", "NIST SP 800-88 Rev. 1, Appendix G");
	render_job(cert, &j);
	render_tasks(cert, tasks, n);
	rc = render_chain(s, cert, job_id);
	jobs_json_add_time(cert, "issued_at", issued_at);
	tool = cJSON_AddObjectToObject(cert, "tool");
	cJSON_AddStringToObject(tool, "name", "tenantdel");
	cJSON_AddStringToObject(tool, "version", tool_version ? tool_version : "");
	jobs_task_records_free(tasks, n);
	jobs_job_record_clear(&j);
	if (rc < 0) {
		cJSON_Delete(cert);
		return STORE_ERR;
	}
	*out = cert;
	return STORE_OK;
}

/* ---- canonical form and signature ---- */

static int cmp_items(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

/* Sorts every object's members by key, recursively (stable for duplicates
 * is not needed: a duplicate key changes the text either way). */
static void sort_keys(cJSON *item)
{
	cJSON **v, *c;
	size_t n = 0, i = 0;

	for (c = item->child; c != NULL; c = c->next) {
		sort_keys(c);
		n++;
	}
	if (!cJSON_IsObject(item) || n < 2)
		return;
	v = xmalloc(n * sizeof *v);
	for (c = item->child; c != NULL; c = c->next)
		v[i++] = c;
	qsort(v, n, sizeof *v, cmp_items);
	for (i = 0; i < n; i++) {
		v[i]->prev = i == 0 ? v[n - 1] : v[i - 1]; /* cJSON: child->prev is the tail */
		v[i]->next = i + 1 < n ? v[i + 1] : NULL;
	}
	item->child = v[0];
	free(v);
}

char *store_certificate_canonical(const cJSON *cert)
{
	cJSON *copy = cJSON_Duplicate(cert, 1);
	char *text;

	if (copy == NULL) {
		fprintf(stderr, "tenantdel: out of memory\n");
		abort();
	}
	if (cJSON_IsObject(copy))
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "signature");
	sort_keys(copy);
	text = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	if (text == NULL) {
		fprintf(stderr, "tenantdel: out of memory\n");
		abort();
	}
	return text;
}

/* hex HMAC-SHA256(key, canonical text) into out[65]; 0 or -1. */
static int certificate_mac(const cJSON *cert, const unsigned char *key, size_t keylen,
			   char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *text = store_certificate_canonical(cert);
	int rc = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)text, strlen(text), md,
		 &mdlen) == NULL ||
	    mdlen != 32) {
		log_msg(LOG_ERROR, "certificate.error", "HMAC-SHA256 failed");
		rc = -1;
	} else {
		for (unsigned int i = 0; i < mdlen; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
		out[64] = '\0';
	}
	free(text);
	return rc;
}

int store_certificate_sign(cJSON *cert, const unsigned char *key, size_t keylen)
{
	char mac[65];
	cJSON *sig;

	if (certificate_mac(cert, key, keylen, mac) < 0)
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(cert, "signature");
	sig = cJSON_AddObjectToObject(cert, "signature");
	cJSON_AddStringToObject(sig, "alg", SIG_ALG);
	cJSON_AddStringToObject(sig, "value", mac);
	return 0;
}

int store_certificate_check(const cJSON *cert, const unsigned char *key, size_t keylen,
			    char *why, size_t whylen)
{
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(cert, "signature");
	const cJSON *alg = cJSON_GetObjectItemCaseSensitive(sig, "alg");
	const cJSON *val = cJSON_GetObjectItemCaseSensitive(sig, "value");
	char mac[65];

	if (!cJSON_IsObject(cert) || !cJSON_IsObject(sig)) {
		snprintf(why, whylen, "the certificate has no signature");
		return -1;
	}
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, SIG_ALG) != 0) {
		snprintf(why, whylen, "unknown signature algorithm (expected %s)", SIG_ALG);
		return -1;
	}
	if (!cJSON_IsString(val) || strlen(val->valuestring) != 64) {
		snprintf(why, whylen, "the signature value is not 64 hex digits");
		return -1;
	}
	if (certificate_mac(cert, key, keylen, mac) < 0) {
		snprintf(why, whylen, "cannot compute HMAC-SHA256");
		return -1;
	}
	if (CRYPTO_memcmp(mac, val->valuestring, 64) != 0) {
		snprintf(why, whylen,
			 "the signature does not match the content (changed, or another key)");
		return -1;
	}
	return 0;
}
