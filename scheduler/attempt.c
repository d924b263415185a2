/*
 * attempt.c - one claimed task's attempt: the pre-purge preview (once per
 * task), the call itself (DELETE, or POST for suspend/restore), counted in
 * the store just before it goes out (attempt_record.c), the verification
 * preview after a successful delete (alone, when an earlier attempt's
 * verification could not be made); then what it means (jobs/outcome.h,
 * policy_decide) and the queue for the group commit (attempt_record.c),
 * after which the result is logged.
 */
#include "scheduler/engine_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/outcome.h"
#include "jobs/policy.h"
#include "util/log.h"
#include "util/util.h"

#include "scheduler/attempt_int.h"
#include "scheduler/recorder.h"

/* The most headers an attempt adds to a request (request_headers). */
#define ATTEMPT_HEADERS_MAX 4

static void step_send(struct attempt *a);

void attempt_free(struct attempt *a)
{
	free(a->c.tenant_id);
	free(a->c.service);
	free(a->call_url);
	free(a->preview_url);
	if (a->out != NULL)
		outcome_clear(a->out);
	free(a->out);
	free(a->r);
	free(a->detail);
	free(a->preview_json);
	free(a->preview_error);
	free(a->error);
	free(a->found);
	free(a);
}

struct outcome *attempt_out(struct attempt *a)
{
	if (a->out == NULL)
		a->out = xcalloc(1, sizeof *a->out);
	return a->out;
}

/* The attempt no longer holds one of the engine's max_in_flight slots (its
 * handle is curl's, its record the group commit's: nothing else lists it). */
void attempt_unlink(struct attempt *a)
{
	a->e->n_in_flight--;
}

/* ---- deciding ---- */

void attempt_set_error(struct attempt *a, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	free(a->error);
	a->error = xstrdup(tmp);
}

/* The verification preview could not be made: only it is retried. */
static void verification_failed(struct attempt *a, const char *why, int64_t retry_after_ms)
{
	struct outcome *o = attempt_out(a);

	o->kind = OUTCOME_RETRY;
	o->counts_for_breaker = 0;
	o->retry_after_ms = retry_after_ms;
	a->verify_owed = 1;
	attempt_set_error(a, "verification: %s", why);
}

struct policy_retry engine_retry_policy(const struct config *cfg)
{
	struct policy_retry p = { .base_delay_ms = cfg->base_delay_ms,
				  .max_delay_ms = cfg->max_delay_ms,
				  .max_attempts = cfg->max_attempts,
				  .give_up_after_ms = cfg->give_up_after_ms };
	return p;
}

/* Next state, next time and attempt accounting: policy_decide. */
static void decide(struct attempt *a, int64_t now)
{
	struct sched_result *r = a->r;
	const struct outcome *o = attempt_out(a);
	struct policy_retry p = engine_retry_policy(a->e->cfg);
	struct policy_attempt in = {
		.kind = o->kind, .call = a->call, .verify_owed = a->verify_owed,
		.answered_2xx = a->answered_2xx, .counts_for_breaker = o->counts_for_breaker,
		.probe = a->c.probe, .retry_after_ms = o->retry_after_ms,
		.service_wait = o->kind == OUTCOME_RETRY && !o->uses_attempt,
		.attempts = r->attempt, .free_waits = a->c.free_waits,
		.streak = a->c.retry_streak,
		.first_attempt_at_ms = a->c.first_attempt_at,
	};
	struct policy_decision d;

	policy_decide(&p, &in, now, policy_rand01(), &d);
	r->state = d.state;
	r->next_attempt_at = d.next_attempt_at_ms;
	r->free_wait = d.free_wait;
	r->verify_owed = d.verify_owed;
	r->retry_streak = d.streak;
	r->breaker = d.breaker;
	r->outcome = o->kind == OUTCOME_SUCCESS     ? "success"
		     : o->kind == OUTCOME_PERMANENT ? "permanent"
							: "retry";
}

