/*
 * test_policy.c - retry delays, give-up rules, attempt decisions, the circuit
 * breaker.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "jobs/policy.h"

#define S 1000LL
#define H (3600 * S)
#define D (24 * H)

static const struct policy_retry defaults = {
	.base_delay_ms = 5 * S, .max_delay_ms = H, .max_attempts = 20, .give_up_after_ms = 7 * D,
};

static void test_delay_doubles_then_caps(void **state)
{
	(void)state;
	/* rand01 = 1: jitter factor 1, the full delay. */
	const int64_t want[] = { 5 * S, 10 * S, 20 * S, 40 * S, 80 * S, 160 * S, 320 * S,
				 640 * S, 1280 * S, 2560 * S, H, H, H };
	for (int n = 1; n <= 13; n++)
		assert_int_equal(policy_retry_delay(&defaults, n, 1.0), want[n - 1]);
	/* Huge n never overflows. */
	assert_int_equal(policy_retry_delay(&defaults, 64, 1.0), H);
	assert_int_equal(policy_retry_delay(&defaults, 1000000, 1.0), H);
	assert_int_equal(policy_retry_delay(&defaults, 2147483647, 1.0), H);
	/* n < 1 counts as the first retry. */
	assert_int_equal(policy_retry_delay(&defaults, 0, 1.0), 5 * S);
	assert_int_equal(policy_retry_delay(&defaults, -3, 1.0), 5 * S);
}

static void test_delay_jitter_range(void **state)
{
	(void)state;
	assert_int_equal(policy_retry_delay(&defaults, 1, 0.0), 2500);
	assert_int_equal(policy_retry_delay(&defaults, 1, 0.5), 3750);
	assert_int_equal(policy_retry_delay(&defaults, 20, 0.0), H / 2);
	/* Out-of-range jitter is clamped. */
	assert_int_equal(policy_retry_delay(&defaults, 1, -1.0), 2500);
	assert_int_equal(policy_retry_delay(&defaults, 1, 7.0), 5000);
	assert_int_equal(policy_retry_delay(&defaults, 1, NAN), 2500);
	assert_int_equal(policy_retry_delay(&defaults, 1, INFINITY), 5000);
	for (int i = 0; i < 2000; i++) {
		int n = 1 + i % 15;
		int64_t full = policy_retry_delay(&defaults, n, 1.0);
		int64_t d = policy_retry_delay(&defaults, n, policy_rand01());
		assert_true(d >= full / 2 && d <= full);
	}
}

static void test_delay_odd_settings(void **state)
{
	struct policy_retry p = defaults;

	(void)state;
	p.max_delay_ms = 2 * S; /* below base: capped */
	assert_int_equal(policy_retry_delay(&p, 1, 1.0), 2 * S);
	p.base_delay_ms = 0;
	assert_int_equal(policy_retry_delay(&p, 2147483647, 1.0), 0); /* and returns at once */
	p.base_delay_ms = INT64_MAX;
	p.max_delay_ms = INT64_MAX;
	assert_true(policy_retry_delay(&p, 5, 0.0) > 0);
	p.base_delay_ms = -5;
	p.max_delay_ms = -5;
	assert_int_equal(policy_retry_delay(&p, 3, 1.0), 0);
	p.base_delay_ms = 3;
	p.max_delay_ms = INT64_MAX;
	assert_int_equal(policy_retry_delay(&p, 62, 1.0), 3LL << 61);
	assert_int_equal(policy_retry_delay(&p, 63, 1.0), INT64_MAX);
}

static void test_exhausted(void **state)
{
	int64_t first = 1700000000000LL;

	(void)state;
	assert_int_equal(policy_retry_exhausted(&defaults, 1, first, first), 0);
	assert_int_equal(policy_retry_exhausted(&defaults, 19, first, first + D), 0);
	assert_int_equal(policy_retry_exhausted(&defaults, 20, first, first + D), 1);
	assert_int_equal(policy_retry_exhausted(&defaults, 21, first, first), 1);
	assert_int_equal(policy_retry_exhausted(&defaults, 3, first, first + 7 * D - 1), 0);
	assert_int_equal(policy_retry_exhausted(&defaults, 3, first, first + 7 * D), 1);
	/* Unknown first attempt: only the count applies. */
	assert_int_equal(policy_retry_exhausted(&defaults, 3, 0, first + 100 * D), 0);

	struct policy_retry unlimited = { .base_delay_ms = S, .max_delay_ms = H };
	assert_int_equal(policy_retry_exhausted(&unlimited, 1000000, first, first + 1000 * D), 0);
}

