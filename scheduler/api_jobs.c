/*
 * api_jobs.c - the endpoints that create, read and act on one job (DESIGN
 * 6): POST /v1/jobs, GET /v1/jobs/ID, and POST /v1/jobs/ID/cancel, /hold,
 * /release, /retry, /approve. The times follow jobs/schedule.h and the
 * actions jobs_action_check (jobs_approval_check for /approve), the rules
 * the CLI follows too.
 */
#include "jobs/jobs.h"
#include "jobs/schedule.h"
#include "jobs/timefmt.h"
#include "scheduler/api_int.h"
#include "store/store.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- create, read ---- */

/* Parses text, the value of field key, as an RFC 3339 time; -1 after a 400. */
static int get_time(const char *key, const char *text, int64_t *ms, struct api_answer *ans)
{
	if (timefmt_parse_time(text, ms) == 0)
		return 0;
	if (errno == ERANGE)
		return api_fail(ans, 400, "'%s' is outside 1970-01-01 .. 9999-12-31", key), -1;
	return api_fail(ans, 400, "'%s' is not an RFC 3339 time", key), -1;
}

/* due_at and deadline_at from "after" | "at" | "now" and "deadline"
 * (jobs/schedule.h, the rule the CLI follows too). */
static int job_times(struct api *a, const cJSON *o, int64_t now, struct store_new_job *nj,
		     struct api_answer *ans)
{
	struct jobs_schedule_req req = { .mode = JOBS_DUE_RETENTION,
					 .retention_ms = a->deps.cfg->retention_ms,
					 .deadline_ms = a->deps.cfg->deadline_ms };
	const char *after, *at, *deadline;
	const cJSON *nowv = cJSON_GetObjectItemCaseSensitive(o, "now");
	char err[200];

	if (api_get_str(o, "after", &after, ans) < 0 || api_get_str(o, "at", &at, ans) < 0 ||
	    api_get_str(o, "deadline", &deadline, ans) < 0)
		return -1;
	if (nowv != NULL && !cJSON_IsBool(nowv))
		return api_fail(ans, 400, "'now' must be true or false"), -1;
	if ((after != NULL) + (at != NULL) + cJSON_IsTrue(nowv) > 1)
		return api_fail(ans, 400, "give at most one of 'after', 'at', 'now'"), -1;
	if (after != NULL) {
		req.mode = JOBS_DUE_AFTER;
		if (timefmt_parse_duration(after, &req.after_ms) < 0)
			return api_fail(ans, 400, errno == ERANGE ? "'after' is longer than 100 years" :
					"'after' is not a duration (e.g. 30d, 12h, 1h30m)"), -1;
	} else if (at != NULL) {
		req.mode = JOBS_DUE_AT;
		if (get_time("at", at, &req.at_ms, ans) < 0)
			return -1;
	} else if (cJSON_IsTrue(nowv)) {
		req.mode = JOBS_DUE_NOW;
	}
	req.has_deadline = deadline != NULL;
	if (deadline != NULL && get_time("deadline", deadline, &req.deadline_at, ans) < 0)
		return -1;
	if (jobs_schedule_times(&req, now, &nj->due_at, &nj->deadline_at, err, sizeof err) < 0)
		return api_fail(ans, 400, "%s", err), -1;
	return 0;
}

/* Stores nj, the job of one tenant or (subject) the erasure of one user,
 * and answers 201 with the new job or 200 with the active one. */
static int create_job(struct api *a, const struct store_new_job *nj, int subject, int64_t now,
		      struct api_answer *ans)
{
	char ids[1][JOBS_ID_LEN + 1];
	struct store_service *svcs = NULL;
	size_t n_svcs;
	int created = 0, rc;

	if (subject) {
		rc = store_schedule_subject(a->deps.store, nj, now, ids[0], &created);
	} else {
		svcs = config_enabled_services(a->deps.cfg, &n_svcs);
		rc = store_schedule(a->deps.store, nj, 1, svcs, n_svcs, now, ids, &created);
		free(svcs);
	}
	if (rc != STORE_OK)
		return api_store_failed(a, ans);
	if (created)
		api_wrote(a);
	return api_answer_job(a, ids[0], created ? 201 : 200, ans);
}

/* Which job the body asks for: a tenant's (tenant_id) or a user's erasure
 * (user_id, DESIGN 9: erase-user's rules); *subject 1 for the latter. -1
 * after a 400. */
static int job_subject(struct api *a, const cJSON *o, struct store_new_job *nj, int *subject,
		       struct api_answer *ans)
{
	const char *user;

	if (api_get_str(o, "user_id", &user, ans) < 0)
		return -1;
	*subject = user != NULL;
	if (user != NULL && nj->tenant_id != NULL)
		return api_fail(ans, 400, "give either 'tenant_id' or 'user_id', not both"), -1;
	if (user == NULL && nj->tenant_id == NULL)
		return api_fail(ans, 400, "'tenant_id' (or 'user_id') is required"), -1;
	if (user == NULL)
		return api_check_id("tenant_id", nj->tenant_id, ans);
	if (nj->tenant_name != NULL)
		return api_fail(ans, 400, "'tenant_name' names a tenant: not with 'user_id'"), -1;
	if (api_check_id("user_id", user, ans) < 0)
		return -1;
	if (!a->deps.cfg->subject.configured)
		return api_fail(ans, 400, "this tenantdel has no [subject] section: it cannot "
				"erase users"), -1;
	nj->tenant_id = user; /* a subject job keeps its user id there */
	return 0;
}

