/*
 * subject.c - data-subject erasure in the SQLite store (DESIGN 9): a
 * subject job and its step tasks, what its discovery found (one
 * transaction with the discover step's success: the tenants, the
 * decisions and the child purge jobs), and the children an operator's
 * action on the parent reaches. The decisions are jobs/subject.h's; this
 * file only remembers them.
 */
#include "store/sqlite/sched_int.h"
#include "jobs/subject.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_ACTIVE_USER_JOB[] =
	"SELECT id FROM jobs WHERE tenant_id = :user AND kind = 'user'"
	" AND state NOT IN ('succeeded','cancelled')";
static const char SQL_INSERT_USER_JOB[] =
	"INSERT INTO jobs (id, tenant_id, kind, state, requested_by, reason, created_at, due_at,"
	" deadline_at, approval) VALUES (:id, :user, 'user', 'scheduled', :by, :reason, :now,"
	" :due, :deadline, :approval) ON CONFLICT DO NOTHING";
/* Eligible when the job starts (sqlite_eval_job opens phase 1). */
static const char SQL_INSERT_STEP[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, updated_at)"
	" VALUES (:job, :service, 'delete', :phase, 'pending', :now)";
/* A child: an ordinary purge, due at once, with the parent's deadline; its
 * delete tasks are the configured services when it starts. */
static const char SQL_INSERT_CHILD[] =
	"INSERT INTO jobs (id, tenant_id, kind, state, requested_by, reason, created_at, due_at,"
	" deadline_at, service_set_id, parent_id)"
	" SELECT :id, :tenant, 'purge', 'scheduled', p.requested_by, :reason, :now, :now,"
	" p.deadline_at, (SELECT CAST(value AS INTEGER) FROM meta"
	"  WHERE key = 'configured_set_id'), p.id"
	" FROM jobs p WHERE p.id = :parent"
	" AND EXISTS (SELECT 1 FROM meta WHERE key = 'configured_set_id')"
	" ON CONFLICT DO NOTHING";
static const char SQL_INSERT_TENANT[] =
	"INSERT INTO subject_tenants (job_id, tenant_id, role, other_admins, decision, reason,"
	" child_job_id) VALUES (:job, :tenant, :role, :others, :decision, :reason, :child)";
static const char SQL_TENANTS[] =
	"SELECT tenant_id, role, other_admins, decision, reason, child_job_id"
	" FROM subject_tenants WHERE job_id = :job ORDER BY tenant_id";
/* The unfinished subject job that waits for purge :id (a cancel is rare:
 * subject_tenants is scanned, it has a few rows per erased user). */
static const char SQL_WAITING_PARENT[] =
	"SELECT st.job_id FROM subject_tenants st JOIN jobs p ON p.id = st.job_id"
	" WHERE st.child_job_id = :id AND p.state NOT IN ('succeeded','cancelled') LIMIT 1";
static const char SQL_CHILDREN[] =
	"SELECT id FROM jobs WHERE parent_id = :id AND state NOT IN ('succeeded','cancelled')"
	" ORDER BY id";

static int insert_steps(struct sqlite_store *s, const char *id, int64_t now)
{
	for (int i = 0; i < SUBJECT_N_STEPS; i++) {
		sqlite3_stmt *st = sqlite_stmt(s, SQL_INSERT_STEP);

		if (st == NULL)
			return -1;
		sqlite_bind_text(st, ":job", id);
		sqlite_bind_text(st, ":service", subject_step_name((enum subject_step)i));
		sqlite_bind_int(st, ":phase", i + 1);
		sqlite_bind_int(st, ":now", now);
		if (sqlite_step_done(s, st) < 0)
			return -1;
	}
	return 0;
}

/* The job row, its steps and its job.scheduled event; 1 created, 0 another
 * active job of the user won meanwhile, -1. */
static int insert_user_job(struct sqlite_store *s, const struct store_new_job *nj, int64_t now,
			   const char *id)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_INSERT_USER_JOB);
	struct job_record j;
	char *detail;
	int n, rc;

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", id);
	sqlite_bind_text(st, ":user", nj->tenant_id);
	sqlite_bind_text(st, ":by", nj->requested_by);
	sqlite_bind_text(st, ":reason", nj->reason);
	sqlite_bind_int(st, ":now", now);
	sqlite_bind_int(st, ":due", nj->due_at);
	sqlite_bind_int(st, ":deadline", nj->deadline_at);
	sqlite_bind_text(st, ":approval", nj->approval_pending ? "pending" : NULL);
	if ((n = sqlite_step_changes(s, st)) <= 0)
		return n;
	if (sqlite_jobs_created(s, 1) < 0 || insert_steps(s, id, now) < 0 ||
	    sqlite_job_by_id(s, id, &j) != STORE_OK)
		return -1;
	detail = subject_detail_scheduled(&j);
	jobs_job_record_clear(&j);
	rc = sqlite_job_changed(s, id, "job.scheduled", detail, now, NULL);
	free(detail);
	return rc < 0 ? -1 : 1;
}

int sqlite_schedule_subject(struct store *base, const struct store_new_job *nj, int64_t now,
			    char id[JOBS_ID_LEN + 1], int *created)
{
	struct sqlite_store *s = sqlite_of(base);
	int rc;

	*created = 0;
	if (sqlite_begin(s) != STORE_OK)
		return STORE_ERR;
	rc = sqlite_id_of(s, SQL_ACTIVE_USER_JOB, ":user", nj->tenant_id, id);
	if (rc == 0) {
		jobs_id_new(now, id);
		rc = insert_user_job(s, nj, now, id);
		*created = rc == 1;
		if (rc == 0) /* lost a race: the winner's job is the answer */
			rc = sqlite_id_of(s, SQL_ACTIVE_USER_JOB, ":user", nj->tenant_id, id) == 1
				     ? 1
				     : -1;
	}
	if (rc < 0) {
		sqlite_rollback(s);
		return STORE_ERR;
	}
	return sqlite_commit(s);
}

