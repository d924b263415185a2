/*
 * tx.c - write transactions of the PostgreSQL backend: BEGIN, the body,
 * the queued events under the chain's lock, COMMIT; and running it again
 * when the server says a conflict or a lost connection undid it (a
 * conflict after a short back-off, a lost connection after one bounded
 * reconnection: never a wait of seconds inside a call).
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

#define TX_TRIES 8

/* The transaction's id is taken at its start, in the same round trip: a
 * COMMIT whose answer is lost with the connection is then looked up. */
static const char SQL_BEGIN[] = "BEGIN; SELECT pg_current_xact_id()::text";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_XACT_STATUS[] = "SELECT pg_xact_status($1::xid8)";
/* How long a COMMIT still "in progress" on the server (its backend not yet
 * gone after our end of the connection broke) is waited for. */
#define RESOLVE_WAIT_MS 2000

static void rollback(struct pg_store *s)
{
	pg_events_end(s);
	if (sym_PQstatus(s->conn) == CONNECTION_OK &&
	    sym_PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
		PGresult *r = sym_PQexec(s->conn, "ROLLBACK");
		sym_PQclear(r);
	}
	s->in_tx = 0;
}

/* Waits before try `attempt` (1, 2, ...) after a conflict: 5 ms doubling
 * up to 80 ms, jittered; all tries together wait at most about 0.6 s. */
static void back_off(int attempt)
{
	int64_t ms = (5LL << (attempt < 5 ? attempt : 5)) / 2;

	pg_sleep_ms(ms + rand() % (ms + 1));
}

/* BEGIN, and the new transaction's id into xid; 0 or -1 (the error kept,
 * a lost connection made again and BEGIN tried once more, as pg_run does). */
static int begin(struct pg_store *s, char *xid, size_t len)
{
	for (int tries = 0;; tries++) {
		PGresult *r;
		if (s->lost && pg_reconnect(s) < 0)
			return -1;
		s->sqlstate[0] = '\0';
		r = sym_PQexec(s->conn, SQL_BEGIN); /* two statements: the simple protocol */
		if (sym_PQresultStatus(r) == PGRES_TUPLES_OK && sym_PQntuples(r) == 1) {
			snprintf(xid, len, "%s", sym_PQgetvalue(r, 0, 0));
			sym_PQclear(r);
			return 0;
		}
		pg_keep_error(s, r, SQL_BEGIN);
		sym_PQclear(r);
		rollback(s);
		if (!s->lost || tries > 0)
			return -1;
	}
}

/* One try: STORE_OK committed; anything else rolled back. *sent_commit
 * says whether COMMIT was sent (its outcome unknown if it failed); xid
 * receives the transaction's id. */
static int try_once(struct pg_store *s, pg_tx_fn fn, void *ctx, int *sent_commit, char *xid,
		    size_t xid_len)
{
	PGresult *r;
	int rc;

	*sent_commit = 0;
	if (begin(s, xid, xid_len) < 0)
		return STORE_ERR;
	s->in_tx = 1;
	rc = fn(s, ctx);
	if (rc == STORE_OK && pg_events_flush(s) < 0)
		rc = STORE_ERR;
	if (rc != STORE_OK) {
		rollback(s);
		return rc;
	}
	*sent_commit = 1;
	r = pg_run(s, SQL_COMMIT, NULL);
	pg_events_end(s);
	s->in_tx = 0;
	if (r == NULL)
		return STORE_ERR;
	sym_PQclear(r);
	return STORE_OK;
}

/*
 * The fate of transaction xid, whose COMMIT lost its connection: asked on
 * a new connection (one bounded reconnection). 1 committed, 0 not (rolled
 * back: the body may run again), -1 unknown (unreachable, or still in
 * progress after RESOLVE_WAIT_MS).
 */
static int committed(struct pg_store *s, const char *xid)
{
	int64_t until = clock_mono_ms() + RESOLVE_WAIT_MS;

	for (int64_t wait = 10;; wait = wait * 2 > 200 ? 200 : wait * 2) {
		struct pg_params p = { 0 };
		PGresult *r;
		int verdict = -1;
		pg_p_text(&p, xid);
		if ((r = pg_run(s, SQL_XACT_STATUS, &p)) == NULL)
			return -1;
		if (sym_PQntuples(r) == 1 && !sym_PQgetisnull(r, 0, 0)) {
			const char *st = sym_PQgetvalue(r, 0, 0);
			verdict = strcmp(st, "committed") == 0 ? 1 : strcmp(st, "aborted") == 0 ? 0 : -1;
		}
		sym_PQclear(r);
		if (verdict >= 0 || clock_mono_ms() + wait > until)
			return verdict;
		pg_sleep_ms(wait);
	}
}

int pg_tx(struct pg_store *s, pg_tx_fn fn, void *ctx)
{
	int rc = STORE_ERR, sent_commit = 0, reconnected = 0, was_lost;
	char xid[32] = "";

	if (s->in_tx) {
		log_msg(LOG_ERROR, "store.error", "a transaction inside a transaction");
		abort();
	}
	for (int attempt = 0; attempt < TX_TRIES; attempt++) {
		rc = try_once(s, fn, ctx, &sent_commit, xid, sizeof xid);
		if (rc != STORE_ERR || !pg_transient(s))
			return rc;
		/* A COMMIT that lost its connection may have committed: the
		 * server is asked what became of the transaction; running the
		 * body again is only safe when it was rolled back.
		 * Serialization failures and deadlocks at COMMIT are answers:
		 * nothing was committed. */
		if (sent_commit && s->lost) {
			int fate = reconnected++ ? -1 : committed(s, xid);
			log_msg(LOG_WARN, "store.commit_lost", "%s: connection lost during COMMIT;"
				" the transaction %s", s->label,
				fate > 0 ? "committed" : fate == 0 ? "rolled back: trying again"
								   : "is of unknown fate");
			if (fate > 0)
				return STORE_OK;
			if (fate < 0) {
				store_set_error(&s->base, STORE_E_BUSY,
						"connection lost during commit: the change may or "
						"may not be stored");
				return STORE_ERR;
			}
			continue;
		}
		/* Lost before COMMIT: nothing was stored. One reconnection a
		 * call (pg_reconnect: bounded); a server that stays away is
		 * the caller's to wait for. */
		was_lost = s->lost;
		if (was_lost && (reconnected++ || pg_reconnect(s) < 0))
			return STORE_ERR;
		log_msg(LOG_INFO, "store.retry", "%s: %s, trying again", s->label,
			s->base.err_msg);
		if (!was_lost && attempt + 1 < TX_TRIES)
			back_off(attempt + 1);
	}
	return rc;
}
