/*
 * test_proof.c - proof of erasure: the certificate's canonical form and
 * HMAC signature (any change found, layout and key order irrelevant), the
 * certificate of a succeeded job built from a real SQLite file (refused for
 * an unfinished job, chain tampering reported), and store_reapply over
 * hand-inserted tombstones (since filter, one job per tenant, idempotent,
 * no collision with an active purge). Each test has its own temporary
 * folder and database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/proof.h"
#include "store/store_int.h"
#include "util/json.h"
#include "util/log.h"
#include "util/util.h"
#include "tests/unit/store_fixture.h"

#define NOW 1800000000000LL /* 2027-01-15 */
#define DAY 86400000LL

static const unsigned char KEY[] = "certificate-key-for-tests";
#define KEYLEN (sizeof KEY - 1)

static const struct store_service SVCS[] = {
	{ .name = "orders", .phase = 1 },
	{ .name = "pos", .phase = 1 },
	{ .name = "legacy", .phase = 1 },
	{ .name = "tenant", .phase = 2 },
};
#define N_SVCS 4

static int setup(void **state)
{
	return fx_setup(state, "test_proof");
}

static int teardown(void **state)
{
	return fx_teardown(state);
}

static void execf(struct store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void execf(struct store *s, const char *fmt, ...)
{
	char sql[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	fx_exec(s, sql);
}

static int64_t q_int(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void sched(struct store *s, const char *tenant, char id[JOBS_ID_LEN + 1])
{
	struct store_new_job j = { .tenant_id = tenant, .tenant_name = "Acme Bakery",
				   .requested_by = "dpo@example.com", .reason = "GDPR Art. 17",
				   .due_at = NOW, .deadline_at = NOW + DAY };
	char ids[1][JOBS_ID_LEN + 1];
	int created = -1;

	assert_int_equal(store_schedule(s, &j, 1, SVCS, N_SVCS, NOW - DAY, ids, &created),
			 STORE_OK);
	memcpy(id, ids[0], JOBS_ID_LEN + 1);
}

/* What the engine records for a finished purge, written by hand (its
 * delete tasks are created when it starts, as the engine does). */
static void finish_job(struct store *s, const char *id)
{
	assert_int_equal(store_begin(s), STORE_OK);
	assert_int_equal(store_materialize_tasks(s, id, NOW), 0);
	assert_int_equal(store_commit(s), STORE_OK);
	execf(s,
	      "UPDATE tasks SET state = 'succeeded', attempts = 1, http_status = 200,"
	      " preview_before = '{\"orders\":12,\"customers\":3}', before_total = 15,"
	      " deleted_counts = '{\"orders\":12,\"customers\":3}', total_deleted = 15,"
	      " verified_after = 0 WHERE job_id = '%s' AND service = 'orders'",
	      id);
	execf(s,
	      "UPDATE tasks SET state = 'succeeded', attempts = 3, http_status = 204,"
	      " verified_after = NULL WHERE job_id = '%s' AND service IN ('pos','tenant')",
	      id);
	execf(s,
	      "UPDATE tasks SET state = 'skipped', skip_reason = 'service removed from the"
	      " config' WHERE job_id = '%s' AND service = 'legacy'",
	      id);
	execf(s,
	      "UPDATE jobs SET state = 'succeeded', started_at = 1800000000000,"
	      " finished_at = 1800000060000 WHERE id = '%s'",
	      id);
}

/* ---- canonical form and signature ---- */

static void test_canonical_ignores_key_order_and_layout(void **state)
{
	cJSON *a = cJSON_Parse("{\"b\":1,\"a\":{\"y\":[1,{\"q\":2,\"p\":3}],\"x\":\"s\"}}");
	cJSON *b = cJSON_Parse("{ \"a\" : { \"x\":\"s\",\n \"y\":[1,{\"p\":3,\"q\":2}] },\n"
			       "  \"b\" : 1, \"signature\": {\"alg\":\"x\",\"value\":\"y\"} }");
	char *ca = store_certificate_canonical(a), *cb = store_certificate_canonical(b);

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

	assert_int_equal(store_certificate_sign(c, KEY, KEYLEN), 0);
	sig = cJSON_GetObjectItem(c, "signature");
	assert_string_equal(cJSON_GetObjectItem(sig, "alg")->valuestring, "HMAC-SHA256");
	assert_int_equal(strlen(cJSON_GetObjectItem(sig, "value")->valuestring), 64);
	assert_int_equal(store_certificate_check(c, KEY, KEYLEN, why, sizeof why), 0);

	/* pretty-printed and parsed again: still verifies */
	text = cJSON_Print(c);
	back = cJSON_Parse(text);
	assert_int_equal(store_certificate_check(back, KEY, KEYLEN, why, sizeof why), 0);
	free(text);
	cJSON_Delete(back);

	/* signing again replaces the signature, no second one */
	assert_int_equal(store_certificate_sign(c, KEY, KEYLEN), 0);
	assert_int_equal(cJSON_GetArraySize(c), 4);

	/* another key */
	assert_int_equal(store_certificate_check(c, (const unsigned char *)"other", 5, why,
						 sizeof why), -1);
	assert_non_null(strstr(why, "does not match"));
	cJSON_Delete(c);
}

/* Every single-byte change of a signed certificate's text that still parses fails. */
static void test_any_byte_changed_fails(void **state)
{
	cJSON *c = cJSON_Parse("{\"tenant_id\":\"acme\",\"deleted\":446,\"verified\":true}");
	char why[200];
	char *text;
	int parsed = 0;

	assert_int_equal(store_certificate_sign(c, KEY, KEYLEN), 0);
	text = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	for (size_t i = 0; text[i] != '\0'; i++) {
		char saved = text[i];
		text[i] = (char)(saved == '6' ? '7' : saved ^ 0x01);
		c = cJSON_Parse(text);
		if (c != NULL) {
			parsed++;
			assert_int_equal(store_certificate_check(c, KEY, KEYLEN, why, sizeof why), -1);
			cJSON_Delete(c);
		}
		text[i] = saved;
	}
	assert_true(parsed > 20);
	free(text);
}

static void test_missing_or_bad_signature(void **state)
{
	cJSON *c = cJSON_Parse("{\"tenant_id\":\"acme\"}");
	char why[200];

	assert_int_equal(store_certificate_check(c, KEY, KEYLEN, why, sizeof why), -1);
	assert_non_null(strstr(why, "no signature"));
	cJSON_AddItemToObject(c, "signature",
			      cJSON_Parse("{\"alg\":\"none\",\"value\":\"\"}"));
	assert_int_equal(store_certificate_check(c, KEY, KEYLEN, why, sizeof why), -1);
	assert_non_null(strstr(why, "algorithm"));
	cJSON_Delete(c);
}

/* ---- the certificate from a database ---- */

static const cJSON *service_entry(const cJSON *cert, const char *name)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(cert, "services"))
		if (strcmp(cJSON_GetObjectItem(e, "service")->valuestring, name) == 0)
			return e;
	return NULL;
}

/* A count of the certificate (printed exactly: util/json.h). */
static int64_t int_of(const cJSON *item)
{
	int64_t v = -1;

	assert_int_equal(json_get_int(item, &v), 0);
	return v;
}

static void test_certificate_of_succeeded_job(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	const cJSON *o, *p, *sk;
	cJSON *cert;
	enum job_state js;

	sched(f->s, "acme", id);
	finish_job(f->s, id);
	assert_int_equal(store_certificate_build(f->s, id, NOW + DAY, "9.9", &cert, &js), STORE_OK);
	assert_int_equal(js, JOB_SUCCEEDED);
	assert_string_equal(cJSON_GetObjectItem(cert, "tenant_id")->valuestring, "acme");
	assert_string_equal(cJSON_GetObjectItem(cert, "tenant_name")->valuestring, "Acme Bakery");
	assert_string_equal(cJSON_GetObjectItem(cert, "job_id")->valuestring, id);
	assert_string_equal(cJSON_GetObjectItem(cert, "kind")->valuestring, "purge");
	assert_string_equal(cJSON_GetObjectItem(cert, "requested_by")->valuestring,
			    "dpo@example.com");
	assert_string_equal(cJSON_GetObjectItem(cert, "reason")->valuestring, "GDPR Art. 17");
	assert_string_equal(cJSON_GetObjectItem(cert, "received_at")->valuestring,
			    "2027-01-14T08:00:00Z");
	assert_string_equal(cJSON_GetObjectItem(cert, "finished_at")->valuestring,
			    "2027-01-15T08:01:00Z");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cert, "deadline_met")));
	assert_string_equal(cJSON_GetObjectItem(cert, "method")->valuestring, PROOF_METHOD);

	o = service_entry(cert, "orders");
	assert_non_null(o);
	assert_int_equal(int_of(cJSON_GetObjectItem(o, "before")), 15);
	assert_int_equal(int_of(cJSON_GetObjectItem(o, "deleted")), 15);
	assert_int_equal(int_of(cJSON_GetObjectItem(o, "after")), 0);
	assert_int_equal(int_of(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "deleted_counts"),
						    "orders")), 12);
	assert_string_equal(cJSON_GetObjectItem(o, "verification")->valuestring, PROOF_VERIFIED);
	assert_int_equal(cJSON_GetObjectItem(o, "attempts")->valueint, 1);
	p = service_entry(cert, "pos");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(p, "deleted")));
	assert_string_equal(cJSON_GetObjectItem(p, "verification")->valuestring,
			    PROOF_NOT_VERIFIED);
	assert_int_equal(cJSON_GetObjectItem(p, "attempts")->valueint, 3);
	assert_null(service_entry(cert, "legacy"));
	sk = cJSON_GetArrayItem(cJSON_GetObjectItem(cert, "skipped_services"), 0);
	assert_string_equal(cJSON_GetObjectItem(sk, "service")->valuestring, "legacy");
	assert_string_equal(cJSON_GetObjectItem(sk, "reason")->valuestring,
			    "service removed from the config");
	assert_int_equal(int_of(cJSON_GetObjectItem(cJSON_GetObjectItem(cert, "totals"),
						    "deleted")), 15);

	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cert, "chain_verified")));
	assert_int_equal(strlen(cJSON_GetObjectItem(cert, "chain_head")->valuestring), 64);
	assert_int_equal(cJSON_GetObjectItem(cert, "event_count")->valueint, 1);
	assert_string_equal(cJSON_GetObjectItem(cert, "issued_at")->valuestring,
			    "2027-01-16T08:00:00Z");
	cJSON_Delete(cert);
}

