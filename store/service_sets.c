/*
 * service_sets.c - the snapshot of services a scheduled job covers, and
 * its delete tasks created when the job starts (DESIGN 3 "Which services a
 * job covers", DESIGN 8). Until then store_job_tasks shows them as
 * synthesized pending records.
 */
#include "store/store_int.h"
#include "config/config.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADD_REASON "service added to config"
#define META_CONFIGURED "configured_services"

static const char SQL_SET_INSERT[] =
	"INSERT INTO service_sets (services) VALUES (:services) ON CONFLICT DO NOTHING";
static const char SQL_SET_ID[] = "SELECT id FROM service_sets WHERE services = :services";
static const char SQL_SET_CONFIGURED[] =
	"INSERT INTO meta (key, value) VALUES ('" META_CONFIGURED "', :services)"
	" ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char SQL_GET_CONFIGURED[] =
	"SELECT value FROM meta WHERE key = '" META_CONFIGURED "'";
static const char SQL_JOB_SET[] =
	"SELECT j.state, j.due_at, j.created_at, ss.services FROM jobs j"
	" JOIN service_sets ss ON ss.id = j.service_set_id WHERE j.id = :id";
static const char SQL_ADD_TASK[] =
	"INSERT INTO tasks (job_id, service, kind, phase, state, skip_reason, updated_at)"
	" VALUES (:job, :service, 'delete', :phase, :state, :reason, :now)";
/* Jobs not started whose snapshot is not the configured set: a config
 * change reaches them now, recorded (DESIGN 3), not only when they start. */
static const char SQL_STALE_JOBS[] =
	"SELECT j.id FROM jobs j JOIN service_sets ss ON ss.id = j.service_set_id"
	" WHERE j.service_set_id IS NOT NULL AND j.state IN ('scheduled','held')"
	" AND ss.services <> (SELECT value FROM meta WHERE key = '" META_CONFIGURED "')";
static const char SQL_MATERIALIZED[] =
	"UPDATE jobs SET service_set_id = NULL WHERE id = :id";

static int ref_cmp(const void *a, const void *b)
{
	const struct store_svc_ref *x = a, *y = b;

	if (x->phase != y->phase)
		return x->phase < y->phase ? -1 : 1;
	return strcmp(x->name, y->name);
}

char *store_service_set_json(const struct store_svc_ref *v, size_t n)
{
	struct store_svc_ref *sorted = xcalloc(n ? n : 1, sizeof *sorted);
	cJSON *arr = cJSON_CreateArray();
	char *text;

	memcpy(sorted, v, n * sizeof *v);
	qsort(sorted, n, sizeof *sorted, ref_cmp);
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", sorted[i].name);
		cJSON_AddNumberToObject(o, "phase", sorted[i].phase);
		cJSON_AddItemToArray(arr, o);
	}
	text = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	free(sorted);
	return text;
}

/* Runs st (":services" bound here); for a SELECT, *id gets column 0. */
static int run_with_services(struct store *s, const char *sql, const char *json, int64_t *id)
{
	sqlite3_stmt *st = store_stmt(s, sql);
	int rc;

	if (st == NULL)
		return -1;
	store_bind_text(st, ":services", json);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && id != NULL)
		*id = sqlite3_column_int64(st, 0);
	store_reset(st);
	if (rc != SQLITE_DONE && !(rc == SQLITE_ROW && id != NULL)) {
		store_log_error(s, sql);
		return -1;
	}
	return 0;
}

int store_service_set_id(struct store *s, const char *json, int64_t *id)
{
	*id = 0;
	if (run_with_services(s, SQL_SET_INSERT, json, NULL) < 0 ||
	    run_with_services(s, SQL_SET_ID, json, id) < 0)
		return -1;
	return *id > 0 ? 0 : -1;
}

int store_set_configured(struct store *s, const char *json)
{
	return run_with_services(s, SQL_SET_CONFIGURED, json, NULL);
}

/* Parses a snapshot's JSON; NULL when it is not one (logged). Caller deletes. */
static cJSON *parse_set(const char *json)
{
	cJSON *arr = json ? cJSON_Parse(json) : NULL;

	if (arr == NULL || !cJSON_IsArray(arr)) {
		log_msg(LOG_ERROR, "store.error", "unreadable service set: %s", json ? json : "");
		cJSON_Delete(arr);
		return NULL;
	}
	return arr;
}

