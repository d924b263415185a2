/*
 * cmd_proof.c - proof of erasure on the command line (DESIGN 7):
 * certificate, certificate-key, verify-certificate, audit verify, reapply.
 */
#include "cli/cli_int.h"
#include "jobs/certificate.h"
#include "jobs/schedule.h"
#include "jobs/signature.h"
#include "jobs/timefmt.h"
#include "store/store.h"
#include "util/crypto_lib.h"
#include "util/json.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void warn_certificate_key(void *ctx, const char *msg)
{
	if (strncmp(msg, "[certificate]", 13) == 0)
		cli_error("%s", msg);
}

/*
 * Reads the certificate key when [certificate] key_file is set. Returns 1
 * with the key in cfg, 0 when none is configured, -1 (printed) when it is
 * configured but cannot be read.
 */
static int load_certificate_key(struct config *cfg)
{
	if (cfg->certificate_key_file == NULL)
		return 0;
	config_load_secrets(cfg, warn_certificate_key, NULL);
	if (cfg->certificate_key == NULL)
		return -1;
	return 1;
}

/*
 * The certificate of job id, from the store: 0 with *out a new tree, or
 * the exit code after printing why (no such job, not succeeded, a store
 * error).
 */
static int build_certificate(struct cli_ctx *ctx, const char *id, cJSON **out)
{
	struct store *s = ctx->store;
	struct proof_record p;
	int rc = store_proof_read(s, id, &p);

	*out = NULL;
	if (rc == STORE_NOT_FOUND) {
		cli_error("no such job: %s", id);
		return EXIT_NO_JOB;
	}
	if (rc == STORE_OK && !jobs_certificate_issuable(&p.job)) {
		cli_error("job %s is %s, not succeeded: a certificate is only issued for a "
			  "finished deletion", id, jobs_job_state_name(p.job.state));
		jobs_proof_record_clear(&p);
		return EXIT_FAILED;
	}
	if (rc != STORE_OK || store_proof_read_chain(s, &p.chain) != STORE_OK) {
		char what[96];
		snprintf(what, sizeof what, "certificate %s", id);
		jobs_proof_record_clear(&p);
		return cli_store_failed(ctx, what);
	}
	*out = jobs_certificate_build(&p, clock_now_ms(), TENANTDEL_VERSION);
	jobs_proof_record_clear(&p);
	return EXIT_OK;
}

int cli_cmd_certificate(struct cli_ctx *ctx, int argc, char **argv)
{
	struct config *cfg;
	struct store *s;
	cJSON *cert = NULL;
	int keyed, rc;

	if (argc != 2 || argv[1][0] == '-')
		return cli_usage_error("certificate", "expected one JOB");
	if ((rc = cli_check_job_arg(argv[1])) != EXIT_OK)
		return rc;
	if ((cfg = cli_config(ctx)) == NULL)
		return EXIT_USAGE;
	if ((keyed = load_certificate_key(cfg)) < 0)
		return EXIT_USAGE;
	if ((s = cli_store(ctx)) == NULL)
		return EXIT_USAGE;
	if ((rc = build_certificate(ctx, argv[1], &cert)) != EXIT_OK)
		return rc;
	if (jobs_certificate_sign_with(cert, &(struct jobs_signing_keys){
			.hmac_key = keyed ? (const unsigned char *)cfg->certificate_key : NULL,
			.hmac_len = cfg->certificate_key_len,
			.ed25519 = cfg->certificate_signing_key }) < 0) {
		cJSON_Delete(cert);
		cli_error("certificate %s: cannot sign it (%s failed)", argv[1],
			  cfg->certificate_signing_key ? JOBS_SIG_ED25519 : JOBS_SIG_HMAC);
		return EXIT_FAILED;
	}
	cli_print_json(cert);
	return EXIT_OK;
}

