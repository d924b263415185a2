/*
 * policy.h - retry delays and the per-service circuit breaker. Pure.
 */
#ifndef TENANTDEL_POLICY_H
#define TENANTDEL_POLICY_H

#include <stdint.h>

struct policy_retry {
	int64_t base_delay_ms;   /* default 5 s */
	int64_t max_delay_ms;    /* default 1 h */
	int max_attempts;        /* default 20 */
	int64_t give_up_after_ms; /* default 7 d */
};

/*
 * delay(n) = min(max_delay, base_delay * 2^(n-1)) * jitter, where
 * jitter = 0.5 + 0.5 * rand01 (rand01 in [0,1]). n >= 1 is the number of
 * failed attempts so far. Never overflows.
 */
int64_t policy_retry_delay(const struct policy_retry *p, int n, double rand01);

/*
 * 1 when a task must be declared dead after a failed attempt: it has made
 * max_attempts failed attempts, or give_up_after has passed since its first
 * attempt (first_attempt_at_ms, 0 if unknown). Else 0. A max_attempts or
 * give_up_after_ms <= 0 is no limit.
 */
int policy_retry_exhausted(const struct policy_retry *p, int failed_attempts,
			   int64_t first_attempt_at_ms, int64_t now_ms);

/* A uniform random double in [0,1) for jitter (OpenSSL RAND_bytes). */
double policy_rand01(void);

/*
 * The circuit breaker of one service, shared by every tenant. Closed: all
 * dispatch allowed. After `threshold` consecutive retryable failures it
 * opens for cooloff_ms (the first cool-off is the configured one, each
 * re-open doubles it, capped at max_cooloff_ms). When the cool-off ends it is
 * half-open: exactly one probe may go; its success closes the breaker and
 * resets the cool-off, its failure re-opens it.
 */
enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

struct policy_breaker {
	enum breaker_state state;
	int failures;           /* consecutive retryable failures */
	int64_t open_until_ms;  /* when OPEN */
	int64_t cooloff_ms;     /* the cool-off used at the last opening, 0 = never opened */
	int probe_in_flight;    /* when HALF_OPEN */
};

struct policy_breaker_conf {
	int threshold;          /* breaker_failures, default 10; <= 0 disables */
	int64_t cooloff_ms;     /* breaker_cooloff, default 30 s */
	int64_t max_cooloff_ms; /* retry max_delay */
};

const char *policy_breaker_state_name(enum breaker_state s);

/*
 * May one more request be sent now? Returns 1 and, when it is the half-open
 * probe, marks it in flight; returns 0 when dispatch must wait. An OPEN
 * breaker whose cool-off ended becomes HALF_OPEN here.
 */
int policy_breaker_allow(struct policy_breaker *b, const struct policy_breaker_conf *c,
			 int64_t now_ms);
/*
 * Record an attempt's result: any success closes (and resets the cool-off);
 * a failure with outcome.counts_for_breaker counts (see policy.c for a late
 * failure while open: it does not extend the cool-off). Other outcomes go
 * to policy_breaker_neutral.
 */
void policy_breaker_success(struct policy_breaker *b);
void policy_breaker_failure(struct policy_breaker *b, const struct policy_breaker_conf *c,
			    int64_t now_ms);
/* A permanent failure or a request that never went: releases a probe slot. */
void policy_breaker_neutral(struct policy_breaker *b);

#endif
