/*
 * outbox.c - webhook deliveries: fan-out of outbox rows to receiver URLs,
 * leased claims, results, backlog. See store/store.h (webhooks).
 */
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_APPEND[] =
	"INSERT INTO outbox (event_id, type, job_id, created_at, body)"
	" VALUES (:eid, :type, :job_id, :at, :body)";
static const char SQL_MAX_OUTBOX[] = "SELECT COALESCE(MAX(id), 0) FROM outbox";
/* A url's place starts at the newest row: it is owed what comes after. */
static const char SQL_PLACE_INIT[] =
	"INSERT OR IGNORE INTO meta (key, value)"
	" SELECT 'webhook.cursor:' || :url, COALESCE(MAX(id), 0) FROM outbox";
static const char SQL_CURSOR_GET[] =
	"SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'webhook.cursor:' || :url";
static const char SQL_CURSOR_SET[] =
	"INSERT INTO meta (key, value) VALUES ('webhook.cursor:' || :url, :v)"
	" ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char SQL_FAN_OUT[] =
	"INSERT INTO webhook_deliveries (outbox_id, url, attempts, next_attempt_at)"
	" SELECT id, :url, 0, :now FROM outbox WHERE id > :from AND id <= :to"
	" ON CONFLICT DO NOTHING";
static const char SQL_DUE[] =
	"SELECT d.outbox_id, o.event_id, o.type, o.body, d.attempts"
	" FROM webhook_deliveries d JOIN outbox o ON o.id = d.outbox_id"
	" WHERE d.delivered_at IS NULL AND d.url = :url AND d.next_attempt_at <= :now"
	" AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= :now)"
	" ORDER BY d.next_attempt_at, d.outbox_id LIMIT :limit";
static const char SQL_LEASE[] =
	"UPDATE webhook_deliveries SET attempts = attempts + 1, lease_owner = :owner,"
	" lease_expires_at = :exp WHERE outbox_id = :id AND url = :url"
	" AND delivered_at IS NULL AND (lease_expires_at IS NULL OR lease_expires_at <= :now)";
static const char SQL_FINISH[] =
	"UPDATE webhook_deliveries SET"
	" delivered_at = CASE WHEN :ok THEN :now END,"
	" next_attempt_at = CASE WHEN :ok THEN next_attempt_at ELSE :next END,"
	" last_status = :status, last_error = :error,"
	" lease_owner = NULL, lease_expires_at = NULL"
	" WHERE outbox_id = :id AND url = :url AND delivered_at IS NULL";
static const char SQL_RELEASE[] =
	"UPDATE webhook_deliveries SET lease_owner = NULL, lease_expires_at = NULL"
	" WHERE lease_owner = :owner AND delivered_at IS NULL";
static const char SQL_OWNERS[] =
	"SELECT DISTINCT lease_owner FROM webhook_deliveries"
	" WHERE delivered_at IS NULL AND lease_owner IS NOT NULL";
static const char SQL_UNDELIVERED[] =
	"SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL AND url = :url";
static const char SQL_NOT_FANNED[] = "SELECT COUNT(*) FROM outbox WHERE id > :from";
/* The configured urls of a prune, in a table of this connection. */
static const char SQL_URLS_TABLE[] =
	"CREATE TEMP TABLE IF NOT EXISTS prune_urls (url TEXT PRIMARY KEY);"
	"DELETE FROM temp.prune_urls;";
static const char SQL_URLS_ADD[] = "INSERT OR IGNORE INTO temp.prune_urls (url) VALUES (:url)";
/*
 * Prunable rows, oldest first: before the first row written since :before
 * and before the newest row (kept, so that ids are never reused); fanned
 * out to every configured url (temp.prune_urls); and no delivery to a
 * configured url undelivered or delivered since :before.
 */
static const char SQL_PRUNABLE[] =
	"SELECT o.id FROM outbox o"
	" WHERE o.id < COALESCE((SELECT id FROM outbox WHERE created_at >= :before"
	"                        ORDER BY id LIMIT 1), (SELECT MAX(id) FROM outbox))"
	" AND NOT EXISTS (SELECT 1 FROM temp.prune_urls u"
	"   JOIN meta m ON m.key = 'webhook.cursor:' || u.url"
	"   WHERE CAST(m.value AS INTEGER) < o.id)"
	" AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d"
	"   JOIN temp.prune_urls u ON d.url = u.url WHERE d.outbox_id = o.id"
	"   AND (d.delivered_at IS NULL OR d.delivered_at >= :before))"
	" ORDER BY o.id LIMIT :limit";
