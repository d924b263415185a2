/*
 * sched.c - the scheduler's hot path: housekeeping (leases, due jobs,
 * deadlines), claims, and when to wake next. Recording is in
 * sched_record.c, job evaluation in sched_eval.c, config sync in
 * sched_sync.c.
 */
#include "store/sched_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHED_BATCH 500 /* jobs started / deadlines marked per transaction */

static const char SQL_INFLIGHT_OTHERS[] =
	"SELECT id, job_id, service, kind, attempts, lease_owner, lease_expires_at"
	" FROM tasks WHERE state = 'in_flight'";
static const char SQL_RECLAIM[] =
	"UPDATE tasks SET state = 'waiting', next_attempt_at = :now, lease_owner = NULL,"
	" lease_expires_at = NULL, last_error = :err, updated_at = :now"
	" WHERE id = :id AND state = 'in_flight' AND lease_owner IS :owner";
static const char SQL_DUE_JOBS[] =
	"SELECT id, tenant_id FROM jobs WHERE state = 'scheduled' AND due_at <= :now"
	" ORDER BY due_at LIMIT :lim";
static const char SQL_START_JOB[] =
	"UPDATE jobs SET state = 'running', started_at = :now WHERE id = :id"
	" AND state = 'scheduled'";
static const char SQL_MISSED[] =
	"SELECT id, tenant_id FROM jobs WHERE deadline_missed = 0"
	" AND state NOT IN ('succeeded','cancelled') AND deadline_at <= :now LIMIT :lim";
static const char SQL_MARK_MISSED[] =
	"UPDATE jobs SET deadline_missed = 1 WHERE id = :id";

/* Dispatchable: delete needs a running job, suspend a scheduled or running
 * one, restore a cancelled one; a held job runs nothing. */
#define DISPATCHABLE \
	" ((t.kind = 'delete' AND j.state = 'running')" \
	" OR (t.kind = 'suspend' AND j.state IN ('scheduled','running'))" \
	" OR (t.kind = 'restore' AND j.state = 'cancelled'))"

/* CROSS JOIN keeps tasks_due as the outer loop: the scan stops at the
 * first rows due, whatever the backlog. */
static const char SQL_CANDIDATES[] =
	"SELECT t.id, t.job_id, t.service, t.kind, t.phase, t.attempts, t.first_attempt_at,"
	" t.before_total IS NOT NULL, j.tenant_id"
	" FROM tasks t CROSS JOIN jobs j"
	" WHERE t.state IN ('pending','waiting') AND t.next_attempt_at IS NOT NULL"
	" AND t.next_attempt_at <= :now AND j.id = t.job_id AND" DISPATCHABLE
	" ORDER BY t.next_attempt_at LIMIT :lim";
/* One indexed count per service (a GROUP BY would walk the whole index). */
static const char SQL_INFLIGHT_OF[] =
	"SELECT COUNT(*) FROM tasks WHERE service = :svc AND state = 'in_flight'";
static const char SQL_CLAIM[] =
	"UPDATE tasks SET state = 'in_flight', attempts = attempts + 1,"
	" lease_owner = :owner, lease_expires_at = :lease,"
	" first_attempt_at = COALESCE(first_attempt_at, :now), updated_at = :now"
	" WHERE id = :id AND state IN ('pending','waiting')";

static const char SQL_WAKE_WAITING[] =
	"SELECT MIN(t.next_attempt_at) FROM tasks t CROSS JOIN jobs j"
	" WHERE t.service = :svc AND t.state = 'waiting' AND j.id = t.job_id AND" DISPATCHABLE;
static const char SQL_WAKE_DUE_JOB[] =
	"SELECT MIN(due_at) FROM jobs WHERE state = 'scheduled'";
static const char SQL_WAKE_LEASE[] =
	"SELECT MIN(lease_expires_at) FROM tasks WHERE state = 'in_flight'"
	" AND lease_owner IS NOT :owner";
static const char SQL_WAKE_DEADLINE[] =
	"SELECT MIN(deadline_at) FROM jobs WHERE deadline_missed = 0"
	" AND state NOT IN ('succeeded','cancelled')";
static const char SQL_WAKE_BREAKER[] =
	"SELECT MIN(open_until) FROM breakers WHERE state = 'open' AND open_until > :now";

void sched_claimed_free(struct sched_claimed *c, size_t n)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].tenant_id);
		free(c[i].service);
	}
	free(c);
}

