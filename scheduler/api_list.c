/*
 * api_list.c - GET /v1/jobs (DESIGN 6): the jobs matching the filters of
 * `tenantdel list` (tenant_id: its purge and reapply jobs, user_id: the
 * user's erasure jobs, state, kind, overdue=1, due_within=DUR,
 * awaiting_approval=1),
 * newest first and paged by cursor (before=JOB: the jobs older than that
 * one, i.e. the page after the last job shown), each job as `list --json`
 * shows it, with "progress" (its tasks by state) when progress=1.
 */
#include "jobs/document.h"
#include "jobs/jobs.h"
#include "jobs/timefmt.h"
#include "scheduler/api_int.h"
#include "store/store.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT_LIMIT 100
#define LIST_MAX_LIMIT 1000

/* The query parameters, in the order of KEYS. */
enum { ARG_TENANT, ARG_USER, ARG_STATE, ARG_KIND, ARG_LIMIT, ARG_OVERDUE, ARG_DUE_WITHIN, ARG_BEFORE,
       ARG_PROGRESS, ARG_AWAITING, N_ARGS };

static const char *const KEYS[N_ARGS] = {"tenant_id", "user_id", "state", "kind", "limit", "overdue",
					 "due_within", "before", "progress", "awaiting_approval"};

struct list_args {
	const char *v[N_ARGS];
	const char *bad, *why; /* the first parameter that is no filter, and why */
};

static void on_arg(struct list_args *la, const char *key, size_t key_size, const char *value,
		   size_t value_size)
{
	size_t i = 0;

	if (la->bad != NULL)
		return;
	while (i < N_ARGS && strcmp(key, KEYS[i]) != 0)
		i++;
	/* A decoded %00 would cut a value short unseen: the sizes tell. */
	if (i == N_ARGS || strlen(key) != key_size)
		la->why = "is unknown";
	else if (la->v[i] != NULL)
		la->why = "is given twice";
	else if (value == NULL || value[0] == '\0')
		la->why = "is empty";
	else if (strlen(value) != value_size)
		la->why = "contains a NUL";
	else
		la->v[i] = value;
	if (la->why != NULL)
		la->bad = key;
}

/* v as the limit; -1 after a 400. */
static int parse_limit(const char *v, int *limit, struct api_answer *ans)
{
	char *end;
	long n;

	*limit = LIST_DEFAULT_LIMIT;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > LIST_MAX_LIMIT)
		return api_fail(ans, 400, "'limit' must be an integer from 1 to %d",
				LIST_MAX_LIMIT), -1;
	*limit = (int)n;
	return 0;
}

/* A flag parameter: absent 0, "1" 1; anything else -1 after a 400. */
static int parse_flag(const char *key, const char *v, int *out, struct api_answer *ans)
{
	*out = v != NULL;
	if (v == NULL || strcmp(v, "1") == 0)
		return 0;
	return api_fail(ans, 400, "'%s' must be 1 when given", key), -1;
}

/* due_within=DUR as list --due-within: due_before = now + DUR. */
static int parse_due_within(const char *v, struct store_list_filter *f, struct api_answer *ans)
{
	int64_t ms;

	if (v == NULL)
		return 0;
	if (timefmt_parse_duration(v, &ms) < 0)
		return api_fail(ans, 400, errno == ERANGE ? "'due_within' is longer than 100 years" :
				"'due_within' is not a duration (e.g. 30d, 12h, 1h30m)"), -1;
	if (timefmt_add_duration(f->now, ms, &f->due_before) < 0)
		return api_fail(ans, 400, "'due_within' reaches past 9999-12-31"), -1;
	return 0;
}

/* The store's filter from the parameters; -1 after a 400. */
static int list_filter(const struct list_args *la, struct store_list_filter *f, int *progress,
		       struct api_answer *ans)
{
	const char *const *v = la->v;
	enum job_state st;
	enum job_kind kind;

	if ((v[ARG_TENANT] != NULL && api_check_id("tenant_id", v[ARG_TENANT], ans) < 0) ||
	    (v[ARG_USER] != NULL && api_check_id("user_id", v[ARG_USER], ans) < 0))
		return -1;
	if (v[ARG_STATE] != NULL && jobs_job_state_parse(v[ARG_STATE], &st) < 0)
		return api_fail(ans, 400, "unknown state '%.32s'", v[ARG_STATE]), -1;
	if (v[ARG_KIND] != NULL && jobs_job_kind_parse(v[ARG_KIND], &kind) < 0)
		return api_fail(ans, 400, "unknown kind '%.32s'", v[ARG_KIND]), -1;
	if (v[ARG_BEFORE] != NULL && jobs_id_check(v[ARG_BEFORE]) < 0)
		return api_fail(ans, 400, "'before' is not a job id: '%.64s'", v[ARG_BEFORE]), -1;
	if (v[ARG_BEFORE] != NULL && v[ARG_DUE_WITHIN] != NULL)
		return api_fail(ans, 400, "'before' pages the newest-first list: "
				"it does not combine with 'due_within' (soonest due first)"), -1;
	f->now = clock_now_ms();
	if (parse_limit(v[ARG_LIMIT], &f->limit, ans) < 0 ||
	    parse_flag("overdue", v[ARG_OVERDUE], &f->overdue, ans) < 0 ||
	    parse_flag("progress", v[ARG_PROGRESS], progress, ans) < 0 ||
	    parse_flag("awaiting_approval", v[ARG_AWAITING], &f->awaiting_approval, ans) < 0 ||
	    parse_due_within(v[ARG_DUE_WITHIN], f, ans) < 0)
		return -1;
	f->tenant_id = v[ARG_TENANT];
	f->user_id = v[ARG_USER];
	f->state = v[ARG_STATE];
	f->kind = v[ARG_KIND];
	f->before_id = v[ARG_BEFORE];
	return 0;
}

static int list_row(void *ctx, const struct job_record *j)
{
	cJSON_AddItemToArray(ctx, jobs_render_job(j, NULL, 0));
	return 0;
}

/* Adds "progress" to each job of arr, from one read of their tasks. */
static int add_progress(struct api *a, cJSON *arr)
{
	size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
	struct store_job_progress *p = xcalloc(n ? n : 1, sizeof *p);
	const cJSON *job;
	int rc;

	cJSON_ArrayForEach(job, arr) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "job_id"));
		snprintf(p[i++].job_id, sizeof p->job_id, "%s", id ? id : "");
	}
	rc = store_jobs_progress(a->deps.store, p, n);
	i = 0;
	if (rc == STORE_OK)
		cJSON_ArrayForEach(job, arr)
			jobs_add_progress((cJSON *)job, p[i++].tasks);
	free(p);
	return rc == STORE_OK ? 0 : -1;
}

int api_h_list(struct api *a, struct api_req *r, const char *id, struct api_answer *ans)
{
	struct list_args la = {0};
	struct store_list_filter f = {0};
	int progress = 0;
	cJSON *arr;

	for (size_t i = 0; i < r->n_args; i++)
		on_arg(&la, r->args[i].key, r->args[i].key_size, r->args[i].value,
		       r->args[i].value_size);
	if (la.bad != NULL)
		return api_fail(ans, 400, "query parameter '%.64s' %s", la.bad, la.why);
	if (list_filter(&la, &f, &progress, ans) < 0)
		return 0;
	arr = cJSON_CreateArray();
	if (store_job_list(a->deps.store, &f, list_row, arr) != STORE_OK ||
	    (progress && add_progress(a, arr) < 0)) {
		cJSON_Delete(arr);
		return api_store_failed(a, ans);
	}
	return api_json(ans, 200, arr);
}
