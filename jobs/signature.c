/*
 * signature.c - a certificate's canonical text (keys sorted, no
 * whitespace, no "signature") and its signature over that text:
 * HMAC-SHA256 with a shared secret (Nettle, util/digest.c), or Ed25519
 * through OpenSSL's EVP interface (libcrypto, loaded by whoever made the
 * key: util/crypto_lib.h).
 */
#include "jobs/signature.h"
#include "util/crypto_lib.h"
#include "util/json.h"
#include "util/util.h"

#include <nettle/memops.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_ALG JOBS_SIG_HMAC
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

	if (cJSON_IsObject(copy))
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "signature");
	sort_keys(copy);
	return json_print_owned(copy);
}

/* hex HMAC-SHA256(key, canonical text) into out. */
static void certificate_mac(const cJSON *cert, const unsigned char *key, size_t keylen,
			    char out[SIG_HEX_LEN + 1])
{
	char *text = jobs_certificate_canonical(cert);

	util_hmac_sha256_hex(key, keylen, text, strlen(text), out);
	free(text);
}

int jobs_certificate_sign(cJSON *cert, const unsigned char *key, size_t keylen)
{
	char mac[SIG_HEX_LEN + 1];
	cJSON *sig;

	certificate_mac(cert, key, keylen, mac);
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
	certificate_mac(cert, key, keylen, mac);
	if (!memeql_sec(mac, val->valuestring, SIG_HEX_LEN)) {
		snprintf(why, whylen,
			 "the signature does not match the content (changed, or another key)");
		return -1;
	}
	return 0;
}

/* ---- Ed25519 ---- */

#define ED25519_SIG_LEN 64
#define ED25519_B64_LEN 88 /* base64 of 64 bytes, padded */

const char *jobs_certificate_alg(const cJSON *cert)
{
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(cert, "signature");
	const cJSON *alg = cJSON_GetObjectItemCaseSensitive(sig, "alg");

	return cJSON_IsObject(sig) && cJSON_IsString(alg) ? alg->valuestring : NULL;
}

int jobs_key_id(EVP_PKEY *key, char out[JOBS_KEY_ID_LEN + 1])
{
	static const char HEX[] = "0123456789abcdef";
	unsigned char md[UTIL_SHA256_LEN], *der = NULL;
	int len = sym_i2d_PUBKEY(key, &der);

	if (len <= 0)
		return -1;
	util_sha256(der, (size_t)len, md);
	sym_CRYPTO_free(der, OPENSSL_FILE, OPENSSL_LINE);
	for (int i = 0; i < JOBS_KEY_ID_LEN / 2; i++) {
		out[2 * i] = HEX[md[i] >> 4];
		out[2 * i + 1] = HEX[md[i] & 0x0f];
	}
	out[JOBS_KEY_ID_LEN] = '\0';
	return 0;
}

/* Signs or verifies the canonical text of cert with key (sig: in or out).
 * Returns 1 on success (a good signature), 0 otherwise. */
static int ed25519_run(const cJSON *cert, EVP_PKEY *key, int sign,
		       unsigned char sig[ED25519_SIG_LEN])
{
	EVP_MD_CTX *md = sym_EVP_MD_CTX_new();
	char *text = jobs_certificate_canonical(cert);
	size_t len = ED25519_SIG_LEN, n = strlen(text);
	int ok = 0;

	if (md == NULL || sym_EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519)
		goto out;
	if (sign)
		ok = sym_EVP_DigestSignInit(md, NULL, NULL, NULL, key) == 1 &&
		     sym_EVP_DigestSign(md, sig, &len, (const unsigned char *)text, n) == 1 &&
		     len == ED25519_SIG_LEN;
	else
		ok = sym_EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1 &&
		     sym_EVP_DigestVerify(md, sig, ED25519_SIG_LEN, (const unsigned char *)text,
					  n) == 1;
out:
	sym_EVP_MD_CTX_free(md);
	free(text);
	return ok;
}

