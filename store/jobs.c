/*
 * jobs.c - scheduling jobs and reading them back: store_schedule,
 * store_job_get, store_job_tasks. The operator transitions are in
 * store/transitions.c, listings and the audit trail in store/query.c.
 */
#include "store/store_int.h"
#include "jobs/timefmt.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Bulk scheduling is set-based: the batch is staged in TEMP tables (plain,
 * unindexed, private to this connection), then one INSERT ... SELECT
 * creates every job (and one every suspend task, when a service has a
 * suspend_url). A job's delete tasks are not written now: the job refers
 * to the shared snapshot of the services in force (service_sets) and its
 * tasks are created when it starts (store_materialize_tasks), so a batch
 * writes one row per job instead of one per job and service.
 */
static const char SQL_STAGE_TABLES[] =
	"CREATE TEMP TABLE IF NOT EXISTS schedule_stage (seq INTEGER PRIMARY KEY, id TEXT,"
	" tenant_id TEXT, tenant_name TEXT, requested_by TEXT, reason TEXT, due_at INTEGER,"
	" deadline_at INTEGER);"
	"CREATE TEMP TABLE IF NOT EXISTS schedule_suspends (seq INTEGER PRIMARY KEY,"
	" service TEXT, phase INTEGER);"
	"DELETE FROM temp.schedule_stage; DELETE FROM temp.schedule_suspends;";

static const char SQL_STAGE_JOB[] =
	"INSERT INTO temp.schedule_stage (seq, id, tenant_id, tenant_name, requested_by, reason,"
	" due_at, deadline_at) VALUES (:seq, :id, :tenant, :name, :by, :reason, :due, :deadline)";

static const char SQL_STAGE_SUSPEND[] =
	"INSERT INTO temp.schedule_suspends (service, phase) VALUES (:service, :phase)";

/* ON CONFLICT DO NOTHING: the partial unique index jobs_one_active_purge
 * turns a second active purge of one tenant (already stored, or earlier in
 * this batch) into "no row inserted". */
static const char SQL_INSERT_JOBS[] =
	"INSERT INTO jobs (id, tenant_id, tenant_name, kind, state, requested_by, reason,"
	" created_at, due_at, deadline_at, service_set_id)"
	" SELECT id, tenant_id, tenant_name, 'purge', 'scheduled', requested_by, reason, :now,"
	" due_at, deadline_at, :set FROM temp.schedule_stage WHERE 1 ORDER BY seq"
	" ON CONFLICT DO NOTHING";

/* Suspend tasks (due now: they run inside the window) of the jobs that were
 * created: a staged id exists in jobs only then. */
static const char SQL_INSERT_SUSPENDS[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, next_attempt_at, updated_at)"
	" SELECT st.id, sv.service, 'suspend', sv.phase, 'pending', :now, :now"
	" FROM temp.schedule_stage st JOIN jobs ON jobs.id = st.id"
	" CROSS JOIN temp.schedule_suspends sv ORDER BY st.seq, sv.seq";

/* Each staged job in order, with whether it was created or the tenant's
 * active job instead. */
static const char SQL_STAGE_RESULT[] =
	"SELECT st.id, jobs.id IS NOT NULL, CASE WHEN jobs.id IS NULL THEN"
	" (SELECT a.id FROM jobs a WHERE a.tenant_id = st.tenant_id AND a.kind = 'purge'"
	"  AND a.state NOT IN ('succeeded','cancelled')) END"
	" FROM temp.schedule_stage st LEFT JOIN jobs ON jobs.id = st.id ORDER BY st.seq";

static const char SQL_JOB_TASKS[] =
	"SELECT " STORE_TASK_COLS " FROM tasks WHERE job_id = :job"
	" ORDER BY CASE kind WHEN 'suspend' THEN 0 WHEN 'delete' THEN 1 ELSE 2 END,"
	" phase, service";

/* What a batch shares: its services, their snapshot, the time, and what
 * every job.scheduled announcement repeats, rendered once. */
struct batch {
	const struct store_service *svcs;
	size_t n_svcs;
	int64_t set_id;
	int64_t now;
	char *services;   /* the detail's "services" array as JSON text */
	cJSON *job;       /* jobs_render_job of the last job whose times changed */
	char **values;    /* its members' values as JSON text, in order */
	int64_t job_due, job_deadline;
	struct buf text;  /* the detail or body being assembled */
};

const char *store_last_error(struct store *s)
{
	return s->last_error;
}

