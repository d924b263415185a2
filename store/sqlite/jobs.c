/*
 * jobs.c - scheduling jobs and reading them back: sqlite_schedule (a feed
 * of chunks),
 * sqlite_job_get, sqlite_job_tasks. The operator transitions are in
 * store/sqlite/transitions.c, listings and the audit trail in store/sqlite/query.c.
 */
#include "store/sqlite/sqlite_int.h"
#include "jobs/timefmt.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Bulk scheduling writes one row a job: the job refers to the shared
 * snapshot of the services in force (service_sets) and its delete tasks
 * are created when it starts (sqlite_materialize_tasks).
 *
 * The jobs of a chunk go SQLITE_ROWS_A_STATEMENT to an INSERT, and their
 * job.scheduled events as many to an INSERT (sqlite_events_append): a
 * statement opens the table and each of its indexes and finds its place in
 * each, which a statement of 16 rows does once for all of them (a
 * statement a job cost twice the CPU of the whole schedule; a batch staged
 * in a TEMP table and copied by one INSERT ... SELECT paid a statement a
 * job to stage it and a join to read back which were created). ON
 * CONFLICT DO NOTHING: the partial unique index jobs_one_active_purge
 * turns a second active purge of one tenant (already stored, or earlier in
 * this batch) into "no row inserted"; when a statement inserts fewer rows
 * than it was given, each of its jobs is looked up, and the tenant's
 * active job stands for one that was not stored.
 */
#define JOB_ROW "(?,?,?,'purge','scheduled',?,?,?,?,?,?,?)"
#define JOB_ROW_PARAMS 10
#define JOB_ROWS4 JOB_ROW "," JOB_ROW "," JOB_ROW "," JOB_ROW
#define JOB_COLS                                                                            \
	"INSERT INTO jobs (id, tenant_id, tenant_name, kind, state, requested_by, reason,"  \
	" created_at, due_at, deadline_at, service_set_id, approval) VALUES "
static const char SQL_INSERT_JOB[] = JOB_COLS JOB_ROW " ON CONFLICT DO NOTHING";
static const char SQL_INSERT_JOBS[] =
	JOB_COLS JOB_ROWS4 "," JOB_ROWS4 "," JOB_ROWS4 "," JOB_ROWS4 " ON CONFLICT DO NOTHING";
_Static_assert(SQLITE_ROWS_A_STATEMENT == 16, "SQL_INSERT_JOBS holds 16 rows");

static const char SQL_COUNT_CREATED[] =
	"INSERT INTO job_states (state, n) VALUES ('scheduled', :n)"
	" ON CONFLICT (state) DO UPDATE SET n = n + excluded.n";

static const char SQL_JOB_STORED[] =
	"SELECT 1 FROM jobs WHERE id = :id AND tenant_id = :tenant AND created_at = :now";

static const char SQL_ACTIVE_PURGE[] =
	"SELECT id FROM jobs WHERE tenant_id = :tenant AND kind = 'purge'"
	" AND state NOT IN ('succeeded','cancelled')";

/* The suspend tasks a job gets (due now: they run inside the window), one
 * template row each, staged once for the whole feed. */
static const char SQL_STAGE_SUSPENDS[] =
	"CREATE TEMP TABLE IF NOT EXISTS schedule_suspends (seq INTEGER PRIMARY KEY,"
	" service TEXT, phase INTEGER); DELETE FROM temp.schedule_suspends;";

static const char SQL_STAGE_SUSPEND[] =
	"INSERT INTO temp.schedule_suspends (service, phase) VALUES (:service, :phase)";