/* ---- housekeeping ---- */

struct owner_verdict {
	char *owner;
	int dead;
};

struct reclaim_ctx {
	const char *me;
	sched_owner_dead_fn dead;
	void *dctx;
	int self;
	struct owner_verdict *v;
	size_t n;
};

/* Whether owner's leases may be taken over now (dead() asked once per owner). */
static int owner_dead(struct reclaim_ctx *c, const char *owner)
{
	if (owner == NULL)
		return 1;
	if (strcmp(owner, c->me) == 0)
		return c->self;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].owner, owner) == 0)
			return c->v[i].dead;
	c->v = xrealloc(c->v, (c->n + 1) * sizeof *c->v);
	c->v[c->n].owner = xstrdup(owner);
	c->v[c->n].dead = c->dead ? c->dead(c->dctx, owner) : 0;
	return c->v[c->n++].dead;
}

struct lost {
	int64_t id;
	char job_id[JOBS_ID_LEN + 1];
	char *service, *kind, *owner;
	int attempts;
	const char *why;
};

static void lost_free(struct lost *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].service);
		free(l[i].kind);
		free(l[i].owner);
	}
	free(l);
}

/* The in-flight tasks whose lease may be taken over. */
static int find_lost(struct store *s, struct reclaim_ctx *c, int64_t now, struct lost **out,
		     size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, SQL_INFLIGHT_OTHERS);
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(st, 5);
		int64_t exp = store_col_int(st, 6, 0);
		int mine = owner != NULL && strcmp(owner, c->me) == 0;
		struct lost *l;

		if ((mine && !c->self) || (exp > now && !owner_dead(c, owner)))
			continue;
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		l = &(*out)[(*n)++];
		l->id = sqlite3_column_int64(st, 0);
		snprintf(l->job_id, sizeof l->job_id, "%s", sqlite3_column_text(st, 1));
		l->service = store_col_text(st, 2);
		l->kind = store_col_text(st, 3);
		l->attempts = (int)store_col_int(st, 4, 0);
		l->owner = store_col_text(st, 5);
		l->why = exp <= now ? "lease expired" : "lease owner died";
	}
	store_reset(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, SQL_INFLIGHT_OTHERS);
		return -1;
	}
	return 0;
}

static int reclaim_one(struct store *s, const struct lost *l, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, SQL_RECLAIM);
	struct log_line *line;
	cJSON *d;
	int rc;

	if (st == NULL)
		return -1;
	store_bind_int(st, ":id", l->id);
	store_bind_int(st, ":now", now);
	store_bind_text(st, ":err", l->why);
	store_bind_text(st, ":owner", l->owner);
	if (store_step_done(s, st) < 0)
		return -1;
	if (sqlite3_changes(s->db) == 0)
		return 0;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "kind", l->kind ? l->kind : "delete");
	cJSON_AddNumberToObject(d, "attempt", l->attempts);
	cJSON_AddStringToObject(d, "outcome", "retry");
	cJSON_AddStringToObject(d, "state", "waiting");
	cJSON_AddNullToObject(d, "http_status");
	cJSON_AddStringToObject(d, "error", l->why);
	cJSON_AddStringToObject(d, "lease_owner", l->owner ? l->owner : "");
	rc = store_event_append(s, l->job_id, now, "task.attempt", l->service, d);
	cJSON_Delete(d);
	line = log_start(LOG_WARN, "task.lease.reclaimed");
	log_str(line, "job_id", l->job_id);
	log_str(line, "service", l->service);
	log_int(line, "attempt", l->attempts);
	log_str(line, "error", l->why);
	log_done(line);
	return rc;
}

static int reclaim(struct store *s, struct reclaim_ctx *c, int64_t now, int *count)
{
	struct lost *l = NULL;
	size_t n = 0;
	int rc = find_lost(s, c, now, &l, &n);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = reclaim_one(s, &l[i], now);
	*count = (int)n;
	lost_free(l, n);
	return rc;
}

