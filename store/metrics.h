/*
 * metrics.h - the database's state as Prometheus text (exposition format
 * 0.0.4), for `tenantdel metrics`, `run --metrics-file` and GET /metrics.
 *
 * The counters table holds the monotonic series; whoever records an attempt
 * adds to it in the attempts' own transaction (store_metrics_batch_*),
 * so the counts survive restarts and add up across processes sharing the
 * file. Rows, by name (service = the service name):
 *
 *   attempts         label = outcome ("success", "retry", "permanent")
 *   deleted          label = ""      records deleted
 *   duration_bucket  label = upper bound in ms ("50", ..., "+Inf"); each
 *                    attempt adds 1 to exactly one bucket, the smallest
 *                    bound >= its duration (the renderer accumulates)
 *   duration_sum_ms  label = ""      sum of durations
 */
#ifndef TENANTDEL_STORE_METRICS_H
#define TENANTDEL_STORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/util.h"

/* The Content-Type of the text (for HTTP). */
#define STORE_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct store_metrics_opts {
	const char *const *services;     /* configured services: always listed */
	size_t n_services;
	const char *const *webhook_urls; /* configured receivers: the backlog is theirs */
	size_t n_webhook_urls;
	int64_t now;                     /* epoch ms */
};

/*
 * Appends the exposition text to out: tenantdel_jobs{state} (every state),
 * tenantdel_jobs_overdue, tenantdel_task_attempts_total{service,outcome},
 * tenantdel_records_deleted_total{service},
 * tenantdel_attempt_duration_seconds{service} (histogram),
 * tenantdel_due_lag_seconds, tenantdel_webhook_backlog,
 * tenantdel_breaker_state{service} (0 closed, 1 half-open, 2 open).
 * Returns STORE_OK, or STORE_ERR (logged; out then holds a partial text
 * the caller discards).
 */
int store_metrics_render(struct store *s, const struct store_metrics_opts *o,
			 struct buf *out);

/*
 * The counters of a group commit, summed in memory so that a batch of
 * attempts costs one upsert per (name, service, label), not four per
 * attempt: attempts{outcome} += 1, deleted += deleted (when > 0), one
 * duration bucket and the duration sum (when duration_ms >= 0). Zero-
 * initialise it; service and outcome must outlive the flush.
 */
struct store_metrics_batch {
	struct store_metrics_count *v;
	size_t n, cap;
};

void store_metrics_batch_add(struct store_metrics_batch *b, const char *service,
			     const char *outcome, int64_t duration_ms, int64_t deleted);
/* Writes the sums; call inside the transaction that records the attempts.
 * STORE_OK or STORE_ERR. */
int store_metrics_batch_flush(struct store *s, const struct store_metrics_batch *b);
void store_metrics_batch_free(struct store_metrics_batch *b); /* keeps b reusable */

/*
 * The bucket label for a duration ("5", "10", ..., "+Inf"): the smallest
 * bucket bound in ms that is >= duration_ms. Static string, never NULL.
 */
const char *store_metrics_bucket_label(int64_t duration_ms);

#endif
