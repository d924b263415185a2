/*
 * test_sqlite_bind.c - the SQLite backend's binding by parameter name
 * (store/sqlite/db.c) remembers the index it found for a (statement, name)
 * pair; a remembered index is used only when it still names that
 * parameter: a statement freed and another prepared at the same address
 * with its parameters in another order, or a name buffer rewritten, binds
 * the right parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "store/sqlite/sqlite_int.h"

/* The two columns of "SELECT ..." after binding :a = 1, :b = 2. */
static void select_ab(sqlite3 *db, const char *sql, const char *a, const char *b,
		      int64_t out[2], const void **addr)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	*addr = st;
	sqlite_bind_int(st, a, 1);
	sqlite_bind_int(st, b, 2);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	out[0] = sqlite3_column_int64(st, 0);
	out[1] = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
}

static void test_a_new_statement_at_an_old_address_binds_by_its_own_names(void **state)
{
	sqlite3 *db;
	int64_t v[2];
	const void *first, *addr;
	int reused = 0;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	select_ab(db, "SELECT :a, :b", ":a", ":b", v, &first);
	assert_int_equal(v[0], 1);
	assert_int_equal(v[1], 2);
	/* the same text order reversed; malloc usually hands back the freed
	 * statement's memory, which is the case this test is about */
	for (int i = 0; i < 20; i++) {
		select_ab(db, i % 2 ? "SELECT :a, :b" : "SELECT :b, :a", ":a", ":b", v, &addr);
		reused += addr == first;
		assert_int_equal(v[0], i % 2 ? 1 : 2);
		assert_int_equal(v[1], i % 2 ? 2 : 1);
	}
	print_message("statement address reused %d of 20 times\n", reused);
	sqlite3_close(db);
}

static void test_a_rewritten_name_buffer_binds_its_new_name(void **state)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char name[8];

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT :a, :b", -1, &st, NULL), SQLITE_OK);
	for (int i = 0; i < 3; i++) {
		strcpy(name, ":a");
		sqlite_bind_int(st, name, 10 + i);
		strcpy(name, ":b");
		sqlite_bind_int(st, name, 20 + i);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int64(st, 0), 10 + i);
		assert_int_equal(sqlite3_column_int64(st, 1), 20 + i);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_new_statement_at_an_old_address_binds_by_its_own_names),
		cmocka_unit_test(test_a_rewritten_name_buffer_binds_its_new_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
