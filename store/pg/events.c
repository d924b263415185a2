/*
 * events.c - the PostgreSQL side of the audit trail: one hash chain for
 * every host writing the database.
 *
 * How the chain stays one. An event's id is the tip's id + 1 and its
 * prev_hash the tip's hash. A transaction queues its events
 * (pg_event_append) and pg_tx writes them last, just before COMMIT: it
 * takes the transaction-scoped advisory lock PG_LOCK_CHAIN, reads the tip
 * (the lock's holder is the only writer of events, and every earlier
 * holder has committed or rolled back), inserts after it, and commits,
 * which releases the lock. So ids have no gaps and the chain no forks,
 * whatever the number of hosts, and the lock is held for the appends and
 * the commit only. A transaction that queues more than EVENTS_HELD_MAX
 * (a bulk schedule) writes them as it goes instead, under the lock taken
 * at the first such write: its memory stays bounded, and the other hosts'
 * events wait for its commit. The id is the primary key as well: had anything
 * written an event without the lock, the insert fails instead of forking.
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALK_PAGE 2000
/* Events a transaction holds in memory before it writes them (~4 MB). */
#define EVENTS_HELD_MAX 8192

static const char SQL_CHAIN_LOCK[] = "SELECT pg_advisory_xact_lock($1::bigint)";
static const char SQL_TIP[] = "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1";
static const char SQL_APPEND[] =
	"INSERT INTO events (id, job_id, at, type, service, detail, prev_hash, hash)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
#define EVENT_COLS "e.id, e.job_id, e.at, e.type, e.service, e.detail, e.prev_hash, e.hash"
static const char SQL_JOB_EVENTS[] =
	"SELECT " EVENT_COLS ", (SELECT p.hash FROM events p WHERE p.id = e.id - 1)"
	" FROM events e WHERE e.job_id = $1 AND e.id > $2::bigint ORDER BY e.id LIMIT $3";
static const char SQL_ALL_EVENTS[] =
	"SELECT " EVENT_COLS " FROM events e WHERE e.id > $1::bigint ORDER BY e.id LIMIT $2";

static char *dup_opt(const char *v)
{
	return v ? xstrdup(v) : NULL;
}

int pg_event_append(struct store *base, const char *job_id, int64_t at, const char *type,
		    const char *service, const char *detail)
{
	struct pg_store *s = pg_of(base);
	struct pg_event *e;

	if (!s->in_tx) {
		log_msg(LOG_ERROR, "store.error", "event %s appended outside a transaction", type);
		return -1;
	}
	s->pending = xreserve(s->pending, &s->cap_pending, s->n_pending + 1, sizeof *s->pending);
	e = &s->pending[s->n_pending++];
	e->job_id = dup_opt(job_id);
	e->at = at;
	e->type = xstrdup(type);
	e->service = dup_opt(service);
	e->detail = xstrdup(detail ? detail : "{}");
	return s->n_pending >= EVENTS_HELD_MAX ? pg_events_flush(s) : 0;
}

void pg_events_drop(struct pg_store *s)
{
	for (size_t i = 0; i < s->n_pending; i++) {
		free(s->pending[i].job_id);
		free(s->pending[i].type);
		free(s->pending[i].service);
		free(s->pending[i].detail);
	}
	s->n_pending = 0;
}

static int insert_event(struct pg_store *s, const struct pg_event *e, int64_t id,
			const char *prev, char hash[STORE_HASH_HEX])
{
	struct pg_params p = { 0 };

	store_event_hash(prev, id, e->job_id, e->at, e->type, e->service, e->detail, hash);
	pg_p_int(&p, id);
	pg_p_text(&p, e->job_id);
	pg_p_int(&p, e->at);
	pg_p_text(&p, e->type);
	pg_p_text(&p, e->service);
	pg_p_text(&p, e->detail);
	pg_p_text(&p, prev);
	pg_p_text(&p, hash);
	return pg_run_changes(s, SQL_APPEND, &p) == 1 ? 0 : -1;
}

