LIB_SRC += store/store.c store/schema.c
