/*
 * test_service_sets.c - the snapshot of services a job not started yet
 * covers, kept as rows (migration 7): one set per distinct list of (name,
 * phase), shared by the jobs scheduled with it, the delete tasks created
 * from it when a job starts, a config change before the start, and stores
 * written before migration 2 (tasks already made) and 7 (JSON sets).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"
#include "tests/unit/store_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "test_service_sets");
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

/* The set a job scheduled now for tenant with svcs gets. */
static int64_t set_of(struct store *s, const char *tenant, const struct store_service *svcs,
		      size_t n)
{
	struct store_new_job j = { .tenant_id = tenant, .due_at = NOW + DAY,
				   .deadline_at = NOW + 2 * DAY };
	char ids[1][JOBS_ID_LEN + 1], *sql;
	int created;
	int64_t id;

	assert_int_equal(store_schedule(s, &j, 1, svcs, n, NOW, ids, &created), STORE_OK);
	sql = xasprintf("SELECT service_set_id FROM jobs WHERE id = '%s'", ids[0]);
	id = fx_int(s, sql);
	free(sql);
	return id;
}

/* The same services give the same set whatever their order; another phase,
 * one service more or less, or none at all, another set. */
static void test_sets_shared_by_members(void **state)
{
	struct fx *f = *state;
	const struct store_service abc[] = { { "a", 1, 0, 0 }, { "b", 1, 0, 0 }, { "c", 2, 0, 0 } };
	const struct store_service cab[] = { { "c", 2, 1, 1 }, { "a", 1, 0, 0 }, { "b", 1, 0, 0 } };
	const struct store_service ab2[] = { { "a", 1, 0, 0 }, { "b", 2, 0, 0 }, { "c", 2, 0, 0 } };
	int64_t first = set_of(f->s, "t1", abc, 3);

	assert_true(first > 0);
	assert_int_equal(set_of(f->s, "t2", cab, 3), first);
	assert_true(set_of(f->s, "t3", ab2, 3) != first);
	assert_true(set_of(f->s, "t4", abc, 2) != first);
	assert_int_equal(set_of(f->s, "t5", abc, 2), set_of(f->s, "t6", abc, 2));
	assert_int_equal(set_of(f->s, "t7", abc, 0), set_of(f->s, "t8", abc, 0));
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM service_sets"), 4);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM service_set_members"), 3 + 3 + 2);
}

/* A version 5 store as the code before migration 7 wrote it: a JSON set
 * shared by two jobs not started yet, and a configured set (a service
 * more) that no job was scheduled with. */
