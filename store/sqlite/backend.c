/*
 * backend.c - the SQLite backend's table of operations (store/backend.h):
 * one file (and one writer at a time) per store, the default backend.
 */
#include "store/sqlite/sqlite_int.h"

const struct store_backend store_sqlite_backend = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.check_integrity = sqlite_check_integrity,
	.schedule = sqlite_schedule,
	.job_get = sqlite_job_get,
	.job_tasks = sqlite_job_tasks,
	.job_list = sqlite_job_list,
	.jobs_progress = sqlite_jobs_progress,
	.service_errors = sqlite_service_errors,
	.job_act = sqlite_job_act,
	.retire_service = sqlite_retire_service,
	.absent_services = sqlite_absent_services,
	.events_walk = sqlite_events_walk,
	.maintain = sqlite_maintain,
	.sweep_jobs = sqlite_sweep_jobs,
	.claim_tasks = sqlite_claim_tasks,
	.count_sent = sqlite_count_sent,
	.record_results = sqlite_record_results,
	.next_wake = sqlite_next_wake,
	.changed_token = sqlite_changed_token,
	.sync_services = sqlite_sync_services,
	.webhook_enqueue = sqlite_webhook_enqueue,
	.webhook_claim = sqlite_webhook_claim,
	.webhook_finish = sqlite_webhook_finish,
	.webhook_release = sqlite_webhook_release,
	.webhook_lease_owners = sqlite_webhook_lease_owners,
	.webhook_prune = sqlite_webhook_prune,
	.webhook_backlog = sqlite_webhook_backlog,
	.tombstones_list = sqlite_tombstones_list,
	.reapply = sqlite_reapply,
	.metrics_read = sqlite_metrics_read,
	.schedule_subject = sqlite_schedule_subject,
	.subject_tenants = sqlite_subject_tenants,
};
