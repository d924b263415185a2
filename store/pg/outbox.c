/*
 * outbox.c - webhook deliveries on PostgreSQL (as store/sqlite/outbox.c):
 * fan-out of outbox rows to receiver urls, claims any host may make (FOR
 * UPDATE SKIP LOCKED: two hosts never lease the same delivery), results,
 * backlog, pruning.
 *
 * Outbox ids come from a sequence, so a row can commit after a row with
 * a higher id: a place (the last row fanned out to a url) moved past it
 * would skip it. Every writer of outbox rows holds PG_LOCK_OUTBOX shared
 * from before its insert to its commit (pg_outbox_guard); the fan-out takes
 * it exclusively before it reads the newest id, so every lower id is
 * committed (or rolled back) by then.
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_GUARD[] = "SELECT pg_advisory_xact_lock_shared($1::bigint)";
static const char SQL_FENCE[] = "SELECT pg_advisory_xact_lock($1::bigint)";
static const char SQL_MAX_OUTBOX[] = "SELECT COALESCE(max(id), 0) FROM outbox";
static const char SQL_PLACE_INIT[] =
	"INSERT INTO meta (key, value)"
	" SELECT 'webhook.cursor:' || $1, COALESCE(max(id), 0)::text FROM outbox"
	" ON CONFLICT (key) DO NOTHING";
static const char SQL_CURSOR_GET[] =
	"SELECT value::bigint FROM meta WHERE key = 'webhook.cursor:' || $1";
static const char SQL_CURSOR_LOCK[] =
	"SELECT value::bigint FROM meta WHERE key = 'webhook.cursor:' || $1 FOR UPDATE";
static const char SQL_CURSOR_SET[] =
	"UPDATE meta SET value = $2 WHERE key = 'webhook.cursor:' || $1";
static const char SQL_FAN_OUT[] =
	"INSERT INTO webhook_deliveries (outbox_id, url, attempts, next_attempt_at)"
	" SELECT id, $1, 0, $2::bigint FROM outbox WHERE id > $3::bigint AND id <= $4::bigint"
	" ON CONFLICT DO NOTHING";
/* Due, unleased (or lease run out), oldest due first; a row another host
 * is claiming is skipped, so two claims never share one. */
static const char SQL_CLAIM[] =
	"WITH c AS (SELECT outbox_id FROM webhook_deliveries"
	"  WHERE delivered_at IS NULL AND url = $1 AND next_attempt_at <= $2::bigint"
	"  AND (lease_expires_at IS NULL OR lease_expires_at <= $2::bigint)"
	"  ORDER BY next_attempt_at, outbox_id LIMIT $3::bigint FOR UPDATE SKIP LOCKED)"
	" UPDATE webhook_deliveries d SET attempts = d.attempts + 1, lease_owner = $4,"
	" lease_expires_at = $5::bigint FROM c, outbox o"
	" WHERE d.outbox_id = c.outbox_id AND d.url = $1 AND o.id = d.outbox_id"
	" RETURNING d.outbox_id, o.event_id, o.type, o.body, d.attempts, d.next_attempt_at";
static const char SQL_FINISH[] =
	"UPDATE webhook_deliveries SET"
	" delivered_at = CASE WHEN $1::boolean THEN $2::bigint END,"
	" next_attempt_at = CASE WHEN $1::boolean THEN next_attempt_at ELSE $3::bigint END,"
	" last_status = $4::bigint, last_error = $5, lease_owner = NULL, lease_expires_at = NULL"
	" WHERE outbox_id = $6::bigint AND url = $7 AND delivered_at IS NULL";
static const char SQL_RELEASE[] =
	"UPDATE webhook_deliveries SET lease_owner = NULL, lease_expires_at = NULL"
	" WHERE lease_owner = $1 AND delivered_at IS NULL";
