/*
 * metrics.c - Prometheus text exposition of the database's state. Gauges
 * are read from the tables each time (indexed counts); counters come from
 * the counters table, which the attempts keep up to date.
 */
#include "store/metrics.h"
#include "store/outbox.h"
#include "store/store_int.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bucket bounds in ms; an attempt past the last one lands in +Inf. */
static const int64_t BUCKETS_MS[] = {5,    10,   25,    50,    100,   250,    500,
				     1000, 2500, 5000, 10000, 30000, 60000, 120000};
#define N_BUCKETS (ARRAY_LEN(BUCKETS_MS) + 1) /* + "+Inf" */

static const char *const BUCKET_LABELS[N_BUCKETS] = {
	"5",    "10",   "25",    "50",    "100",   "250",    "500",
	"1000", "2500", "5000", "10000", "30000", "60000", "120000", "+Inf"};

#define ACTIVE "('scheduled','running','failed','held')"

static const char SQL_JOBS_BY_STATE[] = "SELECT state, COUNT(*) FROM jobs GROUP BY state";
static const char SQL_OVERDUE[] =
	"SELECT COUNT(*) FROM jobs WHERE state IN " ACTIVE " AND deadline_at < :now";
/* Oldest due work nobody has started: claimable tasks of jobs not on hold,
 * and scheduled jobs whose window has ended. */
static const char SQL_DUE_TASKS[] =
	"SELECT MIN(t.next_attempt_at) FROM tasks t JOIN jobs j ON j.id = t.job_id"
	" WHERE t.state IN ('pending','waiting') AND t.next_attempt_at IS NOT NULL"
	" AND t.next_attempt_at <= :now AND j.state <> 'held'";
static const char SQL_DUE_JOBS[] =
	"SELECT MIN(due_at) FROM jobs WHERE state = 'scheduled' AND due_at <= :now";
static const char SQL_COUNTERS[] =
	"SELECT service, label, value FROM counters WHERE name = :name ORDER BY service, label";
static const char SQL_BREAKERS[] = "SELECT service, state FROM breakers ORDER BY service";
static const char SQL_COUNT_ADD[] =
	"INSERT INTO counters (name, service, label, value) VALUES (:name, :service, :label, :n)"
	" ON CONFLICT (name, service, label) DO UPDATE SET value = value + excluded.value";

const char *store_metrics_bucket_label(int64_t duration_ms)
{
	for (size_t i = 0; i < ARRAY_LEN(BUCKETS_MS); i++)
		if (duration_ms <= BUCKETS_MS[i])
			return BUCKET_LABELS[i];
	return BUCKET_LABELS[N_BUCKETS - 1];
}

/* One counters row's increment. */
struct store_metrics_count {
	const char *name, *service, *label;
	int64_t n;
};

static void batch_put(struct store_metrics_batch *b, const char *name, const char *service,
		      const char *label, int64_t n)
{
	for (size_t i = 0; i < b->n; i++) {
		struct store_metrics_count *k = &b->v[i];
		if (strcmp(k->name, name) == 0 && strcmp(k->label, label) == 0 &&
		    strcmp(k->service, service) == 0) {
			k->n += n;
			return;
		}
	}
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 32;
		b->v = xrealloc(b->v, b->cap * sizeof *b->v);
	}
	b->v[b->n++] = (struct store_metrics_count){ name, service, label, n };
}

void store_metrics_batch_add(struct store_metrics_batch *b, const char *service,
			     const char *outcome, int64_t duration_ms, int64_t deleted)
{
	batch_put(b, "attempts", service, outcome ? outcome : "", 1);
	if (deleted > 0)
		batch_put(b, "deleted", service, "", deleted);
	if (duration_ms >= 0) {
		batch_put(b, "duration_bucket", service, store_metrics_bucket_label(duration_ms), 1);
		batch_put(b, "duration_sum_ms", service, "", duration_ms);
	}
}