/* Runs a "SELECT id ... LIMIT :lim" and calls fn per row, after the scan. */
static int each_job(struct store *s, const char *sql, int64_t now,
		    int (*fn)(struct store *, const char *, int64_t), int *count)
{
	sqlite3_stmt *st = store_stmt(s, sql);
	struct sched_idset ids = { 0 };
	int rc;

	*count = 0;
	if (st == NULL)
		return -1;
	store_bind_int(st, ":now", now);
	store_bind_int(st, ":lim", SCHED_BATCH);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		sched_idset_push(&ids, (const char *)sqlite3_column_text(st, 0));
	store_reset(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, sql);
		sched_idset_free(&ids);
		return -1;
	}
	rc = 0;
	for (size_t i = 0; rc == 0 && i < ids.n; i++)
		rc = fn(s, ids.ids[i], now);
	*count = (int)ids.n;
	sched_idset_free(&ids);
	return rc;
}

static int start_job(struct store *s, const char *id, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, SQL_START_JOB);
	struct job_record j;

	if (st == NULL)
		return -1;
	store_bind_text(st, ":id", id);
	store_bind_int(st, ":now", now);
	if (store_step_done(s, st) < 0)
		return -1;
	if (sqlite3_changes(s->db) == 0)
		return 0;
	/* Its delete tasks are created now, not at schedule (DESIGN 8). */
	if (store_materialize_tasks(s, id, now) < 0 ||
	    store_job_changed(s, id, "job.started", NULL, now, &j) < 0)
		return -1;
	sched_log_job(LOG_INFO, "job.started", id, j.tenant_id);
	jobs_job_record_clear(&j);
	return sched_eval_job(s, id, now, NULL);
}

static int mark_missed(struct store *s, const char *id, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, SQL_MARK_MISSED);
	struct job_record j;
	cJSON *d;
	int rc;

	if (st == NULL)
		return -1;
	store_bind_text(st, ":id", id);
	if (store_step_done(s, st) < 0)
		return -1;
	d = cJSON_CreateObject();
	if (store_read_job_by_id(s, id, &j) != STORE_OK) {
		cJSON_Delete(d);
		return -1;
	}
	sched_add_time(d, "deadline_at", j.deadline_at);
	cJSON_AddStringToObject(d, "state", jobs_job_state_name(j.state));
	rc = store_job_changed(s, id, "job.deadline_missed", d, now, NULL);
	cJSON_Delete(d);
	sched_log_job(LOG_WARN, "job.deadline_missed", id, j.tenant_id);
	jobs_job_record_clear(&j);
	return rc;
}

int sched_maintain(struct store *s, const char *owner, sched_owner_dead_fn dead, void *ctx,
		   int reclaim_self, int64_t now, struct sched_maint *m)
{
	struct reclaim_ctx rc = { .me = owner, .dead = dead, .dctx = ctx, .self = reclaim_self };
	int ok;

	memset(m, 0, sizeof *m);
	if (store_begin(s) != STORE_OK)
		return STORE_ERR;
	ok = reclaim(s, &rc, now, &m->reclaimed) == 0 &&
	     each_job(s, SQL_DUE_JOBS, now, start_job, &m->started) == 0 &&
	     each_job(s, SQL_MISSED, now, mark_missed, &m->missed) == 0;
	for (size_t i = 0; i < rc.n; i++)
		free(rc.v[i].owner);
	free(rc.v);
	if (!ok) {
		store_rollback(s);
		memset(m, 0, sizeof *m);
		return STORE_ERR;
	}
	if (store_commit(s) != STORE_OK) {
		memset(m, 0, sizeof *m);
		return STORE_ERR;
	}
	m->more = m->started == SCHED_BATCH || m->missed == SCHED_BATCH;
	return STORE_OK;
}

/* ---- claims ---- */

/* Per service during one claim: free slots and the breaker's answer. */
struct slot {
	int in_flight;
	int allowed;  /* -1: not decided yet */
	int probe;
};

static int load_in_flight(struct store *s, const struct sched_service *svcs, size_t n,
			  struct slot *slots)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = store_stmt(s, SQL_INFLIGHT_OF);
		int rc;

		if (st == NULL || store_bind_text(st, ":svc", svcs[i].name) < 0)
			return -1;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			slots[i].in_flight = sqlite3_column_int(st, 0);
		store_reset(st);
		if (rc != SQLITE_ROW) {
			store_log_error(s, SQL_INFLIGHT_OF);
			return -1;
		}
	}
	return 0;
}

/* How many claims the service may get now: its free slots, or one probe
 * when the breaker is half-open, or none while it is open. */
