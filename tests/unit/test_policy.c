/*
 * test_policy.c - retry delays, give-up rules, the circuit breaker.
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
