/*
 * metrics.c - the Prometheus text for a config and a database, rendered
 * from the counts the store reads (store_metrics_read, store/store.h).
 */
#include "scheduler/metrics.h"
#include "jobs/counts.h"
#include "store/store.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text helpers ---- */

/* A label value with \, " and newline escaped (format 0.0.4). */
static void put_label(struct buf *out, const char *v)
{
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\')
			buf_puts(out, "\\\\");
		else if (*p == '"')
			buf_puts(out, "\\\"");
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else
			buf_append(out, p, 1);
	}
}

static void put_head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1"[,k2="v2"]} value */
static void put_sample(struct buf *out, const char *name, const char *k1, const char *v1,
		       const char *k2, const char *v2, const char *value)
{
	buf_puts(out, name);
	if (k1 != NULL) {
		buf_printf(out, "{%s=\"", k1);
		put_label(out, v1);
		if (k2 != NULL) {
			buf_printf(out, "\",%s=\"", k2);
			put_label(out, v2);
		}
		buf_puts(out, "\"}");
	}
	buf_printf(out, " %s\n", value);
}

static void put_int(struct buf *out, const char *name, const char *k1, const char *v1,
		    const char *k2, const char *v2, int64_t value)
{
	char num[32];
	snprintf(num, sizeof num, "%lld", (long long)value);
	put_sample(out, name, k1, v1, k2, v2, num);
}

/* ---- the series ---- */

static void render_jobs(const struct store_metrics *m, struct buf *out)
{
	put_head(out, "tenantdel_jobs", "gauge", "Jobs by state.");
	for (int i = 0; i < JOB_STATE_COUNT; i++)
		put_int(out, "tenantdel_jobs", "state", jobs_job_state_name((enum job_state)i),
			NULL, NULL, m->jobs[i]);
}

static void render_gauges(const struct store_metrics *m, int64_t now, struct buf *out)
{
	int64_t oldest = m->oldest_due_at;
	char num[32];

	put_head(out, "tenantdel_jobs_overdue", "gauge",
		 "Active jobs past their deadline.");
	put_int(out, "tenantdel_jobs_overdue", NULL, NULL, NULL, NULL, m->overdue);

	snprintf(num, sizeof num, "%.3f",
		 oldest == INT64_MAX || oldest > now ? 0.0 : (double)(now - oldest) / 1000.0);
	put_head(out, "tenantdel_due_lag_seconds", "gauge",
		 "Age of the oldest due work not yet started (0 when none).");
	put_sample(out, "tenantdel_due_lag_seconds", NULL, NULL, NULL, NULL, num);

	put_head(out, "tenantdel_webhook_backlog", "gauge",
		 "Webhook deliveries not yet acknowledged by their receiver.");
	put_int(out, "tenantdel_webhook_backlog", NULL, NULL, NULL, NULL, m->webhook_backlog);
}

/* Per-service accumulation, configured services first (their order). */
struct per_service {
	const char *name; /* points into the config or the store's counts */
	int64_t deleted;
	int64_t sum_ms;
	int64_t buckets[JOBS_DURATION_BUCKETS];
	int breaker; /* 0 closed, 1 half-open, 2 open */
};

struct services {
	struct per_service *v;
	size_t n, cap;
};

static struct per_service *service_get(struct services *ss, const char *name)
{
	name = name ? name : "";
	for (size_t i = 0; i < ss->n; i++)
		if (strcmp(ss->v[i].name, name) == 0)
			return &ss->v[i];
	ss->v = xreserve(ss->v, &ss->cap, ss->n + 1, sizeof *ss->v);
	memset(&ss->v[ss->n], 0, sizeof ss->v[ss->n]);
	ss->v[ss->n].name = name;
	return &ss->v[ss->n++];
}

/* The attempts rows printed, the others summed per service, in the
 * store's order (by name: attempts, deleted, duration_bucket, _sum). */
