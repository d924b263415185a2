/*
 * absent.c - services the store knows and the config lacks (DESIGN 3
 * "Which services a job covers"): their unfinished tasks wait, named
 * "service not in config", until the service comes back or an operator
 * retires it for good (`retire-service NAME --reason`), which skips them
 * with that reason. Nothing is skipped because a config was cut short.
 */
#include "store/sqlite/sched_int.h"
#include "jobs/service_detail.h"
#include "jobs/subject.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNFINISHED "('pending','waiting','in_flight','dead')"

/* The next service name after :prev (an index skip-scan done by hand). */
static const char SQL_NEXT_SERVICE[] =
	"SELECT service FROM tasks WHERE service > :prev ORDER BY service LIMIT 1";
static const char SQL_UNFINISHED_COUNT[] =
	"SELECT count(*) FROM tasks WHERE service = :svc AND state IN " UNFINISHED;
/* Jobs not started yet name their services in their snapshot only: the
 * services the snapshots name (a few rows), and how many such jobs cover
 * one of them, counted only for a service the config lacks (the count
 * walks every job not started: a million in a large backlog). */
static const char SQL_SNAPSHOT_SERVICES[] =
	"SELECT DISTINCT service FROM service_set_members ORDER BY service";
static const char SQL_SNAPSHOT_JOBS[] =
	"SELECT count(*) FROM service_set_members m JOIN jobs j ON j.service_set_id = m.set_id"
	" WHERE m.service = :svc AND j.state IN ('scheduled','held')";
static const char SQL_RETIRED[] =
	"SELECT reason FROM retired_services WHERE service = :svc";
static const char SQL_KNOWN[] =
	"SELECT EXISTS (SELECT 1 FROM tasks WHERE service = :svc)"
	" OR EXISTS (SELECT 1 FROM service_set_members WHERE service = :svc)";
static const char SQL_RETIRE[] =
	"INSERT INTO retired_services (service, reason, retired_by, retired_at)"
	" VALUES (:svc, :reason, :by, :now) ON CONFLICT (service) DO UPDATE SET"
	" reason = excluded.reason, retired_by = excluded.retired_by,"
	" retired_at = excluded.retired_at";
static const char SQL_RETIRABLE[] =
	"SELECT id, job_id, kind FROM tasks WHERE service = :svc"
	" AND state IN ('pending','waiting','dead')";
static const char SQL_SKIP_TASK[] =
	"UPDATE tasks SET state = 'skipped', skip_reason = :reason, next_attempt_at = NULL,"
	" updated_at = :now WHERE id = :id AND state IN ('pending','waiting','dead')";

/* The absent services found so far. */
struct absent_list {
	struct store_absent *v;
	size_t n, cap;
};

/* The entry of l for name, appended (zeros) when new. */
static struct store_absent *entry(struct absent_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].service, name) == 0)
			return &l->v[i];
	l->v = xreserve(l->v, &l->cap, l->n + 1, sizeof *l->v);
	memset(&l->v[l->n], 0, sizeof *l->v);
	l->v[l->n].service = xstrdup(name);
	return &l->v[l->n++];
}

/* One integer from sql with :svc bound; 0 or -1 (logged). */
static int count_of(struct sqlite_store *s, const char *sql, const char *svc, int64_t *out)
{
	sqlite3_stmt *st = sqlite_stmt(s, sql);

	*out = 0;
	if (st != NULL)
		sqlite_bind_text(st, ":svc", svc);
	return sqlite_step_int(s, st, 0, out);
}

/* The next service name with tasks after *prev (replaced); 1, 0 at the end, -1. */
static int next_service(struct sqlite_store *s, char **prev)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_NEXT_SERVICE);
	int rc;

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":prev", *prev);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		free(*prev);
		*prev = sqlite_col_text(st, 0);
	} else if (rc != SQLITE_DONE) {
		sqlite_log_error(s, SQL_NEXT_SERVICE);
	}
	sqlite_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Unfinished tasks of every service that has tasks and is not configured. */
static int absent_in_tasks(struct sqlite_store *s, const struct store_service *svcs,
			   size_t n_svcs, struct absent_list *l)
{
	char *prev = xstrdup("");
	int64_t count;
	int rc;

	while ((rc = next_service(s, &prev)) == 1) {
		if (store_is_configured(svcs, n_svcs, prev))
			continue;
		if (count_of(s, SQL_UNFINISHED_COUNT, prev, &count) < 0) {
			rc = -1;
			break;
		}
		if (count > 0)
			entry(l, prev)->tasks = count;
	}
	free(prev);
	return rc;
}

/* Adds the unconfigured, unretired services that jobs not started yet cover. */
static int absent_in_snapshots(struct sqlite_store *s, const struct store_service *svcs,
			       size_t n_svcs, struct absent_list *l)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_SNAPSHOT_SERVICES);
	char **named = NULL;
	size_t n = 0, cap = 0;
	int64_t retired = 0, jobs = 0;
	int rc;

	if (st == NULL)
		return -1;
	/* collected first: the counts run statements of their own */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		named = xreserve(named, &cap, n + 1, sizeof *named);
		named[n++] = sqlite_col_text(st, 0);
	}
	rc = sqlite_walk_end(s, st, rc);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (store_is_configured(svcs, n_svcs, named[i]))
			continue;
		if ((rc = sqlite_retired_reason(&s->base, named[i], NULL, &retired)) < 0 || retired)
			continue;
		if ((rc = count_of(s, SQL_SNAPSHOT_JOBS, named[i], &jobs)) == 0 && jobs > 0)
			entry(l, named[i])->jobs_not_started += jobs;
	}
	for (size_t i = 0; i < n; i++)
		free(named[i]);
	free(named);
	return rc;
}

