/*
 * cmd_config.c - check-config, version, and the help texts of every
 * command (DESIGN 4), including those implemented in other files.
 */
#include "cli/cli_int.h"
#include "jobs/timefmt.h"
#include "util/util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

struct usage {
	const char *command;
	const char *summary; /* one line for the overview */
	const char *text;    /* `COMMAND --help` */
};

static const struct usage usages[] = {
	{ "erase-user", "schedule a person's erasure: their account and the tenants only they run",
	  "usage: tenantdel erase-user USER [--by WHO] [--reason TEXT]\n"
	  "                            [--after DUR | --at TIME | --now] [--deadline TIME] [--json]\n\n"
	  "Creates the erasure job of USER (kind user), or returns the user's active\n"
	  "one. At its due time it asks [subject] tenants_url for the user's tenants\n"
	  "and admins_url for who runs each; a tenant the user runs alone gets its\n"
	  "own purge job (due at once, same deadline), the others are kept with the\n"
	  "reason; once every purge has succeeded it deletes the user's memberships\n"
	  "(memberships_url), then the user's data (user_url). Needs [subject].\n"
	  "Options as for schedule.\n" },
	{ "schedule", "schedule a tenant's deletion (or a file of tenants)",
	  "usage: tenantdel schedule TENANT [--name N] [--by WHO] [--reason TEXT]\n"
	  "                          [--after DUR | --at TIME | --now] [--deadline TIME] [--json]\n"
	  "       tenantdel schedule --from FILE|- [same options but --name]\n\n"
	  "Creates the deletion job of TENANT, or returns the tenant's active job\n"
	  "(at most one per tenant). Prints the job id, or the job as JSON.\n\n"
	  "  --name N        the tenant's display name\n"
	  "  --by WHO        who asks (default: your login name)\n"
	  "  --reason TEXT   why (kept in the audit trail and the certificate)\n"
	  "  --after DUR     purge after DUR (e.g. 14d, 12h, 1h30m); default: [scheduler] retention\n"
	  "  --at TIME       purge at TIME (RFC 3339, e.g. 2026-12-28T09:00:00Z); a past time means now\n"
	  "  --now           purge as soon as the scheduler runs\n"
	  "  --deadline TIME when it must be finished (default: due + [scheduler] deadline);\n"
	  "                  not before the due time\n"
	  "  --from FILE     one tenant id a line ('-': stdin; blank and # lines skipped);\n"
	  "                  all in one transaction: one invalid id and nothing is scheduled;\n"
	  "                  prints one job id a line (--json: an array of jobs)\n"
	  "  --json          print the job (as show --json)\n\n"
	  "Tenant ids: 1-128 characters of [A-Za-z0-9._:-], starting with a letter or digit.\n"
	  "Exit: 0 scheduled (or already active), 1 database error, 2 bad input or config.\n" },
	{ "cancel", "cancel a job whose purge has not started",
	  "usage: tenantdel cancel JOB [--by WHO] [--reason TEXT] [--json]\n\n"
	  "Cancels a scheduled job; services that suspended the tenant's data get a\n"
	  "restore task. Prints \"job JOB: cancelled\", or the job as JSON.\n"
	  "Exit: 0 cancelled, 3 no such job, 4 not scheduled (running, held, finished).\n" },
	{ "hold", "put a legal hold on a job",
	  "usage: tenantdel hold JOB --reason TEXT [--by WHO] [--json]\n\n"
	  "Nothing of a held job is dispatched until it is released. --reason is required.\n"
	  "Exit: 0 held, 3 no such job, 4 already held or finished.\n" },
	{ "release", "lift a legal hold",
	  "usage: tenantdel release JOB [--by WHO] [--json]\n\n"
	  "Returns a held job to the state it was held from.\n"
	  "Exit: 0 released, 3 no such job, 4 not held.\n" },
	{ "approve", "approve a job waiting for a second person",
	  "usage: tenantdel approve JOB --by WHO [--json]\n\n"
	  "Four eyes ([policy] approval = required): a new job is not started until\n"
	  "someone other than its requester approves it. Prints \"job JOB: approved\".\n"
	  "Exit: 0 approved, 2 no --by, 3 no such job, 4 not awaiting approval or\n"
	  "WHO is the requester.\n" },
	{ "retry", "retry a job's dead tasks",
	  "usage: tenantdel retry JOB [--service NAME]\n\n"
	  "Puts the dead tasks (of one service, or all) back to waiting with their\n"
	  "attempts reset, due now; a failed job becomes running again.\n"
	  "Exit: 0 retried, 3 no such job, 4 nothing to retry in its state.\n" },
	{ "list", "list jobs",
	  "usage: tenantdel list [--state S] [--tenant T | --user U] [--kind K]\n"
	  "                      [--due-within DUR] [--overdue] [--awaiting-approval]\n"
	  "                      [--before JOB] [--limit N] [--json]\n\n"
	  "Jobs, newest first: job id, tenant, state, due, deadline (! when missed),\n"
	  "records deleted. --json: an array of jobs (show --json without tasks).\n\n"
	  "  --state S        scheduled, running, succeeded, failed, cancelled or held\n"
	  "  --tenant T       one tenant's purge and reapply jobs\n"
	  "  --user U         one user's erasure jobs (erase-user)\n"
	  "  --kind K         purge, user (erasures of users) or reapply\n"
	  "  --due-within DUR what starts purging within DUR (already due included), soonest first\n"
	  "  --overdue        active jobs past their deadline\n"
	  "  --awaiting-approval jobs waiting for a second person ([policy] approval)\n"
	  "  --before JOB     the jobs older than JOB (the next page after it)\n"
	  "  --limit N        at most N jobs\n" },
	{ "show", "show a job and its tasks",
	  "usage: tenantdel show JOB [--json]\n\n"
	  "The job, then one row per task: service, kind, phase, state, attempts,\n"
	  "last HTTP status, records deleted, duration of the last attempt, last error.\n"
	  "A user's erasure also lists the tenants it found: role, decision (purge or\n"
	  "keep), the child purge job and the reason.\n"
	  "Exit: 0, 3 no such job.\n" },
	{ "preview", "count what a deletion would remove",
	  "usage: tenantdel preview TENANT [--json]\n\n"
	  "Calls every service's preview endpoint in parallel; prints per-service\n"
	  "counts and the total. Exit 1 when some service could not answer (the\n"
	  "rest is still printed).\n" },
	{ "events", "a job's audit trail",
	  "usage: tenantdel events JOB [--json]\n\n"
	  "The job's events in order: id, time, type, service, detail. Every event\n"
	  "is checked against the hash chain; an altered one is marked '!' and the\n"
	  "command exits 1 naming the first.\n"
	  "Exit: 0 verified, 1 the trail was altered, 3 no such job.\n" },
	{ "certificate", "the deletion certificate of a succeeded job",
	  "usage: tenantdel certificate JOB\n\n"
	  "Prints the JSON deletion certificate (NIST SP 800-88 style): who asked and\n"
	  "why, when, per service the counts previewed, deleted and verified, skipped\n"
	  "services, the event-chain head and whether the chain verifies.\n"
	  "Exit: 0, 1 the job has not succeeded, 3 no such job.\n" },
	{ "verify-certificate", "check a deletion certificate",
	  "usage: tenantdel verify-certificate FILE [--public-key PEM]\n\n"
	  "Checks a certificate printed by `tenantdel certificate` (FILE, or - for\n"
	  "stdin) against its signature: HMAC-SHA256 with [certificate] key_file, or\n"
	  "Ed25519 with [certificate] signing_key. With --public-key PEM (an Ed25519\n"
	  "public key, as `certificate-key --public` prints) nothing else is needed:\n"
	  "no config, no secret. Exit 0 when it verifies, 1 otherwise (naming why),\n"
	  "2 with no key to verify with.\n" },
	{ "certificate-key", "print the public key that verifies certificates",
	  "usage: tenantdel certificate-key --public\n\n"
	  "Prints the public half of [certificate] signing_key (Ed25519) in PEM: give it\n"
	  "to auditors, who check a certificate with `verify-certificate FILE\n"
	  "--public-key PEM`. Exit 2 when no signing_key is configured.\n" },
	{ "audit", "verify the whole audit trail",
	  "usage: tenantdel audit verify [--certificates FILE...]\n\n"
	  "Checks the database file's own integrity (SQLite's integrity_check), then\n"
	  "walks the event hash chain of the whole database. With --certificates, also\n"
	  "checks that the chain head each certificate names (chain_head_id and\n"
	  "chain_head) is still in the chain: a chain cut short or rebuilt after a\n"
	  "certificate was issued is caught. Exit 0 when all hold; 1 naming the damage,\n"
	  "the first altered or missing event, or the certificate whose head is gone.\n" },
	{ "reapply", "re-run a service's deletions after a backup restore",
	  "usage: tenantdel reapply --service NAME --since TIME\n\n"
	  "Schedules NAME's deletion again for every tenant purged since TIME, so a\n"
	  "restored backup cannot resurrect erased data.\n" },
	{ "run", "the scheduler",
	  "usage: tenantdel run [--once] [--metrics-file PATH]\n\n"
	  "Carries out due work: calls the services, retries, opens phases, records\n"
	  "every attempt. Safe to run next to another `run` on the same database.\n\n"
	  "  --once              work until nothing is due and nothing is in flight, then exit\n"
	  "                      (exit 1 when a job it worked on ends failed)\n"
	  "  --metrics-file PATH also write the Prometheus text there, atomically\n\n"
	  "SIGTERM/SIGINT: finish in-flight attempts (up to shutdown_grace) and exit 0.\n"
	  "SIGHUP: reload the config (an invalid one is logged and the old one kept).\n" },
	{ "retire-service", "skip, for good, the waiting tasks of a service gone from the config",
	  "usage: tenantdel retire-service NAME --reason TEXT [--by WHO]\n\n"
	  "A service removed from the config does not let a job finish without it:\n"
	  "its unfinished tasks wait (\"service not in config\") until it comes back.\n"
	  "retire-service says it is gone for good: its pending, waiting and dead\n"
	  "tasks become skipped with TEXT as the reason (an event in the audit chain,\n"
	  "shown in the certificates), and jobs not started yet skip it too.\n\n"
	  "  --reason TEXT   why (required)\n"
	  "  --by WHO        who decides (default: your login name)\n\n"
	  "Exit: 0 retired, 2 no --reason, a service still enabled in the config, or\n"
	  "a service the store has never known.\n" },
	{ "check-config", "validate the config and show the resolved services",
	  "usage: tenantdel check-config\n\n"
	  "Validates the config (errors: FILE:LINE: message, exit 2; TLS files must\n"
	  "be readable PEM), prints the resolved settings and one line per service,\n"
	  "and warns about secrets it cannot read (exit 0). Secret values are never\n"
	  "printed. When the store exists it must be an intact tenantdel store (exit 2\n"
	  "otherwise), and a warning names each service the store has unfinished work\n"
	  "for that the config lacks (its tasks wait; see retire-service).\n" },
	{ "metrics", "Prometheus metrics of the database",
	  "usage: tenantdel metrics\n\n"
	  "Prints the Prometheus text exposition of the database's state.\n" },
	{ "migrate-store", "copy this store into the empty store of another config",
	  "usage: tenantdel migrate-store --to NEW.conf\n\n"
	  "Copies this config's whole store (jobs, tasks, events with their ids and\n"
	  "hashes, tombstones, the webhook outbox, breakers, counters, service sets)\n"
	  "into the store NEW.conf names, of any backend: typically from SQLite to\n"
	  "PostgreSQL ([store] backend = postgresql). That store must be new or\n"
	  "empty; it is created when it does not exist. The copy is one transaction\n"
	  "there: before it commits, the audit chain is verified as copied, so the\n"
	  "store of NEW.conf ends up with all of it or nothing. Stop the schedulers\n"
	  "and the API first: what is written here during the copy is not copied.\n"
	  "A long copy prints its progress on stderr every second.\n\n"
	  "Exit: 0 copied; 1 the copy failed (nothing copied); 2 a config or store\n"
	  "that cannot be opened, or NEW.conf naming this same store; 4 the store of\n"
	  "NEW.conf is not empty (nothing copied).\n" },
	{ "version", "print the version", "usage: tenantdel version\n" },
};