static void write_v5_store(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sqlite3_exec(db, sqlite_migrations[i], NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"PRAGMA user_version = 5;"
		"INSERT INTO service_sets (id, services) VALUES (7,"
		" '[{\"name\":\"orders\",\"phase\":1},{\"name\":\"pos\",\"phase\":1},"
		"{\"name\":\"tenant\",\"phase\":2}]');"
		"INSERT INTO meta (key, value) VALUES ('configured_services',"
		" '[{\"name\":\"legacy\",\"phase\":1},{\"name\":\"orders\",\"phase\":1},"
		"{\"name\":\"pos\",\"phase\":1},{\"name\":\"tenant\",\"phase\":2}]');"
		"INSERT INTO jobs (id, tenant_id, state, created_at, due_at, deadline_at,"
		" service_set_id) VALUES"
		" ('J1', 'acme', 'scheduled', 1, 1000, 2000, 7),"
		" ('J2', 'bakery', 'held', 1, 1000, 2000, 7);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_migration_6_converts_json_sets(void **state)
{
	struct fx *f = *state;
	const struct store_service same[] = {
		{ "tenant", 2, 0, 0 }, { "pos", 1, 0, 0 }, { "orders", 1, 0, 0 } };
	char path[160], err[256];
	struct task_record *t;
	struct store *s;
	size_t n;

	snprintf(path, sizeof path, "%s/v5.db", f->dir);
	write_v5_store(path);
	s = fx_open(path, 0, err, sizeof err);
	assert_non_null(s);
	assert_int_equal(fx_int(s, "PRAGMA user_version"), sqlite_n_migrations);
	assert_int_equal(fx_int(s, "SELECT count(*) FROM jobs WHERE service_set_id = 7"), 2);
	assert_int_equal(fx_int(s, "SELECT count(*) FROM service_sets_json"), 0);
	/* the job not started yet shows its tasks as before */
	assert_int_equal(store_job_tasks(s, "J1", &t, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(t[0].service, "orders");
	assert_int_equal(t[0].next_attempt_at, 1000);
	assert_string_equal(t[2].service, "tenant");
	assert_int_equal(t[2].phase, 2);
	assert_int_equal(t[2].next_attempt_at, 0);
	jobs_task_records_free(t, n);
	/* a job scheduled with the same services shares the converted set */
	assert_int_equal(set_of(s, "third", same, 3), 7);
	/* the configured set came along: J1 starts with legacy added */
	assert_int_equal(fx_int(s, "SELECT count(*) FROM service_set_members m JOIN meta"
				   " ON m.set_id = CAST(meta.value AS INTEGER)"
				   " WHERE meta.key = 'configured_set_id'"), 4);
	assert_int_equal(sqlite_begin(sqlite_of(s)), STORE_OK);
	assert_int_equal(sqlite_materialize_tasks(sqlite_of(s), "J1", NOW), 0);
	assert_int_equal(sqlite_commit(sqlite_of(s)), STORE_OK);
	assert_int_equal(fx_int(s, "SELECT count(*) FROM tasks WHERE job_id = 'J1'"), 4);
	assert_int_equal(fx_int(s, "SELECT count(*) FROM events WHERE job_id = 'J1'"
				   " AND type = 'task.added' AND service = 'legacy'"), 1);
	store_close(s);
}

/* A config sync reaches jobs not started yet whose set is not the
 * configured one, and leaves alone those whose set is. */
static void test_sync_reaches_stale_sets_only(void **state)
{
	struct fx *f = *state;
	const struct store_service old[] = { { "a", 1, 0, 0 } };
	const struct store_service cur[] = { { "a", 1, 0, 0 }, { "b", 1, 0, 0 } };
	struct sched_service conf[] = { { .name = "b", .phase = 1, .enabled = 1 },
					{ .name = "a", .phase = 1, .enabled = 1 },
					{ .name = "off", .phase = 1, .enabled = 0 } };

	set_of(f->s, "old", old, 1);
	set_of(f->s, "cur", cur, 2);
	assert_int_equal(sched_sync_services(f->s, conf, 3, NOW, NULL, NULL), STORE_OK);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM jobs WHERE service_set_id IS NULL"), 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks t JOIN jobs j ON j.id = t.job_id"
				      " WHERE j.tenant_id = 'old' AND t.kind = 'delete'"), 2);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM events WHERE type = 'task.added'"), 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks t JOIN jobs j ON j.id = t.job_id"
				      " WHERE j.tenant_id = 'cur'"), 0);
}

static void test_delete_tasks_created_at_start(void **state)
{
	struct fx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct task_record *t;
	size_t n;

	sched(f->s, "acme", NOW + DAY, id);
	assert_int_equal(fx_start_due(f->s, NOW), 0); /* not due yet: nothing created */
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks WHERE kind = 'delete'"), 0);
	assert_int_equal(fx_start_due(f->s, NOW + DAY), 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks WHERE kind = 'delete'"), 3);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM jobs WHERE service_set_id IS NULL"), 1);
	assert_int_equal(store_job_tasks(f->s, id, &t, &n), STORE_OK);
	assert_int_equal(n, 4);
	assert_true(fx_find_task(t, n, "pos", TASK_KIND_DELETE)->id > 0);
	assert_int_equal(fx_find_task(t, n, "orders", TASK_KIND_DELETE)->next_attempt_at, NOW + DAY);
	assert_int_equal(fx_find_task(t, n, "pos", TASK_KIND_DELETE)->next_attempt_at, NOW + DAY);
	assert_int_equal(fx_find_task(t, n, "tenant", TASK_KIND_DELETE)->next_attempt_at, 0);
	jobs_task_records_free(t, n);
	/* started once: a second pass creates nothing more */
	assert_int_equal(fx_start_due(f->s, NOW + DAY), 0);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks WHERE kind = 'delete'"), 3);
}

static void test_snapshot_shared(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1], b[JOBS_ID_LEN + 1];
	struct store_service other[] = { { .name = "pos", .phase = 1 } };
	struct store_new_job j = { .tenant_id = "third", .due_at = NOW, .deadline_at = NOW };
	char ids[1][JOBS_ID_LEN + 1];
	int created;

	sched(f->s, "acme", NOW, a);
	sched(f->s, "bakery", NOW, b);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM service_sets"), 1);
	assert_int_equal(fx_int(f->s, "SELECT count(DISTINCT service_set_id) FROM jobs"), 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM service_set_members WHERE"
				     " (service, phase) IN (('orders', 1), ('pos', 1), ('tenant', 2))"), 3);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM service_set_members"), 3);
	assert_int_equal(store_schedule(f->s, &j, 1, other, 1, NOW, ids, &created), STORE_OK);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM service_sets"), 2);
}

