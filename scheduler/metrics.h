/*
 * metrics.h - the Prometheus text (exposition format 0.0.4) for a config
 * and a database: what `tenantdel metrics`, `run --metrics-file` and
 * GET /metrics expose.
 */
#ifndef TENANTDEL_SCHED_METRICS_H
#define TENANTDEL_SCHED_METRICS_H

#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "util/util.h"

/* The Content-Type of the text (for HTTP). */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Appends the exposition text for cfg's enabled services and webhook
 * receivers to out: tenantdel_jobs{state} (every state),
 * tenantdel_jobs_overdue, tenantdel_due_lag_seconds,
 * tenantdel_webhook_backlog, tenantdel_task_attempts_total{service,outcome},
 * tenantdel_records_deleted_total{service},
 * tenantdel_attempt_duration_seconds{service} (histogram),
 * tenantdel_breaker_state{service} (0 closed, 1 half-open, 2 open); the
 * configured services are always listed. Returns 0, or -1 (logged) with
 * out reset.
 */
int metrics_render(struct store *s, const struct config *cfg, int64_t now, struct buf *out);

/*
 * Renders and writes it to path atomically (for node_exporter's textfile
 * collector). Returns 0, or -1 after logging metrics.write.failed.
 */
int metrics_write_file(struct store *s, const struct config *cfg, const char *path);

#endif
