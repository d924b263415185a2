/*
 * events.c - the SQLite side of the audit trail: appending (the one place
 * event ids and hashes are assigned) and walking the rows for the checks
 * every backend shares (store/events.c).
 *
 * How the chain stays linear. An event's id is the tip's id + 1 and its
 * prev_hash the tip's hash, so reading the tip and inserting after it must
 * not interleave with another writer doing the same. The tip is read at
 * the first append of a write transaction and kept (struct store_chain)
 * until COMMIT or ROLLBACK; each append inserts after it and becomes the
 * tip. With SQLite this is safe as it stands: BEGIN IMMEDIATE takes the
 * database's one write lock before the read, and holds it to the end. A
 * backend with several writers serialises at the same point: it locks the
 * tip as it reads it (SELECT ... FOR UPDATE of a one-row tip table, or a
 * transaction-scoped advisory lock) and holds the lock to commit. Either
 * way the insert also says what it expects: the id is the primary key, so
 * had the tip moved under a transaction its insert fails instead of
 * forking the chain.
 *
 * How a hash is kept (since version 14): the hash as its 32 bytes (a
 * BLOB), and prev_hash as the empty BLOB, since it is the hash of the row
 * before and is read from there. The canonical form hashed is the same
 * (the hex text of both, store/events.c); rows written before keep both
 * as hex text, and every read accepts either (sqlite_event_hashes).
 */
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

#define EVENT_COLS "e.id, e.job_id, e.at, e.type, e.service, e.detail, e.prev_hash, e.hash"
static const char SQL_JOB_EVENTS[] =
	"SELECT " EVENT_COLS ", (SELECT p.hash FROM events p WHERE p.id = e.id - 1)"
	" FROM events e WHERE e.job_id = :job ORDER BY e.id";
static const char SQL_ALL_EVENTS[] = "SELECT " EVENT_COLS " FROM events e ORDER BY e.id";
static const char SQL_TIP[] = "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1";
/* One event, or SQLITE_ROWS_A_STATEMENT of them, parameters by position. */
#define APPEND_ROW "(?,?,?,?,?,?,X'',?)"
#define APPEND_ROW_PARAMS 7
#define APPEND_ROWS4 APPEND_ROW "," APPEND_ROW "," APPEND_ROW "," APPEND_ROW
#define APPEND_COLS                                                                       \
	"INSERT INTO events (id, job_id, at, type, service, detail, prev_hash, hash) VALUES "
static const char SQL_APPEND[] = APPEND_COLS APPEND_ROW;
static const char SQL_APPEND_ROWS[] =
	APPEND_COLS APPEND_ROWS4 "," APPEND_ROWS4 "," APPEND_ROWS4 "," APPEND_ROWS4;
_Static_assert(SQLITE_ROWS_A_STATEMENT == 16, "SQL_APPEND_ROWS holds 16 rows");

/* Reads the chain's tip into s->tip (genesis when there is no event). */
static int load_tip(struct sqlite_store *s)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_TIP);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->tip.id = sqlite3_column_int64(st, 0);
		if (sqlite_column_hash(st, 1, s->tip.hash) == NULL)
			s->tip.hash[0] = '\0';
	} else if (rc == SQLITE_DONE) {
		s->tip.id = 0;
		snprintf(s->tip.hash, sizeof s->tip.hash, "%s", store_genesis_hash);
	} else {
		sqlite_log_error(s, SQL_TIP);
		sqlite_reset(st);
		return -1;
	}
	sqlite_reset(st);
	s->tip.loaded = 1;
	return 0;
}

/* Reads the tip (once per transaction), inserts after it, advances it:
 * see the comment at the top of this file. */
int sqlite_event_append(struct store *base, const char *job_id, int64_t at,
			const char *type, const char *service, const char *detail)
{
	const struct sqlite_event_row row = { .job_id = job_id, .at = at, .type = type,
					       .service = service, .detail = detail };

	return sqlite_events_append(sqlite_of(base), &row, 1);
}

/* rows[0..n) (n is 1 or SQLITE_ROWS_A_STATEMENT) in one statement: each
 * row's hash follows the one before it, and the tip moves only once the
 * statement is done. A statement a row pays for opening the table and its
 * index each time (~4,000 instructions of ~16,000 an event); one for 16
 * rows once. */
