/*
 * cmd_metrics.c - `tenantdel metrics`: the Prometheus text exposition of
 * the database's state on stdout (the same text as GET /metrics and
 * run --metrics-file). `metrics --help` is answered by main.c.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"
#include "scheduler/metrics.h"
#include "util/util.h"

#include <stdio.h>

int cli_cmd_metrics(struct cli_ctx *ctx, int argc, char **argv)
{
	struct buf b;
	struct store *s;
	int rc;

	if (argc != 1)
		return cli_usage_error("metrics", "unexpected argument '%s'", argv[1]);
	if (cli_config(ctx) == NULL)
		return EXIT_USAGE;
	if ((s = cli_store(ctx)) == NULL)
		return EXIT_USAGE;
	buf_init(&b);
	rc = metrics_render(s, ctx->cfg, clock_now_ms(), &b);
	if (rc == 0)
		fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	return rc == 0 ? EXIT_OK : cli_store_failed(ctx, "metrics: cannot read the store");
}
