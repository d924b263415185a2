/*
 * main.c - tenantdel [-c FILE] COMMAND [ARGS]: global options, the config
 * path (DESIGN 4 lookup order), `COMMAND --help`, and dispatch to the
 * command functions of cli.h.
 */
#include "cli/cli_int.h"
#include "util/dl.h"
#include "util/log.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct command {
	const char *name;
	int (*fn)(struct cli_ctx *ctx, int argc, char **argv);
	int needs_config; /* resolve the config path for it */
	int daemon;       /* logs on stderr by default (the scheduler) */
	int store_flags;  /* how cli_store opens the store (store_open flags) */
};

/* Only the writers that start from nothing create a store (DESIGN 4): any
 * other command on a missing one says "no store at PATH". */
static const struct command commands[] = {
	{ "schedule", cli_cmd_schedule, 1, 0, STORE_OPEN_CREATE | STORE_OPEN_CHECK },
	{ "erase-user", cli_cmd_erase_user, 1, 0, STORE_OPEN_CREATE | STORE_OPEN_CHECK },
	{ "cancel", cli_cmd_cancel, 1, 0, 0 },
	{ "hold", cli_cmd_hold, 1, 0, 0 },
	{ "release", cli_cmd_release, 1, 0, 0 },
	{ "approve", cli_cmd_approve, 1, 0, 0 },
	{ "retry", cli_cmd_retry, 1, 0, 0 },
	{ "list", cli_cmd_list, 1, 0, 0 },
	{ "show", cli_cmd_show, 1, 0, 0 },
	{ "preview", cli_cmd_preview, 1, 0, 0 },
	{ "events", cli_cmd_events, 1, 0, 0 },
	{ "certificate", cli_cmd_certificate, 1, 0, 0 },
	{ "verify-certificate", cli_cmd_verify_certificate, 1, 0, 0 },
	{ "certificate-key", cli_cmd_certificate_key, 1, 0, 0 },
	{ "audit", cli_cmd_audit, 1, 0, 0 },
	{ "reapply", cli_cmd_reapply, 1, 0, 0 },
	{ "retire-service", cli_cmd_retire_service, 1, 0, 0 },
	{ "run", cli_cmd_run, 1, 1, STORE_OPEN_CREATE | STORE_OPEN_CHECK },
	{ "check-config", cli_cmd_check_config, 1, 0, 0 },
	{ "metrics", cli_cmd_metrics, 1, 0, 0 },
	{ "migrate-store", cli_cmd_migrate_store, 1, 0, STORE_OPEN_CHECK },
	{ "version", cli_cmd_version, 0, 0, 0 },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/*
 * Logs: `run` writes its JSON log lines on stderr at info level. The other
 * commands speak in one-line "tenantdel: ..." messages, so their log lines
 * are off unless TENANTDEL_LOG names a level (debug, info, warn, error).
 */
static void setup_log(const struct command *cmd)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	const char *v = getenv("TENANTDEL_LOG");

	if (v != NULL && *v != '\0') {
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			if (strcasecmp(v, names[i]) == 0) {
				log_set_level((enum log_level)i);
				return;
			}
		if (strcasecmp(v, "off") != 0)
			return; /* unknown: keep the defaults */
	} else if (cmd->daemon) {
		return;
	}
	{
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd >= 0)
			log_set_fd(fd);
	}
}

/* 1 when a command's arguments ask for its help (before any "--"). */
static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

/* tenantdel help [COMMAND] */
static int cmd_help(int argc, char **argv)
{
	const char *text;

	if (argc < 2) {
		cli_print_overview(stdout);
		return EXIT_OK;
	}
	text = cli_usage_text(argv[1]);
	if (text == NULL) {
		char safe[96];
		cli_error("help: unknown command %s (see tenantdel --help)",
			  cli_safe(argv[1], safe, sizeof safe));
		return EXIT_USAGE;
	}
	fputs(text, stdout);
	return EXIT_OK;
}

static int dispatch(const char *config_opt, int argc, char **argv)
{
	struct cli_ctx ctx = { 0 };
	const struct command *cmd;
	char safe[96];
	int rc;

	if (strcmp(argv[0], "help") == 0)
		return cmd_help(argc, argv);
	cmd = find_command(argv[0]);
	if (cmd == NULL) {
		cli_error("unknown command %s (see tenantdel --help)",
			  cli_safe(argv[0], safe, sizeof safe));
		return EXIT_USAGE;
	}
	if (wants_help(argc, argv)) {
		fputs(cli_usage_text(cmd->name), stdout);
		return EXIT_OK;
	}
	setup_log(cmd);
	if (cmd->needs_config)
		ctx.config_path = config_default_path(config_opt);
	/* Only the daemon pays for the store's upkeep when it closes: a short
	 * command that did it would spend more there than on its own work. */
	ctx.store_flags = cmd->store_flags | (cmd->daemon ? 0 : STORE_OPEN_BRIEF);
	rc = cmd->fn(&ctx, argc, argv);
	store_close(ctx.store);
	config_free(ctx.cfg);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_opt = NULL;
	int c, rc;

	dl_process_setup();
	opterr = 0;
	/* "+": stop at the command; its options are its own */
	while ((c = getopt_long(argc, argv, "+:c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_opt = optarg; break;
		case 'h': cli_print_overview(stdout); return EXIT_OK;
		case 'V': return cli_cmd_version(NULL, 0, NULL);
		default: {
			char safe[96];
			if (c == ':')
				cli_error("option %s needs a value (see tenantdel --help)",
					  cli_safe(argv[optind - 1], safe, sizeof safe));
			else
				cli_error("unknown option %s (see tenantdel --help)",
					  cli_safe(argv[optind - 1], safe, sizeof safe));
			return EXIT_USAGE;
		}
		}
	}
	if (optind >= argc) {
		cli_error("no command given");
		cli_print_overview(stderr);
		return EXIT_USAGE;
	}
	rc = dispatch(config_opt, argc - optind, argv + optind);
	if (fflush(stdout) != 0 && rc == EXIT_OK) {
		cli_error("cannot write the output");
		rc = EXIT_FAILED;
	}
	return rc;
}
