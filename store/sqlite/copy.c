/*
 * copy.c - the SQLite side of store_copy (store/copy.c): telling two
 * handles on one file apart from two files, walking the portable tables
 * in one read snapshot, and loading rows into an empty store in one write
 * transaction. The statements are built from the table list (names from
 * that static list only, never from input) and prepared once per table.
 */
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A load in progress: the table rows are going to and its statement. */
struct sqlite_load {
	const struct store_table *t;
	sqlite3_stmt *insert;
	struct sqlite_hash_walk chain; /* the events loaded: the last one's id and hash */
};

/* The columns of the events table in the portable list (store/copy.c). */
enum { EV_ID = 0, EV_PREV = 6, EV_HASH = 7 };

static int is_events(const struct store_table *t)
{
	return strcmp(t->name, "events") == 0 && t->n_cols > EV_HASH &&
	       strcmp(t->cols[EV_PREV].name, "prev_hash") == 0 &&
	       strcmp(t->cols[EV_HASH].name, "hash") == 0;
}

int sqlite_same_store(struct store *a, struct store *b, int *same)
{
	struct stat sa, sb;

	if (stat(sqlite_of(a)->path, &sa) < 0 || stat(sqlite_of(b)->path, &sb) < 0)
		*same = strcmp(sqlite_of(a)->path, sqlite_of(b)->path) == 0;
	else
		*same = sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	return STORE_OK;
}

/* The rows of t this backend does not copy: the file's own bookkeeping. */
static const char *own_rows_filter(const struct store_table *t)
{
	return strcmp(t->name, "meta") == 0 ? " WHERE key <> '" SQLITE_META_CHECKED "'" : "";
}

/* Prepares the SQL in b (freed). NULL after keeping the error. */
static sqlite3_stmt *prepare(struct sqlite_store *s, struct buf *b)
{
	sqlite3_stmt *st = NULL;

	buf_append(b, "", 1);
	if (sqlite3_prepare_v2(s->db, b->data, -1, &st, NULL) != SQLITE_OK) {
		sqlite_log_error(s, b->data);
		st = NULL;
	}
	buf_free(b);
	return st;
}

/* SELECT count(*) or the columns of t's rows, in key order. */
static sqlite3_stmt *select_rows(struct sqlite_store *s, const struct store_table *t,
				 int count)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "SELECT ");
	for (int i = 0; i < t->n_cols && !count; i++)
		buf_printf(&b, "%s\"%s\"", i ? ", " : "", t->cols[i].name);
	buf_printf(&b, "%s FROM \"%s\"%s", count ? "count(*)" : "", t->name,
		   own_rows_filter(t));
	for (int i = 0; i < t->n_key && !count; i++)
		buf_printf(&b, "%s\"%s\"", i ? ", " : " ORDER BY ", t->cols[i].name);
	return prepare(s, &b);
}

/* Reads the row st is on; an event's hashes as hex text (the portable
 * form) whichever way this store keeps them (store/sqlite/events.c). */
static void read_row(sqlite3_stmt *st, const struct store_table *t, struct sqlite_hash_walk *w,
		     struct store_value *v)
{
	static const int cols[4] = { EV_ID, EV_PREV, EV_HASH, -1 };
	int events = is_events(t);

	/* the hashes first: reading a BLOB as text makes its type unknown */
	if (events) {
		sqlite_event_hashes(w, st, cols, &v[EV_PREV].text, &v[EV_HASH].text);
		if (v[EV_PREV].text == NULL)
			v[EV_PREV].text = ""; /* event id-1 is missing: a chain that won't verify */
		v[EV_PREV].null = v[EV_HASH].null = 0;
	}
	for (int i = 0; i < t->n_cols; i++) {
		if (events && (i == EV_PREV || i == EV_HASH))
			continue;
		v[i].null = sqlite3_column_type(st, i) == SQLITE_NULL;
		v[i].num = v[i].null || t->cols[i].type != STORE_COL_INT
			? 0 : sqlite3_column_int64(st, i);
		v[i].text = v[i].null || t->cols[i].type != STORE_COL_TEXT
			? NULL : (const char *)sqlite3_column_text(st, i);
	}
}

