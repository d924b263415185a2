/*
 * attempt_int.h - one attempt as scheduler/attempt.c runs it, shared with
 * scheduler/discover.c (a subject job's discover step: several GETs in
 * one attempt).
 */
#ifndef TENANTDEL_ATTEMPT_INT_H
#define TENANTDEL_ATTEMPT_INT_H

#include "scheduler/engine_int.h"
#include "scheduler/http.h"
#include "jobs/outcome.h"
#include "jobs/policy.h"
#include "jobs/subject.h"

enum step { STEP_PREVIEW, STEP_CALL, STEP_VERIFY, STEP_DISCOVER };

struct attempt {
	struct engine *e;
	struct sched_claimed c;
	char *call_url, *preview_url;
	const char *method;
	int verify, on_404_fail;
	int64_t timeout_ms;
	enum step step;
	enum policy_call call;    /* NOT_SENT, SENT (counted), EARLIER (verify only) */
	int verify_owed;          /* the call succeeded, its verification not made */
	int counted_unsent;       /* counted by sched_count_sent, then not sent */

	/* what happened */
	int http_status;
	int answered_2xx;         /* the service's last answer */
	int64_t duration_ms;
	struct outcome *out;      /* of the call, adjusted by the verification;
				     NULL until first needed (attempt_out): a
				     request in flight holds none (~560 bytes) */
	int have_out;
	int64_t decided_at;
	char *preview_json, *preview_error;
	int64_t before_total, verified_after;
	char *error;

	struct sched_result *r;   /* from finish on (for the group commit) */
	char *detail;             /* r->detail: its task.attempt detail */

	/* a subject job's discover step (discover.c) */
	struct subject_tenant *found;  /* the tenants answer, decided as the
					  admins answers come */
	size_t n_found, next_admin;    /* the next tenant to ask admins_url for */
	int discovered;                /* 1 once every answer was read */
};

/* (attempt.c) An attempt's call goes to curl now (counted, when it must
 * be, already). */
void attempt_send_now(struct attempt *a);
/* (attempt.c) The attempt is decided and queued for the group commit. */
void attempt_finish(struct attempt *a);
/* (attempt.c) The result's log line, once recorded. */
void attempt_log_result(const struct attempt *a, int64_t now);
/* (attempt.c) Out of the engine's list of attempts in flight; freed. */
void attempt_unlink(struct attempt *a);
void attempt_free(struct attempt *a);

/* Sets the attempt's error text (printf). */
void attempt_set_error(struct attempt *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The attempt's outcome, allocated zeroed at first use. */
struct outcome *attempt_out(struct attempt *a);

/* The answer of one call as jobs/outcome.h reads it. */
struct outcome_http attempt_outcome_http(const struct http_response *hr);

/* One answer of the discover step: the attempt's next GET (call_url),
 * or a->step -1 with its outcome when done. */
void discover_on_answer(struct attempt *a, const struct http_response *hr);

#endif
