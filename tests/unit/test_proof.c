/*
 * test_proof.c - what the store remembers for proof of erasure, from a real
 * SQLite file: the facts of a certificate (the job, its tasks with their
 * stored counts and skip reasons, its events, the whole chain and where it
 * is broken) and the certificate built from them; store_reapply over
 * hand-inserted tombstones (since filter, one job per tenant, idempotent,
 * no collision with an active purge). The document itself, its canonical
 * form and signature are tested without a database in test_certificate.c.
 * Each test has its own temporary folder and database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/certificate.h"
#include "store/store.h"
#include "store/sqlite/sqlite_int.h"
#include "util/json.h"
#include "util/log.h"
#include "util/util.h"
#include "tests/unit/store_fixture.h"

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
	assert_int_equal(sqlite_begin(sqlite_of(s)), STORE_OK);
	assert_int_equal(sqlite_materialize_tasks(sqlite_of(s), id, NOW), 0);
	assert_int_equal(sqlite_commit(sqlite_of(s)), STORE_OK);
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

/* What store_proof_read and store_proof_read_chain return for job id. */
static void read_proof(struct store *s, const char *id, struct proof_record *p)
{
	assert_int_equal(store_proof_read(s, id, p), STORE_OK);
	assert_int_equal(store_proof_read_chain(s, &p->chain), STORE_OK);
}

static const struct task_record *task_of(const struct proof_record *p, const char *service)
{
	for (size_t i = 0; i < p->n_tasks; i++)
		if (p->tasks[i].kind == TASK_KIND_DELETE && strcmp(p->tasks[i].service, service) == 0)
			return &p->tasks[i];
	return NULL;
}

static void test_proof_read_of_succeeded_job(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct proof_record p;
	const struct task_record *t;

	sched(f->s, "acme", id);
	finish_job(f->s, id);
	read_proof(f->s, id, &p);
	assert_string_equal(p.job.id, id);
	assert_int_equal(p.job.state, JOB_SUCCEEDED);
	assert_string_equal(p.job.tenant_name, "Acme Bakery");
	assert_int_equal(p.n_tasks, 4);
	t = task_of(&p, "orders");
	assert_non_null(t);
	assert_string_equal(t->preview_before, "{\"orders\":12,\"customers\":3}");
	assert_string_equal(t->deleted_counts, "{\"orders\":12,\"customers\":3}");
	assert_int_equal(t->before_total, 15);
	assert_int_equal(t->verified_after, 0);
	t = task_of(&p, "pos");
	assert_null(t->deleted_counts);
	assert_int_equal(t->verified_after, -1);
	assert_int_equal(t->attempts, 3);
	t = task_of(&p, "legacy");
	assert_int_equal(t->state, TASK_SKIPPED);
	assert_string_equal(t->skip_reason, "service removed from the config");
	/* its one event (job.scheduled) is the whole chain */
	assert_int_equal(p.events.count, 1);
	assert_int_equal(p.events.first_id, 1);
	assert_int_equal(p.events.last_id, 1);
	assert_true(p.events.all_ok);
	assert_int_equal(p.chain.events, 1);
	assert_int_equal(p.chain.broken_at, 0);
	assert_string_equal(p.chain.head, p.events.last_hash);
	assert_int_equal(strlen(p.chain.head), 64);
	jobs_proof_record_clear(&p);
}

