/*
 * digest.c - SHA-256 and HMAC-SHA256, with GNU Nettle.
 *
 * Every command hashes: each event of the audit chain carries a SHA-256
 * (a `schedule` writes one, `run` one an attempt). Nettle's functions are
 * plain code over a context on the stack: no provider to load, nothing to
 * initialize. OpenSSL 3's EVP_MD_fetch, which this used before, spent ~4.4
 * million instructions setting up its provider tables on the first hash of
 * each process: a quarter of a `schedule`'s instructions (callgrind).
 */
#include "util/util.h"

#include <string.h>

#include <nettle/hmac.h>
#include <nettle/sha2.h>

void util_sha256(const void *data, size_t len, unsigned char md[UTIL_SHA256_LEN])
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, len, data);
	sha256_digest(&c, SHA256_DIGEST_SIZE, md);
	explicit_bzero(&c, sizeof c); /* its block may hold the end of data (a token) */
}

void util_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
			  char out[65])
{
	struct hmac_sha256_ctx c;
	unsigned char md[SHA256_DIGEST_SIZE];

	hmac_sha256_set_key(&c, keylen, key);
	hmac_sha256_update(&c, len, data);
	hmac_sha256_digest(&c, SHA256_DIGEST_SIZE, md);
	explicit_bzero(&c, sizeof c); /* its states are as good as the key */
	util_hex(md, sizeof md, out);
	explicit_bzero(md, sizeof md);
}

void util_hex(const unsigned char *p, size_t n, char *out)
{
	static const char HEX[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = HEX[p[i] >> 4];
		out[2 * i + 1] = HEX[p[i] & 0x0f];
	}
	out[2 * n] = '\0';
}
