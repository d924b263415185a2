/* Placeholder until the scheduler lands (engine issue); replaced there. */
#include "cli/cli.h"

int cli_cmd_run(struct cli_ctx *ctx, int argc, char **argv)
{
	cli_error("run: the scheduler is not built yet");
	return EXIT_FAILED;
}

int cli_cmd_retry(struct cli_ctx *ctx, int argc, char **argv)
{
	cli_error("retry: not built yet");
	return EXIT_FAILED;
}

int cli_cmd_preview(struct cli_ctx *ctx, int argc, char **argv)
{
	cli_error("preview: not built yet");
	return EXIT_FAILED;
}