static int decide_slot(struct store *s, const char *owner, const struct sched_service *svc,
		       struct slot *sl, int64_t now)
{
	struct policy_breaker b;
	char *probe = NULL;
	int free_slots = svc->max_in_flight > 0 ? svc->max_in_flight - sl->in_flight : 1 << 20;

	sl->allowed = 0;
	if (free_slots <= 0)
		return 0;
	if (sched_breaker_load(s, svc->name, &b, &probe) < 0)
		return -1;
	/* A probe whose task is no longer in flight anywhere died with its owner. */
	if (b.state == BREAKER_HALF_OPEN && b.probe_in_flight && sl->in_flight == 0)
		b.probe_in_flight = 0;
	if (b.state == BREAKER_CLOSED) {
		sl->allowed = free_slots;
	} else if (policy_breaker_allow(&b, &svc->breaker, now)) {
		sl->allowed = 1;
		sl->probe = 1;
		if (sched_breaker_save(s, svc->name, &b, owner, now) < 0) {
			free(probe);
			return -1;
		}
		log_msg(LOG_INFO, "breaker.probe", "%s: one probe after the cool-off", svc->name);
	}
	free(probe);
	return 0;
}

/* One candidate row into c (its strings malloc'ed). */
static void read_candidate(sqlite3_stmt *cand, int64_t now, struct sched_claimed *c)
{
	memset(c, 0, sizeof *c);
	c->task_id = sqlite3_column_int64(cand, 0);
	snprintf(c->job_id, sizeof c->job_id, "%s", sqlite3_column_text(cand, 1));
	c->service = store_col_text(cand, 2);
	if (jobs_task_kind_parse((const char *)sqlite3_column_text(cand, 3), &c->kind) < 0)
		c->kind = TASK_KIND_DELETE;
	c->phase = sqlite3_column_int(cand, 4);
	c->attempts = sqlite3_column_int(cand, 5) + 1;
	c->first_attempt_at = store_col_int(cand, 6, now);
	c->has_before = sqlite3_column_int(cand, 7);
	c->tenant_id = store_col_text(cand, 8);
}

/* The due candidates, read to the end before anything is written (the
 * claims change the index the scan walks). */
static int read_candidates(struct store *s, int lim, int64_t now, struct sched_claimed **out,
			   size_t *n)
{
	sqlite3_stmt *cand = store_stmt(s, SQL_CANDIDATES);
	int rc = SQLITE_DONE;

	*out = xcalloc((size_t)lim, sizeof **out);
	*n = 0;
	if (cand == NULL)
		return -1;
	store_bind_int(cand, ":now", now);
	store_bind_int(cand, ":lim", lim);
	while ((int)*n < lim && (rc = sqlite3_step(cand)) == SQLITE_ROW)
		read_candidate(cand, now, &(*out)[(*n)++]);
	if ((int)*n < lim && rc != SQLITE_DONE) {
		store_log_error(s, SQL_CANDIDATES);
		store_reset(cand);
		return -1;
	}
	store_reset(cand);
	return 0;
}

