/*
 * metrics.h - the Prometheus text for a config and a database: what
 * `tenantdel metrics`, `run --metrics-file` and GET /metrics expose.
 */
#ifndef TENANTDEL_SCHED_METRICS_H
#define TENANTDEL_SCHED_METRICS_H

#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "util/util.h"

/*
 * Appends the exposition text (store_metrics_render) for cfg's enabled
 * services and webhook receivers to out. Returns 0, or -1 (logged) with
 * out reset.
 */
int metrics_render(struct store *s, const struct config *cfg, int64_t now, struct buf *out);

/*
 * Renders and writes it to path atomically (for node_exporter's textfile
 * collector). Returns 0, or -1 after logging metrics.write.failed.
 */
int metrics_write_file(struct store *s, const struct config *cfg, const char *path);

#endif
