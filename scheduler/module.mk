LIB_SRC += scheduler/discover.c scheduler/engine.c scheduler/engine_claim.c scheduler/engine_services.c scheduler/engine_watch.c scheduler/engine_once.c scheduler/process.c scheduler/recorder.c scheduler/attempt.c scheduler/attempt_record.c scheduler/http.c scheduler/curl_lib.c scheduler/lease.c scheduler/preview.c
LIB_SRC += scheduler/integrate.c
LIB_SRC += scheduler/metrics.c scheduler/api.c scheduler/api_routes.c scheduler/api_proof.c scheduler/api_auth.c scheduler/mhd_lib.c
LIB_SRC += scheduler/api_jobs.c scheduler/api_list.c scheduler/api_summary.c
LIB_SRC += scheduler/webhook.c
LIB_SRC += scheduler/ui_assets.c
UNIT_TESTS += test_webhook test_ui_assets test_recorder
