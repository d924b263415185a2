/*
 * tasks.c - a job's tasks as every backend shows them (store_job_tasks):
 * the stored rows, the delete tasks a job not started yet will get, put
 * after its suspends, and the waiting tasks of services the config lacks
 * marked. The backend reads the rows (struct store_task_ops); the rules
 * of what a synthesized task is and which task is absent live here once.
 * And the delete tasks a job gets when it starts after the config changed
 * (store_add_stale_tasks).
 */
#include "store/shared.h"
#include "jobs/service_detail.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One synthesized record: what the task will be when the job starts. */
static void synth_task(struct task_record *t, const char *job_id,
		       const struct store_set_member *m, const struct store_job_set *j,
		       int lowest)
{
	memset(t, 0, sizeof *t);
	snprintf(t->job_id, sizeof t->job_id, "%s", job_id);
	t->service = xstrdup(m->name);
	t->kind = TASK_KIND_DELETE;
	t->phase = m->phase;
	t->state = j->state == JOB_CANCELLED ? TASK_SKIPPED : TASK_PENDING;
	if (j->state == JOB_CANCELLED)
		t->skip_reason = xstrdup("job cancelled");
	else if (t->phase == lowest)
		t->next_attempt_at = j->due_at;
	t->total_deleted = t->before_total = t->verified_after = t->duration_ms = -1;
	t->updated_at = j->created_at;
}

/*
 * The delete tasks a job not started yet will get, as records (id 0;
 * pending, the lowest phase due at due_at; skipped when the job was
 * cancelled). *out NULL and *n 0 for a job whose tasks exist. Caller
 * frees. STORE_OK or STORE_ERR.
 */
static int synth_tasks(struct store *s, const struct store_task_ops *ops, const char *job_id,
		       struct task_record **out, size_t *n)
{
	struct store_set m = { 0 };
	struct store_job_set j;
	int rc = ops->job_set(s, job_id, &j);

	*out = NULL;
	*n = 0;
	if (rc != STORE_OK)
		return rc == STORE_NOT_FOUND ? STORE_OK : STORE_ERR;
	if (ops->set_members(s, j.set_id, &m) < 0) {
		store_set_free(&m);
		return STORE_ERR;
	}
	/* members come by phase: the first has the lowest */
	*out = xcalloc(m.n ? m.n : 1, sizeof **out);
	for (size_t i = 0; i < m.n; i++)
		synth_task(&(*out)[i], job_id, &m.v[i], &j, m.v[0].phase);
	*n = m.n;
	store_set_free(&m);
	return STORE_OK;
}

/* The configured services the last config sync recorded into *out
 * (store_set_free); *found 0 when none was recorded yet. 0 or -1. */
static int configured_set(struct store *s, const struct store_task_ops *ops,
			  struct store_set *out, int *found)
{
	int64_t id;

	memset(out, 0, sizeof *out);
	*found = 0;
	if (ops->configured_id(s, &id) < 0)
		return -1;
	*found = id != 0;
	if (*found && ops->set_members(s, id, out) < 0) {
		store_set_free(out);
		return -1;
	}
	return 0;
}

/* Marks the waiting tasks of services the config lacks in records read
 * for display: a retired one of a job not started is shown skipped, any
 * other carries STORE_ABSENT_ERROR. 0 or -1. */
static int mark_absent(struct store *s, const struct store_task_ops *ops,
		       struct task_record *t, size_t n)
{
	struct store_set conf;
	int64_t retired;
	char *reason;
	int found = 0, rc = 0;

	if (n == 0 || configured_set(s, ops, &conf, &found) < 0)
		return n == 0 ? 0 : -1;
	for (size_t i = 0; found && rc == 0 && i < n; i++) {
		if ((t[i].state != TASK_PENDING && t[i].state != TASK_WAITING) ||
		    store_set_has(&conf, t[i].service) || store_is_step(t[i].service))
			continue;
		if ((rc = ops->retired_reason(s, t[i].service, &reason, &retired)) < 0)
			break;
		if (retired && t[i].id == 0) { /* a job not started: skipped when it starts */
			t[i].state = TASK_SKIPPED;
			free(t[i].skip_reason);
			t[i].skip_reason = reason;
			t[i].next_attempt_at = 0;
			continue;
		}
		free(reason);
		free(t[i].last_error);
		t[i].last_error = xstrdup(STORE_ABSENT_ERROR);
	}
	store_set_free(&conf);
	return rc;
}

int store_read_job_tasks(struct store *s, const struct store_task_ops *ops, const char *job_id,
			 struct task_record **out, size_t *n)
{
	struct task_record *v = NULL, *syn = NULL;
	size_t len = 0, n_syn = 0, at = 0;

	*out = NULL;
	*n = 0;
	if (ops->read_tasks(s, job_id, &v, &len) != STORE_OK)
		return STORE_ERR;
	if (synth_tasks(s, ops, job_id, &syn, &n_syn) != STORE_OK) {
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
	if (mark_absent(s, ops, v, len) < 0) {
		jobs_task_records_free(v, len);
		return STORE_ERR;
	}
	*out = v;
	*n = len;
	return STORE_OK;
}

#define ADD_REASON "service added to config"

/* One delete task, with its task.skipped / task.added event when reason. */
static int add_task(struct store *s, const struct store_stale_ops *ops, const char *job_id,
		    const char *name, int phase, int skipped, const char *reason, int64_t now)
{
	char *d;
	int rc;

	if (ops->insert_task(s, job_id, name, phase, skipped, reason, now) < 0)
		return -1;
	if (reason == NULL)
		return 0;
	d = jobs_detail_task_change("delete", reason, NULL);
	rc = ops->event_append(s, job_id, now, skipped ? "task.skipped" : "task.added", name, d);
	free(d);
	if (rc == 0)
		log_msg(skipped ? LOG_WARN : LOG_INFO, skipped ? "task.skipped" : "task.added",
			"job %s: service %s %s", job_id, name, reason);
	return rc;
}

/* One snapshot service's task: waiting for it when the config lacks it,
 * skipped only when it was retired. */
static int add_snapshot_task(struct store *s, const struct store_stale_ops *ops,
			     const char *job_id, const struct store_set_member *m,
			     const struct store_set *conf, int64_t now)
{
	char *reason = NULL;
	int64_t retired = 0;
	int rc;

	if (!store_set_has(conf, m->name) &&
	    ops->retired_reason(s, m->name, &reason, &retired) < 0)
		return -1;
	rc = add_task(s, ops, job_id, m->name, m->phase, retired != 0, reason, now);
	free(reason);
	return rc;
}

int store_add_stale_tasks(struct store *s, const struct store_stale_ops *ops,
			  const char *job_id, int64_t set_id, int64_t conf_id, int64_t now)
{
	struct store_set snap = { 0 }, conf = { 0 };
	int rc = -1;

	if (ops->set_members(s, set_id, &snap) == 0 && ops->set_members(s, conf_id, &conf) == 0) {
		/* the snapshot's tasks, then the configured services it lacks */
		rc = 0;
		for (size_t i = 0; rc == 0 && i < snap.n; i++)
			rc = add_snapshot_task(s, ops, job_id, &snap.v[i], &conf, now);
		for (size_t i = 0; rc == 0 && i < conf.n; i++)
			if (!store_set_has(&snap, conf.v[i].name))
				rc = add_task(s, ops, job_id, conf.v[i].name, conf.v[i].phase, 0,
					      ADD_REASON, now);
	}
	store_set_free(&snap);
	store_set_free(&conf);
	return rc;
}
