/*
 * sched_claim.c - claims: due tasks of dispatchable jobs become in flight
 * under this owner's lease, as each service's slots and breaker allow; and
 * the count of a call about to go out (sqlite_count_sent).
 */
#include "store/sqlite/sched_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One service's due tasks. Per service, so that a service whose slots are
 * full or whose breaker is open never hides the others' due work behind
 * its own backlog; CROSS JOIN keeps tasks_due_by_service as the outer loop,
 * so the scan stops at the first rows due, whatever the backlog. */
static const char SQL_CANDIDATES[] =
	"SELECT t.id, t.job_id, t.service, t.kind, t.phase, t.attempts, t.first_attempt_at,"
	" t.before_total IS NOT NULL, j.tenant_id, t.verify_owed, t.retry_streak, t.free_waits"
	" FROM tasks t CROSS JOIN jobs j"
	" WHERE t.service = :svc AND t.state IN ('pending','waiting')"
	" AND t.next_attempt_at IS NOT NULL AND t.next_attempt_at <= :now"
	" AND j.id = t.job_id AND" DISPATCHABLE
	" ORDER BY t.next_attempt_at LIMIT :lim";
/* One indexed count per service (a GROUP BY would walk the whole index). */
static const char SQL_INFLIGHT_OF[] =
	"SELECT COUNT(*) FROM tasks WHERE service = :svc AND state = 'in_flight'";
/* :counted is 1 when the call goes out in this same loop turn (no preview
 * first): then the claim counts it; else sqlite_count_sent does, later. */
static const char SQL_CLAIM[] =
	"UPDATE tasks SET state = 'in_flight', attempts = attempts + :counted,"
	" lease_owner = :owner, lease_expires_at = :lease,"
	" first_attempt_at = COALESCE(first_attempt_at, :now), updated_at = :now"
	" WHERE id = :id AND state IN ('pending','waiting')";
static const char SQL_COUNT_SENT[] =
	"UPDATE tasks SET attempts = attempts + 1, updated_at = :now"
	" WHERE id = :id AND state = 'in_flight' AND lease_owner = :owner"
	" AND lease_expires_at = :until";

/* ---- claims ---- */

/*
 * How many claims the service may get now, given its in-flight count and
 * that it has due work: its free slots, one probe when the breaker is
 * half-open (taken only now, when there is a task to probe with), none
 * while it is open. *probe is set for the probe. -1 on a database error.
 */
static int allowed_slots(struct sqlite_store *s, const char *owner, const struct sched_service *svc,
			 int in_flight, int64_t now, int *probe)
{
	struct policy_breaker b;
	char *probe_owner = NULL;
	int free_slots = svc->max_in_flight > 0 ? svc->max_in_flight - in_flight : 1 << 20;
	int allowed = 0;

	*probe = 0;
	if (free_slots <= 0)
		return 0;
	if (sqlite_breaker_load(s, svc->name, &b, &probe_owner) < 0)
		return -1;
	free(probe_owner);
	/* A probe whose task is no longer in flight anywhere died with its owner. */
	if (b.state == BREAKER_HALF_OPEN && b.probe_in_flight && in_flight == 0)
		b.probe_in_flight = 0;
	if (b.state == BREAKER_CLOSED)
		return free_slots;
	if (policy_breaker_allow(&b, &svc->breaker, now)) {
		allowed = 1;
		*probe = 1;
		if (sqlite_breaker_save(s, svc->name, &b, owner, now) < 0)
			return -1;
		log_msg(LOG_INFO, "breaker.probe", "%s: one probe after the cool-off", svc->name);
	}
	return allowed;
}

static int in_flight_of(struct sqlite_store *s, const char *service, int *count)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_INFLIGHT_OF);
	int64_t v;

	if (st != NULL)
		sqlite_bind_text(st, ":svc", service);
	if (sqlite_step_int(s, st, 0, &v) < 0)
		return -1;
	*count = (int)v;
	return 0;
}

