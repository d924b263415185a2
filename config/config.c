/*
 * config.c - reads tenantdel.conf with libinih and validates it.
 *
 * inih is fed through our own line reader (ini_parse_stream) so that we
 * know the line number of every key and every section header, whatever
 * options the installed libinih was built with: inih only calls the
 * handler for keys, and an empty or repeated section would otherwise be
 * invisible. Keys are table-driven: one key_spec per key, with its setter
 * and where in the struct it goes. The first error wins; parsing goes on
 * quietly after it so that inih's own syntax errors can still be compared
 * by line.
 */
#include "config/config.h"
#include "config/keys.h"
#include "util/crypto_lib.h"
#include "util/util.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An entry of cfg->by_name: a service's name and where it is in services. */
struct service_key {
	const char *name;
	size_t index;
};

static int service_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct service_key *)a)->name,
		      ((const struct service_key *)b)->name);
}

static const char *const section_names[N_GLOBAL_SECTIONS] = {
	"scheduler", "retry", "http", "api", "webhook", "certificate", "store",
	"policy", "subject",
};

int config_fail_at(struct config_parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (p->err_set)
		return -1;
	p->err_set = 1;
	p->err_line = line;
	if (p->err == NULL || p->errlen == 0)
		return -1;
	if (line > 0)
		n = snprintf(p->err, p->errlen, "%s:%d: ", p->path, line);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->path);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The folder holding path, absolute. Never NULL; caller frees. */
static char *config_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *real;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t)(slash - path));
	real = realpath(dir, NULL);
	if (real != NULL) {
		free(dir);
		return real;
	}
	if (dir[0] != '/') {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof cwd) != NULL) {
			char *abs = xasprintf("%s/%s", cwd, dir);
			free(dir);
			return abs;
		}
	}
	return dir;
}

char *config_resolve_path(const char *dir, const char *value)
{
	size_t dl = strlen(dir);

	if (value[0] == '/')
		return xstrdup(value);
	if (dl > 0 && dir[dl - 1] == '/')
		return xasprintf("%s%s", dir, value);
	return xasprintf("%s/%s", dir, value);
}

static int config_valid_service_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CONFIG_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Starts a [service NAME] section at the current line. */
static void config_begin_service(struct config_parser *p, const char *name)
{
	struct config *cfg = p->cfg;
	const struct config_service *prev;
	struct config_service *s;
	struct service_key *key;

	p->sec = SEC_SKIP;
	if (!config_valid_service_name(name)) {
		config_fail_at(p, p->line, "invalid service name '%.80s' "
			       "(1 to %d of A-Z a-z 0-9 _ -)", name, CONFIG_NAME_MAX);
		return;
	}
	prev = config_find_service(cfg, name);
	if (prev != NULL) {
		config_fail_at(p, p->line, "duplicate service '%s' (first at line %d)",
			       name, prev->line);
		return;
	}
	cfg->services = xreserve(cfg->services, &p->services_cap, cfg->n_services + 1,
				 sizeof *cfg->services);
	p->svc_lines = xreserve(p->svc_lines, &p->svc_lines_cap, cfg->n_services + 1,
				sizeof *p->svc_lines);
	s = &cfg->services[cfg->n_services];
	memset(s, 0, sizeof *s);
	memset(&p->svc_lines[cfg->n_services], 0, sizeof *p->svc_lines);
	s->name = xstrdup(name);
	key = xmalloc(sizeof *key);
	key->name = s->name;
	key->index = cfg->n_services;
	if (tsearch(key, &cfg->by_name, service_key_cmp) == NULL) {
		free(key);
		config_fail_at(p, p->line, "out of memory reading [service %s]", name);
	}
	s->phase = 1;
	s->max_in_flight = 8;
	s->verify = -1;          /* decided once preview_url is known */
	s->enabled = 1;
	s->line = p->line;
	cfg->n_services++;
	p->sec = SEC_SERVICE;
	snprintf(p->label, sizeof p->label, "[service %s]", name);
}

/* Starts a global section called name at the current line. */
static void config_begin_global(struct config_parser *p, const char *name)
{
	p->sec = SEC_SKIP;
	for (int i = 0; i < N_GLOBAL_SECTIONS; i++) {
		if (strcmp(name, section_names[i]) != 0)
			continue;
		if (p->sec_line[i] != 0) {
			config_fail_at(p, p->line, "duplicate section [%s] (first at line %d)",
				       name, p->sec_line[i]);
			return;
		}
		p->sec_line[i] = p->line;
		p->sec = i;
		snprintf(p->label, sizeof p->label, "[%s]", name);
		return;
	}
	config_fail_at(p, p->line, "unknown section [%.80s]", name);
}

