/* Placeholder until the integration issue lands; replaced there. */
#include "cli/cli.h"

int cli_cmd_metrics(struct cli_ctx *ctx, int argc, char **argv)
{
	cli_error("metrics: not built yet");
	return EXIT_FAILED;
}
