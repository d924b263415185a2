LIB_SRC += jobs/jobs.c jobs/timefmt.c jobs/policy.c jobs/outcome.c jobs/schedule.c
UNIT_TESTS += test_jobs test_timefmt test_policy test_outcome test_schedule
LIB_SRC += jobs/record.c jobs/document.c jobs/document_bulk.c
LIB_SRC += jobs/service_detail.c
LIB_SRC += jobs/counts.c
UNIT_TESTS += test_document
LIB_SRC += jobs/evaluate.c jobs/sched_doc.c
UNIT_TESTS += test_evaluate test_sched_doc