void attempt_log_result(const struct attempt *a, int64_t now)
{
	const struct sched_result *r = a->r;
	const char *ev = r->state == TASK_SUCCEEDED ? "task.attempt.succeeded"
			 : r->state == TASK_DEAD    ? "task.dead"
						    : "task.attempt.failed";
	struct log_line *l = log_start(r->state == TASK_SUCCEEDED ? LOG_INFO
				       : r->state == TASK_DEAD  ? LOG_ERROR
								: LOG_WARN, ev);

	log_str(l, "job_id", a->c.job_id);
	log_str(l, "tenant_id", a->c.tenant_id);
	log_str(l, "service", a->c.service);
	log_str(l, "kind", jobs_task_kind_name(a->c.kind));
	log_int(l, "attempt", r->attempt);
	if (a->http_status > 0)
		log_int(l, "http_status", a->http_status);
	log_int(l, "duration_ms", a->duration_ms);
	if (r->total >= 0)
		log_int(l, "total_deleted", r->total);
	if (r->verified_after >= 0)
		log_int(l, "verified_after", r->verified_after);
	log_str(l, "error", r->error);
	if (r->state == TASK_WAITING) {
		log_int(l, "retry_in_ms", r->next_attempt_at - now);
		if (r->free_wait)
			log_str(l, "note", "wait asked by the service: no retry budget used");
		if (r->verify_owed)
			log_str(l, "note", "the call succeeded: only its verification is retried");
	}
	log_done_held(l);
}

/* The attempt is over: decide and queue for the group commit (logged once
 * recorded). */
void attempt_finish(struct attempt *a)
{
	struct sched_result *r;
	struct outcome *o = attempt_out(a);
	int sent = a->call == POLICY_CALL_SENT;

	a->decided_at = clock_now_ms();
	if (!a->have_out) {
		memset(o, 0, sizeof *o);
		o->kind = OUTCOME_RETRY;
		o->uses_attempt = 1;
		o->retry_after_ms = -1;
	}
	if (a->r == NULL)
		a->r = xmalloc(sizeof *a->r);
	r = a->r;
	memset(r, 0, sizeof *r);
	r->task_id = a->c.task_id;
	r->lease_until = a->c.lease_until;
	r->job_id = a->c.job_id;
	r->tenant_id = a->c.tenant_id;
	r->service = a->c.service;
	r->kind = a->c.kind;
	/* attempts counts the calls sent: one counted but never sent is
	 * taken back (unsent) */
	r->attempt = a->c.attempts + sent;
	r->unsent = a->counted_unsent;
	r->http_status = a->http_status;
	/* What the call deleted counts even when verification found more. */
	r->counts_json = sent ? o->counts_json : NULL;
	r->total = sent && o->has_counts ? o->total : -1;
	r->preview_json = a->preview_json;
	r->before_total = a->preview_json ? a->before_total : -1;
	r->preview_error = a->preview_error;
	r->verified_after = a->verified_after;
	r->duration_ms = a->duration_ms;
	r->error = a->error;
	r->probe = a->c.probe;
	r->discovery = a->discovered;
	r->discovered = a->found;
	r->n_discovered = a->n_found;
	decide(a, a->decided_at);
	if (r->state != TASK_SUCCEEDED && r->error == NULL)
		r->error = a->error = xstrdup(o->error[0] ? o->error : "failed");
	r->detail = a->detail = store_attempt_detail(r, 1);
	attempt_unlink(a);
	engine_attempt_finished(a->e, a);
}

/* ---- the HTTP steps ---- */

struct outcome_http attempt_outcome_http(const struct http_response *hr)
{
	struct outcome_http h = { .transport = hr->transport, .transport_error = hr->error,
				  .status = hr->status, .body = hr->body,
				  .body_len = hr->body_len, .retry_after = hr->retry_after,
				  .now_ms = clock_now_ms() };
	return h;
}

