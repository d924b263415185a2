/*
 * db.c - the statement cache, binding helpers, transactions, row
 * readers, and the announcement of a job's change (its event and webhook
 * outbox row). Opening a store: store/sqlite/open.c; the event chain:
 * store/sqlite/events.c.
 */
#include "store/sqlite/sqlite_int.h"
#include "jobs/timefmt.h"
#include "util/log.h"
#include "util/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sqlite_keep_error(struct sqlite_store *s, int rc, const char *msg)
{
	const char *phrase = sqlite_error_phrase(s->db, rc);

	if (phrase != NULL)
		store_set_error(&s->base, STORE_E_FILE, "%s", phrase);
	else
		store_set_error(&s->base,
				(rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED
				? STORE_E_BUSY : STORE_E_OTHER,
				"%s", msg ? msg : sqlite3_errmsg(s->db));
}

void sqlite_log_error(struct sqlite_store *s, const char *what)
{
	struct log_line *l = log_start(LOG_ERROR, "store.error");

	sqlite_keep_error(s, sqlite3_extended_errcode(s->db), NULL);
	log_str(l, "database", s->path);
	log_str(l, "sql", what);
	log_str(l, "error", sqlite3_errmsg(s->db));
	log_int(l, "code", sqlite3_extended_errcode(s->db));
	log_done(l);
}

sqlite3_stmt *sqlite_stmt(struct sqlite_store *s, const char *sql)
{
	for (int i = 0; i < s->n_cache; i++)
		if (s->cache[i].sql == sql)
			return s->cache[i].st;
	if (s->n_cache == STORE_STMT_CACHE) {
		log_msg(LOG_ERROR, "store.error", "statement cache full");
		return NULL;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
	    SQLITE_OK) {
		sqlite_log_error(s, sql);
		return NULL;
	}
	s->cache[s->n_cache].sql = sql;
	s->cache[s->n_cache].st = st;
	s->n_cache++;
	return st;
}

void sqlite_reset(sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/* A bind that cannot be done is a bug in the caller: abort, naming it. */
static void bind_failed(sqlite3_stmt *st, const char *name, const char *why)
{
	fprintf(stderr, "tenantdel: cannot bind %s (%s) in: %s\n", name, why, sqlite3_sql(st));
	abort();
}

/* By position: a statement of many rows (16 jobs, 16 events) binds each
 * row's parameters at its offset. */
static void bind_at_check(sqlite3_stmt *st, int index, int rc)
{
	char name[24];

	if (rc == SQLITE_OK)
		return;
	snprintf(name, sizeof name, "parameter %d", index);
	bind_failed(st, name, sqlite3_errstr(rc));
}

void sqlite_bind_text_at(sqlite3_stmt *st, int index, const char *value)
{
	bind_at_check(st, index, value == NULL ? sqlite3_bind_null(st, index)
					       : sqlite3_bind_text(st, index, value, -1,
								   SQLITE_TRANSIENT));
}

void sqlite_bind_int_at(sqlite3_stmt *st, int index, int64_t value)
{
	bind_at_check(st, index, sqlite3_bind_int64(st, index, value));
}

void sqlite_bind_blob_at(sqlite3_stmt *st, int index, const void *p, size_t n)
{
	bind_at_check(st, index, sqlite3_bind_blob64(st, index, p, n, SQLITE_TRANSIENT));
}

/*
 * A parameter's index by name. sqlite3_bind_parameter_index compares the
 * name with each of the statement's in turn (~240 instructions a bind, some
 * 40 binds a task in run --once). The index found last for a (statement,
 * name) pair is remembered in a small direct-mapped table and used only
 * when the statement's parameter at that index has that very name, so a
 * stale slot (a statement freed, another at its address; a name buffer
 * reused) is never trusted: it is looked up again. A table a thread: the
 * engine's loop and its recording thread bind on one connection, in turns.
 */
#define BIND_SLOTS 512

static int bind_index(sqlite3_stmt *st, const char *name)
{
	static _Thread_local struct {
		const sqlite3_stmt *st;
		const char *name;
		int index;
	} slots[BIND_SLOTS];
	size_t h = (((uintptr_t)st >> 4) * 31u + ((uintptr_t)name >> 2)) % BIND_SLOTS;
	const char *at;
	int i;

	if (slots[h].st == st && slots[h].name == name) {
		at = sqlite3_bind_parameter_name(st, slots[h].index);
		if (at != NULL && strcmp(at, name) == 0)
			return slots[h].index;
	}
	i = sqlite3_bind_parameter_index(st, name);
	if (i == 0)
		bind_failed(st, name, "no such parameter");
	slots[h].st = st;
	slots[h].name = name;
	slots[h].index = i;
	return i;
}

static void bind_check(sqlite3_stmt *st, const char *name, int rc)
{
	if (rc != SQLITE_OK)
		bind_failed(st, name, sqlite3_errstr(rc));
}

void sqlite_bind_text(sqlite3_stmt *st, const char *name, const char *value)
{
	int i = bind_index(st, name);

	if (value == NULL)
		bind_check(st, name, sqlite3_bind_null(st, i));
	else
		bind_check(st, name, sqlite3_bind_text(st, i, value, -1, SQLITE_TRANSIENT));
}

void sqlite_bind_blob(sqlite3_stmt *st, const char *name, const void *p, size_t n)
{
	bind_check(st, name, sqlite3_bind_blob64(st, bind_index(st, name), p, n,
						 SQLITE_TRANSIENT));
}

void sqlite_bind_int(sqlite3_stmt *st, const char *name, int64_t value)
{
	bind_check(st, name, sqlite3_bind_int64(st, bind_index(st, name), value));
}

void sqlite_bind_null(sqlite3_stmt *st, const char *name)
{
	bind_check(st, name, sqlite3_bind_null(st, bind_index(st, name)));
}

void sqlite_bind_opt_int(sqlite3_stmt *st, const char *name, int64_t value, int64_t none)
{
	if (value == none)
		sqlite_bind_null(st, name);
	else
		sqlite_bind_int(st, name, value);
}

int sqlite_step_done(struct sqlite_store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		sqlite_log_error(s, sqlite3_sql(st));
		sqlite_reset(st);
		return -1;
	}
	sqlite_reset(st);
	return 0;
}

int sqlite_step_int(struct sqlite_store *s, sqlite3_stmt *st, int64_t none, int64_t *v)
{
	if (st == NULL)
		return -1;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite_log_error(s, sqlite3_sql(st));
		sqlite_reset(st);
		return -1;
	}
	*v = sqlite_col_int(st, 0, none);
	sqlite_reset(st);
	return 0;
}