int api_h_create(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	static const char *const fields[] = {"tenant_id", "user_id", "tenant_name",
					     "requested_by", "reason", "after", "at", "now",
					     "deadline", NULL};
	struct store_new_job nj = {0};
	int64_t now = clock_now_ms();
	int subject = 0;
	cJSON *o = api_parse_body(r, fields, 1, ans);

	if (o == NULL)
		return 0;
	if (api_get_str(o, "tenant_id", &nj.tenant_id, ans) == 0 &&
	    api_get_str(o, "tenant_name", &nj.tenant_name, ans) == 0 &&
	    api_get_str(o, "requested_by", &nj.requested_by, ans) == 0 &&
	    api_get_str(o, "reason", &nj.reason, ans) == 0 &&
	    job_subject(a, o, &nj, &subject, ans) == 0 && job_times(a, o, now, &nj, ans) == 0 &&
	    api_actor(r, "requested_by", &nj.requested_by, ans) == 0) {
		nj.approval_pending = a->deps.cfg->approval_required;
		create_job(a, &nj, subject, now, ans);
	}
	cJSON_Delete(o);
	return 0;
}

int api_h_get(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	return api_answer_job(a, id, 200, ans);
}

/* ---- transitions ---- */

/* The answer to a transition's store result. */
static int transition_answer(struct api *a, int rc, const char *id, const char *verb,
			     struct job_record *j, struct api_answer *ans)
{
	if (rc == STORE_OK) {
		api_wrote(a);
		api_answer_job(a, id, 200, ans);
	} else if (rc == STORE_NOT_FOUND)
		api_no_job(id, ans);
	else if (rc == STORE_REFUSED && strcmp(verb, "retry") == 0 && j->state != JOB_HELD &&
		 !jobs_job_is_terminal(j->state))
		api_fail(ans, 409, "job %s is %s with no dead task to retry", id,
			 jobs_job_state_name(j->state));
	else if (rc == STORE_REFUSED && (strcmp(verb, "approve") == 0 ||
					 (strcmp(verb, "cancel") == 0 && j->state == JOB_SCHEDULED)))
		api_fail(ans, 409, "cannot %s job %s: %s", verb, id,
			 store_last_error(a->deps.store));
	else if (rc == STORE_REFUSED)
		api_fail(ans, 409, "job %s is %s: cannot %s it", id, jobs_job_state_name(j->state),
			 verb);
	else
		api_store_failed(a, ans);
	jobs_job_record_clear(j);
	return 0;
}

/* Runs the transition verb; *rc receives the store's answer. -1 on bad input (400 filled). */
static int do_transition(struct api *a, struct api_req *r, const char *id, const char *verb,
			 const cJSON *o, struct job_record *j, int *rc, struct api_answer *ans)
{
	const char *by, *reason, *service;
	struct store_service *svcs;
	size_t n;
	int64_t now = clock_now_ms();

	if (api_get_str(o, "by", &by, ans) < 0 || api_get_str(o, "reason", &reason, ans) < 0 ||
	    api_get_str(o, "service", &service, ans) < 0)
		return -1;
	/* Four eyes needs a real name: the token's, or (shared token) the body's. */
	if (strcmp(verb, "approve") == 0 && r->caller[0] == '\0' && by == NULL)
		return api_fail(ans, 400, "approve needs 'by': who approves"), -1;
	if (api_actor(r, "by", &by, ans) < 0)
		return -1;
	if (strcmp(verb, "hold") == 0 &&
	    jobs_action_check_input(&(struct job_action_ask){ .act = JOB_ACT_HOLD,
							      .reason = reason }, NULL) < 0)
		return api_fail(ans, 400, "hold needs a non-empty 'reason'"), -1;
	if (strcmp(verb, "cancel") == 0) {
		svcs = config_enabled_services(a->deps.cfg, &n);
		*rc = store_job_cancel(a->deps.store, id, by, reason, svcs, n, now, j);
		free(svcs);
	} else if (strcmp(verb, "hold") == 0) {
		*rc = store_job_hold(a->deps.store, id, by, reason, now, j);
	} else if (strcmp(verb, "release") == 0) {
		*rc = store_job_release(a->deps.store, id, by, now, j);
	} else if (strcmp(verb, "approve") == 0) {
		*rc = store_job_approve(a->deps.store, id, by, now, j);
	} else {
		*rc = store_job_retry(a->deps.store, id, service, by, now, j);
	}
	return 0;
}

/* A transition endpoint: its body holds only the given fields (all optional). */
static int h_action(struct api *a, struct api_req *r, const char *id, const char *verb,
		    const char *const *fields, struct api_answer *ans)
{
	struct job_record j = {0};
	cJSON *o = api_parse_body(r, fields, 0, ans);
	int rc = STORE_ERR, bad;

	if (o == NULL)
		return 0;
	bad = do_transition(a, r, id, verb, o, &j, &rc, ans);
	cJSON_Delete(o);
	if (bad < 0)
		return 0;
	return transition_answer(a, rc, id, verb, &j, ans);
}

int api_h_cancel(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	static const char *const f[] = {"by", "reason", NULL};
	return h_action(a, r, id, "cancel", f, ans);
}

int api_h_hold(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	static const char *const f[] = {"by", "reason", NULL};
	return h_action(a, r, id, "hold", f, ans);
}

int api_h_release(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	static const char *const f[] = {"by", NULL};
	return h_action(a, r, id, "release", f, ans);
}

int api_h_retry(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	static const char *const f[] = {"by", "service", NULL};
	return h_action(a, r, id, "retry", f, ans);
}

int api_h_approve(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	static const char *const f[] = {"by", NULL};
	return h_action(a, r, id, "approve", f, ans);
}
