# The SQLite backend of the store.
LIB_SRC += store/sqlite/backend.c store/sqlite/db.c store/sqlite/events.c store/sqlite/open.c store/sqlite/integrity.c store/sqlite/schema.c
LIB_SRC += store/sqlite/jobs.c store/sqlite/service_sets.c store/sqlite/absent.c
LIB_SRC += store/sqlite/transitions.c store/sqlite/query.c store/sqlite/reapply.c
LIB_SRC += store/sqlite/metrics.c store/sqlite/outbox.c store/sqlite/copy.c
LIB_SRC += store/sqlite/sched.c store/sqlite/sched_claim.c store/sqlite/sched_eval.c
LIB_SRC += store/sqlite/sched_record.c store/sqlite/sched_sync.c
LIB_SRC += store/sqlite/subject.c store/sqlite/walbuf.c
UNIT_TESTS += test_sqlite_bind test_walbuf