/* Walks one table. 0, 1 (cb stopped) or -1. */
static int walk_table(struct sqlite_store *s, const struct store_table *t, store_row_cb cb,
		      void *ctx)
{
	sqlite3_stmt *count = select_rows(s, t, 1), *rows = select_rows(s, t, 0);
	struct store_value *v = xcalloc((size_t)t->n_cols, sizeof *v);
	struct sqlite_hash_walk w = { 0 };
	int64_t total = 0;
	int rc = -1, step = SQLITE_DONE, stop = 0;

	if (count == NULL || rows == NULL || sqlite_step_int(s, count, 0, &total) < 0)
		goto done;
	while (!stop && (step = sqlite3_step(rows)) == SQLITE_ROW) {
		read_row(rows, t, &w, v);
		stop = cb(ctx, t, total, v);
	}
	if (sqlite_walk_end(s, rows, stop ? SQLITE_DONE : step) == 0)
		rc = stop ? 1 : 0;
done:
	sqlite3_finalize(count);
	sqlite3_finalize(rows);
	free(v);
	return rc;
}

int sqlite_rows_walk(struct store *base, const struct store_table *t, int n, store_row_cb cb,
		     void *ctx)
{
	struct sqlite_store *s = sqlite_of(base);
	int rc = 0;

	/* one read transaction: every table as of one moment (WAL) */
	if (sqlite_exec(s, "BEGIN") < 0)
		return STORE_ERR;
	for (int i = 0; i < n && rc == 0; i++)
		rc = walk_table(s, &t[i], cb, ctx);
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return rc < 0 ? STORE_ERR : STORE_OK;
}

/* 1 when t holds a row this backend would copy, 0 when not, -1. */
static int has_rows(struct sqlite_store *s, const struct store_table *t)
{
	struct buf b;
	sqlite3_stmt *st;
	int64_t any = 0;

	buf_init(&b);
	buf_printf(&b, "SELECT EXISTS (SELECT 1 FROM \"%s\"%s)", t->name, own_rows_filter(t));
	if ((st = prepare(s, &b)) == NULL)
		return -1;
	if (sqlite_step_int(s, st, 0, &any) < 0)
		any = -1;
	sqlite3_finalize(st);
	return (int)any;
}

int sqlite_load_begin(struct store *base, const struct store_table *t, int n)
{
	struct sqlite_store *s = sqlite_of(base);
	int any = 0;

	if (sqlite_begin(s) != STORE_OK)
		return STORE_ERR;
	for (int i = 0; i < n && any == 0; i++)
		if ((any = has_rows(s, &t[i])) > 0)
			store_set_error(base, STORE_E_OTHER, "not empty (its table %s has rows)",
					t[i].name);
	if (any != 0) {
		sqlite_rollback(s);
		return any > 0 ? STORE_REFUSED : STORE_ERR;
	}
	s->load = xcalloc(1, sizeof *s->load);
	return STORE_OK;
}

/* The INSERT of t's rows. NULL after keeping the error. */
static sqlite3_stmt *insert_rows(struct sqlite_store *s, const struct store_table *t)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "INSERT INTO \"%s\" (", t->name);
	for (int i = 0; i < t->n_cols; i++)
		buf_printf(&b, "%s\"%s\"", i ? ", " : "", t->cols[i].name);
	buf_puts(&b, ") VALUES (");
	for (int i = 0; i < t->n_cols; i++)
		buf_printf(&b, "%s?%d", i ? ", " : "", i + 1);
	buf_puts(&b, ")");
	return prepare(s, &b);
}

