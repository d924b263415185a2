/*
 * cmd_view.c - reading jobs from the command line: list, show, events.
 * Listings stream: each row is printed as the store reads it.
 */
#include "cli/cli_int.h"
#include "jobs/document.h"
#include "jobs/timefmt.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct list_out {
	int json;
	long rows;
};

/* Prints one element of a streamed JSON array (one element a line). */
static void json_item(cJSON *o, long index)
{
	char *text = cJSON_PrintUnformatted(o);

	printf("%s\n%s", index ? "," : "[", text);
	free(text);
	cJSON_Delete(o);
}

static void json_end(long rows)
{
	fputs(rows ? "\n]\n" : "[]\n", stdout);
}

static int list_row(void *ctx, const struct job_record *j)
{
	struct list_out *o = ctx;
	char due[TIMEFMT_TIME_LEN], dl[TIMEFMT_TIME_LEN];

	if (o->json) {
		json_item(jobs_render_job(j, NULL, 0), o->rows++);
		return 0;
	}
	if (o->rows++ == 0)
		printf("%-36s  %-24s  %-9s  %-24s  %-24s  %s\n", "JOB", "TENANT", "STATE", "DUE",
		       "DEADLINE", "DELETED");
	cli_format_time(j->due_at, due);
	cli_format_time(j->deadline_at, dl);
	printf("%-36s  %-24s  %-9s  %-24s  %-24s%s %lld\n", j->id, j->tenant_id,
	       jobs_job_state_name(j->state), due, dl, j->deadline_missed ? "!" : " ",
	       (long long)j->total_deleted);
	return 0;
}

static int parse_limit(const char *v, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || n < 1 || n > 1000000000)
		return -1;
	*out = (int)n;
	return 0;
}

/* --due-within DUR: f->due_before = now + DUR. EXIT_OK or a usage error. */
static int parse_due_within(const char *cmd, const char *arg, struct store_list_filter *f)
{
	char safe[96];
	int64_t ms;

	if (cli_parse_duration_arg(cmd, "--due-within", arg, &ms) != EXIT_OK)
		return EXIT_USAGE;
	if (timefmt_add_duration(f->now, ms, &f->due_before) < 0)
		return cli_usage_error(cmd, "--due-within %s reaches past 9999-12-31",
				       cli_safe(arg, safe, sizeof safe));
	return EXIT_OK;
}

/* One option of list (its letter c, its value optarg) into f; EXIT_OK or a
 * usage error. */
static int list_option(int c, char **argv, struct store_list_filter *f, int *json)
{
	enum job_state st;
	enum job_kind kind;
	const char *why;
	char safe[96];

	switch (c) {
	case 's':
		if (jobs_job_state_parse(optarg, &st) < 0)
			return cli_usage_error(argv[0], "--state %s is not a job state (scheduled, running, succeeded, failed, cancelled, held)",
					       cli_safe(optarg, safe, sizeof safe));
		f->state = optarg;
		return EXIT_OK;
	case 't':
	case 'u':
		if (jobs_tenant_id_check(optarg, &why) < 0) {
			cli_error("invalid %s id \"%s\": %s", c == 't' ? "tenant" : "user",
				  cli_safe(optarg, safe, sizeof safe), why);
			return EXIT_USAGE;
		}
		*(c == 't' ? &f->tenant_id : &f->user_id) = optarg;
		return EXIT_OK;
	case 'd':
		return parse_due_within(argv[0], optarg, f) != EXIT_OK ? EXIT_USAGE : EXIT_OK;
	case 'k':
		if (jobs_job_kind_parse(optarg, &kind) < 0)
			return cli_usage_error(argv[0], "--kind %s is not a job kind (purge, user, reapply)",
					       cli_safe(optarg, safe, sizeof safe));
		f->kind = optarg;
		return EXIT_OK;
	case 'o': f->overdue = 1; return EXIT_OK;
	case 'a': f->awaiting_approval = 1; return EXIT_OK;
	case 'b':
		if (jobs_id_check(optarg) < 0)
			return cli_usage_error(argv[0], "--before %s is not a job id",
					       cli_safe(optarg, safe, sizeof safe));
		f->before_id = optarg;
		return EXIT_OK;
	case 'l':
		if (parse_limit(optarg, &f->limit) < 0)
			return cli_usage_error(argv[0], "--limit %s is not a positive number",
					       cli_safe(optarg, safe, sizeof safe));
		return EXIT_OK;
	case 'j': *json = 1; return EXIT_OK;
	default: return cli_option_error(argv[0], c, argv);
	}
}

