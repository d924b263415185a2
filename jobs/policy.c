/*
 * policy.c - retry delays with jitter, give-up rules, the circuit breaker.
 */
#include "jobs/policy.h"

#include <math.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/*
 * See policy.h. n < 1 counts as 1; negative settings count as 0; a max_delay
 * below base_delay caps the delay at max_delay. rand01 outside [0,1] (or
 * NaN) is clamped, so the result is always in [delay/2, delay].
 */
int64_t policy_retry_delay(const struct policy_retry *p, int n, double rand01)
{
	int64_t base = p->base_delay_ms > 0 ? p->base_delay_ms : 0;
	int64_t max = p->max_delay_ms > 0 ? p->max_delay_ms : 0;
	int64_t d = base;
	double r, v;

	for (int i = 1; i < n && d > 0 && d < max; i++)
		d = d > max / 2 ? max : d * 2;
	if (d > max)
		d = max;
	r = isnan(rand01) || rand01 < 0 ? 0 : rand01 > 1 ? 1 : rand01;
	v = (double)d * (0.5 + 0.5 * r);
	/* (double)INT64_MAX rounds up to 2^63, which does not convert back. */
	return v >= (double)INT64_MAX ? d : (int64_t)v;
}

/*
 * See policy.h. max_attempts <= 0 means no limit on attempts, and
 * give_up_after_ms <= 0 no limit on time.
 */
int policy_retry_exhausted(const struct policy_retry *p, int failed_attempts,
			   int64_t first_attempt_at_ms, int64_t now_ms)
{
	if (p->max_attempts > 0 && failed_attempts >= p->max_attempts)
		return 1;
	/* first + give_up, saturated: now - first could overflow */
	if (p->give_up_after_ms > 0 && first_attempt_at_ms > 0 &&
	    (first_attempt_at_ms > INT64_MAX - p->give_up_after_ms
		     ? 0 : now_ms >= first_attempt_at_ms + p->give_up_after_ms))
		return 1;
	return 0;
}

/* See policy.h. */
int policy_attempts_used(int attempts, int free_waits)
{
	int waived = free_waits > 0 ? free_waits : 0;

	return attempts > waived ? attempts - waived : 0;
}

/* The generator's seed: the kernel's randomness, else the clock and the
 * process id (two processes never draw the same jitter sequence). */
static uint64_t rand_seed(void)
{
	uint64_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof v, 0) == (ssize_t)sizeof v)
		return v;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec << 32 ^ (uint64_t)ts.tv_nsec) * 0x9e3779b97f4a7c15ULL ^
	       (uint64_t)getpid();
}

/* See policy.h: splitmix64, seeded once a process. Jitter only needs to
 * spread retries, not to be secret: OpenSSL's RAND_bytes, drawn for every
 * decision, was ~2 % of run --once's instructions. Can't fail. */
double policy_rand01(void)
{
	static _Thread_local uint64_t state; /* each thread its own sequence */
	static _Thread_local int seeded;
	uint64_t z;

	if (!seeded) {
		state = rand_seed();
		seeded = 1;
	}
	z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0; /* 53 bits / 2^53 */
}

/* "closed", "open", "half_open"; "unknown" when out of range. */
const char *policy_breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED: return "closed";
	case BREAKER_OPEN: return "open";
	case BREAKER_HALF_OPEN: return "half_open";
	}
	return "unknown";
}

/* See policy.h. */
int policy_breaker_allow(struct policy_breaker *b, const struct policy_breaker_conf *c,
			 int64_t now_ms)
{
	switch (b->state) {
	case BREAKER_CLOSED:
		return 1;
	case BREAKER_OPEN:
		if (now_ms < b->open_until_ms)
			return 0;
		b->state = BREAKER_HALF_OPEN;
		b->probe_in_flight = 0;
		/* fall through */
	case BREAKER_HALF_OPEN:
		if (b->probe_in_flight)
			return 0;
		b->probe_in_flight = 1;
		return 1;
	}
	return 1;
}

/*
 * Any success closes the breaker and forgets the cool-off, including the
 * late success of a request sent before it opened: the service answers.
 */
void policy_breaker_success(struct policy_breaker *b)
{
	b->state = BREAKER_CLOSED;
	b->failures = 0;
	b->open_until_ms = 0;
	b->cooloff_ms = 0;
	b->probe_in_flight = 0;
}

static void breaker_open(struct policy_breaker *b, int64_t cooloff_ms, int64_t now_ms)
{
	b->state = BREAKER_OPEN;
	b->cooloff_ms = cooloff_ms;
	b->open_until_ms = now_ms > INT64_MAX - cooloff_ms ? INT64_MAX : now_ms + cooloff_ms;
	b->probe_in_flight = 0;
}

/*
 * A retryable failure. Closed: counts, and opens at the threshold with the
 * configured cool-off (threshold <= 0 disables the breaker). Half-open (the
 * probe failed): re-opens with the cool-off doubled, capped at
 * max_cooloff_ms (never below the configured one). Open: a late answer to a
 * request sent before the opening; counted, the cool-off is not extended.
 */
void policy_breaker_failure(struct policy_breaker *b, const struct policy_breaker_conf *c,
			    int64_t now_ms)
{
	int64_t base = c->cooloff_ms > 0 ? c->cooloff_ms : 0;
	int64_t cap = c->max_cooloff_ms > base ? c->max_cooloff_ms : base;
	int64_t next;

	if (b->failures < INT32_MAX)
		b->failures++;
	switch (b->state) {
	case BREAKER_CLOSED:
		if (c->threshold > 0 && b->failures >= c->threshold)
			breaker_open(b, base, now_ms);
		break;
	case BREAKER_HALF_OPEN:
		next = b->cooloff_ms <= 0 ? base : b->cooloff_ms > cap / 2 ? cap : b->cooloff_ms * 2;
		breaker_open(b, next < base ? base : next, now_ms);
		break;
	case BREAKER_OPEN:
		break;
	}
}

