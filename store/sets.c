/*
 * sets.c - the small sets every backend fills: service sets read back,
 * the job ids a transaction touched; and which task services count as
 * configured.
 */
#include "store/shared.h"
#include "jobs/subject.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
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

void store_idset_push(struct store_idset *set, const char *id)
{
	set->ids = xreserve(set->ids, &set->cap, set->n + 1, sizeof *set->ids);
	snprintf(set->ids[set->n++], JOBS_ID_LEN + 1, "%s", id);
}

void store_idset_add(struct store_idset *set, const char *id)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->ids[i], id) == 0)
			return;
	store_idset_push(set, id);
}

void store_idset_free(struct store_idset *set)
{
	free(set->ids);
	memset(set, 0, sizeof *set);
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

void store_log_absent(const struct store_absent *v, size_t n, int *held)
{
	for (size_t i = 0; i < n; i++) {
		struct log_line *l = log_start(LOG_WARN, "service.absent");
		log_str(l, "service", v[i].service);
		log_int(l, "tasks_waiting", v[i].tasks);
		log_str(l, "msg", "the store has unfinished tasks of a service the config lacks:"
			" they wait for it (restore it, or retire-service NAME --reason TEXT)");
		log_done(l);
		*held += (int)v[i].tasks;
	}
}
