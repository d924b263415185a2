/*
 * signature.c - a certificate's canonical text (keys sorted, no
 * whitespace, no "signature") and its HMAC-SHA256 over that text.
 */
#include "jobs/signature.h"
#include "util/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_ALG "HMAC-SHA256"
#define SIG_HEX_LEN 64 /* hex digits of a SHA-256 MAC */

static int cmp_items(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

/* Sorts every object's members by key, recursively (stable for duplicates
 * is not needed: a duplicate key changes the text either way). */
static void sort_keys(cJSON *item)
{
	cJSON **v, *c;
	size_t n = 0, i = 0;

	for (c = item->child; c != NULL; c = c->next) {
		sort_keys(c);
		n++;
	}
	if (!cJSON_IsObject(item) || n < 2)
		return;
	v = xmalloc(n * sizeof *v);
	for (c = item->child; c != NULL; c = c->next)
		v[i++] = c;
	qsort(v, n, sizeof *v, cmp_items);
	for (i = 0; i < n; i++) {
		v[i]->prev = i == 0 ? v[n - 1] : v[i - 1]; /* cJSON: child->prev is the tail */
		v[i]->next = i + 1 < n ? v[i + 1] : NULL;
	}
	item->child = v[0];
	free(v);
}

/* A pointer cJSON returned, or abort: it fails only when out of memory. */
static void *need(void *p)
{
	if (p == NULL) {
		fprintf(stderr, "tenantdel: out of memory\n");
		abort();
	}
	return p;
}

char *jobs_certificate_canonical(const cJSON *cert)
{
	cJSON *copy = need(cJSON_Duplicate(cert, 1));
	char *text;

	if (cJSON_IsObject(copy))
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "signature");
	sort_keys(copy);
	text = need(cJSON_PrintUnformatted(copy));
	cJSON_Delete(copy);
	return text;
}

/* hex HMAC-SHA256(key, canonical text) into out; 0 or -1. */
static int certificate_mac(const cJSON *cert, const unsigned char *key, size_t keylen,
			   char out[SIG_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *text = jobs_certificate_canonical(cert);
	int rc = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)text, strlen(text), md,
		 &mdlen) == NULL ||
	    mdlen != SIG_HEX_LEN / 2) {
		rc = -1;
	} else {
		for (unsigned int i = 0; i < mdlen; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
		out[SIG_HEX_LEN] = '\0';
	}
	free(text);
	return rc;
}

int jobs_certificate_sign(cJSON *cert, const unsigned char *key, size_t keylen)
{
	char mac[SIG_HEX_LEN + 1];
	cJSON *sig;

	if (certificate_mac(cert, key, keylen, mac) < 0)
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(cert, "signature");
	sig = cJSON_AddObjectToObject(cert, "signature");
	cJSON_AddStringToObject(sig, "alg", SIG_ALG);
	cJSON_AddStringToObject(sig, "value", mac);
	return 0;
}

int jobs_certificate_check(const cJSON *cert, const unsigned char *key, size_t keylen,
			   char *why, size_t whylen)
{
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(cert, "signature");
	const cJSON *alg = cJSON_GetObjectItemCaseSensitive(sig, "alg");
	const cJSON *val = cJSON_GetObjectItemCaseSensitive(sig, "value");
	char mac[SIG_HEX_LEN + 1];

	if (!cJSON_IsObject(cert) || !cJSON_IsObject(sig)) {
		snprintf(why, whylen, "the certificate has no signature");
		return -1;
	}
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, SIG_ALG) != 0) {
		snprintf(why, whylen, "unknown signature algorithm (expected %s)", SIG_ALG);
		return -1;
	}
	if (!cJSON_IsString(val) || strlen(val->valuestring) != SIG_HEX_LEN) {
		snprintf(why, whylen, "the signature value is not 64 hex digits");
		return -1;
	}
	if (certificate_mac(cert, key, keylen, mac) < 0) {
		snprintf(why, whylen, "cannot compute HMAC-SHA256");
		return -1;
	}
	if (CRYPTO_memcmp(mac, val->valuestring, SIG_HEX_LEN) != 0) {
		snprintf(why, whylen,
			 "the signature does not match the content (changed, or another key)");
		return -1;
	}
	return 0;
}
