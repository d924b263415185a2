/*
 * load.c - loading a copied store into an empty PostgreSQL store
 * (load_begin .. load_end of store/backend.h, for store_copy): one
 * transaction that locks every table against other writers, checks that
 * they are empty, streams each table's rows with COPY FROM STDIN (text
 * format), and then moves the identity sequences past the ids copied, so
 * that the rows written after the copy go on after them. The event chain
 * needs nothing more: its tip is the newest row (store/pg/events.c).
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_FLUSH_BYTES (256 * 1024)

/* A load in progress: the table whose COPY is open (NULL: none), and the
 * rows not sent yet, in COPY's text format. */
struct pg_load {
	const struct store_table *t;
	struct buf rows;
};

int pg_run_built(struct pg_store *s, struct buf *b, ExecStatusType status,
		     PGresult **out)
{
	PGresult *r;

	buf_append(b, "", 1);
	s->sqlstate[0] = '\0';
	r = sym_PQexec(s->conn, b->data);
	if (sym_PQresultStatus(r) != status) {
		pg_keep_error(s, r, b->data);
		sym_PQclear(r);
		buf_free(b);
		return -1;
	}
	buf_free(b);
	if (out != NULL)
		*out = r;
	else
		sym_PQclear(r);
	return 0;
}

/* 1 when table t has a row, 0 when not, -1. */
static int has_rows(struct pg_store *s, const struct store_table *t)
{
	PGresult *r;
	struct buf b;
	int any;

	buf_init(&b);
	buf_printf(&b, "SELECT EXISTS (SELECT 1 FROM \"%s\")", t->name);
	if (pg_run_built(s, &b, PGRES_TUPLES_OK, &r) < 0)
		return -1;
	any = (int)pg_int(r, 0, 0, 0);
	sym_PQclear(r);
	return any;
}

/* BEGIN, and every table locked against writers (readers go on). 0 or -1. */
static int begin_locked(struct pg_store *s, const struct store_table *t, int n)
{
	struct buf b;

	if (pg_exec(s, "BEGIN") < 0)
		return -1;
	s->in_tx = 1;
	buf_init(&b);
	buf_puts(&b, "LOCK TABLE ");
	for (int i = 0; i < n; i++)
		buf_printf(&b, "%s\"%s\"", i ? ", " : "", t[i].name);
	buf_puts(&b, " IN EXCLUSIVE MODE");
	return pg_run_built(s, &b, PGRES_COMMAND_OK, NULL);
}

static void rollback(struct pg_store *s)
{
	if (sym_PQstatus(s->conn) == CONNECTION_OK &&
	    sym_PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
		PGresult *r = sym_PQexec(s->conn, "ROLLBACK");
		sym_PQclear(r);
	}
	s->in_tx = 0;
}

int pg_load_begin(struct store *base, const struct store_table *t, int n)
{
	struct pg_store *s = pg_of(base);
	int any = 0;

	if (begin_locked(s, t, n) < 0)
		any = -1;
	for (int i = 0; i < n && any == 0; i++)
		if ((any = has_rows(s, &t[i])) > 0)
			store_set_error(base, STORE_E_OTHER, "not empty (its table %s has rows)",
					t[i].name);
	if (any != 0) {
		rollback(s);
		return any > 0 ? STORE_REFUSED : STORE_ERR;
	}
	s->load = xcalloc(1, sizeof *s->load);
	buf_init(&s->load->rows);
	return STORE_OK;
}

/* Sends the rows buffered. 0 or -1. */
static int send_rows(struct pg_store *s)
{
	struct buf *b = &s->load->rows;

	if (b->len > 0 && sym_PQputCopyData(s->conn, b->data, (int)b->len) != 1) {
		pg_keep_error(s, NULL, "COPY");
		return -1;
	}
	buf_reset(b);
	return 0;
}

/* Ends the open COPY, if any: the server checks its rows now. abort_msg
 * not NULL: abandons it instead. 0 or -1. */
