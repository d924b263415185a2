/*
 * sched_record.c - recording finished attempts (group commit) and the
 * per-service circuit breakers shared through the breakers table.
 */
#include "store/sqlite/sched_int.h"
#include "jobs/sched_doc.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_TASK_COUNTS[] =
	"SELECT deleted_counts, total_deleted FROM tasks WHERE id = :id";
/* Only while the attempt still holds its lease (owner and expiry: the same
 * owner may have claimed the task again since): a task reclaimed, claimed
 * again or skipped meanwhile keeps its newer state. attempts counts the calls sent
 * (a call counted that never went out is taken back); free_waits, those
 * of them that use up no retry budget. */
static const char SQL_RECORD_TASK[] =
	"UPDATE tasks SET state = :state, attempts = MAX(0, attempts - :unsent),"
	" free_waits = free_waits + :free,"
	" next_attempt_at = :next, lease_owner = NULL, lease_expires_at = NULL,"
	" http_status = :status, deleted_counts = COALESCE(:counts, deleted_counts),"
	" total_deleted = COALESCE(:total, total_deleted),"
	" preview_before = COALESCE(:pb, preview_before),"
	" before_total = COALESCE(:bt, before_total),"
	" verified_after = COALESCE(:va, verified_after), duration_ms = :dur,"
	" last_error = :err, verify_owed = :vo, retry_streak = :streak, updated_at = :now"
	" WHERE id = :id AND state = 'in_flight' AND lease_owner = :owner"
	" AND lease_expires_at = :until";
static const char SQL_BREAKER_GET[] =
	"SELECT state, failures, open_until, cooloff_ms, probe_owner FROM breakers"
	" WHERE service = :svc";
static const char SQL_BREAKER_PUT[] =
	"INSERT INTO breakers (service, state, failures, open_until, cooloff_ms, probe_owner,"
	" updated_at) VALUES (:svc, :state, :failures, :until, :cooloff, :probe, :now)"
	" ON CONFLICT (service) DO UPDATE SET state = excluded.state,"
	" failures = excluded.failures, open_until = excluded.open_until,"
	" cooloff_ms = excluded.cooloff_ms, probe_owner = excluded.probe_owner,"
	" updated_at = excluded.updated_at";
/* ---- breakers ---- */

int sqlite_breaker_load(struct sqlite_store *s, const char *service, struct policy_breaker *b,
			char **probe_owner)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_BREAKER_GET);
	int rc;

	memset(b, 0, sizeof *b);
	if (probe_owner != NULL)
		*probe_owner = NULL;
	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":svc", service);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 0);
		if (state != NULL && strcmp(state, "open") == 0)
			b->state = BREAKER_OPEN;
		else if (state != NULL && strcmp(state, "half_open") == 0)
			b->state = BREAKER_HALF_OPEN;
		b->failures = (int)sqlite_col_int(st, 1, 0);
		b->open_until_ms = sqlite_col_int(st, 2, 0);
		b->cooloff_ms = sqlite_col_int(st, 3, 0);
		b->probe_in_flight = sqlite3_column_type(st, 4) != SQLITE_NULL;
		if (probe_owner != NULL)
			*probe_owner = sqlite_col_text(st, 4);
	} else if (rc != SQLITE_DONE) {
		sqlite_log_error(s, SQL_BREAKER_GET);
	}
	sqlite_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int sqlite_breaker_save(struct sqlite_store *s, const char *service,
			const struct policy_breaker *b, const char *probe_owner, int64_t now)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_BREAKER_PUT);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":svc", service);
	sqlite_bind_text(st, ":state", policy_breaker_state_name(b->state));
	sqlite_bind_int(st, ":failures", b->failures);
	sqlite_bind_opt_int(st, ":until", b->state == BREAKER_OPEN ? b->open_until_ms : 0, 0);
	sqlite_bind_int(st, ":cooloff", b->cooloff_ms);
	sqlite_bind_text(st, ":probe", b->probe_in_flight ? probe_owner : NULL);
	sqlite_bind_int(st, ":now", now);
	return sqlite_step_done(s, st);
}

static const struct sched_service *find_service(const struct sched_service *svcs, size_t n,
						const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(svcs[i].name, name) == 0)
			return &svcs[i];
	return NULL;
}

