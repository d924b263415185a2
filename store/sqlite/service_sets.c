/*
 * service_sets.c - the snapshot of services a scheduled job covers, and
 * its delete tasks created when the job starts (DESIGN 3 "Which services a
 * job covers", DESIGN 8). Until then sqlite_job_tasks shows them as
 * synthesized pending records. A set is its members' rows (migration 7),
 * one set per distinct list of (name, phase).
 */
#include "store/sqlite/sqlite_int.h"
#include "jobs/service_detail.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_CONFIGURED "configured_set_id"

/* The sets of n members, each set's rows together, in name order (a set of
 * no member: one row, NULL name). */
static const char SQL_SETS_OF_SIZE[] =
	"SELECT ss.id, m.service, m.phase FROM service_sets ss"
	" LEFT JOIN service_set_members m ON m.set_id = ss.id"
	" WHERE ss.n_services = :n ORDER BY ss.id, m.service";
static const char SQL_SET_INSERT[] =
	"INSERT INTO service_sets (n_services) VALUES (:n) RETURNING id";
static const char SQL_MEMBER_INSERT[] =
	"INSERT INTO service_set_members (set_id, service, phase) VALUES (:set, :service, :phase)";
static const char SQL_MEMBERS[] =
	"SELECT service, phase FROM service_set_members WHERE set_id = :set"
	" ORDER BY phase, service";
static const char SQL_SET_CONFIGURED[] =
	"INSERT INTO meta (key, value) VALUES ('" META_CONFIGURED "', :set)"
	" ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char SQL_GET_CONFIGURED[] =
	"SELECT CAST(value AS INTEGER) FROM meta WHERE key = '" META_CONFIGURED "'";
static const char SQL_JOB_SET[] =
	"SELECT state, due_at, created_at, service_set_id FROM jobs"
	" WHERE id = :id AND service_set_id IS NOT NULL";
static const char SQL_ADD_TASK[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, skip_reason, updated_at)"
	" VALUES (:job, :service, 'delete', :phase, :state, :reason, :now)";
/* SQLITE_ROWS_A_STATEMENT at a time, from :skip. */
static const char SQL_ADD_ALL_TASKS[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, updated_at)"
	" SELECT :job, service, 'delete', phase, 'pending', :now FROM service_set_members"
	" WHERE set_id = :set ORDER BY phase, service LIMIT :rows OFFSET :skip";
/* Jobs not started whose snapshot is not the configured set: a config
 * change reaches them now, recorded (DESIGN 3), not only when they start.
 * Sets are shared, so another set id is other services. */
static const char SQL_STALE_JOBS[] =
	"SELECT id FROM jobs WHERE service_set_id IS NOT NULL AND +state IN ('scheduled','held')"
	" AND (service_set_id < :set OR service_set_id > :set)"; /* two ranges of jobs_by_set */
/* The job leaves its snapshot: its tasks are created in the same step. */
static const char SQL_MATERIALIZED[] =
	"UPDATE jobs SET service_set_id = NULL WHERE id = :id AND service_set_id = :set";

static int name_cmp(const void *a, const void *b)
{
	const struct store_service *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* The set whose members are exactly want[] (sorted by name): *id, or 0. */
static int find_set(struct sqlite_store *s, const struct store_service *want, size_t n, int64_t *id)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_SETS_OF_SIZE);
	int64_t cur = 0;
	size_t i = 0;
	int same = 0, rc = SQLITE_DONE;

	*id = 0;
	if (st == NULL)
		return -1;
	sqlite_bind_int(st, ":n", (int64_t)n);
	while (*id == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		int64_t set = sqlite3_column_int64(st, 0);

		if (set != cur) {
			cur = set;
			i = 0;
			same = 1;
		}
		/* a set of no member has one row, NULL name: n == 0 matches it */
		same = same && (n == 0 || (i < n && name != NULL &&
					   strcmp(name, want[i].name) == 0 &&
					   sqlite3_column_int(st, 2) == want[i].phase));
		if ((n == 0 || ++i == n) && same)
			*id = set;
	}
	sqlite_reset(st);
	if (*id == 0 && rc != SQLITE_DONE) {
		sqlite_log_error(s, SQL_SETS_OF_SIZE);
		return -1;
	}
	return 0;
}

/* A new set of the n members v. */
static int insert_set(struct sqlite_store *s, const struct store_service *v, size_t n, int64_t *id)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_SET_INSERT);
	int rc;

	if (st == NULL)
		return -1;
	sqlite_bind_int(st, ":n", (int64_t)n);
	rc = sqlite3_step(st);
	*id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite_reset(st);
	if (rc != SQLITE_ROW) {
		sqlite_log_error(s, SQL_SET_INSERT);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if ((st = sqlite_stmt(s, SQL_MEMBER_INSERT)) == NULL)
			return -1;
		sqlite_bind_int(st, ":set", *id);
		sqlite_bind_text(st, ":service", v[i].name);
		sqlite_bind_int(st, ":phase", v[i].phase);
		if (sqlite_step_done(s, st) < 0)
			return -1;
	}
	return 0;
}

int sqlite_service_set_id(struct sqlite_store *s, const struct store_service *svcs, size_t n,
			  int64_t *id)
{
	struct store_service *sorted = xcalloc(n ? n : 1, sizeof *sorted);
	int rc;

	memcpy(sorted, svcs, n * sizeof *svcs);
	qsort(sorted, n, sizeof *sorted, name_cmp);
	rc = find_set(s, sorted, n, id);
	if (rc == 0 && *id == 0)
		rc = insert_set(s, sorted, n, id);
	free(sorted);
	return rc;
}

