/*
 * sched.c - the scheduler's housekeeping on PostgreSQL (leases, due jobs,
 * deadlines), when to wake next, and the wake-ups other hosts send
 * (LISTEN/NOTIFY). Claims are in sched_claim.c, recording in
 * sched_record.c, evaluation in sched_eval.c, config sync in sched_sync.c.
 *
 * Leases are measured on the database's clock: a claim sets
 * lease_expires_at from it (sched_claim.c), and a lease whose owner is not
 * known here is taken back only once that clock has passed it, whatever
 * this host's clock says. A lease whose owner is alive on this host is
 * never taken; one whose owner died here is taken at once.
 */
#include "store/pg/pg_int.h"
#include "jobs/sched_doc.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Jobs started / deadlines marked per transaction: the loop runs such a
 * batch between its turns (its requests wait meanwhile), so a run --once
 * sends its first requests after one batch of job starts, not after all of
 * them (500 a batch: the first request 70 ms after start; 128: 20 ms). */
#define MAINT_BATCH 128
#define SLOW_POLL_MS 10000    /* the token changes this often without a NOTIFY */
#define CHANNEL "tenantdel_due"

static const char SQL_INFLIGHT[] =
	"SELECT id, job_id, service, kind, attempts, lease_owner, lease_expires_at,"
	" first_attempt_at, verify_owed, free_waits,"
	" lease_expires_at IS NULL OR lease_expires_at <= " PG_DB_NOW_MS
	" FROM tasks WHERE state = 'in_flight'";
static const char SQL_RECLAIM[] =
	"UPDATE tasks SET state = $2, next_attempt_at = CASE $2 WHEN 'dead' THEN NULL"
	" ELSE $3::bigint END, lease_owner = NULL, lease_expires_at = NULL, last_error = $4,"
	" updated_at = $3::bigint,"
	" verify_owed = CASE $2 WHEN 'dead' THEN 0 ELSE verify_owed END,"
	" retry_streak = CASE $2 WHEN 'dead' THEN 0 ELSE retry_streak END"
	" WHERE id = $1::bigint AND state = 'in_flight' AND lease_owner IS NOT DISTINCT FROM $5"
	" AND lease_expires_at IS NOT DISTINCT FROM $6::bigint";
/* Jobs another host is starting (locked) are left to it. */
static const char SQL_DUE_JOBS[] =
	"SELECT id FROM jobs WHERE state = 'scheduled' AND due_at <= $1::bigint"
	" AND approval IS DISTINCT FROM 'pending' ORDER BY due_at, id LIMIT $2::bigint"
	" FOR UPDATE SKIP LOCKED";
static const char SQL_START_JOB[] =
	"UPDATE jobs SET state = 'running', started_at = $2::bigint WHERE id = $1"
	" AND state = 'scheduled' AND approval IS DISTINCT FROM 'pending'";
static const char SQL_MISSED[] =
	"SELECT id FROM jobs WHERE deadline_missed = 0 AND state NOT IN ('succeeded','cancelled')"
	" AND deadline_at <= $1::bigint ORDER BY id LIMIT $2::bigint FOR UPDATE SKIP LOCKED";
static const char SQL_MARK_MISSED[] =
	"UPDATE jobs SET deadline_missed = 1 WHERE id = $1 AND deadline_missed = 0"
	" AND state NOT IN ('succeeded','cancelled') AND deadline_at <= $2::bigint";

/* Every source of a wake-up in one round trip ($1 the enabled services as
 * an array, $2 the owner, $3 now): another owner's lease expiry is moved
 * from the database's clock onto the caller's. */
static const char SQL_WAKE[] =
	"SELECT LEAST("
	" (SELECT min(w.at) FROM unnest($1::text[]) AS svc(name), LATERAL"
	"   (SELECT t.next_attempt_at AS at FROM tasks t JOIN jobs j ON j.id = t.job_id"
	"    WHERE t.service = svc.name AND t.state IN ('pending','waiting')"
	"    AND t.next_attempt_at IS NOT NULL AND t.state = 'waiting' AND" PG_DISPATCHABLE
	"    ORDER BY t.next_attempt_at LIMIT 1) w),"
	" (SELECT min(due_at) FROM jobs WHERE state = 'scheduled'"
	"  AND approval IS DISTINCT FROM 'pending'),"
	" (SELECT min(lease_expires_at) - " PG_DB_NOW_MS " + $3::bigint FROM tasks"
	"  WHERE state = 'in_flight' AND lease_owner IS DISTINCT FROM $2),"
	" (SELECT min(deadline_at) FROM jobs WHERE deadline_missed = 0"
	"  AND state NOT IN ('succeeded','cancelled')),"
	" (SELECT min(open_until) FROM breakers WHERE state = 'open'"
	"  AND open_until > $3::bigint))";
