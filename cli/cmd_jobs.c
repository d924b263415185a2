/*
 * cmd_jobs.c - writing jobs from the command line: schedule (one tenant or
 * a file of them), cancel, hold, release. The reading commands (list, show,
 * events) are in cmd_view.c. Also the parsers of duration and time options
 * that other commands share (declared in cli_int.h); the --from reader is
 * in tenant_ids.c.
 */
#include "cli/cli_int.h"
#include "jobs/document.h"
#include "jobs/schedule.h"
#include "jobs/timefmt.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sched_args {
	const char *name, *by, *reason, *after, *at, *deadline, *from;
	int now, json;
	const char *tenant; /* the positional TENANT, when not --from */
};

static int parse_sched_args(int argc, char **argv, struct sched_args *a)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "by", required_argument, NULL, 'b' },
		{ "reason", required_argument, NULL, 'r' },
		{ "after", required_argument, NULL, 'a' },
		{ "at", required_argument, NULL, 't' },
		{ "now", no_argument, NULL, 'N' },
		{ "deadline", required_argument, NULL, 'd' },
		{ "from", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof *a);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'n': a->name = optarg; break;
		case 'b': a->by = optarg; break;
		case 'r': a->reason = optarg; break;
		case 'a': a->after = optarg; break;
		case 't': a->at = optarg; break;
		case 'N': a->now = 1; break;
		case 'd': a->deadline = optarg; break;
		case 'f': a->from = optarg; break;
		case 'j': a->json = 1; break;
		default: return cli_option_error(argv[0], c, argv);
		}
	}
	if (cli_check_text(argv[0], "--name", a->name) != EXIT_OK ||
	    cli_check_text(argv[0], "--by", a->by) != EXIT_OK ||
	    cli_check_text(argv[0], "--reason", a->reason) != EXIT_OK)
		return EXIT_USAGE;
	if ((a->after != NULL) + (a->at != NULL) + a->now > 1)
		return cli_usage_error(argv[0], "--after, --at and --now exclude each other");
	if (a->from != NULL && optind < argc)
		return cli_usage_error(argv[0], "give either TENANT or --from FILE, not both");
	if (a->from != NULL && a->name != NULL)
		return cli_usage_error(argv[0], "--name names one tenant; it does not go with --from");
	if (a->from == NULL && optind >= argc)
		return cli_usage_error(argv[0], "which tenant? give TENANT or --from FILE");
	if (optind + 1 < argc)
		return cli_usage_error(argv[0], "one TENANT at a time (use --from FILE for many)");
	a->tenant = a->from == NULL ? argv[optind] : NULL;
	if (a->by == NULL)
		a->by = cli_default_actor();
	return EXIT_OK;
}

/* See cli_int.h. */
int cli_parse_duration_arg(const char *cmd, const char *opt, const char *text, int64_t *ms)
{
	char safe[96];

	if (timefmt_parse_duration(text, ms) == 0)
		return EXIT_OK;
	cli_safe(text, safe, sizeof safe);
	if (errno == ERANGE)
		return cli_usage_error(cmd, "%s %s is longer than 100 years", opt, safe);
	return cli_usage_error(cmd, "%s %s is not a duration (e.g. 30d, 12h, 1h30m)", opt, safe);
}

/* See cli_int.h. */
int cli_parse_time_arg(const char *cmd, const char *opt, const char *text, int64_t *ms)
{
	char safe[96];

	if (timefmt_parse_time(text, ms) == 0)
		return EXIT_OK;
	cli_safe(text, safe, sizeof safe);
	if (errno == ERANGE)
		return cli_usage_error(cmd, "%s %s is outside 1970-01-01 .. 9999-12-31", opt, safe);
	return cli_usage_error(cmd, "%s %s is not an RFC 3339 time (e.g. 2026-12-28T09:00:00Z)",
			       opt, safe);
}

/* due_at and deadline_at from the options and the config (jobs/schedule.h). */
static int schedule_times(const struct sched_args *a, const struct config *cfg, int64_t now,
			  int64_t *due, int64_t *deadline)
{
	struct jobs_schedule_req req = { .mode = JOBS_DUE_RETENTION,
					 .retention_ms = cfg->retention_ms,
					 .deadline_ms = cfg->deadline_ms };
	char err[200];
	int rc = EXIT_OK;

	if (a->now) {
		req.mode = JOBS_DUE_NOW;
	} else if (a->after != NULL) {
		req.mode = JOBS_DUE_AFTER;
		rc = cli_parse_duration_arg("schedule", "--after", a->after, &req.after_ms);
	} else if (a->at != NULL) {
		req.mode = JOBS_DUE_AT;
		rc = cli_parse_time_arg("schedule", "--at", a->at, &req.at_ms);
	}
	if (rc == EXIT_OK && a->deadline != NULL) {
		req.has_deadline = 1;
		rc = cli_parse_time_arg("schedule", "--deadline", a->deadline, &req.deadline_at);
	}
	if (rc != EXIT_OK)
		return rc;
	if (jobs_schedule_times(&req, now, due, deadline, err, sizeof err) < 0)
		return cli_usage_error("schedule", "%s; nothing was scheduled", err);
	return EXIT_OK;
}

