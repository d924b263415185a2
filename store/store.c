/*
 * store.c - the store's interface over its backends: picks a backend by
 * name at open, keeps the error state and the webhook urls every backend
 * shares, and dispatches each operation to the backend's table
 * (store/backend.h). The hot path costs one indirect call per batch.
 */
#include "store/backend.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

static const struct store_backend *const backends[] = {
	&store_sqlite_backend,
	&store_pg_backend,
};

struct store *store_open(const struct store_config *c, char *err, size_t errlen)
{
	const char *name = c->backend != NULL ? c->backend : "sqlite";

	for (size_t i = 0; i < ARRAY_LEN(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i]->open(c, err, errlen);
	snprintf(err, errlen, "no store backend called %s", name);
	return NULL;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	store_set_webhooks(s, NULL, 0);
	s->be->close(s);
}

/* ---- what every backend shares ---- */

/* The last error this thread set, and on which handle. The engine's loop
 * and recorder share one handle, and each reads its failure after its call
 * has given the lock back: by then the handle's copy may be the other
 * thread's. */
static _Thread_local struct {
	const struct store *s;
	enum store_error_kind kind;
	char msg[sizeof ((struct store *)0)->err_msg];
} last_error;

void store_base_init(struct store *s, const struct store_backend *be)
{
	pthread_mutexattr_t a;

	s->be = be;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->lock, &a);
	pthread_mutexattr_destroy(&a);
}

void store_base_clear(struct store *s)
{
	if (last_error.s == s)
		last_error.s = NULL; /* a handle made later at this address starts clean */
	pthread_mutex_destroy(&s->lock);
}

void store_lock(struct store *s)
{
	pthread_mutex_lock(&s->lock);
}

void store_unlock(struct store *s)
{
	pthread_mutex_unlock(&s->lock);
}

/* rc, once the lock is given back: DISPATCH's last step. */
static int unlocked(struct store *s, int rc)
{
	store_unlock(s);
	return rc;
}

void store_set_error(struct store *s, enum store_error_kind kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err_msg, sizeof s->err_msg, fmt, ap);
	va_end(ap);
	s->err_kind = kind;
	last_error.s = s;
	last_error.kind = kind;
	memcpy(last_error.msg, s->err_msg, sizeof last_error.msg);
}

const char *store_last_error(const struct store *s)
{
	return last_error.s == s ? last_error.msg : s->err_msg;
}

enum store_error_kind store_last_error_kind(const struct store *s)
{
	return last_error.s == s ? last_error.kind : s->err_kind;
}

void store_set_webhooks(struct store *s, const char *const *urls, size_t n)
{
	for (size_t i = 0; i < s->n_webhook_urls; i++)
		free(s->webhook_urls[i]);
	free(s->webhook_urls);
	s->webhook_urls = n ? xcalloc(n, sizeof *s->webhook_urls) : NULL;
	for (size_t i = 0; i < n; i++)
		s->webhook_urls[i] = xstrdup(urls[i]);
	s->n_webhook_urls = n;
}

int store_outbox_wanted(const struct store *s)
{
	return s->n_webhook_urls > 0;
}

int sched_job_state(struct store *s, const char *job_id, enum job_state *state)
{
	struct job_record j;
	int rc = store_job_get(s, job_id, &j);

	if (rc == STORE_OK) {
		*state = j.state;
		jobs_job_record_clear(&j);
	}
	return rc;
}

/* ---- dispatch ---- */

/* An operation a backend does not have (yet): refused, never a crash. */
static int unsupported(struct store *s, const char *op)
{
	store_set_error(s, STORE_E_OTHER, "the %s store cannot %s yet", s->be->name, op);
	return STORE_ERR;
}

/* The operation under the handle's lock (taken, then the call, then
 * given back: a comma, then an argument evaluated before its call). */