static char *config_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
			   end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/*
 * Sees a "[...]" line before inih does. A header without ']' is left to
 * inih, which reports it as a syntax error on this line.
 */
static void config_section_line(struct config_parser *p, const char *line)
{
	const char *close = strchr(line, ']');
	char *inner, *name, *rest;

	if (close == NULL) {
		p->sec = SEC_SKIP;
		return;
	}
	inner = xstrndup(line + 1, (size_t)(close - line - 1));
	name = config_trim(inner);
	rest = xstrdup(close + 1);
	if (*config_trim(rest) != '\0' && *config_trim(rest) != ';' &&
	    *config_trim(rest) != '#') {
		p->sec = SEC_SKIP;
		config_fail_at(p, p->line, "unexpected text after section header [%.80s]", name);
	} else if (strcmp(name, "service") == 0) {
		p->sec = SEC_SKIP;
		config_fail_at(p, p->line, "[service] needs a name: [service NAME]");
	} else if (strncmp(name, "service", 7) == 0 && (name[7] == ' ' || name[7] == '\t')) {
		config_begin_service(p, config_trim(name + 7));
	} else {
		config_begin_global(p, name);
	}
	free(rest);
	free(inner);
}

/*
 * ini_reader: hands inih one line at a time from the file in memory,
 * counting lines, with leading blanks removed (so an indented line is never
 * taken as a multi-line continuation of the previous value).
 */
static char *config_read_line(char *str, int num, void *stream)
{
	struct config_parser *p = stream;
	const char *s, *nl;
	size_t n, max = num > 2 ? (size_t)num - 2 : 0;

	if (p->pos >= p->len)
		return NULL;
	s = p->text + p->pos;
	nl = memchr(s, '\n', p->len - p->pos);
	n = nl != NULL ? (size_t)(nl - s) + 1 : p->len - p->pos;
	p->pos += n;
	p->line++;
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n > max) {
		config_fail_at(p, p->line, "line too long (at most %zu characters)", max);
		n = max;
	}
	memcpy(str, s, n);
	str[n] = '\n';
	str[n + 1] = '\0';
	if (str[0] == '[')
		config_section_line(p, str);
	return str;
}

/* ini_handler: one key = value of the current section. */
static int config_on_key(void *user, const char *section, const char *name,
			 const char *value)
{
	struct config_parser *p = user;
	const struct config_key_spec *k;
	void *base;
	int *lines, i;

	if (p->sec == SEC_SKIP)
		return 1;
	if (p->sec == SEC_NONE)
		return config_fail(p, "key '%.60s' outside any section", name) == 0;
	if (p->sec == SEC_SERVICE) {
		base = &p->cfg->services[p->cfg->n_services - 1];
		lines = p->svc_lines[p->cfg->n_services - 1].lines;
	} else {
		base = p->cfg;
		lines = p->key_line[p->sec].lines;
	}
	k = config_find_key(p->sec, name, &i);
	if (k == NULL)
		return config_fail(p, "unknown key '%.60s' in %s", name, p->label) == 0;
	if (lines[i] != 0 && !k->repeat)
		return config_fail(p, "duplicate key '%s' in %s (first at line %d)",
				   name, p->label, lines[i]) == 0;
	if (lines[i] == 0)
		lines[i] = p->line;
	return k->set(p, k, value, (char *)base + k->off) == 0;
}

/* Describes inih's own error on line (it does not say what it was). */
static void config_syntax_error(struct config_parser *p, int line)
{
	const char *s = p->text;
	int n = 1;

	while (n < line && (s = memchr(s, '\n', (size_t)(p->text + p->len - s))) != NULL) {
		s++;
		n++;
	}
	while (s != NULL && (*s == ' ' || *s == '\t'))
		s++;
	p->err_set = 0;
	if (s != NULL && *s == '[')
		config_fail_at(p, line, "syntax error: section header without ']'");
	else
		config_fail_at(p, line, "syntax error: expected '[section]' or 'key = value'");
}

static void config_set_defaults(struct config *cfg)
{
	cfg->store_backend = "sqlite";
	cfg->retention_ms = 30LL * 86400 * 1000;
	cfg->deadline_ms = 7LL * 86400 * 1000;
	cfg->max_in_flight = 64;
	cfg->shutdown_grace_ms = 30 * 1000;
	cfg->base_delay_ms = 5 * 1000;
	cfg->max_delay_ms = 3600 * 1000;
	cfg->max_attempts = 20;
	cfg->give_up_after_ms = 7LL * 86400 * 1000;
	cfg->breaker_failures = 10;
	cfg->breaker_cooloff_ms = 30 * 1000;
	cfg->timeout_ms = 30 * 1000;
	cfg->connect_timeout_ms = 5 * 1000;
}

