/*
 * rows.c - jobs and tasks rows into records, reading one job, and the
 * announcement of a job's change (its event and webhook outbox row).
 */
#include "store/pg/pg_int.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_id(char dst[JOBS_ID_LEN + 1], const PGresult *r, int row, int col)
{
	const char *t = pg_str(r, row, col);

	snprintf(dst, JOBS_ID_LEN + 1, "%s", t ? t : "");
}

void pg_row_job(const PGresult *r, int i, struct job_record *j)
{
	const char *kind = pg_str(r, i, 3), *state = pg_str(r, i, 4), *held = pg_str(r, i, 5);

	memset(j, 0, sizeof *j);
	copy_id(j->id, r, i, 0);
	j->tenant_id = pg_text(r, i, 1);
	j->tenant_name = pg_text(r, i, 2);
	if (kind == NULL || jobs_job_kind_parse(kind, &j->kind) < 0)
		j->kind = JOB_KIND_PURGE;
	if (state == NULL || jobs_job_state_parse(state, &j->state) < 0)
		j->state = JOB_FAILED;
	if (held == NULL || jobs_job_state_parse(held, &j->held_from) < 0)
		j->held_from = JOB_SCHEDULED;
	j->hold_reason = pg_text(r, i, 6);
	j->requested_by = pg_text(r, i, 7);
	j->reason = pg_text(r, i, 8);
	j->origin_job_id = pg_text(r, i, 9);
	j->created_at = pg_int(r, i, 10, 0);
	j->due_at = pg_int(r, i, 11, 0);
	j->deadline_at = pg_int(r, i, 12, 0);
	j->started_at = pg_int(r, i, 13, 0);
	j->finished_at = pg_int(r, i, 14, 0);
	j->deadline_missed = (int)pg_int(r, i, 15, 0);
	j->total_deleted = pg_int(r, i, 16, 0);
	if (jobs_approval_parse(pg_str(r, i, 17), &j->approval) < 0)
		j->approval = JOB_APPROVAL_PENDING; /* unknown: never dispatched */
	j->approved_by = pg_text(r, i, 18);
	j->approved_at = pg_int(r, i, 19, 0);
	j->parent_id = pg_text(r, i, 20);
}

void pg_row_task(const PGresult *r, int i, struct task_record *t)
{
	const char *kind = pg_str(r, i, 3), *state = pg_str(r, i, 5);

	memset(t, 0, sizeof *t);
	t->id = pg_int(r, i, 0, 0);
	copy_id(t->job_id, r, i, 1);
	t->service = pg_text(r, i, 2);
	if (kind == NULL || jobs_task_kind_parse(kind, &t->kind) < 0)
		t->kind = TASK_KIND_DELETE;
	t->phase = (int)pg_int(r, i, 4, 1);
	if (state == NULL || jobs_task_state_parse(state, &t->state) < 0)
		t->state = TASK_DEAD;
	t->attempts = (int)pg_int(r, i, 6, 0);
	t->http_status = (int)pg_int(r, i, 7, 0);
	t->deleted_counts = pg_text(r, i, 8);
	t->total_deleted = pg_int(r, i, 9, -1);
	t->preview_before = pg_text(r, i, 10);
	t->before_total = pg_int(r, i, 11, -1);
	t->verified_after = pg_int(r, i, 12, -1);
	t->duration_ms = pg_int(r, i, 13, -1);
	t->last_error = pg_text(r, i, 14);
	t->skip_reason = pg_text(r, i, 15);
	t->lease_owner = pg_text(r, i, 16);
	t->lease_expires_at = pg_int(r, i, 17, 0);
	t->next_attempt_at = pg_int(r, i, 18, 0);
	t->first_attempt_at = pg_int(r, i, 19, 0);
	t->updated_at = pg_int(r, i, 20, 0);
}

static const char SQL_JOB_BY_ID[] = "SELECT " PG_JOB_COLS " FROM jobs WHERE id = $1";
/* FOR UPDATE cannot go with the aggregate of the column list: lock the
 * row first, then read it. */
static const char SQL_JOB_LOCK[] = "SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE";

int pg_job_by_id(struct pg_store *s, const char *job_id, int for_update,
		 struct job_record *out)
{
	struct pg_params p = { 0 };
	PGresult *r;
	int found;

	pg_p_text(&p, job_id);
	if (for_update) {
		if ((r = pg_run(s, SQL_JOB_LOCK, &p)) == NULL)
			return STORE_ERR;
		found = sym_PQntuples(r);
		sym_PQclear(r);
		if (!found)
			return STORE_NOT_FOUND;
	}
	if ((r = pg_run(s, SQL_JOB_BY_ID, &p)) == NULL)
		return STORE_ERR;
	found = sym_PQntuples(r) == 1;
	if (found)
		pg_row_job(r, 0, out);
	sym_PQclear(r);
	return found ? STORE_OK : STORE_NOT_FOUND;
}

int pg_job_get(struct store *base, const char *job_id, struct job_record *out)
{
	return pg_job_by_id(pg_of(base), job_id, 0, out);
}

static const char SQL_OUTBOX_APPEND[] =
	"INSERT INTO outbox (event_id, type, job_id, created_at, body)"
	" VALUES ($1, $2, $3, $4, $5)";
/* A url's place starts at the newest row: it is owed what comes after. */
static const char SQL_PLACE_INIT[] =
	"INSERT INTO meta (key, value)"
	" SELECT 'webhook.cursor:' || $1, COALESCE(MAX(id), 0)::text FROM outbox"
	" ON CONFLICT (key) DO NOTHING";

int pg_outbox_append(struct pg_store *s, const char *eid, const char *type,
		     const char *job_id, const char *body, int64_t now)
{
	struct pg_params p = { 0 };

	if (!store_outbox_wanted(&s->base))
		return 0;
	if (pg_outbox_guard(s) < 0) /* before the id is drawn: store/pg/outbox.c */
		return -1;
	/* Before the row: a url new to the outbox is owed this row on. */
	for (size_t i = 0; i < s->base.n_webhook_urls; i++) {
		struct pg_params u = { 0 };

		pg_p_text(&u, s->base.webhook_urls[i]);
		if (pg_run_changes(s, SQL_PLACE_INIT, &u) < 0)
			return -1;
	}
	pg_p_text(&p, eid);
	pg_p_text(&p, type);
	pg_p_text(&p, job_id);
	pg_p_int(&p, now);
	pg_p_text(&p, body);
	return pg_run_changes(s, SQL_OUTBOX_APPEND, &p) < 0 ? -1 : 0;
}

int pg_job_changed(struct pg_store *s, const char *job_id, const char *type,
		   const char *detail, int64_t now, struct job_record *out)
{
	struct job_record j;
	int rc;

	if (pg_job_by_id(s, job_id, 0, &j) != STORE_OK)
		return -1;
	rc = pg_event_append(&s->base, job_id, now, type, NULL, detail);
	if (rc == 0 && store_outbox_wanted(&s->base)) {
		char eid[JOBS_ID_LEN + 1];
		char *body;

		jobs_id_new(now, eid);
		body = jobs_outbox_body(eid, type, now, &j);
		rc = pg_outbox_append(s, eid, type, j.id, body, now);
		free(body);
	}
	if (out != NULL && rc == 0)
		*out = j;
	else
		jobs_job_record_clear(&j);
	return rc;
}
