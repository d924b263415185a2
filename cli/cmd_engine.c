/*
 * cmd_engine.c - the engine's commands: run (the scheduler), retry, and
 * preview.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/jobs.h"
#include "scheduler/engine.h"
#include "scheduler/integrate.h"
#include "scheduler/preview.h"
#include "util/log.h"
#include "util/json.h"
#include "util/util.h"

static void warn_secret(void *ctx, const char *msg)
{
	cli_error("warning: %s", msg);
}

/* The secrets, and the service token above all: exit 2 without it. */
static int need_token(struct config *cfg, const char *cmd)
{
	config_load_secrets(cfg, warn_secret, NULL);
	if (cfg->token != NULL && cfg->token[0] != '\0')
		return EXIT_OK;
	if (cfg->token_file != NULL)
		cli_error("%s: the service token cannot be read from %s ([http] token_file)", cmd,
			  cfg->token_file);
	else if (cfg->token_env != NULL)
		cli_error("%s: the service token variable %s ([http] token_env) is not set", cmd,
			  cfg->token_env);
	else
		cli_error("%s: no service token: set [http] token_file or token_env in %s", cmd,
			  cfg->path);
	return EXIT_USAGE;
}

/*
 * The attach points of the loop: the HTTP API (when [api] listen is set),
 * the webhook dispatcher and the metrics file (run --metrics-file), all on
 * the engine's hooks (scheduler/integrate.c).
 */
