# store/: the public interface (store.h) and what every backend shares;
# each backend lists its own files (store/sqlite/module.mk).
LIB_SRC += store/store.c store/events.c store/proof.c store/records.c store/copy.c
LIB_SRC += store/sets.c store/tasks.c store/actions.c store/evaluate.c store/record.c
LIB_SRC += store/written.c store/lease.c
UNIT_TESTS += test_store test_store_chain test_store_compact test_store_guards test_service_sets
UNIT_TESTS += test_proof
UNIT_TESTS += test_outbox
UNIT_TESTS += test_store_open test_store_contract test_store_copy test_subject_contract test_pg_tx
UNIT_TESTS += test_sched test_sched_maint