static void test_certificate_refused_and_unknown(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	cJSON *cert = (cJSON *)1;
	enum job_state js = JOB_SUCCEEDED;

	sched(f->s, "acme", id);
	assert_int_equal(store_certificate_build(f->s, id, NOW, "1", &cert, &js), STORE_REFUSED);
	assert_null(cert);
	assert_int_equal(js, JOB_SCHEDULED);
	assert_int_equal(store_certificate_build(f->s, "0190a000-0000-7000-8000-000000000000",
						 NOW, "1", &cert, NULL), STORE_NOT_FOUND);
}

static void test_certificate_reports_broken_chain(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1], other[JOBS_ID_LEN + 1];
	cJSON *cert;

	sched(f->s, "acme", id);
	sched(f->s, "globex", other);
	finish_job(f->s, id);
	/* an edit behind the program's back, to another job's event */
	fx_exec(f->s, "DROP TRIGGER events_no_update;"
		   " UPDATE events SET detail = '{\"tampered\":1}' WHERE id = 2");
	assert_int_equal(store_certificate_build(f->s, id, NOW, "1", &cert, NULL), STORE_OK);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cert, "chain_verified")));
	assert_int_equal(cJSON_GetObjectItem(cert, "chain_broken_at")->valueint, 2);
	cJSON_Delete(cert);
}