int jobs_certificate_sign_ed25519(cJSON *cert, EVP_PKEY *key)
{
	unsigned char sig[ED25519_SIG_LEN], b64[ED25519_B64_LEN + 1];
	char key_id[JOBS_KEY_ID_LEN + 1];
	cJSON *o;

	if (jobs_key_id(key, key_id) < 0 || !ed25519_run(cert, key, 1, sig))
		return -1;
	sym_EVP_EncodeBlock(b64, sig, ED25519_SIG_LEN);
	cJSON_DeleteItemFromObjectCaseSensitive(cert, "signature");
	o = cJSON_AddObjectToObject(cert, "signature");
	cJSON_AddStringToObject(o, "alg", JOBS_SIG_ED25519);
	cJSON_AddStringToObject(o, "key_id", key_id);
	cJSON_AddStringToObject(o, "value", (const char *)b64);
	return 0;
}

/* The 64 signature bytes of value: canonical padded base64 only (decoded,
 * then encoded again to the same text). 0 or -1. */
static int ed25519_decode(const char *value, unsigned char sig[ED25519_SIG_LEN])
{
	unsigned char raw[ED25519_B64_LEN], again[ED25519_B64_LEN + 1];

	if (strlen(value) != ED25519_B64_LEN ||
	    sym_EVP_DecodeBlock(raw, (const unsigned char *)value, ED25519_B64_LEN) <
		    ED25519_SIG_LEN)
		return -1;
	sym_EVP_EncodeBlock(again, raw, ED25519_SIG_LEN);
	if (memcmp(again, value, ED25519_B64_LEN) != 0)
		return -1;
	memcpy(sig, raw, ED25519_SIG_LEN);
	return 0;
}

int jobs_certificate_check_ed25519(const cJSON *cert, EVP_PKEY *pub, char *why,
				   size_t whylen)
{
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(cert, "signature");
	const cJSON *kid = cJSON_GetObjectItemCaseSensitive(sig, "key_id");
	const cJSON *val = cJSON_GetObjectItemCaseSensitive(sig, "value");
	const char *alg = jobs_certificate_alg(cert);
	char mine[JOBS_KEY_ID_LEN + 1];
	unsigned char raw[ED25519_SIG_LEN];

	if (alg == NULL) {
		snprintf(why, whylen, "the certificate has no signature");
		return -1;
	}
	if (strcmp(alg, JOBS_SIG_ED25519) != 0) {
		snprintf(why, whylen, "it is signed with %.32s, not %s: a public key cannot "
			 "verify it", alg, JOBS_SIG_ED25519);
		return -1;
	}
	if (jobs_key_id(pub, mine) < 0 || sym_EVP_PKEY_get_base_id(pub) != EVP_PKEY_ED25519) {
		snprintf(why, whylen, "the key given is not an Ed25519 key");
		return -1;
	}
	if (!cJSON_IsString(kid) || strcmp(kid->valuestring, mine) != 0) {
		snprintf(why, whylen, "it was signed with another key (key_id %.32s; this key's is "
			 "%s)", cJSON_IsString(kid) ? kid->valuestring : "missing", mine);
		return -1;
	}
	if (!cJSON_IsString(val) || ed25519_decode(val->valuestring, raw) < 0) {
		snprintf(why, whylen, "the signature value is not the base64 of 64 bytes");
		return -1;
	}
	if (!ed25519_run(cert, pub, 0, raw)) {
		snprintf(why, whylen, "the signature does not match the content (changed)");
		return -1;
	}
	return 0;
}

int jobs_certificate_sign_with(cJSON *cert, const struct jobs_signing_keys *keys)
{
	if (keys->ed25519 != NULL)
		return jobs_certificate_sign_ed25519(cert, keys->ed25519);
	if (keys->hmac_key != NULL)
		return jobs_certificate_sign(cert, keys->hmac_key, keys->hmac_len);
	return 0;
}
