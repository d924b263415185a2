/*
 * sched_record.c - recording finished attempts on PostgreSQL (group
 * commit) and the per-service circuit breakers shared by every host.
 *
 * One transaction per batch, its locks always in the same order, so that
 * two hosts recording at once wait for each other instead of deadlocking:
 * the rows of the batch's jobs (in id order), then its task rows, then
 * each breaker under its service's advisory lock (in name order), then
 * the counters (in key order), then the event chain (pg_tx). The job rows
 * first: two hosts finishing a job's last two tasks are serialized, and
 * the second evaluates the job after the first committed (it succeeds).
 */
#include "store/pg/pg_int.h"
#include "jobs/sched_doc.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_TASK_COUNTS[] =
	"SELECT deleted_counts, total_deleted FROM tasks WHERE id = $1::bigint";
/* Only while the attempt still holds its lease (owner and expiry). */
static const char SQL_RECORD_TASK[] =
	"UPDATE tasks SET state = $4, attempts = GREATEST(0, attempts - $5::bigint),"
	" free_waits = free_waits + $6::bigint, next_attempt_at = $7::bigint,"
	" lease_owner = NULL, lease_expires_at = NULL, http_status = $8::bigint,"
	" deleted_counts = COALESCE($9, deleted_counts),"
	" total_deleted = COALESCE($10::bigint, total_deleted),"
	" preview_before = COALESCE($11, preview_before),"
	" before_total = COALESCE($12::bigint, before_total),"
	" verified_after = COALESCE($13::bigint, verified_after), duration_ms = $14::bigint,"
	" last_error = $15, verify_owed = $16::bigint, retry_streak = $17::bigint,"
	" updated_at = $18::bigint"
	" WHERE id = $1::bigint AND state = 'in_flight' AND lease_owner = $2"
	" AND lease_expires_at = $3::bigint";
static const char SQL_BREAKER_GET[] =
	"SELECT state, failures, open_until, cooloff_ms, probe_owner FROM breakers"
	" WHERE service = $1";
static const char SQL_BREAKER_PUT[] =
	"INSERT INTO breakers (service, state, failures, open_until, cooloff_ms, probe_owner,"
	" updated_at) VALUES ($1, $2, $3::bigint, $4::bigint, $5::bigint, $6, $7::bigint)"
	" ON CONFLICT (service) DO UPDATE SET state = excluded.state,"
	" failures = excluded.failures, open_until = excluded.open_until,"
	" cooloff_ms = excluded.cooloff_ms, probe_owner = excluded.probe_owner,"
	" updated_at = excluded.updated_at";

/* ---- breakers ---- */

int pg_breaker_load(struct pg_store *s, const char *service, struct policy_breaker *b,
		    char **probe_owner)
{
	struct pg_params p = { 0 };
	const char *state;
	PGresult *r;

	memset(b, 0, sizeof *b);
	if (probe_owner != NULL)
		*probe_owner = NULL;
	pg_p_text(&p, service);
	if ((r = pg_run(s, SQL_BREAKER_GET, &p)) == NULL)
		return -1;
	if (sym_PQntuples(r) > 0) {
		state = pg_str(r, 0, 0);
		if (state != NULL && strcmp(state, "open") == 0)
			b->state = BREAKER_OPEN;
		else if (state != NULL && strcmp(state, "half_open") == 0)
			b->state = BREAKER_HALF_OPEN;
		b->failures = (int)pg_int(r, 0, 1, 0);
		b->open_until_ms = pg_int(r, 0, 2, 0);
		b->cooloff_ms = pg_int(r, 0, 3, 0);
		b->probe_in_flight = !sym_PQgetisnull(r, 0, 4);
		if (probe_owner != NULL)
			*probe_owner = pg_text(r, 0, 4);
	}
	sym_PQclear(r);
	return 0;
}

int pg_breaker_save(struct pg_store *s, const char *service, const struct policy_breaker *b,
		    const char *probe_owner, int64_t now)
{
	struct pg_params p = { 0 };

	pg_p_text(&p, service);
	pg_p_text(&p, policy_breaker_state_name(b->state));
	pg_p_int(&p, b->failures);
	pg_p_opt_int(&p, b->state == BREAKER_OPEN ? b->open_until_ms : 0, 0);
	pg_p_int(&p, b->cooloff_ms);
	pg_p_text(&p, b->probe_in_flight ? probe_owner : NULL);
	pg_p_int(&p, now);
	return pg_run_changes(s, SQL_BREAKER_PUT, &p) < 0 ? -1 : 0;
}

static int breaker_load_op(struct store *base, const char *service, struct policy_breaker *b,
			   char **probe_owner)
{
	return pg_breaker_load(pg_of(base), service, b, probe_owner);
}

static int breaker_save_op(struct store *base, const char *service,
			   const struct policy_breaker *b, const char *probe_owner, int64_t now)
{
	return pg_breaker_save(pg_of(base), service, b, probe_owner, now);
}

static int breaker_lock_op(struct store *base, const char *service)
{
	return pg_lock_service(pg_of(base), service);
}

/* Read without a lock first (the common case, a success on a closed
 * breaker, writes nothing), else again under the service's lock. */
static const struct store_breaker_ops breaker_ops = {
	.load = breaker_load_op, .save = breaker_save_op, .lock = breaker_lock_op,
};

/* ---- attempts ---- */

