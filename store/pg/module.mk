# The PostgreSQL backend of the store (libpq).
LIB_SRC += store/pg/backend.c store/pg/db.c store/pg/tx.c store/pg/events.c
LIB_SRC += store/pg/open.c store/pg/schema.c store/pg/rows.c
LIB_SRC += store/pg/jobs.c store/pg/query.c store/pg/transitions.c
LIB_SRC += store/pg/service_sets.c store/pg/materialize.c
LIB_SRC += store/pg/copy.c store/pg/load.c