/* ---- discovery ---- */

/* The child purge of t (or the tenant's active purge, when it has one):
 * its id into t->child_job_id. 0 or -1. */
static int add_child(struct sqlite_store *s, const char *parent, struct subject_tenant *t,
		     int64_t now)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_INSERT_CHILD);
	struct job_record j;
	char *detail, *reason;
	int n, rc;

	if (st == NULL)
		return -1;
	jobs_id_new(now, t->child_job_id);
	reason = xasprintf("erasure of a user (job %s): %s", parent, t->reason);
	sqlite_bind_text(st, ":id", t->child_job_id);
	sqlite_bind_text(st, ":tenant", t->tenant_id);
	sqlite_bind_text(st, ":reason", reason);
	sqlite_bind_int(st, ":now", now);
	sqlite_bind_text(st, ":parent", parent);
	n = sqlite_step_changes(s, st);
	free(reason);
	if (n < 0)
		return -1;
	if (n == 0) /* the tenant's active purge stands for the child */
		return sqlite_active_purge(s, t->tenant_id, t->child_job_id) == 1 ? 0 : -1;
	if (sqlite_jobs_created(s, 1) < 0 || sqlite_job_by_id(s, t->child_job_id, &j) != STORE_OK)
		return -1;
	detail = subject_detail_scheduled(&j);
	jobs_job_record_clear(&j);
	rc = sqlite_job_changed(s, t->child_job_id, "job.scheduled", detail, now, NULL);
	free(detail);
	return rc;
}

static int insert_tenant(struct sqlite_store *s, const char *job_id,
			 const struct subject_tenant *t)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_INSERT_TENANT);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":job", job_id);
	sqlite_bind_text(st, ":tenant", t->tenant_id);
	sqlite_bind_text(st, ":role", subject_role_name(t->role));
	sqlite_bind_int(st, ":others", t->other_admins);
	sqlite_bind_text(st, ":decision", subject_decision_name(t->decision));
	sqlite_bind_text(st, ":reason", t->reason);
	sqlite_bind_text(st, ":child", t->child_job_id[0] ? t->child_job_id : NULL);
	return sqlite_step_done(s, st);
}

int sqlite_subject_discovered(struct store *base, const struct sched_result *r, int64_t now)
{
	struct sqlite_store *s = sqlite_of(base);
	struct subject_tenant *v = xcalloc(r->n_discovered + 1, sizeof *v);
	char *detail;
	int rc = 0;

	if (r->n_discovered > 0)
		memcpy(v, r->discovered, r->n_discovered * sizeof *v);
	for (size_t i = 0; rc == 0 && i < r->n_discovered; i++) {
		v[i].child_job_id[0] = '\0';
		if (v[i].decision == SUBJECT_PURGE)
			rc = add_child(s, r->job_id, &v[i], now);
		if (rc == 0)
			rc = insert_tenant(s, r->job_id, &v[i]);
	}
	if (rc == 0) {
		detail = subject_detail_discovered(v, r->n_discovered);
		rc = sqlite_event_append(&s->base, r->job_id, now, "subject.discovered", r->service,
					 detail);
		free(detail);
	}
	free(v);
	return rc;
}

/* ---- reading ---- */

static void read_tenant(sqlite3_stmt *st, struct subject_tenant *t)
{
	const char *child = (const char *)sqlite3_column_text(st, 5);

	memset(t, 0, sizeof *t);
	snprintf(t->tenant_id, sizeof t->tenant_id, "%s", sqlite3_column_text(st, 0));
	if (subject_role_parse((const char *)sqlite3_column_text(st, 1), &t->role) < 0)
		t->role = SUBJECT_ROLE_MEMBER;
	t->other_admins = (int)sqlite3_column_int64(st, 2);
	if (subject_decision_parse((const char *)sqlite3_column_text(st, 3), &t->decision) < 0)
		t->decision = SUBJECT_KEEP;
	snprintf(t->reason, sizeof t->reason, "%s", sqlite3_column_text(st, 4));
	snprintf(t->child_job_id, sizeof t->child_job_id, "%s", child ? child : "");
}

int sqlite_subject_tenants(struct store *base, const char *job_id, struct subject_tenant **out,
			   size_t *n)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_TENANTS);
	struct subject_tenant *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":job", job_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreserve(v, &cap, len + 1, sizeof *v);
		read_tenant(st, &v[len++]);
	}
	if (sqlite_walk_end(s, st, rc) < 0) {
		free(v);
		return STORE_ERR;
	}
	*out = v;
	*n = len;
	return STORE_OK;
}

int sqlite_children(struct store *base, const char *parent, struct store_idset *set)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_CHILDREN);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", parent);
	return sqlite_idset_collect(s, st, SQL_CHILDREN, set);
}

int sqlite_waiting_parent(struct store *base, const char *job_id,
			  char parent[JOBS_ID_LEN + 1])
{
	struct sqlite_store *s = sqlite_of(base);
	parent[0] = '\0';
	return sqlite_id_of(s, SQL_WAITING_PARENT, ":id", job_id, parent);
}