#define DISPATCH(s, op, ...)                                                          \
	(store_lock(s),                                                                \
	 unlocked((s), (s)->be->op != NULL ? (s)->be->op((s), __VA_ARGS__)             \
					   : unsupported((s), #op)))

int store_check_integrity(struct store *s, int *intact, char *why, size_t whylen)
{
	return DISPATCH(s, check_integrity, intact, why, whylen);
}

/* store_schedule's jobs as a feed of one chunk. */
struct one_chunk {
	const struct store_new_job *jobs;
	size_t n;
	char (*ids)[JOBS_ID_LEN + 1];
	int *created;
	int given;
};

static int one_next(void *ctx, const struct store_new_job **jobs, size_t *n)
{
	struct one_chunk *c = ctx;

	*jobs = c->jobs;
	*n = c->given ? 0 : c->n;
	c->given = 1;
	return 0;
}

static int one_stored(void *ctx, size_t n, char (*ids)[JOBS_ID_LEN + 1], const int *created)
{
	struct one_chunk *c = ctx;

	memcpy(c->ids, ids, n * sizeof *ids);
	memcpy(c->created, created, n * sizeof *created);
	return 0;
}

static int one_rewind(void *ctx)
{
	((struct one_chunk *)ctx)->given = 0;
	return 0;
}

int store_schedule(struct store *s, const struct store_new_job *jobs, size_t n,
		   const struct store_service *svcs, size_t n_svcs, int64_t now,
		   char (*ids)[JOBS_ID_LEN + 1], int *created)
{
	struct one_chunk c = { .jobs = jobs, .n = n, .ids = ids, .created = created };
	struct store_job_feed feed = { one_next, one_stored, one_rewind, &c };

	return store_schedule_feed(s, &feed, svcs, n_svcs, now);
}

int store_schedule_feed(struct store *s, const struct store_job_feed *feed,
			const struct store_service *svcs, size_t n_svcs, int64_t now)
{
	return DISPATCH(s, schedule, feed, svcs, n_svcs, now);
}

int store_schedule_subject(struct store *s, const struct store_new_job *j, int64_t now,
			   char id[JOBS_ID_LEN + 1], int *created)
{
	return DISPATCH(s, schedule_subject, j, now, id, created);
}

int store_subject_tenants(struct store *s, const char *job_id, struct subject_tenant **out,
			  size_t *n)
{
	return DISPATCH(s, subject_tenants, job_id, out, n);
}

int store_job_get(struct store *s, const char *job_id, struct job_record *out)
{
	return DISPATCH(s, job_get, job_id, out);
}

int store_job_tasks(struct store *s, const char *job_id, struct task_record **out,
		    size_t *n)
{
	return DISPATCH(s, job_tasks, job_id, out, n);
}

int store_job_list(struct store *s, const struct store_list_filter *f, store_job_cb cb,
		   void *ctx)
{
	return DISPATCH(s, job_list, f, cb, ctx);
}

int store_jobs_progress(struct store *s, struct store_job_progress *out, size_t n)
{
	return DISPATCH(s, jobs_progress, out, n);
}

int store_service_errors(struct store *s, int64_t since, struct store_service_error **out,
			 size_t *n)
{
	return DISPATCH(s, service_errors, since, out, n);
}

int store_job_cancel(struct store *s, const char *job_id, const char *by,
		     const char *reason, const struct store_service *svcs, size_t n_svcs,
		     int64_t now, struct job_record *out)
{
	struct store_action a = { .act = JOB_ACT_CANCEL, .by = by, .reason = reason,
				  .svcs = svcs, .n_svcs = n_svcs, .now = now };

	return DISPATCH(s, job_act, job_id, &a, out);
}

int store_job_hold(struct store *s, const char *job_id, const char *by,
		   const char *reason, int64_t now, struct job_record *out)
{
	struct store_action a = { .act = JOB_ACT_HOLD, .by = by, .reason = reason, .now = now };

	return DISPATCH(s, job_act, job_id, &a, out);
}

int store_job_release(struct store *s, const char *job_id, const char *by, int64_t now,
		      struct job_record *out)
{
	struct store_action a = { .act = JOB_ACT_RELEASE, .by = by, .now = now };

	return DISPATCH(s, job_act, job_id, &a, out);
}

int store_job_retry(struct store *s, const char *job_id, const char *service,
		    const char *by, int64_t now, struct job_record *out)
{
	struct store_action a = { .act = JOB_ACT_RETRY, .by = by, .service = service,
				  .now = now };

	return DISPATCH(s, job_act, job_id, &a, out);
}

int store_job_approve(struct store *s, const char *job_id, const char *by, int64_t now,
		      struct job_record *out)
{
	struct store_action a = { .act = JOB_ACT_APPROVE, .by = by, .now = now };

	return DISPATCH(s, job_act, job_id, &a, out);
}

int store_retire_service(struct store *s, const char *service, const char *reason,
			 const char *by, int64_t now, int64_t *skipped)
{
	return DISPATCH(s, retire_service, service, reason, by, now, skipped);
}

int store_absent_services(struct store *s, const struct store_service *svcs, size_t n_svcs,
			  struct store_absent **out, size_t *n)
{
	return DISPATCH(s, absent_services, svcs, n_svcs, out, n);
}

int sched_maintain(struct store *s, const char *owner, sched_owner_fn judge, void *ctx,
		   int reclaim_self, const struct policy_retry *retry, int want_jobs,
		   int64_t now, struct sched_maint *m)
{
	return DISPATCH(s, maintain, owner, judge, ctx, reclaim_self, retry, want_jobs, now, m);
}

int sched_sweep_jobs(struct store *s, int64_t now)
{
	return DISPATCH(s, sweep_jobs, now);
}

int sched_claim_tasks(struct store *s, const char *owner, const struct sched_service *svcs,
		      size_t n_svcs, size_t first, int max, int64_t now,
		      struct sched_claimed **out, size_t *n)
{
	return DISPATCH(s, claim_tasks, owner, svcs, n_svcs, first, max, now, out, n);
}

int sched_count_sent(struct store *s, const char *owner, const struct sched_lease *leases,
		     size_t n, int64_t now, int *held)
{
	return DISPATCH(s, count_sent, owner, leases, n, now, held);
}

int sched_record_results(struct store *s, const char *owner, const struct sched_result *r,
			 size_t n, const struct sched_service *svcs, size_t n_svcs,
			 int64_t now, int *failed_jobs)
{
	return DISPATCH(s, record_results, owner, r, n, svcs, n_svcs, now, failed_jobs);
}

int sched_next_wake(struct store *s, const char *owner, const struct sched_service *svcs,
		    size_t n_svcs, int64_t now, int64_t *at)
{
	return DISPATCH(s, next_wake, owner, svcs, n_svcs, now, at);
}

int store_changed_token(struct store *s, uint64_t *token)
{
	return DISPATCH(s, changed_token, token);
}

int store_wait_fd(struct store *s)
{
	return s->be->wait_fd != NULL ? s->be->wait_fd(s) : -1;
}

int sched_sync_services(struct store *s, const struct sched_service *svcs, size_t n_svcs,
			int64_t now, int *added, int *held)
{
	return DISPATCH(s, sync_services, svcs, n_svcs, now, added, held);
}

int sched_jobs_failed(struct store *s, const char *const *ids, size_t n, size_t *failed)
{
	*failed = 0;
	return n == 0 ? STORE_OK : DISPATCH(s, jobs_failed, ids, n, failed);
}

int store_webhook_enqueue(struct store *s, const char *const *urls, size_t n, int batch,
			  int64_t now, int *more)
{
	return DISPATCH(s, webhook_enqueue, urls, n, batch, now, more);
}

int store_webhook_claim(struct store *s, const char *url, const char *owner, int64_t now,
			int64_t lease_ms, int limit, struct store_delivery **out, size_t *n)
{
	return DISPATCH(s, webhook_claim, url, owner, now, lease_ms, limit, out, n);
}

int store_webhook_finish(struct store *s, int64_t outbox_id, const char *url, int delivered,
			 int status, const char *error, int64_t next_attempt_at, int64_t now)
{
	return DISPATCH(s, webhook_finish, outbox_id, url, delivered, status, error,
				     next_attempt_at, now);
}

int store_webhook_release(struct store *s, const char *owner)
{
	return DISPATCH(s, webhook_release, owner);
}

int store_webhook_lease_owners(struct store *s, char ***owners, size_t *n)
{
	return DISPATCH(s, webhook_lease_owners, owners, n);
}

int store_webhook_prune(struct store *s, const char *const *urls, size_t n, int64_t before,
			int limit, int *more)
{
	return DISPATCH(s, webhook_prune, urls, n, before, limit, more);
}

int store_webhook_backlog(struct store *s, const char *const *urls, size_t n,
			  int64_t *count)
{
	return DISPATCH(s, webhook_backlog, urls, n, count);
}

int store_tombstones_list(struct store *s, int64_t since, store_tombstone_cb cb, void *ctx)
{
	return DISPATCH(s, tombstones_list, since, cb, ctx);
}

int store_reapply(struct store *s, const struct store_reapply_req *r,
		  struct store_reapply_item **items, size_t *n)
{
	return DISPATCH(s, reapply, r, items, n);
}

int store_metrics_read(struct store *s, int64_t now, const char *const *urls, size_t n_urls,
		       struct store_metrics *out)
{
	return DISPATCH(s, metrics_read, now, urls, n_urls, out);
}
