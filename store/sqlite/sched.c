/*
 * sched.c - the scheduler's hot path: housekeeping (leases, due jobs,
 * deadlines), claims, and when to wake next. Recording is in
 * sched_record.c, job evaluation in sched_eval.c, config sync in
 * sched_sync.c.
 */
#include "store/sqlite/sched_int.h"
#include "jobs/sched_doc.h"
#include "util/json.h"
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

static const char SQL_INFLIGHT_OTHERS[] =
	"SELECT id, job_id, service, kind, attempts, lease_owner, lease_expires_at,"
	" first_attempt_at, verify_owed, free_waits FROM tasks WHERE state = 'in_flight'";
static const char SQL_RECLAIM[] =
	"UPDATE tasks SET state = :state,"
	" next_attempt_at = CASE :state WHEN 'dead' THEN NULL ELSE :now END, lease_owner = NULL,"
	" lease_expires_at = NULL, last_error = :err, updated_at = :now,"
	" verify_owed = CASE :state WHEN 'dead' THEN 0 ELSE verify_owed END,"
	" retry_streak = CASE :state WHEN 'dead' THEN 0 ELSE retry_streak END"
	" WHERE id = :id AND state = 'in_flight' AND lease_owner IS :owner"
	" AND lease_expires_at IS :until";
static const char SQL_DUE_JOBS[] =
	"SELECT id, tenant_id FROM jobs WHERE state = 'scheduled' AND due_at <= :now"
	" AND approval IS NOT 'pending' ORDER BY due_at LIMIT :lim";
/* Four eyes: a job waiting for its approval never starts, even past due. */
static const char SQL_START_JOB[] =
	"UPDATE jobs SET state = 'running', started_at = :now WHERE id = :id"
	" AND state = 'scheduled' AND approval IS NOT 'pending'";
static const char SQL_MISSED[] =
	"SELECT id, tenant_id FROM jobs WHERE deadline_missed = 0"
	" AND state NOT IN ('succeeded','cancelled') AND deadline_at <= :now LIMIT :lim";
static const char SQL_MARK_MISSED[] =
	"UPDATE jobs SET deadline_missed = 1 WHERE id = :id AND deadline_missed = 0"
	" AND state NOT IN ('succeeded','cancelled') AND deadline_at <= :now";

/* The first waiting task in next_attempt_at order: the repeated IN term
 * lets the planner walk tasks_due_by_service and stop at the first
 * dispatchable row (a MIN walked every waiting task of the service, every
 * cycle: thousands behind an open breaker). */
static const char SQL_WAKE_WAITING[] =
	"SELECT t.next_attempt_at FROM tasks t CROSS JOIN jobs j"
	" WHERE t.service = :svc AND t.state IN ('pending','waiting')"
	" AND t.next_attempt_at IS NOT NULL AND t.state = 'waiting'"
	" AND j.id = t.job_id AND" DISPATCHABLE " ORDER BY t.next_attempt_at LIMIT 1";
static const char SQL_WAKE_DUE_JOB[] =
	"SELECT MIN(due_at) FROM jobs WHERE state = 'scheduled' AND approval IS NOT 'pending'";
static const char SQL_WAKE_LEASE[] =
	"SELECT MIN(lease_expires_at) FROM tasks WHERE state = 'in_flight'"
	" AND lease_owner IS NOT :owner";
static const char SQL_WAKE_DEADLINE[] =
	"SELECT MIN(deadline_at) FROM jobs WHERE deadline_missed = 0"
	" AND state NOT IN ('succeeded','cancelled')";
static const char SQL_WAKE_BREAKER[] =
	"SELECT MIN(open_until) FROM breakers WHERE state = 'open' AND open_until > :now";

/* ---- housekeeping ---- */

static void lost_free(struct sqlite_lost *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].service);
		free(l[i].kind);
		free(l[i].owner);
	}
	free(l);
}

/* One in-flight row into l (its strings malloc'ed). */
static void read_lost(sqlite3_stmt *st, int64_t now, enum sched_owner who,
		      struct sqlite_lost *l)
{
	l->id = sqlite3_column_int64(st, 0);
	snprintf(l->job_id, sizeof l->job_id, "%s", sqlite3_column_text(st, 1));
	l->service = sqlite_col_text(st, 2);
	l->kind = sqlite_col_text(st, 3);
	l->attempts = (int)sqlite_col_int(st, 4, 0);
	l->owner = sqlite_col_text(st, 5);
	l->lease_until = sqlite_col_int(st, 6, -1);
	l->first_attempt_at = sqlite_col_int(st, 7, now);
	l->verify_owed = sqlite3_column_int(st, 8);
	l->free_waits = sqlite3_column_int(st, 9);
	l->why = store_lease_why(who);
}

