LIB_SRC += store/store.c store/open.c store/schema.c
LIB_SRC += store/jobs.c store/service_sets.c store/absent.c store/transitions.c store/query.c
UNIT_TESTS += test_store
LIB_SRC += store/proof.c store/reapply.c
UNIT_TESTS += test_proof
LIB_SRC += store/metrics.c store/outbox.c
LIB_SRC += store/sched.c store/sched_eval.c store/sched_record.c store/sched_sync.c
UNIT_TESTS += test_store_open
