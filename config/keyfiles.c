/*
 * keyfiles.c - the files a config names that are read when it loads, not
 * with the secrets: the certificate signing key (Ed25519, DESIGN 7). Like
 * the TLS files, a file that cannot be read or parsed is a config error
 * at its key's line, for every command.
 */
#include "config/keys.h"
#include "util/util.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
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
	BIO *b = BIO_new_mem_buf(text, (int)len);
	EVP_PKEY *k = NULL;
	unsigned long e;

	if (b == NULL)
		return NULL;
	ERR_clear_error();
	k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	e = ERR_peek_last_error();
	BIO_free(b);
	ERR_clear_error();
	if (k == NULL)
		snprintf(why, n, "not an unencrypted PEM private key (%s)",
			 e && ERR_reason_error_string(e) ? ERR_reason_error_string(e)
							 : "nothing found");
	if (k != NULL && EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
		snprintf(why, n, "not an Ed25519 key (make one with: openssl genpkey -algorithm "
			 "ed25519)");
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

int config_check_signing_key(struct config_parser *p)
{
	struct config *cfg = p->cfg;
	const char *path = cfg->certificate_signing_key_file;
	char why[160] = "not a private key";
	size_t len = 0;
	char *text;
	int i = 0, line;

	if (path == NULL)
		return 0;
	config_find_key(SEC_CERTIFICATE, "signing_key", &i);
	line = p->key_line[SEC_CERTIFICATE].lines[i];
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
