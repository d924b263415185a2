/*
 * db.c - running statements on the PostgreSQL connection: text
 * parameters, statements prepared once per connection, column readers,
 * errors (kept and logged, never with the DSN), reconnection with
 * back-off. Transactions: store/pg/tx.c.
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A misuse of the helpers is a bug in the caller: abort, naming it. */
static void misuse(const char *sql, const char *why)
{
	fprintf(stderr, "tenantdel: %s in: %s\n", why, sql);
	abort();
}

static void add_param(struct pg_params *p, const char *v)
{
	if (p->n == PG_MAX_PARAMS)
		misuse("(parameters)", "too many parameters");
	p->v[p->n++] = v;
}

void pg_p_text(struct pg_params *p, const char *v)
{
	add_param(p, v);
}

void pg_p_int(struct pg_params *p, int64_t v)
{
	if (p->n == PG_MAX_PARAMS)
		misuse("(parameters)", "too many parameters");
	snprintf(p->num[p->n], sizeof p->num[p->n], "%" PRId64, v);
	add_param(p, p->num[p->n]);
}

void pg_p_opt_int(struct pg_params *p, int64_t v, int64_t none)
{
	if (v == none)
		add_param(p, NULL);
	else
		pg_p_int(p, v);
}

/* ---- errors ---- */

static int is_lost(const char *state)
{
	return strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	       strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
}

void pg_keep_error(struct pg_store *s, const PGresult *r, const char *sql)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	struct log_line *l;

	if (msg == NULL)
		msg = PQerrorMessage(s->conn);
	snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state ? state : "");
	if (PQstatus(s->conn) == CONNECTION_BAD || is_lost(s->sqlstate)) {
		s->lost = 1;
		if (s->sqlstate[0] == '\0')
			snprintf(s->sqlstate, sizeof s->sqlstate, "08006");
	}
	store_set_error(&s->base,
			strcmp(s->sqlstate, "40001") == 0 || strcmp(s->sqlstate, "40P01") == 0 ||
			strcmp(s->sqlstate, "55P03") == 0 ? STORE_E_BUSY : STORE_E_OTHER,
			"%.*s", (int)strcspn(msg, "\n"), msg);
	l = log_start(LOG_ERROR, "store.error");
	log_str(l, "database", s->label);
	log_str(l, "sql", sql);
	log_str(l, "error", s->base.err_msg);
	log_str(l, "sqlstate", s->sqlstate);
	log_done(l);
}

int pg_transient(const struct pg_store *s)
{
	return s->lost || strcmp(s->sqlstate, "40001") == 0 || strcmp(s->sqlstate, "40P01") == 0;
}

void pg_sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int pg_reconnect(struct pg_store *s)
{
	int64_t wait = 50, until = clock_mono_ms() + 10000;

	for (;;) {
		PQreset(s->conn);
		if (PQstatus(s->conn) == CONNECTION_OK)
			break;
		if (clock_mono_ms() + wait > until) {
			store_set_error(&s->base, STORE_E_BUSY, "database unreachable");
			log_msg(LOG_ERROR, "store.error", "%s: database unreachable", s->label);
			return -1;
		}
		pg_sleep_ms(wait);
		wait = wait * 2 > 1000 ? 1000 : wait * 2;
	}
	s->n_cache = 0;
	s->generation++;
	s->lost = 0;
	s->sqlstate[0] = '\0';
	log_msg(LOG_WARN, "store.reconnected", "%s: reconnected", s->label);
	return 0;
}

/* ---- statements ---- */

/* The cache slot of sql, prepared on this connection at its first use
 * (named by slot); NULL after keeping the error. */
static struct pg_prepared *prepared(struct pg_store *s, const char *sql)
{
	char name[16];
	PGresult *r;

	for (int i = 0; i < s->n_cache; i++)
		if (s->cache[i].sql == sql)
			return &s->cache[i];
	if (s->n_cache == PG_STMT_CACHE)
		misuse(sql, "statement cache full");
	snprintf(name, sizeof name, "td%d", s->n_cache);
	r = PQprepare(s->conn, name, sql, 0, NULL);
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		PQclear(r);
		r = PQdescribePrepared(s->conn, name);
	}
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_keep_error(s, r, sql);
		PQclear(r);
		return NULL;
	}
	s->cache[s->n_cache].sql = sql;
	s->cache[s->n_cache].n_params = PQnparams(r);
	PQclear(r);
	return &s->cache[s->n_cache++];
}

static PGresult *run_once(struct pg_store *s, const char *sql, const struct pg_params *p)
{
	struct pg_prepared *st = prepared(s, sql);
	int n = p ? p->n : 0;
	char name[16];
	PGresult *r;

	if (st == NULL)
		return NULL;
	if (st->n_params != n)
		misuse(sql, "wrong number of parameters");
	snprintf(name, sizeof name, "td%d", (int)(st - s->cache));
	r = PQexecPrepared(s->conn, name, n, n ? p->v : NULL, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	pg_keep_error(s, r, sql);
	PQclear(r);
	return NULL;
}

PGresult *pg_run(struct pg_store *s, const char *sql, const struct pg_params *p)
{
	PGresult *r;

	s->sqlstate[0] = '\0';
	r = run_once(s, sql, p);
	if (r == NULL && s->lost && !s->in_tx && pg_reconnect(s) == 0)
		r = run_once(s, sql, p);
	return r;
}

int pg_run_changes(struct pg_store *s, const char *sql, const struct pg_params *p)
{
	PGresult *r = pg_run(s, sql, p);
	int n;

	if (r == NULL)
		return -1;
	n = atoi(PQcmdTuples(r));
	PQclear(r);
	return n;
}

int pg_run_int(struct pg_store *s, const char *sql, const struct pg_params *p, int64_t none,
	       int64_t *v)
{
	PGresult *r = pg_run(s, sql, p);

	if (r == NULL)
		return -1;
	*v = PQntuples(r) > 0 ? pg_int(r, 0, 0, none) : none;
	PQclear(r);
	return 0;
}

int pg_exec(struct pg_store *s, const char *sql)
{
	PGresult *r;

	s->sqlstate[0] = '\0';
	r = PQexec(s->conn, sql);
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK) {
		PQclear(r);
		return 0;
	}
	pg_keep_error(s, r, sql);
	PQclear(r);
	return -1;
}

/* ---- columns ---- */

char *pg_text(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return xstrdup(PQgetvalue(r, row, col));
}

const char *pg_str(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

int64_t pg_int(const PGresult *r, int row, int col, int64_t null_value)
{
	const char *v;

	if (PQgetisnull(r, row, col))
		return null_value;
	v = PQgetvalue(r, row, col);
	if (v[0] == 't' && v[1] == '\0')
		return 1; /* a boolean */
	return strtoll(v, NULL, 10);
}
