/*
 * test_store_chain.c - the audit trail through the store's interface: one
 * hash chain that verifies, a job's events each checked, an edit or a
 * forged hash made behind the program's back found; the SQLite backend's
 * triggers keep the events append-only; a lock held too long is an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"
#include "store/store.h"
#include "util/log.h"
#include "tests/unit/store_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "test_store_chain");
}

static int teardown(void **state)
{
	return fx_teardown(state);
}

/* Schedules one tenant due at due with fx_svcs(); returns created. */
static int sched(struct store *s, const char *tenant, int64_t due, char id[JOBS_ID_LEN + 1])
{
	return fx_schedule(s, tenant, NOW, due, fx_svcs(), FX_N_SVCS, id);
}

struct evs {
	int n, bad;
	int64_t first_bad;
};

static int count_events(void *ctx, const struct event_record *ev)
{
	struct evs *e = ctx;

	e->n++;
	if (!ev->chain_ok && e->bad++ == 0)
		e->first_bad = ev->id;
	return 0;
}

static void test_chain_verifies(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1], head[65], why[160];
	int64_t bad = -1, count = 0;
	struct evs e = { 0 };

	sched(f->s, "a", NOW, id);
	store_job_hold(f->s, id, NULL, "r", NOW, NULL);
	store_job_release(f->s, id, NULL, NOW, NULL);
	assert_int_equal(store_events_verify(f->s, &bad, why, sizeof why, &count, head), STORE_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(count, 3);
	assert_int_equal(strlen(head), 64);
	assert_int_equal(store_events_list(f->s, id, count_events, &e), STORE_OK);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.bad, 0);
}

static void test_empty_chain(void **state)
{
	struct fx *f = *state;
	char head[65], why[160];
	int64_t bad = -1, count = -1;

	assert_int_equal(store_events_verify(f->s, &bad, why, sizeof why, &count, head), STORE_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(count, 0);
	assert_string_equal(head, "");
}

/* An edit made behind the program's back, with the triggers dropped. */
static void test_tampering_detected(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1], b[JOBS_ID_LEN + 1], head[65], why[160];
	int64_t bad = 0, count = 0;
	struct evs e = { 0 };
	sqlite3 *db;

	sched(f->s, "a", NOW, a);
	sched(f->s, "b", NOW, b);                     /* event 2 */
	store_job_hold(f->s, b, NULL, "r", NOW, NULL); /* event 3 */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER events_no_update;"
				      " UPDATE events SET detail = '{\"tenant_id\":\"zzz\"}'"
				      " WHERE id = 2", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_events_verify(f->s, &bad, why, sizeof why, &count, head), STORE_OK);
	assert_int_equal(bad, 2);
	assert_non_null(strstr(why, "event 2"));
	assert_int_equal(store_events_list(f->s, b, count_events, &e), STORE_OK);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.bad, 1);
	assert_int_equal(e.first_bad, 2);
	e = (struct evs){ 0 };
	assert_int_equal(store_events_list(f->s, a, count_events, &e), STORE_OK);
	assert_int_equal(e.bad, 0);
}

/* A forged hash no longer matches the row's content. */
static void test_forged_hash_detected(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1], head[65], why[160];
	int64_t bad = 0, count = 0;

	sched(f->s, "a", NOW, a);
	store_job_hold(f->s, a, NULL, "r", NOW, NULL);
	fx_exec(f->s, "DROP TRIGGER events_no_update;"
		   " UPDATE events SET hash = CASE substr(hash, 1, 2) WHEN 'ab' THEN 'cd' ELSE 'ab'"
		   " END || substr(hash, 3) WHERE id = 1"); /* always another hash */
	assert_int_equal(store_events_verify(f->s, &bad, why, sizeof why, &count, head), STORE_OK);
	assert_int_equal(bad, 1);
}

static void test_triggers_refuse_update_delete(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1];
	sqlite3 *db = sqlite_of(f->s)->db;

	sched(f->s, "a", NOW, a);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE events SET detail = '{}'", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(db), "append-only"));
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM events", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM events"), 1);
}

/* Another writer's lock held longer than this handle waits (busy_wait_ms):
 * an error of kind STORE_E_BUSY, in words, and nothing stored. */
static void test_locked_database_is_an_error(void **state)
{
	struct fx *f = *state;
	struct store_config c = { .path = f->path, .busy_wait_ms = 50 };
	char a[JOBS_ID_LEN + 1], err[256];
	struct store_new_job j = { .tenant_id = "a", .due_at = NOW, .deadline_at = NOW };
	struct store *s = store_open(&c, err, sizeof err);
	int created;
	sqlite3 *db;

	assert_non_null(s);
	assert_int_equal(store_last_error_kind(s), STORE_E_NONE);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_schedule(s, &j, 1, fx_svcs(), FX_N_SVCS, NOW,
					(char (*)[JOBS_ID_LEN + 1])a, &created), STORE_ERR);
	assert_non_null(strstr(store_last_error(s), "locked"));
	assert_int_equal(store_last_error_kind(s), STORE_E_BUSY);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	assert_int_equal(sched(s, "a", NOW, a), 1);
	store_close(s);
}

/* The canonical form, byte for byte: stores written by earlier versions
 * must keep verifying (the expected values are sha256sum of the seven
 * fields joined by newlines, NULL as empty, negative numbers with '-'). */
static void test_event_hash_known_answers(void **state)
{
	char h[STORE_HASH_HEX];

	(void)state;
	store_event_hash(store_genesis_hash, 1, "job-1", 1700000000123, "task.attempt", "orders",
			 "{\"status\":200,\"n\":\"\xc3\xa9\"}", h);
	assert_string_equal(h, "66855a1964dfbbefcd399d245f36ba109f257aa3d7957a7e717ff99b56b74545");
	store_event_hash(NULL, -42, NULL, -5, "job.scheduled", NULL, NULL, h);
	assert_string_equal(h, "729830a55b27811274d41268acbd5c58ae4b8afad06ce0680f2a5baf71b138c0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_hash_known_answers),
		cmocka_unit_test_setup_teardown(test_chain_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampering_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_hash_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_triggers_refuse_update_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked_database_is_an_error, setup, teardown),
	};
	fx_quiet_log(LOG_ERROR, "TEST_STORE_LOG");
	return cmocka_run_group_tests_name("store_chain", tests, NULL, NULL);
}