static const char SQL_OWNERS[] =
	"SELECT DISTINCT lease_owner FROM webhook_deliveries"
	" WHERE delivered_at IS NULL AND lease_owner IS NOT NULL ORDER BY 1";
static const char SQL_BACKLOG[] =
	"SELECT (SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NULL"
	"  AND url = $1) + COALESCE((SELECT (SELECT count(*) FROM outbox"
	"  WHERE id > m.value::bigint) FROM meta m WHERE m.key = 'webhook.cursor:' || $1), 0)";
/* As store/sqlite/outbox.c's SQL_PRUNABLE, the configured urls as $3. */
static const char SQL_PRUNABLE[] =
	"SELECT o.id FROM outbox o"
	" WHERE o.id < COALESCE((SELECT id FROM outbox WHERE created_at >= $1::bigint"
	"                        ORDER BY id LIMIT 1), (SELECT max(id) FROM outbox))"
	" AND NOT EXISTS (SELECT 1 FROM unnest($3::text[]) u(url)"
	"   JOIN meta m ON m.key = 'webhook.cursor:' || u.url WHERE m.value::bigint < o.id)"
	" AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d"
	"   WHERE d.url = ANY($3::text[]) AND d.outbox_id = o.id"
	"   AND (d.delivered_at IS NULL OR d.delivered_at >= $1::bigint))"
	" ORDER BY o.id LIMIT $2::bigint FOR UPDATE SKIP LOCKED";
static const char SQL_PRUNE[] =
	"WITH d AS (DELETE FROM webhook_deliveries WHERE outbox_id = ANY($1::bigint[]))"
	" DELETE FROM outbox WHERE id = ANY($1::bigint[])";
static const char SQL_FORGET_PLACES[] =
	"DELETE FROM meta WHERE key LIKE 'webhook.cursor:%'"
	" AND substr(key, 16) <> ALL($2::text[])"
	" AND COALESCE((SELECT created_at FROM outbox WHERE id > meta.value::bigint"
	"               ORDER BY id LIMIT 1), 0) < $1::bigint";

int pg_outbox_guard(struct pg_store *s)
{
	struct pg_params p = { 0 };
	PGresult *r;

	pg_p_int(&p, PG_LOCK_OUTBOX);
	r = pg_run(s, SQL_GUARD, &p);
	sym_PQclear(r);
	return r == NULL ? -1 : 0;
}

/* urls as a text[] literal; the caller frees. */
static char *url_array(const char *const *urls, size_t n)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "{");
	for (size_t i = 0; i < n; i++) {
		buf_puts(&b, i ? ",\"" : "\"");
		for (const char *p = urls[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_puts(&b, "\\");
			buf_append(&b, p, 1);
		}
		buf_puts(&b, "\"");
	}
	buf_puts(&b, "}");
	return buf_steal(&b);
}

/* One integer of sql with text $1 (may be NULL: no parameter); *found
 * whether there was a row. 0 or -1. */
static int one_int(struct pg_store *s, const char *sql, const char *arg, int64_t *v, int *found)
{
	struct pg_params p = { 0 };
	PGresult *r;

	if (arg != NULL)
		pg_p_text(&p, arg);
	if ((r = pg_run(s, sql, arg ? &p : NULL)) == NULL)
		return -1;
	*v = sym_PQntuples(r) > 0 ? pg_int(r, 0, 0, 0) : 0;
	if (found != NULL)
		*found = sym_PQntuples(r) > 0;
	sym_PQclear(r);
	return 0;
}

struct enqueue_ctx {
	const char *const *urls;
	size_t n;
	int batch;
	int64_t now;
	int more;
};

