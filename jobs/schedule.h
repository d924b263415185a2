/*
 * schedule.h - when a new job falls due and by when it must be finished
 * (DESIGN 3, "Retention window" and "Deadline"). The one rule shared by
 * `schedule`, `reapply` and POST /v1/jobs.
 */
#ifndef TENANTDEL_SCHEDULE_H
#define TENANTDEL_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

/* How the due time was asked for. */
enum jobs_due_mode {
	JOBS_DUE_RETENTION, /* nothing asked: now + the config's retention */
	JOBS_DUE_AFTER,     /* now + after_ms */
	JOBS_DUE_AT,        /* at_ms; a time already past means now */
	JOBS_DUE_NOW,       /* at once */
};

/* A request, with its texts already parsed (jobs/timefmt.h). */
struct jobs_schedule_req {
	enum jobs_due_mode mode;
	int64_t after_ms;     /* JOBS_DUE_AFTER */
	int64_t at_ms;        /* JOBS_DUE_AT */
	int has_deadline;     /* 0: the deadline is due_at + deadline_ms */
	int64_t deadline_at;  /* when has_deadline */
	int64_t retention_ms; /* the config's [scheduler] retention */
	int64_t deadline_ms;  /* the config's [scheduler] deadline */
};

/*
 * Computes the due_at and deadline_at of a job asked for at now (epoch ms).
 * Returns 0, or -1 with a one-line reason in err (errlen bytes) and the
 * outputs untouched when they cannot be computed: a duration outside 0 ..
 * 100 years, a time outside 1970 .. 9999, a due time more than 100 years
 * after now, a deadline before the due time or more than 100 years after
 * it. On success now <= *due_at <= *deadline_at, and *due_at is never
 * before the end of the window asked for. Can't fail otherwise.
 */
int jobs_schedule_times(const struct jobs_schedule_req *req, int64_t now, int64_t *due_at,
			int64_t *deadline_at, char *err, size_t errlen);

#endif
