/*
 * events.c - the audit trail: one hash chain of append-only events across
 * the database. Appending (the one place event ids and hashes are
 * assigned), listing a job's events, verifying the whole chain.
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
 */
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char GENESIS[] =
	"0000000000000000000000000000000000000000000000000000000000000000";

#define EVENT_COLS "e.id, e.job_id, e.at, e.type, e.service, e.detail, e.prev_hash, e.hash"
static const char SQL_JOB_EVENTS[] =
	"SELECT " EVENT_COLS ", (SELECT p.hash FROM events p WHERE p.id = e.id - 1)"
	" FROM events e WHERE e.job_id = :job ORDER BY e.id";
static const char SQL_ALL_EVENTS[] = "SELECT " EVENT_COLS " FROM events e ORDER BY e.id";
static const char SQL_TIP[] = "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1";
static const char SQL_APPEND[] =
	"INSERT INTO events (id, job_id, at, type, service, detail, prev_hash, hash)"
	" VALUES (:id, :job_id, :at, :type, :service, :detail, :prev, :hash)";

/* Appends the decimal form of v to b (no printf: this runs per event). */
static void buf_put_int(struct buf *b, int64_t v)
{
	char tmp[24];
	size_t i = sizeof tmp;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do
		tmp[--i] = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		tmp[--i] = '-';
	buf_append(b, tmp + i, sizeof tmp - i);
}

void store_event_hash(const char *prev_hash, int64_t id, const char *job_id, int64_t at,
		      const char *type, const char *service, const char *detail,
		      char out[STORE_HASH_HEX])
{
	static const char HEX[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct buf b;

	buf_init(&b);
	buf_puts(&b, prev_hash ? prev_hash : "");
	buf_append(&b, "\n", 1);
	buf_put_int(&b, id);
	buf_append(&b, "\n", 1);
	buf_puts(&b, job_id ? job_id : "");
	buf_append(&b, "\n", 1);
	buf_put_int(&b, at);
	buf_append(&b, "\n", 1);
	buf_puts(&b, type ? type : "");
	buf_append(&b, "\n", 1);
	buf_puts(&b, service ? service : "");
	buf_append(&b, "\n", 1);
	buf_puts(&b, detail ? detail : "");
	SHA256((const unsigned char *)b.data, b.len, md);
	buf_free(&b);
	for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = HEX[md[i] >> 4];
		out[2 * i + 1] = HEX[md[i] & 0x0f];
	}
	out[64] = '\0';
}

/* Reads the chain's tip into s->tip (genesis when there is no event). */
static int load_tip(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, SQL_TIP);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(st, 1);
		s->tip.id = sqlite3_column_int64(st, 0);
		snprintf(s->tip.hash, sizeof s->tip.hash, "%s", h ? (const char *)h : "");
	} else if (rc == SQLITE_DONE) {
		s->tip.id = 0;
		snprintf(s->tip.hash, sizeof s->tip.hash, "%s", GENESIS);
	} else {
		store_log_error(s, SQL_TIP);
		store_reset(st);
		return -1;
	}
	store_reset(st);
	s->tip.loaded = 1;
	return 0;
}

/* Reads the tip (once per transaction), inserts after it, advances it:
 * see the comment at the top of this file. */
int store_event_append_text(struct store *s, const char *job_id, int64_t at,
			    const char *type, const char *service, const char *detail)
{
	char hash[STORE_HASH_HEX];
	const char *text = detail ? detail : "{}";
	sqlite3_stmt *st;
	int64_t id;

	if (!s->in_tx) {
		log_msg(LOG_ERROR, "store.error", "event %s appended outside a transaction", type);
		return -1;
	}
	if (!s->tip.loaded && load_tip(s) < 0)
		return -1;
	if ((st = store_stmt(s, SQL_APPEND)) == NULL)
		return -1;
	id = s->tip.id + 1;
	store_event_hash(s->tip.hash, id, job_id, at, type, service, text, hash);
	store_bind_int(st, ":id", id);
	store_bind_text(st, ":job_id", job_id);
	store_bind_int(st, ":at", at);
	store_bind_text(st, ":type", type);
	store_bind_text(st, ":service", service);
	store_bind_text(st, ":detail", text);
	store_bind_text(st, ":prev", s->tip.hash);
	store_bind_text(st, ":hash", hash);
	if (store_step_done(s, st) < 0)
		return -1;
	s->tip.id = id;
	memcpy(s->tip.hash, hash, sizeof hash);
	return 0;
}