static const char SQL_PRUNE_DELIVERIES[] =
	"DELETE FROM webhook_deliveries WHERE outbox_id = :id";
static const char SQL_PRUNE_ROW[] = "DELETE FROM outbox WHERE id = :id";
/* The place of a url out of the config, once what it missed is 7 days old. */
static const char SQL_FORGET_PLACES[] =
	"DELETE FROM meta WHERE key > 'webhook.cursor:' AND key < 'webhook.cursor;'"
	" AND substr(key, 16) NOT IN (SELECT url FROM temp.prune_urls)"
	" AND COALESCE((SELECT created_at FROM outbox WHERE id > CAST(meta.value AS INTEGER)"
	"               ORDER BY id LIMIT 1), 0) < :before";

/* One integer from a query whose only parameter (if any) is :url or :from;
 * *found (may be NULL) tells whether there was a row (else *v = 0). */
static int one_int(struct sqlite_store *s, const char *sql, const char *url, int64_t from,
		   int64_t *v, int *found)
{
	sqlite3_stmt *st = sqlite_stmt(s, sql);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	if (sqlite3_bind_parameter_index(st, ":url") > 0)
		sqlite_bind_text(st, ":url", url);
	if (sqlite3_bind_parameter_index(st, ":from") > 0)
		sqlite_bind_int(st, ":from", from);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite_log_error(s, sql);
		sqlite_reset(st);
		return STORE_ERR;
	}
	*v = rc == SQLITE_ROW ? sqlite_col_int(st, 0, 0) : 0;
	if (found != NULL)
		*found = rc == SQLITE_ROW;
	sqlite_reset(st);
	return STORE_OK;
}

/* Runs a write whose only parameter is :url. 0 or -1. */
static int write_url(struct sqlite_store *s, const char *sql, const char *url)
{
	sqlite3_stmt *st = sqlite_stmt(s, sql);

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":url", url);
	return sqlite_step_done(s, st) < 0 ? STORE_ERR : STORE_OK;
}

int sqlite_outbox_append(struct sqlite_store *s, const char *eid, const char *type,
			 const char *job_id, const char *body, int64_t now)
{
	sqlite3_stmt *st;

	if (!store_outbox_wanted(&s->base))
		return 0;
	/* Before the row: a url new to the outbox is owed this row on. */
	for (size_t i = 0; i < s->base.n_webhook_urls; i++)
		if (write_url(s, SQL_PLACE_INIT, s->base.webhook_urls[i]) < 0)
			return -1;
	if ((st = sqlite_stmt(s, SQL_APPEND)) == NULL)
		return -1;
	sqlite_bind_text(st, ":eid", eid);
	sqlite_bind_text(st, ":type", type);
	sqlite_bind_text(st, ":job_id", job_id);
	sqlite_bind_int(st, ":at", now);
	sqlite_bind_text(st, ":body", body);
	return sqlite_step_done(s, st);
}

/* Inside a transaction: fans url's next rows out, up to `to`. */
static int fan_out(struct sqlite_store *s, const char *url, int64_t to, int batch, int64_t now,
		   int *more)
{
	int64_t from;
	sqlite3_stmt *st;

	if (write_url(s, SQL_PLACE_INIT, url) < 0 ||
	    one_int(s, SQL_CURSOR_GET, url, 0, &from, NULL) < 0)
		return STORE_ERR;
	if (from >= to)
		return STORE_OK;
	if (to - from > batch) {
		to = from + batch;
		*more = 1;
	}
	if ((st = sqlite_stmt(s, SQL_FAN_OUT)) == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":url", url);
	sqlite_bind_int(st, ":now", now);
	sqlite_bind_int(st, ":from", from);
	sqlite_bind_int(st, ":to", to);
	if (sqlite_step_done(s, st) < 0 || (st = sqlite_stmt(s, SQL_CURSOR_SET)) == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":url", url);
	sqlite_bind_int(st, ":v", to);
	return sqlite_step_done(s, st) < 0 ? STORE_ERR : STORE_OK;
}

int sqlite_webhook_enqueue(struct store *base, const char *const *urls, size_t n, int batch,
			   int64_t now, int *more)
{
	struct sqlite_store *s = sqlite_of(base);
	int64_t max_id, cur;
	int behind = 0, found;

	*more = 0;
	if (n == 0 || one_int(s, SQL_MAX_OUTBOX, NULL, 0, &max_id, NULL) < 0)
		return n == 0 ? STORE_OK : STORE_ERR;
	for (size_t i = 0; i < n && !behind; i++) {
		if (one_int(s, SQL_CURSOR_GET, urls[i], 0, &cur, &found) < 0)
			return STORE_ERR;
		behind = !found || cur < max_id;
	}
	if (!behind)
		return STORE_OK;
	if (sqlite_begin(s) < 0)
		return STORE_ERR;
	for (size_t i = 0; i < n; i++) {
		if (fan_out(s, urls[i], max_id, batch, now, more) < 0) {
			sqlite_rollback(s);
			return STORE_ERR;
		}
	}
	return sqlite_commit(s);
}