/* The in-flight tasks whose lease may be taken over. */
static int find_lost(struct sqlite_store *s, struct store_owners *c, int64_t now,
		     struct sqlite_lost **out, size_t *n)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_INFLIGHT_OTHERS);
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(st, 5);
		int64_t exp = sqlite_col_int(st, 6, 0);
		enum sched_owner who = store_owner_state(c, owner);

		if (!store_lease_takeable(who, exp <= now))
			continue;
		*out = xreserve(*out, &cap, *n + 1, sizeof **out);
		read_lost(st, now, who, &(*out)[(*n)++]);
	}
	sqlite_reset(st);
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, SQL_INFLIGHT_OTHERS);
		return -1;
	}
	return 0;
}

/*
 * The task is dead when the calls it counted (less its free waits) reached
 * the limit (so a task whose every call kills its process cannot be
 * retried for ever; a claim killed before its call went out counted none).
 * A task owing only its verification keeps owing it (the call is not
 * repeated).
 */
int sqlite_reclaim_one(struct sqlite_store *s, const struct sqlite_lost *l,
		       const struct policy_retry *retry, int64_t now,
		       struct store_idset *dead_jobs, int *taken)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_RECLAIM);
	char *err, *detail;
	int dead = store_reclaim_verdict(retry, l->attempts, l->free_waits, l->verify_owed,
					 l->first_attempt_at, l->why, now, &err);
	int rc = -1;

	*taken = 0;
	if (st == NULL)
		goto out;
	sqlite_bind_int(st, ":id", l->id);
	sqlite_bind_int(st, ":now", now);
	sqlite_bind_text(st, ":state", dead ? "dead" : "waiting");
	sqlite_bind_text(st, ":err", err);
	sqlite_bind_text(st, ":owner", l->owner);
	sqlite_bind_opt_int(st, ":until", l->lease_until, -1);
	if (sqlite_step_done(s, st) < 0)
		goto out;
	rc = 0;
	if (sqlite3_changes(s->db) == 0)
		goto out; /* recorded, or claimed again, since it was read */
	*taken = 1;
	if (dead && (l->kind == NULL || strcmp(l->kind, "delete") == 0))
		store_idset_add(dead_jobs, l->job_id);
	detail = sched_doc_reclaimed(l->kind, l->attempts, dead, err, l->owner);
	rc = sqlite_event_append(&s->base, l->job_id, now, "task.attempt", l->service, detail);
	free(detail);
	store_log_reclaimed(l->job_id, l->service, l->attempts, dead, err);
out:
	free(err);
	return rc;
}

static int reclaim(struct sqlite_store *s, struct store_owners *c,
		   const struct policy_retry *retry, int64_t now, int *count)
{
	struct store_idset dead_jobs = { 0 };
	struct sqlite_lost *l = NULL;
	size_t n = 0;
	int failed = 0, taken = 0;
	int rc = find_lost(s, c, now, &l, &n);

	*count = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = sqlite_reclaim_one(s, &l[i], retry, now, &dead_jobs, &taken);
		*count += taken;
	}
	if (rc == 0 && dead_jobs.n > 0)
		rc = sqlite_eval_jobs(s, &dead_jobs, now, &failed);
	lost_free(l, n);
	store_idset_free(&dead_jobs);
	return rc;
}

/* Runs a "SELECT id ... LIMIT :lim" and calls fn per row, after the scan. */
static int each_job(struct sqlite_store *s, const char *sql, int64_t now, int lim,
		    int (*fn)(struct sqlite_store *, const char *, int64_t), int *count)
{
	sqlite3_stmt *st = sqlite_stmt(s, sql);
	struct store_idset ids = { 0 };
	int rc;

	*count = 0;
	if (st == NULL)
		return -1;
	sqlite_bind_int(st, ":now", now);
	sqlite_bind_int(st, ":lim", lim);
	if (sqlite_idset_collect(s, st, sql, &ids) < 0)
		return -1;
	rc = 0;
	for (size_t i = 0; rc == 0 && i < ids.n; i++)
		rc = fn(s, ids.ids[i], now);
	*count = (int)ids.n;
	store_idset_free(&ids);
	return rc;
}

/* Runs a guarded UPDATE of job id at now (:id, :now): the rows it changed
 * (0: the job was not as the statement expects), or -1 (logged). */
static int update_job(struct sqlite_store *s, const char *sql, const char *id, int64_t now)
{
	sqlite3_stmt *st = sqlite_stmt(s, sql);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", id);
	sqlite_bind_int(st, ":now", now);
	return sqlite_step_changes(s, st);
}

static int start_job(struct sqlite_store *s, const char *id, int64_t now)
{
	struct job_record j;
	int n = update_job(s, SQL_START_JOB, id, now);

	if (n <= 0)
		return n;
	/* Its delete tasks are created now, not at schedule (DESIGN 8). */
	if (sqlite_materialize_tasks(s, id, now) < 0 ||
	    sqlite_job_changed(s, id, "job.started", NULL, now, &j) < 0)
		return -1;
	store_log_job(LOG_INFO, "job.started", id, j.tenant_id);
	jobs_job_record_clear(&j);
	return sqlite_eval_job(s, id, now, NULL);
}

