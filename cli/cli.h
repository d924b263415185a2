/*
 * cli.h - the command-line front end: one function per command, grouped in
 * files by theme (cli/cmd_jobs.c, cli/cmd_engine.c, ...), dispatched by
 * cli/main.c. Each command gets the shared context and its own argv
 * (argv[0] is the command name) and returns the process exit code.
 */
#ifndef TENANTDEL_CLI_H
#define TENANTDEL_CLI_H

#include <stdint.h>

#include "config/config.h"
#include "store/store.h"

/* Exit codes, DESIGN 4. */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,    /* the operation failed */
	EXIT_USAGE = 2,     /* usage or config error */
	EXIT_NO_JOB = 3,    /* no such job */
	EXIT_REFUSED = 4,   /* not allowed in the job's state */
};

struct cli_ctx {
	const char *config_path; /* resolved by config_default_path */
	struct config *cfg;      /* loaded by cli_config() */
	struct store *store;     /* opened by cli_store() */
	int store_flags;         /* store_open flags of the command (main.c) */
};

/*
 * Loads the config (once). On error prints "tenantdel: FILE:LINE: message"
 * on stderr and returns NULL: the caller returns EXIT_USAGE.
 */
struct config *cli_config(struct cli_ctx *ctx);

/*
 * Opens the store named by the config (once, with ctx->store_flags); NULL
 * after printing why. Any failure to open it (config or store) is exit
 * EXIT_USAGE for every command (DESIGN 4).
 */
struct store *cli_store(struct cli_ctx *ctx);

/*
 * Opens the store cfg names (its backend, file or connection string, node)
 * with flags (store_open's). NULL with one line in err (errlen > 0) that
 * never holds the connection string.
 */
struct store *cli_store_open(struct config *cfg, int flags, char *err, size_t errlen);

/* Prints "tenantdel: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Checks the text value of option (e.g. "--reason") of command cmd: NULL or
 * valid UTF-8 is EXIT_OK; anything else is refused with a usage error,
 * before it can be stored, and EXIT_USAGE is returned.
 */
int cli_check_text(const char *cmd, const char *option, const char *value);

/* Maps a STORE_* result of a job lookup/transition to an exit code, after
 * printing a clear message for NOT_FOUND/REFUSED/ERR. */
int cli_store_rc_exit(int rc, const char *job_id, const char *what,
		      const struct job_record *job);

/* Prints a cJSON tree (pretty) and a newline on stdout; deletes it. */
struct cJSON;
void cli_print_json(struct cJSON *tree);

/* Command entry points. */
int cli_cmd_schedule(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_erase_user(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_cancel(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_hold(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_release(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_approve(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_list(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_show(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_events(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_check_config(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_retire_service(struct cli_ctx *ctx, int argc, char **argv);

/* The engine issue: cli/cmd_engine.c */
int cli_cmd_run(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_retry(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_preview(struct cli_ctx *ctx, int argc, char **argv);

/* The proof issue: cli/cmd_proof.c */
int cli_cmd_certificate(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_verify_certificate(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_certificate_key(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_audit(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_reapply(struct cli_ctx *ctx, int argc, char **argv);

/* The integration issue: cli/cmd_metrics.c */
int cli_cmd_metrics(struct cli_ctx *ctx, int argc, char **argv);

/* Moving a store: cli/cmd_migrate.c */
int cli_cmd_migrate_store(struct cli_ctx *ctx, int argc, char **argv);

#endif
