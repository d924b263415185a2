/*
 * sched_claim.c - claims on PostgreSQL: due tasks of dispatchable jobs
 * become in flight under this owner's lease, as each service's slots and
 * breaker allow across every host; and the count of a call about to go
 * out (pg_count_sent).
 *
 * One transaction per service, under that service's advisory lock: the
 * in-flight count, the breaker and the claim are read and written by one
 * host at a time, so that max_in_flight and the half-open probe hold
 * across hosts (a claimer never holds two services' locks, so claimers
 * cannot deadlock). The rows are taken with FOR UPDATE SKIP LOCKED: a
 * task another transaction is recording or reclaiming is left for later.
 * The lease's expiry is set on the database's clock.
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Which of the services ($1) have due dispatchable work at $2: one read
 * before any lock, so that idle services cost nothing more. */
static const char SQL_BUSY_SERVICES[] =
	"SELECT svc.name FROM unnest($1::text[]) AS svc(name) WHERE EXISTS"
	" (SELECT 1 FROM tasks t JOIN jobs j ON j.id = t.job_id"
	"  WHERE t.service = svc.name AND t.state IN ('pending','waiting')"
	"  AND t.next_attempt_at IS NOT NULL AND t.next_attempt_at <= $2::bigint"
	"  AND" PG_DISPATCHABLE ")";
static const char SQL_INFLIGHT_OF[] =
	"SELECT count(*) FROM tasks WHERE service = $1 AND state = 'in_flight'";
/* $3 the most to take, $4 the owner, $5 the lease in ms, $6 whether a
 * delete task previews first, $7 the latest due time taken. A claim whose call goes first (no preview
 * before it) counts it. RETURNING sees the row after: attempts less the
 * count is what was sent before this claim. */
static const char SQL_CLAIM[] =
	"WITH c AS (SELECT t.id FROM tasks t JOIN jobs j ON j.id = t.job_id"
	"  WHERE t.service = $1 AND t.state IN ('pending','waiting')"
	"  AND t.next_attempt_at IS NOT NULL AND t.next_attempt_at <= $7::bigint"
	"  AND" PG_DISPATCHABLE
	"  ORDER BY t.next_attempt_at, t.id LIMIT $3::bigint FOR UPDATE OF t SKIP LOCKED)"
	" UPDATE tasks t SET state = 'in_flight', attempts = t.attempts + CASE WHEN"
	"  t.verify_owed = 0 AND (t.kind <> 'delete' OR t.before_total IS NOT NULL"
	"  OR NOT $6::boolean) THEN 1 ELSE 0 END,"
	" lease_owner = $4, lease_expires_at = " PG_DB_NOW_MS " + $5::bigint,"
	" first_attempt_at = COALESCE(t.first_attempt_at, $2::bigint), updated_at = $2::bigint"
	" FROM c, jobs j WHERE t.id = c.id AND j.id = t.job_id"
	" RETURNING t.id, t.job_id, t.service, t.kind, t.phase, t.attempts, t.first_attempt_at,"
	" t.before_total IS NOT NULL, j.tenant_id, t.verify_owed, t.retry_streak, t.free_waits,"
	" t.lease_expires_at, (t.verify_owed = 0 AND (t.kind <> 'delete'"
	"  OR t.before_total IS NOT NULL OR NOT $6::boolean))::int, t.next_attempt_at";
static const char SQL_COUNT_SENT[] =
	"UPDATE tasks SET attempts = attempts + 1, updated_at = $3::bigint"
	" FROM unnest($1::bigint[], $2::bigint[]) AS l(id, until)"
	" WHERE tasks.id = l.id AND tasks.state = 'in_flight' AND tasks.lease_owner = $4"
	" AND tasks.lease_expires_at = l.until RETURNING tasks.id";

/* One service's claim: its inputs, and the claims appended to v. */
struct claim_ctx {
	const char *owner;
	const struct sched_service *svc;
	int64_t now;
	int64_t due_by; /* the tasks due by this (now, or earlier: defer_ms) */
	int room;
	struct sched_claimed *v; /* room for room more after *n */
	size_t n, first;         /* first: where this service's claims start */
	int held;
};

/*
 * How many the service may get now: its free slots, one probe when the
 * breaker is half-open (*probe set), none while it is open. -1 on error.
 */
static int allowed_slots(struct pg_store *s, const struct sched_service *svc, int in_flight,
			 int64_t now, int *probe)
{
	struct policy_breaker b;
	int free_slots = svc->max_in_flight > 0 ? svc->max_in_flight - in_flight : 1 << 20;

	*probe = 0;
	if (free_slots <= 0)
		return 0;
	if (pg_breaker_load(s, svc->name, &b, NULL) < 0)
		return -1;
	/* A probe whose task is no longer in flight anywhere died with its owner. */
	if (b.state == BREAKER_HALF_OPEN && b.probe_in_flight && in_flight == 0)
		b.probe_in_flight = 0;
	if (b.state == BREAKER_CLOSED)
		return free_slots;
	if (!policy_breaker_allow(&b, &svc->breaker, now))
		return 0;
	*probe = 1;
	return 1;
}

