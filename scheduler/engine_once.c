/*
 * engine_once.c - run --once's exit status: the jobs it worked on, in an
 * open-addressing hash set (cap a power of two, "" = free slot), so that a
 * run over a large backlog stays linear.
 */
#include "scheduler/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static size_t id_hash(const char *id)
{
	size_t h = 1469598103934665603u; /* FNV-1a */

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211u;
	return h;
}

/* The slot of id in the set, or the free slot where it would go. */
static size_t worked_slot(char (*set)[JOBS_ID_LEN + 1], size_t cap, const char *id)
{
	size_t i = id_hash(id) & (cap - 1);

	while (set[i][0] != '\0' && strcmp(set[i], id) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

static void worked_grow(struct engine *e)
{
	size_t cap = e->cap_worked ? e->cap_worked * 2 : 256;
	char (*set)[JOBS_ID_LEN + 1] = xcalloc(cap, sizeof *set);

	for (size_t i = 0; i < e->cap_worked; i++)
		if (e->worked[i][0] != '\0')
			memcpy(set[worked_slot(set, cap, e->worked[i])], e->worked[i], sizeof *set);
	free(e->worked);
	e->worked = set;
	e->cap_worked = cap;
}

void engine_note_worked(struct engine *e, const char *job_id)
{
	size_t i;

	if (!e->opts.once)
		return;
	if (2 * (e->n_worked + 1) > e->cap_worked)
		worked_grow(e);
	i = worked_slot(e->worked, e->cap_worked, job_id);
	if (e->worked[i][0] == '\0') {
		snprintf(e->worked[i], JOBS_ID_LEN + 1, "%s", job_id);
		e->n_worked++;
	}
}

int engine_worked_failed(struct engine *e)
{
	for (size_t i = 0; i < e->cap_worked; i++) {
		enum job_state st;
		if (e->worked[i][0] != '\0' &&
		    sched_job_state(e->store, e->worked[i], &st) == STORE_OK && st == JOB_FAILED)
			return 1;
	}
	return 0;
}
