/*
 * services.c - the configured services in the shape the store takes them.
 */
#include "config/config.h"
#include "store/store.h"
#include "util/util.h"

struct store_service *config_enabled_services(const struct config *cfg, size_t *n)
{
	struct store_service *v = xcalloc(cfg->n_services + 1, sizeof *v);

	*n = 0;
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct config_service *cs = &cfg->services[i];
		if (!cs->enabled)
			continue;
		v[*n].name = cs->name;
		v[*n].phase = cs->phase;
		v[*n].has_suspend = cs->suspend_url != NULL;
		v[*n].has_restore = cs->restore_url != NULL;
		(*n)++;
	}
	return v;
}
