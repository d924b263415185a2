/*
 * test_store_compact.c - the SQLite store's compact events (version 14):
 * a store of version 13, whose events keep both hashes as hex text,
 * migrates, keeps verifying, and the events appended after it (the hash
 * as 32 bytes, prev_hash not repeated) chain onto the old ones; the
 * smaller indexes; a missing event named as missing; migrate-store into
 * SQLite writes the compact rows too.
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
#include "store/sqlite/sqlite_int.h"
#include "store/store.h"
#include "util/log.h"
#include "tests/unit/store_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "test_store_compact");
}

static int teardown(void **state)
{
	return fx_teardown(state);
}

/* Appends event id (job-less) the way version 13 wrote it: both hashes
 * as hex text; prev is the hash of event id-1, out gets this one's. */
static void old_event(sqlite3 *db, int64_t id, const char *prev, char out[STORE_HASH_HEX])
{
	char sql[512];

	store_event_hash(prev, id, NULL, NOW, "service.retired", "legacy", "{\"reason\":\"x\"}",
			 out);
	snprintf(sql, sizeof sql,
		 "INSERT INTO events (id, job_id, at, type, service, detail, prev_hash, hash)"
		 " VALUES (%lld, NULL, %lld, 'service.retired', 'legacy', '{\"reason\":\"x\"}',"
		 " '%s', '%s')", (long long)id, (long long)NOW, prev, out);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* A version 13 store at path with two events written as it wrote them. */
static void write_v13_store(const char *path)
{
	char h1[STORE_HASH_HEX], h2[STORE_HASH_HEX];
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (int i = 0; i < 13; i++)
		assert_int_equal(sqlite3_exec(db, sqlite_migrations[i], NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 13", NULL, NULL, NULL), SQLITE_OK);
	old_event(db, 1, store_genesis_hash, h1);
	old_event(db, 2, h1, h2);
	sqlite3_close(db);
}

static int count_ok(void *ctx, const struct event_record *ev)
{
	int *n = ctx;

	*n += ev->chain_ok ? 1 : -100;
	return 0;
}

static void test_version_13_store_migrates_and_verifies(void **state)
{
	struct fx *f = *state;
	char path[160], err[256], id[JOBS_ID_LEN + 1], head[65], why[160];
	int64_t bad = -1, count = 0;
	struct store *s;
	int ok = 0;

	snprintf(path, sizeof path, "%s/v13.db", f->dir);
	write_v13_store(path);
	s = fx_open(path, 0, err, sizeof err);
	assert_non_null(s);
	assert_int_equal(fx_int(s, "PRAGMA user_version"), sqlite_n_migrations);
	/* the old rows are as they were */
	assert_int_equal(fx_int(s, "SELECT count(*) FROM events WHERE typeof(hash) = 'text'"
				" AND length(prev_hash) = 64"), 2);
	/* new ones: events 3 and 4 */
	assert_int_equal(fx_schedule(s, "acme", NOW, NOW, fx_svcs(), FX_N_SVCS, id), 1);
	assert_int_equal(store_job_hold(s, id, NULL, "r", NOW, NULL), STORE_OK);
	assert_int_equal(fx_int(s, "SELECT count(*) FROM events WHERE id > 2"
				" AND typeof(hash) = 'blob' AND length(hash) = 32"
				" AND typeof(prev_hash) = 'blob' AND length(prev_hash) = 0"), 2);
	assert_int_equal(store_events_verify(s, &bad, why, sizeof why, &count, head), STORE_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(count, 4);
	/* a job's events each checked against the row before, old or new */
	assert_int_equal(store_events_list(s, id, count_ok, &ok), STORE_OK);
	assert_int_equal(ok, 2);
	/* the indexes of version 14 */
	assert_int_equal(fx_int(s, "SELECT count(*) FROM sqlite_schema WHERE"
				" (name = 'jobs_by_tenant' AND sql LIKE '%ON jobs(tenant_id)')"
				" OR (name = 'events_by_job' AND sql LIKE '%ON events(job_id)')"), 2);
	store_close(s);
}

struct first {
	int64_t id;
	char prev[STORE_HASH_HEX];
};

static int first_event(void *ctx, const struct event_record *ev)
{
	struct first *p = ctx;

	if (p->id == 0) {
		p->id = ev->id;
		snprintf(p->prev, sizeof p->prev, "%s", ev->prev_hash ? ev->prev_hash : "");
	}
	return 0;
}

/* A row deleted behind the program's back: the next one names it missing
 * (its prev_hash, not repeated, cannot be read from the row before). */
static void test_missing_event_is_named(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1], b[JOBS_ID_LEN + 1], head[65], why[160];
	int64_t bad = 0, count = 0;
	struct first p = { 0 };

	assert_int_equal(fx_schedule(f->s, "a", NOW, NOW, fx_svcs(), FX_N_SVCS, a), 1);
	assert_int_equal(store_events_verify(f->s, &bad, why, sizeof why, &count, head), STORE_OK);
	assert_int_equal(fx_schedule(f->s, "b", NOW, NOW, fx_svcs(), FX_N_SVCS, b), 1);
	/* events --json shows the prev_hash a row no longer repeats */
	assert_int_equal(store_events_list(f->s, b, first_event, &p), STORE_OK);
	assert_int_equal(p.id, 2);
	assert_string_equal(p.prev, head);
	fx_exec(f->s, "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = 1");
	assert_int_equal(store_events_verify(f->s, &bad, why, sizeof why, &count, head), STORE_OK);
	assert_int_equal(bad, 2);
	assert_string_equal(why, "event 2: event 1 is missing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_version_13_store_migrates_and_verifies, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_event_is_named, setup, teardown),
	};
	fx_quiet_log(LOG_ERROR, "TEST_STORE_LOG");
	return cmocka_run_group_tests_name("store_compact", tests, NULL, NULL);
}
