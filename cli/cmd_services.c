/*
 * cmd_services.c - the services a store knows and its config lacks
 * (DESIGN 3): the check-config warning about them, and `retire-service
 * NAME --reason TEXT`, the only way their waiting tasks are skipped.
 */
#include "cli/cli_int.h"
#include "util/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_warn_absent_services(struct cli_ctx *ctx)
{
	struct store_service *svcs;
	struct store_absent *v = NULL;
	size_t n_svcs, n = 0;
	char err[1024];
	int rc;

	/* No store yet is no error: a SQLite file not there, or a database
	 * without the schema (store/pg/open.c says "no store in ..."). The
	 * server is connected to: whether the DSN works is worth checking. */
	if (!cli_store_is_file(ctx) && ctx->store == NULL &&
	    (ctx->store = cli_store_open(ctx->cfg, ctx->store_flags, err, sizeof err)) == NULL &&
	    strncmp(err, "no store in ", 12) != 0) {
		cli_error("%s", err);
		return -1;
	}
	if ((cli_store_is_file(ctx) && access(ctx->cfg->database, F_OK) != 0) ||
	    (!cli_store_is_file(ctx) && ctx->store == NULL)) {
		printf("store          %s (none yet: schedule or run creates it)\n",
		       cli_store_name(ctx));
		return 0;
	}
	if (cli_store(ctx) == NULL)
		return -1;
	printf("store          %s\n", cli_store_name(ctx));
	svcs = config_enabled_services(ctx->cfg, &n_svcs);
	rc = store_absent_services(ctx->store, svcs, n_svcs, &v, &n);
	free(svcs);
	if (rc != STORE_OK) {
		cli_error("check-config: %s: %s", cli_store_name(ctx), store_last_error(ctx->store));
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		cli_error("warning: the store knows service %s, which %s lacks (or disables): "
			  "%lld unfinished tasks and %lld jobs not started yet wait for it; restore "
			  "it, or run `tenantdel retire-service %s --reason TEXT`", v[i].service,
			  ctx->cfg->path, (long long)v[i].tasks, (long long)v[i].jobs_not_started,
			  v[i].service);
	store_absent_free(v, n);
	return (int)n;
}

struct retire_args {
	const char *service, *reason, *by;
};

static int parse_retire(int argc, char **argv, struct retire_args *a)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "by", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof *a);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'r': a->reason = optarg; break;
		case 'b': a->by = optarg; break;
		default: return cli_option_error(argv[0], c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error(argv[0], "which service? give its NAME");
	if (optind + 1 < argc)
		return cli_usage_error(argv[0], "one service at a time");
	a->service = argv[optind];
	if (a->reason == NULL || a->reason[0] == '\0')
		return cli_usage_error(argv[0], "--reason is required: say why its tasks may be "
					       "skipped (it goes into the certificates)");
	if (a->by == NULL)
		a->by = cli_default_actor();
	return EXIT_OK;
}

int cli_cmd_retire_service(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct config_service *svc;
	struct retire_args a;
	char safe[96];
	int64_t skipped = 0;
	int rc;

	if ((rc = parse_retire(argc, argv, &a)) != EXIT_OK)
		return rc;
	if (cli_config(ctx) == NULL)
		return EXIT_USAGE;
	cli_safe(a.service, safe, sizeof safe);
	svc = config_find_service(ctx->cfg, a.service);
	if (svc != NULL && svc->enabled) {
		cli_error("retire-service: service %s is still in %s (line %d): remove it from "
			  "the config first", safe, ctx->cfg->path, svc->line);
		return EXIT_USAGE;
	}
	if (cli_store(ctx) == NULL)
		return EXIT_USAGE;
	rc = store_retire_service(ctx->store, a.service, a.reason, a.by, clock_now_ms(), &skipped);
	if (rc == STORE_NOT_FOUND) {
		cli_error("retire-service: %s has never known a service %s", cli_store_name(ctx),
			  safe);
		return EXIT_USAGE;
	}
	if (rc != STORE_OK)
		return cli_store_failed(ctx, "retire-service failed");
	printf("service %s retired: %lld unfinished task%s skipped\n", safe, (long long)skipped,
	       skipped == 1 ? "" : "s");
	return EXIT_OK;
}