static int claim_row(struct store *s, const char *owner, const struct sched_service *svc,
		     int64_t now, const struct sched_claimed *c)
{
	sqlite3_stmt *st = store_stmt(s, SQL_CLAIM);

	if (st == NULL)
		return -1;
	store_bind_int(st, ":id", c->task_id);
	store_bind_text(st, ":owner", owner);
	store_bind_int(st, ":lease", now + svc->lease_ms);
	store_bind_int(st, ":now", now);
	if (store_step_done(s, st) < 0)
		return -1;
	return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

static const struct sched_service *service_index(const struct sched_service *svcs, size_t n,
						 const char *name, size_t *idx)
{
	for (size_t i = 0; name != NULL && i < n; i++)
		if (strcmp(svcs[i].name, name) == 0 && svcs[i].enabled) {
			*idx = i;
			return &svcs[i];
		}
	return NULL;
}

/* Claims, among the candidates, what the slots allow; the claimed ones are
 * moved to the front of cand and counted in *n. */
static int claim_scan(struct store *s, const char *owner, const struct sched_service *svcs,
		      size_t n_svcs, struct slot *slots, int max, int64_t now,
		      struct sched_claimed *cand, size_t n_cand, size_t *n)
{
	*n = 0;
	for (size_t k = 0; k < n_cand && (int)*n < max; k++) {
		size_t i;
		const struct sched_service *svc = service_index(svcs, n_svcs, cand[k].service, &i);
		int rc;

		if (svc == NULL)
			continue;
		if (slots[i].allowed < 0 && decide_slot(s, owner, svc, &slots[i], now) < 0)
			return -1;
		if (slots[i].allowed == 0)
			continue;
		if ((rc = claim_row(s, owner, svc, now, &cand[k])) < 0)
			return -1;
		if (rc == 0)
			continue;
		cand[k].probe = slots[i].probe;
		slots[i].allowed--;
		slots[i].probe = 0;
		if (k != *n) {
			struct sched_claimed tmp = cand[*n];
			cand[*n] = cand[k];
			cand[k] = tmp;
		}
		(*n)++;
	}
	return 0;
}

int sched_claim_tasks(struct store *s, const char *owner, const struct sched_service *svcs,
		      size_t n_svcs, int max, int64_t now, struct sched_claimed **out,
		      size_t *n)
{
	struct slot *slots;
	struct sched_claimed *cand = NULL;
	size_t n_cand = 0;

	*out = NULL;
	*n = 0;
	if (max <= 0 || n_svcs == 0)
		return STORE_OK;
	slots = xcalloc(n_svcs, sizeof *slots);
	for (size_t i = 0; i < n_svcs; i++)
		slots[i].allowed = -1;
	if (store_begin(s) != STORE_OK)
		goto fail;
	if (load_in_flight(s, svcs, n_svcs, slots) < 0 ||
	    read_candidates(s, max * 4 + 64, now, &cand, &n_cand) < 0 ||
	    claim_scan(s, owner, svcs, n_svcs, slots, max, now, cand, n_cand, n) < 0) {
		store_rollback(s);
		goto fail;
	}
	if (store_commit(s) != STORE_OK)
		goto fail;
	free(slots);
	for (size_t k = *n; k < n_cand; k++) {
		free(cand[k].tenant_id);
		free(cand[k].service);
	}
	*out = cand;
	return STORE_OK;
fail:
	sched_claimed_free(cand, n_cand);
	*n = 0;
	free(slots);
	return STORE_ERR;
}
/* ---- wake-ups ---- */

/* Runs a one-value MIN query; lowers *at when the value is set. */
static int min_into(struct store *s, const char *sql, const char *svc, const char *owner,
		    int64_t now, int64_t *at)
{
	sqlite3_stmt *st = store_stmt(s, sql);
	int rc;

	if (st == NULL)
		return -1;
	if (svc != NULL)
		store_bind_text(st, ":svc", svc);
	if (owner != NULL)
		store_bind_text(st, ":owner", owner);
	if (sqlite3_bind_parameter_index(st, ":now") > 0)
		store_bind_int(st, ":now", now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
	    sqlite3_column_int64(st, 0) < *at)
		*at = sqlite3_column_int64(st, 0);
	store_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_log_error(s, sql);
		return -1;
	}
	return 0;
}

int sched_next_wake(struct store *s, const char *owner, const struct sched_service *svcs,
		    size_t n_svcs, int64_t now, int64_t *at)
{
	*at = INT64_MAX;
	for (size_t i = 0; i < n_svcs; i++)
		if (svcs[i].enabled && min_into(s, SQL_WAKE_WAITING, svcs[i].name, NULL, now, at) < 0)
			return STORE_ERR;
	if (min_into(s, SQL_WAKE_DUE_JOB, NULL, NULL, now, at) < 0 ||
	    min_into(s, SQL_WAKE_LEASE, NULL, owner, now, at) < 0 ||
	    min_into(s, SQL_WAKE_DEADLINE, NULL, NULL, now, at) < 0 ||
	    min_into(s, SQL_WAKE_BREAKER, NULL, NULL, now, at) < 0)
		return STORE_ERR;
	return STORE_OK;
}

int sched_data_version(struct store *s, int64_t *version)
{
	static const char SQL[] = "PRAGMA data_version";
	sqlite3_stmt *st = store_stmt(s, SQL);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int64(st, 0);
	store_reset(st);
	if (rc != SQLITE_ROW) {
		store_log_error(s, SQL);
		return STORE_ERR;
	}
	return STORE_OK;
}

int sched_job_state(struct store *s, const char *job_id, enum job_state *state)
{
	struct job_record j;
	int rc = store_read_job_by_id(s, job_id, &j);

	if (rc == STORE_OK) {
		*state = j.state;
		jobs_job_record_clear(&j);
	}
	return rc;
}