static void on_preview(struct attempt *a, const struct http_response *hr)
{
	struct outcome_http h = attempt_outcome_http(hr);
	struct outcome o;
	struct log_line *l;

	outcome_classify_preview(&h, &o);
	l = log_start(LOG_INFO, "task.preview");
	log_str(l, "job_id", a->c.job_id);
	log_str(l, "tenant_id", a->c.tenant_id);
	log_str(l, "service", a->c.service);
	if (hr->status > 0)
		log_int(l, "http_status", hr->status);
	if (o.kind == OUTCOME_SUCCESS) {
		a->preview_json = o.counts_json ? xstrdup(o.counts_json) : xstrdup("{}");
		a->before_total = o.total;
		log_int(l, "total", o.total);
	} else {
		a->preview_error = xstrdup(o.error);
		log_str(l, "error", o.error);
	}
	log_done(l);
	outcome_clear(&o);
	a->step = STEP_CALL;
}

static void on_call(struct attempt *a, const struct http_response *hr)
{
	struct outcome_http h = attempt_outcome_http(hr);
	struct outcome *o = attempt_out(a);

	a->http_status = (int)hr->status;
	a->answered_2xx = hr->status / 100 == 2;
	a->duration_ms = hr->duration_ms;
	outcome_classify_delete(&h, a->on_404_fail, o);
	a->have_out = 1;
	if (o->kind == OUTCOME_SUCCESS && a->c.kind == TASK_KIND_DELETE && a->verify &&
	    a->preview_url != NULL) {
		a->verify_owed = 1; /* until the verification settles it */
		a->step = STEP_VERIFY;
	} else {
		a->step = -1;
	}
}

static void on_verify(struct attempt *a, const struct http_response *hr)
{
	struct outcome_http h = attempt_outcome_http(hr);
	struct outcome o;

	outcome_classify_preview(&h, &o);
	if (a->call == POLICY_CALL_EARLIER) {
		a->http_status = (int)hr->status;
		a->answered_2xx = hr->status / 100 == 2;
		a->duration_ms = hr->duration_ms;
	}
	if (o.kind == OUTCOME_SUCCESS) {
		a->verify_owed = 0;
		a->verified_after = o.total;
		if (o.total > 0) {
			/* under-deletion: the call is repeated, a counted failure */
			struct outcome *call = attempt_out(a);

			call->kind = OUTCOME_RETRY;
			call->counts_for_breaker = 0;
			call->retry_after_ms = -1;
			attempt_set_error(a, "verification: %lld records remain", (long long)o.total);
		}
	} else {
		verification_failed(a, o.error, o.retry_after_ms);
	}
	outcome_clear(&o);
	a->step = -1;
}

static void on_done(void *arg, const struct http_response *hr)
{
	struct attempt *a = arg;

	switch (a->step) {
	case STEP_PREVIEW:
		on_preview(a, hr);
		break;
	case STEP_CALL:
		on_call(a, hr);
		break;
	case STEP_VERIFY:
		on_verify(a, hr);
		break;
	case STEP_DISCOVER:
		discover_on_answer(a, hr);
		break;
	}
	if ((int)a->step < 0)
		attempt_finish(a);
	else if (a->e->aborted) {
		if (a->step == STEP_VERIFY)
			verification_failed(a, "not made: shutting down", -1);
		else
			attempt_set_error(a, "not sent: shutting down");
		attempt_finish(a);
	} else
		step_send(a);
}

/*
 * The headers that tell a service which task, which call and which process
 * a request belongs to (docs/tenantdel.1, REQUESTS TO SERVICES), into lines
 * (NULL-terminated, each line the caller's to free): the task as
 * job:service:kind (one task per job, service and kind), the number of the
 * call as the task's events count it (a verification owed by an earlier
 * call is that call's), the lease owner (host/boot id/pid/start time); the
 * call itself also carries the task's Idempotency-Key, the same on every
 * retry (an sf-string, as the IETF httpapi draft has it).
 */
