/*
 * common.c - what every command shares: the config and store of the
 * context, error lines, exit codes of store answers, JSON output.
 */
#include "cli/cli_int.h"
#include "jobs/timefmt.h"
#include "store/store.h"
#include "util/util.h"
#include "util/utf8.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long a writer waits for another writer's lock; see README. */
#define BUSY_TIMEOUT_ENV "TENANTDEL_BUSY_TIMEOUT_MS"

void cli_error(const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	fflush(stdout); /* keep the order of stdout and stderr on a terminal */
	fprintf(stderr, "tenantdel: %s\n", msg ? msg : fmt);
	free(msg);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	cli_error("%s: %s (see tenantdel %s --help)", cmd, msg ? msg : fmt, cmd);
	free(msg);
	return EXIT_USAGE;
}

int cli_check_text(const char *cmd, const char *option, const char *value)
{
	size_t at;

	if (value == NULL || utf8_check(value, strlen(value), &at) == 0)
		return EXIT_OK;
	return cli_usage_error(cmd, "%s is not valid UTF-8 (byte %zu)", option, at);
}

int cli_option_error(const char *cmd, int c, char **argv)
{
	char safe[96];
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	if (c == ':')
		return cli_usage_error(cmd, "option %s needs a value", cli_safe(arg, safe, sizeof safe));
	if (optopt != 0 && strncmp(arg, "--", 2) != 0) {
		char opt[3] = { '-', (char)optopt, '\0' };
		return cli_usage_error(cmd, "unknown option %s", cli_safe(opt, safe, sizeof safe));
	}
	return cli_usage_error(cmd, "unknown option %s", cli_safe(arg, safe, sizeof safe));
}

char *cli_safe(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen < 8) {
		if (outlen > 0)
			out[0] = '\0';
		return out;
	}
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		int n = (*p < 0x20 || *p >= 0x7f || *p == '\\') ? 4 : 1;
		if (o + (size_t)n + 4 > outlen) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (n == 4)
			snprintf(out + o, 5, "\\x%02x", *p);
		else
			out[o] = (char)*p;
		o += (size_t)n;
	}
	out[o] = '\0';
	return out;
}

const char *cli_default_actor(void)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
		return pw->pw_name;
	return getenv("USER");
}

struct config *cli_config(struct cli_ctx *ctx)
{
	char err[1024];

	if (ctx->cfg != NULL)
		return ctx->cfg;
	err[0] = '\0';
	ctx->cfg = config_load(ctx->config_path, err, sizeof err);
	if (ctx->cfg == NULL)
		cli_error("%s", err[0] ? err : "cannot load the config");
	return ctx->cfg;
}

/* TENANTDEL_BUSY_TIMEOUT_MS as struct store_config's busy_wait_ms: 0 when
 * unset (the default), -1 for "0" (no wait), else the number. */
static int busy_wait_from_env(void)
{
	const char *v = getenv(BUSY_TIMEOUT_ENV);
	char *end;
	long ms;

	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	ms = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || ms < 0 || ms > 3600000) {
		cli_error("warning: %s=%s is not a number of milliseconds (0-3600000); ignored",
			  BUSY_TIMEOUT_ENV, v);
		return 0;
	}
	return ms == 0 ? -1 : (int)ms;
}

struct store *cli_store_open(struct config *cfg, int flags, char *err, size_t errlen)
{
	struct store_config c = { .flags = flags, .backend = cfg->store_backend,
				  .path = cfg->database, .node = cfg->store_node,
				  .busy_wait_ms = busy_wait_from_env() };
	char why[512];

	err[0] = '\0';
	if (strcmp(c.backend, "postgresql") == 0 &&
	    (c.dsn = config_load_store_dsn(cfg, why, sizeof why)) == NULL) {
		snprintf(err, errlen, "cannot open the store: %s", why);
		return NULL;
	}
	return store_open(&c, err, errlen);
}

struct store *cli_store(struct cli_ctx *ctx)
{
	char err[1024];

	if (ctx->store != NULL)
		return ctx->store;
	if (cli_config(ctx) == NULL)
		return NULL;
	ctx->store = cli_store_open(ctx->cfg, ctx->store_flags, err, sizeof err);
	if (ctx->store == NULL) {
		cli_error("%s", err[0] ? err : "cannot open the database");
		return NULL;
	}
	/* The outbox is written only while a webhook is configured. */
	store_set_webhooks(ctx->store, (const char *const *)ctx->cfg->webhook_urls,
			   ctx->cfg->n_webhook_urls);
	return ctx->store;
}

/* Why an action is refused in a state, in words an operator can act on. */
static const char *refusal_hint(const char *what, const struct job_record *job)
{
	if (job == NULL)
		return "";
	if (job->state == JOB_HELD)
		return " (release it first)";
	if (strcmp(what, "cancel") == 0 && (job->state == JOB_RUNNING || job->state == JOB_FAILED))
		return " (purging has started; it only moves forward)";
	return "";
}

int cli_store_rc_exit(int rc, const char *job_id, const char *what,
		      const struct job_record *job)
{
	char safe[96];

	switch (rc) {
	case STORE_OK:
		return EXIT_OK;
	case STORE_NOT_FOUND:
		cli_error("no job %s", cli_safe(job_id, safe, sizeof safe));
		return EXIT_NO_JOB;
	case STORE_REFUSED:
		if (job != NULL && job->id[0] != '\0')
			cli_error("cannot %s job %s: it is %s%s", what, job_id,
				  jobs_job_state_name(job->state), refusal_hint(what, job));
		else
			cli_error("cannot %s job %s in its current state", what, job_id);
		return EXIT_REFUSED;
	default:
		cli_error("%s job %s failed: database error", what, job_id);
		return EXIT_FAILED;
	}
}

int cli_store_is_file(const struct cli_ctx *ctx)
{
	return strcmp(ctx->cfg->store_backend, "sqlite") == 0;
}

const char *cli_store_name(const struct cli_ctx *ctx)
{
	return cli_store_is_file(ctx) ? ctx->cfg->database : "the PostgreSQL store";
}

int cli_store_failed(struct cli_ctx *ctx, const char *what)
{
	cli_error("%s: %s: %s", what, cli_store_name(ctx), store_last_error(ctx->store));
	return store_last_error_kind(ctx->store) == STORE_E_FILE ? EXIT_USAGE : EXIT_FAILED;
}

int cli_job_rc_exit(struct cli_ctx *ctx, int rc, const char *job_id, const char *what,
		    const struct job_record *job)
{
	char doing[128];

	if (rc != STORE_ERR || ctx->store == NULL || store_last_error(ctx->store)[0] == '\0')
		return cli_store_rc_exit(rc, job_id, what, job);
	snprintf(doing, sizeof doing, "%s job %s failed", what, job_id);
	return cli_store_failed(ctx, doing);
}

int cli_check_job_arg(const char *job_id)
{
	char safe[96];

	if (jobs_id_check(job_id) == 0)
		return EXIT_OK;
	cli_error("no job %s (not a job id)", cli_safe(job_id, safe, sizeof safe));
	return EXIT_NO_JOB;
}

void cli_format_time(int64_t ms, char *out)
{
	if (ms <= 0)
		snprintf(out, TIMEFMT_TIME_LEN, "-");
	else
		timefmt_format_time(ms, out);
}

void cli_print_json(struct cJSON *tree)
{
	char *text = cJSON_Print(tree);

	if (text != NULL) {
		fputs(text, stdout);
		fputc('\n', stdout);
		free(text);
	}
	cJSON_Delete(tree);
}
