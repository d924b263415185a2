LIB_SRC += util/util.c util/log.c
