/*
 * subject.c - data-subject erasure in the PostgreSQL store (DESIGN 9), the
 * twin of the SQLite backend's: a subject job and its step tasks, what
 * its discovery found (in the transaction that records the discover
 * step's success: the tenants, the decisions and the child purge jobs),
 * and the children an operator's action on the parent reaches. The
 * decisions are jobs/subject.h's; this file only remembers them.
 *
 * One active subject job per user is the partial unique index
 * jobs_one_active_user (as jobs_one_active_purge for tenants): an insert
 * that would make a second does nothing, after waiting for a concurrent
 * transaction that inserted the same user.
 */
#include "store/pg/pg_int.h"
#include "jobs/subject.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_ACTIVE_USER_JOB[] =
	"SELECT id FROM jobs WHERE tenant_id = $1 AND kind = 'user'"
	" AND state NOT IN ('succeeded','cancelled')";
static const char SQL_INSERT_USER_JOB[] =
	"INSERT INTO jobs (id, tenant_id, kind, state, requested_by, reason, created_at, due_at,"
	" deadline_at, approval) VALUES ($1, $2, 'user', 'scheduled', $3, $4, $5::bigint,"
	" $6::bigint, $7::bigint, $8) ON CONFLICT DO NOTHING";
/* Eligible when the job starts (pg_eval_job opens phase 1). */
static const char SQL_INSERT_STEP[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, updated_at)"
	" VALUES ($1, $2, 'delete', $3::bigint, 'pending', $4::bigint)";
/* A child: an ordinary purge, due at once, with the parent's deadline; its
 * delete tasks are the configured services when it starts. */
static const char SQL_INSERT_CHILD[] =
	"INSERT INTO jobs (id, tenant_id, kind, state, requested_by, reason, created_at, due_at,"
	" deadline_at, service_set_id, parent_id)"
	" SELECT $1, $2, 'purge', 'scheduled', p.requested_by, $3, $4::bigint, $4::bigint,"
	" p.deadline_at, (SELECT value::bigint FROM meta WHERE key = 'configured_set_id'), p.id"
	" FROM jobs p WHERE p.id = $5"
	" AND EXISTS (SELECT 1 FROM meta WHERE key = 'configured_set_id')"
	" ON CONFLICT DO NOTHING";
static const char SQL_ACTIVE_PURGE[] =
	"SELECT id FROM jobs WHERE tenant_id = $1 AND kind = 'purge'"
	" AND state NOT IN ('succeeded','cancelled')";
static const char SQL_INSERT_TENANT[] =
	"INSERT INTO subject_tenants (job_id, tenant_id, role, other_admins, decision, reason,"
	" child_job_id) VALUES ($1, $2, $3, $4::bigint, $5, $6, $7)";
static const char SQL_TENANTS[] =
	"SELECT tenant_id, role, other_admins, decision, reason, child_job_id"
	" FROM subject_tenants WHERE job_id = $1 ORDER BY tenant_id";
static const char SQL_WAITING_PARENT[] =
	"SELECT st.job_id FROM subject_tenants st JOIN jobs p ON p.id = st.job_id"
	" WHERE st.child_job_id = $1 AND p.state NOT IN ('succeeded','cancelled') LIMIT 1";
static const char SQL_CHILDREN[] =
	"SELECT id FROM jobs WHERE parent_id = $1 AND state NOT IN ('succeeded','cancelled')"
	" ORDER BY id";

/* The active job that sql finds for key into id; 1 found, 0 none, -1. */
static int active_of(struct pg_store *s, const char *sql, const char *key,
		     char id[JOBS_ID_LEN + 1])
{
	struct pg_params p = { 0 };
	PGresult *r;
	int found;

	pg_p_text(&p, key);
	if ((r = pg_run(s, sql, &p)) == NULL)
		return -1;
	found = sym_PQntuples(r) > 0;
	if (found)
		snprintf(id, JOBS_ID_LEN + 1, "%s", sym_PQgetvalue(r, 0, 0));
	sym_PQclear(r);
	return found;
}

