/*
 * test_store_open.c - what store_open accepts and refuses (DESIGN 4), the
 * error phrases, the integrity check, and services the config lacks:
 * held, listed, retired (DESIGN 3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "store/sqlite/sqlite_int.h"
#include "util/util.h"
#include "tests/unit/store_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "test_store_open");
}

static int teardown(void **state)
{
	return fx_teardown(state);
}

/* store_open of name in the test folder with flags; NULL and err as it says. */
static struct store *open_in(struct fx *f, const char *name, int flags, char *err,
			     size_t errlen)
{
	char path[200];

	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	err[0] = '\0';
	return fx_open(path, flags, err, errlen);
}

static void assert_refused(struct fx *f, const char *name, int flags, const char *needle)
{
	char err[512];
	struct store *s = open_in(f, name, flags, err, sizeof err);

	assert_null(s);
	if (strstr(err, needle) == NULL)
		fail_msg("'%s' not in '%s'", needle, err);
	assert_non_null(strstr(err, name));
}

static void test_open_refuses_what_is_not_a_store(void **state)
{
	struct fx *f = *state;
	char path[200];
	struct stat st;
	sqlite3 *db;

	assert_refused(f, "missing.db", 0, "no store at ");
	snprintf(path, sizeof path, "%s/missing.db", f->dir);
	assert_int_equal(stat(path, &st), -1); /* nothing created */
	snprintf(path, sizeof path, "%s/empty.db", f->dir);
	fclose(fopen(path, "w"));
	assert_refused(f, "empty.db", STORE_OPEN_CREATE, "not a tenantdel store (an empty file)");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	snprintf(path, sizeof path, "%s/dir.db", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_refused(f, "dir.db", STORE_OPEN_CREATE, ": is a directory");
	snprintf(path, sizeof path, "%s/other.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_refused(f, "other.db", STORE_OPEN_CREATE, "another program's database");
	fx_exec(f->s, "PRAGMA user_version = 99");
	assert_refused(f, "t.db", 0, "schema version 99 is newer");
	fx_exec(f->s, "PRAGMA application_id = 42");
	assert_refused(f, "t.db", 0, "another program's database");
}

static void stamp_of(const char *path, char *out, size_t n)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	snprintf(out, n, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino, (long long)st.st_size,
		 (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
}

/* The stamp remembered as checked, read by a read-only connection of its
 * own ("" when none). */
static void remembered(const char *path, char *out, size_t n)
{
	char uri[300];
	sqlite3 *db;
	sqlite3_stmt *st;

	snprintf(uri, sizeof uri, "file:%s?mode=ro", path);
	assert_int_equal(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = '"
					    SQLITE_META_CHECKED "'", -1, &st, NULL), SQLITE_OK);
	snprintf(out, n, "%s", sqlite3_step(st) == SQLITE_ROW
				       ? (const char *)sqlite3_column_text(st, 0) : "");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_create_makes_a_whole_store(void **state)
{
	struct fx *f = *state;
	char err[512], path[200], now[128], mem[128];
	/* as `schedule` opens it: a short command, which leaves the log as
	 * it is when it closes */
	struct store *s = open_in(f, "new.db", STORE_OPEN_CREATE | STORE_OPEN_BRIEF, err,
				  sizeof err);
	int intact = 0;

	assert_non_null(s);
	assert_int_equal(sqlite3_db_readonly(sqlite_of(s)->db, "main"), 0);
	assert_int_equal(store_check_integrity(s, &intact, err, sizeof err), STORE_OK);
	assert_int_equal(intact, 1);
	store_close(s);
	/* built whole by this process: the next writer does not check it */
	snprintf(path, sizeof path, "%s/new.db", f->dir);
	stamp_of(path, now, sizeof now);
	remembered(path, mem, sizeof mem);
	assert_string_equal(mem, now);
	/* no temporary file left behind; opening it again needs no flag */
	s = open_in(f, "new.db", 0, err, sizeof err);
	assert_non_null(s);
	store_close(s);
	{
		char tmp[240];
		struct stat st;
		snprintf(tmp, sizeof tmp, "%s/new.db.new-%ld", f->dir, (long)getpid());
		assert_int_equal(stat(tmp, &st), -1);
	}
}

/* OpenEphemeral opcodes in the program of sql. */
static int ephemeral_tables(struct store *s, const char *sql)
{
	char explain[512];
	sqlite3_stmt *st;
	int n = 0;

	snprintf(explain, sizeof explain, "EXPLAIN %s", sql);
	assert_int_equal(sqlite3_prepare_v2(sqlite_of(s)->db, explain, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		n += strcmp((const char *)sqlite3_column_text(st, 1), "OpenEphemeral") == 0;
	sqlite3_finalize(st);
	return n;
}

/* The jobs and tasks states and kinds are checked by the database, and a
 * write checks them without building a table for it (migration 10). */
static void test_states_checked_cheaply(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = sqlite_of(f->s)->db;
	char id[JOBS_ID_LEN + 1];
	int64_t tasks;
	static const char *const writes[] = {
		"UPDATE tasks SET state = 'waiting' WHERE id = 1",
		"UPDATE jobs SET state = 'running' WHERE id = 'j'",
		"INSERT INTO tasks (job_id, service, kind, phase, state, updated_at)"
		" VALUES ('j', 's', 'delete', 1, 'pending', 0)",
	};
	static const char *const refused[] = {
		"UPDATE jobs SET state = 'purged'",
		"UPDATE tasks SET state = 'done'",
		"INSERT INTO tasks (job_id, service, kind, phase, state, updated_at)"
		" SELECT id, 'x', 'drop', 1, 'pending', 0 FROM jobs",
	};

	for (size_t i = 0; i < sizeof writes / sizeof *writes; i++)
		assert_int_equal(ephemeral_tables(f->s, writes[i]), 0);
	assert_int_equal(fx_schedule(f->s, "t1", NOW, NOW, fx_svcs(), FX_N_SVCS, id), 1);
	assert_int_equal(fx_start_due(f->s, NOW), 1);
	tasks = fx_int(f->s, "SELECT COUNT(*) FROM tasks WHERE state = 'pending'");
	assert_true(tasks > 0);
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
		assert_int_equal(sqlite3_exec(db, refused[i], NULL, NULL, NULL), SQLITE_CONSTRAINT_CHECK);
	assert_int_equal(fx_int(f->s, "SELECT COUNT(*) FROM jobs WHERE state = 'running'"), 1);
	assert_int_equal(fx_int(f->s, "SELECT COUNT(*) FROM tasks WHERE state = 'pending'"), tasks);
}

/* The backend is chosen by name: none built under another name, and the
 * default (no name) is SQLite. */
static void test_backend_by_name(void **state)
{
	struct fx *f = *state;
	struct store_config c = { .backend = "mysql", .path = f->path };
	char err[256] = "";
	struct store *s = store_open(&c, err, sizeof err);

	assert_null(s);
	assert_string_equal(err, "no store backend called mysql");
	c.backend = "postgresql"; /* built in: it needs its connection string */
	assert_null(store_open(&c, err, sizeof err));
	assert_string_equal(err, "no connection string for the postgresql store "
			    "([store] dsn_file or dsn_env)");
	c.backend = NULL;
	s = store_open(&c, err, sizeof err);
	assert_non_null(s);
	assert_string_equal(store_last_error(s), "");
	assert_int_equal(store_last_error_kind(s), STORE_E_NONE);
	store_close(s);
}

static void test_error_phrases(void **state)
{
	assert_string_equal(sqlite_error_phrase(NULL, SQLITE_FULL), "disk full");
	assert_string_equal(sqlite_error_phrase(NULL, SQLITE_READONLY), "read-only");
	assert_string_equal(sqlite_error_phrase(NULL, SQLITE_CORRUPT_INDEX),
			    "damaged: run audit verify");
	assert_non_null(strstr(sqlite_error_phrase(NULL, SQLITE_NOTADB), "not a tenantdel store"));
	assert_null(sqlite_error_phrase(NULL, SQLITE_BUSY));
}

/* A started job of svcs (orders, training) due now; its id in id. */
static void started_job(struct store *s, const char *tenant, char id[JOBS_ID_LEN + 1])
{
	static const struct store_service svcs[] = {
		{ .name = "orders", .phase = 1 }, { .name = "training", .phase = 1 },
	};
	struct store_new_job j = { .tenant_id = tenant, .due_at = NOW, .deadline_at = NOW + DAY };
	char ids[1][JOBS_ID_LEN + 1];
	int created;

	assert_int_equal(store_schedule(s, &j, 1, svcs, 2, NOW, ids, &created), STORE_OK);
	memcpy(id, ids[0], JOBS_ID_LEN + 1);
}

static const struct sched_service ONLY_ORDERS[] = {
	{ .name = "orders", .phase = 1, .enabled = 1, .max_in_flight = 8, .lease_ms = DAY },
	{ .name = "training", .phase = 1, .enabled = 0, .max_in_flight = 8, .lease_ms = DAY },
};

static const struct task_record *task_of(const struct task_record *t, size_t n,
					 const char *service)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].service, service) == 0 && t[i].kind == TASK_KIND_DELETE)
			return &t[i];
	fail_msg("no task of %s", service);
	return NULL;
}

static void test_absent_service_holds_then_retire_skips(void **state)
{
	struct fx *f = *state;
	const struct store_service conf[] = { { .name = "orders", .phase = 1 } };
	struct store_absent *v;
	struct task_record *t;
	struct sched_maint m;
	struct job_record j;
	char run[JOBS_ID_LEN + 1], later[JOBS_ID_LEN + 1];
	int64_t skipped = -1;
	size_t n;
	int held = 0;

	started_job(f->s, "running", run);
	assert_int_equal(sched_maintain(f->s, "me", NULL, NULL, 0, NULL, 0, NOW, &m), STORE_OK);
	started_job(f->s, "later", later);
	fx_exec(f->s, "UPDATE jobs SET state = 'scheduled', due_at = due_at + 86400000"
		      " WHERE tenant_id = 'later'");
	assert_int_equal(sched_sync_services(f->s, ONLY_ORDERS, 2, NOW, NULL, &held), STORE_OK);
	assert_int_equal(held, 2); /* later was materialized by the sync: it has rows too */
	assert_int_equal(store_job_tasks(f->s, run, &t, &n), STORE_OK);
	assert_int_equal(task_of(t, n, "training")->state, TASK_PENDING);
	assert_string_equal(task_of(t, n, "training")->last_error, STORE_ABSENT_ERROR);
	assert_null(task_of(t, n, "orders")->last_error);
	jobs_task_records_free(t, n);
	assert_int_equal(store_absent_services(f->s, conf, 1, &v, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].service, "training");
	assert_int_equal(v[0].tasks, 2);
	store_absent_free(v, n);
	/* only retire-service skips, with its reason */
	assert_int_equal(store_retire_service(f->s, "nope", "x", "ops", NOW, &skipped),
			 STORE_NOT_FOUND);
	assert_int_equal(store_retire_service(f->s, "training", "gone for good", "ops", NOW,
					      &skipped), STORE_OK);
	assert_int_equal(skipped, 2);
	assert_int_equal(store_job_tasks(f->s, run, &t, &n), STORE_OK);
	assert_int_equal(task_of(t, n, "training")->state, TASK_SKIPPED);
	assert_string_equal(task_of(t, n, "training")->skip_reason, "gone for good");
	jobs_task_records_free(t, n);
	assert_int_equal(store_job_get(f->s, run, &j), STORE_OK);
	assert_int_equal(j.state, JOB_RUNNING); /* orders still to do */
	jobs_job_record_clear(&j);
	assert_int_equal(store_absent_services(f->s, conf, 1, &v, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_absent_free(v, n);
	{
		int64_t c;
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(sqlite_of(f->s)->db, "SELECT count(*) FROM events WHERE"
			" type = 'service.retired' AND job_id IS NULL AND service = 'training'",
			-1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		c = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		assert_int_equal(c, 1);
	}
}

/* A job not started yet whose snapshot names a retired service skips it
 * when it starts; one whose service only left the config waits for it. */
static void test_snapshot_of_a_retired_service(void **state)
{
	struct fx *f = *state;
	char a[JOBS_ID_LEN + 1];
	struct task_record *t;
	struct sched_maint m;
	int64_t skipped;
	size_t n;

	started_job(f->s, "snap", a);
	fx_exec(f->s, "UPDATE jobs SET due_at = due_at + 86400000");
	assert_int_equal(store_retire_service(f->s, "training", "decommissioned", NULL, NOW,
					      &skipped), STORE_OK);
	assert_int_equal(skipped, 0);
	assert_int_equal(store_job_tasks(f->s, a, &t, &n), STORE_OK);
	assert_int_equal(task_of(t, n, "training")->state, TASK_PENDING); /* no sync yet */
	jobs_task_records_free(t, n);
	assert_int_equal(sched_sync_services(f->s, ONLY_ORDERS, 2, NOW, NULL, NULL), STORE_OK);
	assert_int_equal(sched_maintain(f->s, "me", NULL, NULL, 0, NULL, 0, NOW + DAY, &m), STORE_OK);
	assert_int_equal(store_job_tasks(f->s, a, &t, &n), STORE_OK);
	assert_int_equal(task_of(t, n, "training")->state, TASK_SKIPPED);
	assert_string_equal(task_of(t, n, "training")->skip_reason, "decommissioned");
	jobs_task_records_free(t, n);
	/* configured again: no longer retired */
	{
		const struct sched_service both[] = {
			{ .name = "orders", .phase = 1, .enabled = 1 },
			{ .name = "training", .phase = 1, .enabled = 1 },
		};
		int64_t found = 1;
		assert_int_equal(sched_sync_services(f->s, both, 2, NOW, NULL, NULL), STORE_OK);
		assert_int_equal(sqlite_retired_reason(f->s, "training", NULL, &found), 0);
		assert_int_equal(found, 0);
	}
}

/* A store that runs (not brief) folds its log back every 1000 pages, as
 * SQLite would, and remembers the stamp of the file it wrote, during the
 * run and as it closes: otherwise each checkpoint made every command that
 * opened the store in the next second run the quick check again. */
static void test_checkpoints_remember_the_file_they_wrote(void **state)
{
	struct fx *f = *state;
	char err[512], path[200], wal[220], id[JOBS_ID_LEN + 1], now[128], mem[128];
	struct store *s = open_in(f, "ck.db", STORE_OPEN_CREATE | STORE_OPEN_CHECK, err,
				  sizeof err);
	struct stat st;
	int i;

	assert_non_null(s);
	snprintf(path, sizeof path, "%s/ck.db", f->dir);
	snprintf(wal, sizeof wal, "%s-wal", path);
	for (i = 0; i < 5000 && sqlite_of(s)->wal_done == 0; i++) {
		char tenant[32];
		snprintf(tenant, sizeof tenant, "ck-%05d", i);
		fx_schedule(s, tenant, NOW, NOW + 86400000LL, fx_svcs(), FX_N_SVCS, id);
	}
	assert_true(sqlite_of(s)->wal_done >= 1000); /* a checkpoint, after a commit */
	stamp_of(path, now, sizeof now);
	remembered(path, mem, sizeof mem);
	assert_string_equal(mem, now);
	/* closing empties the log and remembers the file again, in the log */
	fx_schedule(s, "ck-last", NOW, NOW + 86400000LL, fx_svcs(), FX_N_SVCS, id);
	store_close(s);
	stamp_of(path, now, sizeof now);
	remembered(path, mem, sizeof mem);
	assert_string_equal(mem, now);
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size < 64 * 1024);
}

/* Garbage over the header of table's root page in the main file, as dd
 * would write it: a page that scheduling never writes. */
static void damage_root_page(const char *path, const char *table)
{
	unsigned char junk[16];
	sqlite3 *db;
	sqlite3_stmt *st;
	int root, fd;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT rootpage FROM sqlite_schema WHERE name = ?1",
					    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	root = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	memset(junk, 0xee, sizeof junk);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_true(pwrite(fd, junk, sizeof junk, (off_t)(root - 1) * 4096) == sizeof junk);
	close(fd);
}

/* A handle checked as it opened (a daemon's, days ago) does not bless what
 * another program wrote into the file since: neither its checkpoints as it
 * works nor the one as it closes remember the file as checked, and the
 * next writer's check finds the damage. */
static void test_checkpoints_do_not_bless_a_foreign_write(void **state)
{
	struct fx *f = *state;
	char err[512], path[200], id[JOBS_ID_LEN + 1], now[128], mem[128];
	struct store *s = open_in(f, "fw.db", STORE_OPEN_CREATE | STORE_OPEN_CHECK, err,
				  sizeof err);
	int i;

	assert_non_null(s);
	snprintf(path, sizeof path, "%s/fw.db", f->dir);
	damage_root_page(path, "tombstones");
	for (i = 0; i < 5000 && sqlite_of(s)->wal_done == 0; i++) {
		char tenant[32];
		snprintf(tenant, sizeof tenant, "fw-%05d", i);
		fx_schedule(s, tenant, NOW, NOW + 86400000LL, fx_svcs(), FX_N_SVCS, id);
	}
	assert_true(sqlite_of(s)->wal_done >= 1000); /* a checkpoint on top of it */
	stamp_of(path, now, sizeof now);
	remembered(path, mem, sizeof mem);
	assert_string_not_equal(mem, now);
	store_close(s);
	stamp_of(path, now, sizeof now);
	remembered(path, mem, sizeof mem);
	assert_string_not_equal(mem, now);
	assert_null(open_in(f, "fw.db", STORE_OPEN_CHECK, err, sizeof err));
	assert_non_null(strstr(err, "damaged"));
}

/* A short command whose file another program changed while it ran does
 * not fold its log back into that file (it could not vouch for the result;
 * with a daemon at work, the process that changed it does that). */
static void test_a_short_command_leaves_a_file_it_does_not_know_alone(void **state)
{
	struct fx *f = *state;
	char err[512], path[200], wal[220], id[JOBS_ID_LEN + 1], before[128], after[128];
	struct timespec past[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct store *s = open_in(f, "sk.db", STORE_OPEN_CREATE | STORE_OPEN_CHECK, err, sizeof err);
	struct stat st;
	int i;

	assert_non_null(s);
	store_close(s);
	snprintf(path, sizeof path, "%s/sk.db", f->dir);
	snprintf(wal, sizeof wal, "%s-wal", path);
	s = open_in(f, "sk.db", STORE_OPEN_CHECK | STORE_OPEN_BRIEF, err, sizeof err);
	assert_non_null(s);
	assert_int_equal(utimensat(AT_FDCWD, path, past, 0), 0); /* another program */
	for (i = 0; i < 5000 && sqlite_of(s)->wal_frames < 1100; i++) {
		char tenant[32];
		snprintf(tenant, sizeof tenant, "sk-%05d", i);
		fx_schedule(s, tenant, NOW, NOW + 86400000LL, fx_svcs(), FX_N_SVCS, id);
	}
	assert_true(sqlite_of(s)->wal_frames >= 1100); /* past the close's bound */
	stamp_of(path, before, sizeof before);
	store_close(s);
	stamp_of(path, after, sizeof after);
	assert_string_equal(after, before);
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size > 1024 * 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_refuses_what_is_not_a_store, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_makes_a_whole_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_by_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_states_checked_cheaply, setup, teardown),
		cmocka_unit_test(test_error_phrases),
		cmocka_unit_test_setup_teardown(test_absent_service_holds_then_retire_skips, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_of_a_retired_service, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_checkpoints_remember_the_file_they_wrote, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_checkpoints_do_not_bless_a_foreign_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_short_command_leaves_a_file_it_does_not_know_alone,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
