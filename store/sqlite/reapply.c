/*
 * reapply.c - tombstones (every purged tenant) and reapply: one service's
 * deletion scheduled again, as ordinary jobs of kind 'reapply', for every
 * tenant purged since a time, so that a service's backup restore cannot
 * resurrect erased data. The scheduler needs no special case: a reapply
 * job is 'scheduled', due now, and its one task is eligible now.
 */
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Only purge jobs' tombstones (a tombstone whose job row is gone still
 * counts): a reapply repeats a purge, never another reapply. */
#define TOMBSTONE_FROM \
	" FROM tombstones t LEFT JOIN jobs j ON j.id = t.job_id" \
	" WHERE t.purged_at >= :since AND (j.kind IS NULL OR j.kind = 'purge')"

static const char SQL_TOMBSTONES[] =
	"SELECT t.job_id, t.tenant_id, j.tenant_name, t.purged_at, t.services" TOMBSTONE_FROM
	" ORDER BY t.purged_at, t.job_id";

/* The latest purge of each tenant (SQLite: the bare columns come from the
 * row holding MAX). */
static const char SQL_LATEST_TOMBSTONES[] =
	"SELECT t.job_id, t.tenant_id, j.tenant_name, MAX(t.purged_at)" TOMBSTONE_FROM
	" GROUP BY t.tenant_id ORDER BY 4, 1";

static const char SQL_PENDING_REAPPLY[] =
	"SELECT j.id FROM jobs j JOIN tasks k ON k.job_id = j.id"
	" WHERE j.tenant_id = :tenant AND j.kind = 'reapply'"
	" AND j.state NOT IN ('succeeded','cancelled')"
	" AND k.service = :service AND k.kind = 'delete' LIMIT 1";

static const char SQL_INSERT_REAPPLY_JOB[] =
	"INSERT INTO jobs (id, tenant_id, tenant_name, kind, state, requested_by, reason,"
	" origin_job_id, created_at, due_at, deadline_at)"
	" VALUES (:id, :tenant, :name, 'reapply', 'scheduled', :by, :reason, :origin, :now,"
	" :now, :deadline)";

static const char SQL_INSERT_REAPPLY_TASK[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" VALUES (:job, :service, 'delete', :phase, 'pending', :now, :now)";

int sqlite_tombstones_list(struct store *base, int64_t since, store_tombstone_cb cb, void *ctx)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st = sqlite_stmt(s, SQL_TOMBSTONES);
	struct store_tombstone t;
	int rc = SQLITE_DONE, stop = 0;

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_int(st, ":since", since);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		t.job_id = (const char *)sqlite3_column_text(st, 0);
		t.tenant_id = (const char *)sqlite3_column_text(st, 1);
		t.tenant_name = (const char *)sqlite3_column_text(st, 2);
		t.purged_at = sqlite3_column_int64(st, 3);
		t.services = (const char *)sqlite3_column_text(st, 4);
		stop = cb(ctx, &t);
	}
	return sqlite_walk_end(s, st, stop ? SQLITE_DONE : rc);
}

/* A tenant to reapply to, read before any write. */
struct target {
	char origin[JOBS_ID_LEN + 1];
	char *tenant_id;
	char *tenant_name;
	int64_t purged_at;
};

static void targets_free(struct target *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].tenant_id);
		free(v[i].tenant_name);
	}
	free(v);
}