static int insert_steps(struct pg_store *s, const char *id, int64_t now)
{
	for (int i = 0; i < SUBJECT_N_STEPS; i++) {
		struct pg_params p = { 0 };

		pg_p_text(&p, id);
		pg_p_text(&p, subject_step_name((enum subject_step)i));
		pg_p_int(&p, i + 1);
		pg_p_int(&p, now);
		if (pg_run_changes(s, SQL_INSERT_STEP, &p) < 0)
			return -1;
	}
	return 0;
}

/* A job just inserted: its job.scheduled event and outbox row. 0 or -1. */
static int announce(struct pg_store *s, const char *id, int64_t now)
{
	struct job_record j;
	char *detail;
	int rc;

	if (pg_job_by_id(s, id, 0, &j) != STORE_OK)
		return -1;
	detail = subject_detail_scheduled(&j);
	jobs_job_record_clear(&j);
	rc = pg_job_changed(s, id, "job.scheduled", detail, now, NULL);
	free(detail);
	return rc;
}

/* The job row, its steps and its job.scheduled event; 1 created, 0 another
 * active job of the user won meanwhile, -1. */
static int insert_user_job(struct pg_store *s, const struct store_new_job *nj, int64_t now,
			   const char *id)
{
	struct pg_params p = { 0 };
	int n;

	pg_p_text(&p, id);
	pg_p_text(&p, nj->tenant_id);
	pg_p_text(&p, nj->requested_by);
	pg_p_text(&p, nj->reason);
	pg_p_int(&p, now);
	pg_p_int(&p, nj->due_at);
	pg_p_int(&p, nj->deadline_at);
	pg_p_text(&p, nj->approval_pending ? "pending" : NULL);
	if ((n = pg_run_changes(s, SQL_INSERT_USER_JOB, &p)) <= 0)
		return n;
	if (insert_steps(s, id, now) < 0 || announce(s, id, now) < 0)
		return -1;
	return 1;
}

struct subject_new {
	const struct store_new_job *nj;
	int64_t now;
	char *id;
	int *created;
};

static int schedule_tx(struct pg_store *s, void *ctx)
{
	struct subject_new *c = ctx;
	int rc;

	*c->created = 0;
	rc = active_of(s, SQL_ACTIVE_USER_JOB, c->nj->tenant_id, c->id);
	if (rc == 0) {
		jobs_id_new(c->now, c->id);
		rc = insert_user_job(s, c->nj, c->now, c->id);
		*c->created = rc == 1;
		if (rc == 0) /* lost a race: the winner's job is the answer */
			rc = active_of(s, SQL_ACTIVE_USER_JOB, c->nj->tenant_id, c->id) == 1 ? 1
											     : -1;
	}
	if (rc == 1 && *c->created && c->nj->due_at <= c->now && !c->nj->approval_pending)
		rc = pg_notify_due(s) < 0 ? -1 : 1;
	return rc < 0 ? STORE_ERR : STORE_OK;
}

int pg_schedule_subject(struct store *base, const struct store_new_job *nj, int64_t now,
			char id[JOBS_ID_LEN + 1], int *created)
{
	struct subject_new c = { .nj = nj, .now = now, .id = id, .created = created };

	return pg_tx(pg_of(base), schedule_tx, &c);
}

/* ---- discovery ---- */

/* The child purge of t (or the tenant's active purge, when it has one):
 * its id into t->child_job_id. 0 or -1. */
static int add_child(struct pg_store *s, const char *parent, struct subject_tenant *t,
		     int64_t now)
{
	struct pg_params p = { 0 };
	char *reason;
	int n;

	jobs_id_new(now, t->child_job_id);
	reason = xasprintf("erasure of a user (job %s): %s", parent, t->reason);
	pg_p_text(&p, t->child_job_id);
	pg_p_text(&p, t->tenant_id);
	pg_p_text(&p, reason);
	pg_p_int(&p, now);
	pg_p_text(&p, parent);
	n = pg_run_changes(s, SQL_INSERT_CHILD, &p);
	free(reason);
	if (n < 0)
		return -1;
	if (n == 0) /* the tenant's active purge stands for the child */
		return active_of(s, SQL_ACTIVE_PURGE, t->tenant_id, t->child_job_id) == 1 ? 0 : -1;
	return announce(s, t->child_job_id, now);
}

