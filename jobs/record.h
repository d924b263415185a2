/*
 * record.h - a job, its tasks and its events as plain data. The store fills
 * these; jobs/document.h renders them (show --json, events --json, the
 * webhook outbox). Pure.
 */
#ifndef TENANTDEL_RECORD_H
#define TENANTDEL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/jobs.h"

enum job_kind {
	JOB_KIND_PURGE,   /* the tenant's deletion */
	JOB_KIND_REAPPLY, /* one service's deletion again, after a backup restore */
	JOB_KIND_USER,    /* a person's erasure (DESIGN 9): tenant_id holds the user id */
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
	char *parent_id;       /* a subject job's child purge: the subject job */
	enum job_kind kind;
	enum job_state state;
	enum job_state held_from; /* meaningful when state == JOB_HELD */
	int64_t created_at, due_at, deadline_at, started_at, finished_at;
	int64_t total_deleted;
	int deadline_missed;
	enum job_approval approval; /* four eyes (DESIGN 10) */
	char *approved_by;     /* set once approved */
	int64_t approved_at;   /* 0 until approved */
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

const char *jobs_job_kind_name(enum job_kind k);   /* "purge", "reapply", "user" */
int jobs_job_kind_parse(const char *name, enum job_kind *out);

/* Free the strings of a record and zero it; NULL-safe. */
void jobs_job_record_clear(struct job_record *j);
void jobs_task_record_clear(struct task_record *t);
void jobs_task_records_free(struct task_record *t, size_t n);

/* An event of the audit trail as the store reads it back. The strings may
 * point into the store's current row: valid during the callback only. */
struct event_record {
	int64_t id;
	const char *job_id;    /* NULL for database-wide events */
	int64_t at;
	const char *type;      /* "job.scheduled", "task.attempt", ... */
	const char *service;   /* NULL when not about one service */
	const char *detail;    /* JSON object text */
	const char *prev_hash; /* hex sha256 */
	const char *hash;
	int chain_ok;          /* its hash matches its content and its predecessor */
};

#endif
