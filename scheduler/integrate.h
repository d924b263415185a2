/*
 * integrate.h - what `tenantdel run` serves next to the scheduler, attached
 * to the engine's loop through its hooks (scheduler/engine.h): the HTTP
 * API ([api] listen), the webhook dispatcher ([webhook] url) and the
 * --metrics-file writer.
 */
#ifndef TENANTDEL_INTEGRATE_H
#define TENANTDEL_INTEGRATE_H

#include <stddef.h>

struct engine;

/*
 * Attaches all three to e (call from cli_cmd_run, after engine_new and
 * before engine_run): the API only when [api] listen is set (not with
 * --once: a cron run serves no API); the dispatcher always (it idles
 * without a url); the metrics hook, which the engine calls only with
 * --metrics-file. Writes through the API wake the engine at once; SIGHUP
 * hands each the new config; SIGTERM closes the listener and stops new
 * deliveries; POSTs in flight count as busy, so shutdown waits for them.
 * Returns 0, or -1 with one line in err (the API cannot listen): the
 * caller exits 2.
 */
int integrate_attach(struct engine *e, int once, char *err, size_t errlen);

#endif