static int insert_tenant(struct pg_store *s, const char *job_id, const struct subject_tenant *t)
{
	struct pg_params p = { 0 };

	pg_p_text(&p, job_id);
	pg_p_text(&p, t->tenant_id);
	pg_p_text(&p, subject_role_name(t->role));
	pg_p_int(&p, t->other_admins);
	pg_p_text(&p, subject_decision_name(t->decision));
	pg_p_text(&p, t->reason);
	pg_p_text(&p, t->child_job_id[0] ? t->child_job_id : NULL);
	return pg_run_changes(s, SQL_INSERT_TENANT, &p) < 0 ? -1 : 0;
}

int pg_subject_discovered(struct store *base, const struct sched_result *r, int64_t now)
{
	struct pg_store *s = pg_of(base);
	struct subject_tenant *v = xcalloc(r->n_discovered + 1, sizeof *v);
	char *detail;
	int rc = 0, children = 0;

	if (r->n_discovered > 0)
		memcpy(v, r->discovered, r->n_discovered * sizeof *v);
	for (size_t i = 0; rc == 0 && i < r->n_discovered; i++) {
		v[i].child_job_id[0] = '\0';
		if (v[i].decision == SUBJECT_PURGE) {
			rc = add_child(s, r->job_id, &v[i], now);
			children++;
		}
		if (rc == 0)
			rc = insert_tenant(s, r->job_id, &v[i]);
	}
	if (rc == 0) {
		detail = subject_detail_discovered(v, r->n_discovered);
		rc = pg_event_append(&s->base, r->job_id, now, "subject.discovered", r->service, detail);
		free(detail);
	}
	if (rc == 0 && children > 0) /* due now: any host may start them */
		rc = pg_notify_due(s);
	free(v);
	return rc;
}

/* ---- reading ---- */

static void read_tenant(const PGresult *r, int i, struct subject_tenant *t)
{
	const char *child = pg_str(r, i, 5);

	memset(t, 0, sizeof *t);
	snprintf(t->tenant_id, sizeof t->tenant_id, "%s", sym_PQgetvalue(r, i, 0));
	if (subject_role_parse(sym_PQgetvalue(r, i, 1), &t->role) < 0)
		t->role = SUBJECT_ROLE_MEMBER;
	t->other_admins = (int)pg_int(r, i, 2, 0);
	if (subject_decision_parse(sym_PQgetvalue(r, i, 3), &t->decision) < 0)
		t->decision = SUBJECT_KEEP;
	snprintf(t->reason, sizeof t->reason, "%s", sym_PQgetvalue(r, i, 4));
	snprintf(t->child_job_id, sizeof t->child_job_id, "%s", child ? child : "");
}

int pg_subject_tenants(struct store *base, const char *job_id, struct subject_tenant **out,
		       size_t *n)
{
	struct pg_params p = { 0 };
	PGresult *r;

	*out = NULL;
	*n = 0;
	pg_p_text(&p, job_id);
	if ((r = pg_run(pg_of(base), SQL_TENANTS, &p)) == NULL)
		return STORE_ERR;
	*n = (size_t)sym_PQntuples(r);
	*out = *n ? xcalloc(*n, sizeof **out) : NULL;
	for (size_t i = 0; i < *n; i++)
		read_tenant(r, (int)i, &(*out)[i]);
	sym_PQclear(r);
	return STORE_OK;
}

int pg_children(struct store *base, const char *parent, struct store_idset *set)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };

	pg_p_text(&p, parent);
	return pg_idset_collect(pg_run(s, SQL_CHILDREN, &p), set);
}

int pg_waiting_parent(struct store *base, const char *job_id, char parent[JOBS_ID_LEN + 1])
{
	struct pg_store *s = pg_of(base);
	parent[0] = '\0';
	return active_of(s, SQL_WAITING_PARENT, job_id, parent);
}