static void test_rand01(void **state)
{
	double sum = 0, lo = 1, hi = 0;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		double r = policy_rand01();
		assert_true(r >= 0.0 && r < 1.0);
		sum += r;
		lo = r < lo ? r : lo;
		hi = r > hi ? r : hi;
	}
	/* Uniform-ish: mean near 0.5, range nearly full. */
	assert_true(sum / 10000 > 0.45 && sum / 10000 < 0.55);
	assert_true(lo < 0.01 && hi > 0.99);
}

static const struct policy_breaker_conf bconf = {
	.threshold = 3, .cooloff_ms = 30 * S, .max_cooloff_ms = 100 * S,
};

static void test_breaker_names(void **state)
{
	(void)state;
	assert_string_equal(policy_breaker_state_name(BREAKER_CLOSED), "closed");
	assert_string_equal(policy_breaker_state_name(BREAKER_OPEN), "open");
	assert_string_equal(policy_breaker_state_name(BREAKER_HALF_OPEN), "half_open");
	assert_string_equal(policy_breaker_state_name((enum breaker_state)9), "unknown");
}

static void test_breaker_opens_after_threshold(void **state)
{
	struct policy_breaker b = { 0 };
	int64_t t = 1000000;

	(void)state;
	assert_int_equal(policy_breaker_allow(&b, &bconf, t), 1);
	policy_breaker_failure(&b, &bconf, t);
	policy_breaker_failure(&b, &bconf, t);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(policy_breaker_allow(&b, &bconf, t), 1);
	policy_breaker_failure(&b, &bconf, t);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.cooloff_ms, 30 * S);
	assert_int_equal(b.open_until_ms, t + 30 * S);
	assert_int_equal(policy_breaker_allow(&b, &bconf, t), 0);
	assert_int_equal(policy_breaker_allow(&b, &bconf, t + 30 * S - 1), 0);
}

static void test_breaker_success_resets_count(void **state)
{
	struct policy_breaker b = { 0 };

	(void)state;
	policy_breaker_failure(&b, &bconf, 0);
	policy_breaker_failure(&b, &bconf, 0);
	policy_breaker_success(&b);
	policy_breaker_failure(&b, &bconf, 0);
	policy_breaker_failure(&b, &bconf, 0);
	assert_int_equal(b.state, BREAKER_CLOSED); /* not "in a row" */
	/* Neutral outcomes neither count nor reset. */
	policy_breaker_neutral(&b);
	assert_int_equal(b.failures, 2);
	policy_breaker_failure(&b, &bconf, 0);
	assert_int_equal(b.state, BREAKER_OPEN);
}

/* One attempt's effect: what changes the breaker (and must be written
 * back) and what does not. */
static void test_breaker_apply_says_what_changed(void **state)
{
	struct policy_breaker b = { 0 };

	(void)state;
	/* the common case: a success on a closed breaker, nothing to write */
	assert_int_equal(policy_breaker_apply(&b, POLICY_BREAKER_SUCCESS, 0, &bconf, 0), 0);
	assert_int_equal(policy_breaker_apply(&b, POLICY_BREAKER_SKIP, 1, &bconf, 0), 0);
	assert_int_equal(policy_breaker_apply(&b, POLICY_BREAKER_FAILURE, 0, &bconf, 0), 1);
	assert_int_equal(b.failures, 1);
	/* neutral: only the probe frees a slot */
	assert_int_equal(policy_breaker_apply(&b, POLICY_BREAKER_NEUTRAL, 0, &bconf, 0), 0);
	assert_int_equal(b.failures, 1);
	assert_int_equal(policy_breaker_apply(&b, POLICY_BREAKER_SUCCESS, 0, &bconf, 0), 1);
	assert_int_equal(b.failures, 0);
	for (int i = 0; i < 3; i++)
		policy_breaker_apply(&b, POLICY_BREAKER_FAILURE, 0, &bconf, 0);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(policy_breaker_allow(&b, &bconf, b.open_until_ms), 1);
	assert_int_equal(b.probe_in_flight, 1);
	assert_int_equal(policy_breaker_apply(&b, POLICY_BREAKER_NEUTRAL, 1, &bconf, 0), 1);
	assert_int_equal(b.probe_in_flight, 0);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
}

