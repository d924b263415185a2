/*
 * records.c - freeing the records the store hands out, the same whatever
 * the backend that filled them.
 */
#include "store/backend.h"

#include <stdlib.h>
#include <string.h>

void store_absent_free(struct store_absent *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i].service);
	free(v);
}

void store_service_errors_free(struct store_service_error *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].service);
		free(v[i].tenant_id);
		free(v[i].error);
	}
	free(v);
}

void sched_claimed_free(struct sched_claimed *c, size_t n)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].tenant_id);
		free(c[i].service);
	}
	free(c);
}

void store_delivery_clear(struct store_delivery *d)
{
	free(d->url);
	free(d->event_id);
	free(d->type);
	free(d->body);
	memset(d, 0, sizeof *d);
}

void store_deliveries_free(struct store_delivery *d, size_t n)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_delivery_clear(&d[i]);
	free(d);
}

void store_reapply_items_free(struct store_reapply_item *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(items[i].tenant_id);
	free(items);
}

void store_metrics_clear(struct store_metrics *m)
{
	for (size_t i = 0; i < m->n_counters; i++) {
		free(m->counters[i].name);
		free(m->counters[i].service);
		free(m->counters[i].label);
	}
	for (size_t i = 0; i < m->n_breakers; i++)
		free(m->breakers[i].service);
	free(m->counters);
	free(m->breakers);
	memset(m, 0, sizeof *m);
}
