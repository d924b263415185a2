/*
 * test_schedule.c - due and deadline times of a new job (jobs/schedule.h):
 * the rule shared by the CLI, the API and reapply, and its bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "jobs/schedule.h"
#include "jobs/timefmt.h"

#define S 1000LL
#define H (3600 * S)
#define D (24 * H)
#define YEARS100 TIMEFMT_MAX_DURATION_MS
#define NOW 1798448400000LL /* 2026-12-28T09:00:00Z */

/* The config's defaults: retention 30d, deadline 7d. */
static struct jobs_schedule_req req_of(enum jobs_due_mode mode)
{
	return (struct jobs_schedule_req){ .mode = mode, .retention_ms = 30 * D,
					   .deadline_ms = 7 * D };
}

/* Runs the rule; on refusal checks that the outputs are untouched. */
static int times(const struct jobs_schedule_req *r, int64_t now, int64_t *due, int64_t *dl,
		 char *err)
{
	*due = *dl = -7;
	err[0] = '\0';
	int rc = jobs_schedule_times(r, now, due, dl, err, 200);
	if (rc < 0) {
		assert_int_equal(*due, -7);
		assert_int_equal(*dl, -7);
		assert_true(err[0] != '\0');
	}
	return rc;
}

static void test_modes(void **state)
{
	struct jobs_schedule_req r = req_of(JOBS_DUE_RETENTION);
	int64_t due, dl;
	char err[200];

	(void)state;
	assert_int_equal(times(&r, NOW, &due, &dl, err), 0);
	assert_int_equal(due, NOW + 30 * D);
	assert_int_equal(dl, NOW + 37 * D);
	r = req_of(JOBS_DUE_NOW);
	assert_int_equal(times(&r, NOW, &due, &dl, err), 0);
	assert_int_equal(due, NOW);
	assert_int_equal(dl, NOW + 7 * D);
	r = req_of(JOBS_DUE_AFTER);
	r.after_ms = 14 * D;
	assert_int_equal(times(&r, NOW, &due, &dl, err), 0);
	assert_int_equal(due, NOW + 14 * D);
	assert_int_equal(dl, NOW + 21 * D);
	r = req_of(JOBS_DUE_AT);
	r.at_ms = NOW + H;
	r.has_deadline = 1;
	r.deadline_at = NOW + 2 * H;
	assert_int_equal(times(&r, NOW, &due, &dl, err), 0);
	assert_int_equal(due, NOW + H);
	assert_int_equal(dl, NOW + 2 * H);
}

/* --at in the past: due now and the deadline after that, never already missed. */
static void test_at_in_the_past_is_due_now(void **state)
{
	struct jobs_schedule_req r = req_of(JOBS_DUE_AT);
	int64_t due, dl;
	char err[200];

	(void)state;
	r.at_ms = 978307200000LL; /* 2001-01-01 */
	assert_int_equal(times(&r, NOW, &due, &dl, err), 0);
	assert_int_equal(due, NOW);
	assert_int_equal(dl, NOW + 7 * D);
	/* ... and a deadline given for it must not be before now either. */
	r.has_deadline = 1;
	r.deadline_at = 978307200000LL + D;
	assert_int_equal(times(&r, NOW, &due, &dl, err), -1);
	assert_non_null(strstr(err, "before the due time"));
}

