/*
 * engine_once.c - run --once's exit status: the jobs it worked on, in an
 * open-addressing hash set (cap a power of two, "" = free slot), so that a
 * run over a large backlog stays linear.
 */
#include "scheduler/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
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

/* Whether a job worked on is failed now, asked of the store in one go (a
 * read of each job took 25 ms for 1000 jobs at the end of every run). A
 * store that cannot tell makes the answer yes: cron then reports the run. */
int engine_worked_failed(struct engine *e)
{
	const char **ids = xcalloc(e->n_worked + 1, sizeof *ids);
	size_t n = 0, failed = 0;
	int rc;

	for (size_t i = 0; i < e->cap_worked; i++)
		if (e->worked[i][0] != '\0')
			ids[n++] = e->worked[i];
	rc = sched_jobs_failed(e->store, ids, n, &failed);
	free(ids);
	if (rc != STORE_OK) {
		log_msg(LOG_ERROR, "engine.error", "the jobs' final states: %s",
			store_last_error(e->store));
		return 1;
	}
	return failed > 0;
}
