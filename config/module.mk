LIB_SRC += config/config.c
UNIT_TESTS += test_config
