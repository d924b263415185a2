/*
 * test_certificate.c - the proof documents without a database: the
 * certificate rendered from a hand-made proof_record (its exact bytes, the
 * per-service verification results, totals, skipped services, the chain),
 * refused for an unfinished job; its canonical form and HMAC-SHA256
 * signature (any change found, layout and key order irrelevant, a
 * signature made before still verifies); the same for Ed25519, checked with
 * the public key alone (a signature made by `openssl pkeyutl -rawin`
 * verifies, another key or a malformed value is named); the reapply job's
 * event detail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "jobs/certificate.h"
#include "jobs/signature.h"
#include "util/crypto_lib.h"
#include "util/json.h"
#include "util/util.h"

#define NOW 1800000000000LL /* 2027-01-15T08:00:00Z */
#define DAY 86400000LL
#define JOB_ID "01a2223a-532d-774a-8e0e-f225144b1bec"

static const unsigned char KEY[] = "certificate-key-for-tests";
#define KEYLEN (sizeof KEY - 1)

/* Test keys only (openssl genpkey -algorithm ed25519). */
static const char ED_KEY_PEM[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEICCiwqVkN1/RBgs5x2anHESYlyrhPyElasVEdCPXLcWB\n"
	"-----END PRIVATE KEY-----\n";
static const char ED_OTHER_KEY_PEM[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEIEDOnDZrukSSvbRZcAkDu3/xr08tILhwU4LzEP9VbJ94\n"
	"-----END PRIVATE KEY-----\n";
#define ED_KEY_ID "6977c29155b8c603" /* openssl pkey -pubout -outform DER | sha256sum */

/* A private key from PEM, or its public half only (public = 1). Like
 * config/ and cli/, whoever makes a key loads libcrypto for jobs/ first. */
static EVP_PKEY *ed_key(const char *pem, int public)
{
	char err[256];
	BIO *b;
	EVP_PKEY *k, *pub;
	unsigned char *der = NULL;
	const unsigned char *q;
	int len;

	assert_int_equal(crypto_lib_load(err, sizeof err), 0);
	b = BIO_new_mem_buf(pem, -1);
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(k);
	if (!public)
		return k;
	len = i2d_PUBKEY(k, &der);
	q = der;
	pub = d2i_PUBKEY(NULL, &q, len);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	assert_non_null(pub);
	return pub;
}

/* A delete task as the store returns it; counts -1 when unknown. */
static void task(struct task_record *t, const char *service, enum task_state state,
		 const char *counts, int64_t total, int64_t after)
{
	memset(t, 0, sizeof *t);
	t->service = xstrdup(service);
	t->kind = TASK_KIND_DELETE;
	t->phase = 1;
	t->state = state;
	t->attempts = 1;
	t->http_status = counts ? 200 : 0;
	t->preview_before = xstrdup(counts);
	t->deleted_counts = xstrdup(counts);
	t->before_total = total;
	t->total_deleted = total;
	t->verified_after = after;
	t->updated_at = NOW + 30000;
}

/*
 * A succeeded purge of acme: a suspend task (not in the certificate),
 * orders verified, pos without a preview, legacy skipped; three events of
 * the job in a chain of twelve that verifies.
 */
static void record(struct proof_record *p)
{
	struct job_record *j = &p->job;

	memset(p, 0, sizeof *p);
	snprintf(j->id, sizeof j->id, "%s", JOB_ID);
	j->tenant_id = xstrdup("acme");
	j->tenant_name = xstrdup("Acme \"Bakery\"");
	j->requested_by = xstrdup("dpo@example.com");
	j->reason = xstrdup("GDPR Art. 17");
	j->kind = JOB_KIND_PURGE;
	j->state = JOB_SUCCEEDED;
	j->created_at = NOW - DAY;
	j->due_at = NOW;
	j->deadline_at = NOW + DAY;
	j->started_at = NOW;
	j->finished_at = NOW + 60000;
	p->n_tasks = 4;
	p->tasks = xcalloc(p->n_tasks, sizeof *p->tasks);
	task(&p->tasks[0], "orders", TASK_SUCCEEDED, NULL, -1, -1);
	p->tasks[0].kind = TASK_KIND_SUSPEND;
	task(&p->tasks[1], "orders", TASK_SUCCEEDED, "{\"orders\":12,\"customers\":3}", 15, 0);
	task(&p->tasks[2], "pos", TASK_SUCCEEDED, NULL, -1, -1);
	p->tasks[2].attempts = 3;
	p->tasks[2].http_status = 204;
	task(&p->tasks[3], "legacy", TASK_SKIPPED, NULL, -1, -1);
	p->tasks[3].skip_reason = xstrdup("service removed from the config");
	p->events = (struct proof_events){ .count = 3, .first_id = 5, .last_id = 9, .all_ok = 1 };
	memset(p->events.last_hash, 'a', 64);
	p->chain.events = 12;
	p->chain.head_id = 12;
	memset(p->chain.head, 'c', 64);
}

static char *print(const cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);

	assert_non_null(text);
	return text;
}

/* ---- the certificate ---- */

/* The exact bytes the certificate had when the store built it. */
static void test_certificate_bytes(void **state)
{
	static const char WANT[] =
		"{\"certificate\":\"certificate of sanitization\","
		"\"modelled_on\":\"NIST SP 800-88 Rev. 1, Appendix G\","
		"\"tenant_id\":\"acme\",\"tenant_name\":\"Acme \\\"Bakery\\\"\","
		"\"job_id\":\"" JOB_ID "\",\"kind\":\"purge\",\"state\":\"succeeded\","
		"\"requested_by\":\"dpo@example.com\",\"reason\":\"GDPR Art. 17\","
		"\"received_at\":\"2027-01-14T08:00:00Z\",\"due_at\":\"2027-01-15T08:00:00Z\","
		"\"deadline_at\":\"2027-01-16T08:00:00Z\",\"started_at\":\"2027-01-15T08:00:00Z\","
		"\"finished_at\":\"2027-01-15T08:01:00Z\",\"deadline_met\":true,"
		"\"method\":\"purge via service deletion APIs\","
		"\"verification_method\":\"deletion-preview re-check\","
		"\"services\":[{\"service\":\"orders\",\"phase\":1,\"state\":\"succeeded\","
		"\"before\":15,\"before_counts\":{\"orders\":12,\"customers\":3},\"deleted\":15,"
		"\"deleted_counts\":{\"orders\":12,\"customers\":3},\"after\":0,"
		"\"verification\":\"verified\",\"attempts\":1,\"http_status\":200,"
		"\"completed_at\":\"2027-01-15T08:00:30Z\"},"
		"{\"service\":\"pos\",\"phase\":1,\"state\":\"succeeded\",\"before\":null,"
		"\"before_counts\":null,\"deleted\":null,\"deleted_counts\":null,\"after\":null,"
		"\"verification\":\"not verified\",\"attempts\":3,\"http_status\":204,"
		"\"completed_at\":\"2027-01-15T08:00:30Z\"}],"
		"\"skipped_services\":[{\"service\":\"legacy\","
		"\"reason\":\"service removed from the config\"}],"
		"\"totals\":{\"before\":15,\"deleted\":15,\"after\":0,\"services_verified\":1,"
		"\"services_not_verified\":1,\"services_skipped\":1},"
		"\"events\":{\"count\":3,\"first_id\":5,\"last_id\":9,\"last_hash\":"
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		"\"verified\":true},\"event_count\":3,\"chain_events\":12,\"chain_head\":"
		"\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\","
		"\"chain_head_id\":12,\"chain_verified\":true,\"issued_at\":\"2027-01-16T08:00:00Z\","
		"\"tool\":{\"name\":\"tenantdel\",\"version\":\"9.9\"}}";
	struct proof_record p;
	cJSON *cert;
	char *text;

	record(&p);
	cert = jobs_certificate_build(&p, NOW + DAY, "9.9");
	jobs_proof_record_clear(&p);
	assert_non_null(cert);
	text = print(cert);
	assert_string_equal(text, WANT);
	free(text);
	cJSON_Delete(cert);
}

static void test_certificate_of_unfinished_job_refused(void **state)
{
	struct proof_record p;

	record(&p);
	for (int s = 0; s < JOB_STATE_COUNT; s++) {
		p.job.state = (enum job_state)s;
		assert_int_equal(jobs_certificate_issuable(&p.job), s == JOB_SUCCEEDED);
		if (s != JOB_SUCCEEDED)
			assert_null(jobs_certificate_build(&p, NOW, "1"));
	}
	jobs_proof_record_clear(&p);
	jobs_proof_record_clear(NULL);
}

/* Records left, counts past 2^53, unknown totals, a missed deadline, a
 * reapply, an event that does not verify and a broken chain. */
static void test_certificate_findings(void **state)
{
	struct proof_record p;
	const cJSON *svc, *tot, *ev;
	cJSON *cert;
	int64_t v = 0;

	record(&p);
	p.tasks[1].verified_after = 2;
	p.tasks[1].total_deleted = 9007199254740993LL;
	p.tasks[1].before_total = -1;
	p.job.kind = JOB_KIND_REAPPLY;
	p.job.origin_job_id = xstrdup("0190a000-0000-7000-8000-000000000000");
	p.job.finished_at = p.job.deadline_at + 1;
	p.events.all_ok = 0;
	p.chain.broken_at = 7;
	p.chain.head_id = 0;
	cert = jobs_certificate_build(&p, NOW, "1");
	jobs_proof_record_clear(&p);

	svc = cJSON_GetArrayItem(cJSON_GetObjectItem(cert, "services"), 0);
	assert_string_equal(cJSON_GetObjectItem(svc, "verification")->valuestring,
			    PROOF_RECORDS_REMAINED);
	assert_int_equal(json_get_int(cJSON_GetObjectItem(svc, "deleted"), &v), 0);
	assert_true(v == 9007199254740993LL);
	tot = cJSON_GetObjectItem(cert, "totals");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(tot, "before")));
	assert_int_equal(cJSON_GetObjectItem(tot, "services_verified")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(tot, "services_not_verified")->valueint, 2);
	assert_string_equal(cJSON_GetObjectItem(cert, "kind")->valuestring, "reapply");
	assert_string_equal(cJSON_GetObjectItem(cert, "reapply_of")->valuestring,
			    "0190a000-0000-7000-8000-000000000000");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cert, "deadline_met")));
	ev = cJSON_GetObjectItem(cert, "events");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(ev, "verified")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cert, "chain_verified")));
	assert_int_equal(cJSON_GetObjectItem(cert, "chain_broken_at")->valueint, 7);
	/* a broken chain has no head to name: null, and nothing to check it by */
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cert, "chain_head_id")));
	cJSON_Delete(cert);
}