int sqlite_walk_end(struct sqlite_store *s, sqlite3_stmt *st, int rc)
{
	if (rc != SQLITE_DONE)
		sqlite_log_error(s, sqlite3_sql(st));
	sqlite_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int sqlite_step_changes(struct sqlite_store *s, sqlite3_stmt *st)
{
	if (sqlite_step_done(s, st) < 0)
		return -1;
	return sqlite3_changes(s->db);
}

int sqlite_id_of(struct sqlite_store *s, const char *sql, const char *key, const char *value,
		 char id[JOBS_ID_LEN + 1])
{
	sqlite3_stmt *st = sqlite_stmt(s, sql);
	int rc;

	if (st == NULL)
		return -1;
	sqlite_bind_text(st, key, value);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(id, JOBS_ID_LEN + 1, "%s", sqlite3_column_text(st, 0));
	else if (rc != SQLITE_DONE)
		sqlite_log_error(s, sql);
	sqlite_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int sqlite_step_in_rows(struct sqlite_store *s, sqlite3_stmt *st)
{
	int skip = sqlite3_bind_parameter_index(st, ":skip"), n, total = 0;

	sqlite_bind_int(st, ":rows", SQLITE_ROWS_A_STATEMENT);
	do {
		if (skip > 0)
			bind_check(st, ":skip", sqlite3_bind_int(st, skip, total));
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite_log_error(s, sqlite3_sql(st));
			sqlite_reset(st);
			return -1;
		}
		n = sqlite3_changes(s->db);
		total += n;
		sqlite3_reset(st); /* the other parameters stay bound */
	} while (n == SQLITE_ROWS_A_STATEMENT);
	sqlite_reset(st);
	return total;
}

int sqlite_exec(struct sqlite_store *s, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		struct log_line *l = log_start(LOG_ERROR, "store.error");
		sqlite_keep_error(s, rc, msg);
		log_str(l, "database", s->path);
		log_str(l, "sql", sql);
		log_str(l, "error", msg ? msg : sqlite3_errmsg(s->db));
		log_done(l);
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

char *sqlite_col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	if (t == NULL)
		return NULL;
	return xstrndup((const char *)t, (size_t)sqlite3_column_bytes(st, col));
}

int64_t sqlite_col_int(sqlite3_stmt *st, int col, int64_t null_value)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return null_value;
	return sqlite3_column_int64(st, col);
}

