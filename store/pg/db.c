/*
 * db.c - running statements on the PostgreSQL connection: text
 * parameters, statements prepared once per connection, column readers,
 * errors (kept and logged, never with the DSN), reconnection (one
 * bounded try in a daemon, whose engine backs off; a short wait in a
 * command). Transactions: store/pg/tx.c.
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECONNECT_MS 2000      /* one try at reconnecting lasts at most this */
#define RECONNECT_GAP_MS 500   /* a daemon's next try, after one failed, at the earliest */
#define BRIEF_WAIT_MS 10000    /* a command waits this long for its server to come back */

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

void pg_array_add(struct buf *b, const char *v)
{
	buf_puts(b, b->len == 0 ? "{\"" : ",\"");
	for (const char *c = v; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			buf_append(b, "\\", 1);
		buf_append(b, c, 1);
	}
	buf_puts(b, "\"");
}

void pg_array_end(struct buf *b)
{
	buf_puts(b, b->len == 0 ? "{}" : "}");
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
	const char *state = r ? sym_PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? sym_PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	struct log_line *l;

	if (msg == NULL)
		msg = sym_PQerrorMessage(s->conn);
	snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state ? state : "");
	if (sym_PQstatus(s->conn) == CONNECTION_BAD || is_lost(s->sqlstate)) {
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

/*
 * One try at connecting again, for at most RECONNECT_MS (libpq's
 * connect_timeout does not apply to a connection polled this way, and a
 * DSN may set a long one). 0, or -1: the server did not answer in time
 * or refused (the half-made connection is left for the next try, which
 * closes it).
 */
static int reset_once(struct pg_store *s)
{
	int64_t until = clock_mono_ms() + RECONNECT_MS;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (!sym_PQresetStart(s->conn))
		return -1;
	while (st != PGRES_POLLING_OK) {
		struct pollfd pfd = { .fd = sym_PQsocket(s->conn),
				      .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT };
		int64_t left = until - clock_mono_ms();
		int n;

		if (st == PGRES_POLLING_FAILED || pfd.fd < 0 || left <= 0)
			return -1;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			st = sym_PQresetPoll(s->conn);
	}
	return 0;
}

/* The connection is lost and could not be made again: the error kept. */
static int unreachable(struct pg_store *s, int tried)
{
	s->lost = 1;
	snprintf(s->sqlstate, sizeof s->sqlstate, "08006");
	store_set_error(&s->base, STORE_E_BUSY, "database unreachable (%s): the connection "
			"was lost and cannot be made again yet", s->label);
	if (tried)
		log_msg(LOG_ERROR, "store.error", "%s: database unreachable", s->label);
	return -1;
}

int pg_reconnect(struct pg_store *s)
{
	int64_t wait = 50, until = clock_mono_ms() + BRIEF_WAIT_MS;

	if (!s->brief && clock_mono_ms() < s->reconnect_at)
		return unreachable(s, 0);
	while (reset_once(s) < 0) {
		if (!s->brief || clock_mono_ms() + wait > until) {
			s->reconnect_at = clock_mono_ms() + RECONNECT_GAP_MS;
			return unreachable(s, 1);
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
	r = sym_PQprepare(s->conn, name, sql, 0, NULL);
	if (sym_PQresultStatus(r) == PGRES_COMMAND_OK) {
		sym_PQclear(r);
		r = sym_PQdescribePrepared(s->conn, name);
	}
	if (sym_PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_keep_error(s, r, sql);
		sym_PQclear(r);
		return NULL;
	}
	s->cache[s->n_cache].sql = sql;
	s->cache[s->n_cache].n_params = sym_PQnparams(r);
	sym_PQclear(r);
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
	r = sym_PQexecPrepared(s->conn, name, n, n ? p->v : NULL, NULL, NULL, 0);
	if (sym_PQresultStatus(r) == PGRES_COMMAND_OK || sym_PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	pg_keep_error(s, r, sql);
	sym_PQclear(r);
	return NULL;
}

PGresult *pg_run(struct pg_store *s, const char *sql, const struct pg_params *p)
{
	int reconnected = 0;
	PGresult *r;

	s->sqlstate[0] = '\0';
	if (s->lost && !s->in_tx) {
		if (pg_reconnect(s) < 0)
			return NULL;
		reconnected = 1;
	}
	r = run_once(s, sql, p);
	if (r == NULL && s->lost && !s->in_tx && !reconnected && pg_reconnect(s) == 0)
		r = run_once(s, sql, p);
	return r;
}

int pg_run_changes(struct pg_store *s, const char *sql, const struct pg_params *p)
{
	PGresult *r = pg_run(s, sql, p);
	int n;

	if (r == NULL)
		return -1;
	n = atoi(sym_PQcmdTuples(r));
	sym_PQclear(r);
	return n;
}

int pg_run_int(struct pg_store *s, const char *sql, const struct pg_params *p, int64_t none,
	       int64_t *v)
{
	PGresult *r = pg_run(s, sql, p);

	if (r == NULL)
		return -1;
	*v = sym_PQntuples(r) > 0 ? pg_int(r, 0, 0, none) : none;
	sym_PQclear(r);
	return 0;
}

int pg_exec(struct pg_store *s, const char *sql)
{
	PGresult *r;

	s->sqlstate[0] = '\0';
	r = sym_PQexec(s->conn, sql);
	if (sym_PQresultStatus(r) == PGRES_COMMAND_OK || sym_PQresultStatus(r) == PGRES_TUPLES_OK) {
		sym_PQclear(r);
		return 0;
	}
	pg_keep_error(s, r, sql);
	sym_PQclear(r);
	return -1;
}

/* ---- columns ---- */

char *pg_text(const PGresult *r, int row, int col)
{
	if (sym_PQgetisnull(r, row, col))
		return NULL;
	return xstrdup(sym_PQgetvalue(r, row, col));
}

const char *pg_str(const PGresult *r, int row, int col)
{
	return sym_PQgetisnull(r, row, col) ? NULL : sym_PQgetvalue(r, row, col);
}

int64_t pg_int(const PGresult *r, int row, int col, int64_t null_value)
{
	const char *v;

	if (sym_PQgetisnull(r, row, col))
		return null_value;
	v = sym_PQgetvalue(r, row, col);
	if (v[0] == 't' && v[1] == '\0')
		return 1; /* a boolean */
	return strtoll(v, NULL, 10);
}
