/* Placeholder until the proof issue lands; replaced there. */
#include "cli/cli.h"

int cli_cmd_certificate(struct cli_ctx *ctx, int argc, char **argv)
{
	cli_error("certificate: not built yet");
	return EXIT_FAILED;
}

int cli_cmd_verify_certificate(struct cli_ctx *ctx, int argc, char **argv)
{
	cli_error("verify-certificate: not built yet");
	return EXIT_FAILED;
}

int cli_cmd_audit(struct cli_ctx *ctx, int argc, char **argv)
{
	cli_error("audit: not built yet");
	return EXIT_FAILED;
}

int cli_cmd_reapply(struct cli_ctx *ctx, int argc, char **argv)
{
	cli_error("reapply: not built yet");
	return EXIT_FAILED;
}