const char *cli_usage_text(const char *command)
{
	for (size_t i = 0; i < sizeof usages / sizeof usages[0]; i++)
		if (strcmp(usages[i].command, command) == 0)
			return usages[i].text;
	return NULL;
}

void cli_print_overview(FILE *f)
{
	fputs("usage: tenantdel [-c FILE] COMMAND [ARGS]\n\n"
	      "Schedules and carries out the deletion of a tenant's data across HTTP services.\n\n"
	      "  -c, --config FILE  the config (else $TENANTDEL_CONFIG, ./tenantdel.conf,\n"
	      "                     /etc/tenantdel/tenantdel.conf)\n"
	      "  -h, --help         this help; `tenantdel COMMAND --help` for one command\n"
	      "  --version          the version\n\ncommands:\n", f);
	for (size_t i = 0; i < sizeof usages / sizeof usages[0]; i++)
		fprintf(f, "  %-19s %s\n", usages[i].command, usages[i].summary);
	fputs("\nExit codes: 0 success, 1 the operation failed, 2 usage or config error (a\n"
	      "store that is missing or not an intact tenantdel store included), 3 no such\n"
	      "job, 4 not allowed in the job's state.\n"
	      "Environment: TENANTDEL_CONFIG, TENANTDEL_BUSY_TIMEOUT_MS (how long to wait for a\n"
	      "locked database, default 10000), TENANTDEL_LOG (debug|info|warn|error|off).\n", f);
}

