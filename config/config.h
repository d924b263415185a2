/*
 * config.h - tenantdel.conf parsed and validated into plain structs.
 * This module does the only config I/O (reading the file and the secrets).
 */
#ifndef TENANTDEL_CONFIG_H
#define TENANTDEL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_NAME_MAX 64

/* Shortest token [api] tokens_file accepts. */
#define CONFIG_CALLER_TOKEN_MIN 32
#define CONFIG_TOKEN_DIGEST 32   /* sha256 */

/* One caller of the API by name ([api] tokens_file, DESIGN 10). */
struct config_api_caller {
	char name[CONFIG_NAME_MAX + 1];   /* [A-Za-z0-9._@+-]{1,64} */
	unsigned char digest[CONFIG_TOKEN_DIGEST]; /* sha256 of its token; the token
						      itself is not kept */
};

struct config_service {
	char *name;           /* [service NAME]: [A-Za-z0-9_-]{1,64} */
	char *delete_url;     /* required, contains {tenant_id} */
	char *preview_url;    /* optional (NULL) */
	char *suspend_url;    /* optional (NULL) */
	char *restore_url;    /* optional (NULL) */
	int phase;            /* >= 1, default 1 */
	int64_t timeout_ms;   /* default [http] timeout */
	int max_in_flight;    /* default 8 */
	int verify;           /* default 1 when preview_url is set, else 0 */
	int on_404_fail;      /* on_404 = fail -> 1; success (default) -> 0 */
	int enabled;          /* default 1 */
	int line;             /* line of the section header, for messages */
};

struct config {
	char *path;           /* the config file as given */
	char *dir;            /* its folder (absolute) */

	/* [scheduler] */
	char *database;       /* resolved: relative paths against dir */
	int64_t retention_ms;       /* 30d */
	int64_t deadline_ms;        /* 7d after due_at */
	int max_in_flight;          /* 64 */
	int64_t shutdown_grace_ms;  /* 30s */

	/* [store] */
	const char *store_backend;  /* "sqlite" (default) or "postgresql" */
	char *store_dsn_file;       /* postgresql: one of dsn_file / dsn_env */
	char *store_dsn_env;
	char *store_node;           /* postgresql: this host's name (NULL: the host name) */
	char *store_dsn;            /* the connection string, a secret: NULL until
				     * config_load_secrets or config_load_store_dsn */

	/* [retry] */
	int64_t base_delay_ms;      /* 5s */
	int64_t max_delay_ms;       /* 1h */
	int max_attempts;           /* 20 */
	int64_t give_up_after_ms;   /* 7d */
	int breaker_failures;       /* 10 */
	int64_t breaker_cooloff_ms; /* 30s */

	/* [http] */
	int64_t timeout_ms;         /* 30s */
	int64_t connect_timeout_ms; /* 5s */
	char *token_file;           /* one of token_file / token_env (or neither) */
	char *token_env;
	char *ca_file, *client_cert, *client_key; /* NULL when empty */
	char *token;                /* the secret, NULL until config_load_secrets */

	/* [api] (listen NULL: no API) */
	char *api_listen;           /* as written, e.g. "127.0.0.1:8470" */
	char *api_host;             /* "127.0.0.1" */
	int api_port;               /* 0 allowed: pick a free port */
	char *api_token_file, *api_token_env;
	char *api_token;            /* secret */
	char *api_tokens_file;      /* callers by name, read by config_load */
	struct config_api_caller *api_callers;
	size_t n_api_callers;       /* > 0 when api_tokens_file is set */

	/* [webhook] */
	char **webhook_urls;
	size_t n_webhook_urls;
	char *webhook_secret_file, *webhook_secret_env;
	char *webhook_secret;       /* secret */

	/* [certificate] */
	char *certificate_key_file;
	char *certificate_key;      /* secret */
	size_t certificate_key_len;
	char *certificate_signing_key_file;
	struct evp_pkey_st *certificate_signing_key; /* Ed25519 (OpenSSL's EVP_PKEY),
							read by config_load */

	/* [policy] */
	int approval_required;    /* approval = required: four eyes before a job starts */

	/* [subject] (DESIGN 9): data-subject erasure; configured 0: absent,
	 * erase-user refused. URL templates as written. */
	struct config_subject {
		int configured;
		char *tenants_url;          /* {user_id}: the user's tenants and roles */
		char *admins_url;           /* {tenant_id}: a tenant's owners and admins */
		char *memberships_url;      /* {user_id}: DELETE the user's memberships */
		char *user_url;             /* {user_id}: DELETE the user's own data */
		char *memberships_preview_url; /* optional: verifies memberships_url */
		char *user_preview_url;     /* optional: verifies user_url */
		int64_t timeout_ms;         /* default [http] timeout */
	} subject;