int store_metrics_batch_flush(struct store *s, const struct store_metrics_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		sqlite3_stmt *st = store_stmt(s, SQL_COUNT_ADD);
		if (st == NULL)
			return STORE_ERR;
		store_bind_text(st, ":name", b->v[i].name);
		store_bind_text(st, ":service", b->v[i].service);
		store_bind_text(st, ":label", b->v[i].label);
		store_bind_int(st, ":n", b->v[i].n);
		if (store_step_done(s, st) < 0)
			return STORE_ERR;
	}
	return STORE_OK;
}

void store_metrics_batch_free(struct store_metrics_batch *b)
{
	free(b->v);
	memset(b, 0, sizeof *b);
}

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

/* Runs a one-value query bound with :now (when it has one); *v = NULL -> none. */
static int query_int(struct store *s, const char *sql, int64_t now, int64_t none, int64_t *v)
{
	sqlite3_stmt *st = store_stmt(s, sql);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	if (sqlite3_bind_parameter_index(st, ":now") > 0)
		store_bind_int(st, ":now", now);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		store_log_error(s, sql);
		store_reset(st);
		return STORE_ERR;
	}
	*v = store_col_int(st, 0, none);
	store_reset(st);
	return STORE_OK;
}

/* ---- the series ---- */

static int render_jobs(struct store *s, struct buf *out)
{
	int64_t n[JOB_STATE_COUNT] = {0};
	sqlite3_stmt *st = store_stmt(s, SQL_JOBS_BY_STATE);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		enum job_state js;
		if (name != NULL && jobs_job_state_parse(name, &js) == 0)
			n[js] = sqlite3_column_int64(st, 1);
	}
	store_reset(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, SQL_JOBS_BY_STATE);
		return STORE_ERR;
	}
	put_head(out, "tenantdel_jobs", "gauge", "Jobs by state.");
	for (int i = 0; i < JOB_STATE_COUNT; i++)
		put_int(out, "tenantdel_jobs", "state", jobs_job_state_name((enum job_state)i),
			NULL, NULL, n[i]);
	return STORE_OK;
}

static int render_gauges(struct store *s, const struct store_metrics_opts *o, struct buf *out)
{
	int64_t overdue, due_task, due_job, oldest, backlog;
	char num[32];

	if (query_int(s, SQL_OVERDUE, o->now, 0, &overdue) < 0 ||
	    query_int(s, SQL_DUE_TASKS, o->now, INT64_MAX, &due_task) < 0 ||
	    query_int(s, SQL_DUE_JOBS, o->now, INT64_MAX, &due_job) < 0 ||
	    store_webhook_backlog(s, o->webhook_urls, o->n_webhook_urls, &backlog) < 0)
		return STORE_ERR;
	put_head(out, "tenantdel_jobs_overdue", "gauge",
		 "Active jobs past their deadline.");
	put_int(out, "tenantdel_jobs_overdue", NULL, NULL, NULL, NULL, overdue);

	oldest = due_task < due_job ? due_task : due_job;
	snprintf(num, sizeof num, "%.3f",
		 oldest == INT64_MAX || oldest > o->now ? 0.0 : (double)(o->now - oldest) / 1000.0);
	put_head(out, "tenantdel_due_lag_seconds", "gauge",
		 "Age of the oldest due work not yet started (0 when none).");
	put_sample(out, "tenantdel_due_lag_seconds", NULL, NULL, NULL, NULL, num);

	put_head(out, "tenantdel_webhook_backlog", "gauge",
		 "Webhook deliveries not yet acknowledged by their receiver.");
	put_int(out, "tenantdel_webhook_backlog", NULL, NULL, NULL, NULL, backlog);
	return STORE_OK;
}

/* Streams counters rows of one name to cb(ctx, service, label, value). */
typedef void (*counter_cb)(void *ctx, const char *service, const char *label, int64_t v);

static int each_counter(struct store *s, const char *name, counter_cb cb, void *ctx)
{
	sqlite3_stmt *st = store_stmt(s, SQL_COUNTERS);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	store_bind_text(st, ":name", name);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb(ctx, (const char *)sqlite3_column_text(st, 0),
		   (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2));
	store_reset(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, SQL_COUNTERS);
		return STORE_ERR;
	}
	return STORE_OK;
}

