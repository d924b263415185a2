/*
 * metrics.c - the Prometheus text for a config and a database.
 */
#include "scheduler/metrics.h"
#include "store/metrics.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int metrics_render(struct store *s, const struct config *cfg, int64_t now, struct buf *out)
{
	const char **names = xcalloc(cfg->n_services + 1, sizeof *names);
	struct store_metrics_opts o = {0};
	int rc;

	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].enabled)
			names[o.n_services++] = cfg->services[i].name;
	o.services = names;
	o.webhook_urls = (const char *const *)cfg->webhook_urls;
	o.n_webhook_urls = cfg->n_webhook_urls;
	o.now = now;
	rc = store_metrics_render(s, &o, out);
	free(names);
	if (rc != STORE_OK) {
		buf_reset(out);
		return -1;
	}
	return 0;
}

int metrics_write_file(struct store *s, const struct config *cfg, const char *path)
{
	struct buf b;
	int rc = -1;

	buf_init(&b);
	if (metrics_render(s, cfg, clock_now_ms(), &b) == 0) {
		rc = util_write_file_atomic(path, b.data, b.len);
		if (rc < 0) {
			struct log_line *l = log_start(LOG_WARN, "metrics.write.failed");
			log_str(l, "path", path);
			log_str(l, "error", strerror(errno));
			log_done(l);
		}
	}
	buf_free(&b);
	return rc;
}