/* The 32 bytes of 64 hex digits; 0, or -1 when text is not that. */
static int unhex(const char *text, unsigned char out[UTIL_SHA256_LEN])
{
	static const char digits[] = "0123456789abcdef";
	const char *hi, *lo;

	if (text == NULL || strlen(text) != 2 * UTIL_SHA256_LEN)
		return -1;
	for (int i = 0; i < UTIL_SHA256_LEN; i++) {
		if ((hi = strchr(digits, text[2 * i])) == NULL || text[2 * i] == '\0' ||
		    (lo = strchr(digits, text[2 * i + 1])) == NULL || text[2 * i + 1] == '\0')
			return -1;
		out[i] = (unsigned char)((hi - digits) << 4 | (lo - digits));
	}
	return 0;
}

/* An event's hashes as events.c writes them (the hash as its bytes, the
 * prev_hash not repeated when it is the hash of the event loaded just
 * before); anything else stays the text it is. An SQLite rc. */
static int bind_event_hashes(struct sqlite_load *l, const struct store_value *row)
{
	struct sqlite_hash_walk *w = &l->chain;
	const char *pred = row[EV_ID].num == 1 ? store_genesis_hash
			 : w->last_id == row[EV_ID].num - 1 ? w->last : NULL;
	unsigned char md[UTIL_SHA256_LEN];
	int rc = SQLITE_OK;

	if (pred != NULL && row[EV_PREV].text != NULL && strcmp(pred, row[EV_PREV].text) == 0)
		rc = sqlite3_bind_zeroblob(l->insert, EV_PREV + 1, 0);
	if (rc == SQLITE_OK && unhex(row[EV_HASH].text, md) == 0)
		rc = sqlite3_bind_blob(l->insert, EV_HASH + 1, md, sizeof md, SQLITE_TRANSIENT);
	w->last_id = row[EV_ID].num;
	snprintf(w->last, sizeof w->last, "%s", row[EV_HASH].text ? row[EV_HASH].text : "");
	return rc;
}

int sqlite_load_row(struct store *base, const struct store_table *t,
		    const struct store_value *row)
{
	struct sqlite_store *s = sqlite_of(base);
	struct sqlite_load *l = s->load;
	int rc = SQLITE_OK;

	if (l->t != t) {
		sqlite3_finalize(l->insert);
		l->t = t;
		if ((l->insert = insert_rows(s, t)) == NULL)
			return STORE_ERR;
	}
	for (int i = 0; i < t->n_cols && rc == SQLITE_OK; i++)
		rc = row[i].null ? sqlite3_bind_null(l->insert, i + 1)
		   : t->cols[i].type == STORE_COL_INT
		   ? sqlite3_bind_int64(l->insert, i + 1, row[i].num)
		   : sqlite3_bind_text(l->insert, i + 1, row[i].text, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && is_events(t))
		rc = bind_event_hashes(l, row);
	if (rc != SQLITE_OK) {
		sqlite_log_error(s, sqlite3_sql(l->insert));
		return STORE_ERR;
	}
	return sqlite_step_done(s, l->insert) == 0 ? STORE_OK : STORE_ERR;
}

/* The loaded jobs, counted by state: job_states is this file's own (not
 * copied), and loaded rows are not new jobs (sqlite_jobs_created). */
static const char SQL_COUNT_LOADED[] =
	"INSERT INTO job_states (state, n) SELECT state, count(*) FROM jobs GROUP BY state"
	" ON CONFLICT (state) DO UPDATE SET n = excluded.n";

int sqlite_load_done(struct store *base, const struct store_table *t, int n)
{
	struct sqlite_store *s = sqlite_of(base);

	/* INTEGER PRIMARY KEY ids go on after the largest one by themselves */
	sqlite3_finalize(s->load->insert);
	s->load->insert = NULL;
	s->load->t = NULL;
	if (sqlite_exec(s, SQL_COUNT_LOADED) < 0)
		return STORE_ERR;
	return STORE_OK;
}

int sqlite_load_end(struct store *base, int commit)
{
	struct sqlite_store *s = sqlite_of(base);
	int rc = STORE_OK;

	if (s->load != NULL)
		sqlite3_finalize(s->load->insert);
	free(s->load);
	s->load = NULL;
	if (commit)
		rc = sqlite_commit(s);
	else
		sqlite_rollback(s);
	return rc;
}