static void request_headers(const struct attempt *a, char *lines[ATTEMPT_HEADERS_MAX + 1])
{
	const char *kind = jobs_task_kind_name(a->c.kind);
	int n = 0;

	lines[n++] = xasprintf("Tenantdel-Task: %s:%s:%s", a->c.job_id, a->c.service, kind);
	lines[n++] = xasprintf("Tenantdel-Attempt: %d",
			       a->c.attempts + (a->call == POLICY_CALL_EARLIER ? 0 : 1));
	lines[n++] = xasprintf("Tenantdel-Owner: %s", a->e->owner.id);
	if (a->step == STEP_CALL)
		lines[n++] = xasprintf("Idempotency-Key: \"%s:%s:%s\"", a->c.job_id,
				       a->c.service, kind);
	lines[n] = NULL;
}

/* Hands the current step's request to curl now. */
void attempt_send_now(struct attempt *a)
{
	const struct config *cfg = a->e->cfg;
	char *headers[ATTEMPT_HEADERS_MAX + 1];
	struct http_request rq = { .bearer = cfg->token, .timeout_ms = a->timeout_ms,
				   .connect_timeout_ms = cfg->connect_timeout_ms,
				   .headers = (const char *const *)headers };
	int rc;

	if (a->step == STEP_CALL || a->step == STEP_DISCOVER) {
		rq.method = a->step == STEP_CALL ? a->method : "GET";
		rq.url = a->call_url;
	} else {
		rq.method = "GET";
		rq.url = a->preview_url;
	}
	request_headers(a, headers);
	rc = http_send(a->e->http, &rq, on_done, a);
	for (size_t i = 0; headers[i] != NULL; i++)
		free(headers[i]);
	if (rc == 0)
		return;
	if (a->call == POLICY_CALL_SENT && a->step == STEP_CALL) {
		a->call = POLICY_CALL_NOT_SENT; /* counted, yet it never went */
		a->counted_unsent = 1;
	}
	if (a->step == STEP_VERIFY)
		verification_failed(a, "request could not be started", -1);
	else
		attempt_set_error(a, "request could not be started");
	attempt_finish(a);
}

/* Previews go at once, and a call the claim counted; any other call waits
 * for attempt_count_give to count it. */
static void step_send(struct attempt *a)
{
	struct engine *e = a->e;

	if (a->step != STEP_CALL || a->call == POLICY_CALL_SENT) {
		attempt_send_now(a);
		return;
	}
	e->calls = xreserve(e->calls, &e->cap_calls, e->n_calls + 1, sizeof *e->calls);
	e->calls[e->n_calls++] = a;
}

/* The URL template of the task's kind. */
static const char *call_template(const struct config_service *svc, enum task_kind kind)
{
	switch (kind) {
	case TASK_KIND_SUSPEND:
		return svc->suspend_url;
	case TASK_KIND_RESTORE:
		return svc->restore_url;
	default:
		return svc->delete_url;
	}
}

/* The first step: the pre-purge preview, the call, or (when an earlier
 * call succeeded and only its verification is owed) the verification. */
static enum step first_step(struct attempt *a)
{
	struct outcome *o;

	if (a->c.counted) {
		a->call = POLICY_CALL_SENT; /* counted at claim: it goes now */
		return STEP_CALL;
	}
	if (!a->c.verify_owed)
		return a->preview_url != NULL && !a->c.has_before ? STEP_PREVIEW : STEP_CALL;
	a->call = POLICY_CALL_EARLIER;
	a->verify_owed = 1;
	a->have_out = 1;
	o = attempt_out(a);
	o->kind = OUTCOME_SUCCESS; /* unless the verification says otherwise */
	o->uses_attempt = 1;
	o->retry_after_ms = -1;
	return STEP_VERIFY;
}

