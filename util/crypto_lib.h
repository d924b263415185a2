/*
 * crypto_lib.h - OpenSSL's libcrypto, loaded when first needed (see
 * util/dl.h): only for the files a config may name (TLS certificates and
 * keys, the Ed25519 signing key), the public key `verify-certificate` is
 * given, and Ed25519 signatures. Hashes, HMACs and constant-time compares
 * are GNU Nettle's (util/digest.c), linked: every command uses them.
 *
 * Linked, libcrypto cost every command ~1.5 ms and ~120 page faults of
 * relocations before main (a bare main: 2.4 -> 3.9 ms of CPU), a tenth of
 * a `schedule`, which uses none of it.
 *
 * Whoever makes an EVP_PKEY loads it first (config/, cli/cmd_proof.c): a
 * function given a key may call sym_NAME without loading it again.
 * OpenSSL's stack macros (sk_X509_INFO_num...) are inline functions over
 * OPENSSL_sk_*: call those through their pointers.
 */
#ifndef TENANTDEL_UTIL_CRYPTO_LIB_H
#define TENANTDEL_UTIL_CRYPTO_LIB_H

#include <stddef.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util/dl.h"

#define CRYPTO_LIB_FUNCS(X)                                                                  \
	X(BIO_new_mem_buf) X(BIO_free) X(CRYPTO_free) X(ERR_clear_error)                     \
	X(ERR_peek_last_error) X(ERR_reason_error_string) X(OPENSSL_sk_num)                  \
	X(OPENSSL_sk_value) X(OPENSSL_sk_pop_free) X(PEM_X509_INFO_read_bio)                 \
	X(PEM_read_bio_X509) X(PEM_read_bio_PrivateKey) X(PEM_read_PUBKEY)                   \
	X(PEM_write_PUBKEY) X(X509_INFO_free) X(X509_check_private_key) X(X509_free)         \
	X(i2d_PUBKEY) X(EVP_PKEY_free) X(EVP_PKEY_get_base_id) X(EVP_MD_CTX_new)             \
	X(EVP_MD_CTX_free) X(EVP_DigestSignInit) X(EVP_DigestSign) X(EVP_DigestVerifyInit)   \
	X(EVP_DigestVerify) X(EVP_EncodeBlock) X(EVP_DecodeBlock)

CRYPTO_LIB_FUNCS(DL_DECLARE)

/* Loads libcrypto (once). 0, or -1 with err. */
int crypto_lib_load(char *err, size_t errlen);

#endif
