/*
 * schedule_from.c - `schedule --from FILE` (declared in cli_int.h): the
 * tenant ids go to the store in chunks (store_schedule_feed), all in one
 * transaction, and the job ids come back through a spool file, so memory
 * stays bounded whatever the file's size.
 *
 * A file is read twice: the whole of it is checked first (an invalid id
 * anywhere: nothing is scheduled, the store not even opened), then read
 * again chunk by chunk into the transaction. Standard input can't be read
 * twice; rather than copying it to disk first, its ids are checked as they
 * go into the open transaction, and the first invalid one rolls it back:
 * the same all or nothing, without writing the input twice. (A file that
 * changed between the two reads is checked the second time as well.)
 */
#include "cli/cli_int.h"
#include "jobs/document.h"
#include "store/store.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FROM_CHUNK 10000

/* One schedule --from: the ids read, the chunk given to the store, and the
 * job ids it answered (the spool: printed once committed). */
struct from_feed {
	struct cli_id_reader rd;
	int rereadable; /* a regular file, not stdin */
	const struct store_new_job *tmpl;
	struct store_new_job *jobs;
	char (*tenants)[JOBS_TENANT_ID_MAX + 1];
	FILE *spool;
	int invalid; /* the input was refused: err says why */
	char err[300];
};

static int feed_next(void *ctx, const struct store_new_job **jobs, size_t *n)
{
	struct from_feed *f = ctx;
	const char *id;
	size_t k = 0;
	int got = 1;

	while (k < FROM_CHUNK && (got = cli_id_next(&f->rd, &id, f->err, sizeof f->err)) == 1) {
		snprintf(f->tenants[k], sizeof f->tenants[k], "%s", id);
		f->jobs[k] = *f->tmpl;
		f->jobs[k].tenant_id = f->tenants[k];
		k++;
	}
	if (got < 0) {
		f->invalid = 1;
		return -1;
	}
	*jobs = f->jobs;
	*n = k;
	return 0;
}

static int feed_stored(void *ctx, size_t n, char (*ids)[JOBS_ID_LEN + 1], const int *created)
{
	struct from_feed *f = ctx;

	(void)created;
	for (size_t i = 0; i < n; i++)
		if (fprintf(f->spool, "%s\n", ids[i]) < 0)
			return -1;
	return 0;
}

static int feed_rewind(void *ctx)
{
	struct from_feed *f = ctx;

	if (!f->rereadable || fseek(f->rd.f, 0, SEEK_SET) != 0)
		return -1;
	cli_id_reader_init(&f->rd, f->rd.f, f->rd.name);
	if (fflush(f->spool) != 0 || ftruncate(fileno(f->spool), 0) != 0)
		return -1;
	rewind(f->spool);
	return 0;
}

/* The whole file checked before anything is stored; EXIT_OK or EXIT_USAGE. */
static int check_all(struct from_feed *f)
{
	const char *id;
	int got;

	while ((got = cli_id_next(&f->rd, &id, f->err, sizeof f->err)) == 1)
		;
	if (got < 0) {
		cli_error("schedule: %s; nothing was scheduled", f->err);
		return EXIT_USAGE;
	}
	if (fseek(f->rd.f, 0, SEEK_SET) != 0) {
		cli_error("schedule: cannot read %s again: %s", f->rd.name, strerror(errno));
		return EXIT_USAGE;
	}
	cli_id_reader_init(&f->rd, f->rd.f, f->rd.name);
	return EXIT_OK;
}

/* Bulk --json: an array of the spooled jobs (the list shape), one a line. */
static int print_jobs_json(struct cli_ctx *ctx, FILE *spool)
{
	char id[JOBS_ID_LEN + 2];
	size_t i = 0;

	fputs("[", stdout);
	while (fgets(id, sizeof id, spool) != NULL) {
		struct job_record j;
		char *text;
		cJSON *o;
		int rc;

		id[strcspn(id, "\n")] = '\0';
		if ((rc = store_job_get(ctx->store, id, &j)) != STORE_OK)
			return cli_job_rc_exit(ctx, rc, id, "read", NULL);
		o = jobs_render_job(&j, NULL, 0);
		text = cJSON_PrintUnformatted(o);
		printf("%s\n%s", i++ ? "," : "", text);
		free(text);
		cJSON_Delete(o);
		jobs_job_record_clear(&j);
	}
	fputs("\n]\n", stdout);
	return EXIT_OK;
}

/* The job ids, once committed: as they are, or as --json. */
static int print_spool(struct cli_ctx *ctx, FILE *spool, int json)
{
	char buf[8192];
	size_t got;

	rewind(spool);
	if (json)
		return print_jobs_json(ctx, spool);
	while ((got = fread(buf, 1, sizeof buf, spool)) > 0)
		fwrite(buf, 1, got, stdout);
	return EXIT_OK;
}

/* Feeds the store from f (positioned at its start); the exit code. */
static int feed_store(struct cli_ctx *ctx, struct from_feed *f, int json, int64_t now)
{
	struct store_job_feed feed = { feed_next, feed_stored, feed_rewind, f };
	struct store_service *svcs;
	size_t n_svcs;
	int rc;

	if ((f->spool = tmpfile()) == NULL) {
		cli_error("schedule: cannot make a temporary file: %s", strerror(errno));
		return EXIT_FAILED;
	}
	f->jobs = xcalloc(FROM_CHUNK, sizeof *f->jobs);
	f->tenants = xcalloc(FROM_CHUNK, sizeof *f->tenants);
	svcs = config_enabled_services(ctx->cfg, &n_svcs);
	rc = store_schedule_feed(ctx->store, &feed, svcs, n_svcs, now);
	free(svcs);
	if (f->invalid) {
		cli_error("schedule: %s; nothing was scheduled", f->err);
		rc = EXIT_USAGE;
	} else if (rc != STORE_OK) {
		rc = cli_store_failed(ctx, "schedule failed, nothing was scheduled");
	} else {
		rc = print_spool(ctx, f->spool, json);
	}
	fclose(f->spool);
	free(f->jobs);
	free(f->tenants);
	return rc;
}

/* See cli_int.h. */
int cli_schedule_from(struct cli_ctx *ctx, const char *path, const struct store_new_job *tmpl,
		      int json, int64_t now)
{
	struct from_feed f = { .tmpl = tmpl };
	int is_stdin = strcmp(path, "-") == 0;
	FILE *in = is_stdin ? stdin : fopen(path, "r");
	int rc = EXIT_OK;

	if (in == NULL) {
		cli_error("schedule: cannot read %s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	cli_id_reader_init(&f.rd, in, is_stdin ? "stdin" : path);
	f.rereadable = !is_stdin;
	if (f.rereadable)
		rc = check_all(&f);
	if (rc == EXIT_OK && cli_store(ctx) == NULL)
		rc = EXIT_USAGE;
	if (rc == EXIT_OK)
		rc = feed_store(ctx, &f, json, now);
	if (!is_stdin)
		fclose(in);
	return rc;
}