/* A job without events (none kept) has null ids and hash. */
static void test_certificate_without_events(void **state)
{
	struct proof_record p;
	const cJSON *ev;
	cJSON *cert;

	record(&p);
	p.events = (struct proof_events){ .all_ok = 1 };
	p.chain = (struct proof_chain){ 0 };
	cert = jobs_certificate_build(&p, NOW, "1");
	jobs_proof_record_clear(&p);
	ev = cJSON_GetObjectItem(cert, "events");
	assert_int_equal(cJSON_GetObjectItem(ev, "count")->valueint, 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(ev, "first_id")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(ev, "last_hash")));
	assert_string_equal(cJSON_GetObjectItem(cert, "chain_head")->valuestring, "");
	assert_null(cJSON_GetObjectItem(cert, "chain_broken_at"));
	cJSON_Delete(cert);
}

/* The chain head a certificate names, as audit verify --certificates reads it. */
static void test_certificate_head(void **state)
{
	struct proof_record p;
	struct proof_head h;
	cJSON *cert;
	char why[200];

	record(&p);
	cert = jobs_certificate_build(&p, NOW, "1");
	jobs_proof_record_clear(&p);
	assert_int_equal(jobs_certificate_head(cert, &h, why, sizeof why), 0);
	assert_int_equal(h.id, 12);
	assert_int_equal(strspn(h.hash, "c"), 64);
	/* an older certificate (no id), a null id, a bad hash */
	cJSON_DeleteItemFromObject(cert, "chain_head_id");
	assert_int_equal(jobs_certificate_head(cert, &h, why, sizeof why), -1);
	assert_non_null(strstr(why, "no chain_head_id"));
	cJSON_AddNullToObject(cert, "chain_head_id");
	assert_int_equal(jobs_certificate_head(cert, &h, why, sizeof why), -1);
	cJSON_ReplaceItemInObject(cert, "chain_head_id", cJSON_CreateNumber(12.5));
	assert_int_equal(jobs_certificate_head(cert, &h, why, sizeof why), -1);
	cJSON_ReplaceItemInObject(cert, "chain_head_id", cJSON_CreateNumber(12));
	cJSON_ReplaceItemInObject(cert, "chain_head", cJSON_CreateString("CCCC"));
	assert_int_equal(jobs_certificate_head(cert, &h, why, sizeof why), -1);
	assert_non_null(strstr(why, "sha256"));
	cJSON_Delete(cert);
}

