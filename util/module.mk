LIB_SRC += util/util.c util/dl.c util/log.c util/json.c util/utf8.c util/redact.c util/digest.c util/crypto_lib.c
UNIT_TESTS += test_util test_log test_dl