/*
 * Neither success nor a counted failure (a 4xx, a 429, a request that was
 * never sent): frees the half-open probe slot so another probe may go. The
 * run of consecutive failures is left as it is.
 */
void policy_breaker_neutral(struct policy_breaker *b)
{
	if (b->state == BREAKER_HALF_OPEN)
		b->probe_in_flight = 0;
}

int policy_breaker_apply(struct policy_breaker *b, enum policy_breaker_effect e, int probe,
			 const struct policy_breaker_conf *c, int64_t now_ms)
{
	switch (e) {
	case POLICY_BREAKER_SUCCESS:
		if (b->state == BREAKER_CLOSED && b->failures == 0)
			return 0;
		policy_breaker_success(b);
		return 1;
	case POLICY_BREAKER_FAILURE:
		policy_breaker_failure(b, c, now_ms);
		return 1;
	case POLICY_BREAKER_SKIP:
		return 0;
	case POLICY_BREAKER_NEUTRAL:
		break;
	}
	if (!probe)
		return 0; /* only the probe holds a slot to free */
	policy_breaker_neutral(b);
	return 1;
}

/* ---- what a finished attempt means ---- */

static int64_t add_sat(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/* See policy.h. A max_delay below base_delay wins (as in policy_retry_delay). */
int64_t policy_service_wait(const struct policy_retry *p, int64_t retry_after_ms)
{
	int64_t base = p->base_delay_ms > 0 ? p->base_delay_ms : 0;
	int64_t max = p->max_delay_ms > 0 ? p->max_delay_ms : 0;
	int64_t w = retry_after_ms > base ? retry_after_ms : base;

	return w < max ? w : max;
}

static enum policy_breaker_effect breaker_effect(const struct policy_attempt *a)
{
	enum policy_breaker_effect quiet = a->probe ? POLICY_BREAKER_NEUTRAL : POLICY_BREAKER_SKIP;

	if (a->call == POLICY_CALL_NOT_SENT)
		return quiet;
	if (a->kind == OUTCOME_SUCCESS || a->answered_2xx)
		return POLICY_BREAKER_SUCCESS; /* the service answers */
	if (a->call == POLICY_CALL_EARLIER || a->verify_owed)
		return quiet; /* a verification preview: never the breaker's business */
	if (a->kind == OUTCOME_RETRY && a->counts_for_breaker)
		return POLICY_BREAKER_FAILURE;
	return POLICY_BREAKER_NEUTRAL;
}

/* A retry: how long to wait and whether it uses up budget (a free wait
 * does not). Returns 1 when the task must be dead instead. */
static int retry_wait(const struct policy_retry *p, const struct policy_attempt *a,
		      int64_t now, double rand01, struct policy_decision *d, int64_t *delay)
{
	int asked = a->service_wait && a->retry_after_ms >= 0;
	int used = policy_attempts_used(a->attempts, a->free_waits);
	int64_t backoff;

	d->streak = a->streak;
	if (a->verify_owed) {
		/* the call is done: only its verification preview is retried */
		d->verify_owed = 1;
		d->streak = a->streak < INT32_MAX ? a->streak + 1 : a->streak;
		*delay = a->retry_after_ms >= 0 ? policy_service_wait(p, a->retry_after_ms)
						: policy_retry_delay(p, d->streak, rand01);
		return policy_retry_exhausted(p, 0, a->first_attempt_at_ms, now);
	}
	if (a->call == POLICY_CALL_NOT_SENT) {
		*delay = policy_service_wait(p, 0);
		return policy_retry_exhausted(p, 0, a->first_attempt_at_ms, now);
	}
	d->streak = asked && a->streak < INT32_MAX ? a->streak + 1 : 0;
	if (asked && a->call == POLICY_CALL_SENT && a->streak < POLICY_FREE_WAITS) {
		d->free_wait = 1;
		*delay = policy_service_wait(p, a->retry_after_ms);
		return policy_retry_exhausted(p, 0, a->first_attempt_at_ms, now);
	}
	backoff = policy_retry_delay(p, used, rand01);
	*delay = a->retry_after_ms >= 0 ? policy_service_wait(p, a->retry_after_ms) : 0;
	if (backoff > *delay)
		*delay = backoff;
	return policy_retry_exhausted(p, used, a->first_attempt_at_ms, now);
}

/* See policy.h. */
void policy_decide(const struct policy_retry *p, const struct policy_attempt *a, int64_t now_ms,
		   double rand01, struct policy_decision *d)
{
	int64_t delay = 0;

	memset(d, 0, sizeof *d);
	d->breaker = breaker_effect(a);
	if (a->kind == OUTCOME_SUCCESS) {
		d->state = TASK_SUCCEEDED;
		return;
	}
	if (a->kind == OUTCOME_PERMANENT) {
		d->state = TASK_DEAD;
		return;
	}
	if (retry_wait(p, a, now_ms, rand01, d, &delay)) {
		d->state = TASK_DEAD;
		d->verify_owed = 0;
		d->streak = 0;
		return;
	}
	d->state = TASK_WAITING;
	d->next_attempt_at_ms = add_sat(now_ms, delay);
}