/* Points ev's strings into the current row (valid until the next step). */
static void read_event(sqlite3_stmt *st, struct event_record *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->id = sqlite3_column_int64(st, 0);
	ev->job_id = (const char *)sqlite3_column_text(st, 1);
	ev->at = sqlite3_column_int64(st, 2);
	ev->type = (const char *)sqlite3_column_text(st, 3);
	ev->service = (const char *)sqlite3_column_text(st, 4);
	ev->detail = (const char *)sqlite3_column_text(st, 5);
	ev->prev_hash = (const char *)sqlite3_column_text(st, 6);
	ev->hash = (const char *)sqlite3_column_text(st, 7);
}

/*
 * 1 when ev's hash matches its content and its prev_hash matches pred (the
 * hash of event id-1; NULL when that event is missing). Else 0 and why.
 */
static int event_ok(const struct event_record *ev, const char *pred, char *why, size_t whylen)
{
	char h[STORE_HASH_HEX];

	if (ev->id == 1)
		pred = GENESIS;
	store_event_hash(ev->prev_hash, ev->id, ev->job_id, ev->at, ev->type, ev->service,
			 ev->detail, h);
	if (ev->hash == NULL || strcmp(h, ev->hash) != 0) {
		snprintf(why, whylen, "event %lld: its hash does not match its content",
			 (long long)ev->id);
		return 0;
	}
	if (pred == NULL) {
		snprintf(why, whylen, "event %lld: event %lld is missing", (long long)ev->id,
			 (long long)ev->id - 1);
		return 0;
	}
	if (ev->prev_hash == NULL || strcmp(pred, ev->prev_hash) != 0) {
		snprintf(why, whylen, "event %lld: prev_hash does not match event %lld",
			 (long long)ev->id, (long long)ev->id - 1);
		return 0;
	}
	return 1;
}

/* The job's events in id order, each with chain_ok checked. */
int store_events_list(struct store *s, const char *job_id, store_event_cb cb, void *ctx)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_EVENTS);
	struct event_record ev;
	char why[160];
	int rc = SQLITE_DONE, stop = 0;

	if (st == NULL)
		return STORE_ERR;
	store_bind_text(st, ":job", job_id);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_event(st, &ev);
		ev.chain_ok = event_ok(&ev, (const char *)sqlite3_column_text(st, 8), why,
				       sizeof why);
		stop = cb(ctx, &ev);
	}
	if (!stop && rc != SQLITE_DONE) {
		store_log_error(s, SQL_JOB_EVENTS);
		store_reset(st);
		return STORE_ERR;
	}
	store_reset(st);
	return STORE_OK;
}

/* Walks the whole chain in id order; see store.h. */
int store_events_verify(struct store *s, int64_t *first_bad, char *why, size_t whylen,
			int64_t *count, char head[65])
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALL_EVENTS);
	char prev[STORE_HASH_HEX];
	int64_t prev_id = 0;
	struct event_record ev;
	int rc;

	*first_bad = 0;
	*count = 0;
	head[0] = '\0';
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (st == NULL)
		return STORE_ERR;
	snprintf(prev, sizeof prev, "%s", GENESIS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char msg[160];
		read_event(st, &ev);
		(*count)++;
		if (*first_bad == 0 &&
		    !event_ok(&ev, ev.id == prev_id + 1 ? prev : NULL, msg, sizeof msg)) {
			*first_bad = ev.id;
			if (why != NULL)
				snprintf(why, whylen, "%s", msg);
		}
		snprintf(prev, sizeof prev, "%s", ev.hash ? ev.hash : "");
		prev_id = ev.id;
	}
	if (rc != SQLITE_DONE) {
		store_log_error(s, SQL_ALL_EVENTS);
		store_reset(st);
		return STORE_ERR;
	}
	store_reset(st);
	snprintf(head, 65, "%s", prev_id > 0 ? prev : "");
	return STORE_OK;
}