/* Reads up to limit due rows of url into a new array. */
static int read_due(struct sqlite_store *s, const char *url, int64_t now, int limit,
		    struct store_delivery **out, size_t *n)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_DUE);
	struct store_delivery *d;
	int rc = SQLITE_DONE;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":url", url);
	sqlite_bind_int(st, ":now", now);
	sqlite_bind_int(st, ":limit", limit);
	d = xcalloc((size_t)limit, sizeof *d);
	while (*n < (size_t)limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_delivery *x = &d[(*n)++];
		x->outbox_id = sqlite3_column_int64(st, 0);
		x->url = xstrdup(url);
		x->event_id = sqlite_col_text(st, 1);
		x->type = sqlite_col_text(st, 2);
		x->body = sqlite_col_text(st, 3);
		x->attempts = (int)sqlite3_column_int64(st, 4) + 1;
	}
	if (sqlite_walk_end(s, st, *n < (size_t)limit ? rc : SQLITE_DONE) < 0) {
		store_deliveries_free(d, *n);
		*n = 0;
		return STORE_ERR;
	}
	*out = d;
	return STORE_OK;
}

/* Leases one due delivery: 1, 0 when it is no longer due and unleased
 * (another process took it), or -1. */
static int lease_one(struct sqlite_store *s, const struct store_delivery *d, const char *owner,
		     int64_t now, int64_t exp)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_LEASE);
	int n;

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":owner", owner);
	sqlite_bind_int(st, ":exp", exp);
	sqlite_bind_int(st, ":now", now);
	sqlite_bind_int(st, ":id", d->outbox_id);
	sqlite_bind_text(st, ":url", d->url);
	n = sqlite_step_changes(s, st);
	return n < 0 ? -1 : n == 1;
}

/* Leases each of d[0..*n), keeping only those leased (in order). 0 or -1. */
static int lease_all(struct sqlite_store *s, struct store_delivery *d, size_t *n,
		     const char *owner, int64_t now, int64_t exp)
{
	size_t kept = 0;

	for (size_t i = 0; i < *n; i++) {
		int rc = lease_one(s, &d[i], owner, now, exp);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			store_delivery_clear(&d[i]);
			continue;
		}
		d[kept++] = d[i];
	}
	*n = kept;
	return 0;
}

int sqlite_webhook_claim(struct store *base, const char *url, const char *owner, int64_t now,
			 int64_t lease_ms, int limit, struct store_delivery **out, size_t *n)
{
	struct sqlite_store *s = sqlite_of(base);
	size_t k;

	*out = NULL;
	*n = 0;
	if (limit <= 0)
		return STORE_OK;
	/* A read first: the common case (nothing due) takes no write lock. */
	if (read_due(s, url, now, 1, out, &k) < 0)
		return STORE_ERR;
	store_deliveries_free(*out, k);
	*out = NULL;
	if (k == 0)
		return STORE_OK;
	if (sqlite_begin(s) < 0)
		return STORE_ERR;
	if (read_due(s, url, now, limit, out, n) < 0 ||
	    lease_all(s, *out, n, owner, now, now + lease_ms) < 0)
		goto fail;
	if (sqlite_commit(s) < 0)
		goto fail_committed;
	return STORE_OK;
fail:
	sqlite_rollback(s);
fail_committed:
	store_deliveries_free(*out, *n);
	*out = NULL;
	*n = 0;
	return STORE_ERR;
}

int sqlite_webhook_finish(struct store *base, int64_t outbox_id, const char *url, int delivered,
			  int status, const char *error, int64_t next_attempt_at, int64_t now)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_FINISH);

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_int(st, ":ok", delivered ? 1 : 0);
	sqlite_bind_int(st, ":now", now);
	sqlite_bind_int(st, ":next", next_attempt_at);
	sqlite_bind_opt_int(st, ":status", status, 0);
	sqlite_bind_text(st, ":error", error);
	sqlite_bind_int(st, ":id", outbox_id);
	sqlite_bind_text(st, ":url", url);
	return sqlite_step_done(s, st) < 0 ? STORE_ERR : STORE_OK;
}