static const char SQL_INSERT_SUSPENDS[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" SELECT :job, service, 'suspend', phase, 'pending', :now, :now"
	" FROM temp.schedule_suspends ORDER BY seq";

static const char SQL_JOB_TASKS[] =
	"SELECT " STORE_TASK_COLS " FROM tasks WHERE job_id = :job"
	" ORDER BY CASE kind WHEN 'suspend' THEN 0 WHEN 'delete' THEN 1 ELSE 2 END,"
	" phase, service";

/* What a batch shares: its services, their snapshot, the time, and its
 * documents (jobs_bulk_docs: rendered once, filled per job). */
struct batch {
	const struct store_service *svcs;
	size_t n_svcs;
	int64_t set_id;
	int64_t now;
	int suspends; /* some service has a suspend_url */
	int64_t n_created;
	struct jobs_bulk_docs *docs;
	char (*ids)[JOBS_ID_LEN + 1]; /* what the chunk's jobs became */
	int *created;
	size_t cap;
	struct buf details; /* the job.scheduled details of a statement's jobs */
};

/* The batch's snapshot row (shared with every batch of the same config)
 * and one template row per suspend task a job gets. */
static int stage_services(struct sqlite_store *s, struct batch *b)
{
	const char **names = xcalloc(b->n_svcs ? b->n_svcs : 1, sizeof *names);
	int rc;

	for (size_t i = 0; i < b->n_svcs; i++)
		names[i] = b->svcs[i].name;
	b->docs = jobs_bulk_docs_new(names, b->n_svcs);
	free(names);
	rc = sqlite_service_set_id(s, b->svcs, b->n_svcs, &b->set_id);
	for (size_t i = 0; i < b->n_svcs; i++)
		b->suspends |= b->svcs[i].has_suspend;
	if (rc < 0 || !b->suspends)
		return rc;
	if (sqlite_exec(s, SQL_STAGE_SUSPENDS) < 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < b->n_svcs; i++) {
		sqlite3_stmt *st;

		if (!b->svcs[i].has_suspend)
			continue;
		if ((st = sqlite_stmt(s, SQL_STAGE_SUSPEND)) == NULL)
			return -1;
		sqlite_bind_text(st, ":service", b->svcs[i].name);
		sqlite_bind_int(st, ":phase", b->svcs[i].phase);
		rc = sqlite_step_done(s, st);
	}
	return rc;
}

/* Inserts jobs[0..n) (n is 1 or SQLITE_ROWS_A_STATEMENT) with new ids;
 * the rows inserted, or -1. */
static int insert_jobs(struct sqlite_store *s, const struct batch *b,
		       const struct store_new_job *jobs, size_t n, char (*ids)[JOBS_ID_LEN + 1])
{
	sqlite3_stmt *st = sqlite_stmt(s, n == 1 ? SQL_INSERT_JOB : SQL_INSERT_JOBS);

	if (st == NULL)
		return -1;
	for (size_t k = 0; k < n; k++) {
		const struct store_new_job *j = &jobs[k];
		int at = (int)k * JOB_ROW_PARAMS;

		jobs_id_new(b->now, ids[k]);
		sqlite_bind_text_at(st, at + 1, ids[k]);
		sqlite_bind_text_at(st, at + 2, j->tenant_id);
		sqlite_bind_text_at(st, at + 3, j->tenant_name);
		sqlite_bind_text_at(st, at + 4, j->requested_by);
		sqlite_bind_text_at(st, at + 5, j->reason);
		sqlite_bind_int_at(st, at + 6, b->now);
		sqlite_bind_int_at(st, at + 7, j->due_at);
		sqlite_bind_int_at(st, at + 8, j->deadline_at);
		sqlite_bind_int_at(st, at + 9, b->set_id);
		sqlite_bind_text_at(st, at + 10, j->approval_pending ? "pending" : NULL);
	}
	return sqlite_step_changes(s, st);
}

/* Whether the job was stored as id just now (created at now): 1, 0 (the
 * tenant's active job is then put in id), or -1. */
static int stored_or_active(struct sqlite_store *s, const char *tenant, int64_t now,
			    char id[JOBS_ID_LEN + 1])
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_JOB_STORED);
	int rc;

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", id);
	sqlite_bind_text(st, ":tenant", tenant);
	sqlite_bind_int(st, ":now", now);
	rc = sqlite3_step(st);
	if (sqlite_walk_end(s, st, rc == SQLITE_ROW ? SQLITE_DONE : rc) < 0)
		return -1;
	if (rc == SQLITE_ROW)
		return 1;
	if ((rc = sqlite_active_purge(s, tenant, id)) == 0) {
		log_msg(LOG_ERROR, "store.error",
			"schedule: tenant %s: job not stored and no active job found", tenant);
		store_set_error(&s->base, STORE_E_OTHER, "tenant %s: job not stored", tenant);
	}
	return rc == 1 ? 0 : -1;
}

