/*
 * test_walbuf.c - the store's VFS (store/sqlite/walbuf.c) gathers a
 * transaction's WAL writes in memory. What must hold whatever it holds:
 * another connection (SQLite's own VFS) sees every commit at once, with
 * synchronous=FULL and with NORMAL (no sync at commit: the frames must be
 * in the file before the WAL index names them); a transaction that spilled
 * pages to the WAL and rolled back leaves nothing; a process that dies
 * mid-transaction leaves every commit and nothing else; a checkpoint and a
 * WAL started again from its beginning lose nothing; the writes are in
 * fact gathered; and a statement's journal past SQLite's piece of memory
 * is held in walbuf's own, then past that in a file, and undoes the
 * statement from either.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite/sqlite_int.h"

struct files {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct files *f = calloc(1, sizeof *f);

	snprintf(f->dir, sizeof f->dir, "/tmp/test_walbuf.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct files *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : sqlite3_errstr(rc));
}

static int64_t count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A connection through the store's VFS (walbuf) or SQLite's default. */
static sqlite3 *open_db(const char *path, int walbuf, const char *synchronous)
{
	sqlite3 *db;
	char sql[96];
	const char *vfs = walbuf ? sqlite_walbuf_vfs() : NULL;

	if (walbuf)
		assert_non_null(vfs);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
			 SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	exec_ok(db, "PRAGMA journal_mode = WAL");
	snprintf(sql, sizeof sql, "PRAGMA synchronous = %s", synchronous);
	exec_ok(db, sql);
	return db;
}

/* n rows of ~1 KB each in one transaction: n/4 pages at least. */
static void insert_rows(sqlite3 *db, int from, int n)
{
	char sql[160];

	exec_ok(db, "BEGIN");
	for (int i = from; i < from + n; i++) {
		snprintf(sql, sizeof sql, "INSERT INTO t (id, pad) VALUES (%d, randomblob(1000))", i);
		exec_ok(db, sql);
	}
	exec_ok(db, "COMMIT");
}

static void check_intact(sqlite3 *db)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
}

static void commits_seen_at_once(const char *path, const char *synchronous)
{
	sqlite3 *w = open_db(path, 1, synchronous);
	sqlite3 *r = open_db(path, 0, "FULL");
	struct walbuf_stats before, after;

	exec_ok(w, "CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)");
	sqlite_walbuf_stats(&before);
	for (int round = 0; round < 5; round++) {
		/* 600 KB a commit: several of the buffer's writes */
		insert_rows(w, round * 600, 600);
		assert_int_equal(count(r, "SELECT count(*) FROM t"), (round + 1) * 600);
		assert_int_equal(count(r, "SELECT sum(length(pad)) FROM t"), (round + 1) * 600 * 1000);
	}
	sqlite_walbuf_stats(&after);
	print_message("synchronous=%s: %llu WAL writes asked, %llu made\n", synchronous,
		      (unsigned long long)(after.calls - before.calls),
		      (unsigned long long)(after.writes - before.writes));
	/* two calls a frame (header, page) gathered ~30 frames a write */
	assert_true(after.calls - before.calls > 10 * (after.writes - before.writes));
	check_intact(r);
	sqlite3_close(r);
	sqlite3_close(w);
}

static void test_commits_are_seen_by_another_connection_at_once(void **state)
{
	commits_seen_at_once(((struct files *)*state)->path, "FULL");
}

/* No sync at commit: the frames must reach the file before the WAL index
 * names them (the database file's barrier and unlock). */
static void test_commits_without_a_sync_are_seen_too(void **state)
{
	commits_seen_at_once(((struct files *)*state)->path, "NORMAL");
}