static const char SQL_LOCK_SERVICE[] =
	"SELECT pg_advisory_xact_lock($1::integer, hashtext($2))";

int pg_lock_service(struct pg_store *s, const char *service)
{
	struct pg_params p = { 0 };
	PGresult *r;

	pg_p_int(&p, PG_LOCK_SERVICE);
	pg_p_text(&p, service);
	r = pg_run(s, SQL_LOCK_SERVICE, &p);
	sym_PQclear(r);
	return r == NULL ? -1 : 0;
}

/* ---- leases ---- */

/* One maintain call: its inputs, what judge() said of each owner (asked
 * once per owner, kept across tries), and its counts. */
struct maint_ctx {
	struct store_owners owners;
	const struct policy_retry *retry;
	int want_jobs;  /* jobs started at most (the batch, or the caller's room) */
	int64_t now;
	struct sched_maint m;
	int held;
};

/* An in-flight task whose lease may be taken over, as read. */
struct lost {
	int64_t id, lease_until, first_attempt_at;
	char job_id[JOBS_ID_LEN + 1];
	const char *service, *kind, *owner; /* into the result */
	int attempts, free_waits, verify_owed;
	const char *why;
};

static void read_lost(const PGresult *r, int i, int64_t now, enum sched_owner who,
		      struct lost *l)
{
	l->id = pg_int(r, i, 0, 0);
	snprintf(l->job_id, sizeof l->job_id, "%s", sym_PQgetvalue(r, i, 1));
	l->service = pg_str(r, i, 2);
	l->kind = pg_str(r, i, 3);
	l->attempts = (int)pg_int(r, i, 4, 0);
	l->owner = pg_str(r, i, 5);
	l->lease_until = pg_int(r, i, 6, -1);
	l->first_attempt_at = pg_int(r, i, 7, now);
	l->verify_owed = (int)pg_int(r, i, 8, 0);
	l->free_waits = (int)pg_int(r, i, 9, 0);
	l->why = store_lease_why(who);
}

/* Takes lease l back while it is still as read (as sqlite_reclaim_one). */
static int reclaim_one(struct pg_store *s, struct maint_ctx *c, const struct lost *l,
		       struct store_idset *dead_jobs)
{
	struct pg_params p = { 0 };
	char *err, *detail;
	int dead = store_reclaim_verdict(c->retry, l->attempts, l->free_waits, l->verify_owed,
					 l->first_attempt_at, l->why, c->now, &err);
	int n;

	pg_p_int(&p, l->id);
	pg_p_text(&p, dead ? "dead" : "waiting");
	pg_p_int(&p, c->now);
	pg_p_text(&p, err);
	pg_p_text(&p, l->owner);
	pg_p_opt_int(&p, l->lease_until, -1);
	n = pg_run_changes(s, SQL_RECLAIM, &p);
	if (n > 0) {
		c->m.reclaimed++;
		if (dead && (l->kind == NULL || strcmp(l->kind, "delete") == 0))
			store_idset_add(dead_jobs, l->job_id);
		detail = sched_doc_reclaimed(l->kind, l->attempts, dead, err, l->owner);
		n = pg_event_append(&s->base, l->job_id, c->now, "task.attempt", l->service, detail);
		free(detail);
		store_log_reclaimed(l->job_id, l->service, l->attempts, dead, err);
		if (n == 0 && !dead)
			n = pg_notify_due(s);
	}
	free(err);
	return n < 0 ? -1 : 0;
}

/* The leases that may be taken: their jobs locked first (job rows before
 * task rows, as every writer), then each taken while still as read. */
static int reclaim(struct pg_store *s, struct maint_ctx *c)
{
	struct store_idset jobs = { 0 }, dead_jobs = { 0 };
	struct lost *l = NULL;
	size_t n = 0, cap = 0;
	PGresult *r = pg_run(s, SQL_INFLIGHT, NULL);
	int rc = r == NULL ? -1 : 0;

	for (int i = 0; r != NULL && i < sym_PQntuples(r); i++) {
		enum sched_owner who = store_owner_state(&c->owners, pg_str(r, i, 5));
		if (!store_lease_takeable(who, pg_int(r, i, 10, 0) != 0))
			continue;
		l = xreserve(l, &cap, n + 1, sizeof *l);
		read_lost(r, i, c->now, who, &l[n]);
		store_idset_add(&jobs, l[n++].job_id);
	}
	if (rc == 0 && n > 0)
		rc = pg_lock_jobs(s, &jobs);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = reclaim_one(s, c, &l[i], &dead_jobs);
	if (rc == 0)
		rc = pg_eval_jobs(s, &dead_jobs, c->now, NULL);
	sym_PQclear(r);
	free(l);
	store_idset_free(&jobs);
	store_idset_free(&dead_jobs);
	return rc;
}