/* A service's task: its URLs and settings. 0, or -1 when the service has
 * no URL for the task's kind. */
static int setup_service(struct attempt *a, const struct config *cfg)
{
	const struct config_service *svc = config_find_service(cfg, a->c.service);
	const char *tmpl = svc ? call_template(svc, a->c.kind) : NULL;

	if (tmpl == NULL)
		return -1;
	a->call_url = config_expand_url(tmpl, a->c.tenant_id);
	a->method = a->c.kind == TASK_KIND_DELETE ? "DELETE" : "POST";
	if (svc->preview_url != NULL && a->c.kind == TASK_KIND_DELETE)
		a->preview_url = config_expand_url(svc->preview_url, a->c.tenant_id);
	a->verify = svc->verify;
	a->on_404_fail = svc->on_404_fail;
	a->timeout_ms = svc->timeout_ms > 0 ? svc->timeout_ms : cfg->timeout_ms;
	return 0;
}

/* A subject job's memberships or user step (DESIGN 9): a DELETE of its
 * [subject] URL (the task's tenant_id is the user id), verified by its
 * preview URL when one is set. 0, or -1 without [subject]. */
static int setup_subject(struct attempt *a, const struct config *cfg, enum subject_step step)
{
	const struct config_subject *sj = &cfg->subject;
	const char *call = step == SUBJECT_MEMBERSHIPS ? sj->memberships_url : sj->user_url;
	const char *preview = step == SUBJECT_MEMBERSHIPS ? sj->memberships_preview_url
							   : sj->user_preview_url;

	if (!sj->configured)
		return -1;
	a->timeout_ms = sj->timeout_ms;
	a->call_url = config_expand_var(step == SUBJECT_DISCOVER ? sj->tenants_url : call,
					"{user_id}", a->c.tenant_id);
	if (step == SUBJECT_DISCOVER)
		return 0;
	a->method = "DELETE";
	if (preview != NULL)
		a->preview_url = config_expand_var(preview, "{user_id}", a->c.tenant_id);
	a->verify = preview != NULL;
	return 0;
}

void attempt_start(struct engine *e, struct sched_claimed *c)
{
	struct attempt *a = xcalloc(1, sizeof *a);
	enum subject_step step;
	int subject, rc;

	a->e = e;
	a->c = *c;
	memset(c, 0, sizeof *c);
	a->before_total = -1;
	a->verified_after = -1;
	e->n_in_flight++;
	subject = subject_step_parse(a->c.service, &step) == 0;
	rc = subject ? setup_subject(a, e->cfg, step) : setup_service(a, e->cfg);
	if (rc < 0) {
		a->counted_unsent = a->c.counted;
		attempt_set_error(a, "no %s URL configured for %s %s",
				  jobs_task_kind_name(a->c.kind), subject ? "step" : "service",
				  a->c.service);
		attempt_finish(a);
		return;
	}
	if (subject && step == SUBJECT_DISCOVER) {
		a->call = POLICY_CALL_SENT; /* counted at claim: it goes now */
		a->step = STEP_DISCOVER;
		attempt_send_now(a);
		return;
	}
	a->step = first_step(a);
	if (a->step == STEP_VERIFY && (!a->verify || a->preview_url == NULL)) {
		a->verify_owed = 0; /* verification no longer configured: the call stands */
		attempt_finish(a);
		return;
	}
	step_send(a);
}

void attempt_not_sent(struct engine *e, struct sched_claimed *c, const char *why)
{
	struct attempt *a = xcalloc(1, sizeof *a);

	a->e = e;
	a->c = *c;
	memset(c, 0, sizeof *c);
	a->before_total = -1;
	a->verified_after = -1;
	e->n_in_flight++; /* finish gives the slot back */
	a->call = POLICY_CALL_NOT_SENT;
	a->counted_unsent = a->c.counted;
	attempt_set_error(a, "not sent: %s", why);
	attempt_finish(a);
}