int sqlite_set_configured(struct sqlite_store *s, const struct store_service *svcs, size_t n)
{
	sqlite3_stmt *st;
	int64_t id;

	if (sqlite_service_set_id(s, svcs, n, &id) < 0 ||
	    (st = sqlite_stmt(s, SQL_SET_CONFIGURED)) == NULL)
		return -1;
	sqlite_bind_int(st, ":set", id);
	return sqlite_step_done(s, st);
}

int sqlite_set_members(struct store *base, int64_t id, struct store_set *out)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_MEMBERS);
	int rc;

	if (st == NULL)
		return -1;
	sqlite_bind_int(st, ":set", id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		out->v = xreserve(out->v, &out->cap, out->n + 1, sizeof *out->v);
		out->v[out->n].name = sqlite_col_text(st, 0);
		out->v[out->n++].phase = sqlite3_column_int(st, 1);
	}
	sqlite_reset(st);
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, SQL_MEMBERS);
		return -1;
	}
	return 0;
}

/* The id of the configured set (*id 0: no config sync recorded yet). */
int sqlite_configured_id(struct store *base, int64_t *id)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_GET_CONFIGURED);
	int rc;

	*id = 0;
	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite_log_error(s, SQL_GET_CONFIGURED);
		return -1;
	}
	return 0;
}

/* One delete task (store_stale_ops.insert_task). */
static int insert_task(struct store *base, const char *job_id, const char *name, int phase,
		       int skipped, const char *reason, int64_t now)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_ADD_TASK);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":job", job_id);
	sqlite_bind_text(st, ":service", name);
	sqlite_bind_int(st, ":phase", phase);
	sqlite_bind_text(st, ":state", skipped ? "skipped" : "pending");
	sqlite_bind_text(st, ":reason", skipped ? reason : NULL);
	sqlite_bind_int(st, ":now", now);
	return sqlite_step_done(s, st);
}

static const struct store_stale_ops stale_ops = {
	.set_members = sqlite_set_members,
	.retired_reason = sqlite_retired_reason,
	.insert_task = insert_task,
	.event_append = sqlite_event_append,
};

int sqlite_job_set(struct store *base, const char *job_id, struct store_job_set *j)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_JOB_SET);
	int rc;

	memset(j, 0, sizeof *j);
	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":id", job_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (name == NULL || jobs_job_state_parse(name, &j->state) < 0)
			j->state = JOB_SCHEDULED;
		j->due_at = sqlite3_column_int64(st, 1);
		j->created_at = sqlite3_column_int64(st, 2);
		j->set_id = sqlite3_column_int64(st, 3);
	}
	sqlite_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		sqlite_log_error(s, SQL_JOB_SET);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	return rc == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERR;
}

/* The tasks of a snapshot that is the configured set (or while no config
 * sync was recorded): one per member, nothing to record, one statement. */
static int add_all_tasks(struct sqlite_store *s, const char *job_id, int64_t set_id, int64_t now)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_ADD_ALL_TASKS);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":job", job_id);
	sqlite_bind_int(st, ":set", set_id);
	sqlite_bind_int(st, ":now", now);
	return sqlite_step_in_rows(s, st) < 0 ? -1 : 0;
}

/* The tasks of a snapshot that is not the configured set conf_id. */
/* Drops the job's reference to set_id: 1 done, 0 when it moved meanwhile
 * (another writer created its tasks), -1 on error. */
static int leave_set(struct sqlite_store *s, const char *job_id, int64_t set_id)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_MATERIALIZED);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", job_id);
	sqlite_bind_int(st, ":set", set_id);
	if (sqlite_step_done(s, st) < 0)
		return -1;
	return sqlite3_changes(s->db) == 1;
}

int sqlite_materialize_tasks(struct sqlite_store *s, const char *job_id, int64_t now)
{
	struct store_job_set j;
	int64_t conf;
	int rc = sqlite_job_set(&s->base, job_id, &j);

	if (rc != STORE_OK)
		return rc == STORE_NOT_FOUND ? 0 : -1;
	if (sqlite_configured_id(&s->base, &conf) < 0 || (rc = leave_set(s, job_id, j.set_id)) < 0)
		return -1;
	if (rc == 0)
		return 0;
	if (conf == 0 || conf == j.set_id)
		return add_all_tasks(s, job_id, j.set_id, now);
	return store_add_stale_tasks(&s->base, &stale_ops, job_id, j.set_id, conf, now);
}

int sqlite_materialize_stale(struct sqlite_store *s, int64_t now, int *count)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_STALE_JOBS);
	char (*ids)[JOBS_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	int64_t conf;
	int rc;

	*count = 0;
	if (st == NULL || sqlite_configured_id(&s->base, &conf) < 0)
		return -1;
	if (conf == 0)
		return 0; /* no configured set recorded: nothing is stale */
	sqlite_bind_int(st, ":set", conf);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ids = xreserve(ids, &cap, n + 1, sizeof *ids);
		snprintf(ids[n++], JOBS_ID_LEN + 1, "%s", sqlite3_column_text(st, 0));
	}
	sqlite_reset(st);
	rc = rc == SQLITE_DONE ? 0 : -1;
	if (rc < 0)
		sqlite_log_error(s, SQL_STALE_JOBS);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = sqlite_materialize_tasks(s, ids[i], now);
	*count = (int)n;
	free(ids);
	return rc;
}