/* Appends v as a JSON string (escaped as cJSON does), or null. */
/* The escape of c in a JSON string as cJSON prints it; NULL: c as is. */
static const char *json_escape(unsigned char c, char u[7])
{
	static const char HEX[] = "0123456789abcdef";

	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	}
	if (c >= 32)
		return NULL;
	memcpy(u, "\\u00", 4);
	u[4] = HEX[c >> 4];
	u[5] = HEX[c & 15];
	u[6] = '\0';
	return u;
}

/* Appends v as a JSON string (escaped as cJSON does), or null. */
static void put_json_str(struct buf *b, const char *v)
{
	const char *run;

	if (v == NULL) {
		buf_puts(b, "null");
		return;
	}
	buf_append(b, "\"", 1);
	for (run = v; *v; v++) {
		char u[7];
		const char *esc = json_escape((unsigned char)*v, u);

		if (esc == NULL)
			continue;
		buf_append(b, run, (size_t)(v - run));
		buf_puts(b, esc);
		run = v + 1;
	}
	buf_append(b, run, (size_t)(v - run));
	buf_append(b, "\"", 1);
}

static void put_key(struct buf *b, const char *key, int first)
{
	if (!first)
		buf_append(b, ",", 1);
	put_json_str(b, key);
	buf_append(b, ":", 1);
}

/* The job.scheduled event's detail as JSON text (owned by b). */
static const char *scheduled_detail(struct store *s, const struct store_new_job *j,
				    struct batch *b)
{
	char due[TIMEFMT_TIME_LEN], deadline[TIMEFMT_TIME_LEN];

	store_format_time(s, j->due_at, due);
	store_format_time(s, j->deadline_at, deadline);
	buf_reset(&b->text);
	buf_append(&b->text, "{", 1);
	put_key(&b->text, "tenant_id", 1);
	put_json_str(&b->text, j->tenant_id);
	put_key(&b->text, "tenant_name", 0);
	put_json_str(&b->text, j->tenant_name);
	put_key(&b->text, "due_at", 0);
	put_json_str(&b->text, due);
	put_key(&b->text, "deadline_at", 0);
	put_json_str(&b->text, deadline);
	put_key(&b->text, "requested_by", 0);
	put_json_str(&b->text, j->requested_by);
	put_key(&b->text, "reason", 0);
	put_json_str(&b->text, j->reason);
	put_key(&b->text, "services", 0);
	buf_puts(&b->text, b->services);
	buf_append(&b->text, "}", 2); /* with the NUL */
	return b->text.data;
}

static void drop_template(struct batch *b)
{
	int n = b->job ? cJSON_GetArraySize(b->job) : 0;

	for (int i = 0; b->values != NULL && i < n; i++)
		free(b->values[i]);
	free(b->values);
	cJSON_Delete(b->job);
	b->values = NULL;
	b->job = NULL;
}

/* Renders j with jobs_render_job as the template of the jobs that share
 * its times, each member's value printed once. */
static void new_template(struct batch *b, const struct job_record *j)
{
	const cJSON *m;
	int i = 0;

	drop_template(b);
	b->job = jobs_render_job(j, NULL, 0);
	b->values = xcalloc((size_t)cJSON_GetArraySize(b->job) + 1, sizeof *b->values);
	cJSON_ArrayForEach(m, b->job)
		b->values[i++] = cJSON_PrintUnformatted(m);
	b->job_due = j->due_at;
	b->job_deadline = j->deadline_at;
}

/* The value of member key of job j: its own where jobs of a batch differ. */
static int own_value(const char *key, const struct job_record *j, const char **v)
{
	static const char *const KEYS[] = { "job_id", "tenant_id", "tenant_name",
					    "requested_by", "reason" };
	const char *vals[] = { j->id, j->tenant_id, j->tenant_name, j->requested_by, j->reason };

	for (size_t i = 0; i < ARRAY_LEN(KEYS); i++)
		if (strcmp(key, KEYS[i]) == 0) {
			*v = vals[i];
			return 1;
		}
	return 0;
}

/* The outbox body of a job.scheduled: {"id","type","created_at","job"}
 * as store_job_announce writes it, with "job" assembled from the template
 * (jobs_render_job's members and order; rendering it per job would format
 * five times and print every member). Owned by b. */
static const char *scheduled_body(struct store *s, const char *eid, const struct job_record *j,
				  struct batch *b)
{
	char ts[TIMEFMT_TIME_LEN];
	const cJSON *m;
	int i = 0;

