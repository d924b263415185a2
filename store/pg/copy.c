/*
 * copy.c - the PostgreSQL side of store_copy (store/copy.c): telling two
 * handles on one database apart from two databases, walking the portable
 * tables in one REPEATABLE READ snapshot (a cursor a table), and loading
 * rows into an empty store with COPY FROM STDIN, in one transaction that
 * holds every table against other writers until it ends. The statements
 * are built from the table list (names from that static list only, never
 * from input).
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define FETCH_ROWS 5000

static const char SQL_TRY_LOCK[] = "SELECT pg_try_advisory_lock($1::bigint), current_schema()";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock($1::bigint)";

/* Takes key on s if it can: *got 1 or 0, *schema (malloc'ed). 0 or -1. */
static int try_lock(struct pg_store *s, int64_t key, int *got, char **schema)
{
	struct pg_params p = { 0 };
	PGresult *r;

	pg_p_int(&p, key);
	if ((r = pg_run(s, SQL_TRY_LOCK, &p)) == NULL)
		return -1;
	*got = (int)pg_int(r, 0, 0, 0);
	*schema = pg_text(r, 0, 1);
	sym_PQclear(r);
	return 0;
}

static void unlock(struct pg_store *s, int64_t key)
{
	struct pg_params p = { 0 };
	int64_t unused;

	pg_p_int(&p, key);
	pg_run_int(s, SQL_UNLOCK, &p, 0, &unused);
}

/*
 * One database whatever the two connection strings say: an advisory lock
 * (one namespace per database) that a holds, b cannot take; and the same
 * schema in it.
 */
int pg_same_store(struct store *a, struct store *b, int *same)
{
	int64_t key = 0;
	int got_a = 0, got_b = 0, rc = STORE_ERR;
	char *schema_a = NULL, *schema_b = NULL;

	if (getrandom(&key, sizeof key, 0) != (ssize_t)sizeof key)
		key = (int64_t)clock_mono_ms() ^ ((int64_t)rand() << 20);
	if (try_lock(pg_of(a), key, &got_a, &schema_a) < 0)
		return STORE_ERR;
	if (try_lock(pg_of(b), key, &got_b, &schema_b) == 0) {
		*same = got_a && !got_b && schema_a && schema_b && strcmp(schema_a, schema_b) == 0;
		rc = STORE_OK;
	} else {
		store_set_error(a, STORE_E_OTHER, "%s", b->err_msg);
	}
	if (got_a)
		unlock(pg_of(a), key);
	if (got_b)
		unlock(pg_of(b), key);
	free(schema_a);
	free(schema_b);
	return rc;
}

/* The one value of a query built in b (freed). 0 or -1. */
static int built_int(struct pg_store *s, struct buf *b, int64_t *v)
{
	PGresult *r;

	if (pg_run_built(s, b, PGRES_TUPLES_OK, &r) < 0)
		return -1;
	*v = sym_PQntuples(r) > 0 ? pg_int(r, 0, 0, 0) : 0;
	sym_PQclear(r);
	return 0;
}

static void read_row(const PGresult *r, int row, const struct store_table *t,
		     struct store_value *v)
{
	for (int i = 0; i < t->n_cols; i++) {
		v[i].null = sym_PQgetisnull(r, row, i);
		v[i].text = v[i].null || t->cols[i].type != STORE_COL_TEXT
			? NULL : sym_PQgetvalue(r, row, i);
		v[i].num = v[i].null || t->cols[i].type != STORE_COL_INT
			? 0 : strtoll(sym_PQgetvalue(r, row, i), NULL, 10);
	}
}

/* Walks one table through a cursor, FETCH_ROWS rows at a time.
 * 0, 1 (cb stopped) or -1. */
static int walk_table(struct pg_store *s, const struct store_table *t, store_row_cb cb,
		      void *ctx)
{
	struct store_value *v = xcalloc((size_t)t->n_cols, sizeof *v);
	int64_t total = 0;
	int rows = FETCH_ROWS, stop = 0;
	struct buf b;
	PGresult *r;

	buf_init(&b);
	buf_printf(&b, "SELECT count(*) FROM \"%s\"", t->name);
	if (built_int(s, &b, &total) < 0)
		goto fail;
	buf_init(&b);
	buf_puts(&b, "DECLARE td_copy NO SCROLL CURSOR FOR SELECT ");
	for (int i = 0; i < t->n_cols; i++)
		buf_printf(&b, "%s\"%s\"", i ? ", " : "", t->cols[i].name);
	buf_printf(&b, " FROM \"%s\"", t->name);
	for (int i = 0; i < t->n_key; i++)
		buf_printf(&b, "%s\"%s\"", i ? ", " : " ORDER BY ", t->cols[i].name);
	if (pg_run_built(s, &b, PGRES_COMMAND_OK, NULL) < 0)
		goto fail;
	while (!stop && rows == FETCH_ROWS) {
		buf_init(&b);
		buf_printf(&b, "FETCH %d FROM td_copy", FETCH_ROWS);
		if (pg_run_built(s, &b, PGRES_TUPLES_OK, &r) < 0)
			goto fail;
		rows = sym_PQntuples(r);
		for (int i = 0; i < rows && !stop; i++) {
			read_row(r, i, t, v);
			stop = cb(ctx, t, total, v);
		}
		sym_PQclear(r);
	}
	free(v);
	return pg_exec(s, "CLOSE td_copy") == 0 ? stop : -1;
fail:
	free(v);
	return -1;
}

int pg_rows_walk(struct store *base, const struct store_table *t, int n, store_row_cb cb,
		 void *ctx)
{
	struct pg_store *s = pg_of(base);
	int rc = 0;

	if (pg_exec(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") < 0)
		return STORE_ERR;
	s->in_tx = 1;
	for (int i = 0; i < n && rc == 0; i++)
		rc = walk_table(s, &t[i], cb, ctx);
	pg_exec(s, rc < 0 ? "ROLLBACK" : "COMMIT");
	s->in_tx = 0;
	return rc < 0 ? STORE_ERR : STORE_OK;
}
