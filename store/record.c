/*
 * record.c - one finished attempt remembered, the same on every backend
 * (store_record_results): the task row (the backend's guarded write), its
 * preview and verify events, a discovery's children, the task.attempt
 * event and the counters; and the log of a breaker that changed state.
 * The backend writes through struct store_record_ops.
 */
#include "store/shared.h"
#include "jobs/sched_doc.h"
#include "util/log.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

const struct sched_service *store_find_service(const struct sched_service *svcs, size_t n,
					       const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(svcs[i].name, name) == 0)
			return &svcs[i];
	return NULL;
}

static void log_breaker(enum log_level level, const char *event, const char *service,
			const struct policy_breaker *b)
{
	struct log_line *l = log_start(level, event);

	log_str(l, "service", service);
	log_int(l, "failures", b->failures);
	if (b->state == BREAKER_OPEN)
		log_int(l, "cooloff_ms", b->cooloff_ms);
	log_done_held(l);
}

void store_log_breaker(const char *service, enum breaker_state before,
		       const struct policy_breaker *b)
{
	if (b->state == BREAKER_OPEN && before != BREAKER_OPEN)
		log_breaker(LOG_WARN, "breaker.opened", service, b);
	else if (b->state == BREAKER_CLOSED && before != BREAKER_CLOSED)
		log_breaker(LOG_INFO, "breaker.closed", service, b);
}

/* The batch's verdicts on svc's breaker, in order. */
static int breaker_apply(struct store *s, const struct store_breaker_ops *ops,
			 const struct sched_service *svc, const struct sched_result *r, size_t n,
			 int64_t now)
{
	const char *service = svc->name;
	struct policy_breaker b;
	enum breaker_state before;
	char *probe = NULL;
	int changed = 0, locked = ops->lock == NULL, rc = 0;

again:
	if (ops->load(s, service, &b, &probe) < 0)
		return -1;
	before = b.state;
	for (size_t i = 0; i < n; i++)
		if (r[i].breaker != POLICY_BREAKER_SKIP && strcmp(r[i].service, service) == 0)
			changed |= policy_breaker_apply(&b, r[i].breaker, r[i].probe, &svc->breaker,
							now);
	if (changed && !locked) {
		free(probe);
		probe = NULL;
		if (ops->lock(s, service) < 0)
			return -1;
		locked = 1;
		changed = 0;
		goto again;
	}
	if (changed)
		rc = ops->save(s, service, &b, probe, now);
	store_log_breaker(service, before, &b);
	free(probe);
	return rc;
}

static int service_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct sched_service *const *)a)->name,
		      (*(const struct sched_service *const *)b)->name);
}

int store_breakers_apply(struct store *s, const struct store_breaker_ops *ops,
			 const struct sched_result *r, size_t n, const struct sched_service *svcs,
			 size_t n_svcs, int64_t now)
{
	const struct sched_service **hit = xcalloc(n + 1, sizeof *hit);
	size_t k = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		if (r[i].breaker != POLICY_BREAKER_SKIP &&
		    (hit[k] = store_find_service(svcs, n_svcs, r[i].service)) != NULL)
			k++;
	qsort(hit, k, sizeof *hit, service_cmp);
	for (size_t i = 0; rc == 0 && i < k; i++)
		if (i == 0 || hit[i] != hit[i - 1])
			rc = breaker_apply(s, ops, hit[i], r, n, now);
	free(hit);
	return rc;
}

char *store_attempt_detail(const struct sched_result *r, int kept)
{
	struct sched_doc_attempt a = {
		.kind = r->kind, .attempt = r->attempt, .outcome = r->outcome,
		.state = kept ? jobs_task_state_name(r->state) : "lease_lost",
		.http_status = r->http_status, .duration_ms = r->duration_ms,
		.counts_json = r->counts_json, .total = r->total, .error = r->error,
		.free_wait = r->free_wait, .waiting = r->state == TASK_WAITING,
		.next_attempt_at = r->next_attempt_at,
	};

	return sched_doc_attempt(&a);
}

/* task.preview (before the purge) and task.verify (after it) events. */
static int preview_events(struct store *s, const struct store_record_ops *ops,
			  const struct sched_result *r, int64_t now)
{
	char *d;
	int rc = 0;

	if (r->preview_json != NULL || r->preview_error != NULL) {
		d = sched_doc_preview(r->preview_json, r->before_total, r->preview_error);
		rc = ops->event_append(s, r->job_id, now, "task.preview", r->service, d);
		free(d);
	}
	if (rc == 0 && r->verified_after >= 0) {
		d = sched_doc_verify(r->verified_after);
		rc = ops->event_append(s, r->job_id, now, "task.verify", r->service, d);
		free(d);
	}
	return rc;
}

int store_record_attempt(struct store *s, const struct store_record_ops *ops, const char *owner,
			 const struct sched_result *r, int64_t now, struct jobs_counts *counts,
			 int *kept)
{
	const char *detail;
	char *made = NULL;
	int rc;

	*kept = 0;
	if (ops->write_task(s, owner, r, now, kept) < 0 || preview_events(s, ops, r, now) < 0)
		return -1;
	if (*kept && r->discovery && r->state == TASK_SUCCEEDED &&
	    ops->subject_discovered(s, r, now) < 0)
		return -1;
	if (!*kept)
		log_msg(LOG_WARN, "task.lease.lost",
			"task %lld of job %s (%s) was taken over while in flight",
			(long long)r->task_id, r->job_id, r->service);
	/* the engine makes a kept record's detail on its loop (the store's
	 * thread is the one that bounds a run); a lost lease's is made here */
	detail = r->detail;
	if (!*kept || detail == NULL)
		detail = made = store_attempt_detail(r, *kept);
	rc = ops->event_append(s, r->job_id, now, "task.attempt", r->service, detail);
	free(made);
	if (rc < 0)
		return -1;
	jobs_counts_add_attempt(counts, r->service, r->outcome, r->duration_ms, r->total);
	return 0;
}
