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

static const char SQL_BEGIN[] = "BEGIN";
static const char SQL_COMMIT[] = "COMMIT";

static void rollback(struct pg_store *s)
{
	pg_events_drop(s);
	if (PQstatus(s->conn) == CONNECTION_OK &&
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
		PGresult *r = PQexec(s->conn, "ROLLBACK");
		PQclear(r);
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

/* One try: STORE_OK committed; anything else rolled back. *sent_commit
 * says whether COMMIT was sent (its outcome unknown if it failed). */
static int try_once(struct pg_store *s, pg_tx_fn fn, void *ctx, int *sent_commit)
{
	PGresult *r;
	int rc;

	*sent_commit = 0;
	if ((r = pg_run(s, SQL_BEGIN, NULL)) == NULL)
		return STORE_ERR;
	PQclear(r);
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
	pg_events_drop(s);
	s->in_tx = 0;
	if (r == NULL)
		return STORE_ERR;
	PQclear(r);
	return STORE_OK;
}

int pg_tx(struct pg_store *s, pg_tx_fn fn, void *ctx)
{
	int rc = STORE_ERR, sent_commit = 0, reconnected = 0, was_lost;

	if (s->in_tx) {
		log_msg(LOG_ERROR, "store.error", "a transaction inside a transaction");
		abort();
	}
	for (int attempt = 0; attempt < TX_TRIES; attempt++) {
		rc = try_once(s, fn, ctx, &sent_commit);
		if (rc != STORE_ERR || !pg_transient(s))
			return rc;
		/* A COMMIT that lost its connection may have committed: running
		 * the body again could do it twice. Serialization failures and
		 * deadlocks at COMMIT are answers: nothing was committed. The
		 * next call reconnects. */
		if (sent_commit && s->lost) {
			store_set_error(&s->base, STORE_E_BUSY,
					"connection lost during commit: the change may or may "
					"not be stored");
			return STORE_ERR;
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
