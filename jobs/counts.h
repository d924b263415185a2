/*
 * counts.h - what one attempt adds to the monotonic counters the metrics
 * expose (the store keeps them in the attempts' own transaction, so they
 * survive restarts and add up across processes sharing the file). One
 * row per (name, service, label):
 *
 *   attempts         label = outcome ("success", "retry", "permanent")
 *   deleted          label = ""      records deleted
 *   duration_bucket  label = upper bound in ms ("5", ..., "+Inf"); each
 *                    attempt adds 1 to exactly one bucket, the smallest
 *                    bound >= its duration (the renderer accumulates)
 *   duration_sum_ms  label = ""      sum of durations
 *
 * Pure functions.
 */
#ifndef TENANTDEL_COUNTS_H
#define TENANTDEL_COUNTS_H

#include <stddef.h>
#include <stdint.h>

/* Duration buckets: 14 bounds in ms, then "+Inf". */
#define JOBS_DURATION_BUCKETS 15

/* The bound in ms of bucket i < JOBS_DURATION_BUCKETS - 1 (the last one,
 * +Inf, has none: INT64_MAX). */
int64_t jobs_duration_bound_ms(size_t i);

/* The label of bucket i as stored ("5", "10", ..., "+Inf"). Static string. */
const char *jobs_duration_label(size_t i);

/* The bucket of a duration: the smallest bound >= duration_ms. */
size_t jobs_duration_bucket(int64_t duration_ms);

/* The bucket a stored label counts in: its own, or for a bound that is not
 * one of ours (an older bucket list) the first of ours that holds it;
 * anything unreadable is +Inf. */
size_t jobs_duration_bucket_of(const char *label);

/* One counter's increment. */
struct jobs_count {
	const char *name, *service, *label;
	int64_t n;
};

/*
 * The counters of a group commit, summed in memory so that a batch of
 * attempts costs one upsert per (name, service, label). Zero-initialise
 * it; the strings given must outlive it.
 */
struct jobs_counts {
	struct jobs_count *v;
	size_t n, cap;
};

/* One attempt: attempts{outcome} += 1, deleted += deleted (when > 0), one
 * duration bucket and the duration sum (when duration_ms >= 0). */
void jobs_counts_add_attempt(struct jobs_counts *c, const char *service,
			     const char *outcome, int64_t duration_ms, int64_t deleted);

void jobs_counts_free(struct jobs_counts *c); /* leaves it empty, reusable */

#endif