static void test_refusals(void **state)
{
	const struct {
		enum jobs_due_mode mode;
		int64_t after, at, retention, deadline_ms;
		int has_deadline;
		int64_t deadline_at, now;
		const char *why;
	} cases[] = {
		{ JOBS_DUE_AFTER, 106751991167LL * D, 0, 30 * D, 7 * D, 0, 0, NOW, "out of range" },
		{ JOBS_DUE_AFTER, INT64_MAX, 0, 30 * D, 7 * D, 0, 0, NOW, "out of range" },
		{ JOBS_DUE_AFTER, YEARS100 + 1, 0, 30 * D, 7 * D, 0, 0, NOW, "out of range" },
		{ JOBS_DUE_AFTER, -1, 0, 30 * D, 7 * D, 0, 0, NOW, "out of range" },
		{ JOBS_DUE_RETENTION, 0, 0, INT64_MAX, 7 * D, 0, 0, NOW, "retention" },
		{ JOBS_DUE_RETENTION, 0, 0, -D, 7 * D, 0, 0, NOW, "retention" },
		{ JOBS_DUE_NOW, 0, 0, 30 * D, INT64_MAX, 0, 0, NOW, "deadline" },
		{ JOBS_DUE_AT, 0, -1, 30 * D, 7 * D, 0, 0, NOW, "outside" },
		{ JOBS_DUE_AT, 0, NOW + YEARS100 + 1, 30 * D, 7 * D, 0, 0, NOW, "100 years away" },
		{ JOBS_DUE_AT, 0, TIMEFMT_MAX_TIME_MS + 1, 30 * D, 7 * D, 0, 0, NOW, "outside" },
		{ JOBS_DUE_NOW, 0, 0, 30 * D, 7 * D, 1, NOW - 1, NOW, "before the due time" },
		{ JOBS_DUE_NOW, 0, 0, 30 * D, 7 * D, 1, NOW + YEARS100 + 1, NOW, "100 years after" },
		{ JOBS_DUE_NOW, 0, 0, 30 * D, 7 * D, 1, INT64_MAX, NOW, "outside" },
		{ JOBS_DUE_NOW, 0, 0, 30 * D, 7 * D, 0, 0, -1, "clock" },
		{ JOBS_DUE_NOW, 0, 0, 30 * D, 7 * D, 0, 0, INT64_MAX, "clock" },
		/* A clock near the end of time: the sums would leave the range. */
		{ JOBS_DUE_RETENTION, 0, 0, 30 * D, 7 * D, 0, 0, TIMEFMT_MAX_TIME_MS - D, "9999" },
		{ JOBS_DUE_NOW, 0, 0, 30 * D, 7 * D, 0, 0, TIMEFMT_MAX_TIME_MS - D, "9999" },
		{ 99, 0, 0, 30 * D, 7 * D, 0, 0, NOW, "mode" },
	};
	int64_t due, dl;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jobs_schedule_req r = {
			.mode = cases[i].mode, .after_ms = cases[i].after, .at_ms = cases[i].at,
			.has_deadline = cases[i].has_deadline, .deadline_at = cases[i].deadline_at,
			.retention_ms = cases[i].retention, .deadline_ms = cases[i].deadline_ms,
		};
		if (times(&r, cases[i].now, &due, &dl, err) != -1)
			fail_msg("case %zu accepted: due %lld", i, (long long)due);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].why);
	}
}

/* The largest values within the bounds are accepted, exactly. */
static void test_edges_accepted(void **state)
{
	struct jobs_schedule_req r = req_of(JOBS_DUE_AFTER);
	int64_t due, dl;
	char err[200];

	(void)state;
	r.after_ms = YEARS100;
	r.deadline_ms = YEARS100;
	assert_int_equal(times(&r, NOW, &due, &dl, err), 0);
	assert_int_equal(due, NOW + YEARS100);
	assert_int_equal(dl, NOW + 2 * YEARS100);
	r = req_of(JOBS_DUE_AT);
	r.at_ms = NOW + YEARS100;
	r.has_deadline = 1;
	r.deadline_at = r.at_ms + YEARS100;
	assert_int_equal(times(&r, NOW, &due, &dl, err), 0);
	assert_int_equal(dl, NOW + 2 * YEARS100);
	/* A truncated error buffer is still a refusal, and terminated. */
	r.deadline_at = NOW;
	assert_int_equal(jobs_schedule_times(&r, NOW, &due, &dl, err, 5), -1);
	assert_int_equal(strlen(err), 4);
	assert_int_equal(jobs_schedule_times(&r, NOW, &due, &dl, NULL, 0), -1);
}

/* xorshift64: fixed seed, the same values every run. */
static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* a + b wrapping around (the test itself must not overflow). */
static int64_t wrap_add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* A value for a duration or time field: mostly within the bounds, often
 * at or just past one, sometimes anything at all. */
static int64_t any_value(uint64_t *x, int64_t hi)
{
	uint64_t r = next(x);

	switch (r % 8) {
	case 0: return (int64_t)next(x);                       /* any int64 */
	case 1: return hi + (int64_t)(next(x) % 3) - 1;        /* at the bound */
	case 2: return hi + 1 + (int64_t)(next(x) % (uint64_t)hi); /* past it */
	case 3: return -(int64_t)(next(x) % (uint64_t)hi);     /* negative */
	case 4: return (int64_t)(next(x) % 1000);              /* tiny */
	default: return (int64_t)(next(x) % (uint64_t)hi);     /* within */
	}
}

