# The engine, proof and integration command groups live in their own files.
MAIN_SRC += cli/cmd_engine.c cli/cmd_proof.c cli/cmd_metrics.c