int sqlite_mark_missed(struct sqlite_store *s, const char *id, int64_t now, int *marked)
{
	struct job_record j;
	char *detail;
	int rc;

	if (marked != NULL)
		*marked = 0;
	rc = update_job(s, SQL_MARK_MISSED, id, now);
	if (rc <= 0)
		return rc; /* 0: marked by another writer, or no longer missed */
	if (sqlite_job_by_id(s, id, &j) != STORE_OK)
		return -1;
	detail = sched_doc_deadline_missed(j.deadline_at, j.state);
	rc = sqlite_job_changed(s, id, "job.deadline_missed", detail, now, NULL);
	free(detail);
	store_log_job(LOG_WARN, "job.deadline_missed", id, j.tenant_id);
	jobs_job_record_clear(&j);
	if (marked != NULL && rc == 0)
		*marked = 1;
	return rc;
}

static int mark_missed(struct sqlite_store *s, const char *id, int64_t now)
{
	return sqlite_mark_missed(s, id, now, NULL);
}

int sqlite_maintain(struct store *base, const char *owner, sched_owner_fn judge, void *ctx,
		    int reclaim_self, const struct policy_retry *retry, int want_jobs,
		    int64_t now, struct sched_maint *m)
{
	int lim = want_jobs > MAINT_BATCH ? want_jobs : MAINT_BATCH;
	struct sqlite_store *s = sqlite_of(base);
	struct store_owners rc = { .me = owner, .judge = judge, .jctx = ctx, .self = reclaim_self };
	int ok;

	memset(m, 0, sizeof *m);
	if (sqlite_begin(s) != STORE_OK)
		return STORE_ERR;
	log_hold(); /* job.started ... only once committed */
	ok = reclaim(s, &rc, retry, now, &m->reclaimed) == 0 &&
	     each_job(s, SQL_DUE_JOBS, now, lim, start_job, &m->started) == 0 &&
	     each_job(s, SQL_MISSED, now, MAINT_BATCH, mark_missed, &m->missed) == 0;
	store_owners_free(&rc);
	if (!ok)
		sqlite_rollback(s);
	if (!ok || sqlite_commit(s) != STORE_OK) {
		log_release(0);
		memset(m, 0, sizeof *m);
		return STORE_ERR;
	}
	log_release(1);
	m->more = m->started == lim || m->missed == MAINT_BATCH;
	return STORE_OK;
}

/* ---- wake-ups ---- */

/* Runs a one-value MIN query; lowers *at when the value is set. */
static int min_into(struct sqlite_store *s, const char *sql, const char *svc, const char *owner,
		    int64_t now, int64_t *at)
{
	sqlite3_stmt *st = sqlite_stmt(s, sql);
	int rc;

	if (st == NULL)
		return -1;
	if (svc != NULL)
		sqlite_bind_text(st, ":svc", svc);
	if (owner != NULL)
		sqlite_bind_text(st, ":owner", owner);
	if (sqlite3_bind_parameter_index(st, ":now") > 0)
		sqlite_bind_int(st, ":now", now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
	    sqlite3_column_int64(st, 0) < *at)
		*at = sqlite3_column_int64(st, 0);
	sqlite_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite_log_error(s, sql);
		return -1;
	}
	return 0;
}

int sqlite_next_wake(struct store *base, const char *owner, const struct sched_service *svcs,
		     size_t n_svcs, int64_t now, int64_t *at)
{
	struct sqlite_store *s = sqlite_of(base);
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

/* SQLite's data_version changes when another connection commits to the
 * file; this handle's own commits leave it as it is (store_changed_token). */
int sqlite_changed_token(struct store *base, uint64_t *token)
{
	struct sqlite_store *s = sqlite_of(base);
	static const char SQL[] = "PRAGMA data_version";
	sqlite3_stmt *st = sqlite_stmt(s, SQL);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*token = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite_reset(st);
	if (rc != SQLITE_ROW) {
		sqlite_log_error(s, SQL);
		return STORE_ERR;
	}
	return STORE_OK;
}


/* ---- run --once's exit status ---- */

static const char SQL_JOBS_FAILED[] =
	"SELECT count(*) FROM jobs WHERE state = 'failed'"
	" AND id IN (SELECT value FROM json_each(:ids))";

/* The failed jobs among ids[0..n), the ids as one JSON array. */
int sqlite_jobs_failed(struct store *base, const char *const *ids, size_t n, size_t *failed)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_JOBS_FAILED);
	char *json = json_print_owned(cJSON_CreateStringArray(ids, (int)n));
	int64_t v;
	int rc;

	if (st != NULL)
		sqlite_bind_text(st, ":ids", json);
	rc = sqlite_step_int(s, st, 0, &v);
	free(json);
	if (rc < 0)
		return STORE_ERR;
	*failed = (size_t)v;
	return STORE_OK;
}