/* ---- canonical form and signature ---- */

static void test_canonical_ignores_key_order_and_layout(void **state)
{
	cJSON *a = cJSON_Parse("{\"b\":1,\"a\":{\"y\":[1,{\"q\":2,\"p\":3}],\"x\":\"s\"}}");
	cJSON *b = cJSON_Parse("{ \"a\" : { \"x\":\"s\",\n \"y\":[1,{\"p\":3,\"q\":2}] },\n"
			       "  \"b\" : 1, \"signature\": {\"alg\":\"x\",\"value\":\"y\"} }");
	char *ca = jobs_certificate_canonical(a), *cb = jobs_certificate_canonical(b);

	assert_string_equal(ca, "{\"a\":{\"x\":\"s\",\"y\":[1,{\"p\":3,\"q\":2}]},\"b\":1}");
	assert_string_equal(ca, cb);
	/* the input is not changed */
	assert_non_null(cJSON_GetObjectItem(b, "signature"));
	free(ca);
	free(cb);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void test_sign_and_check(void **state)
{
	cJSON *c = cJSON_Parse("{\"tenant_id\":\"acme\",\"deleted\":446,\"ok\":true}");
	cJSON *sig, *back;
	char why[200];
	char *text;

	assert_int_equal(jobs_certificate_sign(c, KEY, KEYLEN), 0);
	sig = cJSON_GetObjectItem(c, "signature");
	assert_string_equal(cJSON_GetObjectItem(sig, "alg")->valuestring, "HMAC-SHA256");
	assert_int_equal(strlen(cJSON_GetObjectItem(sig, "value")->valuestring), 64);
	assert_int_equal(jobs_certificate_check(c, KEY, KEYLEN, why, sizeof why), 0);

	/* pretty-printed and parsed again: still verifies */
	text = cJSON_Print(c);
	back = cJSON_Parse(text);
	assert_int_equal(jobs_certificate_check(back, KEY, KEYLEN, why, sizeof why), 0);
	free(text);
	cJSON_Delete(back);

	/* signing again replaces the signature, no second one */
	assert_int_equal(jobs_certificate_sign(c, KEY, KEYLEN), 0);
	assert_int_equal(cJSON_GetArraySize(c), 4);

	/* another key */
	assert_int_equal(jobs_certificate_check(c, (const unsigned char *)"other", 5, why,
						sizeof why), -1);
	assert_non_null(strstr(why, "does not match"));
	cJSON_Delete(c);
}

/* A certificate signed before (the value is HMAC-SHA256 of the canonical
 * text, computed with `openssl dgst -sha256 -hmac`) still verifies, in any
 * layout, and signing it again gives the same value. */
static void test_signature_made_before_verifies(void **state)
{
	static const char SIGNED[] =
		"{\n  \"verified\": true,\n  \"tenant_id\": \"acme\",\n  \"deleted\": 446,\n"
		"  \"signature\": {\"alg\": \"HMAC-SHA256\", \"value\": "
		"\"6d647c76893ab02372a9f6916d08fc5971affe5734d9ad6880efed5d5286ab3b\"}\n}\n";
	cJSON *c = cJSON_Parse(SIGNED);
	char why[200];

	assert_int_equal(jobs_certificate_check(c, KEY, KEYLEN, why, sizeof why), 0);
	cJSON_DeleteItemFromObject(c, "signature");
	assert_int_equal(jobs_certificate_sign(c, KEY, KEYLEN), 0);
	assert_string_equal(
		cJSON_GetObjectItem(cJSON_GetObjectItem(c, "signature"), "value")->valuestring,
		"6d647c76893ab02372a9f6916d08fc5971affe5734d9ad6880efed5d5286ab3b");
	cJSON_Delete(c);
}

/* Every single-byte change of a signed certificate's text that still parses fails. */
static void test_any_byte_changed_fails(void **state)
{
	struct proof_record p;
	cJSON *c;
	char why[200];
	char *text;
	int parsed = 0;

	record(&p);
	c = jobs_certificate_build(&p, NOW, "1");
	jobs_proof_record_clear(&p);
	assert_int_equal(jobs_certificate_sign(c, KEY, KEYLEN), 0);
	text = print(c);
	cJSON_Delete(c);
	for (size_t i = 0; text[i] != '\0'; i++) {
		char saved = text[i];
		text[i] = (char)(saved == '6' ? '7' : saved ^ 0x01);
		c = cJSON_Parse(text);
		if (c != NULL) {
			parsed++;
			assert_int_equal(jobs_certificate_check(c, KEY, KEYLEN, why, sizeof why), -1);
			cJSON_Delete(c);
		}
		text[i] = saved;
	}
	assert_true(parsed > 500);
	free(text);
}

static void test_missing_or_bad_signature(void **state)
{
	cJSON *c = cJSON_Parse("{\"tenant_id\":\"acme\"}");
	char why[200];

	assert_int_equal(jobs_certificate_check(c, KEY, KEYLEN, why, sizeof why), -1);
	assert_non_null(strstr(why, "no signature"));
	cJSON_AddItemToObject(c, "signature",
			      cJSON_Parse("{\"alg\":\"none\",\"value\":\"\"}"));
	assert_int_equal(jobs_certificate_check(c, KEY, KEYLEN, why, sizeof why), -1);
	assert_non_null(strstr(why, "algorithm"));
	cJSON_ReplaceItemInObject(c, "signature",
				  cJSON_Parse("{\"alg\":\"HMAC-SHA256\",\"value\":\"ab\"}"));
	assert_int_equal(jobs_certificate_check(c, KEY, KEYLEN, why, sizeof why), -1);
	assert_non_null(strstr(why, "64 hex digits"));
	cJSON_Delete(c);
}

/* ---- Ed25519 ---- */

/* Signed with the private key, verified with the public key alone. */
static void test_ed25519_sign_and_check(void **state)
{
	EVP_PKEY *key = ed_key(ED_KEY_PEM, 0), *pub = ed_key(ED_KEY_PEM, 1);
	EVP_PKEY *other = ed_key(ED_OTHER_KEY_PEM, 1);
	cJSON *c = cJSON_Parse("{\"tenant_id\":\"acme\",\"deleted\":446,\"ok\":true}");
	cJSON *sig, *back;
	char why[200], *text;

	assert_int_equal(jobs_certificate_sign_with(c, &(struct jobs_signing_keys){
				 .hmac_key = KEY, .hmac_len = KEYLEN, .ed25519 = key }), 0);
	sig = cJSON_GetObjectItem(c, "signature");
	assert_string_equal(cJSON_GetObjectItem(sig, "alg")->valuestring, "Ed25519");
	assert_string_equal(cJSON_GetObjectItem(sig, "key_id")->valuestring, ED_KEY_ID);
	assert_int_equal(strlen(cJSON_GetObjectItem(sig, "value")->valuestring), 88);
	assert_string_equal(jobs_certificate_alg(c), "Ed25519");
	assert_int_equal(jobs_certificate_check_ed25519(c, pub, why, sizeof why), 0);
	assert_int_equal(jobs_certificate_check_ed25519(c, key, why, sizeof why), 0);
	text = cJSON_Print(c);
	back = cJSON_Parse(text);
	assert_int_equal(jobs_certificate_check_ed25519(back, pub, why, sizeof why), 0);
	/* the HMAC check does not take it for one of its own */
	assert_int_equal(jobs_certificate_check(back, KEY, KEYLEN, why, sizeof why), -1);
	assert_non_null(strstr(why, "algorithm"));
	/* another public key: named by its key_id */
	assert_int_equal(jobs_certificate_check_ed25519(c, other, why, sizeof why), -1);
	assert_non_null(strstr(why, "another key (key_id " ED_KEY_ID));
	/* a key_id edited to the other key's does not help */
	cJSON_ReplaceItemInObject(sig, "key_id", cJSON_CreateString("1ed377cdc3b79b37"));
	assert_int_equal(jobs_certificate_check_ed25519(c, other, why, sizeof why), -1);
	assert_non_null(strstr(why, "does not match"));
	free(text);
	cJSON_Delete(back);
	cJSON_Delete(c);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(other);
}

/* A signature made outside tenantdel over the canonical text
 * (`openssl pkeyutl -sign -rawin`) verifies; Ed25519 is deterministic, so
 * signing again gives the same value. */
static void test_ed25519_made_by_openssl_verifies(void **state)
{
	static const char VALUE[] = "AWyMg1JnW28pltqohEIPrfTPyqw7vVQtjNmTTKqT1oZ44rP89RNxdtk8p"
				    "Az90uh1qsErXMpVWqeeyo/cJS8JDA==";
	EVP_PKEY *key = ed_key(ED_KEY_PEM, 0), *pub = ed_key(ED_KEY_PEM, 1);
	cJSON *c = cJSON_Parse("{\"verified\": true, \"tenant_id\": \"acme\", \"deleted\": 446}");
	cJSON *sig = cJSON_AddObjectToObject(c, "signature");
	char why[200];

	cJSON_AddStringToObject(sig, "alg", "Ed25519");
	cJSON_AddStringToObject(sig, "key_id", ED_KEY_ID);
	cJSON_AddStringToObject(sig, "value", VALUE);
	assert_int_equal(jobs_certificate_check_ed25519(c, pub, why, sizeof why), 0);
	assert_int_equal(jobs_certificate_sign_ed25519(c, key), 0);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "signature"),
						"value")->valuestring, VALUE);
	cJSON_Delete(c);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
}

