/*
 * cli_int.h - helpers shared by cli/main.c, cli/common.c, cli/cmd_jobs.c
 * and cli/cmd_config.c: option errors, usage texts, safe printing.
 * (The command entry points and the context are in cli.h.)
 */
#ifndef TENANTDEL_CLI_INT_H
#define TENANTDEL_CLI_INT_H

#include <stdint.h>
#include <stdio.h>

#include "cli/cli.h"

#ifndef TENANTDEL_VERSION
#define TENANTDEL_VERSION "0.1.0"
#endif

/* The usage text of a command (DESIGN 4), or NULL for an unknown command. */
const char *cli_usage_text(const char *command);
/* The program's overview: global options and one line per command. */
void cli_print_overview(FILE *f);
/* `tenantdel version` and `--version`. */
int cli_cmd_version(struct cli_ctx *ctx, int argc, char **argv);

/*
 * Reports a getopt_long failure of command cmd (c is what getopt returned:
 * '?' unknown option, ':' missing value; argv/optind as getopt left them).
 * Returns EXIT_USAGE.
 */
int cli_option_error(const char *cmd, int c, char **argv);

/* Prints "tenantdel: CMD: message (see tenantdel CMD --help)"; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Copies s into out (outlen bytes) printable: control and non-ASCII bytes
 * become \xNN, and a long value is cut with "...". For echoing user input
 * and stored text in one-line messages and tables. Returns out.
 */
char *cli_safe(const char *s, char *out, size_t outlen);

/* Who is acting: the login name of the effective user, else $USER, else NULL. */
const char *cli_default_actor(void);

/*
 * Reports a failed store call: "tenantdel: WHAT: DATABASE: the store's own
 * message" on stderr. Returns the exit code: EXIT_USAGE when the file itself
 * is the cause (disk full, read-only, damaged: as when the store cannot be
 * opened, DESIGN 4), else EXIT_FAILED.
 */
/* Whether the config's store is a file (SQLite); what messages call the
 * store: the SQLite file's path, or "the PostgreSQL store" (its
 * connection string is a secret). */
int cli_store_is_file(const struct cli_ctx *ctx);
const char *cli_store_name(const struct cli_ctx *ctx);

int cli_store_failed(struct cli_ctx *ctx, const char *what);

/*
 * cli_store_rc_exit, except that a database error is reported with the
 * store's own message (store_last_error).
 */
int cli_job_rc_exit(struct cli_ctx *ctx, int rc, const char *job_id, const char *what,
		    const struct job_record *job);

/*
 * Checks a JOB argument: prints "no job ..." and returns EXIT_NO_JOB when it
 * is not even shaped like a job id, else EXIT_OK.
 */
int cli_check_job_arg(const char *job_id);

/*
 * check-config's look at the store (cli/cmd_services.c): prints its line
 * and warns on stderr about each service the store has unfinished work for
 * and the config lacks. Returns how many (a missing store: 0), or -1 after
 * printing why the store cannot be opened.
 */
int cli_warn_absent_services(struct cli_ctx *ctx);

/* Formats epoch ms as RFC 3339 UTC, or "-" for 0. out: TIMEFMT_TIME_LEN bytes. */
void cli_format_time(int64_t ms, char *out);

/*
 * Parses the value text of option opt ("--after") of command cmd as a
 * duration (at most 100 years) or an RFC 3339 time (1970 .. 9999) into *ms.
 * Returns EXIT_OK, or EXIT_USAGE after printing why (bad syntax, too long,
 * out of range). (Defined in cmd_jobs.c.)
 */
int cli_parse_duration_arg(const char *cmd, const char *opt, const char *text, int64_t *ms);
int cli_parse_time_arg(const char *cmd, const char *opt, const char *text, int64_t *ms);

/* Tenant ids read from a file (schedule --from). */
struct cli_tenant_ids {
	char **ids;
	size_t n, cap;
};

/*
 * Reads the tenant ids of f: one a line, blanks and a CR around it ignored,
 * empty lines and lines starting with '#' skipped. All or nothing: returns 0
 * with every id in *out (the caller frees it with cli_tenant_ids_free), or
 * -1 with *out empty and "NAME:LINE: reason" in err (errlen > 0 bytes) on
 * the first invalid id, a line longer than a tenant id can be (refused as
 * it is read: memory stays bounded whatever the input), or a read error.
 * name names f in messages. Reads f up to the end or the first error.
 */
int cli_read_tenant_ids(FILE *f, const char *name, struct cli_tenant_ids *out, char *err,
			size_t errlen);

/* Frees the ids of l and empties it; l may be empty. Can't fail. */
void cli_tenant_ids_free(struct cli_tenant_ids *l);

#endif