void pg_events_end(struct pg_store *s)
{
	pg_events_drop(s);
	s->chain_held = 0;
}

/* Takes PG_LOCK_CHAIN for this transaction and reads the tip after it. */
static int chain_take(struct pg_store *s)
{
	struct pg_params p = { 0 };
	int64_t unused;
	PGresult *r;

	pg_p_int(&p, PG_LOCK_CHAIN);
	if (pg_run_int(s, SQL_CHAIN_LOCK, &p, 0, &unused) < 0 ||
	    (r = pg_run(s, SQL_TIP, NULL)) == NULL)
		return -1;
	s->chain_id = 0;
	memcpy(s->chain_prev, store_genesis_hash, sizeof s->chain_prev);
	if (sym_PQntuples(r) == 1) {
		s->chain_id = pg_int(r, 0, 0, 0);
		snprintf(s->chain_prev, sizeof s->chain_prev, "%s", sym_PQgetvalue(r, 0, 1));
	}
	sym_PQclear(r);
	s->chain_held = 1;
	return 0;
}

int pg_events_flush(struct pg_store *s)
{
	char hash[STORE_HASH_HEX];

	if (s->n_pending == 0)
		return 0;
	if (!s->chain_held && chain_take(s) < 0)
		return -1;
	for (size_t i = 0; i < s->n_pending; i++) {
		if (insert_event(s, &s->pending[i], s->chain_id + 1, s->chain_prev, hash) < 0)
			return -1;
		s->chain_id++;
		memcpy(s->chain_prev, hash, sizeof s->chain_prev);
	}
	pg_events_drop(s);
	return 0;
}

/* Points ev's strings into row i of r. */
static void read_event(const PGresult *r, int i, struct event_record *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->id = pg_int(r, i, 0, 0);
	ev->job_id = pg_str(r, i, 1);
	ev->at = pg_int(r, i, 2, 0);
	ev->type = pg_str(r, i, 3);
	ev->service = pg_str(r, i, 4);
	ev->detail = pg_str(r, i, 5);
	ev->prev_hash = pg_str(r, i, 6);
	ev->hash = pg_str(r, i, 7);
}

/* One page of events after `after`: calls cb per row; *last the last id
 * read, *rows how many. 0, 1 (cb stopped) or -1. */
static int walk_page(struct pg_store *s, const char *job_id, int64_t *last, int *rows,
		     store_event_row_cb cb, void *ctx)
{
	struct pg_params p = { 0 };
	struct event_record ev;
	PGresult *r;
	int stop = 0;

	if (job_id != NULL)
		pg_p_text(&p, job_id);
	pg_p_int(&p, *last);
	pg_p_int(&p, WALK_PAGE);
	r = pg_run(s, job_id != NULL ? SQL_JOB_EVENTS : SQL_ALL_EVENTS, &p);
	if (r == NULL)
		return -1;
	*rows = sym_PQntuples(r);
	for (int i = 0; i < *rows && !stop; i++) {
		read_event(r, i, &ev);
		*last = ev.id;
		stop = cb(ctx, &ev, job_id != NULL ? pg_str(r, i, 8) : NULL);
	}
	sym_PQclear(r);
	return stop ? 1 : 0;
}

/* Walks job_id's events (NULL: all of them) in id order, a page at a time
 * (the rows of a page stay valid during its callbacks); see store/backend.h. */
int pg_events_walk(struct store *base, const char *job_id, store_event_row_cb cb, void *ctx)
{
	struct pg_store *s = pg_of(base);
	int64_t last = 0;
	int rows = WALK_PAGE, rc = 0;

	while (rc == 0 && rows == WALK_PAGE)
		rc = walk_page(s, job_id, &last, &rows, cb, ctx);
	return rc < 0 ? STORE_ERR : STORE_OK;
}