static void log_breaker(enum log_level level, const char *event, const char *service,
			const struct policy_breaker *b)
{
	struct log_line *l = log_start(level, event);

	log_str(l, "service", service);
	log_int(l, "failures", b->failures);
	if (b->state == BREAKER_OPEN)
		log_int(l, "cooloff_ms", b->cooloff_ms);
	log_done_held(l);
}

/* Applies one attempt's verdict to the service's breaker. */
static int breaker_apply(struct sqlite_store *s, const struct sched_result *r,
			 const struct sched_service *svc, int64_t now)
{
	struct policy_breaker b;
	char *probe = NULL;
	enum breaker_state before;
	int rc = 0;

	if (r->breaker == POLICY_BREAKER_SKIP || svc == NULL)
		return 0;
	if (sqlite_breaker_load(s, r->service, &b, &probe) < 0)
		return -1;
	before = b.state;
	if (r->breaker == POLICY_BREAKER_SUCCESS) {
		if (before == BREAKER_CLOSED && b.failures == 0)
			goto out; /* nothing to write: the common case */
		policy_breaker_success(&b);
	} else if (r->breaker == POLICY_BREAKER_FAILURE) {
		policy_breaker_failure(&b, &svc->breaker, now);
	} else {
		if (!r->probe)
			goto out; /* only the probe holds a slot to free */
		policy_breaker_neutral(&b);
	}
	rc = sqlite_breaker_save(s, r->service, &b, probe, now);
	if (b.state == BREAKER_OPEN && before != BREAKER_OPEN)
		log_breaker(LOG_WARN, "breaker.opened", r->service, &b);
	else if (b.state == BREAKER_CLOSED && before != BREAKER_CLOSED)
		log_breaker(LOG_INFO, "breaker.closed", r->service, &b);
out:
	free(probe);
	return rc;
}

/* ---- attempts ---- */

/* The cumulative counts and total after this call; *counts caller-freed. */
static int cumulative(struct sqlite_store *s, const struct sched_result *r, char **counts,
		      int64_t *total)
{
	sqlite3_stmt *st;
	char *old = NULL;
	int64_t old_total = -1;
	int rc;

	*counts = NULL;
	*total = r->total;
	if (r->counts_json == NULL && r->total < 0)
		return 0; /* nothing to add up */
	if ((st = sqlite_stmt(s, SQL_TASK_COUNTS)) == NULL)
		return -1;
	sqlite_bind_int(st, ":id", r->task_id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		old = sqlite_col_text(st, 0);
		old_total = sqlite_col_int(st, 1, -1);
	}
	sqlite_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite_log_error(s, SQL_TASK_COUNTS);
		return -1;
	}
	*counts = sched_doc_merge_counts(old, r->counts_json);
	if (old_total > 0 && r->total >= 0)
		*total = old_total + r->total;
	free(old);
	return 0;
}

static int write_task(struct sqlite_store *s, const char *owner, const struct sched_result *r,
		      int64_t now, int *kept)
{
	sqlite3_stmt *st;
	char *counts = NULL;
	int64_t total = -1;
	int rc = -1;

	if (cumulative(s, r, &counts, &total) < 0 || (st = sqlite_stmt(s, SQL_RECORD_TASK)) == NULL)
		goto out;
	sqlite_bind_int(st, ":id", r->task_id);
	sqlite_bind_text(st, ":owner", owner);
	sqlite_bind_int(st, ":until", r->lease_until);
	sqlite_bind_text(st, ":state", jobs_task_state_name(r->state));
	sqlite_bind_int(st, ":unsent", r->unsent);
	sqlite_bind_int(st, ":free", r->free_wait);
	sqlite_bind_opt_int(st, ":next", r->state == TASK_WAITING ? r->next_attempt_at : 0, 0);
	sqlite_bind_opt_int(st, ":status", r->http_status, 0);
	sqlite_bind_text(st, ":counts", counts);
	sqlite_bind_opt_int(st, ":total", total, -1);
	sqlite_bind_text(st, ":pb", r->preview_json);
	sqlite_bind_opt_int(st, ":bt", r->before_total, -1);
	sqlite_bind_opt_int(st, ":va", r->verified_after, -1);
	sqlite_bind_opt_int(st, ":dur", r->duration_ms, -1);
	sqlite_bind_text(st, ":err", r->error);
	sqlite_bind_int(st, ":vo", r->state == TASK_WAITING && r->verify_owed);
	sqlite_bind_int(st, ":streak", r->retry_streak);
	sqlite_bind_int(st, ":now", now);
	if (sqlite_step_done(s, st) < 0)
		goto out;
	*kept = sqlite3_changes(s->db) > 0;
	rc = 0;
out:
	free(counts);
	return rc;
}