/* Open -> half-open -> one probe -> failure re-opens, doubled. */
static void test_breaker_probe_and_doubling(void **state)
{
	struct policy_breaker b = { 0 };
	int64_t t = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		policy_breaker_failure(&b, &bconf, t);
	const int64_t cooloffs[] = { 30 * S, 60 * S, 100 * S, 100 * S };
	for (int round = 0; round < 4; round++) {
		assert_int_equal(b.state, BREAKER_OPEN);
		assert_int_equal(b.cooloff_ms, cooloffs[round]);
		t = b.open_until_ms;
		assert_int_equal(policy_breaker_allow(&b, &bconf, t - 1), 0);
		assert_int_equal(policy_breaker_allow(&b, &bconf, t), 1); /* the probe */
		assert_int_equal(b.state, BREAKER_HALF_OPEN);
		assert_int_equal(b.probe_in_flight, 1);
		assert_int_equal(policy_breaker_allow(&b, &bconf, t), 0); /* only one */
		assert_int_equal(policy_breaker_allow(&b, &bconf, t + H), 0);
		t += 500;
		policy_breaker_failure(&b, &bconf, t);
		assert_int_equal(b.open_until_ms, t + cooloffs[round + 1 < 4 ? round + 1 : 3]);
	}
	/* The probe succeeds: closed, the cool-off forgotten. */
	t = b.open_until_ms;
	assert_int_equal(policy_breaker_allow(&b, &bconf, t), 1);
	policy_breaker_success(&b);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(b.failures, 0);
	assert_int_equal(b.cooloff_ms, 0);
	assert_int_equal(policy_breaker_allow(&b, &bconf, t), 1);
	assert_int_equal(policy_breaker_allow(&b, &bconf, t), 1);
	for (int i = 0; i < 3; i++)
		policy_breaker_failure(&b, &bconf, t);
	assert_int_equal(b.cooloff_ms, 30 * S); /* back to the configured one */
}

static void test_breaker_neutral_frees_probe(void **state)
{
	struct policy_breaker b = { 0 };

	(void)state;
	for (int i = 0; i < 3; i++)
		policy_breaker_failure(&b, &bconf, 0);
	assert_int_equal(policy_breaker_allow(&b, &bconf, 30 * S), 1);
	assert_int_equal(policy_breaker_allow(&b, &bconf, 30 * S), 0);
	policy_breaker_neutral(&b); /* e.g. a 401: the probe slot is free again */
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_int_equal(policy_breaker_allow(&b, &bconf, 30 * S), 1);
	assert_int_equal(policy_breaker_allow(&b, &bconf, 30 * S), 0);
}

static void test_breaker_late_failure_while_open(void **state)
{
	struct policy_breaker b = { 0 };

	(void)state;
	for (int i = 0; i < 3; i++)
		policy_breaker_failure(&b, &bconf, 0);
	int64_t until = b.open_until_ms;
	/* Answers to requests sent before it opened do not extend the cool-off. */
	policy_breaker_failure(&b, &bconf, 10 * S);
	policy_breaker_failure(&b, &bconf, 20 * S);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.open_until_ms, until);
	assert_int_equal(b.cooloff_ms, 30 * S);
	/* A late success closes it: the service answers again. */
	policy_breaker_success(&b);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(policy_breaker_allow(&b, &bconf, 21 * S), 1);
}

