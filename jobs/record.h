/*
 * record.h - a job and its tasks as plain data, and their JSON form (the
 * `show --json` shape of DESIGN 4). The store fills these; the CLI, the API
 * and the webhook outbox render them. Pure.
 */
#ifndef TENANTDEL_RECORD_H
#define TENANTDEL_RECORD_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "jobs/jobs.h"

enum job_kind {
	JOB_KIND_PURGE,   /* the tenant's deletion */
	JOB_KIND_REAPPLY, /* one service's deletion again, after a backup restore */
};

/* Times are epoch ms; 0 means "not yet" (rendered as null). */
struct job_record {
	char id[JOBS_ID_LEN + 1];
	char *tenant_id;
	char *tenant_name;     /* may be NULL */
	char *requested_by;    /* may be NULL */
	char *reason;          /* may be NULL */
	char *hold_reason;     /* set while held */
	char *origin_job_id;   /* reapply: the purge job repeated */
	enum job_kind kind;
	enum job_state state;
	enum job_state held_from; /* meaningful when state == JOB_HELD */
	int64_t created_at, due_at, deadline_at, started_at, finished_at;
	int64_t total_deleted;
	int deadline_missed;
};

struct task_record {
	int64_t id;
	char job_id[JOBS_ID_LEN + 1];
	char *service;
	enum task_kind kind;
	int phase;
	enum task_state state;
	int attempts;             /* DELETE calls made */
	int http_status;          /* last answer's status, 0 none */
	char *deleted_counts;     /* JSON object text, NULL none */
	int64_t total_deleted;    /* -1 none */
	char *preview_before;     /* JSON object text of the pre-purge preview, NULL none */
	int64_t before_total;     /* -1 none */
	int64_t verified_after;   /* records left at verification, -1 not verified */
	int64_t duration_ms;      /* last attempt, -1 none */
	char *last_error;         /* NULL none */
	char *skip_reason;        /* when skipped */
	char *lease_owner;        /* when in flight */
	int64_t lease_expires_at;
	int64_t next_attempt_at;  /* 0: not eligible yet (a later phase) */
	int64_t first_attempt_at;
	int64_t updated_at;
};

const char *jobs_job_kind_name(enum job_kind k);   /* "purge", "reapply" */
int jobs_job_kind_parse(const char *name, enum job_kind *out);

/* Free the strings of a record and zero it; NULL-safe. */
void jobs_job_record_clear(struct job_record *j);
void jobs_task_record_clear(struct task_record *t);
void jobs_task_records_free(struct task_record *t, size_t n);

/*
 * The job as `show --json` prints it. With tasks == NULL there is no "tasks"
 * key (the `list` and webhook shape). Returns a new cJSON tree the caller
 * deletes. Can't fail (allocation aborts).
 */
cJSON *jobs_render_job(const struct job_record *j, const struct task_record *tasks,
		       size_t n_tasks);
/* JSON helpers shared by every renderer: a time as RFC 3339 UTC (null when
 * ms <= 0, "not yet"), a string (null when NULL). */
void jobs_json_add_time(cJSON *o, const char *key, int64_t ms);
void jobs_json_add_str(cJSON *o, const char *key, const char *s);

/* One task as in the "tasks" array. */
cJSON *jobs_render_task(const struct task_record *t);

#endif
