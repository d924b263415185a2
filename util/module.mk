LIB_SRC += util/util.c util/log.c util/json.c util/utf8.c
UNIT_TESTS += test_util