/* Prints the show --json shape of one job (with its tasks). */
static int print_job_json(struct cli_ctx *ctx, const char *id, int with_tasks)
{
	struct job_record j;
	struct task_record *t = NULL;
	size_t n = 0;
	int rc = store_job_get(ctx->store, id, &j);

	if (rc != STORE_OK)
		return cli_job_rc_exit(ctx, rc, id, "read", NULL);
	if (with_tasks && store_job_tasks(ctx->store, id, &t, &n) != STORE_OK) {
		jobs_job_record_clear(&j);
		return cli_job_rc_exit(ctx, STORE_ERR, id, "read", NULL);
	}
	cli_print_json(jobs_render_job(&j, with_tasks ? t : NULL, n));
	jobs_task_records_free(t, n);
	jobs_job_record_clear(&j);
	return EXIT_OK;
}

/* Stores the one job of schedule TENANT and prints the outcome. */
static int store_one(struct cli_ctx *ctx, const struct sched_args *a,
		     const struct store_new_job *job, int64_t now)
{
	char ids[1][JOBS_ID_LEN + 1];
	int created = 0, rc = EXIT_OK;
	struct store_service *svcs;
	size_t n_svcs;

	svcs = config_enabled_services(ctx->cfg, &n_svcs);
	if (store_schedule(ctx->store, job, 1, svcs, n_svcs, now, ids, &created) != STORE_OK) {
		rc = cli_store_failed(ctx, "schedule failed, nothing was scheduled");
	} else {
		if (!created)
			cli_error("note: tenant %s already has an active job; it is returned",
				  job->tenant_id);
		if (a->json)
			rc = print_job_json(ctx, ids[0], 1);
		else
			printf("%s\n", ids[0]);
	}
	free(svcs);
	return rc;
}

int cli_cmd_schedule(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store_new_job job;
	struct sched_args a;
	int64_t now = clock_now_ms(), due = 0, deadline = 0;
	const char *why;
	char safe[96];
	int rc;

	if ((rc = parse_sched_args(argc, argv, &a)) != EXIT_OK)
		return rc;
	if (a.tenant != NULL && jobs_tenant_id_check(a.tenant, &why) < 0) {
		cli_error("invalid tenant id \"%s\": %s", cli_safe(a.tenant, safe, sizeof safe), why);
		return EXIT_USAGE;
	}
	if (cli_config(ctx) == NULL)
		return EXIT_USAGE;
	if ((rc = schedule_times(&a, ctx->cfg, now, &due, &deadline)) != EXIT_OK)
		return rc;
	job = (struct store_new_job){ .tenant_id = a.tenant, .tenant_name = a.name,
				      .requested_by = a.by, .reason = a.reason, .due_at = due,
				      .deadline_at = deadline,
				      .approval_pending = ctx->cfg->approval_required };
	if (a.from != NULL)
		return cli_schedule_from(ctx, a.from, &job, a.json, now);
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	return store_one(ctx, &a, &job, now);
}

/*
 * erase-user USER [schedule's options but --name and --from] (DESIGN 9):
 * the subject job of USER (a tenant id's syntax, checked before anything
 * is stored), or the user's active one. Refused without [subject].
 */
int cli_cmd_erase_user(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store_new_job j;
	struct sched_args a;
	int64_t now = clock_now_ms(), due = 0, deadline = 0;
	char id[JOBS_ID_LEN + 1], safe[96];
	const char *why;
	int rc, created = 0;

	if ((rc = parse_sched_args(argc, argv, &a)) != EXIT_OK)
		return rc;
	if (a.from != NULL || a.name != NULL)
		return cli_usage_error(argv[0], "one USER at a time, without --name or --from");
	if (jobs_tenant_id_check(a.tenant, &why) < 0) {
		cli_error("invalid user id \"%s\": %s", cli_safe(a.tenant, safe, sizeof safe), why);
		return EXIT_USAGE;
	}
	if (cli_config(ctx) == NULL)
		return EXIT_USAGE;
	if (!ctx->cfg->subject.configured) {
		cli_error("erase-user: %s has no [subject] section (tenants_url, admins_url,"
			  " memberships_url, user_url); nothing was scheduled", ctx->cfg->path);
		return EXIT_USAGE;
	}
	if ((rc = schedule_times(&a, ctx->cfg, now, &due, &deadline)) != EXIT_OK)
		return rc;
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	j = (struct store_new_job){ .tenant_id = a.tenant, .requested_by = a.by,
				    .reason = a.reason, .due_at = due, .deadline_at = deadline,
				    .approval_pending = ctx->cfg->approval_required };
	if (store_schedule_subject(ctx->store, &j, now, id, &created) != STORE_OK)
		return cli_store_failed(ctx, "erase-user failed, nothing was scheduled");
	if (!created)
		cli_error("note: user %s already has an active erasure job; it is returned", a.tenant);
	if (a.json)
		return print_job_json(ctx, id, 1);
	printf("%s\n", id);
	return EXIT_OK;
}