/* ---- due jobs, deadlines ---- */

/* The ids of a "SELECT id ... LIMIT $2 FOR UPDATE SKIP LOCKED" at now. */
static int due_ids(struct pg_store *s, const char *sql, int64_t now, int lim,
		   struct store_idset *ids)
{
	struct pg_params p = { 0 };

	pg_p_int(&p, now);
	pg_p_int(&p, lim);
	return pg_idset_collect(pg_run(s, sql, &p), ids);
}

/* A guarded UPDATE of job id at now ($1 id, $2 now): rows changed or -1. */
static int update_job(struct pg_store *s, const char *sql, const char *id, int64_t now)
{
	struct pg_params p = { 0 };

	pg_p_text(&p, id);
	pg_p_int(&p, now);
	return pg_run_changes(s, sql, &p);
}

static int start_job(struct pg_store *s, const char *id, int64_t now)
{
	struct job_record j;
	int n = update_job(s, SQL_START_JOB, id, now);

	if (n <= 0)
		return n;
	if (pg_materialize_tasks(s, id, now) < 0 ||
	    pg_job_changed(s, id, "job.started", NULL, now, &j) < 0)
		return -1;
	store_log_job(LOG_INFO, "job.started", id, j.tenant_id);
	jobs_job_record_clear(&j);
	return pg_eval_job(s, id, now, NULL);
}

static int mark_missed(struct pg_store *s, const char *id, int64_t now)
{
	struct job_record j;
	char *detail;
	int rc = update_job(s, SQL_MARK_MISSED, id, now);

	if (rc <= 0)
		return rc;
	if (pg_job_by_id(s, id, 0, &j) != STORE_OK)
		return -1;
	detail = sched_doc_deadline_missed(j.deadline_at, j.state);
	rc = pg_job_changed(s, id, "job.deadline_missed", detail, now, NULL);
	free(detail);
	store_log_job(LOG_WARN, "job.deadline_missed", id, j.tenant_id);
	jobs_job_record_clear(&j);
	return rc;
}

/* Runs fn on each id a due_ids query returns; *count gets how many. */
static int each_job(struct pg_store *s, const char *sql, int64_t now, int lim,
		    int (*fn)(struct pg_store *, const char *, int64_t), int *count)
{
	struct store_idset ids = { 0 };
	int rc = due_ids(s, sql, now, lim, &ids);

	for (size_t i = 0; rc == 0 && i < ids.n; i++)
		rc = fn(s, ids.ids[i], now) < 0 ? -1 : 0;
	*count = (int)ids.n;
	store_idset_free(&ids);
	return rc;
}

static int maintain_tx(struct pg_store *s, void *ctx)
{
	struct maint_ctx *c = ctx;

	pg_hold_fresh(&c->held);
	memset(&c->m, 0, sizeof c->m);
	if (reclaim(s, c) < 0 ||
	    each_job(s, SQL_DUE_JOBS, c->now, c->want_jobs, start_job, &c->m.started) < 0 ||
	    each_job(s, SQL_MISSED, c->now, MAINT_BATCH, mark_missed, &c->m.missed) < 0)
		return STORE_ERR;
	return STORE_OK;
}

int pg_maintain(struct store *base, const char *owner, sched_owner_fn judge, void *ctx,
		int reclaim_self, const struct policy_retry *retry, int want_jobs, int64_t now,
		struct sched_maint *m)
{
	struct maint_ctx c = { .owners = { .me = owner, .judge = judge, .jctx = ctx,
					   .self = reclaim_self },
			       .retry = retry, .want_jobs = want_jobs > MAINT_BATCH ? want_jobs : MAINT_BATCH,
			       .now = now };
	int rc = pg_tx(pg_of(base), maintain_tx, &c);

