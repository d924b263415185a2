/*
 * written.c - the job a backend has just written, as a record built from
 * the values it wrote (a scheduled purge, a reapply job), for the
 * documents jobs/ renders from it; the same on every backend.
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

void store_scheduled_record(const struct store_new_job *nj, const char *id, int64_t now,
			    struct job_record *j)
{
	memset(j, 0, sizeof *j);
	memcpy(j->id, id, sizeof j->id);
	j->tenant_id = (char *)nj->tenant_id;
	j->tenant_name = (char *)nj->tenant_name;
	j->requested_by = (char *)nj->requested_by;
	j->reason = (char *)nj->reason;
	j->kind = JOB_KIND_PURGE;
	j->state = JOB_SCHEDULED;
	j->held_from = JOB_SCHEDULED;
	j->created_at = now;
	j->due_at = nj->due_at;
	j->deadline_at = nj->deadline_at;
	j->approval = nj->approval_pending ? JOB_APPROVAL_PENDING : JOB_APPROVAL_NONE;
}