	if (b->job == NULL || b->job_due != j->due_at || b->job_deadline != j->deadline_at)
		new_template(b, j);
	store_format_time(s, b->now, ts);
	buf_reset(&b->text);
	buf_puts(&b->text, "{\"id\":");
	put_json_str(&b->text, eid);
	buf_puts(&b->text, ",\"type\":\"job.scheduled\",\"created_at\":");
	put_json_str(&b->text, ts);
	buf_puts(&b->text, ",\"job\":{");
	cJSON_ArrayForEach(m, b->job) {
		const char *v;

		put_key(&b->text, m->string, i == 0);
		if (own_value(m->string, j, &v))
			put_json_str(&b->text, v);
		else
			buf_puts(&b->text, b->values[i]);
		i++;
	}
	buf_append(&b->text, "}}", 3); /* with the NUL */
	return b->text.data;
}

static void batch_free(struct batch *b)
{
	free(b->services);
	drop_template(b);
	buf_free(&b->text);
}

/* The batch's snapshot row (shared with every batch of the same config)
 * and one template row per suspend task a job gets. */
static int stage_services(struct store *s, struct batch *b)
{
	int rc;

	cJSON *names = cJSON_CreateArray();

	for (size_t i = 0; i < b->n_svcs; i++)
		cJSON_AddItemToArray(names, cJSON_CreateString(b->svcs[i].name));
	b->services = cJSON_PrintUnformatted(names);
	cJSON_Delete(names);
	rc = store_service_set_id(s, b->svcs, b->n_svcs, &b->set_id);
	for (size_t i = 0; rc == 0 && i < b->n_svcs; i++) {
		sqlite3_stmt *st;

		if (!b->svcs[i].has_suspend)
			continue;
		if ((st = store_stmt(s, SQL_STAGE_SUSPEND)) == NULL)
			return -1;
		store_bind_text(st, ":service", b->svcs[i].name);
		store_bind_int(st, ":phase", b->svcs[i].phase);
		rc = store_step_done(s, st);
	}
	return rc;
}

static int stage_job(struct store *s, size_t seq, const struct store_new_job *j, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, SQL_STAGE_JOB);
	char id[JOBS_ID_LEN + 1];

	if (st == NULL)
		return -1;
	jobs_id_new(now, id);
	store_bind_int(st, ":seq", (int64_t)seq);
	store_bind_text(st, ":id", id);
	store_bind_text(st, ":tenant", j->tenant_id);
	store_bind_text(st, ":name", j->tenant_name);
	store_bind_text(st, ":by", j->requested_by);
	store_bind_text(st, ":reason", j->reason);
	store_bind_int(st, ":due", j->due_at);
	store_bind_int(st, ":deadline", j->deadline_at);
	return store_step_done(s, st);
}

/* Creates the staged jobs and their suspend tasks: a statement each. */
static int run_bulk(struct store *s, const struct batch *b)
{
	sqlite3_stmt *st = store_stmt(s, SQL_INSERT_JOBS);
	int suspends = 0;

	if (st == NULL || store_bind_int(st, ":now", b->now) < 0 ||
	    store_bind_int(st, ":set", b->set_id) < 0 || store_step_done(s, st) < 0)
		return -1;
	for (size_t i = 0; i < b->n_svcs; i++)
		suspends |= b->svcs[i].has_suspend;
	if (!suspends)
		return 0;
	st = store_stmt(s, SQL_INSERT_SUSPENDS);
	if (st == NULL || store_bind_int(st, ":now", b->now) < 0 || store_step_done(s, st) < 0)
		return -1;
	return 0;
}

/* The job.scheduled event and outbox row of one created job, from what
 * the batch already knows (the row was written just now with these values). */
static int announce(struct store *s, const char *id, const struct store_new_job *nj,
		    struct batch *b)
{
	struct job_record j = {
		.tenant_id = (char *)nj->tenant_id,
		.tenant_name = (char *)nj->tenant_name,
		.requested_by = (char *)nj->requested_by,
		.reason = (char *)nj->reason,
		.kind = JOB_KIND_PURGE,
		.state = JOB_SCHEDULED,
		.held_from = JOB_SCHEDULED,
		.created_at = b->now,
		.due_at = nj->due_at,
		.deadline_at = nj->deadline_at,
	};
	char eid[JOBS_ID_LEN + 1];

