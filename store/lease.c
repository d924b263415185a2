/*
 * lease.c - taking over the leases of in-flight tasks, the rules every
 * backend's maintenance shares: what is known of a lease's owner (judge()
 * asked once per owner), which lease may be taken, what becomes of its
 * task, and the log line of a take-over.
 */
#include "store/shared.h"
#include "util/log.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

enum sched_owner store_owner_state(struct store_owners *o, const char *owner)
{
	if (owner == NULL)
		return SCHED_OWNER_DEAD;
	if (strcmp(owner, o->me) == 0)
		return o->self ? SCHED_OWNER_DEAD : SCHED_OWNER_ALIVE;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->v[i].owner, owner) == 0)
			return o->v[i].state;
	o->v = xreserve(o->v, &o->cap, o->n + 1, sizeof *o->v);
	o->v[o->n].owner = xstrdup(owner);
	o->v[o->n].state = o->judge ? o->judge(o->jctx, owner) : SCHED_OWNER_UNKNOWN;
	return o->v[o->n++].state;
}

void store_owners_free(struct store_owners *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i].owner);
	free(o->v);
	o->v = NULL;
	o->n = o->cap = 0;
}

int store_lease_takeable(enum sched_owner who, int expired)
{
	/* An owner alive on this host keeps its lease whatever the clock
	 * says (a wall clock stepped forward is no expiry). */
	return !(who == SCHED_OWNER_ALIVE || (who == SCHED_OWNER_UNKNOWN && !expired));
}

const char *store_lease_why(enum sched_owner who)
{
	return who == SCHED_OWNER_DEAD ? "lease owner died" : "lease expired";
}

int store_reclaim_verdict(const struct policy_retry *retry, int attempts, int free_waits,
			  int verify_owed, int64_t first_attempt_at, const char *why,
			  int64_t now, char **err)
{
	int dead = retry != NULL &&
		   policy_retry_exhausted(retry, verify_owed ? 0 :
					  policy_attempts_used(attempts, free_waits),
					  first_attempt_at, now);

	*err = dead ? xasprintf("%s; gave up after %d attempts", why, attempts) : xstrdup(why);
	return dead;
}

void store_log_reclaimed(const char *job_id, const char *service, int attempts, int dead,
			 const char *err)
{
	struct log_line *line = log_start(dead ? LOG_ERROR : LOG_WARN, "task.lease.reclaimed");

	log_str(line, "job_id", job_id);
	log_str(line, "service", service);
	log_int(line, "attempt", attempts);
	log_str(line, "state", dead ? "dead" : "waiting");
	log_str(line, "error", err);
	log_done_held(line);
}