int cli_cmd_version(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc > 1) {
		char safe[96];
		return cli_usage_error("version", "unexpected argument %s",
				       cli_safe(argv[1], safe, sizeof safe));
	}
	printf("tenantdel %s\n", TENANTDEL_VERSION);
	return EXIT_OK;
}

static void warn_secret(void *ctx, const char *msg)
{
	int *n = ctx;

	(*n)++;
	cli_error("warning: %s", msg);
}

static const char *dur(int64_t ms, char *out, size_t len)
{
	timefmt_format_duration(ms, out, len);
	return out;
}

/* Where a secret comes from, never its value. */
static void print_secret(const char *label, const char *file, const char *env, const char *value)
{
	if (file == NULL && env == NULL)
		return;
	printf("%-14s %s %s (%s)\n", label, file ? "file" : "env", file ? file : env,
	       value ? "readable" : "NOT readable");
}

static void print_settings(const struct config *c)
{
	char a[32], b[32], d[32], e[32];

	printf("config         %s\n", c->path);
	if (strcmp(c->store_backend, "postgresql") == 0)
		printf("database       postgresql, connection string from %s %s, node %s\n",
		       c->store_dsn_file ? "file" : "env",
		       c->store_dsn_file ? c->store_dsn_file : c->store_dsn_env,
		       c->store_node ? c->store_node : "(the host name)");
	else
		printf("database       %s\n", c->database);
	printf("scheduler      retention %s, deadline %s, max_in_flight %d, shutdown_grace %s\n",
	       dur(c->retention_ms, a, sizeof a), dur(c->deadline_ms, b, sizeof b),
	       c->max_in_flight, dur(c->shutdown_grace_ms, d, sizeof d));
	printf("retry          base_delay %s, max_delay %s, max_attempts %d, give_up_after %s\n",
	       dur(c->base_delay_ms, a, sizeof a), dur(c->max_delay_ms, b, sizeof b),
	       c->max_attempts, dur(c->give_up_after_ms, d, sizeof d));
	printf("breaker        %d failures, cool-off %s\n", c->breaker_failures,
	       dur(c->breaker_cooloff_ms, e, sizeof e));
	printf("http           timeout %s, connect_timeout %s%s%s\n",
	       dur(c->timeout_ms, a, sizeof a), dur(c->connect_timeout_ms, b, sizeof b),
	       c->ca_file ? ", ca_file " : "", c->ca_file ? c->ca_file : "");
	print_secret("service token", c->token_file, c->token_env, c->token);
	printf("api            %s\n", c->api_listen ? c->api_listen : "off");
	if (c->api_listen)
		print_secret("api token", c->api_token_file, c->api_token_env, c->api_token);
	printf("webhooks       %zu url%s\n", c->n_webhook_urls, c->n_webhook_urls == 1 ? "" : "s");
	if (c->n_webhook_urls)
		print_secret("webhook secret", c->webhook_secret_file, c->webhook_secret_env,
			     c->webhook_secret);
}