/* The task.attempt detail of r; kept: the task row took it. Caller frees. */
static char *attempt_detail(const struct sched_result *r, int kept)
{
	struct sched_doc_attempt a = {
		.kind = r->kind, .attempt = r->attempt, .outcome = r->outcome,
		.state = kept ? jobs_task_state_name(r->state) : "lease_lost",
		.http_status = r->http_status, .duration_ms = r->duration_ms,
		.counts_json = r->counts_json, .total = r->total, .error = r->error,
		.free_wait = r->free_wait, .waiting = r->state == TASK_WAITING,
		.next_attempt_at = r->next_attempt_at,
	};

	return sched_doc_attempt(&a);
}

/* task.preview (before the purge) and task.verify (after it) events. */
static int preview_events(struct sqlite_store *s, const struct sched_result *r, int64_t now)
{
	char *d;
	int rc = 0;

	if (r->preview_json != NULL || r->preview_error != NULL) {
		d = sched_doc_preview(r->preview_json, r->before_total, r->preview_error);
		rc = sqlite_event_append(s, r->job_id, now, "task.preview", r->service, d);
		free(d);
	}
	if (rc == 0 && r->verified_after >= 0) {
		d = sched_doc_verify(r->verified_after);
		rc = sqlite_event_append(s, r->job_id, now, "task.verify", r->service, d);
		free(d);
	}
	return rc;
}

static int record_one(struct sqlite_store *s, const char *owner, const struct sched_result *r,
		      const struct sched_service *svcs, size_t n_svcs, int64_t now,
		      struct jobs_counts *counts)
{
	char *d;
	int kept = 0, rc;

	if (write_task(s, owner, r, now, &kept) < 0 || preview_events(s, r, now) < 0)
		return -1;
	if (kept && r->discovery && r->state == TASK_SUCCEEDED &&
	    sqlite_subject_discovered(s, r, now) < 0)
		return -1;
	if (!kept)
		log_msg(LOG_WARN, "task.lease.lost",
			"task %lld of job %s (%s) was taken over while in flight",
			(long long)r->task_id, r->job_id, r->service);
	d = attempt_detail(r, kept);
	rc = sqlite_event_append(s, r->job_id, now, "task.attempt", r->service, d);
	free(d);
	if (rc < 0)
		return -1;
	jobs_counts_add_attempt(counts, r->service, r->outcome, r->duration_ms, r->total);
	return breaker_apply(s, r, find_service(svcs, n_svcs, r->service), now);
}

int sqlite_record_results(struct store *base, const char *owner, const struct sched_result *r,
			  size_t n, const struct sched_service *svcs, size_t n_svcs,
			  int64_t now, int *failed_jobs)
{
	struct sqlite_store *s = sqlite_of(base);
	struct store_idset jobs = { 0 };
	struct jobs_counts counts = { 0 };
	int failed = 0;

	if (failed_jobs != NULL)
		*failed_jobs = 0;
	if (n == 0)
		return STORE_OK;
	if (sqlite_begin(s) != STORE_OK)
		return STORE_ERR;
	log_hold(); /* job.succeeded ... only once committed */
	for (size_t i = 0; i < n; i++) {
		if (record_one(s, owner, &r[i], svcs, n_svcs, now, &counts) < 0)
			goto fail;
		if (r[i].kind == TASK_KIND_DELETE && r[i].state != TASK_WAITING)
			store_idset_add(&jobs, r[i].job_id);
	}
	if (sqlite_metrics_flush(s, &counts) < 0 || sqlite_eval_jobs(s, &jobs, now, &failed) < 0)
		goto fail;
	store_idset_free(&jobs);
	jobs_counts_free(&counts);
	if (sqlite_commit(s) != STORE_OK) {
		log_release(0);
		return STORE_ERR;
	}
	log_release(1);
	if (failed_jobs != NULL)
		*failed_jobs = failed;
	return STORE_OK;
fail:
	store_idset_free(&jobs);
	jobs_counts_free(&counts);
	sqlite_rollback(s);
	log_release(0);
	return STORE_ERR;
}