/* ---- tombstones and reapply ---- */

static void tombstone(struct store *s, const char *tenant, const char *job_id, int64_t at)
{
	char *sql = xasprintf("INSERT INTO tombstones (job_id, tenant_id, purged_at, services)"
			      " VALUES ('%s', '%s', %lld, '[\"orders\",\"pos\"]')",
			      job_id, tenant, (long long)at);
	fx_exec(s, sql);
	free(sql);
}

static int count_tombstone(void *ctx, const struct store_tombstone *t)
{
	(*(int *)ctx)++;
	return 0;
}

static void reapply(struct store *s, int64_t since, struct store_reapply_item **items,
		    size_t *n)
{
	struct store_reapply_req r = { .service = "orders", .phase = 1, .since = since,
				       .by = "ops", .now = NOW, .deadline_at = NOW + DAY };

	assert_int_equal(store_reapply(s, &r, items, n), STORE_OK);
}

static void test_reapply_creates_due_jobs(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1], b[JOBS_ID_LEN + 1], old[JOBS_ID_LEN + 1];
	struct store_reapply_item *items;
	struct job_record j;
	struct task_record *t;
	size_t n, nt;
	int count = 0;

	sched(f->s, "acme", a);
	finish_job(f->s, a);
	sched(f->s, "globex", b);
	finish_job(f->s, b);
	sched(f->s, "oldco", old);
	finish_job(f->s, old);
	tombstone(f->s, "acme", a, NOW - 2 * DAY);
	tombstone(f->s, "globex", b, NOW - DAY);
	tombstone(f->s, "oldco", old, NOW - 30 * DAY);
	assert_int_equal(store_tombstones_list(f->s, NOW - 3 * DAY, count_tombstone, &count),
			 STORE_OK);
	assert_int_equal(count, 2);

	reapply(f->s, NOW - 3 * DAY, &items, &n);
	assert_int_equal(n, 2);
	assert_string_equal(items[0].tenant_id, "acme"); /* oldest purge first */
	assert_string_equal(items[0].origin_job_id, a);
	assert_int_equal(items[0].created, 1);
	assert_int_equal(store_job_get(f->s, items[0].job_id, &j), STORE_OK);
	assert_int_equal(j.kind, JOB_KIND_REAPPLY);
	assert_int_equal(j.state, JOB_SCHEDULED);
	assert_int_equal(j.due_at, NOW);
	assert_string_equal(j.origin_job_id, a);
	assert_string_equal(j.tenant_name, "Acme Bakery");
	assert_string_equal(j.requested_by, "ops");
	jobs_job_record_clear(&j);
	assert_int_equal(store_job_tasks(f->s, items[0].job_id, &t, &nt), STORE_OK);
	assert_int_equal(nt, 1);
	assert_string_equal(t[0].service, "orders");
	assert_int_equal(t[0].kind, TASK_KIND_DELETE);
	assert_int_equal(t[0].state, TASK_PENDING);
	assert_int_equal(t[0].next_attempt_at, NOW);
	jobs_task_records_free(t, nt);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM events WHERE type = 'job.scheduled'"
				     " AND json_extract(detail, '$.reapply_of') IS NOT NULL"), 2);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM outbox WHERE type = 'job.scheduled'"),
			 5);
	store_reapply_items_free(items, n);
}

