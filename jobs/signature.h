/*
 * signature.h - a certificate's canonical text and its HMAC-SHA256
 * signature (DESIGN 7): HMAC-SHA256 with a shared secret, or Ed25519 that
 * anyone holding the public key can check. Pure computations over a cJSON
 * tree: the same content gives the same bytes and the same signature
 * whatever key order or layout a file had, so an old certificate still
 * verifies.
 *
 *   struct jobs_signing_keys k = { hmac, hmac_len, ed25519_or_NULL };
 *   jobs_certificate_sign_with(cert, &k);         // adds "signature"
 *   jobs_certificate_check(cert, key, keylen, why, sizeof why);  // HMAC: 0 verified
 *   jobs_certificate_check_ed25519(cert, pub, why, sizeof why);  // Ed25519
 */
#ifndef TENANTDEL_SIGNATURE_H
#define TENANTDEL_SIGNATURE_H

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stddef.h>

/* The "alg" of a signature. */
#define JOBS_SIG_HMAC "HMAC-SHA256"
#define JOBS_SIG_ED25519 "Ed25519"

/* Hex digits of a key_id: the start of the sha256 of the public key (DER). */
#define JOBS_KEY_ID_LEN 16

/* The keys a certificate may be signed with; either may be unset. */
struct jobs_signing_keys {
	const unsigned char *hmac_key;   /* [certificate] key_file, or NULL */
	size_t hmac_len;
	EVP_PKEY *ed25519;               /* [certificate] signing_key, or NULL */
};

/*
 * The canonical text of a certificate: every object's keys sorted (byte
 * order, recursively), the top-level "signature" left out, printed without
 * whitespace (cJSON_PrintUnformatted). cert is not changed. Caller frees.
 * Can't fail (allocation aborts).
 */
char *jobs_certificate_canonical(const cJSON *cert);

/*
 * Adds (or replaces) "signature": {"alg": "HMAC-SHA256", "value": hex}
 * computed with key over the canonical text. Returns 0, or -1 when
 * OpenSSL fails (cert unchanged; the caller reports it).
 */
int jobs_certificate_sign(cJSON *cert, const unsigned char *key, size_t keylen);

/*
 * Checks a certificate's signature with key (constant-time compare).
 * Returns 0 when it verifies; -1 with a reason in why (no signature, an
 * unknown algorithm, a value that does not match the content).
 */
int jobs_certificate_check(const cJSON *cert, const unsigned char *key, size_t keylen,
			   char *why, size_t whylen);

/*
 * Signs cert with the key its operator chose: Ed25519 when keys->ed25519
 * is set (whoever has the public key can check it; an HMAC key also
 * configured is then used only to verify older certificates), else
 * HMAC-SHA256 when keys->hmac_key is set, else leaves cert unsigned.
 * Returns 0, or -1 when OpenSSL fails (cert unchanged).
 */
int jobs_certificate_sign_with(cJSON *cert, const struct jobs_signing_keys *keys);

/*
 * Adds (or replaces) "signature": {"alg": "Ed25519", "key_id": the first
 * JOBS_KEY_ID_LEN hex digits of sha256(public key as DER
 * SubjectPublicKeyInfo), "value": base64 of the 64-byte signature} made
 * with the Ed25519 private key over the canonical text (EVP_DigestSign, no
 * digest). Returns 0, or -1 when key is not an Ed25519 private key or
 * OpenSSL fails (cert unchanged).
 */
int jobs_certificate_sign_ed25519(cJSON *cert, EVP_PKEY *key);

/*
 * Checks an Ed25519 signature with pub (a public key, or a private key
 * whose public half is used). Returns 0 when it verifies; -1 with a reason
 * in why (no signature, another algorithm, another key_id, a malformed
 * value, a signature that does not match the content).
 */
int jobs_certificate_check_ed25519(const cJSON *cert, EVP_PKEY *pub, char *why,
				   size_t whylen);

/* The "alg" of cert's signature, or NULL when it has none. Points into cert. */
const char *jobs_certificate_alg(const cJSON *cert);

/*
 * The key_id of key (see jobs_certificate_sign_ed25519) into out. Returns
 * 0, or -1 when the key cannot be encoded.
 */
int jobs_key_id(EVP_PKEY *key, char out[JOBS_KEY_ID_LEN + 1]);

#endif
