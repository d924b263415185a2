/*
 * schedule.c - due and deadline times of a new job. Every sum goes through
 * timefmt_add_duration and every input is checked against the bounds of
 * jobs/timefmt.h, so that no input, however large, can wrap a due time into
 * the past (which would purge at once, skipping the retention window).
 */
#include "jobs/schedule.h"
#include "jobs/timefmt.h"

#include <stdarg.h>
#include <stdio.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* -1 with a reason when ms is not a duration tenantdel accepts. */
static int check_duration(const char *what, int64_t ms, char *err, size_t errlen)
{
	char d[64];

	if (ms >= 0 && ms <= TIMEFMT_MAX_DURATION_MS)
		return 0;
	timefmt_format_duration(ms, d, sizeof d);
	return fail(err, errlen, "%s %s is out of range (0 to 100 years)", what, d);
}

/* -1 with a reason when t is not a time tenantdel accepts. */
static int check_time(const char *what, int64_t t, char *err, size_t errlen)
{
	if (t >= TIMEFMT_MIN_TIME_MS && t <= TIMEFMT_MAX_TIME_MS)
		return 0;
	return fail(err, errlen, "%s (%lld ms since 1970) is outside 1970-01-01 .. 9999-12-31",
		    what, (long long)t);
}

/* The due time alone: the window asked for, never before now. */
static int due_time(const struct jobs_schedule_req *req, int64_t now, int64_t *due, char *err,
		    size_t errlen)
{
	switch (req->mode) {
	case JOBS_DUE_NOW:
		*due = now;
		return 0;
	case JOBS_DUE_AT:
		if (check_time("the due time", req->at_ms, err, errlen) < 0)
			return -1;
		*due = req->at_ms > now ? req->at_ms : now; /* already past: due now */
		return 0;
	case JOBS_DUE_AFTER:
		if (check_duration("the wait", req->after_ms, err, errlen) < 0)
			return -1;
		if (timefmt_add_duration(now, req->after_ms, due) < 0)
			return fail(err, errlen, "the due time is past 9999-12-31");
		return 0;
	case JOBS_DUE_RETENTION:
		if (timefmt_add_duration(now, req->retention_ms, due) < 0)
			return fail(err, errlen, "the due time is past 9999-12-31");
		return 0;
	}
	return fail(err, errlen, "unknown due mode %d", (int)req->mode);
}

/* See schedule.h. */
int jobs_schedule_times(const struct jobs_schedule_req *req, int64_t now, int64_t *due_at,
			int64_t *deadline_at, char *err, size_t errlen)
{
	char t1[TIMEFMT_TIME_LEN], t2[TIMEFMT_TIME_LEN];
	int64_t due, deadline, limit;

	if (check_time("the clock", now, err, errlen) < 0 ||
	    check_duration("retention", req->retention_ms, err, errlen) < 0 ||
	    check_duration("deadline", req->deadline_ms, err, errlen) < 0 ||
	    due_time(req, now, &due, err, errlen) < 0)
		return -1;
	timefmt_format_time(due, t1);
	if (timefmt_add_duration(now, TIMEFMT_MAX_DURATION_MS, &limit) == 0 && due > limit)
		return fail(err, errlen, "the due time %s is more than 100 years away", t1);
	if (!req->has_deadline) {
		if (timefmt_add_duration(due, req->deadline_ms, &deadline) < 0)
			return fail(err, errlen, "the deadline is past 9999-12-31");
	} else {
		if (check_time("the deadline", req->deadline_at, err, errlen) < 0)
			return -1;
		deadline = req->deadline_at;
		timefmt_format_time(deadline, t2);
		if (deadline < due)
			return fail(err, errlen, "the deadline %s is before the due time %s", t2, t1);
		if (deadline - due > TIMEFMT_MAX_DURATION_MS)
			return fail(err, errlen, "the deadline %s is more than 100 years after the due time %s",
				    t2, t1);
	}
	*due_at = due;
	*deadline_at = deadline;
	return 0;
}