/* The half-open breaker's probe was taken: recorded as in flight. */
static int take_probe(struct pg_store *s, const struct claim_ctx *c)
{
	struct policy_breaker b;

	if (pg_breaker_load(s, c->svc->name, &b, NULL) < 0)
		return -1;
	if (b.state == BREAKER_HALF_OPEN && b.probe_in_flight)
		b.probe_in_flight = 0; /* its task is gone (allowed_slots) */
	if (!policy_breaker_allow(&b, &c->svc->breaker, c->now))
		return 0;
	log_msg(LOG_INFO, "breaker.probe", "%s: one probe after the cool-off", c->svc->name);
	return pg_breaker_save(s, c->svc->name, &b, c->owner, c->now);
}

static void read_claim(const PGresult *r, int i, int64_t now, struct sched_claimed *c)
{
	memset(c, 0, sizeof *c);
	c->task_id = pg_int(r, i, 0, 0);
	snprintf(c->job_id, sizeof c->job_id, "%s", sym_PQgetvalue(r, i, 1));
	c->service = pg_text(r, i, 2);
	if (jobs_task_kind_parse(sym_PQgetvalue(r, i, 3), &c->kind) < 0)
		c->kind = TASK_KIND_DELETE;
	c->phase = (int)pg_int(r, i, 4, 0);
	c->counted = (int)pg_int(r, i, 13, 0);
	c->attempts = (int)pg_int(r, i, 5, 0) - c->counted;
	c->first_attempt_at = pg_int(r, i, 6, now);
	c->has_before = (int)pg_int(r, i, 7, 0);
	c->tenant_id = pg_text(r, i, 8);
	c->verify_owed = (int)pg_int(r, i, 9, 0);
	c->retry_streak = (int)pg_int(r, i, 10, 0);
	c->free_waits = (int)pg_int(r, i, 11, 0);
	c->lease_until = pg_int(r, i, 12, 0);
}

/* RETURNING has no order: the claims oldest due first, as selected. */
static void sort_due(const PGresult *r, int *order, int n)
{
	for (int i = 1; i < n; i++) {
		int k = order[i], j = i;
		int64_t due = pg_int(r, k, 14, 0), id = pg_int(r, k, 0, 0);

		while (j > 0 && (pg_int(r, order[j - 1], 14, 0) > due ||
				 (pg_int(r, order[j - 1], 14, 0) == due &&
				  pg_int(r, order[j - 1], 0, 0) > id))) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = k;
	}
}

static int take_rows(struct pg_store *s, struct claim_ctx *c, int lim)
{
	struct pg_params p = { 0 };
	const struct sched_service *svc = c->svc;
	PGresult *r;
	int *order, n;

	pg_p_text(&p, svc->name);
	pg_p_int(&p, c->now);
	pg_p_int(&p, lim);
	pg_p_text(&p, c->owner);
	pg_p_int(&p, svc->lease_ms);
	pg_p_text(&p, svc->preview_first ? "true" : "false");
	pg_p_int(&p, c->due_by);
	if ((r = pg_run(s, SQL_CLAIM, &p)) == NULL)
		return -1;
	n = sym_PQntuples(r);
	order = xcalloc((size_t)n + 1, sizeof *order);
	for (int i = 0; i < n; i++)
		order[i] = i;
	sort_due(r, order, n);
	for (int i = 0; i < n; i++)
		read_claim(r, order[i], c->now, &c->v[c->n++]);
	free(order);
	sym_PQclear(r);
	return n;
}

/* Frees the strings of claims read by a try that rolled back. */
static void forget(struct sched_claimed *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].tenant_id);
		free(v[i].service);
	}
}

static int claim_tx(struct pg_store *s, void *ctx)
{
	struct claim_ctx *c = ctx;
	int64_t in_flight;
	int allowed, probe, got;
	struct pg_params p = { 0 };

	forget(c->v + c->first, c->n - c->first);
	c->n = c->first;
	pg_p_text(&p, c->svc->name);
	if (pg_lock_service(s, c->svc->name) < 0 ||
	    pg_run_int(s, SQL_INFLIGHT_OF, &p, 0, &in_flight) < 0)
		return STORE_ERR;
	if ((allowed = allowed_slots(s, c->svc, (int)in_flight, c->now, &probe)) < 0)
		return STORE_ERR;
	if (allowed == 0)
		return STORE_OK;
	if ((got = take_rows(s, c, allowed < c->room ? allowed : c->room)) < 0)
		return STORE_ERR;
	if (probe && got > 0) {
		c->v[c->first].probe = 1;
		if (take_probe(s, c) < 0)
			return STORE_ERR;
	}
	return STORE_OK;
}

