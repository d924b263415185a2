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
 * Bulk scheduling is set-based: the batch is staged in TEMP tables (plain,
 * unindexed, private to this connection), then one INSERT ... SELECT
 * creates every job (and one every suspend task, when a service has a
 * suspend_url). A job's delete tasks are not written now: the job refers
 * to the shared snapshot of the services in force (service_sets) and its
 * tasks are created when it starts (sqlite_materialize_tasks), so a batch
 * writes one row per job instead of one per job and service.
 */
static const char SQL_STAGE_TABLES[] =
	"CREATE TEMP TABLE IF NOT EXISTS schedule_stage (seq INTEGER PRIMARY KEY, id TEXT,"
	" tenant_id TEXT, tenant_name TEXT, requested_by TEXT, reason TEXT, due_at INTEGER,"
	" deadline_at INTEGER, approval TEXT);"
	"CREATE TEMP TABLE IF NOT EXISTS schedule_suspends (seq INTEGER PRIMARY KEY,"
	" service TEXT, phase INTEGER);"
	"DELETE FROM temp.schedule_stage; DELETE FROM temp.schedule_suspends;";

static const char SQL_STAGE_JOB[] =
	"INSERT INTO temp.schedule_stage (seq, id, tenant_id, tenant_name, requested_by, reason,"
	" due_at, deadline_at, approval) VALUES (:seq, :id, :tenant, :name, :by, :reason, :due,"
	" :deadline, :approval)";

static const char SQL_STAGE_SUSPEND[] =
	"INSERT INTO temp.schedule_suspends (service, phase) VALUES (:service, :phase)";

/* ON CONFLICT DO NOTHING: the partial unique index jobs_one_active_purge
 * turns a second active purge of one tenant (already stored, or earlier in
 * this batch) into "no row inserted". */
static const char SQL_INSERT_JOBS[] =
	"INSERT INTO jobs (id, tenant_id, tenant_name, kind, state, requested_by, reason,"
	" created_at, due_at, deadline_at, service_set_id, approval)"
	" SELECT id, tenant_id, tenant_name, 'purge', 'scheduled', requested_by, reason, :now,"
	" due_at, deadline_at, :set, approval FROM temp.schedule_stage WHERE 1 ORDER BY seq"
	" ON CONFLICT DO NOTHING";

/* Suspend tasks (due now: they run inside the window) of the jobs that were
 * created: a staged id exists in jobs only then. */
static const char SQL_INSERT_SUSPENDS[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" SELECT st.id, sv.service, 'suspend', sv.phase, 'pending', :now, :now"
	" FROM temp.schedule_stage st JOIN jobs ON jobs.id = st.id"
	" CROSS JOIN temp.schedule_suspends sv ORDER BY st.seq, sv.seq";

/* Each staged job in order, with whether it was created or the tenant's
 * active job instead. */
static const char SQL_STAGE_RESULT[] =
	"SELECT st.id, jobs.id IS NOT NULL, CASE WHEN jobs.id IS NULL THEN"
	" (SELECT a.id FROM jobs a WHERE a.tenant_id = st.tenant_id AND a.kind = 'purge'"
	"  AND a.state NOT IN ('succeeded','cancelled')) END"
	" FROM temp.schedule_stage st LEFT JOIN jobs ON jobs.id = st.id ORDER BY st.seq";

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
	struct jobs_bulk_docs *docs;
	char (*ids)[JOBS_ID_LEN + 1]; /* what the chunk's jobs became */
	int *created;
	size_t cap;
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

static int stage_job(struct sqlite_store *s, size_t seq, const struct store_new_job *j, int64_t now)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_STAGE_JOB);
	char id[JOBS_ID_LEN + 1];

	if (st == NULL)
		return -1;
	jobs_id_new(now, id);
	sqlite_bind_int(st, ":seq", (int64_t)seq);
	sqlite_bind_text(st, ":id", id);
	sqlite_bind_text(st, ":tenant", j->tenant_id);
	sqlite_bind_text(st, ":name", j->tenant_name);
	sqlite_bind_text(st, ":by", j->requested_by);
	sqlite_bind_text(st, ":reason", j->reason);
	sqlite_bind_int(st, ":due", j->due_at);
	sqlite_bind_int(st, ":deadline", j->deadline_at);
	sqlite_bind_text(st, ":approval", j->approval_pending ? "pending" : NULL);
	return sqlite_step_done(s, st);
}