static void copy_id(char dst[JOBS_ID_LEN + 1], sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, JOBS_ID_LEN + 1, "%s", t ? (const char *)t : "");
}

void sqlite_row_job(sqlite3_stmt *st, struct job_record *j)
{
	const char *kind = (const char *)sqlite3_column_text(st, 3);
	const char *state = (const char *)sqlite3_column_text(st, 4);
	const char *held = (const char *)sqlite3_column_text(st, 5);

	memset(j, 0, sizeof *j);
	copy_id(j->id, st, 0);
	j->tenant_id = sqlite_col_text(st, 1);
	j->tenant_name = sqlite_col_text(st, 2);
	if (kind == NULL || jobs_job_kind_parse(kind, &j->kind) < 0)
		j->kind = JOB_KIND_PURGE;
	if (state == NULL || jobs_job_state_parse(state, &j->state) < 0)
		j->state = JOB_FAILED;
	if (held == NULL || jobs_job_state_parse(held, &j->held_from) < 0)
		j->held_from = JOB_SCHEDULED;
	j->hold_reason = sqlite_col_text(st, 6);
	j->requested_by = sqlite_col_text(st, 7);
	j->reason = sqlite_col_text(st, 8);
	j->origin_job_id = sqlite_col_text(st, 9);
	j->created_at = sqlite_col_int(st, 10, 0);
	j->due_at = sqlite_col_int(st, 11, 0);
	j->deadline_at = sqlite_col_int(st, 12, 0);
	j->started_at = sqlite_col_int(st, 13, 0);
	j->finished_at = sqlite_col_int(st, 14, 0);
	j->deadline_missed = (int)sqlite_col_int(st, 15, 0);
	j->total_deleted = sqlite_col_int(st, 16, 0);
	if (jobs_approval_parse((const char *)sqlite3_column_text(st, 17), &j->approval) < 0)
		j->approval = JOB_APPROVAL_PENDING; /* unknown: never dispatched */
	j->approved_by = sqlite_col_text(st, 18);
	j->approved_at = sqlite_col_int(st, 19, 0);
	j->parent_id = sqlite_col_text(st, 20);
}

