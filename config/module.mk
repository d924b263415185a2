LIB_SRC += config/config.c config/keys.c config/secrets.c config/services.c config/keyfiles.c
UNIT_TESTS += test_config test_config_errors
UNIT_TESTS += test_config_tls