/* One candidate row into c (its strings malloc'ed). */
static void read_candidate(sqlite3_stmt *cand, int64_t now, struct sched_claimed *c)
{
	memset(c, 0, sizeof *c);
	c->task_id = sqlite3_column_int64(cand, 0);
	snprintf(c->job_id, sizeof c->job_id, "%s", sqlite3_column_text(cand, 1));
	c->service = sqlite_col_text(cand, 2);
	if (jobs_task_kind_parse((const char *)sqlite3_column_text(cand, 3), &c->kind) < 0)
		c->kind = TASK_KIND_DELETE;
	c->phase = sqlite3_column_int(cand, 4);
	c->attempts = sqlite3_column_int(cand, 5);
	c->first_attempt_at = sqlite_col_int(cand, 6, now);
	c->has_before = sqlite3_column_int(cand, 7);
	c->tenant_id = sqlite_col_text(cand, 8);
	c->verify_owed = sqlite3_column_int(cand, 9);
	c->retry_streak = sqlite3_column_int(cand, 10);
	c->free_waits = sqlite3_column_int(cand, 11);
}

/* Up to lim due candidates of one service, appended to v (room for lim
 * more), read to the end before anything is written (the claims change
 * the index the scan walks). */
static int read_candidates(struct sqlite_store *s, const char *service, int lim, int64_t now,
			   struct sched_claimed *v, size_t *n)
{
	sqlite3_stmt *cand = sqlite_stmt(s, SQL_CANDIDATES);
	int rc = SQLITE_DONE;
	int got = 0;

	if (cand == NULL)
		return -1;
	sqlite_bind_text(cand, ":svc", service);
	sqlite_bind_int(cand, ":now", now);
	sqlite_bind_int(cand, ":lim", lim);
	while (got < lim && (rc = sqlite3_step(cand)) == SQLITE_ROW)
		read_candidate(cand, now, &v[(*n) + (size_t)got++]);
	*n += (size_t)got;
	return sqlite_walk_end(s, cand, got < lim ? rc : SQLITE_DONE);
}