	pg_hold_end(&c.held, rc == STORE_OK);
	store_owners_free(&c.owners);
	memset(m, 0, sizeof *m);
	if (rc != STORE_OK)
		return STORE_ERR;
	*m = c.m;
	m->more = m->started == c.want_jobs || m->missed == MAINT_BATCH;
	return STORE_OK;
}

/* ---- wake-ups ---- */

/* The names of the enabled services as an array literal ({"a","b"}); the
 * caller frees. Names are config keys: quotes and backslashes escaped. */
char *pg_service_array(const struct sched_service *svcs, size_t n)
{
	struct buf b;
	int first = 1;

	buf_init(&b);
	buf_puts(&b, "{");
	for (size_t i = 0; i < n; i++) {
		if (!svcs[i].enabled)
			continue;
		buf_puts(&b, first ? "\"" : ",\"");
		for (const char *p = svcs[i].name; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_puts(&b, "\\");
			buf_append(&b, p, 1);
		}
		buf_puts(&b, "\"");
		first = 0;
	}
	buf_puts(&b, "}");
	return buf_steal(&b);
}

int pg_next_wake(struct store *base, const char *owner, const struct sched_service *svcs,
		 size_t n_svcs, int64_t now, int64_t *at)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	char *arr = pg_service_array(svcs, n_svcs);
	int rc;

	pg_p_text(&p, arr);
	pg_p_text(&p, owner);
	pg_p_int(&p, now);
	rc = pg_run_int(s, SQL_WAKE, &p, INT64_MAX, at);
	free(arr);
	return rc < 0 ? STORE_ERR : STORE_OK;
}

/* LISTEN on this connection (again after a reconnection: the server
 * forgot it with the old one; what was sent meanwhile counts as seen). */
static int listen_now(struct pg_store *s)
{
	if (s->listening && s->listen_gen == s->generation)
		return 0;
	if (pg_exec(s, "LISTEN " CHANNEL) < 0)
		return -1;
	if (s->listening)
		s->notified++;
	s->listening = 1;
	s->listen_gen = s->generation;
	return 0;
}

/* Reads what the server sent (without waiting) and counts the other
 * connections' NOTIFYs; a broken connection is reconnected. 0 or -1. */
static int drain(struct pg_store *s)
{
	PGnotify *n;

	if (!sym_PQconsumeInput(s->conn)) {
		pg_keep_error(s, NULL, "(reading notifications)");
		if (pg_reconnect(s) < 0 || listen_now(s) < 0)
			return -1;
	}
	while ((n = sym_PQnotifies(s->conn)) != NULL) {
		if (n->be_pid != sym_PQbackendPID(s->conn))
			s->notified++;
		sym_PQfreemem(n);
	}
	return 0;
}

/*
 * The token is the other hosts' NOTIFYs seen (work due now: claims
 * freed, jobs started, phases opened, retries due) plus a tick every
 * SLOW_POLL_MS, for what they write without one (a retry due later, a
 * lease taken): no query, a read of the socket.
 */
int pg_changed_token(struct store *base, uint64_t *token)
{
	struct pg_store *s = pg_of(base);

	/* a connection found broken: one try at it (pg_reconnect), then drain
	 * reconnects only one that breaks now */
	if (s->in_tx || (s->lost && pg_reconnect(s) < 0) || listen_now(s) < 0 || drain(s) < 0)
		return STORE_ERR;
	*token = s->notified + (uint64_t)(clock_mono_ms() / SLOW_POLL_MS);
	return STORE_OK;
}

int pg_wait_fd(struct store *base)
{
	struct pg_store *s = pg_of(base);

	if (s->lost || listen_now(s) < 0)
		return -1; /* none while the connection is broken */
	return sym_PQsocket(s->conn);
}

/* ---- run --once's exit status ---- */

static const char SQL_JOBS_FAILED[] =
	"SELECT count(*) FROM jobs WHERE state = 'failed' AND id = ANY($1::text[])";

/* The failed jobs among ids[0..n), in one statement. */
int pg_jobs_failed(struct store *base, const char *const *ids, size_t n, size_t *failed)
{
	struct pg_params p = { 0 };
	struct buf arr;
	int64_t v;
	int rc;

	buf_init(&arr);
	for (size_t i = 0; i < n; i++)
		pg_array_add(&arr, ids[i]);
	pg_array_end(&arr);
	pg_p_text(&p, arr.data);
	rc = pg_run_int(pg_of(base), SQL_JOBS_FAILED, &p, 0, &v);
	buf_free(&arr);
	if (rc < 0)
		return STORE_ERR;
	*failed = (size_t)v;
	return STORE_OK;
}
