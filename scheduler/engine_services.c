/*
 * engine_services.c - the services as the store wants them: the config's
 * services with their slots, leases and breakers, the count of a job's
 * first-phase tasks (how many jobs fill the free slots) and the last
 * phase's deferral; the erasure steps after them (discover.c).
 */
#include "scheduler/engine_int.h"

#include <stdlib.h>

#include "util/util.h"

#define LAST_PHASE_DEFER_MS 1000 /* see defer_last_phase */

/* The enabled services of the lowest phase among svcs: a job's tasks due
 * when it starts. */
static int first_phase_tasks(const struct sched_service *svcs, size_t n)
{
	int lowest = 0, count = 0;

	for (size_t i = 0; i < n; i++) {
		if (!svcs[i].enabled)
			continue;
		if (count == 0 || svcs[i].phase < lowest) {
			lowest = svcs[i].phase;
			count = 0;
		}
		count += svcs[i].phase == lowest;
	}
	return count;
}

/*
 * The services of the last phase wait for the others while slots are
 * short (defer_ms): nothing waits for their tasks, while each earlier
 * task holds back a later one. Sent as soon as due, they went out
 * beside the next jobs' first phase, and when the jobs ran out the last
 * jobs' final tasks went out alone: 100 ms answers, 512 slots, 1000 jobs
 * of 12 + 1 services: the last 200 ms had fewer than a fifth of the slots
 * busy (the run 2.92 s; 2.84 s with them held back). Held back at most
 * LAST_PHASE_DEFER_MS, and never while a slot is free, no job waits
 * longer than that for them.
 */
static void defer_last_phase(struct sched_service *svcs, size_t n)
{
	int lowest = 0, highest = 0, any = 0;

	for (size_t i = 0; i < n; i++) {
		if (!svcs[i].enabled)
			continue;
		if (!any || svcs[i].phase < lowest)
			lowest = svcs[i].phase;
		if (!any || svcs[i].phase > highest)
			highest = svcs[i].phase;
		any = 1;
	}
	for (size_t i = 0; i < n; i++)
		svcs[i].defer_ms = highest > lowest && svcs[i].phase == highest ? LAST_PHASE_DEFER_MS
									       : 0;
}

void engine_build_services(struct engine *e)
{
	const struct config *cfg = e->cfg;

	free(e->svcs);
	e->svcs = xcalloc(cfg->n_services + SUBJECT_N_STEPS, sizeof *e->svcs);
	e->n_svcs = cfg->n_services;
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct config_service *cs = &cfg->services[i];
		struct sched_service *s = &e->svcs[i];
		int64_t timeout = cs->timeout_ms > 0 ? cs->timeout_ms : cfg->timeout_ms;
		int calls = cs->preview_url ? (cs->verify ? 3 : 2) : 1;

		s->name = cs->name;
		s->phase = cs->phase;
		s->enabled = cs->enabled;
		s->max_in_flight = cs->max_in_flight;
		/* the lease covers every call of one attempt (preview, call, verify) */
		s->lease_ms = calls * timeout + 10000;
		s->preview_first = cs->preview_url != NULL;
		s->breaker.threshold = cfg->breaker_failures;
		s->breaker.cooloff_ms = cfg->breaker_cooloff_ms;
		s->breaker.max_cooloff_ms = cfg->max_delay_ms;
	}
	e->n_conf_svcs = e->n_svcs;
	e->first_phase_tasks = first_phase_tasks(e->svcs, e->n_conf_svcs);
	defer_last_phase(e->svcs, e->n_conf_svcs);
	discover_add_steps(e);
	/* connections kept open: one a slot, and the webhooks' */
	http_client_set_max_connects(e->http, (long)cfg->max_in_flight + 64);
	engine_raise_fd_limit(cfg->max_in_flight);
}
