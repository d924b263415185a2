/*
 * jobs.c - scheduling jobs and reading their tasks: pg_schedule (a feed
 * of chunks),
 * pg_job_tasks. Operator transitions: store/pg/transitions.c; listings:
 * store/pg/query.c.
 *
 * One active purge per tenant is the partial unique index
 * jobs_one_active_purge: an insert that would make a second does nothing
 * (ON CONFLICT DO NOTHING), waiting first for a concurrent transaction that
 * inserted the same tenant, so two hosts scheduling one tenant at once get
 * one job, and both its id.
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_INSERT_JOB[] =
	"INSERT INTO jobs (id, tenant_id, tenant_name, kind, state, requested_by, reason,"
	" created_at, due_at, deadline_at, service_set_id, approval)"
	" VALUES ($1, $2, $3, 'purge', 'scheduled', $4, $5, $6, $7, $8, $9, $10)"
	" ON CONFLICT DO NOTHING RETURNING id";
static const char SQL_ACTIVE_JOB[] =
	"SELECT id FROM jobs WHERE tenant_id = $1 AND kind = 'purge'"
	" AND state NOT IN ('succeeded','cancelled')";
/* Suspend tasks are due now: they run inside the window. */
static const char SQL_INSERT_SUSPEND[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" VALUES ($1, $2, 'suspend', $3, 'pending', $4, $4)";
static const char SQL_JOB_TASKS[] =
	"SELECT " PG_TASK_COLS " FROM tasks WHERE job_id = $1"
	" ORDER BY CASE kind WHEN 'suspend' THEN 0 WHEN 'delete' THEN 1 ELSE 2 END,"
	" phase, service";

/* What a batch shares, and what its current chunk fills (pg_tx may run
 * it again: the feed is rewound). */
struct batch {
	const struct store_job_feed *feed;
	const struct store_new_job *jobs; /* the chunk */
	size_t n, cap;
	const struct store_service *svcs;
	size_t n_svcs;
	int64_t now, set_id;
	struct jobs_bulk_docs *docs;
	char (*ids)[JOBS_ID_LEN + 1];
	int *created;
	int runs;
};

/* The job.scheduled event and outbox row of one created job. */
static int announce(struct pg_store *s, const char *id, const struct store_new_job *nj,
		    struct batch *b)
{
	struct job_record j;
	char eid[JOBS_ID_LEN + 1];

	store_scheduled_record(nj, id, b->now, &j);
	if (pg_event_append(&s->base, id, b->now, "job.scheduled", NULL,
			    jobs_bulk_detail(b->docs, &j)) < 0)
		return -1;
	if (!store_outbox_wanted(&s->base))
		return 0;
	jobs_id_new(b->now, eid);
	return pg_outbox_append(s, eid, "job.scheduled", id,
				jobs_bulk_body(b->docs, eid, b->now, &j), b->now);
}

static int add_suspends(struct pg_store *s, const char *id, const struct batch *b)
{
	for (size_t i = 0; i < b->n_svcs; i++) {
		struct pg_params p = { 0 };

		if (!b->svcs[i].has_suspend)
			continue;
		pg_p_text(&p, id);
		pg_p_text(&p, b->svcs[i].name);
		pg_p_int(&p, b->svcs[i].phase);
		pg_p_int(&p, b->now);
		if (pg_run_changes(s, SQL_INSERT_SUSPEND, &p) < 0)
			return -1;
	}
	return 0;
}

/* Inserts job i, or finds the tenant's active job: ids[i], created[i]. */
static int schedule_one(struct pg_store *s, struct batch *b, size_t i)
{
	const struct store_new_job *j = &b->jobs[i];
	char id[JOBS_ID_LEN + 1];
	PGresult *r;
	int found;

	/* the active job seen by the insert may finish before the read: again */
	for (int tries = 0; tries < 3; tries++) {
		struct pg_params p = { 0 };

		jobs_id_new(b->now, id);
		pg_p_text(&p, id);
		pg_p_text(&p, j->tenant_id);
		pg_p_text(&p, j->tenant_name);
		pg_p_text(&p, j->requested_by);
		pg_p_text(&p, j->reason);
		pg_p_int(&p, b->now);
		pg_p_int(&p, j->due_at);
		pg_p_int(&p, j->deadline_at);
		pg_p_int(&p, b->set_id);
		pg_p_text(&p, j->approval_pending ? "pending" : NULL);
		if ((r = pg_run(s, SQL_INSERT_JOB, &p)) == NULL)
			return -1;
		b->created[i] = sym_PQntuples(r) == 1;
		sym_PQclear(r);
		if (b->created[i]) {
			snprintf(b->ids[i], JOBS_ID_LEN + 1, "%s", id);
			return add_suspends(s, id, b) < 0 || announce(s, id, j, b) < 0 ? -1 : 0;
		}
		p.n = 0;
		pg_p_text(&p, j->tenant_id);
		if ((r = pg_run(s, SQL_ACTIVE_JOB, &p)) == NULL)
			return -1;
		found = sym_PQntuples(r) == 1;
		if (found)
			snprintf(b->ids[i], JOBS_ID_LEN + 1, "%s", sym_PQgetvalue(r, 0, 0));
		sym_PQclear(r);
		if (found)
			return 0;
	}
	store_set_error(&s->base, STORE_E_OTHER, "job %zu of the batch not stored", i + 1);
	return -1;
}

/* Whether job i, created, has work due now: it is due (or its suspend
 * tasks are, inside the window), and no approval is pending. */
static int due_now(const struct batch *b, size_t i)
{
	int suspends = 0;

	if (!b->created[i] || b->jobs[i].approval_pending)
		return 0;
	for (size_t k = 0; k < b->n_svcs; k++)
		suspends |= b->svcs[k].has_suspend;
	return b->jobs[i].due_at <= b->now || suspends;
}

/* Writes the chunk in b->jobs, b->n and tells the feed; *due |= whether
 * one of its jobs has work due now. 0, -1 (the store failed) or -2 (the
 * feed abandoned it). */
static int schedule_chunk(struct pg_store *s, struct batch *b, int *due)
{
	if (b->n > b->cap) {
		b->ids = xrealloc(b->ids, b->n * sizeof *b->ids);
		b->created = xrealloc(b->created, b->n * sizeof *b->created);
		b->cap = b->n;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (schedule_one(s, b, i) < 0)
			return -1;
		*due |= due_now(b, i);
	}
	return b->feed->stored(b->feed->ctx, b->n, b->ids, b->created) < 0 ? -2 : 0;
}

/* A feed that fails is no conflict: pg_tx must not run it again. */
static int abandoned(struct pg_store *s)
{
	s->sqlstate[0] = '\0';
	store_set_error(&s->base, STORE_E_OTHER, "schedule abandoned");
	return STORE_ERR;
}

static int schedule_tx(struct pg_store *s, void *ctx)
{
	struct batch *b = ctx;
	int due = 0, rc;

	if (b->runs++ > 0 && b->feed->rewind(b->feed->ctx) < 0)
		return abandoned(s);
	if (pg_service_set_id(s, b->svcs, b->n_svcs, &b->set_id) < 0)
		return STORE_ERR;
	for (;;) {
		if (b->feed->next(b->feed->ctx, &b->jobs, &b->n) < 0)
			return abandoned(s);
		if (b->n == 0)
			break;
		if ((rc = schedule_chunk(s, b, &due)) < 0)
			return rc == -1 ? STORE_ERR : abandoned(s);
	}
	/* the other hosts start it within a second, not at their slow poll */
	if (due && pg_notify_due(s) < 0)
		return STORE_ERR;
	return STORE_OK;
}

/* One transaction for every chunk of the feed, all or nothing. */
int pg_schedule(struct store *base, const struct store_job_feed *feed,
		const struct store_service *svcs, size_t n_svcs, int64_t now)
{
	const char **names = xcalloc(n_svcs ? n_svcs : 1, sizeof *names);
	struct batch b = { .feed = feed, .svcs = svcs, .n_svcs = n_svcs, .now = now };
	int rc;

	for (size_t i = 0; i < n_svcs; i++)
		names[i] = svcs[i].name;
	b.docs = jobs_bulk_docs_new(names, n_svcs);
	free(names);
	rc = pg_tx(pg_of(base), schedule_tx, &b);
	jobs_bulk_docs_free(b.docs);
	free(b.ids);
	free(b.created);
	return rc;
}

/* The stored tasks of the job, in SQL_JOB_TASKS order. */
static int read_tasks(struct store *base, const char *job_id, struct task_record **out,
		      size_t *n)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	PGresult *r;

	pg_p_text(&p, job_id);
	if ((r = pg_run(s, SQL_JOB_TASKS, &p)) == NULL)
		return STORE_ERR;
	*n = (size_t)sym_PQntuples(r);
	*out = *n ? xcalloc(*n, sizeof **out) : NULL;
	for (size_t i = 0; i < *n; i++)
		pg_row_task(r, (int)i, &(*out)[i]);
	sym_PQclear(r);
	return STORE_OK;
}

static const struct store_task_ops task_ops = {
	.read_tasks = read_tasks,
	.job_set = pg_job_set,
	.set_members = pg_set_members,
	.configured_id = pg_configured_id,
	.retired_reason = pg_retired_reason,
};

int pg_job_tasks(struct store *base, const char *job_id, struct task_record **out, size_t *n)
{
	return store_read_job_tasks(base, &task_ops, job_id, out, n);
}
