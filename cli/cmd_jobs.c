/*
 * cmd_jobs.c - writing jobs from the command line: schedule (one tenant or
 * a file of them), cancel, hold, release. The reading commands (list, show,
 * events) are in cmd_view.c.
 */
#include "cli/cli_int.h"
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

/* Tenant ids read for a bulk schedule. */
struct tenant_list {
	char **ids;
	size_t n, cap;
};

static void tenant_list_free(struct tenant_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->ids[i]);
	free(l->ids);
	memset(l, 0, sizeof *l);
}

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

/* due_at and deadline_at from the options and the config (DESIGN 3). */
static int schedule_times(const struct sched_args *a, const struct config *cfg, int64_t now,
			  int64_t *due, int64_t *deadline)
{
	char safe[96], t1[TIMEFMT_TIME_LEN], t2[TIMEFMT_TIME_LEN];
	int64_t v;

	*due = now + cfg->retention_ms;
	if (a->now) {
		*due = now;
	} else if (a->after != NULL) {
		if (timefmt_parse_duration(a->after, &v) < 0)
			return cli_usage_error("schedule", "--after %s is not a duration (e.g. 30d, 12h, 1h30m)",
					       cli_safe(a->after, safe, sizeof safe));
		*due = now + v;
	} else if (a->at != NULL) {
		if (timefmt_parse_time(a->at, &v) < 0)
			return cli_usage_error("schedule", "--at %s is not an RFC 3339 time (e.g. 2026-12-28T09:00:00Z)",
					       cli_safe(a->at, safe, sizeof safe));
		*due = v > now ? v : now; /* a time already past: due now */
	}
	*deadline = *due + cfg->deadline_ms;
	if (a->deadline != NULL) {
		if (timefmt_parse_time(a->deadline, &v) < 0)
			return cli_usage_error("schedule", "--deadline %s is not an RFC 3339 time (e.g. 2026-12-28T09:00:00Z)",
					       cli_safe(a->deadline, safe, sizeof safe));
		if (v < *due) {
			timefmt_format_time(v, t1);
			timefmt_format_time(*due, t2);
			return cli_usage_error("schedule", "--deadline %s is before the due time %s", t1, t2);
		}
		*deadline = v;
	}
	return EXIT_OK;
}

/* Strips the line end and surrounding blanks in place; returns the start. */
static char *trim(char *s, size_t *len)
{
	size_t n = *len;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	s[n] = '\0';
	while (*s == ' ' || *s == '\t') {
		s++;
		n--;
	}
	*len = n;
	return s;
}

/* Checks one line of a --from file; EXIT_OK or EXIT_USAGE after the message. */
static int check_line(const char *path, size_t lineno, const char *id, size_t len)
{
	const char *why = NULL;
	char safe[96];

	if (strlen(id) != len)
		why = "tenant id contains a NUL byte";
	else if (jobs_tenant_id_check(id, &why) == 0)
		return EXIT_OK;
	cli_error("%s:%zu: invalid tenant id \"%s\": %s; nothing was scheduled",
		  strcmp(path, "-") == 0 ? "stdin" : path, lineno, cli_safe(id, safe, sizeof safe),
		  why);
	return EXIT_USAGE;
}