	/* [service NAME] in file order */
	struct config_service *services;
	size_t n_services;
	void *by_name;              /* tsearch tree for config_find_service */
};

/*
 * Reads and validates path. On success returns the config (free with
 * config_free). On any error returns NULL and writes one line
 * "FILE:LINE: message" (or "FILE: message") into err; the first error in
 * the file wins. Secrets are not read here.
 *
 * Beyond the key-by-key checks: every relative file name (database,
 * token/secret/key files, ca_file, client_cert, client_key) is resolved
 * against dir; a config without any [service NAME] is refused; [api] listen
 * needs token_file or token_env, and [webhook] url needs secret_file or
 * secret_env; a [scheduler]/[http]/... section may appear only once; the
 * TLS files of [http] must be readable PEM (ca_file at least one
 * certificate, client_cert a certificate, client_key an unencrypted private
 * key matching client_cert), refused at their key's line otherwise; so is
 * a [certificate] signing_key that is not an unencrypted Ed25519 private
 * key in PEM (it is read here, not with the secrets), and an [api]
 * tokens_file that cannot be read or holds a bad line (refused as
 * "TOKENS_FILE:LINE: message": a duplicate name or token, a bad name, a
 * token shorter than CONFIG_CALLER_TOKEN_MIN). Lines
 * are limited to what the installed libinih reads (197 characters with
 * Debian's build); a longer line is an error, never truncated silently.
 */
struct config *config_load(const char *path, char *err, size_t errlen);

void config_free(struct config *cfg);   /* NULL-safe */

/*
 * Reads every secret the config names (service token, API token, webhook
 * secret, certificate key): files with one trailing "\n" or "\r\n"
 * stripped (the certificate key too; it may otherwise be binary, hence
 * certificate_key_len), or environment variables taken as they are. For each
 * secret that is named but cannot be read, is empty, or (text secrets) holds
 * a NUL byte, calls warn(ctx, message) with a line that names the file or
 * variable (never its content) and leaves that secret NULL. warn may be NULL.
 * Secrets loaded before are wiped first, so it may be called again. Returns
 * 0 when all named secrets were read, -1 otherwise. config_free wipes them.
 */
int config_load_secrets(struct config *cfg,
			void (*warn)(void *ctx, const char *msg), void *ctx);

/*
 * The store's connection string ([store] dsn_file or dsn_env), read once
 * into cfg->store_dsn (config_free wipes it). Returns it, or NULL with err
 * = a line naming the file or variable (never the content).
 */
const char *config_load_store_dsn(struct config *cfg, char *err, size_t errlen);

/* A secret as loaded: data (not NUL-terminated for the certificate key). */
struct config_secret {
	const char *data;
	size_t len;
};

#define CONFIG_MAX_SECRETS 5

/*
 * Fills out with every secret config_load_secrets read (service token, API
 * token, webhook secret, certificate key), so that they can be kept out of
 * text that comes from outside. Pointers into cfg, valid until its secrets
 * are freed or reloaded. Returns how many. Can't fail.
 */
size_t config_list_secrets(const struct config *cfg,
			   struct config_secret out[CONFIG_MAX_SECRETS]);

/* The service called name, or NULL. O(log n) in the number of services. */
const struct config_service *config_find_service(const struct config *cfg,
						 const char *name);

/*
 * The enabled services of cfg as the store takes them (store/store.h:
 * name, phase, has_suspend, has_restore), in config order; names point
 * into cfg. Returns a malloc'ed array the caller frees; *n may be 0.
 * Can't fail.
 */
struct store_service;
struct store_service *config_enabled_services(const struct config *cfg, size_t *n);

/*
 * Picks the config path: explicit (-c) if not NULL, else $TENANTDEL_CONFIG,
 * else ./tenantdel.conf if it exists, else /etc/tenantdel/tenantdel.conf.
 * Returns a static or environment string; never NULL.
 */
const char *config_default_path(const char *explicit_path);

/*
 * Expands a URL template: every "{tenant_id}" replaced by the percent-encoded
 * tenant id (RFC 3986 unreserved characters kept). Caller frees.
 */
char *config_expand_url(const char *tmpl, const char *tenant_id);

/* The same for any placeholder var ("{user_id}"). Caller frees. */
char *config_expand_var(const char *tmpl, const char *var, const char *value);

#endif
