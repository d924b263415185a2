/*
 * sets.c - service sets as every backend reads them back, and which task
 * services count as configured.
 */
#include "store/shared.h"
#include "jobs/subject.h"

#include <stdlib.h>
#include <string.h>

void store_set_free(struct store_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i].name);
	free(set->v);
	memset(set, 0, sizeof *set);
}

int store_set_has(const struct store_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].name, name ? name : "") == 0)
			return 1;
	return 0;
}

int store_is_step(const char *name)
{
	enum subject_step step;

	return subject_step_parse(name, &step) == 0;
}

int store_is_configured(const struct store_service *svcs, size_t n, const char *name)
{
	if (store_is_step(name))
		return 1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(svcs[i].name, name) == 0)
			return 1;
	return 0;
}
