/*
 * digest.c - SHA-256 and HMAC-SHA256 with the algorithm fetched once.
 *
 * OpenSSL 3's one-shot SHA256() and HMAC(EVP_sha256(), ...) look the
 * algorithm up in the provider tables on every call: for a short input (an
 * event of the audit chain, a few hundred bytes) that lookup costs as much
 * as the hashing. Here it is fetched once per process, thread-safely, and
 * kept until exit. util_hmac_sha256_hex (webhooks, certificates: not per
 * attempt) keeps OpenSSL's one-shot HMAC.
 */
#include "util/util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static EVP_MD *sha256_md; /* fetched once by sha256_fetch, never freed */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void util_sha256(const void *data, size_t len, unsigned char md[UTIL_SHA256_LEN])
{
	unsigned int n = 0;

	pthread_once(&sha256_once, sha256_fetch);
	if (sha256_md == NULL || EVP_Digest(data, len, md, &n, sha256_md, NULL) != 1 ||
	    n != UTIL_SHA256_LEN) {
		fprintf(stderr, "tenantdel: SHA-256 failed in OpenSSL\n");
		abort();
	}
}

int util_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
			 char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, md, &mdlen) == NULL || mdlen != 32)
		return -1;
	util_hex(md, mdlen, out);
	return 0;
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
