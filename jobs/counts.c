/*
 * counts.c - the counters an attempt adds, and the duration buckets.
 */
#include "jobs/counts.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static const int64_t BOUNDS_MS[JOBS_DURATION_BUCKETS - 1] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000};

static const char *const LABELS[JOBS_DURATION_BUCKETS] = {
	"5",    "10",   "25",    "50",    "100",   "250",    "500",
	"1000", "2500", "5000", "10000", "30000", "60000", "120000", "+Inf"};

int64_t jobs_duration_bound_ms(size_t i)
{
	return i < ARRAY_LEN(BOUNDS_MS) ? BOUNDS_MS[i] : INT64_MAX;
}

const char *jobs_duration_label(size_t i)
{
	return LABELS[i < JOBS_DURATION_BUCKETS ? i : JOBS_DURATION_BUCKETS - 1];
}

size_t jobs_duration_bucket(int64_t duration_ms)
{
	size_t i = 0;

	while (i < ARRAY_LEN(BOUNDS_MS) && BOUNDS_MS[i] < duration_ms)
		i++;
	return i;
}

size_t jobs_duration_bucket_of(const char *label)
{
	char *end;
	long long ms;

	if (label == NULL || strcmp(label, "+Inf") == 0)
		return JOBS_DURATION_BUCKETS - 1;
	ms = strtoll(label, &end, 10);
	if (end == label || *end != '\0')
		return JOBS_DURATION_BUCKETS - 1;
	return jobs_duration_bucket(ms);
}

static void put(struct jobs_counts *c, const char *name, const char *service,
		const char *label, int64_t n)
{
	for (size_t i = 0; i < c->n; i++) {
		struct jobs_count *k = &c->v[i];
		/* the service first: it tells most entries apart */
		if (strcmp(k->service, service) == 0 && strcmp(k->name, name) == 0 &&
		    strcmp(k->label, label) == 0) {
			k->n += n;
			return;
		}
	}
	c->v = xreserve(c->v, &c->cap, c->n + 1, sizeof *c->v);
	c->v[c->n++] = (struct jobs_count){ name, service, label, n };
}

void jobs_counts_add_attempt(struct jobs_counts *c, const char *service,
			     const char *outcome, int64_t duration_ms, int64_t deleted)
{
	put(c, "attempts", service, outcome ? outcome : "", 1);
	if (deleted > 0)
		put(c, "deleted", service, "", deleted);
	if (duration_ms >= 0) {
		put(c, "duration_bucket", service, LABELS[jobs_duration_bucket(duration_ms)], 1);
		put(c, "duration_sum_ms", service, "", duration_ms);
	}
}

void jobs_counts_free(struct jobs_counts *c)
{
	free(c->v);
	memset(c, 0, sizeof *c);
}