/* Creates the staged jobs and their suspend tasks: a statement each. */
static int run_bulk(struct sqlite_store *s, const struct batch *b)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_INSERT_JOBS);
	int suspends = 0;

	if (st == NULL)
		return -1;
	sqlite_bind_int(st, ":now", b->now);
	sqlite_bind_int(st, ":set", b->set_id);
	if (sqlite_step_done(s, st) < 0)
		return -1;
	for (size_t i = 0; i < b->n_svcs; i++)
		suspends |= b->svcs[i].has_suspend;
	if (!suspends)
		return 0;
	if ((st = sqlite_stmt(s, SQL_INSERT_SUSPENDS)) == NULL)
		return -1;
	sqlite_bind_int(st, ":now", b->now);
	return sqlite_step_done(s, st);
}

/* The job.scheduled event and outbox row of one created job, from what
 * the batch already knows (the row was written just now with these values). */
static int announce(struct sqlite_store *s, const char *id, const struct store_new_job *nj,
		    struct batch *b)
{
	struct job_record j;
	char eid[JOBS_ID_LEN + 1];

	store_scheduled_record(nj, id, b->now, &j);
	if (sqlite_event_append(&s->base, id, b->now, "job.scheduled", NULL,
				jobs_bulk_detail(b->docs, &j)) < 0)
		return -1;
	if (!store_outbox_wanted(&s->base))
		return 0;
	jobs_id_new(b->now, eid);
	return sqlite_outbox_append(s, eid, "job.scheduled", id,
				    jobs_bulk_body(b->docs, eid, b->now, &j), b->now);
}

/* Reads back which staged jobs were created; announces them; fills ids. */
static int collect_results(struct sqlite_store *s, const struct store_new_job *jobs, size_t n,
			   struct batch *b, char (*ids)[JOBS_ID_LEN + 1], int *created)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_STAGE_RESULT);
	size_t i = 0;

	if (st == NULL)
		return -1;
	while (i < n && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *id;

		created[i] = sqlite3_column_int(st, 1);
		id = sqlite3_column_text(st, created[i] ? 0 : 2);
		if (id == NULL)
			break;
		snprintf(ids[i], JOBS_ID_LEN + 1, "%s", (const char *)id);
		if (created[i] && announce(s, ids[i], &jobs[i], b) < 0)
			break;
		i++;
	}
	sqlite_reset(st);
	if (i < n) {
		log_msg(LOG_ERROR, "store.error", "schedule: job %zu of a chunk of %zu not stored",
			i + 1, n);
		store_set_error(&s->base, STORE_E_OTHER, "job %zu of the batch not stored",
				i + 1);
		return -1;
	}
	return 0;
}

/* Stages, creates and reports one chunk of the feed; b->ids and
 * b->created grow to the largest chunk. */
static int schedule_chunk(struct sqlite_store *s, struct batch *b,
			  const struct store_job_feed *feed, const struct store_new_job *jobs,
			  size_t n)
{
	if (n > b->cap) {
		b->ids = xrealloc(b->ids, n * sizeof *b->ids);
		b->created = xrealloc(b->created, n * sizeof *b->created);
		b->cap = n;
	}
	for (size_t i = 0; i < n; i++)
		if (stage_job(s, i, &jobs[i], b->now) < 0)
			return -1;
	if (run_bulk(s, b) < 0 || collect_results(s, jobs, n, b, b->ids, b->created) < 0)
		return -1;
	if (sqlite_exec(s, "DELETE FROM temp.schedule_stage") < 0)
		return -1;
	if (feed->stored(feed->ctx, n, b->ids, b->created) < 0) {
		store_set_error(&s->base, STORE_E_OTHER, "schedule abandoned");
		return -1;
	}
	return 0;
}

/*
 * One transaction for every chunk of the feed, all or nothing; see the
 * staging comment above for why it is set-based. A chunk is staged and
 * cleared before the next, so memory follows the chunk, not the feed.
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
	if (sqlite_exec(s, SQL_STAGE_TABLES) < 0 || stage_services(s, &b) < 0)
		goto out;
	while ((rc = feed->next(feed->ctx, &jobs, &n)) == 0 && n > 0)
		if ((rc = schedule_chunk(s, &b, feed, jobs, n)) < 0)
			goto out;
	if (rc < 0)
		store_set_error(&s->base, STORE_E_OTHER, "schedule abandoned");
out:
	jobs_bulk_docs_free(b.docs);
	free(b.ids);
	free(b.created);
	if (rc == 0)
		return sqlite_commit(s);
	sqlite_rollback(s);
	return STORE_ERR;
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