/* Runs inih over the text; returns 0 or -1 with the first error set. */
static int config_parse_text(struct config_parser *p)
{
	int rc;

	if (p->len >= 3 && memcmp(p->text, "\xEF\xBB\xBF", 3) == 0)
		p->pos = 3;
	rc = ini_parse_stream(config_read_line, p, config_on_key, p);
	if (rc == -2) {
		p->err_set = 0;
		return config_fail_at(p, 0, "out of memory parsing config");
	}
	if (rc > 0 && (!p->err_set || rc < p->err_line))
		config_syntax_error(p, rc);
	return p->err_set ? -1 : 0;
}

/* ---- TLS files (DESIGN 5: a config error, never a per-attempt failure) ---- */

/* What curl will be given: ca_file, client_cert, client_key of [http]. */
struct tls_parts {
	int n_ca;       /* certificates in ca_file */
	X509 *cert;     /* client_cert */
	EVP_PKEY *key;  /* client_key */
};

/* No passphrase setting exists: an encrypted key is refused, not prompted for. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* Parses text as the PEM that key names into parts; 1 when it holds one. */
static int tls_parse(const char *key, const char *text, size_t len, struct tls_parts *parts)
{
	BIO *b = sym_BIO_new_mem_buf(text, (int)len);
	OPENSSL_STACK *infos; /* of X509_INFO */

	if (b == NULL)
		return 0;
	if (strcmp(key, "ca_file") == 0) {
		infos = (OPENSSL_STACK *)sym_PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
		for (int i = 0; infos != NULL && i < sym_OPENSSL_sk_num(infos); i++)
			parts->n_ca += ((X509_INFO *)sym_OPENSSL_sk_value(infos, i))->x509 != NULL;
		sym_OPENSSL_sk_pop_free(infos, (OPENSSL_sk_freefunc)sym_X509_INFO_free);
	} else if (strcmp(key, "client_cert") == 0) {
		parts->cert = sym_PEM_read_bio_X509(b, NULL, NULL, NULL);
	} else {
		parts->key = sym_PEM_read_bio_PrivateKey(b, NULL, tls_no_passphrase, NULL);
	}
	sym_BIO_free(b);
	return strcmp(key, "ca_file") == 0 ? parts->n_ca > 0
	       : strcmp(key, "client_cert") == 0 ? parts->cert != NULL : parts->key != NULL;
}

/* Reads and parses one TLS file; 0, or -1 with the error at its key's line. */
static int tls_check_file(struct config_parser *p, const char *key, const char *path,
			  const char *what, struct tls_parts *parts)
{
	unsigned long e;
	size_t len = 0;
	char *text;
	int i = 0, ok;

	if (path == NULL)
		return 0;
	config_find_key(SEC_HTTP, key, &i);
	if ((text = util_read_file(path, &len)) == NULL)
		return config_fail_at(p, p->key_line[SEC_HTTP].lines[i], "%s %s cannot be read: %s",
				      key, path, strerror(errno));
	sym_ERR_clear_error();
	ok = tls_parse(key, text, len, parts);
	e = sym_ERR_peek_last_error();
	explicit_bzero(text, len); /* a private key is a secret */
	free(text);
	sym_ERR_clear_error();
	if (ok)
		return 0;
	return config_fail_at(p, p->key_line[SEC_HTTP].lines[i], "%s %s is not %s (%s)", key, path,
			      what, e && sym_ERR_reason_error_string(e)
				    ? sym_ERR_reason_error_string(e) : "nothing found");
}

/* ca_file, client_cert and client_key: readable PEM, the key matching the cert. */
static int config_check_tls(struct config_parser *p)
{
	struct config *cfg = p->cfg;
	struct tls_parts parts = { 0 };
	char why[256];
	int i = 0, rc;

	if (cfg->ca_file == NULL && cfg->client_cert == NULL && cfg->client_key == NULL)
		return 0; /* libcrypto is not loaded */
	if (crypto_lib_load(why, sizeof why) < 0) {
		config_find_key(SEC_HTTP, cfg->ca_file ? "ca_file" : cfg->client_cert
					  ? "client_cert" : "client_key", &i);
		return config_fail_at(p, p->key_line[SEC_HTTP].lines[i], "%s", why);
	}
	rc = tls_check_file(p, "ca_file", cfg->ca_file, "a PEM file of CA certificates", &parts);
	if (rc == 0)
		rc = tls_check_file(p, "client_cert", cfg->client_cert, "a PEM certificate", &parts);
	if (rc == 0)
		rc = tls_check_file(p, "client_key", cfg->client_key,
				    "an unencrypted PEM private key", &parts);
	if (rc == 0 && parts.cert != NULL && parts.key != NULL &&
	    sym_X509_check_private_key(parts.cert, parts.key) != 1) {
		config_find_key(SEC_HTTP, "client_key", &i);
		rc = config_fail_at(p, p->key_line[SEC_HTTP].lines[i],
				    "client_key %s does not match client_cert %s", cfg->client_key,
				    cfg->client_cert);
	}
	sym_ERR_clear_error();
	sym_X509_free(parts.cert);
	sym_EVP_PKEY_free(parts.key);
	return rc;
}