static void test_breaker_odd_conf(void **state)
{
	struct policy_breaker b = { 0 };
	struct policy_breaker_conf off = { .threshold = 0, .cooloff_ms = S, .max_cooloff_ms = S };
	struct policy_breaker_conf small_max = { .threshold = 1, .cooloff_ms = 30 * S,
						 .max_cooloff_ms = 10 * S };

	(void)state;
	for (int i = 0; i < 1000; i++)
		policy_breaker_failure(&b, &off, 0);
	assert_int_equal(b.state, BREAKER_CLOSED); /* threshold 0: disabled */
	memset(&b, 0, sizeof(b));
	policy_breaker_failure(&b, &small_max, 0);
	assert_int_equal(b.cooloff_ms, 30 * S);
	assert_int_equal(policy_breaker_allow(&b, &small_max, 30 * S), 1);
	policy_breaker_failure(&b, &small_max, 30 * S);
	assert_int_equal(b.cooloff_ms, 30 * S); /* never below the configured one */
	/* A huge cool-off neither overflows nor wraps. */
	struct policy_breaker_conf huge = { .threshold = 1, .cooloff_ms = INT64_MAX - 10,
					    .max_cooloff_ms = INT64_MAX };
	memset(&b, 0, sizeof(b));
	policy_breaker_failure(&b, &huge, 1000);
	assert_int_equal(b.open_until_ms, INT64_MAX);
	assert_int_equal(policy_breaker_allow(&b, &huge, INT64_MAX - 1), 0);
}


/* ---- policy_decide ---- */

#define NOW 1700000000000LL

/* A retryable answer to a call sent now, the task's 3rd counted call. */
static struct policy_attempt failed_call(void)
{
	struct policy_attempt a = { .kind = OUTCOME_RETRY, .call = POLICY_CALL_SENT,
				    .counts_for_breaker = 1, .retry_after_ms = -1,
				    .attempts = 3, .first_attempt_at_ms = NOW - 60 * S };
	return a;
}

static void test_decide_success_and_permanent(void **state)
{
	struct policy_attempt a = failed_call();
	struct policy_decision d;

	(void)state;
	a.kind = OUTCOME_SUCCESS;
	a.answered_2xx = 1;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_SUCCEEDED);
	assert_int_equal(d.free_wait, 0);
	assert_int_equal(d.breaker, POLICY_BREAKER_SUCCESS);
	a.kind = OUTCOME_PERMANENT;
	a.answered_2xx = 0;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_DEAD);
	assert_int_equal(d.breaker, POLICY_BREAKER_NEUTRAL);
}

static void test_decide_retry_backs_off_and_gives_up(void **state)
{
	struct policy_attempt a = failed_call();
	struct policy_decision d;

	(void)state;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_WAITING);
	assert_int_equal(d.next_attempt_at_ms, NOW + 20 * S); /* 5 s x 2^(3-1) */
	assert_int_equal(d.free_wait, 0);
	assert_int_equal(d.streak, 0);
	assert_int_equal(d.breaker, POLICY_BREAKER_FAILURE);
	a.attempts = 20;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_DEAD);
	a.attempts = 2;
	a.first_attempt_at_ms = NOW - 7 * D;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_DEAD);
}

/* Finding B: "Retry-After: 0" (or a date in the past) waited 0 ms and used
 * no attempt: a hot loop. */
static void test_decide_service_wait_at_least_base_delay(void **state)
{
	struct policy_attempt a = failed_call();
	struct policy_decision d;

	(void)state;
	a.counts_for_breaker = 0;
	a.service_wait = 1;
	a.retry_after_ms = 0;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_WAITING);
	assert_int_equal(d.next_attempt_at_ms, NOW + 5 * S);
	assert_int_equal(d.free_wait, 1);
	assert_int_equal(d.streak, 1);
	assert_int_equal(d.breaker, POLICY_BREAKER_NEUTRAL);
	a.retry_after_ms = 42 * S; /* honoured */
	policy_decide(&defaults, &a, NOW, 0.0, &d);
	assert_int_equal(d.next_attempt_at_ms, NOW + 42 * S);
	a.retry_after_ms = 30 * D; /* capped at max_delay */
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.next_attempt_at_ms, NOW + H);
	assert_int_equal(policy_service_wait(&defaults, -5), 5 * S);
	assert_int_equal(policy_service_wait(&defaults, INT64_MAX), H);
	/* a Retry-After on a 500 is honoured, but the failure counts */
	a = failed_call();
	a.retry_after_ms = 60 * S;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.free_wait, 0);
	assert_int_equal(d.streak, 0);
	assert_int_equal(d.next_attempt_at_ms, NOW + 60 * S);
	a.retry_after_ms = 0; /* ... and never shortens the back-off */
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.next_attempt_at_ms, NOW + 20 * S);
}