/* The job's suspend tasks and, when webhooks are configured, its
 * job.scheduled outbox row. */
static int created_job(struct sqlite_store *s, struct batch *b, const char *id,
		       const struct job_record *j)
{
	char eid[JOBS_ID_LEN + 1];
	sqlite3_stmt *st;

	if (b->suspends) {
		if ((st = sqlite_stmt(s, SQL_INSERT_SUSPENDS)) == NULL)
			return -1;
		sqlite_bind_text(st, ":job", id);
		sqlite_bind_int(st, ":now", b->now);
		if (sqlite_step_done(s, st) < 0)
			return -1;
	}
	if (!store_outbox_wanted(&s->base))
		return 0;
	jobs_id_new(b->now, eid);
	return sqlite_outbox_append(s, eid, "job.scheduled", id,
				    jobs_bulk_body(b->docs, eid, b->now, j), b->now);
}

/* Schedules jobs[0..n) (n <= SQLITE_ROWS_A_STATEMENT): their rows in one
 * statement when n is that, then, for each created job, its tasks and
 * outbox row, and their events together. ids, created: what each became. */
static int schedule_rows(struct sqlite_store *s, struct batch *b,
			 const struct store_new_job *jobs, size_t n,
			 char (*ids)[JOBS_ID_LEN + 1], int *created)
{
	struct sqlite_event_row ev[SQLITE_ROWS_A_STATEMENT];
	size_t at[SQLITE_ROWS_A_STATEMENT], n_ev = 0;
	int inserted = 0;

	if (n == SQLITE_ROWS_A_STATEMENT) {
		if ((inserted = insert_jobs(s, b, jobs, n, ids)) < 0)
			return -1;
	} else {
		for (size_t k = 0; k < n; k++) {
			int one = insert_jobs(s, b, &jobs[k], 1, &ids[k]);

			if (one < 0)
				return -1;
			inserted += one;
		}
	}
	buf_reset(&b->details);
	for (size_t k = 0; k < n; k++) {
		struct job_record j;

		created[k] = (size_t)inserted == n ? 1 : stored_or_active(s, jobs[k].tenant_id,
									   b->now, ids[k]);
		if (created[k] < 0)
			return -1;
		if (!created[k])
			continue;
		b->n_created++;
		store_scheduled_record(&jobs[k], ids[k], b->now, &j);
		if (created_job(s, b, ids[k], &j) < 0)
			return -1;
		at[n_ev] = b->details.len;
		buf_puts(&b->details, jobs_bulk_detail(b->docs, &j));
		buf_append(&b->details, "", 1); /* each detail ends */
		ev[n_ev++] = (struct sqlite_event_row){ .job_id = ids[k], .at = b->now,
							.type = "job.scheduled" };
	}
	for (size_t k = 0; k < n_ev; k++) /* the buffer may have moved as it grew */
		ev[k].detail = b->details.data + at[k];
	return sqlite_events_append(s, ev, n_ev);
}

/* Creates and reports one chunk of the feed; b->ids and b->created grow
 * to the largest chunk. */