static int append_rows(struct sqlite_store *s, const struct sqlite_event_row *rows, size_t n)
{
	sqlite3_stmt *st = sqlite_stmt(s, n == 1 ? SQL_APPEND : SQL_APPEND_ROWS);
	unsigned char md[UTIL_SHA256_LEN];
	char prev[STORE_HASH_HEX];
	int64_t id = s->tip.id;

	if (st == NULL)
		return -1;
	memcpy(prev, s->tip.hash, sizeof prev);
	for (size_t k = 0; k < n; k++) {
		const struct sqlite_event_row *r = &rows[k];
		const char *text = r->detail ? r->detail : "{}";
		int at = (int)k * APPEND_ROW_PARAMS;

		id++;
		store_event_digest(prev, id, r->job_id, r->at, r->type, r->service, text, md);
		util_hex(md, sizeof md, prev);
		sqlite_bind_int_at(st, at + 1, id);
		sqlite_bind_text_at(st, at + 2, r->job_id);
		sqlite_bind_int_at(st, at + 3, r->at);
		sqlite_bind_text_at(st, at + 4, r->type);
		sqlite_bind_text_at(st, at + 5, r->service);
		sqlite_bind_text_at(st, at + 6, text);
		sqlite_bind_blob_at(st, at + 7, md, sizeof md);
	}
	if (sqlite_step_done(s, st) < 0)
		return -1;
	s->tip.id = id;
	memcpy(s->tip.hash, prev, sizeof prev);
	return 0;
}

int sqlite_events_append(struct sqlite_store *s, const struct sqlite_event_row *rows, size_t n)
{
	size_t k;

	if (!s->in_tx) {
		log_msg(LOG_ERROR, "store.error", "event %s appended outside a transaction",
			n > 0 ? rows[0].type : "(none)");
		return -1;
	}
	if (!s->tip.loaded && load_tip(s) < 0)
		return -1;
	for (; n > 0; rows += k, n -= k) {
		k = n >= SQLITE_ROWS_A_STATEMENT ? SQLITE_ROWS_A_STATEMENT : 1;
		if (append_rows(s, rows, k) < 0)
			return -1;
	}
	return 0;
}

const char *sqlite_column_hash(sqlite3_stmt *st, int col, char out[STORE_HASH_HEX])
{
	const unsigned char *p;
	int n;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		return NULL;
	case SQLITE_BLOB:
		p = sqlite3_column_blob(st, col);
		n = sqlite3_column_bytes(st, col);
		util_hex(p, (size_t)(n < UTIL_SHA256_LEN ? n : UTIL_SHA256_LEN), out);
		return out;
	default:
		snprintf(out, STORE_HASH_HEX, "%s", (const char *)sqlite3_column_text(st, col));
		return out;
	}
}

const char *sqlite_event_hashes(struct sqlite_hash_walk *w, sqlite3_stmt *st, const int col[4],
				const char **prev, const char **hash)
{
	int64_t id = sqlite3_column_int64(st, col[0]);
	const char *pred;

	if (id == 1)
		pred = store_genesis_hash;
	else if (col[3] >= 0)
		pred = sqlite_column_hash(st, col[3], w->pred);
	else if (w->last_id == id - 1 && id > 1)
		pred = memcpy(w->pred, w->last, sizeof w->pred); /* w->last changes below */
	else
		pred = NULL;
	*hash = sqlite_column_hash(st, col[2], w->hash);
	if (sqlite3_column_type(st, col[1]) == SQLITE_BLOB && sqlite3_column_bytes(st, col[1]) == 0)
		*prev = pred; /* not repeated: the hash of the row before */
	else
		*prev = sqlite_column_hash(st, col[1], w->prev);
	w->last_id = id;
	snprintf(w->last, sizeof w->last, "%s", *hash ? *hash : "");
	return pred;
}

/* Points ev's strings into the current row or w (valid until the next
 * step); returns the hash of event id-1 (NULL when unknown). */
static const char *read_event(sqlite3_stmt *st, struct sqlite_hash_walk *w, int of_job,
			      struct event_record *ev)
{
	const int cols[4] = { 0, 6, 7, of_job ? 8 : -1 };

	memset(ev, 0, sizeof *ev);
	ev->id = sqlite3_column_int64(st, 0);
	ev->job_id = (const char *)sqlite3_column_text(st, 1);
	ev->at = sqlite3_column_int64(st, 2);
	ev->type = (const char *)sqlite3_column_text(st, 3);
	ev->service = (const char *)sqlite3_column_text(st, 4);
	ev->detail = (const char *)sqlite3_column_text(st, 5);
	return sqlite_event_hashes(w, st, cols, &ev->prev_hash, &ev->hash);
}

/* Walks job_id's events (NULL: all of them) in id order; see store/backend.h. */
int sqlite_events_walk(struct store *base, const char *job_id, store_event_row_cb cb,
		       void *ctx)
{
	struct sqlite_store *s = sqlite_of(base);
	const char *sql = job_id != NULL ? SQL_JOB_EVENTS : SQL_ALL_EVENTS;
	sqlite3_stmt *st = sqlite_stmt(s, sql);
	struct sqlite_hash_walk w = { 0 };
	struct event_record ev;
	const char *pred;
	int rc = SQLITE_DONE, stop = 0;

	if (st == NULL)
		return STORE_ERR;
	if (job_id != NULL)
		sqlite_bind_text(st, ":job", job_id);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		pred = read_event(st, &w, job_id != NULL, &ev);
		stop = cb(ctx, &ev, job_id != NULL ? pred : NULL);
	}
	return sqlite_walk_end(s, st, stop ? SQLITE_DONE : rc);
}