/* The certificate of a job run through the store, as certificate prints it. */
static void test_certificate_of_succeeded_job(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct proof_record p;
	const cJSON *o, *sk;
	cJSON *cert;

	sched(f->s, "acme", id);
	finish_job(f->s, id);
	read_proof(f->s, id, &p);
	cert = jobs_certificate_build(&p, NOW + DAY, "9.9");
	jobs_proof_record_clear(&p);
	assert_non_null(cert);
	assert_string_equal(cJSON_GetObjectItem(cert, "job_id")->valuestring, id);
	assert_string_equal(cJSON_GetObjectItem(cert, "received_at")->valuestring,
			    "2027-01-14T08:00:00Z");
	assert_string_equal(cJSON_GetObjectItem(cert, "finished_at")->valuestring,
			    "2027-01-15T08:01:00Z");
	assert_string_equal(cJSON_GetObjectItem(cert, "method")->valuestring, PROOF_METHOD);
	o = service_entry(cert, "orders");
	assert_int_equal(int_of(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "deleted_counts"),
						    "orders")), 12);
	assert_string_equal(cJSON_GetObjectItem(o, "verification")->valuestring, PROOF_VERIFIED);
	assert_string_equal(cJSON_GetObjectItem(service_entry(cert, "pos"), "verification")
				    ->valuestring, PROOF_NOT_VERIFIED);
	assert_null(service_entry(cert, "legacy"));
	sk = cJSON_GetArrayItem(cJSON_GetObjectItem(cert, "skipped_services"), 0);
	assert_string_equal(cJSON_GetObjectItem(sk, "service")->valuestring, "legacy");
	assert_int_equal(int_of(cJSON_GetObjectItem(cJSON_GetObjectItem(cert, "totals"),
						    "deleted")), 15);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cert, "chain_verified")));
	assert_int_equal(cJSON_GetObjectItem(cert, "event_count")->valueint, 1);
	cJSON_Delete(cert);
}

static void test_proof_read_unfinished_and_unknown(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct proof_record p;

	sched(f->s, "acme", id);
	assert_int_equal(store_proof_read(f->s, id, &p), STORE_OK);
	assert_int_equal(p.job.state, JOB_SCHEDULED);
	assert_false(jobs_certificate_issuable(&p.job));
	assert_null(jobs_certificate_build(&p, NOW, "1"));
	jobs_proof_record_clear(&p);
	memset(&p, 0xff, sizeof p);
	assert_int_equal(store_proof_read(f->s, "0190a000-0000-7000-8000-000000000000", &p),
			 STORE_NOT_FOUND);
	assert_null(p.tasks);
	assert_null(p.job.tenant_id);
}

static void test_proof_read_reports_broken_chain(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1], other[JOBS_ID_LEN + 1];
	struct proof_record p;
	cJSON *cert;

	sched(f->s, "acme", id);
	sched(f->s, "globex", other);
	finish_job(f->s, id);
	/* an edit behind the program's back, to another job's event */
	fx_exec(f->s, "DROP TRIGGER events_no_update;"
		   " UPDATE events SET detail = '{\"tampered\":1}' WHERE id = 2");
	read_proof(f->s, id, &p);
	assert_true(p.events.all_ok); /* this job's own event is intact */
	assert_int_equal(p.chain.events, 2);
	assert_int_equal(p.chain.broken_at, 2);
	cert = jobs_certificate_build(&p, NOW, "1");
	jobs_proof_record_clear(&p);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cert, "chain_verified")));
	assert_int_equal(cJSON_GetObjectItem(cert, "chain_broken_at")->valueint, 2);
	cJSON_Delete(cert);

	/* and one of its own: its events no longer verify either */
	fx_exec(f->s, "UPDATE events SET detail = '{\"tampered\":1}' WHERE id = 1");
	read_proof(f->s, id, &p);
	assert_false(p.events.all_ok);
	assert_int_equal(p.chain.broken_at, 1);
	jobs_proof_record_clear(&p);
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
	fx_assert_states_kept(s);
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
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM events WHERE type = 'job.scheduled'"
				     " AND json_extract(detail, '$.reapply_of') IS NOT NULL"), 2);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM outbox WHERE type = 'job.scheduled'"),
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
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM jobs WHERE kind = 'reapply'"), 3);
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
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM jobs WHERE kind = 'purge'"
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
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM events"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_proof_read_of_succeeded_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificate_of_succeeded_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proof_read_unfinished_and_unknown, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_proof_read_reports_broken_chain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reapply_creates_due_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reapply_is_idempotent_while_unfinished, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reapply_beside_active_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reapply_nothing_since, setup, teardown),
	};
	fx_quiet_log(LOG_ERROR, "TEST_PROOF_LOG");
	return cmocka_run_group_tests_name("proof", tests, NULL, NULL);
}
