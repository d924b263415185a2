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
#include "jobs/jobs.h"

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

/*
 * Longest line of a --from file: a tenant id (JOBS_TENANT_ID_MAX) with room
 * for blanks around it and a CRLF. Anything longer cannot hold a tenant id
 * and is refused while it is read, never buffered whole.
 */
#define FROM_LINE_MAX (JOBS_TENANT_ID_MAX + 64)

/* The reader of the tenant ids of a file (schedule --from), one at a time:
 * memory stays bounded whatever the file's size. */
struct cli_id_reader {
	FILE *f;
	const char *name; /* names f in messages */
	size_t lineno;
	char buf[FROM_LINE_MAX + 1];
};

/* Starts reading f (from where it stands) as name. Can't fail. */
void cli_id_reader_init(struct cli_id_reader *r, FILE *f, const char *name);

/*
 * The next tenant id of the file: one a line, blanks and a CR around it
 * ignored, empty lines and lines starting with '#' skipped. Returns 1 with
 * *id pointing into r (valid until the next call), 0 at the end of the
 * file, or -1 with "NAME:LINE: reason" in err (errlen > 0 bytes) for an
 * invalid id, a line longer than a tenant id can be (refused as it is
 * read), or a read error.
 */
int cli_id_next(struct cli_id_reader *r, const char **id, char *err, size_t errlen);

struct store_new_job;
/*
 * schedule --from PATH ("-": standard input): a job like tmpl for each
 * tenant id of the file, all in one transaction, all or nothing (an invalid
 * id anywhere: "nothing was scheduled", EXIT_USAGE); then prints the job
 * ids, one a line, or as a JSON array (json). Memory stays bounded
 * whatever the file's size. Returns the exit code. (schedule_from.c)
 */
int cli_schedule_from(struct cli_ctx *ctx, const char *path, const struct store_new_job *tmpl,
		      int json, int64_t now);

#endif
