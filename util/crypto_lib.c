/*
 * crypto_lib.c - OpenSSL's libcrypto loaded on first use; see util/dl.h.
 */
#include "util/crypto_lib.h"

DL_LIBRARY(libcrypto, CRYPTO_LIB_FUNCS, "libcrypto.so.3", "libssl3",
	   "keys and certificates (OpenSSL)", NULL);

int crypto_lib_load(char *err, size_t errlen)
{
	return dl_load(&libcrypto, err, errlen);
}