void sqlite_row_task(sqlite3_stmt *st, struct task_record *t)
{
	const char *kind = (const char *)sqlite3_column_text(st, 3);
	const char *state = (const char *)sqlite3_column_text(st, 5);

	memset(t, 0, sizeof *t);
	t->id = sqlite3_column_int64(st, 0);
	copy_id(t->job_id, st, 1);
	t->service = sqlite_col_text(st, 2);
	if (kind == NULL || jobs_task_kind_parse(kind, &t->kind) < 0)
		t->kind = TASK_KIND_DELETE;
	t->phase = (int)sqlite_col_int(st, 4, 1);
	if (state == NULL || jobs_task_state_parse(state, &t->state) < 0)
		t->state = TASK_DEAD;
	t->attempts = (int)sqlite_col_int(st, 6, 0);
	t->http_status = (int)sqlite_col_int(st, 7, 0);
	t->deleted_counts = sqlite_col_text(st, 8);
	t->total_deleted = sqlite_col_int(st, 9, -1);
	t->preview_before = sqlite_col_text(st, 10);
	t->before_total = sqlite_col_int(st, 11, -1);
	t->verified_after = sqlite_col_int(st, 12, -1);
	t->duration_ms = sqlite_col_int(st, 13, -1);
	t->last_error = sqlite_col_text(st, 14);
	t->skip_reason = sqlite_col_text(st, 15);
	t->lease_owner = sqlite_col_text(st, 16);
	t->lease_expires_at = sqlite_col_int(st, 17, 0);
	t->next_attempt_at = sqlite_col_int(st, 18, 0);
	t->first_attempt_at = sqlite_col_int(st, 19, 0);
	t->updated_at = sqlite_col_int(st, 20, 0);
}

static const char SQL_JOB_BY_ID[] = "SELECT " STORE_JOB_COLS " FROM jobs WHERE id = :id";

int sqlite_job_by_id(struct sqlite_store *s, const char *job_id, struct job_record *out)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_JOB_BY_ID);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	sqlite_bind_text(st, ":id", job_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sqlite_row_job(st, out);
		sqlite_reset(st);
		return STORE_OK;
	}
	if (rc != SQLITE_DONE)
		sqlite_log_error(s, SQL_JOB_BY_ID);
	sqlite_reset(st);
	return rc == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERR;
}

/* ---- transactions ---- */

int sqlite_begin(struct sqlite_store *s)
{
	static const char SQL[] = "BEGIN IMMEDIATE";
	sqlite3_stmt *st = sqlite_stmt(s, SQL);

	if (st == NULL || sqlite_step_done(s, st) < 0)
		return STORE_ERR;
	s->in_tx = 1;
	s->tip.loaded = 0;
	return STORE_OK;
}

int sqlite_commit(struct sqlite_store *s)
{
	static const char SQL[] = "COMMIT";
	sqlite3_stmt *st = sqlite_stmt(s, SQL);

	if (st == NULL || sqlite_step_done(s, st) < 0) {
		sqlite_rollback(s);
		return STORE_ERR;
	}
	s->in_tx = 0;
	s->tip.loaded = 0;
	sqlite_wal_upkeep(s);
	return STORE_OK;
}

void sqlite_rollback(struct sqlite_store *s)
{
	if (sqlite3_get_autocommit(s->db) == 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_tx = 0;
	s->tip.loaded = 0;
}

/* ---- job-level events and their webhook ---- */

/* The webhook outbox row of a job-level event about j. 0 or -1. */
static int outbox_append(struct sqlite_store *s, const char *type, const struct job_record *j,
			 int64_t now)
{
	char eid[JOBS_ID_LEN + 1];
	char *body;
	int rc;

	if (!store_outbox_wanted(&s->base))
		return 0;
	jobs_id_new(now, eid);
	body = jobs_outbox_body(eid, type, now, j);
	rc = sqlite_outbox_append(s, eid, type, j->id, body, now);
	free(body);
	return rc;
}

int sqlite_job_changed(struct sqlite_store *s, const char *job_id, const char *type,
		       const char *detail, int64_t now, struct job_record *out)
{
	struct job_record j;
	int rc;

	if (sqlite_job_by_id(s, job_id, &j) != STORE_OK)
		return -1;
	rc = sqlite_event_append(&s->base, job_id, now, type, NULL, detail);
	if (rc == 0)
		rc = outbox_append(s, type, &j, now);
	if (out != NULL && rc == 0)
		*out = j;
	else
		jobs_job_record_clear(&j);
	return rc;
}
