/*
 * cmd_migrate.c - `tenantdel migrate-store --to NEW.conf` (DESIGN 8): copies
 * this config's whole store into the empty store of NEW.conf (any backend
 * to any backend, typically SQLite to PostgreSQL) with store_copy, which
 * checks the chain there before it commits: the copy is whole or absent.
 *
 * Exit codes: 0 copied; 1 the copy failed (nothing copied); 2 usage, either
 * config, a store that cannot be opened, or NEW.conf naming this same
 * store; 4 the store of NEW.conf is not empty (nothing copied).
 */
#include "cli/cli.h"
#include "cli/cli_int.h"
#include "util/util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define PROGRESS_EVERY_MS 1000

/* The progress line on stderr: at most one a second, so short copies
 * print none. */
struct progress {
	int64_t last;
};

static int on_progress(void *ctx, const char *table, int64_t done, int64_t total)
{
	struct progress *p = ctx;
	int64_t now = clock_mono_ms();

	if (now - p->last >= PROGRESS_EVERY_MS) {
		fprintf(stderr, "tenantdel: migrate-store: %s: %lld of %lld rows copied\n", table,
			(long long)done, (long long)total);
		p->last = now;
	}
	return 0;
}

static int parse_args(int argc, char **argv, const char **to)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*to = NULL;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c != 't')
			return cli_option_error(argv[0], c, argv);
		*to = optarg;
	}
	if (optind < argc) {
		char safe[96];
		return cli_usage_error(argv[0], "unexpected argument %s",
				       cli_safe(argv[optind], safe, sizeof safe));
	}
	if (*to == NULL || (*to)[0] == '\0')
		return cli_usage_error(argv[0], "--to NEW.conf is required: the config of the "
					       "store to copy into");
	return EXIT_OK;
}

/* Opens the store of the config at path (created when it does not exist).
 * NULL after printing why; *cfg is the caller's (config_free). */
static struct store *open_target(const char *path, struct config **cfg)
{
	char err[1024];
	struct store *s;

	err[0] = '\0';
	if ((*cfg = config_load(path, err, sizeof err)) == NULL) {
		cli_error("migrate-store: %s", err[0] ? err : "cannot load the config");
		return NULL;
	}
	s = cli_store_open(*cfg, STORE_OPEN_CREATE | STORE_OPEN_BRIEF, err, sizeof err);
	if (s == NULL)
		cli_error("migrate-store: the store of %s: %s", path, err);
	return s;
}

/* Reports store_copy's rc; the exit code. */
static int copy_failed(int rc, struct store *from, struct store *to, int errwhich,
		       const char *to_path)
{
	if (rc == STORE_REFUSED) {
		cli_error("migrate-store: the store of %s is %s: nothing copied (it must be "
			  "new or empty)", to_path, store_last_error(to));
		return EXIT_REFUSED;
	}
	cli_error("migrate-store: the copy failed, nothing was copied: %s: %s",
		  errwhich ? "the store copied into" : "the store copied from",
		  store_last_error(errwhich ? to : from));
	return EXIT_FAILED;
}

int cli_cmd_migrate_store(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store_copy_result r;
	struct progress p = { .last = clock_mono_ms() };
	struct config *to_cfg = NULL;
	struct store *from, *to = NULL;
	const char *to_path;
	int rc, errwhich = 0;

	if ((rc = parse_args(argc, argv, &to_path)) != EXIT_OK)
		return rc;
	if (cli_config(ctx) == NULL || (from = cli_store(ctx)) == NULL ||
	    (to = open_target(to_path, &to_cfg)) == NULL) {
		config_free(to_cfg);
		return EXIT_USAGE;
	}
	if ((rc = store_same(from, to)) != 0) {
		if (rc > 0)
			cli_error("migrate-store: %s names this same store: nothing to copy",
				  to_path);
		else
			cli_error("migrate-store: %s", store_last_error(from));
		rc = rc > 0 ? EXIT_USAGE : EXIT_FAILED;
		goto done;
	}
	rc = store_copy(from, to, on_progress, &p, &r, &errwhich);
	if (rc == STORE_OK) {
		printf("copied %lld jobs, %lld tasks, %lld events (%lld rows in all) into the "
		       "store of %s\n", (long long)r.jobs, (long long)r.tasks, (long long)r.events,
		       (long long)r.rows, to_path);
		printf("chain verified there: %lld events, head %s\n", (long long)r.events,
		       r.head[0] ? r.head : "(none)");
	}
	rc = rc == STORE_OK ? EXIT_OK : copy_failed(rc, from, to, errwhich, to_path);
done:
	store_close(to);
	config_free(to_cfg);
	return rc;
}
