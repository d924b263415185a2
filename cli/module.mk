# The engine, proof and integration command groups live in their own files.
MAIN_SRC += cli/cmd_engine.c cli/cmd_proof.c cli/cmd_metrics.c cli/cmd_migrate.c
MAIN_SRC += cli/main.c cli/common.c cli/cmd_jobs.c cli/schedule_from.c cli/cmd_view.c cli/cmd_config.c cli/cmd_services.c
# The --from reader: its own object, so that the fuzz harness links it alone.
MAIN_SRC += cli/tenant_ids.c
