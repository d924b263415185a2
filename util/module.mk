LIB_SRC += util/util.c util/log.c
UNIT_TESTS += test_util