static const char *item_name(const cJSON *o)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");

	return cJSON_IsString(n) ? n->valuestring : "";
}

static int item_phase(const cJSON *o)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "phase");

	return cJSON_IsNumber(p) ? p->valueint : 1;
}

int store_set_has(const cJSON *set, const char *name)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, set)
		if (strcmp(item_name(o), name ? name : "") == 0)
			return 1;
	return 0;
}

int store_configured_set(struct store *s, cJSON **out)
{
	sqlite3_stmt *st = store_stmt(s, SQL_GET_CONFIGURED);
	int rc;

	*out = NULL;
	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = parse_set((const char *)sqlite3_column_text(st, 0));
	store_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_log_error(s, SQL_GET_CONFIGURED);
		return -1;
	}
	return rc == SQLITE_ROW && *out == NULL ? -1 : 0;
}

/* One delete task, with its task.skipped / task.added event when reason. */
static int add_task(struct store *s, const char *job_id, const char *name, int phase,
		    int skipped, const char *reason, int64_t now)
{
	sqlite3_stmt *st = store_stmt(s, SQL_ADD_TASK);
	cJSON *d;
	int rc;

	if (st == NULL)
		return -1;
	store_bind_text(st, ":job", job_id);
	store_bind_text(st, ":service", name);
	store_bind_int(st, ":phase", phase);
	store_bind_text(st, ":state", skipped ? "skipped" : "pending");
	store_bind_text(st, ":reason", skipped ? reason : NULL);
	store_bind_int(st, ":now", now);
	if (store_step_done(s, st) < 0)
		return -1;
	if (reason == NULL)
		return 0;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "kind", "delete");
	cJSON_AddStringToObject(d, "reason", reason);
	rc = store_event_append(s, job_id, now, skipped ? "task.skipped" : "task.added", name, d);
	cJSON_Delete(d);
	if (rc == 0)
		log_msg(skipped ? LOG_WARN : LOG_INFO, skipped ? "task.skipped" : "task.added",
			"job %s: service %s %s", job_id, name, reason);
	return rc;
}

/* One snapshot service's task: waiting for it when the config lacks it
 * (DESIGN 3), skipped only when it was retired. */
static int add_snapshot_task(struct store *s, const char *job_id, const cJSON *o,
			     const cJSON *conf, int64_t now)
{
	char *reason = NULL;
	int64_t retired = 0;
	int rc;

	if (conf != NULL && !store_set_has(conf, item_name(o)) &&
	    store_retired_reason(s, item_name(o), &reason, &retired) < 0)
		return -1;
	rc = add_task(s, job_id, item_name(o), item_phase(o), retired != 0, reason, now);
	free(reason);
	return rc;
}

/* The snapshot's tasks, then the configured services it lacks. */
static int add_tasks(struct store *s, const char *job_id, const cJSON *snap,
		     const cJSON *conf, int64_t now)
{
	const cJSON *o;
	int rc = 0;

	cJSON_ArrayForEach(o, snap)
		if (rc == 0)
			rc = add_snapshot_task(s, job_id, o, conf, now);
	if (conf == NULL)
		return rc;
	cJSON_ArrayForEach(o, conf)
		if (rc == 0 && !store_set_has(snap, item_name(o)))
			rc = add_task(s, job_id, item_name(o), item_phase(o), 0, ADD_REASON, now);
	return rc;
}

/* The job's snapshot text (malloc'ed), state, due and creation times;
 * STORE_OK, STORE_NOT_FOUND (no snapshot: tasks exist) or STORE_ERR. */
static int read_job_set(struct store *s, const char *job_id, char **json,
			enum job_state *state, int64_t *due_at, int64_t *created_at)
{
	sqlite3_stmt *st = store_stmt(s, SQL_JOB_SET);
	int rc;

	*json = NULL;
	if (st == NULL)
		return STORE_ERR;
	store_bind_text(st, ":id", job_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (name == NULL || jobs_job_state_parse(name, state) < 0)
			*state = JOB_SCHEDULED;
		*due_at = sqlite3_column_int64(st, 1);
		*created_at = sqlite3_column_int64(st, 2);
		*json = store_col_text(st, 3);
	}
	store_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		store_log_error(s, SQL_JOB_SET);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	return rc == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERR;
}