struct config *config_load(const char *path, char *err, size_t errlen)
{
	struct config_parser p;
	struct config *cfg = xcalloc(1, sizeof *cfg);

	memset(&p, 0, sizeof p);
	p.cfg = cfg;
	p.path = path;
	p.err = err;
	p.errlen = errlen;
	p.sec = SEC_NONE;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	cfg->path = xstrdup(path);
	p.text = util_read_file(path, &p.len);
	if (p.text == NULL) {
		config_fail_at(&p, 0, "cannot read config: %s", strerror(errno));
		goto fail;
	}
	cfg->dir = config_dir_of(path);
	config_set_defaults(cfg);
	if (config_parse_text(&p) < 0 || config_finish(&p) < 0 || config_check_tls(&p) < 0 ||
	    config_check_signing_key(&p) < 0 || config_load_callers(&p) < 0)
		goto fail;
	free((char *)p.text);
	free(p.svc_lines);
	return cfg;
fail:
	free((char *)p.text);
	free(p.svc_lines);
	config_free(cfg);
	return NULL;
}

static void config_free_secret(char *s, size_t len)
{
	if (s == NULL)
		return;
	explicit_bzero(s, len);
	free(s);
}

static void config_free_service(struct config_service *s)
{
	free(s->name);
	free(s->delete_url);
	free(s->preview_url);
	free(s->suspend_url);
	free(s->restore_url);
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->database);
	free(cfg->token_file);
	free(cfg->token_env);
	free(cfg->ca_file);
	free(cfg->client_cert);
	free(cfg->client_key);
	free(cfg->api_listen);
	free(cfg->api_host);
	free(cfg->api_token_file);
	free(cfg->api_token_env);
	free(cfg->api_tokens_file);
	if (cfg->api_callers != NULL)
		explicit_bzero(cfg->api_callers, cfg->n_api_callers * sizeof *cfg->api_callers);
	free(cfg->api_callers);
	for (size_t i = 0; i < cfg->n_webhook_urls; i++)
		free(cfg->webhook_urls[i]);
	free(cfg->webhook_urls);
	free(cfg->webhook_secret_file);
	free(cfg->webhook_secret_env);
	free(cfg->store_dsn_file);
	free(cfg->store_dsn_env);
	free(cfg->store_node);
	free(cfg->certificate_key_file);
	free(cfg->certificate_signing_key_file);
	free(cfg->subject.tenants_url);
	free(cfg->subject.admins_url);
	free(cfg->subject.memberships_url);
	free(cfg->subject.user_url);
	free(cfg->subject.memberships_preview_url);
	free(cfg->subject.user_preview_url);
	if (cfg->certificate_signing_key != NULL) /* libcrypto loaded: it made it */
		sym_EVP_PKEY_free(cfg->certificate_signing_key);
	config_free_secrets(cfg);
	tdestroy(cfg->by_name, free);
	for (size_t i = 0; i < cfg->n_services; i++)
		config_free_service(&cfg->services[i]);
	free(cfg->services);
	free(cfg);
}

void config_free_secrets(struct config *cfg)
{
	config_free_secret(cfg->token, cfg->token ? strlen(cfg->token) : 0);
	config_free_secret(cfg->api_token, cfg->api_token ? strlen(cfg->api_token) : 0);
	config_free_secret(cfg->webhook_secret,
			   cfg->webhook_secret ? strlen(cfg->webhook_secret) : 0);
	config_free_secret(cfg->certificate_key, cfg->certificate_key_len);
	config_free_secret(cfg->store_dsn, cfg->store_dsn ? strlen(cfg->store_dsn) : 0);
	cfg->store_dsn = NULL;
	cfg->token = cfg->api_token = cfg->webhook_secret = NULL;
	cfg->certificate_key = NULL;
	cfg->certificate_key_len = 0;
}

const struct config_service *config_find_service(const struct config *cfg,
						 const char *name)
{
	const struct service_key want = { name, 0 };
	struct service_key *const *k = tfind(&want, &cfg->by_name, service_key_cmp);

	return k != NULL ? &cfg->services[(*k)->index] : NULL;
}
