/*
 * secrets.c - reading the secrets a config names, URL templates, and
 * choosing the config file. Secret values are never logged or echoed:
 * messages name the file or variable only.
 */
#include "config/keys.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef void (*config_warn_fn)(void *ctx, const char *msg);

static void secret_warn(config_warn_fn warn, void *ctx, char *msg)
{
	if (warn != NULL)
		warn(ctx, msg);
	free(msg);
}

/*
 * Reads one secret from file (one trailing "\n" or "\r\n" stripped) or
 * from the variable env. Returns the secret (caller frees; *len its length,
 * which may include NUL bytes) or NULL after a warning. Neither named:
 * NULL without warning, *len = 0.
 */
static char *secret_read(const char *what, const char *file, const char *env,
			 size_t *len, config_warn_fn warn, void *ctx)
{
	char *s;

	*len = 0;
	if (file != NULL) {
		s = util_read_file(file, len);
		if (s == NULL) {
			secret_warn(warn, ctx, xasprintf("%s: cannot read secret file %s: %s",
							 what, file, strerror(errno)));
			return NULL;
		}
		if (*len > 0 && s[*len - 1] == '\n')
			s[--*len] = '\0';
		if (*len > 0 && s[*len - 1] == '\r')
			s[--*len] = '\0';
	} else if (env != NULL) {
		const char *v = getenv(env);
		if (v == NULL) {
			secret_warn(warn, ctx, xasprintf("%s: environment variable %s is not set",
							 what, env));
			return NULL;
		}
		s = xstrdup(v);
		*len = strlen(s);
	} else {
		return NULL;
	}
	if (*len == 0) {
		secret_warn(warn, ctx, xasprintf("%s: %s %s is empty", what,
						 file ? "secret file" : "environment variable",
						 file ? file : env));
		free(s);
		return NULL;
	}
	return s;
}

/* Reads one text secret into *dst; 0, or -1 when named but unreadable. */
static int secret_load_text(char **dst, const char *what, const char *file,
			    const char *env, config_warn_fn warn, void *ctx)
{
	size_t len;

	*dst = secret_read(what, file, env, &len, warn, ctx);
	if (*dst != NULL && memchr(*dst, '\0', len) != NULL) {
		secret_warn(warn, ctx, xasprintf("%s: %s %s contains a NUL byte", what,
						 file ? "secret file" : "environment variable",
						 file ? file : env));
		explicit_bzero(*dst, len);
		free(*dst);
		*dst = NULL;
	}
	if (*dst == NULL && (file != NULL || env != NULL))
		return -1;
	return 0;
}

int config_load_secrets(struct config *cfg,
			void (*warn)(void *ctx, const char *msg), void *ctx)
{
	int rc = 0;

	config_free_secrets(cfg);
	rc |= secret_load_text(&cfg->token, "[http] service token", cfg->token_file,
			       cfg->token_env, warn, ctx);
	rc |= secret_load_text(&cfg->api_token, "[api] token", cfg->api_token_file,
			       cfg->api_token_env, warn, ctx);
	rc |= secret_load_text(&cfg->webhook_secret, "[webhook] secret",
			       cfg->webhook_secret_file, cfg->webhook_secret_env, warn, ctx);
	rc |= secret_load_text(&cfg->store_dsn, "[store] dsn", cfg->store_dsn_file,
			       cfg->store_dsn_env, warn, ctx);
	cfg->certificate_key = secret_read("[certificate] key", cfg->certificate_key_file,
					   NULL, &cfg->certificate_key_len, warn, ctx);
	if (cfg->certificate_key_file != NULL && cfg->certificate_key == NULL)
		rc = -1;
	return rc ? -1 : 0;
}

/* Keeps the first warning of config_load_store_dsn. */
struct first_warning {
	char *err;
	size_t errlen;
};

static void keep_warning(void *ctx, const char *msg)
{
	struct first_warning *w = ctx;

	if (w->err[0] == '\0')
		snprintf(w->err, w->errlen, "%s", msg);
}

const char *config_load_store_dsn(struct config *cfg, char *err, size_t errlen)
{
	struct first_warning w = { err, errlen };

	err[0] = '\0';
	if (cfg->store_dsn == NULL)
		secret_load_text(&cfg->store_dsn, "[store] dsn", cfg->store_dsn_file,
				 cfg->store_dsn_env, keep_warning, &w);
	if (cfg->store_dsn == NULL && err[0] == '\0')
		snprintf(err, errlen, "[store] names no dsn_file or dsn_env");
	return cfg->store_dsn;
}

size_t config_list_secrets(const struct config *cfg,
			   struct config_secret out[CONFIG_MAX_SECRETS])
{
	const char *text[] = { cfg->token, cfg->api_token, cfg->webhook_secret, cfg->store_dsn };
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_LEN(text); i++)
		if (text[i] != NULL)
			out[n++] = (struct config_secret){ text[i], strlen(text[i]) };
	if (cfg->certificate_key != NULL)
		out[n++] = (struct config_secret){ cfg->certificate_key, cfg->certificate_key_len };
	return n;
}

const char *config_default_path(const char *explicit_path)
{
	const char *env;

	if (explicit_path != NULL)
		return explicit_path;
	env = getenv("TENANTDEL_CONFIG");
	if (env != NULL && env[0] != '\0')
		return env;
	if (access("tenantdel.conf", F_OK) == 0)
		return "tenantdel.conf";
	return "/etc/tenantdel/tenantdel.conf";
}

static void url_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		    (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_' ||
		    *c == '~') {
			buf_append(b, c, 1);
		} else {
			char esc[3] = {'%', hex[*c >> 4], hex[*c & 15]};
			buf_append(b, esc, 3);
		}
	}
}

char *config_expand_url(const char *tmpl, const char *tenant_id)
{
	return config_expand_var(tmpl, "{tenant_id}", tenant_id);
}

char *config_expand_var(const char *tmpl, const char *var, const char *value)
{
	size_t var_len = strlen(var);
	struct buf b;
	const char *at;

	buf_init(&b);
	while ((at = strstr(tmpl, var)) != NULL) {
		buf_append(&b, tmpl, (size_t)(at - tmpl));
		url_encode(&b, value);
		tmpl = at + var_len;
	}
	buf_puts(&b, tmpl);
	return buf_steal(&b);
}
