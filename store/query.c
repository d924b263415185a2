/*
 * query.c - listing jobs and reading the audit trail. Rows are streamed to
 * a callback straight from the statement, so a listing of a million jobs
 * costs one row of memory.
 */
#include "store/store_int.h"
#include "util/log.h"
#include "util/json.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

#define ACTIVE "('scheduled','running','failed','held')"

/* Filters every listing applies; the leading clause of each query below
 * picks the index (tenant, state/due, or the id order itself). */
#define LIST_FILTERS \
	" AND (:state IS NULL OR jobs.state = :state)" \
	" AND (:tenant IS NULL OR jobs.tenant_id = :tenant)" \
	" AND (:due IS NULL OR (jobs.due_at <= :due AND jobs.state IN " ACTIVE "))" \
	" AND (:overdue IS NULL OR (jobs.deadline_at < :overdue AND jobs.state IN " ACTIVE "))"

/* One tenant: few rows, sorted in memory either way. */
static const char SQL_LIST_TENANT[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.tenant_id = :tenant" LIST_FILTERS
	" ORDER BY CASE WHEN :due IS NULL THEN 0 ELSE jobs.due_at END,"
	" CASE WHEN :due IS NULL THEN jobs.id END DESC, jobs.id LIMIT :limit";
/* What starts purging soon: jobs_by_state_due, soonest first. */
static const char SQL_LIST_DUE[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.state IN " ACTIVE
	" AND jobs.due_at <= :due" LIST_FILTERS " ORDER BY jobs.due_at, jobs.id LIMIT :limit";
static const char SQL_LIST_STATE[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.state = :state" LIST_FILTERS
	" ORDER BY jobs.id DESC LIMIT :limit";
static const char SQL_LIST_OVERDUE[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE jobs.state IN " ACTIVE
	" AND jobs.deadline_at < :overdue" LIST_FILTERS " ORDER BY jobs.id DESC LIMIT :limit";
/* Everything, newest first: the id index walked backwards (ids are time-ordered). */
static const char SQL_LIST_ALL[] =
	"SELECT " STORE_JOB_COLS " FROM jobs WHERE 1" LIST_FILTERS
	" ORDER BY jobs.id DESC LIMIT :limit";

#define EVENT_COLS "e.id, e.job_id, e.at, e.type, e.service, e.detail, e.prev_hash, e.hash"
static const char SQL_JOB_EVENTS[] =
	"SELECT " EVENT_COLS ", (SELECT p.hash FROM events p WHERE p.id = e.id - 1)"
	" FROM events e WHERE e.job_id = :job ORDER BY e.id";
static const char SQL_ALL_EVENTS[] = "SELECT " EVENT_COLS " FROM events e ORDER BY e.id";

static const char GENESIS[] =
	"0000000000000000000000000000000000000000000000000000000000000000";

static const char *pick_list_sql(const struct store_list_filter *f)
{
	if (f->tenant_id != NULL)
		return SQL_LIST_TENANT;
	if (f->due_before > 0)
		return SQL_LIST_DUE;
	if (f->state != NULL)
		return SQL_LIST_STATE;
	if (f->overdue)
		return SQL_LIST_OVERDUE;
	return SQL_LIST_ALL;
}

static int bind_list(sqlite3_stmt *st, const struct store_list_filter *f)
{
	if (store_bind_text(st, ":state", f->state) < 0 ||
	    store_bind_text(st, ":tenant", f->tenant_id) < 0 ||
	    store_bind_opt_int(st, ":due", f->due_before, 0) < 0 ||
	    (f->overdue ? store_bind_int(st, ":overdue", f->now)
			: store_bind_null(st, ":overdue")) < 0 ||
	    store_bind_int(st, ":limit", f->limit > 0 ? f->limit : -1) < 0)
		return -1;
	return 0;
}

/* Jobs matching f, streamed to cb; see store.h. */
int store_job_list(struct store *s, const struct store_list_filter *f, store_job_cb cb,
		   void *ctx)
{
	const char *sql = pick_list_sql(f);
	sqlite3_stmt *st = store_stmt(s, sql);
	struct job_record j;
	int rc = SQLITE_DONE, stop = 0;

	if (st == NULL)
		return STORE_ERR;
	if (bind_list(st, f) < 0) {
		store_reset(st);
		return STORE_ERR;
	}
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_read_job(st, &j);
		stop = cb(ctx, &j);
		jobs_job_record_clear(&j);
	}
	if (!stop && rc != SQLITE_DONE) {
		store_log_error(s, sql);
		store_reset(st);
		return STORE_ERR;
	}
	store_reset(st);
	return STORE_OK;
}

/* Points ev's strings into the current row (valid until the next step). */
static void read_event(sqlite3_stmt *st, struct store_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->id = sqlite3_column_int64(st, 0);
	ev->job_id = (char *)sqlite3_column_text(st, 1);
	ev->at = sqlite3_column_int64(st, 2);
	ev->type = (char *)sqlite3_column_text(st, 3);
	ev->service = (char *)sqlite3_column_text(st, 4);
	ev->detail = (char *)sqlite3_column_text(st, 5);
	ev->prev_hash = (char *)sqlite3_column_text(st, 6);
	ev->hash = (char *)sqlite3_column_text(st, 7);
}

/*
 * 1 when ev's hash matches its content and its prev_hash matches pred (the
 * hash of event id-1; NULL when that event is missing). Else 0 and why.
 */
static int event_ok(const struct store_event *ev, const char *pred, char *why, size_t whylen)
{
	char h[STORE_HASH_HEX];

	if (ev->id == 1)
		pred = GENESIS;
	store_event_hash(ev->prev_hash, ev->id, ev->job_id, ev->at, ev->type, ev->service,
			 ev->detail, h);
	if (ev->hash == NULL || strcmp(h, ev->hash) != 0) {
		snprintf(why, whylen, "event %lld: its hash does not match its content",
			 (long long)ev->id);
		return 0;
	}
	if (pred == NULL) {
		snprintf(why, whylen, "event %lld: event %lld is missing", (long long)ev->id,
			 (long long)ev->id - 1);
		return 0;
	}
	if (ev->prev_hash == NULL || strcmp(pred, ev->prev_hash) != 0) {
		snprintf(why, whylen, "event %lld: prev_hash does not match event %lld",
			 (long long)ev->id, (long long)ev->id - 1);
		return 0;
	}
	return 1;
}

/* The job's events in id order, each with chain_ok checked. */
int store_events_list(struct store *s, const char *job_id, store_event_cb cb, void *ctx)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_EVENTS);
	struct store_event ev;
	char why[160];
	int rc = SQLITE_DONE, stop = 0;

	if (st == NULL || store_bind_text(st, ":job", job_id) < 0) {
		store_reset(st);
		return STORE_ERR;
	}
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_event(st, &ev);
		ev.chain_ok = event_ok(&ev, (const char *)sqlite3_column_text(st, 8), why,
				       sizeof why);
		stop = cb(ctx, &ev);
	}
	if (!stop && rc != SQLITE_DONE) {
		store_log_error(s, SQL_JOB_EVENTS);
		store_reset(st);
		return STORE_ERR;
	}
	store_reset(st);
	return STORE_OK;
}