/* Every single-byte change of an Ed25519-signed certificate that still parses fails. */
static void test_ed25519_any_byte_changed_fails(void **state)
{
	EVP_PKEY *key = ed_key(ED_KEY_PEM, 0), *pub = ed_key(ED_KEY_PEM, 1);
	struct proof_record p;
	cJSON *c;
	char why[200], *text;
	int parsed = 0;

	record(&p);
	c = jobs_certificate_build(&p, NOW, "1");
	jobs_proof_record_clear(&p);
	assert_int_equal(jobs_certificate_sign_ed25519(c, key), 0);
	text = print(c);
	cJSON_Delete(c);
	for (size_t i = 0; text[i] != '\0'; i++) {
		char saved = text[i];
		text[i] = (char)(saved == '6' ? '7' : saved ^ 0x01);
		if ((c = cJSON_Parse(text)) != NULL) {
			parsed++;
			assert_int_equal(jobs_certificate_check_ed25519(c, pub, why, sizeof why), -1);
			cJSON_Delete(c);
		}
		text[i] = saved;
	}
	assert_true(parsed > 500);
	free(text);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
}

static void test_ed25519_missing_or_bad_signature(void **state)
{
	EVP_PKEY *pub = ed_key(ED_KEY_PEM, 1);
	cJSON *c = cJSON_Parse("{\"tenant_id\":\"acme\"}");
	char why[200];

	assert_int_equal(jobs_certificate_check_ed25519(c, pub, why, sizeof why), -1);
	assert_non_null(strstr(why, "no signature"));
	assert_int_equal(jobs_certificate_sign(c, KEY, KEYLEN), 0);
	assert_int_equal(jobs_certificate_check_ed25519(c, pub, why, sizeof why), -1);
	assert_non_null(strstr(why, "signed with HMAC-SHA256, not Ed25519"));
	cJSON_ReplaceItemInObject(c, "signature", cJSON_Parse(
		"{\"alg\":\"Ed25519\",\"key_id\":\"" ED_KEY_ID "\",\"value\":\"AAAA\"}"));
	assert_int_equal(jobs_certificate_check_ed25519(c, pub, why, sizeof why), -1);
	assert_non_null(strstr(why, "base64 of 64 bytes"));
	/* no key: left unsigned */
	cJSON_DeleteItemFromObject(c, "signature");
	assert_int_equal(jobs_certificate_sign_with(c, &(struct jobs_signing_keys){ 0 }), 0);
	assert_null(jobs_certificate_alg(c));
	cJSON_Delete(c);
	EVP_PKEY_free(pub);
}

