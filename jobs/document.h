/*
 * document.h - the JSON documents of a job, built here and nowhere else,
 * with cJSON only: the job as `show --json` prints it (with or without its
 * tasks), an event as `events --json` and the API show it, the webhook
 * outbox body, and the detail of each job-level event the operator's
 * actions write. Pure: plain records in (jobs/record.h), a cJSON tree or
 * a malloc'ed string out. Allocation failure aborts, so nothing here fails.
 *
 * The store calls the string builders inside the transaction that writes
 * the event or the outbox row; to the store the text is opaque bytes.
 */
#ifndef TENANTDEL_DOCUMENT_H
#define TENANTDEL_DOCUMENT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "jobs/record.h"

/*
 * The job as `show --json` prints it. With tasks == NULL there is no
 * "tasks" key (the `list` and webhook shape). A job under four eyes also
 * has "approval" ("pending" | "approved", with "approved_by" and
 * "approved_at" once approved); a job that needs none has no such key.
 * The caller deletes the tree.
 */
cJSON *jobs_render_job(const struct job_record *j, const struct task_record *tasks,
		       size_t n_tasks);

/*
 * Adds to a job's tree (the list shape) "progress": {"total", "succeeded",
 * "skipped", "pending", "waiting", "in_flight", "dead"}, its tasks counted
 * by state from by_state (indexed by enum task_state, TASK_STATE_COUNT
 * long); "done" = succeeded + skipped.
 */
void jobs_add_progress(cJSON *job, const int64_t *by_state);

/* One task as in the "tasks" array. The caller deletes the tree. */
cJSON *jobs_render_task(const struct task_record *t);

/* An event: {"id","job_id","at","type","service","detail":{...},
 * "prev_hash","hash","chain_ok"}. The caller deletes the tree. */
cJSON *jobs_render_event(const struct event_record *ev);

/* JSON helpers shared by every renderer: a time as RFC 3339 UTC (null when
 * ms <= 0, "not yet"), a string (null when NULL), a count as an exact
 * integer (null when v < 0, "unknown"). */
void jobs_json_add_time(cJSON *o, const char *key, int64_t ms);
void jobs_json_add_str(cJSON *o, const char *key, const char *s);
void jobs_json_add_count(cJSON *o, const char *key, int64_t v);

/*
 * The webhook outbox body of a job-level event: {"id": eid, "type",
 * "created_at": now, "job": jobs_render_job(j) without tasks}. The tree
 * form is the caller's to delete; the text form is malloc'ed.
 */
cJSON *jobs_render_outbox(const char *eid, const char *type, int64_t now,
			  const struct job_record *j);
char *jobs_outbox_body(const char *eid, const char *type, int64_t now,
		       const struct job_record *j);

/*
 * The detail of a job.scheduled event: {"tenant_id","tenant_name","due_at",
 * "deadline_at","requested_by","reason","services":[names]}, where
 * tenant_name, requested_by and reason are left out when NULL (details
 * written by earlier releases carry them as null: a reader takes both
 * alike). The caller deletes the tree.
 */
cJSON *jobs_render_scheduled(const struct job_record *j, const char *const *services,
			     size_t n_services);

/* The details of the operator's events as JSON object text (malloc'ed):
 * job.cancelled {"by","reason","restores":[services]},
 * job.held {"by","reason","from"}, job.released {"by","hold_reason","to"},
 * job.retried {"by","service","tasks","from"}, and the job.running of a
 * retried failed job {"by","from"}, job.approved {"by"}. NULL strings are
 * written as null. */
char *jobs_detail_cancelled(const char *by, const char *reason, const char *const *restores,
			    size_t n_restores);
char *jobs_detail_held(const char *by, const char *reason, enum job_state from);
char *jobs_detail_released(const char *by, const char *hold_reason, enum job_state to);
char *jobs_detail_retried(const char *by, const char *service, int64_t tasks,
			  enum job_state from);
char *jobs_detail_running(const char *by, enum job_state from);
char *jobs_detail_approved(const char *by);

/*
 * The job.scheduled detail and outbox body of the jobs of one bulk
 * schedule, byte for byte as jobs_render_scheduled and jobs_outbox_body
 * print them, at a fraction of the cost: each document is rendered once
 * with cJSON for what the jobs share (times, requester, reason, services),
 * with holes for what each job has of its own (job id, tenant id, event
 * id), and each job's strings are printed with cJSON into the holes. A job
 * that differs in a shared value renders the templates again.
 */
struct jobs_bulk_docs;

/* Copies services (the names of the detail's "services"). Free with
 * jobs_bulk_docs_free. */
struct jobs_bulk_docs *jobs_bulk_docs_new(const char *const *services, size_t n_services);
void jobs_bulk_docs_free(struct jobs_bulk_docs *d); /* NULL-safe */

/* The detail of j's job.scheduled event as text. Points into d: valid
 * until the next call on d. */
const char *jobs_bulk_detail(struct jobs_bulk_docs *d, const struct job_record *j);

/* jobs_outbox_body(eid, "job.scheduled", now, j) as text. Points into d:
 * valid until the next call on d. */
const char *jobs_bulk_body(struct jobs_bulk_docs *d, const char *eid, int64_t now,
			   const struct job_record *j);

#endif
