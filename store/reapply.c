/*
 * reapply.c - the job.scheduled detail of a reapply job, the same on every
 * backend: the job as its row is written (jobs_reapply_detail renders it).
 */
#include "store/shared.h"
#include "jobs/certificate.h"

#include <string.h>

char *store_reapply_detail(const struct store_reapply_req *r, const char *id,
			   const char *origin, const char *tenant_id, const char *tenant_name,
			   int64_t purged_at)
{
	struct job_record j = {
		.tenant_id = (char *)tenant_id,
		.tenant_name = (char *)tenant_name,
		.requested_by = (char *)r->by,
		.reason = (char *)r->reason,
		.origin_job_id = (char *)origin,
		.kind = JOB_KIND_REAPPLY,
		.state = JOB_SCHEDULED,
		.created_at = r->now,
		.due_at = r->now,
		.deadline_at = r->deadline_at,
	};

	memcpy(j.id, id, sizeof j.id);
	return jobs_reapply_detail(&j, r->service, purged_at, r->since);
}