/* A config change reaches jobs not started yet: recorded, not silent. */
static void test_config_change_before_start(void **state)
{
	struct fx *f = *state;
	struct sched_service now_conf[] = {
		{ .name = "orders", .phase = 1, .enabled = 1 },
		{ .name = "tenant", .phase = 2, .enabled = 1 },
		{ .name = "legacy", .phase = 1, .enabled = 1 },
		{ .name = "pos", .phase = 1, .enabled = 0 },
	};
	char id[JOBS_ID_LEN + 1];
	struct task_record *t;
	size_t n;
	int added = 0, skipped = 0;

	sched(f->s, "acme", NOW + DAY, id);
	assert_int_equal(sched_sync_services(f->s, now_conf, 4, NOW, &added, &skipped), STORE_OK);
	assert_int_equal(store_job_tasks(f->s, id, &t, &n), STORE_OK);
	assert_int_equal(n, 5);
	/* disabled: its task waits for it (DESIGN 3), never skipped by a config */
	assert_int_equal(fx_find_task(t, n, "pos", TASK_KIND_DELETE)->state, TASK_PENDING);
	assert_string_equal(fx_find_task(t, n, "pos", TASK_KIND_DELETE)->last_error,
			    "service not in config");
	assert_int_equal(fx_find_task(t, n, "legacy", TASK_KIND_DELETE)->state, TASK_PENDING);
	assert_null(fx_find_task(t, n, "legacy", TASK_KIND_DELETE)->last_error);
	assert_int_equal(fx_find_task(t, n, "orders", TASK_KIND_DELETE)->state, TASK_PENDING);
	jobs_task_records_free(t, n);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM events WHERE type = 'task.skipped'"), 0);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM events WHERE type = 'task.added'"
				     " AND service = 'legacy'"), 1);
	/* a job scheduled under the new config is left alone by the next sync */
	assert_int_equal(sched_sync_services(f->s, now_conf, 4, NOW, NULL, NULL), STORE_OK);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM events WHERE type LIKE 'task.%'"), 1);
	assert_int_equal(fx_start_due(f->s, NOW + DAY), 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM tasks WHERE kind = 'delete'"), 4);
}

/* Migration 2 on a version 1 database with rows: its jobs keep their tasks. */
static void test_migration_2_keeps_v1_rows(void **state)
{
	struct fx *f = *state;
	char path[160], err[256];
	struct store *s;
	struct task_record *t;
	size_t n;
	sqlite3 *db;

	snprintf(path, sizeof path, "%s/v1.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sqlite_migrations[0], NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"PRAGMA user_version = 1;"
		"INSERT INTO jobs (id, tenant_id, state, created_at, due_at, deadline_at)"
		" VALUES ('J1', 'old', 'scheduled', 1, 2, 3);"
		"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
		" VALUES ('J1', 'orders', 'delete', 1, 'pending', 2, 1),"
		" ('J1', 'gone', 'delete', 1, 'skipped', NULL, 1);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = fx_open(path, 0, err, sizeof err);
	assert_non_null(s);
	/* every later migration applied too */
	assert_int_equal(fx_int(s, "PRAGMA user_version"), sqlite_n_migrations);
	assert_int_equal(fx_int(s, "SELECT count(*) FROM jobs WHERE service_set_id IS NULL"), 1);
	assert_int_equal(store_job_tasks(s, "J1", &t, &n), STORE_OK);
	assert_int_equal(n, 2); /* as stored, nothing synthesized */
	jobs_task_records_free(t, n);
	assert_int_equal(fx_start_due(s, NOW), 1);
	assert_int_equal(fx_int(s, "SELECT count(*) FROM tasks"), 2);
	assert_int_equal(fx_int(s, "SELECT next_attempt_at FROM tasks WHERE service = 'orders'"), 2);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delete_tasks_created_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_change_before_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_2_keeps_v1_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sets_shared_by_members, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_6_converts_json_sets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_reaches_stale_sets_only, setup, teardown),
	};

	/* the job lines of the engine's steps would only clutter the TAP output */
	fx_quiet_log(LOG_INFO, "TEST_STORE_LOG");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
