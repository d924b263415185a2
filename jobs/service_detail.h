/*
 * service_detail.h - the detail of the events that record which services
 * a job covers (DESIGN 3 "Which services a job covers"): a delete task
 * added for a service the config gained, a task skipped because its
 * service was retired, the retirement itself. Pure functions.
 */
#ifndef TENANTDEL_SERVICE_DETAIL_H
#define TENANTDEL_SERVICE_DETAIL_H

#include <stdint.h>

/*
 * The detail of task.added / task.skipped: {"kind","reason"} and
 * "retired_by" when by is not NULL (reason may be NULL: left out).
 * Returns malloc'ed JSON text; can't fail.
 */
char *jobs_detail_task_change(const char *kind, const char *reason, const char *by);

/*
 * The detail of service.retired: {"reason", "retired_by" (when by is not
 * NULL), "tasks_skipped"}. Returns malloc'ed JSON text; can't fail.
 */
char *jobs_detail_service_retired(const char *reason, const char *by, int64_t tasks_skipped);

#endif
