/*
 * fuzz_api.c - libFuzzer harness for the API request router (api_route in
 * scheduler/api_routes.c) and the JSON bodies it reads, without
 * libmicrohttpd's server and without a network. Input layout:
 *   first line   "METHOD PATH" or "METHOD PATH?QUERY"; "{job}" in PATH is
 *                replaced by the id of a job scheduled at start-up
 *   the rest     the request body
 * The request is what scheduler/api.c hands api_route once the body is read
 * and the token checked. The query is given to api_route the way MHD gives
 * it: the harness defines MHD_get_connection_values_n (a definition in the
 * program wins over the shared library's; api_routes.c asks MHD for nothing
 * else), splitting QUERY on '&' and '=' and unescaping it with
 * MHD's own MHD_http_unescape.
 *
 * The store is one SQLite file in a temporary folder under $TMPDIR (else
 * /tmp), opened once, seeded with one job and removed at exit; after a
 * crash it stays, so tests/fuzz/run gives a TMPDIR in memory that it
 * removes whatever happens. It is started afresh every RESET_EVERY runs so
 * that it stays small (so a finding may depend on the runs before it:
 * replay the whole findings folder when one does not reproduce alone).
 *
 * Checked besides the sanitizers: every answer has a known status, never
 * 500 (nothing here makes the database fail), and its body is JSON (or
 * the metrics text) in valid UTF-8.
 */
#include "config/config.h"
#include "scheduler/api_int.h"
#include "store/store.h"
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RESET_EVERY 5000

static const char CONF[] =
	"[scheduler]\ndatabase = %s/api.db\n"
	"[service orders]\ndelete_url = http://127.0.0.1:9/orders/{tenant_id}\n"
	"preview_url = http://127.0.0.1:9/orders/{tenant_id}/preview\n"
	"[service tenant]\ndelete_url = http://127.0.0.1:9/tenants/{tenant_id}\nphase = 2\n";

static struct {
	char dir[512];
	struct config *cfg;
	struct api api;
	char job_id[JOBS_ID_LEN + 1];
	unsigned runs;
} fz;

/* The fake connection: what MHD would have parsed from the request line. */
struct fuzz_conn {
	char *query; /* NULL: no '?' */
};

/* ---- the query, as MHD would give it ---- */

/* Calls it(cls, kind, key, key_size, value, value_size) for each argument
 * of conn's query, the way MHD does: split on '&', then at the first '='
 * (no '=': value NULL), '+' as a space, %XX decoded (so a key or value may
 * hold a NUL: the sizes tell). Returns how many were given; stops early
 * when it returns MHD_NO. As with MHD, the strings stay valid after the
 * call (until the next one: the request is over by then). */
static int fuzz_query_each(struct fuzz_conn *conn, MHD_KeyValueIteratorN it, void *cls)
{
	static char *copy;
	char *arg, *save = NULL, *eq;
	size_t klen, vlen = 0;
	int n = 0;

	free(copy);
	copy = NULL;
	if (conn->query == NULL)
		return 0;
	copy = xstrdup(conn->query);
	for (arg = strtok_r(copy, "&", &save); arg != NULL; arg = strtok_r(NULL, "&", &save)) {
		for (char *p = arg; *p != '\0'; p++)
			*p = *p == '+' ? ' ' : *p;
		eq = strchr(arg, '=');
		if (eq != NULL) {
			*eq++ = '\0';
			vlen = MHD_http_unescape(eq);
		}
		klen = MHD_http_unescape(arg);
		n++;
		if (it != NULL &&
		    it(cls, MHD_GET_ARGUMENT_KIND, arg, klen, eq, eq ? vlen : 0) != MHD_YES)
			break;
	}
	return n;
}

int MHD_get_connection_values_n(struct MHD_Connection *connection, enum MHD_ValueKind kind,
				MHD_KeyValueIteratorN iterator, void *iterator_cls)
{
	if ((kind & MHD_GET_ARGUMENT_KIND) == 0)
		return 0;
	return fuzz_query_each((struct fuzz_conn *)connection, iterator, iterator_cls);
}

/* ---- the store and the config, once per process ---- */

