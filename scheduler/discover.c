/*
 * discover.c - a subject job's discover step (DESIGN 9) inside one
 * attempt: GET tenants_url, then admins_url for each tenant the user owns
 * or administers, one after the other; jobs/subject.h reads each answer
 * and decides. A status the outcome rules call retryable is retried like
 * any call; an answer that cannot be read, or contradicts itself, fails
 * the step for good with the reason (never a guess); a 404 too (the user
 * or tenant unknown there: nothing is erased on a missing answer).
 */
#include "scheduler/attempt_int.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "util/util.h"

/* The step fails for good: what was wrong with which answer. */
static void refuse(struct attempt *a, const char *what, const char *why)
{
	struct outcome *o = attempt_out(a);

	outcome_clear(o);
	memset(o, 0, sizeof *o);
	o->kind = OUTCOME_PERMANENT;
	o->uses_attempt = 1;
	o->retry_after_ms = -1;
	a->have_out = 1;
	attempt_set_error(a, "discovery: %s answer: %s", what, why);
	a->step = -1;
}

/* The next tenant whose admins are asked for, or done: decided. */
static void next_request(struct attempt *a)
{
	const struct config *cfg = a->e->cfg;

	while (a->next_admin < a->n_found && !subject_runs(a->found[a->next_admin].role))
		subject_decide(&a->found[a->next_admin++]);
	if (a->next_admin < a->n_found) {
		free(a->call_url);
		a->call_url = config_expand_url(cfg->subject.admins_url,
						a->found[a->next_admin].tenant_id);
		return;
	}
	a->discovered = 1;
	a->step = -1;
}

void discover_on_answer(struct attempt *a, const struct http_response *hr)
{
	struct outcome_http h = attempt_outcome_http(hr);
	int tenants = a->found == NULL;
	const char *what = tenants ? "tenants" : "admins";
	struct outcome *o = attempt_out(a);
	char err[256];
	int rc;

	a->http_status = (int)hr->status;
	a->answered_2xx = hr->status / 100 == 2;
	a->duration_ms += hr->duration_ms;
	outcome_clear(o);
	outcome_classify_delete(&h, 1, o); /* statuses as for any call; 404 fails */
	a->have_out = 1;
	if (o->kind != OUTCOME_SUCCESS) {
		attempt_set_error(a, "discovery: %s: %s", what, o->error);
		a->step = -1;
		return;
	}
	if (tenants)
		rc = subject_parse_tenants(hr->body, hr->body_len, a->c.tenant_id, &a->found,
					   &a->n_found, err, sizeof err);
	else
		rc = subject_parse_admins(hr->body, hr->body_len, a->c.tenant_id,
					  &a->found[a->next_admin], err, sizeof err);
	if (rc < 0) {
		refuse(a, what, err);
		return;
	}
	if (!tenants)
		subject_decide(&a->found[a->next_admin++]);
	next_request(a);
}

/*
 * A subject job's steps (DESIGN 9) as services of their own, after the
 * configured ones: claimed, limited and broken like any service, never
 * part of what a purge covers. The discover step's lease covers its
 * tenants answer and up to 30 admins answers.
 */
void discover_add_steps(struct engine *e)
{
	const struct config_subject *sj = &e->cfg->subject;

	for (int i = 0; sj->configured && i < SUBJECT_N_STEPS; i++) {
		struct sched_service *s = &e->svcs[e->n_svcs++];
		int preview = i == SUBJECT_MEMBERSHIPS ? sj->memberships_preview_url != NULL
			      : i == SUBJECT_USER      ? sj->user_preview_url != NULL
						       : 0;

		s->name = subject_step_name((enum subject_step)i);
		s->phase = i + 1;
		s->enabled = 1;
		s->max_in_flight = 8;
		s->lease_ms = (i == SUBJECT_DISCOVER ? 31 : preview ? 3 : 1) * sj->timeout_ms + 10000;
		s->preview_first = preview;
		s->breaker.threshold = e->cfg->breaker_failures;
		s->breaker.cooloff_ms = e->cfg->breaker_cooloff_ms;
		s->breaker.max_cooloff_ms = e->cfg->max_delay_ms;
	}
}