/* The options of cancel, hold and release. */
struct op_args {
	const char *job, *by, *reason;
	int json;
	int by_given; /* --by was on the command line */
};

static int parse_op_args(int argc, char **argv, struct op_args *a, int allow_reason)
{
	static const struct option opts[] = {
		{ "by", required_argument, NULL, 'b' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof *a);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'b': a->by = optarg; break;
		case 'r':
			if (!allow_reason)
				return cli_usage_error(argv[0], "unknown option --reason");
			a->reason = optarg;
			break;
		case 'j': a->json = 1; break;
		default: return cli_option_error(argv[0], c, argv);
		}
	}
	if (cli_check_text(argv[0], "--by", a->by) != EXIT_OK ||
	    cli_check_text(argv[0], "--reason", a->reason) != EXIT_OK)
		return EXIT_USAGE;
	if (optind >= argc)
		return cli_usage_error(argv[0], "which job? give its JOB id");
	if (optind + 1 < argc)
		return cli_usage_error(argv[0], "one JOB at a time");
	a->job = argv[optind];
	a->by_given = a->by != NULL;
	if (a->by == NULL)
		a->by = cli_default_actor();
	return cli_check_job_arg(a->job);
}

/* After a transition: the confirmation line, or the job as JSON. */
static int report(struct cli_ctx *ctx, const struct op_args *a, int rc, const char *what,
		  struct job_record *j)
{
	int code = cli_job_rc_exit(ctx, rc, a->job, what, j);

	if (code == EXIT_OK) {
		if (a->json) {
			code = print_job_json(ctx, a->job, 1);
		} else if (j->state == JOB_HELD) {
			printf("job %s: held (was %s)\n", j->id, jobs_job_state_name(j->held_from));
		} else if (strcmp(what, "release") == 0) {
			printf("job %s: released (%s)\n", j->id, jobs_job_state_name(j->state));
		} else {
			printf("job %s: %s\n", j->id, jobs_job_state_name(j->state));
		}
	}
	jobs_job_record_clear(j);
	return code;
}

int cli_cmd_cancel(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store_service *svcs;
	struct job_record j = { 0 };
	struct op_args a;
	size_t n;
	int rc;

	if ((rc = parse_op_args(argc, argv, &a, 1)) != EXIT_OK)
		return rc;
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	svcs = config_enabled_services(ctx->cfg, &n);
	rc = store_job_cancel(ctx->store, a.job, a.by, a.reason, svcs, n, clock_now_ms(), &j);
	free(svcs);
	if (rc == STORE_REFUSED && j.state == JOB_SCHEDULED) {
		/* not its state: a user's erasure waits for it (or it moved) */
		cli_error("cannot cancel job %s: %s", a.job, store_last_error(ctx->store));
		jobs_job_record_clear(&j);
		return EXIT_REFUSED;
	}
	return report(ctx, &a, rc, "cancel", &j);
}

int cli_cmd_hold(struct cli_ctx *ctx, int argc, char **argv)
{
	struct job_record j = { 0 };
	struct op_args a;
	int rc;

	if ((rc = parse_op_args(argc, argv, &a, 1)) != EXIT_OK)
		return rc;
	if (jobs_action_check_input(&(struct job_action_ask){ .act = JOB_ACT_HOLD,
							      .reason = a.reason }, NULL) < 0)
		return cli_usage_error(argv[0], "--reason is required: say why the data must be kept");
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	rc = store_job_hold(ctx->store, a.job, a.by, a.reason, clock_now_ms(), &j);
	return report(ctx, &a, rc, "hold", &j);
}

int cli_cmd_release(struct cli_ctx *ctx, int argc, char **argv)
{
	struct job_record j = { 0 };
	struct op_args a;
	int rc;

	if ((rc = parse_op_args(argc, argv, &a, 0)) != EXIT_OK)
		return rc;
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	rc = store_job_release(ctx->store, a.job, a.by, clock_now_ms(), &j);
	return report(ctx, &a, rc, "release", &j);
}

int cli_cmd_approve(struct cli_ctx *ctx, int argc, char **argv)
{
	struct job_record j = { 0 };
	struct op_args a;
	int rc;

	if ((rc = parse_op_args(argc, argv, &a, 0)) != EXIT_OK)
		return rc;
	if (!a.by_given)
		return cli_usage_error(argv[0], "--by is required: who approves");
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	rc = store_job_approve(ctx->store, a.job, a.by, clock_now_ms(), &j);
	if (rc == STORE_REFUSED) {
		cli_error("cannot approve job %s: %s", a.job, store_last_error(ctx->store));
		jobs_job_record_clear(&j);
		return EXIT_REFUSED;
	}
	if (rc == STORE_OK && !a.json) {
		printf("job %s: approved\n", j.id);
		jobs_job_record_clear(&j);
		return EXIT_OK;
	}
	return report(ctx, &a, rc, "approve", &j);
}
