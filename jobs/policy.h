/*
 * policy.h - retry delays, what a finished attempt means for its task
 * (policy_decide), and the per-service circuit breaker. Pure.
 */
#ifndef TENANTDEL_POLICY_H
#define TENANTDEL_POLICY_H

#include <stdint.h>

#include "jobs/jobs.h"
#include "jobs/outcome.h"

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
 * max_attempts failed attempts (failed_attempts: policy_attempts_used), or
 * give_up_after has passed since its first attempt (first_attempt_at_ms, 0
 * if unknown). Else 0. A max_attempts or give_up_after_ms <= 0 is no limit.
 */
int policy_retry_exhausted(const struct policy_retry *p, int failed_attempts,
			   int64_t first_attempt_at_ms, int64_t now_ms);

/* A uniform random double in [0,1) for jitter (a fast generator seeded
 * from the kernel once a process; not for secrets). */
double policy_rand01(void);

/*
 * A wait the service asked for (Retry-After of ms): at least base_delay
 * (so "Retry-After: 0" or a date in the past is no hot loop), at most
 * max_delay. Never overflows.
 */
int64_t policy_service_wait(const struct policy_retry *p, int64_t retry_after_ms);

/* Service-requested waits in a row that use up no attempt; from the next
 * one on they count toward max_attempts like any retryable failure. */
#define POLICY_FREE_WAITS 3

/*
 * The retry budget a task has used (what max_attempts bounds): its
 * attempts (every call sent, DESIGN 3) less its free waits (calls answered
 * with a wait the service asked for, POLICY_FREE_WAITS in a row at most).
 * Never below 0. Can't fail.
 */
int policy_attempts_used(int attempts, int free_waits);

/* Where the call (DELETE, or POST for suspend/restore) of an attempt stands. */
enum policy_call {
	POLICY_CALL_NOT_SENT, /* nothing went out (no URL, shutting down, lease lost) */
	POLICY_CALL_SENT,     /* it went out in this attempt */
	POLICY_CALL_EARLIER,  /* it succeeded in an earlier attempt: this one only verified */
};

/* What an attempt means for the service's circuit breaker. */
enum policy_breaker_effect {
	POLICY_BREAKER_SKIP,    /* not counted at all */
	POLICY_BREAKER_SUCCESS, /* the service answered with 2xx */
	POLICY_BREAKER_FAILURE, /* a retryable failure that counts (5xx, time-out, connect) */
	POLICY_BREAKER_NEUTRAL, /* anything else: frees a half-open probe slot */
};

/* A finished attempt and its task's history. */
struct policy_attempt {
	enum outcome_kind kind;   /* of the attempt, verification included */
	enum policy_call call;
	int verify_owed;          /* the call succeeded (now or earlier) but its
				     verification preview could not be made */
	int answered_2xx;         /* the service's last answer was 2xx */
	int counts_for_breaker;   /* the failure is one the breaker counts */
	int probe;                /* the attempt was the half-open breaker's probe */
	int64_t retry_after_ms;   /* Retry-After of the answer; -1 none */
	int service_wait;         /* a wait the service asked for (429/503 with
				     Retry-After: outcome.uses_attempt 0) */
	int attempts;             /* calls sent so far, a call sent now included */
	int free_waits;           /* of those, the free waits before this one */
	int streak;               /* attempts in a row before this one that used
				     no attempt (service waits, verification retries) */
	int64_t first_attempt_at_ms; /* 0 unknown */
};

/* What becomes of the task. */
struct policy_decision {
	enum task_state state;    /* TASK_SUCCEEDED, TASK_WAITING or TASK_DEAD */
	int64_t next_attempt_at_ms; /* when TASK_WAITING */
	int free_wait;            /* 1: the call sent now was answered with a wait
				     the service asked for: it stays one of the
				     task's attempts but uses up none of its budget
				     (the task's free_waits + 1) */
	int streak;               /* the task's new streak */
	int verify_owed;          /* 1: the next attempt only verifies (no call) */
	enum policy_breaker_effect breaker;
};

/*
 * Decides a finished attempt (DESIGN 3 "Retry policy", "Verification").
 * "Used" is policy_attempts_used(attempts, free_waits): the budget that
 * max_attempts bounds.
 *  - success: succeeded; permanent: dead;
 *  - the call succeeded but its verification preview failed: waiting, the
 *    preview alone retried with back-off (delay(streak)), no budget used;
 *  - a wait the service asked for: policy_service_wait, a free wait (no
 *    budget used) for POLICY_FREE_WAITS in a row; after that it counts
 *    (and waits at least the back-off delay);
 *  - any other retryable failure: counted, waits delay(used), or the
 *    Retry-After given if longer (capped at max_delay);
 *  - nothing sent: waits base_delay, no budget used.
 * A counted failure whose used budget reaches max_attempts, or any retry
 * once give_up_after has passed, is dead instead. Times saturate, never
 * overflow. rand01 is the jitter (policy_rand01()). Can't fail.
 */
void policy_decide(const struct policy_retry *p, const struct policy_attempt *a, int64_t now_ms,
		   double rand01, struct policy_decision *d);

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
/*
 * One attempt's effect e on b (probe: the attempt was the half-open
 * probe): a success, a failure (c's threshold and cool-off) or a neutral
 * outcome as above; a success on a closed breaker without failures, a
 * skip, and a neutral outcome of anything but the probe change nothing.
 * 1 when b changed (to be written back), else 0.
 */
int policy_breaker_apply(struct policy_breaker *b, enum policy_breaker_effect e, int probe,
			 const struct policy_breaker_conf *c, int64_t now_ms);

#endif
