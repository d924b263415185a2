/*
 * signature.h - a certificate's canonical text and its HMAC-SHA256
 * signature (DESIGN 7). Pure computations over a cJSON tree: the same
 * content gives the same bytes and the same signature whatever key order
 * or layout a file had, so an old certificate still verifies.
 *
 *   jobs_certificate_sign(cert, key, keylen);   // adds "signature"
 *   jobs_certificate_check(cert, key, keylen, why, sizeof why);  // 0: verified
 */
#ifndef TENANTDEL_SIGNATURE_H
#define TENANTDEL_SIGNATURE_H

#include <cjson/cJSON.h>
#include <stddef.h>

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

#endif