	memcpy(j.id, id, sizeof j.id);
	if (store_event_append_text(s, id, b->now, "job.scheduled", NULL,
				    scheduled_detail(s, nj, b)) < 0)
		return -1;
	if (!store_outbox_wanted(s))
		return 0;
	jobs_id_new(b->now, eid);
	return store_outbox_append_text(s, eid, "job.scheduled", id,
					scheduled_body(s, eid, &j, b), b->now);
}

/* Reads back which staged jobs were created; announces them; fills ids. */
static int collect_results(struct store *s, const struct store_new_job *jobs, size_t n,
			   struct batch *b, char (*ids)[JOBS_ID_LEN + 1], int *created)
{
	sqlite3_stmt *st = store_stmt(s, SQL_STAGE_RESULT);
	size_t i = 0;

	if (st == NULL)
		return -1;
	while (i < n && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *id;

		created[i] = sqlite3_column_int(st, 1);
		id = sqlite3_column_text(st, created[i] ? 0 : 2);
		if (id == NULL)
			break;
		snprintf(ids[i], JOBS_ID_LEN + 1, "%s", (const char *)id);
		if (created[i] && announce(s, ids[i], &jobs[i], b) < 0)
			break;
		i++;
	}
	store_reset(st);
	if (i < n) {
		log_msg(LOG_ERROR, "store.error", "schedule: job %zu of %zu not stored", i + 1, n);
		snprintf(s->last_error, sizeof s->last_error, "job %zu of the batch not stored",
			 i + 1);
		return -1;
	}
	return 0;
}

/*
 * One transaction for the whole batch, all or nothing; see the staging
 * comment above for why it is set-based.
 */
int store_schedule(struct store *s, const struct store_new_job *jobs, size_t n,
		   const struct store_service *svcs, size_t n_svcs, int64_t now,
		   char (*ids)[JOBS_ID_LEN + 1], int *created)
{
	struct batch b = { .svcs = svcs, .n_svcs = n_svcs, .now = now };

	buf_init(&b.text);
	if (store_begin(s) != STORE_OK)
		return STORE_ERR;
	if (store_exec(s, SQL_STAGE_TABLES) < 0 || stage_services(s, &b) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (stage_job(s, i, &jobs[i], now) < 0)
			goto fail;
	if (run_bulk(s, &b) < 0 || collect_results(s, jobs, n, &b, ids, created) < 0)
		goto fail;
	if (store_exec(s, "DELETE FROM temp.schedule_stage") < 0)
		goto fail;
	batch_free(&b);
	return store_commit(s);
fail:
	batch_free(&b);
	store_rollback(s);
	return STORE_ERR;
}

/* Reads one job; STORE_OK, STORE_NOT_FOUND or STORE_ERR. */
int store_job_get(struct store *s, const char *job_id, struct job_record *out)
{
	return store_read_job_by_id(s, job_id, out);
}

/* The stored tasks of the job, in SQL_JOB_TASKS order. */
static int read_tasks(struct store *s, const char *job_id, struct task_record **out, size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_TASKS);
	struct task_record *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (st == NULL || store_bind_text(st, ":job", job_id) < 0)
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		store_read_task(st, &v[len++]);
	}
	store_reset(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, SQL_JOB_TASKS);
		jobs_task_records_free(v, len);
		return STORE_ERR;
	}
	*out = v;
	*n = len;
	return STORE_OK;
}

/* The job's tasks, suspend first, then delete by phase, then restore. A job
 * not started yet has no delete task rows: they are synthesized from its
 * snapshot (already in phase, service order) and put after the suspends. */
int store_job_tasks(struct store *s, const char *job_id, struct task_record **out, size_t *n)
{
	struct task_record *v = NULL, *syn = NULL;
	size_t len = 0, n_syn = 0, at = 0;

	*out = NULL;
	*n = 0;
	if (read_tasks(s, job_id, &v, &len) != STORE_OK)
		return STORE_ERR;
	if (store_synth_tasks(s, job_id, &syn, &n_syn) != STORE_OK) {
		jobs_task_records_free(v, len);
		return STORE_ERR;
	}
	if (n_syn > 0) {
		v = xrealloc(v, (len + n_syn) * sizeof *v);
		while (at < len && v[at].kind == TASK_KIND_SUSPEND)
			at++;
		memmove(&v[at + n_syn], &v[at], (len - at) * sizeof *v);
		memcpy(&v[at], syn, n_syn * sizeof *v);
		len += n_syn;
	}
	free(syn);
	if (store_mark_absent(s, v, len) < 0) {
		jobs_task_records_free(v, len);
		return STORE_ERR;
	}
	*out = v;
	*n = len;
	return STORE_OK;
}