static int end_copy(struct pg_store *s, const char *abort_msg)
{
	struct pg_load *l = s->load;
	PGresult *r;
	int rc = 0;

	if (l->t == NULL)
		return 0;
	l->t = NULL;
	if ((abort_msg == NULL && send_rows(s) < 0) ||
	    sym_PQputCopyEnd(s->conn, abort_msg) != 1)
		rc = -1;
	buf_reset(&l->rows);
	while ((r = sym_PQgetResult(s->conn)) != NULL) {
		if (sym_PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0 && abort_msg == NULL) {
			pg_keep_error(s, r, "COPY");
			rc = -1;
		}
		sym_PQclear(r);
	}
	return rc;
}

/* Opens the COPY of table t. 0 or -1. */
static int start_copy(struct pg_store *s, const struct store_table *t)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "COPY \"%s\" (", t->name);
	for (int i = 0; i < t->n_cols; i++)
		buf_printf(&b, "%s\"%s\"", i ? ", " : "", t->cols[i].name);
	buf_puts(&b, ") FROM STDIN");
	if (pg_run_built(s, &b, PGRES_COPY_IN, NULL) < 0)
		return -1;
	s->load->t = t;
	return 0;
}

/* Appends text escaped for COPY's text format. */
static void put_text(struct buf *b, const char *v)
{
	const char *run = v;

	for (; *v != '\0'; v++) {
		const char *esc = *v == '\\' ? "\\\\" : *v == '\t' ? "\\t" : *v == '\n' ? "\\n"
				: *v == '\r' ? "\\r" : NULL;
		if (esc == NULL)
			continue;
		buf_append(b, run, (size_t)(v - run));
		buf_puts(b, esc);
		run = v + 1;
	}
	buf_append(b, run, (size_t)(v - run));
}

int pg_load_row(struct store *base, const struct store_table *t,
		const struct store_value *row)
{
	struct pg_store *s = pg_of(base);
	struct buf *b = &s->load->rows;

	if (s->load->t != t && (end_copy(s, NULL) < 0 || start_copy(s, t) < 0))
		return STORE_ERR;
	for (int i = 0; i < t->n_cols; i++) {
		if (i > 0)
			buf_append(b, "\t", 1);
		if (row[i].null)
			buf_append(b, "\\N", 2);
		else if (t->cols[i].type == STORE_COL_INT)
			buf_printf(b, "%" PRId64, row[i].num);
		else
			put_text(b, row[i].text);
	}
	buf_append(b, "\n", 1);
	if (b->len >= COPY_FLUSH_BYTES && send_rows(s) < 0)
		return STORE_ERR;
	return STORE_OK;
}

/* Moves the identity sequence of t's id (if it has one) past the largest
 * id. 0 or -1. */
static int advance_identity(struct pg_store *s, const struct store_table *t)
{
	struct buf b;

	if (t->n_key != 1 || t->cols[0].type != STORE_COL_INT)
		return 0;
	buf_init(&b);
	buf_printf(&b, "SELECT setval(pg_get_serial_sequence('\"%s\"', '%s'), max(\"%s\"))"
		   " FROM \"%s\" HAVING max(\"%s\") IS NOT NULL",
		   t->name, t->cols[0].name, t->cols[0].name, t->name, t->cols[0].name);
	return pg_run_built(s, &b, PGRES_TUPLES_OK, NULL);
}

int pg_load_done(struct store *base, const struct store_table *t, int n)
{
	struct pg_store *s = pg_of(base);

	if (end_copy(s, NULL) < 0)
		return STORE_ERR;
	for (int i = 0; i < n; i++)
		if (advance_identity(s, &t[i]) < 0)
			return STORE_ERR;
	return STORE_OK;
}

int pg_load_end(struct store *base, int commit)
{
	struct pg_store *s = pg_of(base);
	int rc = STORE_OK;

	if (s->load != NULL) {
		end_copy(s, commit ? NULL : "the copy was abandoned");
		buf_free(&s->load->rows);
		free(s->load);
		s->load = NULL;
	}
	if (!commit) {
		rollback(s);
		return STORE_OK;
	}
	if (pg_exec(s, "COMMIT") < 0) {
		rc = STORE_ERR;
		if (s->lost)
			store_set_error(base, STORE_E_OTHER, "connection lost during the commit: "
					"the copy may or may not be stored");
	}
	s->in_tx = 0;
	return rc;
}