/*
 * Property: for random requests (values up to and past every bound, clocks
 * anywhere), whatever is accepted is due no earlier than now, no earlier
 * than the end of the window asked for (computed exactly in 128 bits), no
 * later than 100 years from now, and its deadline is no earlier than its
 * due time. Whatever is refused leaves the outputs alone (times()).
 */
static void test_property_never_early(void **state)
{
	uint64_t x = 0x2545F4914F6CDD1DULL;
	int accepted = 0, refused = 0;
	int64_t due, dl;
	char err[200];

	(void)state;
	for (int i = 0; i < 1000000; i++) {
		struct jobs_schedule_req r = {
			.mode = (enum jobs_due_mode)(next(&x) % 4),
			.after_ms = any_value(&x, YEARS100),
			.at_ms = wrap_add(NOW - YEARS100, any_value(&x, 2 * YEARS100)),
			.has_deadline = next(&x) % 3 == 0,
			.retention_ms = any_value(&x, YEARS100),
			.deadline_ms = any_value(&x, YEARS100),
		};
		int64_t now = next(&x) % 16 == 0 ? any_value(&x, TIMEFMT_MAX_TIME_MS)
						  : NOW + (int64_t)(next(&x) % (100 * D));
		r.deadline_at = wrap_add(wrap_add(now, -YEARS100 / 2), any_value(&x, 2 * YEARS100));
		if (times(&r, now, &due, &dl, err) < 0) {
			refused++;
			continue;
		}
		accepted++;
		__int128 end = now;
		if (r.mode == JOBS_DUE_RETENTION)
			end = (__int128)now + r.retention_ms;
		else if (r.mode == JOBS_DUE_AFTER)
			end = (__int128)now + r.after_ms;
		else if (r.mode == JOBS_DUE_AT && r.at_ms > now)
			end = r.at_ms;
		if (due < now || (__int128)due < end || (__int128)due > (__int128)now + YEARS100 ||
		    dl < due)
			fail_msg("i=%d mode %d now %lld: due %lld deadline %lld (window end %lld)", i,
				 (int)r.mode, (long long)now, (long long)due, (long long)dl,
				 (long long)end);
		if (r.mode != JOBS_DUE_AT && (__int128)due != end)
			fail_msg("i=%d: due %lld, asked for %lld", i, (long long)due, (long long)end);
	}
	/* Both sides were exercised. */
	assert_true(accepted > 100000);
	assert_true(refused > 100000);
}

/*
 * The same property through the texts a user types: "--after N<unit>" with
 * N of up to 22 digits (the first one the text that wrapped due_at into the
 * past), parsed by timefmt and then scheduled: never early, never more
 * than 100 years away.
 */
static void test_property_from_text(void **state)
{
	static const char *const units[] = { "ms", "s", "m", "h", "d" };
	uint64_t x = 0x853C49E6748FEA9BULL;
	char text[64];
	int64_t due, dl;
	char err[200];

	(void)state;
	for (int i = 0; i < 200000; i++) {
		struct jobs_schedule_req r = req_of(JOBS_DUE_AFTER);
		int digits = 1 + (int)(next(&x) % 22), len = 0;

		for (int d = 0; d < digits; d++)
			text[len++] = (char)('0' + next(&x) % 10);
		snprintf(text + len, sizeof(text) - (size_t)len, "%s", units[next(&x) % 5]);
		if (i == 0)
			snprintf(text, sizeof(text), "106751991167d");
		if (timefmt_parse_duration(text, &r.after_ms) < 0)
			continue; /* refused as it is read */
		assert_int_equal(times(&r, NOW, &due, &dl, err), 0);
		if (due < NOW || due - NOW != r.after_ms || due - NOW > YEARS100 || dl < due)
			fail_msg("\"%s\": due %lld", text, (long long)due);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_at_in_the_past_is_due_now),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_edges_accepted),
		cmocka_unit_test(test_property_never_early),
		cmocka_unit_test(test_property_from_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