/* After POLICY_FREE_WAITS service-requested waits in a row, the next ones
 * count toward max_attempts (and back off at least as a failure would).
 * Every call stays one of the task's attempts (DESIGN 3: `attempts`
 * counts every call made); the free ones are kept apart. */
static void test_decide_service_waits_count_after_three_in_a_row(void **state)
{
	struct policy_attempt a = failed_call();
	struct policy_decision d;
	int calls = 0;

	(void)state;
	a.counts_for_breaker = 0;
	a.service_wait = 1;
	a.retry_after_ms = 0;
	a.attempts = 0;
	a.free_waits = 0;
	a.streak = 0;
	for (;;) {
		calls++;
		a.attempts = calls; /* the call just sent is one of them */
		policy_decide(&defaults, &a, NOW, 1.0, &d);
		if (d.state == TASK_DEAD)
			break;
		assert_int_equal(d.state, TASK_WAITING);
		assert_int_equal(d.free_wait, a.streak < POLICY_FREE_WAITS);
		if (!d.free_wait)
			assert_true(d.next_attempt_at_ms - NOW >=
				    policy_retry_delay(&defaults, a.attempts - a.free_waits, 1.0));
		a.free_waits += d.free_wait;
		a.streak = d.streak;
		assert_true(calls < 1000);
	}
	assert_int_equal(a.free_waits, POLICY_FREE_WAITS);
	assert_int_equal(calls, POLICY_FREE_WAITS + defaults.max_attempts);
	assert_int_equal(a.attempts, calls);
	/* any other outcome ends the run: the next wait is free again */
	a = failed_call();
	a.streak = 7;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.streak, 0);
	a.streak = 0;
	a.service_wait = 1;
	a.retry_after_ms = 0;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.free_wait, 1);
}

/* The retry budget is the calls sent less the free waits: max_attempts
 * failures are allowed whatever free waits came between them, and the
 * back-off grows with the budget used, not with the calls. */
static void test_decide_budget_is_attempts_less_free_waits(void **state)
{
	struct policy_attempt a = failed_call();
	struct policy_decision d;

	(void)state;
	assert_int_equal(policy_attempts_used(5, 2), 3);
	assert_int_equal(policy_attempts_used(2, 5), 0);
	assert_int_equal(policy_attempts_used(3, -1), 3);
	/* 20 calls, 3 of them free: 17 used, a failure now is the 18th */
	a.attempts = 21;
	a.free_waits = 3;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_WAITING);
	assert_int_equal(d.free_wait, 0);
	a.attempts = 23; /* the 20th failure */
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_DEAD);
	/* 3 calls of which 1 free: the back-off of the 2nd failure */
	a.attempts = 3;
	a.free_waits = 1;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.next_attempt_at_ms, NOW + 10 * S); /* 5 s x 2^(2-1) */
}

/* Finding 6: a failed verification preview after a successful DELETE is
 * retried alone, with back-off, using up no attempt. */
static void test_decide_failed_verification_retries_the_preview(void **state)
{
	struct policy_attempt a = failed_call();
	struct policy_decision d;

	(void)state;
	a.verify_owed = 1;
	a.answered_2xx = 1; /* the DELETE's answer */
	a.counts_for_breaker = 0;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_WAITING);
	assert_int_equal(d.verify_owed, 1);
	assert_int_equal(d.free_wait, 0); /* the DELETE went out: it is an attempt */
	assert_int_equal(d.streak, 1);
	assert_int_equal(d.next_attempt_at_ms, NOW + 5 * S);
	assert_int_equal(d.breaker, POLICY_BREAKER_SUCCESS);
	/* again, from a verification-only attempt: backs off, never dead by count */
	a.call = POLICY_CALL_EARLIER;
	a.answered_2xx = 0;
	a.attempts = 20;
	a.streak = 3;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_WAITING);
	assert_int_equal(d.verify_owed, 1);
	assert_int_equal(d.next_attempt_at_ms, NOW + 40 * S);
	assert_int_equal(d.breaker, POLICY_BREAKER_SKIP);
	/* ... but give_up_after still holds */
	a.first_attempt_at_ms = NOW - 8 * D;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_DEAD);
	assert_int_equal(d.verify_owed, 0);
	/* records left: the DELETE is repeated (a counted failure) */
	a = failed_call();
	a.call = POLICY_CALL_EARLIER;
	a.counts_for_breaker = 0;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_WAITING);
	assert_int_equal(d.verify_owed, 0);
	assert_int_equal(d.free_wait, 0);
	assert_int_equal(d.next_attempt_at_ms, NOW + 20 * S);
	a.attempts = 20;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_DEAD);
}