static void test_a_rolled_back_transaction_that_spilled_leaves_nothing(void **state)
{
	const char *path = ((struct files *)*state)->path;
	sqlite3 *w = open_db(path, 1, "FULL");
	sqlite3 *r;
	char sql[160];

	exec_ok(w, "CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)");
	insert_rows(w, 0, 100);
	/* a cache of 10 pages: the transaction's pages spill to the WAL (and
	 * are read back from it) long before its end */
	exec_ok(w, "PRAGMA cache_size = 10");
	exec_ok(w, "BEGIN");
	for (int i = 1000; i < 3000; i++) {
		snprintf(sql, sizeof sql, "INSERT INTO t (id, pad) VALUES (%d, randomblob(1000))", i);
		exec_ok(w, sql);
	}
	assert_int_equal(count(w, "SELECT count(*) FROM t"), 2100);
	exec_ok(w, "ROLLBACK");
	assert_int_equal(count(w, "SELECT count(*) FROM t"), 100);
	insert_rows(w, 100, 50);
	/* rows updated in place, over frames written earlier in the transaction */
	exec_ok(w, "BEGIN");
	for (int k = 0; k < 3; k++)
		exec_ok(w, "UPDATE t SET pad = randomblob(1000)");
	exec_ok(w, "COMMIT");
	r = open_db(path, 0, "FULL");
	assert_int_equal(count(r, "SELECT count(*) FROM t"), 150);
	assert_int_equal(count(r, "SELECT count(*) FROM t WHERE id >= 1000"), 0);
	check_intact(r);
	sqlite3_close(r);
	sqlite3_close(w);
}

static void test_a_process_killed_mid_transaction_keeps_its_commits(void **state)
{
	const char *path = ((struct files *)*state)->path;
	sqlite3 *r;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *w = open_db(path, 1, "FULL");
		char sql[160];

		exec_ok(w, "CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)");
		insert_rows(w, 0, 300);
		exec_ok(w, "PRAGMA cache_size = 10");
		exec_ok(w, "BEGIN");
		for (int i = 1000; i < 2000; i++) {
			snprintf(sql, sizeof sql,
				 "INSERT INTO t (id, pad) VALUES (%d, randomblob(1000))", i);
			exec_ok(w, sql);
		}
		_exit(0); /* no COMMIT, no close: what a kill leaves */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	r = open_db(path, 1, "FULL");
	assert_int_equal(count(r, "SELECT count(*) FROM t"), 300);
	check_intact(r);
	insert_rows(r, 300, 10); /* the WAL past the dead frames works */
	assert_int_equal(count(r, "SELECT count(*) FROM t"), 310);
	sqlite3_close(r);
}

static void test_checkpoints_and_a_restarted_wal_lose_nothing(void **state)
{
	const char *path = ((struct files *)*state)->path;
	sqlite3 *w = open_db(path, 1, "FULL");
	sqlite3 *r = open_db(path, 0, "FULL");

	exec_ok(w, "CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)");
	for (int round = 0; round < 6; round++) {
		insert_rows(w, round * 200, 200);
		/* folded into the database file, then the WAL written again from
		 * its start (RESTART), or emptied (TRUNCATE) */
		exec_ok(w, round % 2 ? "PRAGMA wal_checkpoint(RESTART)"
				     : "PRAGMA wal_checkpoint(TRUNCATE)");
		exec_ok(w, "UPDATE t SET pad = randomblob(1000) WHERE id % 7 = 0");
		assert_int_equal(count(r, "SELECT count(*) FROM t"), (round + 1) * 200);
	}
	sqlite3_close(w);
	check_intact(r);
	sqlite3_close(r);
}

/* A statement that may fail halfway keeps the pages it changes in its own
 * journal: in SQLite's memory up to a piece (STMT_JOURNAL_SPILL), then in
 * walbuf's memory, then (past SUBJOURNAL_MEM_MAX) in a temporary file. A
 * spill to the file writes what memory held in pieces the unix VFS takes
 * (128 KiB - 1 bytes a call at most: a 256 KiB piece was "disk full").
 * Two statements of rows * ~1 KB of changed pages each, in one
 * transaction: the first fails on its last row and is undone alone from
 * its journal; the second commits. */