/* The enabled services with due work, as indexes into svcs in turn from
 * first; *k receives how many. */
static int busy_services(struct pg_store *s, const struct sched_service *svcs, size_t n_svcs,
			 size_t first, int64_t now, size_t *idx, size_t *k)
{
	struct pg_params p = { 0 };
	char *arr = pg_service_array(svcs, n_svcs);
	PGresult *r;

	*k = 0;
	pg_p_text(&p, arr);
	pg_p_int(&p, now);
	r = pg_run(s, SQL_BUSY_SERVICES, &p);
	free(arr);
	if (r == NULL)
		return -1;
	for (size_t j = 0; j < n_svcs; j++) {
		size_t i = (first + j) % n_svcs;
		for (int row = 0; svcs[i].enabled && row < sym_PQntuples(r); row++)
			if (strcmp(sym_PQgetvalue(r, row, 0), svcs[i].name) == 0) {
				idx[(*k)++] = i;
				break;
			}
	}
	sym_PQclear(r);
	return 0;
}

int pg_claim_tasks(struct store *base, const char *owner, const struct sched_service *svcs,
		   size_t n_svcs, size_t first, int max, int64_t now,
		   struct sched_claimed **out, size_t *n)
{
	struct pg_store *s = pg_of(base);
	struct claim_ctx c = { .owner = owner, .now = now, .room = max };
	size_t *idx, k;
	int rc = STORE_OK;

	*out = NULL;
	*n = 0;
	if (max <= 0 || n_svcs == 0)
		return STORE_OK;
	idx = xcalloc(n_svcs, sizeof *idx);
	c.v = xcalloc((size_t)max, sizeof *c.v);
	if (busy_services(s, svcs, n_svcs, first, now, idx, &k) < 0)
		rc = STORE_ERR;
	/* a service that defers takes its tasks due that long first, and the
	 * rest in a second pass with the room the others left */
	for (int late = 0; late < 2; late++)
		for (size_t j = 0; rc == STORE_OK && j < k && c.room > 0; j++) {
			c.svc = &svcs[idx[j]];
			if (late && c.svc->defer_ms <= 0)
				continue;
			c.due_by = late ? now : now - c.svc->defer_ms;
			c.first = c.n;
			rc = pg_tx(s, claim_tx, &c);
			c.room = max - (int)c.n;
		}
	free(idx);
	/* what earlier services' transactions claimed is committed: it is
	 * returned even when a later one failed (the caller sends it) */
	if (rc != STORE_OK && c.n == 0) {
		free(c.v);
		return STORE_ERR;
	}
	*out = c.v;
	*n = c.n;
	return STORE_OK;
}

/* ---- calls going out ---- */

/* The leases' ids or expiries as a bigint[] literal; the caller frees. */
static char *lease_array(const struct sched_lease *l, size_t n, int until)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "{");
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%lld", i ? "," : "",
			   (long long)(until ? l[i].until : l[i].task_id));
	buf_puts(&b, "}");
	return buf_steal(&b);
}

/* One count: its inputs and what it found. */
struct sent_ctx {
	const char *owner;
	const struct sched_lease *leases;
	size_t n;
	int64_t now;
	int *held;
};

static int count_sent_tx(struct pg_store *s, void *ctx)
{
	struct sent_ctx *c = ctx;
	struct pg_params p = { 0 };
	char *ids = lease_array(c->leases, c->n, 0), *untils = lease_array(c->leases, c->n, 1);
	PGresult *r;

	pg_p_text(&p, ids);
	pg_p_text(&p, untils);
	pg_p_int(&p, c->now);
	pg_p_text(&p, c->owner);
	r = pg_run(s, SQL_COUNT_SENT, &p);
	free(ids);
	free(untils);
	if (r == NULL)
		return STORE_ERR;
	for (size_t i = 0; i < c->n; i++) {
		c->held[i] = 0;
		for (int row = 0; row < sym_PQntuples(r); row++)
			if (pg_int(r, row, 0, 0) == c->leases[i].task_id)
				c->held[i] = 1;
	}
	sym_PQclear(r);
	return STORE_OK;
}

/* In pg_tx: a connection lost before the commit is retried, one lost
 * during it is an error (counted or not: never counted twice). */
int pg_count_sent(struct store *base, const char *owner, const struct sched_lease *leases,
		  size_t n, int64_t now, int *held)
{
	struct sent_ctx c = { .owner = owner, .leases = leases, .n = n, .now = now, .held = held };

	if (n == 0)
		return STORE_OK;
	return pg_tx(pg_of(base), count_sent_tx, &c) == STORE_OK ? STORE_OK : STORE_ERR;
}