/* The certificate text of path ("-": stdin); NULL after printing why (cmd: who asks). */
static char *read_certificate(const char *cmd, const char *path)
{
	struct buf b;
	char chunk[8192];
	ssize_t got;
	char *text;

	if (strcmp(path, "-") != 0) {
		text = util_read_file(path, NULL);
		if (text == NULL)
			cli_error("%s: cannot read %s: %s", cmd, path, strerror(errno));
		return text;
	}
	buf_init(&b);
	while ((got = read(0, chunk, sizeof chunk)) > 0)
		buf_append(&b, chunk, (size_t)got);
	if (got < 0) {
		cli_error("%s: cannot read stdin: %s", cmd, strerror(errno));
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* The certificate in path as a JSON object; NULL after printing why. */
static cJSON *load_certificate(const char *path)
{
	char *text = read_certificate("verify-certificate", path);
	cJSON *cert;

	if (text == NULL)
		return NULL;
	/* Trailing bytes after the object are a change too. */
	cert = json_parse_exact(text);
	free(text);
	if (cert == NULL || !cJSON_IsObject(cert)) {
		cJSON_Delete(cert);
		cli_error("certificate NOT verified: %s is not a JSON certificate", path);
		return NULL;
	}
	return cert;
}

/* The public key in the PEM file path; NULL after printing why. */
static EVP_PKEY *read_public_key(const char *path)
{
	char why[256];
	FILE *f;
	EVP_PKEY *k;

	if (crypto_lib_load(why, sizeof why) < 0) {
		cli_error("verify-certificate: %s", why);
		return NULL;
	}
	if ((f = fopen(path, "r")) == NULL) {
		cli_error("verify-certificate: cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	k = sym_PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL || sym_EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
		cli_error("verify-certificate: %s is not an Ed25519 public key in PEM "
			  "(tenantdel certificate-key --public prints one)", path);
		sym_EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* Checks cert with the configured keys, by the algorithm it names. */
static int check_configured(struct cli_ctx *ctx, const cJSON *cert, char *why, size_t n)
{
	const struct config *cfg = ctx->cfg;
	const char *alg = jobs_certificate_alg(cert);

	/* Unsigned: say so with whichever key there is. */
	if (alg != NULL ? strcmp(alg, JOBS_SIG_ED25519) == 0 : cfg->certificate_key == NULL) {
		if (cfg->certificate_signing_key == NULL) {
			cli_error("verify-certificate: the certificate is signed with Ed25519 and %s "
				  "has no [certificate] signing_key: use --public-key PEM",
				  ctx->config_path);
			return EXIT_USAGE;
		}
		return jobs_certificate_check_ed25519(cert, cfg->certificate_signing_key, why, n)
		       ? EXIT_FAILED : EXIT_OK;
	}
	if (cfg->certificate_key == NULL) {
		cli_error("verify-certificate: no [certificate] key_file in %s: nothing to verify "
			  "a%s signature with", ctx->config_path, alg ? "n HMAC-SHA256" : "");
		return EXIT_USAGE;
	}
	return jobs_certificate_check(cert, (const unsigned char *)cfg->certificate_key,
				      cfg->certificate_key_len, why, n) ? EXIT_FAILED : EXIT_OK;
}

/* FILE [--public-key PEM], in any order; 0 or -1 after the usage error. */
static int parse_verify(int argc, char **argv, const char **file, const char **pem)
{
	*file = *pem = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--public-key") == 0 && i + 1 < argc && *pem == NULL)
			*pem = argv[++i];
		else if (*file == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0))
			*file = argv[i];
		else
			return cli_usage_error("verify-certificate", "expected one FILE (- for stdin)"
					       " and optionally --public-key PEM"), -1;
	}
	if (*file == NULL)
		return cli_usage_error("verify-certificate", "expected one FILE (- for stdin)"), -1;
	return 0;
}

int cli_cmd_verify_certificate(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *file, *pem;
	EVP_PKEY *pub = NULL;
	cJSON *cert = NULL;
	char why[200];
	int rc = EXIT_USAGE;

	if (parse_verify(argc, argv, &file, &pem) < 0)
		return EXIT_USAGE;
	/* With a public key nothing else is needed: no config, no secret. */
	if (pem != NULL ? (pub = read_public_key(pem)) == NULL
			: cli_config(ctx) == NULL || load_certificate_key(ctx->cfg) < 0)
		return EXIT_USAGE;
	if (pem == NULL && ctx->cfg->certificate_key_file == NULL &&
	    ctx->cfg->certificate_signing_key == NULL) {
		cli_error("verify-certificate: no [certificate] key_file or signing_key in %s: "
			  "nothing to verify a signature with", ctx->config_path);
		return EXIT_USAGE;
	}
	if ((cert = load_certificate(file)) == NULL) {
		rc = EXIT_FAILED;
	} else if (pub != NULL) {
		rc = jobs_certificate_check_ed25519(cert, pub, why, sizeof why) ? EXIT_FAILED
										 : EXIT_OK;
	} else {
		rc = check_configured(ctx, cert, why, sizeof why);
	}
	if (cert != NULL && rc == EXIT_FAILED)
		cli_error("certificate NOT verified: %s", why);
	else if (rc == EXIT_OK)
		printf("certificate verified\n");
	cJSON_Delete(cert);
	if (pub != NULL)
		sym_EVP_PKEY_free(pub);
	return rc;
}

int cli_cmd_certificate_key(struct cli_ctx *ctx, int argc, char **argv)
{
	struct config *cfg;

	if (argc != 2 || strcmp(argv[1], "--public") != 0)
		return cli_usage_error("certificate-key", "expected --public (the private key is "
				       "never printed)");
	if ((cfg = cli_config(ctx)) == NULL)
		return EXIT_USAGE;
	if (cfg->certificate_signing_key == NULL) {
		cli_error("certificate-key: no [certificate] signing_key in %s", ctx->config_path);
		return EXIT_USAGE;
	}
	if (sym_PEM_write_PUBKEY(stdout, cfg->certificate_signing_key) != 1) {
		cli_error("certificate-key: cannot write the public key");
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/* The whole chain; EXIT_OK when it verifies, else the exit code after saying why. */
static int audit_chain(struct cli_ctx *ctx, struct store *s)
{
	int64_t first_bad = 0, count = 0;
	char head[65], why[200];
	const char *reason = why;
	int intact = 0;

	if (store_check_integrity(s, &intact, why, sizeof why) != STORE_OK)
		return cli_store_failed(ctx, "audit verify");
	if (!intact) {
		printf("integrity check failed: %s: %s\n", cli_store_name(ctx), why);
		return EXIT_FAILED;
	}
	if (store_events_verify(s, &first_bad, why, sizeof why, &count, head) != STORE_OK)
		return cli_store_failed(ctx, "audit verify");
	if (first_bad == 0) {
		printf("chain verified: %lld events, head %s\n", (long long)count,
		       count > 0 ? head : "(none)");
		return EXIT_OK;
	}
	/* why reads "event N: ..."; the id is already in front. */
	if (strncmp(why, "event ", 6) == 0 && strchr(why, ':') != NULL)
		reason = strchr(why, ':') + 2;
	printf("chain broken at event %lld: %s\n", (long long)first_bad, reason);
	return EXIT_FAILED;
}

/* The head the certificate in path names into *h; 0, or -1 after saying why not. */
static int read_head(const char *path, struct proof_head *h)
{
	char *text = read_certificate("audit verify", path);
	char why[200] = "not a JSON certificate";
	cJSON *cert;
	int rc = -1;

	if (text == NULL)
		return -1;
	cert = json_parse_exact(text);
	free(text);
	if (cJSON_IsObject(cert))
		rc = jobs_certificate_head(cert, h, why, sizeof why);
	if (rc < 0)
		printf("certificate %s cannot be checked: %s\n", path, why);
	cJSON_Delete(cert);
	return rc;
}

/* Every certificate's chain head must still be in the chain (DESIGN 7). */
static int audit_certificates(struct cli_ctx *ctx, struct store *s, char **files, size_t n)
{
	struct proof_head *heads = xcalloc(n, sizeof *heads);
	int rc = EXIT_OK, *ok = xcalloc(n, sizeof *ok);

	for (size_t i = 0; i < n; i++)
		ok[i] = read_head(files[i], &heads[i]) == 0;
	if (store_proof_find_heads(s, heads, n) != STORE_OK) {
		free(heads);
		free(ok);
		return cli_store_failed(ctx, "audit verify --certificates");
	}
	for (size_t i = 0; i < n; i++) {
		const struct proof_head *h = &heads[i];
		int missing = h->state == PROOF_HEAD_MISSING;
		if (ok[i] && h->state == PROOF_HEAD_FOUND)
			printf("certificate %s: chain head event %lld still in the chain\n", files[i],
			       (long long)h->id);
		else if (ok[i])
			printf("certificate %s: chain head event %lld %s (%s): the chain was %s after "
			       "this certificate was issued\n", files[i], (long long)h->id,
			       missing ? "is missing" : "has another hash", h->hash,
			       missing ? "cut short" : "rewritten");
		if (!ok[i] || h->state != PROOF_HEAD_FOUND)
			rc = EXIT_FAILED;
	}
	free(heads);
	free(ok);
	return rc;
}

int cli_cmd_audit(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store *s;
	int rc, crc;

	if (argc < 2 || strcmp(argv[1], "verify") != 0 ||
	    (argc > 2 && (strcmp(argv[2], "--certificates") != 0 || argc == 3)))
		return cli_usage_error("audit", "usage: audit verify [--certificates FILE...]");
	if (cli_config(ctx) == NULL)
		return EXIT_USAGE;
	if ((s = cli_store(ctx)) == NULL)
		return EXIT_USAGE;
	rc = audit_chain(ctx, s);
	if (argc <= 3 || rc == EXIT_USAGE)
		return rc;
	crc = audit_certificates(ctx, s, argv + 3, (size_t)argc - 3);
	return rc != EXIT_OK ? rc : crc;
}

struct reapply_args {
	const char *service, *since, *by, *reason;
};

static int parse_reapply(int argc, char **argv, struct reapply_args *a)
{
	memset(a, 0, sizeof *a);
	for (int i = 1; i < argc; i++) {
		const char **dst = NULL;
		if (strcmp(argv[i], "--service") == 0)
			dst = &a->service;
		else if (strcmp(argv[i], "--since") == 0)
			dst = &a->since;
		else if (strcmp(argv[i], "--by") == 0)
			dst = &a->by;
		else if (strcmp(argv[i], "--reason") == 0)
			dst = &a->reason;
		if (dst == NULL || i + 1 == argc) {
			char safe[96];
			cli_usage_error("reapply", "%s %s",
					dst ? "option needs a value:" : "unexpected argument",
					cli_safe(argv[i], safe, sizeof safe));
			return -1;
		}
		*dst = argv[++i];
	}
	if (a->service == NULL || a->since == NULL) {
		cli_usage_error("reapply", "--service NAME and --since TIME are required");
		return -1;
	}
	if (cli_check_text("reapply", "--by", a->by) != EXIT_OK ||
	    cli_check_text("reapply", "--reason", a->reason) != EXIT_OK)
		return -1;
	return 0;
}

/* TIME: RFC 3339, or a duration meaning "that long before now". */
static int parse_since(const char *text, int64_t now, int64_t *since)
{
	char safe[96];
	int64_t d;

	if (timefmt_parse_time(text, since) == 0)
		return 0;
	if (timefmt_parse_duration(text, &d) == 0) {
		if (timefmt_add_duration(now, -d, since) == 0)
			return 0;
		cli_error("reapply: --since %s reaches before 1970", cli_safe(text, safe, sizeof safe));
		return -1;
	}
	cli_error("reapply: --since %s: not an RFC 3339 time (1970 .. 9999) nor a duration of at most"
		  " 100 years (e.g. 7d)", cli_safe(text, safe, sizeof safe));
	return -1;
}

/* A reapply job is due at once, its deadline the config's after that. */
static int reapply_times(const struct config *cfg, struct store_reapply_req *r)
{
	struct jobs_schedule_req req = { .mode = JOBS_DUE_NOW, .retention_ms = cfg->retention_ms,
					 .deadline_ms = cfg->deadline_ms };
	char err[200];
	int64_t due;

	if (jobs_schedule_times(&req, r->now, &due, &r->deadline_at, err, sizeof err) == 0)
		return 0;
	cli_error("reapply: %s; nothing was scheduled", err);
	return -1;
}

int cli_cmd_reapply(struct cli_ctx *ctx, int argc, char **argv)
{
	struct reapply_args a;
	struct store_reapply_req r = { 0 };
	struct store_reapply_item *items = NULL;
	const struct config_service *svc;
	struct config *cfg;
	struct store *s;
	char ts[TIMEFMT_TIME_LEN];
	char default_reason[64 + CONFIG_NAME_MAX];
	size_t n = 0, created = 0;

	if (parse_reapply(argc, argv, &a) < 0)
		return EXIT_USAGE;
	if ((cfg = cli_config(ctx)) == NULL)
		return EXIT_USAGE;
	svc = config_find_service(cfg, a.service);
	if (svc == NULL || !svc->enabled) {
		char safe[96];
		cli_error("reapply: %s service %s in %s", svc ? "disabled" : "no",
			  cli_safe(a.service, safe, sizeof safe), ctx->config_path);
		return EXIT_USAGE;
	}
	r.now = clock_now_ms();
	if (parse_since(a.since, r.now, &r.since) < 0)
		return EXIT_USAGE;
	r.service = svc->name;
	r.phase = svc->phase;
	r.by = a.by ? a.by : cli_default_actor();
	if (a.reason == NULL)
		snprintf(default_reason, sizeof default_reason,
			 "reapply after a backup restore of %s", svc->name);
	r.reason = a.reason ? a.reason : default_reason;
	if (reapply_times(cfg, &r) < 0)
		return EXIT_USAGE;
	if ((s = cli_store(ctx)) == NULL)
		return EXIT_USAGE;
	if (store_reapply(s, &r, &items, &n) != STORE_OK)
		return cli_store_failed(ctx, "reapply");
	for (size_t i = 0; i < n; i++) {
		if (items[i].created) {
			printf("%s\n", items[i].job_id);
			created++;
		}
	}
	timefmt_format_time(r.since, ts);
	fprintf(stderr, "reapply %s: %zu job%s scheduled for tenants purged since %s"
		" (%zu already pending)\n", r.service, created, created == 1 ? "" : "s", ts,
		n - created);
	store_reapply_items_free(items, n);
	return EXIT_OK;
}