static void print_services(const struct config *c)
{
	size_t enabled = 0;

	for (size_t i = 0; i < c->n_services; i++)
		enabled += c->services[i].enabled != 0;
	printf("services       %zu (%zu enabled)\n", c->n_services, enabled);
	printf("  %-20s %5s  %-7s  %-7s  %-6s  %-8s  %s\n", "NAME", "PHASE", "ENABLED", "PREVIEW",
	       "VERIFY", "SUSPEND", "DELETE_URL");
	for (size_t i = 0; i < c->n_services; i++) {
		const struct config_service *s = &c->services[i];
		printf("  %-20s %5d  %-7s  %-7s  %-6s  %-8s  %s\n", s->name, s->phase,
		       s->enabled ? "yes" : "no", s->preview_url ? "yes" : "no",
		       s->verify ? "yes" : "no",
		       s->suspend_url ? (s->restore_url ? "+restore" : "yes") : "no", s->delete_url);
	}
}

int cli_cmd_check_config(struct cli_ctx *ctx, int argc, char **argv)
{
	int warnings = 0, absent;

	if (argc > 1) {
		char safe[96];
		return cli_usage_error(argv[0], "unexpected argument %s",
				       cli_safe(argv[1], safe, sizeof safe));
	}
	if (cli_config(ctx) == NULL)
		return EXIT_USAGE;
	config_load_secrets(ctx->cfg, warn_secret, &warnings);
	print_settings(ctx->cfg);
	print_services(ctx->cfg);
	if ((absent = cli_warn_absent_services(ctx)) < 0)
		return EXIT_USAGE;
	printf("%s: OK%s%s\n", ctx->cfg->path, warnings ? " (with warnings about secrets)" : "",
	       absent ? " (services missing: their tasks wait, see the warnings)" : "");
	return EXIT_OK;
}
