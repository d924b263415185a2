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

static int breaker_load_op(struct store *base, const char *service, struct policy_breaker *b,
			   char **probe_owner)
{
	return sqlite_breaker_load(sqlite_of(base), service, b, probe_owner);
}

static int breaker_save_op(struct store *base, const char *service,
			   const struct policy_breaker *b, const char *probe_owner, int64_t now)
{
	return sqlite_breaker_save(sqlite_of(base), service, b, probe_owner, now);
}

/* The transaction (BEGIN IMMEDIATE) is the lock. */
static const struct store_breaker_ops breaker_ops = {
	.load = breaker_load_op, .save = breaker_save_op,
};

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

static int write_task_op(struct store *base, const char *owner, const struct sched_result *r,
			 int64_t now, int *kept)
{
	return write_task(sqlite_of(base), owner, r, now, kept);
}

static const struct store_record_ops record_ops = {
	.write_task = write_task_op,
	.event_append = sqlite_event_append,
	.subject_discovered = sqlite_subject_discovered,
};

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
		int kept;
		if (store_record_attempt(base, &record_ops, owner, &r[i], now, &counts, &kept) < 0)
			goto fail;
		if (r[i].kind == TASK_KIND_DELETE && r[i].state != TASK_WAITING)
			store_idset_add(&jobs, r[i].job_id);
	}
	if (store_breakers_apply(base, &breaker_ops, r, n, svcs, n_svcs, now) < 0 ||
	    sqlite_metrics_flush(s, &counts) < 0 || sqlite_eval_jobs(s, &jobs, now, &failed) < 0)
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