/* Fans url's next rows out, up to `to`, its place locked. */
static int fan_out(struct pg_store *s, const char *url, int64_t to, struct enqueue_ctx *c)
{
	struct pg_params p = { 0 };
	char v[24];
	int64_t from;

	pg_p_text(&p, url);
	if (pg_run_changes(s, SQL_PLACE_INIT, &p) < 0 || one_int(s, SQL_CURSOR_LOCK, url, &from, NULL) < 0)
		return -1;
	if (from >= to)
		return 0;
	if (to - from > c->batch) {
		to = from + c->batch;
		c->more = 1;
	}
	pg_p_int(&p, c->now);
	pg_p_int(&p, from);
	pg_p_int(&p, to);
	if (pg_run_changes(s, SQL_FAN_OUT, &p) < 0)
		return -1;
	p.n = 0;
	snprintf(v, sizeof v, "%lld", (long long)to);
	pg_p_text(&p, url);
	pg_p_text(&p, v);
	return pg_run_changes(s, SQL_CURSOR_SET, &p) < 0 ? -1 : 0;
}

static int enqueue_tx(struct pg_store *s, void *ctx)
{
	struct enqueue_ctx *c = ctx;
	struct pg_params p = { 0 };
	int64_t max_id, fence;

	c->more = 0;
	pg_p_int(&p, PG_LOCK_OUTBOX);
	if (pg_run_int(s, SQL_FENCE, &p, 0, &fence) < 0 ||
	    one_int(s, SQL_MAX_OUTBOX, NULL, &max_id, NULL) < 0)
		return STORE_ERR;
	for (size_t i = 0; i < c->n; i++)
		if (fan_out(s, c->urls[i], max_id, c) < 0)
			return STORE_ERR;
	return STORE_OK;
}

int pg_webhook_enqueue(struct store *base, const char *const *urls, size_t n, int batch,
		       int64_t now, int *more)
{
	struct pg_store *s = pg_of(base);
	struct enqueue_ctx c = { .urls = urls, .n = n, .batch = batch, .now = now };
	int64_t max_id, cur;
	int behind = 0, found, rc;

	*more = 0;
	if (n == 0)
		return STORE_OK;
	/* A read first: when every place is at the newest row, no write. */
	if (one_int(s, SQL_MAX_OUTBOX, NULL, &max_id, NULL) < 0)
		return STORE_ERR;
	for (size_t i = 0; i < n && !behind; i++) {
		if (one_int(s, SQL_CURSOR_GET, urls[i], &cur, &found) < 0)
			return STORE_ERR;
		behind = !found || cur < max_id;
	}
	if (!behind)
		return STORE_OK;
	rc = pg_tx(s, enqueue_tx, &c);
	*more = rc == STORE_OK && c.more;
	return rc == STORE_OK ? STORE_OK : STORE_ERR;
}

/* One statement: the rows are leased as they are read, none twice. */
int pg_webhook_claim(struct store *base, const char *url, const char *owner, int64_t now,
		     int64_t lease_ms, int limit, struct store_delivery **out, size_t *n)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	PGresult *r;

	*out = NULL;
	*n = 0;
	if (limit <= 0)
		return STORE_OK;
	pg_p_text(&p, url);
	pg_p_int(&p, now);
	pg_p_int(&p, limit);
	pg_p_text(&p, owner);
	pg_p_int(&p, now + lease_ms);
	if ((r = pg_run(s, SQL_CLAIM, &p)) == NULL)
		return STORE_ERR;
	*n = (size_t)sym_PQntuples(r);
	*out = xcalloc(*n + 1, sizeof **out);
	for (size_t i = 0; i < *n; i++) {
		struct store_delivery *d = &(*out)[i];
		d->outbox_id = pg_int(r, (int)i, 0, 0);
		d->url = xstrdup(url);
		d->event_id = pg_text(r, (int)i, 1);
		d->type = pg_text(r, (int)i, 2);
		d->body = pg_text(r, (int)i, 3);
		d->attempts = (int)pg_int(r, (int)i, 4, 0);
	}
	/* oldest due first (RETURNING has no order) */
	for (size_t i = 1; i < *n; i++)
		for (size_t j = i; j > 0 && (*out)[j - 1].outbox_id > (*out)[j].outbox_id; j--) {
			struct store_delivery t = (*out)[j];
			(*out)[j] = (*out)[j - 1];
			(*out)[j - 1] = t;
		}
	sym_PQclear(r);
	return STORE_OK;
}