static void test_reapply_is_idempotent_while_unfinished(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1], again[JOBS_ID_LEN + 1];
	struct store_reapply_item *items, *items2;
	struct store_reapply_req pos = { .service = "pos", .phase = 1, .since = 0,
					 .now = NOW, .deadline_at = NOW + DAY };
	size_t n, n2;

	sched(f->s, "acme", a);
	finish_job(f->s, a);
	tombstone(f->s, "acme", a, NOW - DAY);
	/* the tenant id purged twice: one reapply job, from its latest purge */
	sched(f->s, "acme", again);
	finish_job(f->s, again);
	tombstone(f->s, "acme", again, NOW - DAY / 2);

	reapply(f->s, 0, &items, &n);
	assert_int_equal(n, 1);
	assert_string_equal(items[0].origin_job_id, again);
	reapply(f->s, 0, &items2, &n2);
	assert_int_equal(n2, 1);
	assert_int_equal(items2[0].created, 0);
	assert_string_equal(items2[0].job_id, items[0].job_id);
	store_reapply_items_free(items2, n2);

	/* another service is another job */
	assert_int_equal(store_reapply(f->s, &pos, &items2, &n2), STORE_OK);
	assert_int_equal(items2[0].created, 1);
	store_reapply_items_free(items2, n2);

	/* once the first has finished, a new one may be created */
	execf(f->s, "UPDATE jobs SET state = 'succeeded' WHERE id = '%s'", items[0].job_id);
	reapply(f->s, 0, &items2, &n2);
	assert_int_equal(items2[0].created, 1);
	assert_string_not_equal(items2[0].job_id, items[0].job_id);
	store_reapply_items_free(items2, n2);
	store_reapply_items_free(items, n);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM jobs WHERE kind = 'reapply'"), 3);
}

static void test_reapply_beside_active_purge(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1], active[JOBS_ID_LEN + 1];
	struct store_reapply_item *items;
	size_t n;

	sched(f->s, "acme", a);
	finish_job(f->s, a);
	tombstone(f->s, "acme", a, NOW - DAY);
	sched(f->s, "acme", active); /* a new active purge of the same tenant id */
	reapply(f->s, 0, &items, &n);
	assert_int_equal(n, 1);
	assert_int_equal(items[0].created, 1);
	assert_string_not_equal(items[0].job_id, active);
	store_reapply_items_free(items, n);
	/* and the purge of a tenant is still idempotent */
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM jobs WHERE kind = 'purge'"
				     " AND state = 'scheduled'"), 1);
}

static void test_reapply_nothing_since(void **state)
{
	struct fx *f = *state;
	struct store_reapply_item *items;
	size_t n = 99;

	reapply(f->s, 0, &items, &n);
	assert_int_equal(n, 0);
	store_reapply_items_free(items, n);
	assert_int_equal(q_int(f->s, "SELECT count(*) FROM events"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_ignores_key_order_and_layout),
		cmocka_unit_test(test_sign_and_check),
		cmocka_unit_test(test_any_byte_changed_fails),
		cmocka_unit_test(test_missing_or_bad_signature),
		cmocka_unit_test_setup_teardown(test_certificate_of_succeeded_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificate_refused_and_unknown, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_certificate_reports_broken_chain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reapply_creates_due_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reapply_is_idempotent_while_unfinished, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reapply_beside_active_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reapply_nothing_since, setup, teardown),
	};
	log_set_level(LOG_ERROR);
	if (getenv("TEST_PROOF_LOG") == NULL)
		log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
	return cmocka_run_group_tests_name("proof", tests, NULL, NULL);
}