static int schedule_chunk(struct sqlite_store *s, struct batch *b,
			  const struct store_job_feed *feed, const struct store_new_job *jobs,
			  size_t n)
{
	if (n > b->cap) {
		b->ids = xrealloc(b->ids, n * sizeof *b->ids);
		b->created = xrealloc(b->created, n * sizeof *b->created);
		b->cap = n;
	}
	for (size_t i = 0; i < n; i += SQLITE_ROWS_A_STATEMENT) {
		size_t k = n - i < SQLITE_ROWS_A_STATEMENT ? n - i : SQLITE_ROWS_A_STATEMENT;

		if (schedule_rows(s, b, &jobs[i], k, &b->ids[i], &b->created[i]) < 0)
			return -1;
	}
	if (feed->stored(feed->ctx, n, b->ids, b->created) < 0) {
		store_set_error(&s->base, STORE_E_OTHER, "schedule abandoned");
		return -1;
	}
	return 0;
}

/*
 * One transaction for every chunk of the feed, all or nothing. Memory
 * follows the chunk, not the feed.
 */
int sqlite_schedule(struct store *base, const struct store_job_feed *feed,
		    const struct store_service *svcs, size_t n_svcs, int64_t now)
{
	struct sqlite_store *s = sqlite_of(base);
	struct batch b = { .svcs = svcs, .n_svcs = n_svcs, .now = now };
	const struct store_new_job *jobs;
	size_t n;
	int rc = -1;

	if (sqlite_begin(s) != STORE_OK)
		return STORE_ERR;
	if (stage_services(s, &b) < 0)
		goto out;
	while ((rc = feed->next(feed->ctx, &jobs, &n)) == 0 && n > 0)
		if ((rc = schedule_chunk(s, &b, feed, jobs, n)) < 0)
			goto out;
	if (rc < 0)
		store_set_error(&s->base, STORE_E_OTHER, "schedule abandoned");
	else
		rc = sqlite_jobs_created(s, b.n_created);
out:
	jobs_bulk_docs_free(b.docs);
	buf_free(&b.details);
	free(b.ids);
	free(b.created);
	if (rc == 0)
		return sqlite_commit(s);
	sqlite_rollback(s);
	return STORE_ERR;
}

int sqlite_active_purge(struct sqlite_store *s, const char *tenant, char id[JOBS_ID_LEN + 1])
{
	return sqlite_id_of(s, SQL_ACTIVE_PURGE, ":tenant", tenant, id);
}

int sqlite_jobs_created(struct sqlite_store *s, int64_t n)
{
	sqlite3_stmt *st;

	if (n <= 0)
		return 0;
	if ((st = sqlite_stmt(s, SQL_COUNT_CREATED)) == NULL)
		return -1;
	sqlite_bind_int(st, ":n", n);
	return sqlite_step_done(s, st);
}

/* Reads one job; STORE_OK, STORE_NOT_FOUND or STORE_ERR. */
int sqlite_job_get(struct store *base, const char *job_id, struct job_record *out)
{
	struct sqlite_store *s = sqlite_of(base);
	return sqlite_job_by_id(s, job_id, out);
}

/* The stored tasks of the job, in SQL_JOB_TASKS order. */
static int read_tasks(struct store *base, const char *job_id, struct task_record **out,
		      size_t *n)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_JOB_TASKS);
	struct task_record *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":job", job_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreserve(v, &cap, len + 1, sizeof *v);
		sqlite_row_task(st, &v[len++]);
	}
	if (sqlite_walk_end(s, st, rc) < 0) {
		jobs_task_records_free(v, len);
		return STORE_ERR;
	}
	*out = v;
	*n = len;
	return STORE_OK;
}

static const struct store_task_ops task_ops = {
	.read_tasks = read_tasks,
	.job_set = sqlite_job_set,
	.set_members = sqlite_set_members,
	.configured_id = sqlite_configured_id,
	.retired_reason = sqlite_retired_reason,
};

int sqlite_job_tasks(struct store *base, const char *job_id, struct task_record **out,
		     size_t *n)
{
	return store_read_job_tasks(base, &task_ops, job_id, out, n);
}