/* ---- the reapply job's event detail ---- */

static void test_reapply_detail(void **state)
{
	struct job_record j = { .id = "0190a000-0000-7000-8000-000000000001",
				.kind = JOB_KIND_REAPPLY, .state = JOB_SCHEDULED,
				.created_at = NOW, .due_at = NOW, .deadline_at = NOW + DAY };
	char *text;

	j.tenant_id = xstrdup("acme");
	j.requested_by = xstrdup("ops");
	j.reason = xstrdup("reapply after a backup restore of orders");
	j.origin_job_id = xstrdup(JOB_ID);
	text = jobs_reapply_detail(&j, "orders", NOW - DAY, NOW - 2 * DAY);
	jobs_job_record_clear(&j);
	assert_string_equal(text,
			    "{\"tenant_id\":\"acme\","
			    "\"due_at\":\"2027-01-15T08:00:00Z\","
			    "\"deadline_at\":\"2027-01-16T08:00:00Z\",\"requested_by\":\"ops\","
			    "\"reason\":\"reapply after a backup restore of orders\","
			    "\"services\":[\"orders\"],\"reapply_of\":\"" JOB_ID "\","
			    "\"purged_at\":\"2027-01-14T08:00:00Z\","
			    "\"since\":\"2027-01-13T08:00:00Z\"}");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_certificate_bytes),
		cmocka_unit_test(test_certificate_of_unfinished_job_refused),
		cmocka_unit_test(test_certificate_findings),
		cmocka_unit_test(test_certificate_without_events),
		cmocka_unit_test(test_certificate_head),
		cmocka_unit_test(test_canonical_ignores_key_order_and_layout),
		cmocka_unit_test(test_sign_and_check),
		cmocka_unit_test(test_signature_made_before_verifies),
		cmocka_unit_test(test_any_byte_changed_fails),
		cmocka_unit_test(test_missing_or_bad_signature),
		cmocka_unit_test(test_ed25519_sign_and_check),
		cmocka_unit_test(test_ed25519_made_by_openssl_verifies),
		cmocka_unit_test(test_ed25519_any_byte_changed_fails),
		cmocka_unit_test(test_ed25519_missing_or_bad_signature),
		cmocka_unit_test(test_reapply_detail),
	};
	return cmocka_run_group_tests_name("certificate", tests, NULL, NULL);
}