static void fuzz_store_open(void)
{
	struct store_new_job nj = {.tenant_id = "acme-42", .tenant_name = "Acme",
				   .requested_by = "fuzz", .reason = "seed"};
	struct store_service *svcs;
	struct store_config sc = { .path = fz.cfg->database, .flags = STORE_OPEN_CREATE };
	char ids[1][JOBS_ID_LEN + 1], err[512];
	size_t n;
	int created;

	fz.api.deps.store = store_open(&sc, err, sizeof err);
	if (fz.api.deps.store == NULL) {
		fprintf(stderr, "fuzz_api: %s\n", err);
		abort();
	}
	svcs = config_enabled_services(fz.cfg, &n);
	nj.due_at = clock_now_ms() + 3600 * 1000;
	nj.deadline_at = nj.due_at + 3600 * 1000;
	if (store_schedule(fz.api.deps.store, &nj, 1, svcs, n, clock_now_ms(), ids, &created) != 0)
		abort();
	free(svcs);
	memcpy(fz.job_id, ids[0], sizeof fz.job_id);
}

static void fuzz_store_remove(void)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char path[600];

	store_close(fz.api.deps.store);
	fz.api.deps.store = NULL;
	for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
		snprintf(path, sizeof path, "%s%s", fz.cfg->database, suffixes[i]);
		unlink(path);
	}
}

static void fuzz_cleanup(void)
{
	fuzz_store_remove();
	rmdir(fz.dir);
	config_free(fz.cfg);
}

/* Answers a preview at once, as the engine would for a tenant without data. */
static int fuzz_preview(void *ctx, const char *tenant_id, api_preview_done_fn done, void *arg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "tenant_id", tenant_id);
	cJSON_AddObjectToObject(o, "services");
	cJSON_AddNumberToObject(o, "total_records", 0);
	done(arg, o);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct fuzz_memfile mf = {0};
	char conf[2048], err[512];
	int n;

	snprintf(fz.dir, sizeof fz.dir, "%s/tenantdel-fuzz-XXXXXX", tmp ? tmp : "/tmp");
	n = snprintf(conf, sizeof conf, CONF, mkdtemp(fz.dir) ? fz.dir : "/nonexistent");
	if (fuzz_memfile_set(&mf, "fuzz_api.conf", (const uint8_t *)conf, (size_t)n) < 0 ||
	    (fz.cfg = config_load(mf.path, err, sizeof err)) == NULL) {
		fprintf(stderr, "fuzz_api: cannot set up: %s\n", err);
		abort();
	}
	close(mf.fd);
	fz.cfg->certificate_key = xstrdup("fuzz-certificate-key");
	fz.cfg->certificate_key_len = strlen(fz.cfg->certificate_key);
	fz.api.deps.cfg = fz.cfg;
	fz.api.deps.preview = fuzz_preview;
	fuzz_store_open();
	atexit(fuzz_cleanup);
	return 0;
}

/* ---- one request ---- */

/* path with every "{job}" replaced by the seeded job's id. Caller frees. */
static char *fuzz_path(const char *path)
{
	struct buf b;
	const char *at;

	buf_init(&b);
	while ((at = strstr(path, "{job}")) != NULL) {
		buf_append(&b, path, (size_t)(at - path));
		buf_puts(&b, fz.job_id);
		path = at + strlen("{job}");
	}
	buf_puts(&b, path);
	return buf_steal(&b);
}

static void fuzz_check(const struct api_answer *ans)
{
	static const unsigned ok[] = {200, 201, 400, 404, 405, 409, 503};
	cJSON *tree;
	size_t i = 0;

	while (i < ARRAY_LEN(ok) && ok[i] != ans->status)
		i++;
	if (i == ARRAY_LEN(ok) || ans->json == NULL)
		abort();
	if (!fuzz_utf8_valid(ans->json, strlen(ans->json)))
		abort();
	if (ans->content_type != NULL)
		return;
	tree = cJSON_Parse(ans->json);
	if (tree == NULL)
		abort();
	cJSON_Delete(tree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_req r = {0};
	struct api_answer ans = {0};
	struct fuzz_conn conn = {0};
	char *line = fuzz_take_line(&data, &size), *sp = strchr(line, ' '), *q;

	if (sp != NULL) {
		*sp = '\0';
		if ((q = strchr(sp + 1, '?')) != NULL) {
			*q = '\0';
			conn.query = q + 1;
		}
		r.api = &fz.api;
		r.conn = (struct MHD_Connection *)&conn;
		r.method = line;
		r.path = fuzz_path(sp + 1);
		buf_init(&r.body);
		buf_append(&r.body, data, size);
		if (api_route(&fz.api, &r, &ans) == 1) {
			if (!r.ready)
				abort(); /* fuzz_preview answers at once */
			ans.status = r.status;
			ans.json = r.answer;
		}
		fuzz_check(&ans);
		free(ans.json);
		buf_free(&r.body);
		free(r.path);
	}
	free(line);
	if (++fz.runs % RESET_EVERY == 0) {
		fuzz_store_remove();
		fuzz_store_open();
	}
	return 0;
}