static int claim_row(struct sqlite_store *s, const char *owner, const struct sched_service *svc,
		     int64_t now, struct sched_claimed *c)
{
	sqlite3_stmt *st = sqlite_stmt(s, SQL_CLAIM);

	if (st == NULL)
		return -1;
	/* the call is first unless a preview is: the pre-purge one (until
	 * stored) or the verification an earlier call still owes */
	c->counted = !c->verify_owed &&
		     (c->kind != TASK_KIND_DELETE || c->has_before || !svc->preview_first);
	c->lease_until = now + svc->lease_ms;
	sqlite_bind_int(st, ":id", c->task_id);
	sqlite_bind_text(st, ":owner", owner);
	sqlite_bind_int(st, ":lease", c->lease_until);
	sqlite_bind_int(st, ":counted", c->counted);
	sqlite_bind_int(st, ":now", now);
	if (sqlite_step_done(s, st) < 0)
		return -1;
	return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

/*
 * Claims up to lim (at most *room) of one service's tasks due by due_by
 * into v (after *n), as its slots and breaker allow. Claimed entries stay, the rest are
 * freed. *more: a full page was claimed (the service may have more due).
 */
static int claim_service(struct sqlite_store *s, const char *owner, const struct sched_service *svc,
			 int64_t now, int64_t due_by, int lim, struct sched_claimed *v, size_t *n,
			 int *room, int *more)
{
	size_t first = *n, k, kept;
	int in_flight = 0, probe = 0, allowed, want = lim < *room ? lim : *room;

	*more = 0;
	if (in_flight_of(s, svc->name, &in_flight) < 0)
		return -1;
	if (svc->max_in_flight > 0 && in_flight >= svc->max_in_flight)
		return 0;
	/* On an error the candidates read stay in v, counted in *n: the
	 * caller frees them. */
	if (read_candidates(s, svc->name, want, due_by, v, n) < 0)
		return -1;
	if (*n == first)
		return 0;
	if ((allowed = allowed_slots(s, owner, svc, in_flight, now, &probe)) < 0)
		return -1;
	*more = allowed >= want && *n - first == (size_t)want;
	for (k = first, kept = first; k < *n; k++) {
		int r = allowed > 0 ? claim_row(s, owner, svc, now, &v[k]) : 0;
		if (r < 0)
			return -1;
		if (r == 0) {
			free(v[k].tenant_id);
			free(v[k].service);
			*more = 0;
			continue;
		}
		v[k].probe = probe;
		probe = 0;
		allowed--;
		if (k != kept)
			v[kept] = v[k];
		kept++;
	}
	*n = kept;
	*room -= (int)(kept - first);
	return 0;
}

/* Each enabled service's share of max claims (at least 1). */
static int fair_share(const struct sched_service *svcs, size_t n_svcs, int max)
{
	int enabled = 0;

	for (size_t k = 0; k < n_svcs; k++)
		enabled += svcs[k].enabled != 0;
	return enabled > 0 ? (max + enabled - 1) / enabled : max;
}

/*
 * Two rounds in turn from svcs[first]: each service up to its share of
 * max, then the room left to those that had more. A service served alone
 * while the others wait would leave every job with one service done:
 * shared, the tasks of the same jobs go out (and come back) together, so
 * a job is finished, and evaluated, in fewer batches. A service that
 * defers (defer_ms) takes only its tasks due that long in these rounds,
 * and the rest in two more, alike among the deferring services, with the
 * room the others left.
 */
static int claim_rounds(struct sqlite_store *s, const char *owner, const struct sched_service *svcs,
			size_t n_svcs, size_t first, int max, int64_t now,
			struct sched_claimed *v, size_t *n)
{
	unsigned char *more = xcalloc(n_svcs, 1);
	int room = max, share = fair_share(svcs, n_svcs, max), deferring = 0, m, rc = 0;

	for (size_t k = 0; k < n_svcs; k++)
		deferring += svcs[k].enabled && svcs[k].defer_ms > 0;
	for (int round = 0; round < (deferring ? 4 : 2) && rc == 0 && room > 0; round++) {
		if (round == 2) /* the room left, shared by the deferring services */
			share = (room + deferring - 1) / deferring;
		for (size_t k = 0; k < n_svcs && room > 0; k++) {
			size_t i = (first + k) % n_svcs;
			int late = round >= 2; /* the deferred tasks' rounds */
			if (!svcs[i].enabled || (round % 2 == 1 && !more[i]) ||
			    (late && svcs[i].defer_ms <= 0))
				continue;
			if (claim_service(s, owner, &svcs[i], now,
					  late ? now : now - svcs[i].defer_ms,
					  round % 2 == 0 ? share : room, v, n, &room, &m) < 0) {
				rc = -1;
				break;
			}
			more[i] = (unsigned char)m;
		}
	}
	free(more);
	return rc;
}

int sqlite_claim_tasks(struct store *base, const char *owner, const struct sched_service *svcs,
		       size_t n_svcs, size_t first, int max, int64_t now,
		       struct sched_claimed **out, size_t *n)
{
	struct sqlite_store *s = sqlite_of(base);
	struct sched_claimed *v;

	*out = NULL;
	*n = 0;
	if (max <= 0 || n_svcs == 0)
		return STORE_OK;
	v = xcalloc((size_t)max, sizeof *v);
	if (sqlite_begin(s) != STORE_OK)
		goto fail;
	if (claim_rounds(s, owner, svcs, n_svcs, first, max, now, v, n) < 0) {
		sqlite_rollback(s);
		goto fail;
	}
	if (sqlite_commit(s) != STORE_OK)
		goto fail;
	*out = v;
	return STORE_OK;
fail:
	sched_claimed_free(v, *n);
	*n = 0;
	return STORE_ERR;
}

/* ---- calls going out ---- */

int sqlite_count_sent(struct store *base, const char *owner, const struct sched_lease *leases,
		      size_t n, int64_t now, int *held)
{
	struct sqlite_store *s = sqlite_of(base);
	sqlite3_stmt *st;

	if (n == 0)
		return STORE_OK;
	if (sqlite_begin(s) != STORE_OK)
		return STORE_ERR;
	for (size_t i = 0; i < n; i++) {
		if ((st = sqlite_stmt(s, SQL_COUNT_SENT)) == NULL)
			goto fail;
		sqlite_bind_int(st, ":id", leases[i].task_id);
		sqlite_bind_text(st, ":owner", owner);
		sqlite_bind_int(st, ":until", leases[i].until);
		sqlite_bind_int(st, ":now", now);
		if (sqlite_step_done(s, st) < 0)
			goto fail;
		held[i] = sqlite3_changes(s->db) > 0;
	}
	return sqlite_commit(s) == STORE_OK ? STORE_OK : STORE_ERR;
fail:
	sqlite_rollback(s);
	return STORE_ERR;
}