static void journal_undoes(const char *path, int rows, int to_disk)
{
	sqlite3 *w = open_db(path, 1, "FULL");
	struct walbuf_stats before, after;
	char *err = NULL, sql[256];

	exec_ok(w, "CREATE TABLE u (id INTEGER PRIMARY KEY, k INTEGER UNIQUE, pad BLOB NOT NULL)");
	snprintf(sql, sizeof sql,
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
		 " INSERT INTO u SELECT i, i, randomblob(1000) FROM n", rows);
	exec_ok(w, sql);
	sqlite_walbuf_stats(&before);
	exec_ok(w, "BEGIN");
	/* the last row the UPDATE reaches; its new k is taken */
	exec_ok(w, "INSERT INTO u VALUES (100000000, -1, x'00')");
	assert_int_equal(sqlite3_exec(w, "UPDATE u SET pad = zeroblob(900),"
					 " k = CASE WHEN id = 100000000 THEN 1 ELSE k END",
				      NULL, NULL, &err),
			 SQLITE_CONSTRAINT);
	sqlite3_free(err);
	assert_int_equal(count(w, "SELECT count(*) FROM u WHERE pad = zeroblob(900)"), 0);
	exec_ok(w, "UPDATE u SET pad = zeroblob(800), k = k + 1000000");
	exec_ok(w, "COMMIT");
	sqlite_walbuf_stats(&after);
	assert_int_equal(count(w, "SELECT count(*) FROM u WHERE pad = zeroblob(800)"), rows + 1);
	assert_int_equal(count(w, "SELECT min(k) FROM u"), 999999);
	check_intact(w);
	assert_int_equal(after.spilled - before.spilled, 1); /* one journal a transaction */
	assert_int_equal(after.spilled_to_disk - before.spilled_to_disk, to_disk);
	sqlite3_close(w);
}

/* ~2 MB of pages: walbuf's memory, no file. */
static void test_a_statement_journal_past_sqlites_memory_is_held_and_undoes(void **state)
{
	journal_undoes(((struct files *)*state)->path, 2000, 0);
}

/* ~24 MB of pages: past SUBJOURNAL_MEM_MAX (16 MiB), a file. */
static void test_a_statement_journal_past_walbufs_memory_spills_and_undoes(void **state)
{
	journal_undoes(((struct files *)*state)->path, 24000, 1);
}

/* The memory a journal grew to is given back: when a later statement's
 * journal starts again from its beginning (nothing before it is needed;
 * a TEMP database's pager keeps its journal open as long as the
 * connection, so this is what bounds it there), and when the transaction
 * ends. */
static void test_journal_memory_is_given_back(void **state)
{
	sqlite3 *w = open_db(((struct files *)*state)->path, 1, "FULL");
	struct walbuf_stats before, big, small, after;

	/* a UNIQUE column: an UPDATE may fail halfway, so it keeps a journal */
	exec_ok(w, "CREATE TABLE m (id INTEGER PRIMARY KEY, k INTEGER UNIQUE, pad BLOB NOT NULL)");
	exec_ok(w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)"
		   " INSERT INTO m SELECT i, i, randomblob(1000) FROM n");
	sqlite_walbuf_stats(&before);
	exec_ok(w, "BEGIN");
	exec_ok(w, "UPDATE m SET pad = zeroblob(900), k = k + 100000");
	sqlite_walbuf_stats(&big);
	assert_true(big.held - before.held > 1024 * 1024); /* ~2 MB of pages journaled */
	exec_ok(w, "UPDATE m SET k = -id WHERE id <= 3"); /* rows, journaled */
	sqlite_walbuf_stats(&small);
	assert_true(small.held - before.held <= 2 * 124 * 1024);
	exec_ok(w, "COMMIT");
	sqlite_walbuf_stats(&after);
	assert_int_equal(after.held, before.held);
	assert_int_equal(count(w, "SELECT k FROM m WHERE id = 1"), -1);
	check_intact(w);
	sqlite3_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commits_are_seen_by_another_connection_at_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_commits_without_a_sync_are_seen_too, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_a_rolled_back_transaction_that_spilled_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_process_killed_mid_transaction_keeps_its_commits,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoints_and_a_restarted_wal_lose_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_statement_journal_past_sqlites_memory_is_held_and_undoes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_statement_journal_past_walbufs_memory_spills_and_undoes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_journal_memory_is_given_back, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