/* Reads the tenant ids of --from (one a line; blank and # lines skipped). */
static int read_tenants(const char *path, struct tenant_list *l)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *line = NULL, *id;
	size_t cap = 0, lineno = 0, len;
	ssize_t got;
	int rc = EXIT_OK;

	if (f == NULL) {
		cli_error("schedule: cannot read %s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	while (rc == EXIT_OK && (got = getline(&line, &cap, f)) >= 0) {
		lineno++;
		len = (size_t)got;
		id = trim(line, &len);
		if (len == 0 || id[0] == '#')
			continue;
		if ((rc = check_line(path, lineno, id, len)) != EXIT_OK)
			break;
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 1024;
			l->ids = xrealloc(l->ids, l->cap * sizeof *l->ids);
		}
		l->ids[l->n++] = xstrndup(id, len);
	}
	if (rc == EXIT_OK && ferror(f)) {
		cli_error("schedule: cannot read %s: %s", path, strerror(errno));
		rc = EXIT_USAGE;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
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

/* Bulk --json: an array of jobs (the list shape), one a line. */
static int print_jobs_json(struct cli_ctx *ctx, char (*ids)[JOBS_ID_LEN + 1], size_t n)
{
	fputs("[", stdout);
	for (size_t i = 0; i < n; i++) {
		struct job_record j;
		int rc = store_job_get(ctx->store, ids[i], &j);
		char *text;
		cJSON *o;

		if (rc != STORE_OK)
			return cli_job_rc_exit(ctx, rc, ids[i], "read", NULL);
		o = jobs_render_job(&j, NULL, 0);
		text = cJSON_PrintUnformatted(o);
		printf("%s\n%s", i ? "," : "", text);
		free(text);
		cJSON_Delete(o);
		jobs_job_record_clear(&j);
	}
	fputs("\n]\n", stdout);
	return EXIT_OK;
}

/* Stores the batch and prints the outcome. */
static int store_batch(struct cli_ctx *ctx, const struct sched_args *a, struct store_new_job *jobs,
		       size_t n, int64_t now)
{
	char (*ids)[JOBS_ID_LEN + 1] = xcalloc(n ? n : 1, sizeof *ids);
	int *created = xcalloc(n ? n : 1, sizeof *created);
	struct store_service *svcs;
	size_t n_svcs;
	int rc = EXIT_OK;

	svcs = store_services_from_config(ctx->cfg, &n_svcs);
	if (n > 0 && store_schedule(ctx->store, jobs, n, svcs, n_svcs, now, ids,
				    created) != STORE_OK) {
		cli_error("schedule failed, nothing was scheduled: %s: %s", ctx->cfg->database,
			  store_last_error(ctx->store));
		rc = EXIT_FAILED;
	} else if (a->from == NULL) {
		if (!created[0])
			cli_error("note: tenant %s already has an active job; it is returned",
				  jobs[0].tenant_id);
		if (a->json)
			rc = print_job_json(ctx, ids[0], 1);
		else
			printf("%s\n", ids[0]);
	} else if (a->json) {
		rc = print_jobs_json(ctx, ids, n);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", ids[i]);
	}
	free(svcs);
	free(created);
	free(ids);
	return rc;
}

int cli_cmd_schedule(struct cli_ctx *ctx, int argc, char **argv)
{
	struct tenant_list l = { 0 };
	struct store_new_job *jobs = NULL;
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
	if (a.from != NULL && (rc = read_tenants(a.from, &l)) != EXIT_OK)
		goto out;
	if (cli_store(ctx) == NULL) {
		rc = EXIT_USAGE;
		goto out;
	}
	{
		size_t n = a.from ? l.n : 1;
		jobs = xcalloc(n ? n : 1, sizeof *jobs);
		for (size_t i = 0; i < n; i++)
			jobs[i] = (struct store_new_job){ .tenant_id = a.from ? l.ids[i] : a.tenant,
							  .tenant_name = a.name, .requested_by = a.by,
							  .reason = a.reason, .due_at = due,
							  .deadline_at = deadline };
		rc = store_batch(ctx, &a, jobs, n, now);
	}
out:
	free(jobs);
	tenant_list_free(&l);
	return rc;
}

/* The options of cancel, hold and release. */
struct op_args {
	const char *job, *by, *reason;
	int json;
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
	svcs = store_services_from_config(ctx->cfg, &n);
	rc = store_job_cancel(ctx->store, a.job, a.by, a.reason, svcs, n, clock_now_ms(), &j);
	free(svcs);
	return report(ctx, &a, rc, "cancel", &j);
}

int cli_cmd_hold(struct cli_ctx *ctx, int argc, char **argv)
{
	struct job_record j = { 0 };
	struct op_args a;
	int rc;

	if ((rc = parse_op_args(argc, argv, &a, 1)) != EXIT_OK)
		return rc;
	if (a.reason == NULL || a.reason[0] == '\0')
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