int pg_webhook_finish(struct store *base, int64_t outbox_id, const char *url, int delivered,
		      int status, const char *error, int64_t next_attempt_at, int64_t now)
{
	struct pg_params p = { 0 };

	pg_p_text(&p, delivered ? "true" : "false");
	pg_p_int(&p, now);
	pg_p_int(&p, next_attempt_at);
	pg_p_opt_int(&p, status, 0);
	pg_p_text(&p, error);
	pg_p_int(&p, outbox_id);
	pg_p_text(&p, url);
	return pg_run_changes(pg_of(base), SQL_FINISH, &p) < 0 ? STORE_ERR : STORE_OK;
}

int pg_webhook_release(struct store *base, const char *owner)
{
	struct pg_params p = { 0 };

	pg_p_text(&p, owner);
	return pg_run_changes(pg_of(base), SQL_RELEASE, &p) < 0 ? STORE_ERR : STORE_OK;
}

int pg_webhook_lease_owners(struct store *base, char ***owners, size_t *n)
{
	PGresult *r = pg_run(pg_of(base), SQL_OWNERS, NULL);

	*owners = NULL;
	*n = 0;
	if (r == NULL)
		return STORE_ERR;
	*n = (size_t)sym_PQntuples(r);
	*owners = xcalloc(*n + 1, sizeof **owners);
	for (size_t i = 0; i < *n; i++)
		(*owners)[i] = pg_text(r, (int)i, 0);
	sym_PQclear(r);
	return STORE_OK;
}

int pg_webhook_backlog(struct store *base, const char *const *urls, size_t n, int64_t *count)
{
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t v;
		if (one_int(pg_of(base), SQL_BACKLOG, urls[i], &v, NULL) < 0)
			return STORE_ERR;
		*count += v;
	}
	return STORE_OK;
}

struct prune_ctx {
	const char *urls; /* text[] literal */
	int64_t before;
	int limit, k;
};

static int prune_tx(struct pg_store *s, void *ctx)
{
	struct prune_ctx *c = ctx;
	struct pg_params p = { 0 };
	struct buf ids;
	PGresult *r;
	int rc;

	pg_p_int(&p, c->before);
	pg_p_int(&p, c->limit);
	pg_p_text(&p, c->urls);
	if ((r = pg_run(s, SQL_PRUNABLE, &p)) == NULL)
		return STORE_ERR;
	c->k = sym_PQntuples(r);
	buf_init(&ids);
	buf_puts(&ids, "{");
	for (int i = 0; i < c->k; i++)
		buf_printf(&ids, "%s%s", i ? "," : "", sym_PQgetvalue(r, i, 0));
	buf_puts(&ids, "}");
	sym_PQclear(r);
	p.n = 0;
	pg_p_text(&p, ids.data);
	rc = c->k == 0 ? 0 : pg_run_changes(s, SQL_PRUNE, &p);
	buf_free(&ids);
	p.n = 0;
	pg_p_int(&p, c->before);
	pg_p_text(&p, c->urls);
	if (rc < 0 || pg_run_changes(s, SQL_FORGET_PLACES, &p) < 0)
		return STORE_ERR;
	return STORE_OK;
}

int pg_webhook_prune(struct store *base, const char *const *urls, size_t n, int64_t before,
		     int limit, int *more)
{
	struct prune_ctx c = { .before = before, .limit = limit };
	int rc;

	*more = 0;
	if (limit <= 0)
		return STORE_ERR;
	c.urls = url_array(urls, n);
	rc = pg_tx(pg_of(base), prune_tx, &c);
	free((char *)c.urls);
	if (rc != STORE_OK)
		return STORE_ERR;
	*more = c.k == limit;
	return STORE_OK;
}