int sqlite_webhook_release(struct store *base, const char *owner)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_RELEASE);

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":owner", owner);
	return sqlite_step_done(s, st) < 0 ? STORE_ERR : STORE_OK;
}

int sqlite_webhook_lease_owners(struct store *base, char ***owners, size_t *n)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_OWNERS);
	size_t cap = 0;
	int rc;

	*owners = NULL;
	*n = 0;
	if (st == NULL)
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*owners = xreserve(*owners, &cap, *n + 1, sizeof **owners);
		(*owners)[(*n)++] = sqlite_col_text(st, 0);
	}
	if (sqlite_walk_end(s, st, rc) < 0) {
		for (size_t i = 0; i < *n; i++)
			free((*owners)[i]);
		free(*owners);
		*owners = NULL;
		*n = 0;
		return STORE_ERR;
	}
	return STORE_OK;
}

int sqlite_webhook_backlog(struct store *base, const char *const *urls, size_t n,
			   int64_t *count)
{
	struct sqlite_store *s = sqlite_of(base);
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t cur, rows = 0, undelivered;
		int found;
		/* A url without a place is owed nothing yet (no history). */
		if (one_int(s, SQL_CURSOR_GET, urls[i], 0, &cur, &found) < 0 ||
		    (found && one_int(s, SQL_NOT_FANNED, NULL, cur, &rows, NULL) < 0) ||
		    one_int(s, SQL_UNDELIVERED, urls[i], 0, &undelivered, NULL) < 0)
			return STORE_ERR;
		*count += rows + undelivered;
	}
	return STORE_OK;
}

/* Fills temp.prune_urls with urls. Inside the prune's transaction. */
static int stage_urls(struct sqlite_store *s, const char *const *urls, size_t n)
{
	if (sqlite_exec(s, SQL_URLS_TABLE) < 0)
		return STORE_ERR;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = sqlite_stmt(s, SQL_URLS_ADD);

		if (st == NULL)
			return STORE_ERR;
		sqlite_bind_text(st, ":url", urls[i]);
		if (sqlite_step_done(s, st) < 0)
			return STORE_ERR;
	}
	return STORE_OK;
}

/* Reads up to limit prunable outbox ids into ids; *k gets their number. */
static int read_prunable(struct sqlite_store *s, int64_t before, int limit, int64_t *ids, int *k)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_PRUNABLE);
	int rc = SQLITE_DONE;

	*k = 0;
	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_int(st, ":before", before);
	sqlite_bind_int(st, ":limit", limit);
	while (*k < limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ids[(*k)++] = sqlite3_column_int64(st, 0);
	return sqlite_walk_end(s, st, *k < limit ? rc : SQLITE_DONE);
}

/* Deletes outbox row id, its delivery rows first. 0 or -1. */
static int prune_row(struct sqlite_store *s, int64_t id)
{
	static const char *const SQL[] = { SQL_PRUNE_DELIVERIES, SQL_PRUNE_ROW };

	for (size_t i = 0; i < ARRAY_LEN(SQL); i++) {
		sqlite3_stmt *st = sqlite_stmt(s, SQL[i]);

		if (st == NULL)
			return STORE_ERR;
		sqlite_bind_int(st, ":id", id);
		if (sqlite_step_done(s, st) < 0)
			return STORE_ERR;
	}
	return STORE_OK;
}

static int forget_places(struct sqlite_store *s, int64_t before)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_FORGET_PLACES);

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_int(st, ":before", before);
	return sqlite_step_done(s, st) < 0 ? STORE_ERR : STORE_OK;
}

int sqlite_webhook_prune(struct store *base, const char *const *urls, size_t n, int64_t before,
			 int limit, int *more)
{
	struct sqlite_store *s = sqlite_of(base);
	int64_t *ids;
	int k = 0, rc = STORE_ERR;

	*more = 0;
	if (limit <= 0 || sqlite_begin(s) < 0)
		return STORE_ERR;
	ids = xcalloc((size_t)limit, sizeof *ids);
	if (stage_urls(s, urls, n) < 0 || read_prunable(s, before, limit, ids, &k) < 0)
		goto fail;
	for (int i = 0; i < k; i++)
		if (prune_row(s, ids[i]) < 0)
			goto fail;
	if (forget_places(s, before) < 0)
		goto fail;
	if ((rc = sqlite_commit(s)) == STORE_OK)
		*more = k == limit;
	free(ids);
	return rc;
fail:
	sqlite_rollback(s);
	free(ids);
	return STORE_ERR;
}