/* Fills f from the options; EXIT_OK or a usage error. */
static int parse_list_args(int argc, char **argv, struct store_list_filter *f, int *json)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "tenant", required_argument, NULL, 't' },
		{ "user", required_argument, NULL, 'u' },
		{ "due-within", required_argument, NULL, 'd' },
		{ "overdue", no_argument, NULL, 'o' },
		{ "awaiting-approval", no_argument, NULL, 'a' },
		{ "kind", required_argument, NULL, 'k' },
		{ "limit", required_argument, NULL, 'l' },
		{ "before", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	char safe[96];
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1)
		if ((rc = list_option(c, argv, f, json)) != EXIT_OK)
			return rc;
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument %s",
				       cli_safe(argv[optind], safe, sizeof safe));
	if (f->before_id != NULL && f->due_before > 0)
		return cli_usage_error(argv[0], "--before does not combine with --due-within");
	return EXIT_OK;
}

int cli_cmd_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store_list_filter f = { .now = clock_now_ms() };
	struct list_out o = { 0 };
	int rc;

	if ((rc = parse_list_args(argc, argv, &f, &o.json)) != EXIT_OK)
		return rc;
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	if (store_job_list(ctx->store, &f, list_row, &o) != STORE_OK) {
		return cli_store_failed(ctx, "list failed");
	}
	if (o.json)
		json_end(o.rows);
	return EXIT_OK;
}

/* JOB and --json, the arguments of show and events. */
static int parse_job_json(int argc, char **argv, const char **job, int *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_option_error(argv[0], c, argv);
		*json = 1;
	}
	if (optind >= argc)
		return cli_usage_error(argv[0], "which job? give its JOB id");
	if (optind + 1 < argc)
		return cli_usage_error(argv[0], "one JOB at a time");
	*job = argv[optind];
	return cli_check_job_arg(*job);
}

static void show_summary(const struct job_record *j)
{
	char t[TIMEFMT_TIME_LEN], safe[512];

	printf("job          %s (%s)\n", j->id, jobs_job_kind_name(j->kind));
	printf("%s       %s", j->kind == JOB_KIND_USER ? "user  " : "tenant", j->tenant_id);
	if (j->tenant_name != NULL)
		printf("  \"%s\"", cli_safe(j->tenant_name, safe, sizeof safe));
	printf("\nstate        %s", jobs_job_state_name(j->state));
	if (j->state == JOB_HELD)
		printf(" (from %s): %s", jobs_job_state_name(j->held_from),
		       cli_safe(j->hold_reason, safe, sizeof safe));
	printf("\nrequested by %s\n", j->requested_by ? cli_safe(j->requested_by, safe, sizeof safe) : "-");
	printf("reason       %s\n", j->reason ? cli_safe(j->reason, safe, sizeof safe) : "-");
	if (j->origin_job_id != NULL)
		printf("repeats      %s\n", j->origin_job_id);
	if (j->parent_id != NULL)
		printf("erasure of   %s (its subject job)\n", j->parent_id);
	cli_format_time(j->created_at, t);
	printf("created      %s\n", t);
	cli_format_time(j->due_at, t);
	printf("due          %s\n", t);
	cli_format_time(j->deadline_at, t);
	printf("deadline     %s%s\n", t, j->deadline_missed ? "  (missed)" : "");
	cli_format_time(j->started_at, t);
	printf("started      %s\n", t);
	cli_format_time(j->finished_at, t);
	printf("finished     %s\n", t);
	printf("deleted      %lld records\n", (long long)j->total_deleted);
}

static void show_task(const struct task_record *t)
{
	char http[16] = "-", del[24] = "-", dur[32] = "-", err[96];

	if (t->http_status > 0)
		snprintf(http, sizeof http, "%d", t->http_status);
	if (t->total_deleted >= 0)
		snprintf(del, sizeof del, "%lld", (long long)t->total_deleted);
	if (t->duration_ms >= 0)
		timefmt_format_duration(t->duration_ms, dur, sizeof dur);
	if (t->state == TASK_SKIPPED && t->skip_reason != NULL)
		cli_safe(t->skip_reason, err, sizeof err);
	else
		cli_safe(t->last_error ? t->last_error : "", err, sizeof err);
	printf("%-20s  %-7s  %5d  %-9s  %8d  %4s  %9s  %8s  %s\n", t->service,
	       jobs_task_kind_name(t->kind), t->phase, jobs_task_state_name(t->state), t->attempts,
	       http, del, dur, err);
}

