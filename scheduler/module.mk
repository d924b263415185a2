LIB_SRC += scheduler/metrics.c scheduler/api.c scheduler/api_routes.c