static void test_decide_not_sent(void **state)
{
	struct policy_attempt a = failed_call();
	struct policy_decision d;

	(void)state;
	a.call = POLICY_CALL_NOT_SENT;
	a.attempts = 20;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_WAITING);
	assert_int_equal(d.next_attempt_at_ms, NOW + 5 * S);
	assert_int_equal(d.free_wait, 0);
	assert_int_equal(d.breaker, POLICY_BREAKER_SKIP);
	a.probe = 1;
	policy_decide(&defaults, &a, NOW, 1.0, &d);
	assert_int_equal(d.breaker, POLICY_BREAKER_NEUTRAL);
}

/* Finding A (the engine's part): huge settings and waits never overflow. */
static void test_decide_never_overflows(void **state)
{
	struct policy_retry huge = { .base_delay_ms = INT64_MAX / 2, .max_delay_ms = INT64_MAX,
				     .max_attempts = 0, .give_up_after_ms = INT64_MAX };
	struct policy_attempt a = failed_call();
	struct policy_decision d;

	(void)state;
	a.service_wait = 1;
	a.retry_after_ms = INT64_MAX;
	a.attempts = 2147483647;
	policy_decide(&huge, &a, NOW, 1.0, &d);
	assert_int_equal(d.state, TASK_WAITING);
	assert_int_equal(d.next_attempt_at_ms, INT64_MAX);
	a.retry_after_ms = -1;
	a.streak = 2147483647;
	policy_decide(&huge, &a, INT64_MAX - 1, 1.0, &d);
	assert_int_equal(d.next_attempt_at_ms, INT64_MAX);
	a.verify_owed = 1;
	policy_decide(&huge, &a, NOW, 1.0, &d);
	assert_int_equal(d.streak, 2147483647);
	assert_int_equal(d.next_attempt_at_ms, INT64_MAX);
	a.first_attempt_at_ms = 1;
	policy_decide(&defaults, &a, INT64_MAX, 1.0, &d);
	assert_int_equal(d.state, TASK_DEAD);
	assert_int_equal(policy_retry_exhausted(&huge, 1, 1, INT64_MAX), 0);
	assert_int_equal(policy_retry_exhausted(&defaults, 1, INT64_MAX, -NOW), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_doubles_then_caps),
		cmocka_unit_test(test_delay_jitter_range),
		cmocka_unit_test(test_delay_odd_settings),
		cmocka_unit_test(test_exhausted),
		cmocka_unit_test(test_rand01),
		cmocka_unit_test(test_breaker_names),
		cmocka_unit_test(test_breaker_opens_after_threshold),
		cmocka_unit_test(test_breaker_success_resets_count),
		cmocka_unit_test(test_breaker_probe_and_doubling),
		cmocka_unit_test(test_breaker_neutral_frees_probe),
		cmocka_unit_test(test_breaker_late_failure_while_open),
		cmocka_unit_test(test_breaker_odd_conf),
		cmocka_unit_test(test_breaker_apply_says_what_changed),
		cmocka_unit_test(test_decide_success_and_permanent),
		cmocka_unit_test(test_decide_retry_backs_off_and_gives_up),
		cmocka_unit_test(test_decide_service_wait_at_least_base_delay),
		cmocka_unit_test(test_decide_service_waits_count_after_three_in_a_row),
		cmocka_unit_test(test_decide_budget_is_attempts_less_free_waits),
		cmocka_unit_test(test_decide_failed_verification_retries_the_preview),
		cmocka_unit_test(test_decide_not_sent),
		cmocka_unit_test(test_decide_never_overflows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