/* A subject job's discovered tenants: role, decision and child job. */
static void show_tenants(const struct subject_tenant *v, size_t n)
{
	printf("\n%-24s  %-6s  %-8s  %-36s  %s\n", "TENANT", "ROLE", "DECISION", "CHILD JOB",
	       "REASON");
	for (size_t i = 0; i < n; i++)
		printf("%-24s  %-6s  %-8s  %-36s  %s\n", v[i].tenant_id,
		       subject_role_name(v[i].role), subject_decision_name(v[i].decision),
		       v[i].child_job_id[0] ? v[i].child_job_id : "-", v[i].reason);
}

/* show's output of j and its tasks (and a subject job's tenants). */
static int show_job(struct cli_ctx *ctx, const struct job_record *j, const struct task_record *t,
		    size_t n, int json)
{
	struct subject_tenant *tn = NULL;
	size_t n_tn = 0;

	if (j->kind == JOB_KIND_USER && store_subject_tenants(ctx->store, j->id, &tn, &n_tn) != STORE_OK)
		return cli_job_rc_exit(ctx, STORE_ERR, j->id, "show", NULL);
	if (json) {
		cli_print_json(subject_render_job(j, t, n, tn, n_tn));
	} else {
		show_summary(j);
		printf("\n%-20s  %-7s  %5s  %-9s  %8s  %4s  %9s  %8s  %s\n", "SERVICE", "KIND",
		       "PHASE", "STATE", "ATTEMPTS", "HTTP", "DELETED", "DURATION", "LAST ERROR");
		for (size_t i = 0; i < n; i++)
			show_task(&t[i]);
		if (j->kind == JOB_KIND_USER)
			show_tenants(tn, n_tn);
	}
	free(tn);
	return EXIT_OK;
}

int cli_cmd_show(struct cli_ctx *ctx, int argc, char **argv)
{
	struct task_record *t = NULL;
	struct job_record j;
	const char *job = NULL;
	int json = 0, rc;
	size_t n = 0;

	if ((rc = parse_job_json(argc, argv, &job, &json)) != EXIT_OK)
		return rc;
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	if ((rc = store_job_get(ctx->store, job, &j)) != STORE_OK)
		return cli_job_rc_exit(ctx, rc, job, "show", NULL);
	if ((rc = store_job_tasks(ctx->store, job, &t, &n)) != STORE_OK) {
		jobs_job_record_clear(&j);
		return cli_job_rc_exit(ctx, rc, job, "show", NULL);
	}
	rc = show_job(ctx, &j, t, n, json);
	jobs_task_records_free(t, n);
	jobs_job_record_clear(&j);
	return rc;
}

struct events_out {
	int json;
	long rows;
	long bad;
	int64_t first_bad;
};

static int event_row(void *ctx, const struct event_record *ev)
{
	struct events_out *o = ctx;
	char at[TIMEFMT_TIME_LEN], detail[400];

	if (!ev->chain_ok && o->bad++ == 0)
		o->first_bad = ev->id;
	if (o->json) {
		json_item(jobs_render_event(ev), o->rows++);
		return 0;
	}
	if (o->rows++ == 0)
		printf("%6s  %-24s  %-22s  %-16s  %s\n", "ID", "AT", "TYPE", "SERVICE", "DETAIL");
	timefmt_format_time(ev->at, at);
	printf("%6lld%s %-24s  %-22s  %-16s  %s\n", (long long)ev->id, ev->chain_ok ? " " : "!", at,
	       ev->type ? ev->type : "", ev->service ? ev->service : "-",
	       cli_safe(ev->detail, detail, sizeof detail));
	return 0;
}

int cli_cmd_events(struct cli_ctx *ctx, int argc, char **argv)
{
	struct events_out o = { 0 };
	struct job_record j;
	const char *job = NULL;
	int rc;

	if ((rc = parse_job_json(argc, argv, &job, &o.json)) != EXIT_OK)
		return rc;
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	if ((rc = store_job_get(ctx->store, job, &j)) != STORE_OK)
		return cli_job_rc_exit(ctx, rc, job, "read events of", NULL);
	jobs_job_record_clear(&j);
	if (store_events_list(ctx->store, job, event_row, &o) != STORE_OK)
		return cli_job_rc_exit(ctx, STORE_ERR, job, "read events of", NULL);
	if (o.json)
		json_end(o.rows);
	if (o.bad > 0) {
		cli_error("audit trail altered: event %lld of job %s fails its hash-chain check"
			  " (%ld bad event%s; run `tenantdel audit verify`)",
			  (long long)o.first_bad, job, o.bad, o.bad > 1 ? "s" : "");
		return EXIT_FAILED;
	}
	return EXIT_OK;
}