/* Per-service accumulation, configured services first (their order). */
struct per_service {
	char *name;
	int64_t deleted;
	int64_t sum_ms;
	int64_t buckets[N_BUCKETS];
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
	if (ss->n == ss->cap) {
		ss->cap = ss->cap ? 2 * ss->cap : 16;
		ss->v = xrealloc(ss->v, ss->cap * sizeof *ss->v);
	}
	memset(&ss->v[ss->n], 0, sizeof ss->v[ss->n]);
	ss->v[ss->n].name = xstrdup(name);
	return &ss->v[ss->n++];
}

static void services_free(struct services *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		free(ss->v[i].name);
	free(ss->v);
}

static void on_attempt(void *ctx, const char *service, const char *label, int64_t v)
{
	struct buf *out = ctx;
	put_int(out, "tenantdel_task_attempts_total", "service", service, "outcome", label, v);
}

static void on_deleted(void *ctx, const char *service, const char *label, int64_t v)
{
	service_get(ctx, service)->deleted += v;
}

static void on_sum(void *ctx, const char *service, const char *label, int64_t v)
{
	service_get(ctx, service)->sum_ms += v;
}

/* A bucket row: its label is its bound in ms; an unknown bound goes to the
 * first standard bucket that holds it, so a changed bucket list stays sound. */
static void on_bucket(void *ctx, const char *service, const char *label, int64_t v)
{
	struct per_service *p = service_get(ctx, service);
	size_t i = N_BUCKETS - 1;

	if (label != NULL && strcmp(label, "+Inf") != 0) {
		char *end;
		long long ms = strtoll(label, &end, 10);
		if (end != label && *end == '\0')
			for (i = 0; i < ARRAY_LEN(BUCKETS_MS) && BUCKETS_MS[i] < ms; i++)
				;
	}
	p->buckets[i] += v;
}

static void render_histogram(const struct services *ss, struct buf *out)
{
	static const char H[] = "tenantdel_attempt_duration_seconds";

	put_head(out, H, "histogram", "Duration of the HTTP attempts, per service.");
	for (size_t i = 0; i < ss->n; i++) {
		const struct per_service *p = &ss->v[i];
		int64_t cum = 0;
		char le[32], sum[32];

		for (size_t b = 0; b < N_BUCKETS; b++) {
			cum += p->buckets[b];
			if (b + 1 < N_BUCKETS)
				snprintf(le, sizeof le, "%g", (double)BUCKETS_MS[b] / 1000.0);
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

static int read_breakers(struct store *s, struct services *ss)
{
	sqlite3_stmt *st = store_stmt(s, SQL_BREAKERS);
	int rc;

	if (st == NULL)
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 1);
		struct per_service *p =
			service_get(ss, (const char *)sqlite3_column_text(st, 0));
		if (state == NULL || strcmp(state, "closed") == 0)
			p->breaker = 0;
		else if (strcmp(state, "open") == 0)
			p->breaker = 2;
		else
			p->breaker = 1; /* half_open */
	}
	store_reset(st);
	if (rc != SQLITE_DONE) {
		store_log_error(s, SQL_BREAKERS);
		return STORE_ERR;
	}
	return STORE_OK;
}

static int render_services(struct store *s, const struct store_metrics_opts *o,
			   struct buf *out)
{
	struct services ss = {0};
	int rc = STORE_ERR;

	for (size_t i = 0; i < o->n_services; i++)
		service_get(&ss, o->services[i]);
	put_head(out, "tenantdel_task_attempts_total", "counter",
		 "HTTP attempts made, by service and outcome.");
	if (each_counter(s, "attempts", on_attempt, out) < 0 ||
	    each_counter(s, "deleted", on_deleted, &ss) < 0 ||
	    each_counter(s, "duration_bucket", on_bucket, &ss) < 0 ||
	    each_counter(s, "duration_sum_ms", on_sum, &ss) < 0 || read_breakers(s, &ss) < 0)
		goto out;
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
	rc = STORE_OK;
out:
	services_free(&ss);
	return rc;
}

int store_metrics_render(struct store *s, const struct store_metrics_opts *o,
			 struct buf *out)
{
	if (render_jobs(s, out) < 0 || render_gauges(s, o, out) < 0 ||
	    render_services(s, o, out) < 0)
		return STORE_ERR;
	return STORE_OK;
}