/* Walks the whole chain in id order; see store.h. */
int store_events_verify(struct store *s, int64_t *first_bad, char *why, size_t whylen,
			int64_t *count, char head[65])
{
	sqlite3_stmt *st = store_stmt(s, SQL_ALL_EVENTS);
	char prev[STORE_HASH_HEX];
	int64_t prev_id = 0;
	struct store_event ev;
	int rc;

	*first_bad = 0;
	*count = 0;
	head[0] = '\0';
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (st == NULL)
		return STORE_ERR;
	snprintf(prev, sizeof prev, "%s", GENESIS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char msg[160];
		read_event(st, &ev);
		(*count)++;
		if (*first_bad == 0 &&
		    !event_ok(&ev, ev.id == prev_id + 1 ? prev : NULL, msg, sizeof msg)) {
			*first_bad = ev.id;
			if (why != NULL)
				snprintf(why, whylen, "%s", msg);
		}
		snprintf(prev, sizeof prev, "%s", ev.hash ? ev.hash : "");
		prev_id = ev.id;
	}
	if (rc != SQLITE_DONE) {
		store_log_error(s, SQL_ALL_EVENTS);
		store_reset(st);
		return STORE_ERR;
	}
	store_reset(st);
	snprintf(head, 65, "%s", prev_id > 0 ? prev : "");
	return STORE_OK;
}

cJSON *store_event_render(const struct store_event *ev)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *detail = json_parse_exact(ev->detail);
	char at[TIMEFMT_TIME_LEN];

	timefmt_format_time(ev->at, at);
	cJSON_AddNumberToObject(o, "id", (double)ev->id);
	jobs_json_add_str(o, "job_id", ev->job_id);
	cJSON_AddStringToObject(o, "at", at);
	cJSON_AddStringToObject(o, "type", ev->type ? ev->type : "");
	jobs_json_add_str(o, "service", ev->service);
	cJSON_AddItemToObject(o, "detail", detail ? detail : cJSON_CreateObject());
	cJSON_AddStringToObject(o, "prev_hash", ev->prev_hash ? ev->prev_hash : "");
	cJSON_AddStringToObject(o, "hash", ev->hash ? ev->hash : "");
	cJSON_AddBoolToObject(o, "chain_ok", ev->chain_ok);
	return o;
}