/* The latest tombstone of each tenant purged since `since`, into *out. */
static int read_targets(struct sqlite_store *s, int64_t since, struct target **out, size_t *n)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_LATEST_TOMBSTONES);
	struct target *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	sqlite_bind_int(st, ":since", since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *origin = sqlite3_column_text(st, 0);
		v = xreserve(v, &cap, len + 1, sizeof *v);
		snprintf(v[len].origin, sizeof v[len].origin, "%s",
			 origin ? (const char *)origin : "");
		v[len].tenant_id = sqlite_col_text(st, 1);
		v[len].tenant_name = sqlite_col_text(st, 2);
		v[len].purged_at = sqlite3_column_int64(st, 3);
		len++;
	}
	if (sqlite_walk_end(s, st, rc) < 0) {
		targets_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

/* 1 with id filled when the tenant has an unfinished reapply of service; 0; -1. */
static int find_pending(struct sqlite_store *s, const char *tenant, const char *service,
			char id[JOBS_ID_LEN + 1])
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_PENDING_REAPPLY);
	int rc;

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":tenant", tenant);
	sqlite_bind_text(st, ":service", service);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(id, JOBS_ID_LEN + 1, "%s", t ? (const char *)t : "");
		sqlite_reset(st);
		return 1;
	}
	if (rc != SQLITE_DONE)
		sqlite_log_error(s, SQL_PENDING_REAPPLY);
	sqlite_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Inserts the job row and its one task. */
static int insert_reapply(struct sqlite_store *s, const struct store_reapply_req *r,
			  const struct target *t, const char *id)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_INSERT_REAPPLY_JOB);

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, ":id", id);
	sqlite_bind_text(st, ":tenant", t->tenant_id);
	sqlite_bind_text(st, ":name", t->tenant_name);
	sqlite_bind_text(st, ":by", r->by);
	sqlite_bind_text(st, ":reason", r->reason);
	sqlite_bind_text(st, ":origin", t->origin);
	sqlite_bind_int(st, ":now", r->now);
	sqlite_bind_int(st, ":deadline", r->deadline_at);
	if (sqlite_step_done(s, st) < 0 || sqlite_jobs_created(s, 1) < 0 ||
	    (st = sqlite_stmt(s, SQL_INSERT_REAPPLY_TASK)) == NULL)
		return -1;
	sqlite_bind_text(st, ":job", id);
	sqlite_bind_text(st, ":service", r->service);
	sqlite_bind_int(st, ":phase", r->phase);
	sqlite_bind_int(st, ":now", r->now);
	return sqlite_step_done(s, st);
}

/* One tenant inside the open transaction: an existing pending job, or a new one. */
static int reapply_one(struct sqlite_store *s, const struct store_reapply_req *r,
		       const struct target *t, struct store_reapply_item *item)
{
	char *detail;
	int found, rc;

	memset(item, 0, sizeof *item);
	item->tenant_id = xstrdup(t->tenant_id);
	snprintf(item->origin_job_id, sizeof item->origin_job_id, "%s", t->origin);
	found = find_pending(s, t->tenant_id, r->service, item->job_id);
	if (found != 0)
		return found < 0 ? -1 : 0;
	item->created = 1;
	jobs_id_new(r->now, item->job_id);
	if (insert_reapply(s, r, t, item->job_id) < 0)
		return -1;
	detail = store_reapply_detail(r, item->job_id, t->origin, t->tenant_id, t->tenant_name,
				      t->purged_at);
	rc = sqlite_job_changed(s, item->job_id, "job.scheduled", detail, r->now, NULL);
	free(detail);
	return rc;
}

int sqlite_reapply(struct store *base, const struct store_reapply_req *r,
		   struct store_reapply_item **items, size_t *n)
{
	struct sqlite_store *s = sqlite_of(base);
	struct target *targets = NULL;
	struct store_reapply_item *v = NULL;
	size_t nt = 0;

	*items = NULL;
	*n = 0;
	if (sqlite_begin(s) != STORE_OK)
		goto fail;
	if (read_targets(s, r->since, &targets, &nt) < 0)
		goto fail;
	v = xcalloc(nt ? nt : 1, sizeof *v);
	for (size_t i = 0; i < nt; i++)
		if (reapply_one(s, r, &targets[i], &v[i]) < 0)
			goto fail;
	if (sqlite_commit(s) != STORE_OK)
		goto fail;
	targets_free(targets, nt);
	*items = v;
	*n = nt;
	return STORE_OK;
fail:
	sqlite_rollback(s);
	store_reapply_items_free(v, nt); /* calloc'ed: unused items are empty */
	targets_free(targets, nt);
	return STORE_ERR;
}