int store_materialize_tasks(struct store *s, const char *job_id, int64_t now)
{
	cJSON *snap = NULL, *conf = NULL;
	enum job_state state;
	int64_t due, created;
	char *json = NULL;
	sqlite3_stmt *st;
	int rc = read_job_set(s, job_id, &json, &state, &due, &created);

	if (rc != STORE_OK)
		return rc == STORE_NOT_FOUND ? 0 : -1;
	rc = -1;
	if ((snap = parse_set(json)) == NULL || store_configured_set(s, &conf) < 0)
		goto fail;
	if (add_tasks(s, job_id, snap, conf, now) < 0 ||
	    (st = store_stmt(s, SQL_MATERIALIZED)) == NULL)
		goto fail;
	store_bind_text(st, ":id", job_id);
	if (store_step_done(s, st) < 0)
		goto fail;
	rc = 0;
fail:
	cJSON_Delete(snap);
	cJSON_Delete(conf);
	free(json);
	return rc;
}

int store_materialize_stale(struct store *s, int64_t now, int *count)
{
	sqlite3_stmt *st = store_stmt(s, SQL_STALE_JOBS);
	char (*ids)[JOBS_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*count = 0;
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xrealloc(ids, cap * sizeof *ids);
		}
		snprintf(ids[n++], JOBS_ID_LEN + 1, "%s", sqlite3_column_text(st, 0));
	}
	store_reset(st);
	rc = rc == SQLITE_DONE ? 0 : -1;
	if (rc < 0)
		store_log_error(s, SQL_STALE_JOBS);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = store_materialize_tasks(s, ids[i], now);
	*count = (int)n;
	free(ids);
	return rc;
}

/* One synthesized record: what the task will be when the job starts. */
static void synth_task(struct task_record *t, const char *job_id, const cJSON *o,
		       enum job_state state, int lowest, int64_t due_at, int64_t created_at)
{
	memset(t, 0, sizeof *t);
	snprintf(t->job_id, sizeof t->job_id, "%s", job_id);
	t->service = xstrdup(item_name(o));
	t->kind = TASK_KIND_DELETE;
	t->phase = item_phase(o);
	t->state = state == JOB_CANCELLED ? TASK_SKIPPED : TASK_PENDING;
	if (state == JOB_CANCELLED)
		t->skip_reason = xstrdup("job cancelled");
	else if (t->phase == lowest)
		t->next_attempt_at = due_at;
	t->total_deleted = t->before_total = t->verified_after = t->duration_ms = -1;
	t->updated_at = created_at;
}

int store_synth_tasks(struct store *s, const char *job_id, struct task_record **out,
		      size_t *n)
{
	enum job_state state;
	int64_t due, created;
	const cJSON *o;
	char *json = NULL;
	cJSON *snap;
	int lowest = 0, rc = read_job_set(s, job_id, &json, &state, &due, &created);

	*out = NULL;
	*n = 0;
	if (rc != STORE_OK)
		return rc == STORE_NOT_FOUND ? STORE_OK : STORE_ERR;
	snap = parse_set(json);
	free(json);
	if (snap == NULL)
		return STORE_ERR;
	cJSON_ArrayForEach(o, snap) {
		if (*n == 0 || item_phase(o) < lowest)
			lowest = item_phase(o);
		(*n)++;
	}
	*out = xcalloc(*n ? *n : 1, sizeof **out);
	*n = 0;
	cJSON_ArrayForEach(o, snap)
		synth_task(&(*out)[(*n)++], job_id, o, state, lowest, due, created);
	cJSON_Delete(snap);
	return STORE_OK;
}

struct store_service *store_services_from_config(const struct config *cfg, size_t *n)
{
	struct store_service *v = xcalloc(cfg->n_services + 1, sizeof *v);

	*n = 0;
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct config_service *cs = &cfg->services[i];
		if (!cs->enabled)
			continue;
		v[*n].name = cs->name;
		v[*n].phase = cs->phase;
		v[*n].has_suspend = cs->suspend_url != NULL;
		v[*n].has_restore = cs->restore_url != NULL;
		(*n)++;
	}
	return v;
}