int sqlite_absent_services(struct store *base, const struct store_service *svcs, size_t n_svcs,
			   struct store_absent **out, size_t *n)
{
	struct sqlite_store *s = sqlite_of(base);
	struct absent_list l = { 0 };

	*out = NULL;
	*n = 0;
	if (absent_in_tasks(s, svcs, n_svcs, &l) < 0 ||
	    absent_in_snapshots(s, svcs, n_svcs, &l) < 0) {
		store_absent_free(l.v, l.n);
		return STORE_ERR;
	}
	*out = l.v;
	*n = l.n;
	return STORE_OK;
}

int sqlite_retired_reason(struct store *base, const char *service, char **reason,
			  int64_t *found)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_RETIRED);
	int rc;

	*found = 0;
	if (reason != NULL)
		*reason = NULL;
	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":svc", service);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*found = 1;
		if (reason != NULL)
			*reason = sqlite_col_text(st, 0);
	} else if (rc != SQLITE_DONE) {
		sqlite_log_error(s, SQL_RETIRED);
	}
	sqlite_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* The shape of what is done to one task and its job. */
struct retire_row {
	int64_t id;
	char job_id[JOBS_ID_LEN + 1];
	char kind[16];
};

static int read_retirable(struct sqlite_store *s, const char *svc, struct retire_row **rows,
			  size_t *n)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_RETIRABLE);
	size_t cap = 0;
	int rc;

	*rows = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":svc", svc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct retire_row *r;
		*rows = xreserve(*rows, &cap, *n + 1, sizeof **rows);
		r = &(*rows)[(*n)++];
		r->id = sqlite3_column_int64(st, 0);
		snprintf(r->job_id, sizeof r->job_id, "%s", sqlite3_column_text(st, 1));
		snprintf(r->kind, sizeof r->kind, "%s", sqlite3_column_text(st, 2));
	}
	return sqlite_walk_end(s, st, rc);
}

/* One task skipped with the retirement's reason, and its task.skipped event. */
static int skip_task(struct sqlite_store *s, const struct retire_row *r, const char *svc,
		     const char *reason, const char *by, int64_t now)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_SKIP_TASK);
	char *d;
	int rc;

	if (st == NULL)
		return -1;
	sqlite_bind_int(st, ":id", r->id);
	sqlite_bind_text(st, ":reason", reason);
	sqlite_bind_int(st, ":now", now);
	if (sqlite_step_done(s, st) < 0)
		return -1;
	if (sqlite3_changes(s->db) != 1)
		return 0; /* finished meanwhile */
	d = jobs_detail_task_change(r->kind, reason, by);
	rc = sqlite_event_append(&s->base, r->job_id, now, "task.skipped", svc, d);
	free(d);
	return rc;
}

/* Inside the transaction: the row, the tasks, the events, the jobs. */
static int retire(struct sqlite_store *s, const char *svc, const char *reason, const char *by,
		  int64_t now, int64_t *skipped)
{
	struct store_idset jobs = { 0 };
	struct retire_row *rows = NULL;
	sqlite3_stmt *st = sqlite_stmt(s, SQL_RETIRE);
	size_t n = 0;
	char *d;
	int rc;

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":svc", svc);
	sqlite_bind_text(st, ":reason", reason);
	sqlite_bind_text(st, ":by", by);
	sqlite_bind_int(st, ":now", now);
	if (sqlite_step_done(s, st) < 0 || read_retirable(s, svc, &rows, &n) < 0) {
		free(rows);
		return -1;
	}
	rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = skip_task(s, &rows[i], svc, reason, by, now);
		store_idset_add(&jobs, rows[i].job_id);
	}
	d = jobs_detail_service_retired(reason, by, (int64_t)n);
	if (rc == 0)
		rc = sqlite_event_append(&s->base, NULL, now, "service.retired", svc, d);
	free(d);
	if (rc == 0)
		rc = sqlite_eval_jobs(s, &jobs, now, NULL);
	*skipped = (int64_t)n;
	store_idset_free(&jobs);
	free(rows);
	return rc;
}

int sqlite_retire_service(struct store *base, const char *service, const char *reason,
			  const char *by, int64_t now, int64_t *skipped)
{
	struct sqlite_store *s = sqlite_of(base);
	int64_t known = 0;

	*skipped = 0;
	if (sqlite_begin(s) != STORE_OK)
		return STORE_ERR;
	if (count_of(s, SQL_KNOWN, service, &known) < 0)
		goto fail;
	if (!known) {
		sqlite_rollback(s);
		return STORE_NOT_FOUND;
	}
	if (retire(s, service, reason, by, now, skipped) < 0)
		goto fail;
	if (sqlite_commit(s) != STORE_OK)
		return STORE_ERR;
	log_msg(LOG_WARN, "service.retired", "service %s retired: %lld unfinished tasks skipped",
		service, (long long)*skipped);
	return STORE_OK;
fail:
	sqlite_rollback(s);
	return STORE_ERR;
}