/* The cumulative counts and total after this call; *counts caller-freed. */
static int cumulative(struct pg_store *s, const struct sched_result *r, char **counts,
		      int64_t *total)
{
	struct pg_params p = { 0 };
	PGresult *q;
	int64_t old_total = -1;

	*counts = NULL;
	*total = r->total;
	if (r->counts_json == NULL && r->total < 0)
		return 0; /* nothing to add up */
	pg_p_int(&p, r->task_id);
	if ((q = pg_run(s, SQL_TASK_COUNTS, &p)) == NULL)
		return -1;
	if (sym_PQntuples(q) > 0)
		old_total = pg_int(q, 0, 1, -1);
	*counts = sched_doc_merge_counts(sym_PQntuples(q) > 0 ? pg_str(q, 0, 0) : NULL,
					 r->counts_json);
	if (old_total > 0 && r->total >= 0)
		*total = old_total + r->total;
	sym_PQclear(q);
	return 0;
}

static int write_task(struct pg_store *s, const char *owner, const struct sched_result *r,
		      int64_t now, int *kept)
{
	struct pg_params p = { 0 };
	char *counts = NULL;
	int64_t total = -1;
	int n;

	if (cumulative(s, r, &counts, &total) < 0)
		return -1;
	pg_p_int(&p, r->task_id);
	pg_p_text(&p, owner);
	pg_p_int(&p, r->lease_until);
	pg_p_text(&p, jobs_task_state_name(r->state));
	pg_p_int(&p, r->unsent);
	pg_p_int(&p, r->free_wait);
	pg_p_opt_int(&p, r->state == TASK_WAITING ? r->next_attempt_at : 0, 0);
	pg_p_opt_int(&p, r->http_status, 0);
	pg_p_text(&p, counts);
	pg_p_opt_int(&p, total, -1);
	pg_p_text(&p, r->preview_json);
	pg_p_opt_int(&p, r->before_total, -1);
	pg_p_opt_int(&p, r->verified_after, -1);
	pg_p_opt_int(&p, r->duration_ms, -1);
	pg_p_text(&p, r->error);
	pg_p_int(&p, r->state == TASK_WAITING && r->verify_owed);
	pg_p_int(&p, r->retry_streak);
	pg_p_int(&p, now);
	n = pg_run_changes(s, SQL_RECORD_TASK, &p);
	free(counts);
	*kept = n > 0;
	return n < 0 ? -1 : 0;
}

/* One batch: its inputs, what it counts, what it found. */
struct record_ctx {
	const char *owner;
	const struct sched_result *r;
	size_t n;
	const struct sched_service *svcs;
	size_t n_svcs;
	int64_t now;
	int failed, held;
};

static int write_task_op(struct store *base, const char *owner, const struct sched_result *r,
			 int64_t now, int *kept)
{
	return write_task(pg_of(base), owner, r, now, kept);
}

static const struct store_record_ops record_ops = {
	.write_task = write_task_op,
	.event_append = pg_event_append,
	.subject_discovered = pg_subject_discovered,
};

static int record_one(struct pg_store *s, const struct record_ctx *c,
		      const struct sched_result *r, struct jobs_counts *counts)
{
	int kept;

	if (store_record_attempt(&s->base, &record_ops, c->owner, r, c->now, counts, &kept) < 0)
		return -1;
	/* a call that never went out waits, due now: any host may take it */
	if (kept && r->state == TASK_WAITING && r->next_attempt_at <= c->now)
		return pg_notify_due(s);
	return 0;
}

static int record_tx(struct pg_store *s, void *ctx)
{
	struct record_ctx *c = ctx;
	struct store_idset all = { 0 }, eval = { 0 };
	struct jobs_counts counts = { 0 };
	int rc;

	pg_hold_fresh(&c->held);
	c->failed = 0;
	for (size_t i = 0; i < c->n; i++) {
		store_idset_add(&all, c->r[i].job_id);
		if (c->r[i].kind == TASK_KIND_DELETE && c->r[i].state != TASK_WAITING)
			store_idset_add(&eval, c->r[i].job_id);
	}
	rc = pg_lock_jobs(s, &all);
	for (size_t i = 0; rc == 0 && i < c->n; i++)
		rc = record_one(s, c, &c->r[i], &counts);
	if (rc == 0)
		rc = store_breakers_apply(&s->base, &breaker_ops, c->r, c->n, c->svcs, c->n_svcs,
					  c->now);
	if (rc == 0)
		rc = pg_metrics_flush(s, &counts);
	if (rc == 0)
		rc = pg_eval_jobs(s, &eval, c->now, &c->failed);
	store_idset_free(&all);
	store_idset_free(&eval);
	jobs_counts_free(&counts);
	return rc == 0 ? STORE_OK : STORE_ERR;
}

int pg_record_results(struct store *base, const char *owner, const struct sched_result *r,
		      size_t n, const struct sched_service *svcs, size_t n_svcs, int64_t now,
		      int *failed_jobs)
{
	struct record_ctx c = { .owner = owner, .r = r, .n = n, .svcs = svcs, .n_svcs = n_svcs,
				.now = now };
	int rc;

	if (failed_jobs != NULL)
		*failed_jobs = 0;
	if (n == 0)
		return STORE_OK;
	rc = pg_tx(pg_of(base), record_tx, &c);
	pg_hold_end(&c.held, rc == STORE_OK);
	if (rc != STORE_OK)
		return STORE_ERR;
	if (failed_jobs != NULL)
		*failed_jobs = c.failed;
	return STORE_OK;
}
