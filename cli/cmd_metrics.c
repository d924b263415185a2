/*
 * cmd_metrics.c - `tenantdel metrics`: the Prometheus text exposition of
 * the database's state on stdout.
 */
#include "cli/cli.h"
#include "scheduler/metrics.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("usage: tenantdel metrics\n"
	      "Prints the Prometheus text exposition (format 0.0.4) of the database's\n"
	      "state: jobs by state, attempts, records deleted, attempt durations,\n"
	      "due lag, webhook backlog, overdue jobs, breaker states.\n",
	      f);
}

int cli_cmd_metrics(struct cli_ctx *ctx, int argc, char **argv)
{
	struct buf b;
	struct store *s;
	int rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc != 1) {
		cli_error("metrics: unexpected argument '%s'", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (cli_config(ctx) == NULL)
		return EXIT_USAGE;
	if ((s = cli_store(ctx)) == NULL)
		return EXIT_FAILED;
	buf_init(&b);
	rc = metrics_render(s, ctx->cfg, clock_now_ms(), &b);
	if (rc == 0)
		fwrite(b.data, 1, b.len, stdout);
	else
		cli_error("metrics: cannot read the database: %s", store_last_error(s));
	buf_free(&b);
	return rc == 0 ? EXIT_OK : EXIT_FAILED;
}
