/*
 * backend.c - the PostgreSQL backend's table of operations
 * (store/backend.h): one database shared by every host, [store] backend =
 * postgresql. An operation not written yet is NULL: store/store.c
 * refuses it with a message.
 */
#include "store/pg/pg_int.h"

const struct store_backend store_pg_backend = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.check_integrity = pg_check_integrity,
	.schedule = pg_schedule,
	.job_get = pg_job_get,
	.job_tasks = pg_job_tasks,
	.job_list = pg_job_list,
	.job_act = pg_job_act,
	.events_walk = pg_events_walk,
	.tombstones_list = pg_tombstones_list,
	/* the scheduler's side (store/pg/sched*.c, absent.c, outbox.c, metrics.c, reapply.c) */
	.jobs_progress = pg_jobs_progress,
	.service_errors = pg_service_errors,
	.retire_service = pg_retire_service,
	.absent_services = pg_absent_services,
	.maintain = pg_maintain,
	.sweep_jobs = pg_sweep_jobs,
	.claim_tasks = pg_claim_tasks,
	.count_sent = pg_count_sent,
	.record_results = pg_record_results,
	.next_wake = pg_next_wake,
	.changed_token = pg_changed_token,
	.wait_fd = pg_wait_fd,
	.sync_services = pg_sync_services,
	.jobs_failed = pg_jobs_failed,
	.webhook_enqueue = pg_webhook_enqueue,
	.webhook_claim = pg_webhook_claim,
	.webhook_finish = pg_webhook_finish,
	.webhook_release = pg_webhook_release,
	.webhook_lease_owners = pg_webhook_lease_owners,
	.webhook_prune = pg_webhook_prune,
	.webhook_backlog = pg_webhook_backlog,
	.reapply = pg_reapply,
	.metrics_read = pg_metrics_read,
	.schedule_subject = pg_schedule_subject,
	.subject_tenants = pg_subject_tenants,
	.same_store = pg_same_store,
	.rows_walk = pg_rows_walk,
	.load_begin = pg_load_begin,
	.load_row = pg_load_row,
	.load_done = pg_load_done,
	.load_end = pg_load_end,
};
