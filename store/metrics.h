/*
 * metrics.h - the counts behind `tenantdel metrics`, `run --metrics-file`
 * and GET /metrics (the text itself is scheduler/metrics.c's): jobs by
 * state, gauges read from the tables each time (indexed counts), and the
 * monotonic counters (jobs/counts.h), which whoever records attempts adds
 * to in the attempts' own transaction (store_metrics_batch_flush).
 */
#ifndef TENANTDEL_STORE_METRICS_H
#define TENANTDEL_STORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/counts.h"
#include "jobs/jobs.h"
#include "jobs/policy.h"
#include "store/store.h"

/* One counters row. */
struct store_counter {
	char *name;    /* "attempts", "deleted", "duration_bucket", "duration_sum_ms" */
	char *service;
	char *label;   /* see jobs/counts.h */
	int64_t value;
};

/* A service's circuit breaker as last written. */
struct store_breaker_state {
	char *service;
	enum breaker_state state;
};

/* What the metrics show, as of one moment. */
struct store_metrics {
	int64_t jobs[JOB_STATE_COUNT]; /* by enum job_state */
	int64_t overdue;               /* active jobs past their deadline */
	int64_t oldest_due_at;         /* the oldest due work nobody has started
					* (claimable tasks of jobs not on hold,
					* scheduled jobs due); INT64_MAX: none */
	int64_t webhook_backlog;       /* deliveries to the urls not acknowledged */
	struct store_counter *counters; /* by name, service, label */
	size_t n_counters;
	struct store_breaker_state *breakers; /* by service */
	size_t n_breakers;
};

/*
 * Reads the counts at now (epoch ms) into *out; the webhook backlog is
 * that of urls (the configured receivers). STORE_OK, or STORE_ERR (logged)
 * with *out empty. Release with store_metrics_clear.
 */
int store_metrics_read(struct store *s, int64_t now, const char *const *urls, size_t n_urls,
		       struct store_metrics *out);
void store_metrics_clear(struct store_metrics *m); /* leaves it empty */

/*
 * Adds a group commit's counters (jobs_counts_add_attempt) to the counters
 * rows; call inside the transaction that records the attempts.
 * STORE_OK or STORE_ERR.
 */
int store_metrics_batch_flush(struct store *s, const struct jobs_counts *c);

#endif
