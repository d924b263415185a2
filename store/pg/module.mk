# The PostgreSQL backend of the store (libpq).
LIB_SRC += store/pg/libpq.c store/pg/backend.c store/pg/db.c store/pg/tx.c store/pg/events.c
LIB_SRC += store/pg/open.c store/pg/schema.c store/pg/rows.c
LIB_SRC += store/pg/jobs.c store/pg/query.c store/pg/transitions.c
LIB_SRC += store/pg/service_sets.c store/pg/materialize.c
# the scheduler's side
LIB_SRC += store/pg/sched.c store/pg/sched_claim.c store/pg/sched_eval.c
LIB_SRC += store/pg/sched_record.c store/pg/sched_sync.c store/pg/absent.c
LIB_SRC += store/pg/outbox.c store/pg/metrics.c store/pg/reapply.c
LIB_SRC += store/pg/subject.c
UNIT_TESTS += test_sched_contract
LIB_SRC += store/pg/copy.c store/pg/load.c
