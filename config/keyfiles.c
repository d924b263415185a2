/*
 * keyfiles.c - the files a config names that are read when it loads, not
 * with the secrets: the certificate signing key (Ed25519, DESIGN 7). Like
 * the TLS files, a file that cannot be read or parsed is a config error
 * at its key's line, for every command.
 */
#include "config/keys.h"
#include "util/crypto_lib.h"
#include "util/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* No passphrase setting exists: an encrypted key is refused, not prompted for. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* The private key in the PEM text, or NULL with why it is not one. */
static EVP_PKEY *parse_signing_key(const char *text, size_t len, char *why, size_t n)
{
	BIO *b = sym_BIO_new_mem_buf(text, (int)len);
	EVP_PKEY *k = NULL;
	unsigned long e;

	if (b == NULL)
		return NULL;
	sym_ERR_clear_error();
	k = sym_PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	e = sym_ERR_peek_last_error();
	sym_BIO_free(b);
	sym_ERR_clear_error();
	if (k == NULL)
		snprintf(why, n, "not an unencrypted PEM private key (%s)",
			 e && sym_ERR_reason_error_string(e) ? sym_ERR_reason_error_string(e)
							     : "nothing found");
	if (k != NULL && sym_EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
		snprintf(why, n, "not an Ed25519 key (make one with: openssl genpkey -algorithm "
			 "ed25519)");
		sym_EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

int config_check_signing_key(struct config_parser *p)
{
	struct config *cfg = p->cfg;
	const char *path = cfg->certificate_signing_key_file;
	char why[256] = "not a private key";
	size_t len = 0;
	char *text;
	int i = 0, line;

	if (path == NULL)
		return 0;
	config_find_key(SEC_CERTIFICATE, "signing_key", &i);
	line = p->key_line[SEC_CERTIFICATE].lines[i];
	if (crypto_lib_load(why, sizeof why) < 0)
		return config_fail_at(p, line, "signing_key: %s", why);
	if ((text = util_read_file(path, &len)) == NULL)
		return config_fail_at(p, line, "signing_key %s cannot be read: %s", path,
				      strerror(errno));
	cfg->certificate_signing_key = parse_signing_key(text, len, why, sizeof why);
	explicit_bzero(text, len); /* a private key is a secret */
	free(text);
	if (cfg->certificate_signing_key == NULL)
		return config_fail_at(p, line, "signing_key %s is %s", path, why);
	return 0;
}

/* ---- [api] tokens_file: one "NAME TOKEN" a line ---- */

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@+-"
#define BLANKS " \t\r"

struct callers_file {
	struct config_parser *p;
	const char *path;
	size_t cap;
	int *lines;              /* the line of each caller, for duplicates */
};

/* An error at line of the tokens file: "TOKENS_FILE:LINE: message". */
__attribute__((format(printf, 3, 4)))
static int callers_fail(struct callers_file *f, int line, const char *fmt, ...)
{
	const char *conf = f->p->path;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	f->p->path = f->path; /* the message names the tokens file, not the config */
	config_fail_at(f->p, line, "%s", msg);
	f->p->path = conf;
	return -1;
}

/* Adds the caller of one "NAME TOKEN" line (both NUL-terminated). 0 or -1. */
static int add_caller(struct callers_file *f, int line, const char *name, const char *tok)
{
	struct config *cfg = f->p->cfg;
	struct config_api_caller c = { 0 };
	size_t n = strlen(name);

	if (n > CONFIG_NAME_MAX || strspn(name, NAME_CHARS) != n)
		return callers_fail(f, line, "a caller's name is 1 to %d of A-Z a-z 0-9 . _ @ + -",
				    CONFIG_NAME_MAX);
	if (strlen(tok) < CONFIG_CALLER_TOKEN_MIN)
		return callers_fail(f, line, "the token of %s is shorter than %d characters", name,
				    CONFIG_CALLER_TOKEN_MIN);
	memcpy(c.name, name, n + 1);
	util_sha256(tok, strlen(tok), c.digest);
	for (size_t i = 0; i < cfg->n_api_callers; i++) {
		if (strcmp(cfg->api_callers[i].name, name) == 0)
			return callers_fail(f, line, "%s is named twice (first on line %d)", name,
					    f->lines[i]);
		if (memcmp(cfg->api_callers[i].digest, c.digest, sizeof c.digest) == 0)
			return callers_fail(f, line, "the token of %s is also %s's (on line %d): "
					    "each caller needs its own", name,
					    cfg->api_callers[i].name, f->lines[i]);
	}
	cfg->api_callers = xreserve(cfg->api_callers, &f->cap, cfg->n_api_callers + 1,
				    sizeof *cfg->api_callers);
	f->lines = xrealloc(f->lines, f->cap * sizeof *f->lines);
	f->lines[cfg->n_api_callers] = line;
	cfg->api_callers[cfg->n_api_callers++] = c;
	explicit_bzero(&c, sizeof c);
	return 0;
}

/* One line of the file (changed in place); 0 or -1. */
static int parse_caller_line(struct callers_file *f, int line, char *text)
{
	char *name, *tok, *rest;

	name = text + strspn(text, BLANKS);
	if (*name == '\0' || *name == '#')
		return 0;
	tok = name + strcspn(name, BLANKS);
	if (*tok != '\0')
		*tok++ = '\0';
	tok += strspn(tok, BLANKS);
	rest = tok + strcspn(tok, BLANKS);
	if (*rest != '\0')
		*rest++ = '\0';
	if (*tok == '\0' || rest[strspn(rest, BLANKS)] != '\0')
		return callers_fail(f, line, "expected NAME TOKEN (one caller a line)");
	return add_caller(f, line, name, tok);
}

int config_load_callers(struct config_parser *p)
{
	struct callers_file f = { .p = p, .path = p->cfg->api_tokens_file };
	char *text, *at, *nl;
	size_t len = 0;
	int i = 0, line = 0, rc = 0;

	if (f.path == NULL)
		return 0;
	config_find_key(SEC_API, "tokens_file", &i);
	if ((text = util_read_file(f.path, &len)) == NULL)
		return config_fail_at(p, p->key_line[SEC_API].lines[i],
				      "tokens_file %s cannot be read: %s", f.path, strerror(errno));
	for (at = text; rc == 0 && at < text + len; at = nl + 1) {
		nl = memchr(at, '\n', (size_t)(text + len - at));
		nl = nl != NULL ? nl : text + len;
		*nl = '\0';
		rc = memchr(at, '\0', (size_t)(nl - at)) != NULL
			     ? callers_fail(&f, line + 1, "a NUL byte") : parse_caller_line(&f, ++line, at);
	}
	explicit_bzero(text, len); /* the tokens are secrets */
	free(text);
	free(f.lines);
	if (rc == 0 && p->cfg->n_api_callers == 0)
		rc = config_fail_at(p, p->key_line[SEC_API].lines[i],
				    "tokens_file %s names no caller (NAME TOKEN lines)", f.path);
	return rc;
}