static void render_attempts(const struct store_metrics *m, struct services *ss,
			    struct buf *out)
{
	put_head(out, "tenantdel_task_attempts_total", "counter",
		 "HTTP attempts made, by service and outcome.");
	for (size_t i = 0; i < m->n_counters; i++) {
		const struct store_counter *c = &m->counters[i];
		if (strcmp(c->name, "attempts") == 0)
			put_int(out, "tenantdel_task_attempts_total", "service", c->service,
				"outcome", c->label, c->value);
		else if (strcmp(c->name, "deleted") == 0)
			service_get(ss, c->service)->deleted += c->value;
		else if (strcmp(c->name, "duration_bucket") == 0)
			service_get(ss, c->service)->buckets[jobs_duration_bucket_of(c->label)] +=
				c->value;
		else if (strcmp(c->name, "duration_sum_ms") == 0)
			service_get(ss, c->service)->sum_ms += c->value;
	}
}

static void render_histogram(const struct services *ss, struct buf *out)
{
	static const char H[] = "tenantdel_attempt_duration_seconds";

	put_head(out, H, "histogram", "Duration of the HTTP attempts, per service.");
	for (size_t i = 0; i < ss->n; i++) {
		const struct per_service *p = &ss->v[i];
		int64_t cum = 0;
		char le[32], sum[32];

		for (size_t b = 0; b < JOBS_DURATION_BUCKETS; b++) {
			cum += p->buckets[b];
			if (b + 1 < JOBS_DURATION_BUCKETS)
				snprintf(le, sizeof le, "%g",
					 (double)jobs_duration_bound_ms(b) / 1000.0);
			else
				snprintf(le, sizeof le, "+Inf");
			put_int(out, "tenantdel_attempt_duration_seconds_bucket", "service",
				p->name, "le", le, cum);
		}
		snprintf(sum, sizeof sum, "%.3f", (double)p->sum_ms / 1000.0);
		put_sample(out, "tenantdel_attempt_duration_seconds_sum", "service", p->name, NULL,
			   NULL, sum);
		put_int(out, "tenantdel_attempt_duration_seconds_count", "service", p->name, NULL,
			NULL, cum);
	}
}

static void render_services(const struct store_metrics *m, const struct config *cfg,
			    struct buf *out)
{
	struct services ss = {0};

	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].enabled)
			service_get(&ss, cfg->services[i].name);
	render_attempts(m, &ss, out);
	for (size_t i = 0; i < m->n_breakers; i++) {
		enum breaker_state b = m->breakers[i].state;
		service_get(&ss, m->breakers[i].service)->breaker =
			b == BREAKER_OPEN ? 2 : b == BREAKER_HALF_OPEN ? 1 : 0;
	}
	put_head(out, "tenantdel_records_deleted_total", "counter",
		 "Records the services reported deleted.");
	for (size_t i = 0; i < ss.n; i++)
		put_int(out, "tenantdel_records_deleted_total", "service", ss.v[i].name, NULL,
			NULL, ss.v[i].deleted);
	render_histogram(&ss, out);
	put_head(out, "tenantdel_breaker_state", "gauge",
		 "Circuit breaker per service: 0 closed, 1 half-open, 2 open.");
	for (size_t i = 0; i < ss.n; i++)
		put_int(out, "tenantdel_breaker_state", "service", ss.v[i].name, NULL, NULL,
			ss.v[i].breaker);
	free(ss.v);
}

int metrics_render(struct store *s, const struct config *cfg, int64_t now, struct buf *out)
{
	struct store_metrics m;

	if (store_metrics_read(s, now, (const char *const *)cfg->webhook_urls,
			       cfg->n_webhook_urls, &m) != STORE_OK) {
		buf_reset(out);
		return -1;
	}
	render_jobs(&m, out);
	render_gauges(&m, now, out);
	render_services(&m, cfg, out);
	store_metrics_clear(&m);
	return 0;
}

int metrics_write_file(struct store *s, const struct config *cfg, const char *path)
{
	struct buf b;
	int rc = -1;

	buf_init(&b);
	if (metrics_render(s, cfg, clock_now_ms(), &b) == 0) {
		rc = util_write_file_atomic(path, b.data, b.len);
		if (rc < 0) {
			struct log_line *l = log_start(LOG_WARN, "metrics.write.failed");
			log_str(l, "path", path);
			log_str(l, "error", strerror(errno));
			log_done(l);
		}
	}
	buf_free(&b);
	return rc;
}