static int attach_integrations(struct engine *e, const struct engine_opts *o)
{
	char err[1024] = "";

	if (integrate_attach(e, o->once, err, sizeof err) < 0) {
		cli_error("run: %s", err[0] ? err : "the HTTP API cannot start");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* run, its options read: the config, the store, the engine until it ends. */
static int run_engine(struct cli_ctx *ctx, const struct engine_opts *o)
{
	struct engine *e;
	char err[1024] = "";
	int rc;

	if (cli_config(ctx) == NULL)
		return EXIT_USAGE;
	if ((rc = need_token(ctx->cfg, "run")) != EXIT_OK)
		return rc;
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	e = engine_new(ctx->cfg, ctx->store, o, err, sizeof err);
	if (e == NULL) {
		cli_error("run: %s", err);
		return EXIT_FAILED;
	}
	ctx->cfg = NULL; /* the engine owns it now (it may replace it on SIGHUP) */
	rc = attach_integrations(e, o);
	if (rc == EXIT_OK)
		rc = engine_run(e);
	engine_free(e);
	return rc;
}

int cli_cmd_run(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "metrics-file", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct engine_opts o = { 0 };
	struct dl_preload curl;
	int c, rc;

	engine_hold_reloads(); /* a SIGHUP while starting: a reload once running */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.once = 1; break;
		case 'm': o.metrics_file = optarg; break;
		default: return cli_option_error(argv[0], c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument %s", argv[optind]);
	http_preload(&curl); /* libcurl mapped while the config and the store open */
	rc = run_engine(ctx, &o);
	dl_preload_join(&curl);
	return rc;
}

int cli_cmd_retry(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "by", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *service = NULL, *by = NULL, *job;
	struct job_record j = { 0 };
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 's': service = optarg; break;
		case 'b': by = optarg; break;
		default: return cli_option_error(argv[0], c, argv);
		}
	}
	if (cli_check_text(argv[0], "--by", by) != EXIT_OK)
		return EXIT_USAGE;
	if (optind >= argc)
		return cli_usage_error(argv[0], "which job? give its JOB id");
	if (optind + 1 < argc)
		return cli_usage_error(argv[0], "one JOB at a time");
	job = argv[optind];
	if ((rc = cli_check_job_arg(job)) != EXIT_OK)
		return rc;
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	rc = store_job_retry(ctx->store, job, service, by ? by : cli_default_actor(),
			     clock_now_ms(), &j);
	if (rc == STORE_REFUSED && j.id[0] != '\0') {
		cli_error("retry: job %s (%s) has no dead task%s%s to retry", job,
			  jobs_job_state_name(j.state), service ? " of service " : "",
			  service ? service : "");
		jobs_job_record_clear(&j);
		return EXIT_REFUSED;
	}
	rc = cli_job_rc_exit(ctx, rc, job, "retry", &j);
	if (rc == EXIT_OK)
		printf("job %s: %s\n", j.id, jobs_job_state_name(j.state));
	jobs_job_record_clear(&j);
	return rc;
}

/* ---- preview ---- */

struct preview_wait {
	struct ev_loop *loop;
	cJSON *result;
};

static void preview_done(void *arg, cJSON *result)
{
	struct preview_wait *w = arg;

	w->result = result;
	ev_break(w->loop, EVBREAK_ALL);
}

/* An integer of the preview result (json_add_int) as text in buf[24]. */
static const char *count_text(const cJSON *item, char *buf)
{
	int64_t v;

	if (json_get_int(item, &v) < 0)
		return "?";
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

static void print_counts(const cJSON *counts)
{
	const cJSON *it;
	char num[24];
	int first = 1;

	cJSON_ArrayForEach(it, counts) {
		printf("%s%s=%s", first ? "" : " ", it->string, count_text(it, num));
		first = 0;
	}
}

static void print_preview_table(const cJSON *r)
{
	const cJSON *svcs = cJSON_GetObjectItemCaseSensitive(r, "services");
	const cJSON *it;
	char safe[256], num[24];

	printf("%-20s %10s  %s\n", "SERVICE", "RECORDS", "COUNTS");
	cJSON_ArrayForEach(it, svcs) {
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(it, "error");
		if (cJSON_IsString(err)) {
			printf("%-20s %10s  %s\n", it->string, "error",
			       cli_safe(err->valuestring, safe, sizeof safe));
			continue;
		}
		printf("%-20s %10s  ", it->string,
		       count_text(cJSON_GetObjectItemCaseSensitive(it, "total"), num));
		print_counts(cJSON_GetObjectItemCaseSensitive(it, "counts"));
		printf("\n");
	}
	printf("%-20s %10s\n", "TOTAL",
	       count_text(cJSON_GetObjectItemCaseSensitive(r, "total_records"), num));
}

/* Runs every preview on a loop of its own; the result, or NULL. */
static cJSON *run_preview(const struct config *cfg, const char *tenant)
{
	struct preview_wait w = { .loop = ev_loop_new(EVFLAG_AUTO) };
	struct http_tls tls = { cfg->ca_file, cfg->client_cert, cfg->client_key };
	struct config_secret sec[CONFIG_MAX_SECRETS];
	struct http_client *http;

	if (w.loop == NULL)
		return NULL;
	http = http_client_new(w.loop, &tls);
	if (http != NULL)
		http_client_set_secrets(http, sec, config_list_secrets(cfg, sec));
	if (http != NULL && preview_start(http, cfg, tenant, preview_done, &w) == 0 &&
	    w.result == NULL)
		ev_run(w.loop, 0);
	http_client_free(http);
	ev_loop_destroy(w.loop);
	return w.result;
}

int cli_cmd_preview(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *why = NULL, *tenant;
	int json = 0, c, rc;
	cJSON *r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_option_error(argv[0], c, argv);
		json = 1;
	}
	if (optind + 1 != argc)
		return cli_usage_error(argv[0], "give one TENANT id");
	tenant = argv[optind];
	if (jobs_tenant_id_check(tenant, &why) < 0) {
		char safe[160];
		return cli_usage_error(argv[0], "invalid tenant id \"%s\": %s",
				       cli_safe(tenant, safe, sizeof safe), why);
	}
	if (cli_config(ctx) == NULL)
		return EXIT_USAGE;
	if ((rc = need_token(ctx->cfg, "preview")) != EXIT_OK)
		return rc;
	r = run_preview(ctx->cfg, tenant);
	if (r == NULL) {
		cli_error("preview: no preview request could be started");
		return EXIT_FAILED;
	}
	rc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "complete")) ? EXIT_OK : EXIT_FAILED;
	if (json) {
		cli_print_json(r);
	} else {
		print_preview_table(r);
		cJSON_Delete(r);
	}
	if (rc != EXIT_OK)
		cli_error("preview: some services could not answer");
	return rc;
}
