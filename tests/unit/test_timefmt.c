/*
 * test_timefmt.c - durations, RFC 3339 times, Retry-After.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "jobs/timefmt.h"

#define S 1000LL
#define M (60 * S)
#define H (60 * M)
#define D (24 * H)

static void test_duration_parse_valid(void **state)
{
	const struct { const char *in; int64_t ms; } cases[] = {
		{ "0", 0 }, { "0s", 0 }, { "0ms", 0 }, { "500ms", 500 }, { "45s", 45 * S },
		{ "15m", 15 * M }, { "12h", 12 * H }, { "30d", 30 * D }, { "7d", 7 * D },
		{ "1h30m", H + 30 * M }, { "1d2h3m4s5ms", D + 2 * H + 3 * M + 4 * S + 5 },
		{ "30m1h", H + 30 * M }, { "90m", 90 * M }, { "1m1ms", M + 1 },
		{ "007s", 7 * S }, { "106751991167d", 106751991167LL * D },
		{ "9223372036854775807ms", INT64_MAX },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -42;
		if (timefmt_parse_duration(cases[i].in, &ms) != 0)
			fail_msg("refused \"%s\"", cases[i].in);
		if (ms != cases[i].ms)
			fail_msg("\"%s\" = %lld, want %lld", cases[i].in, (long long)ms,
				 (long long)cases[i].ms);
	}
}

static void test_duration_parse_invalid(void **state)
{
	const char *bad[] = {
		NULL, "", " ", "-5s", "+5s", "5", "00", "10", "s", "ms", "5x", "5 s", " 5s",
		"5s ", "5S", "5sec", "5mss", "1h30", "1.5h", "5s,", "h5", "1e3s", "0x10s",
		"106751991168d",             /* just past INT64_MAX ms */
		"9223372036854775808ms",     /* digits overflow */
		"99999999999999999999999s",
		"9223372036854775807ms1ms",  /* sum overflows */
		"5s\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 12345;
		if (timefmt_parse_duration(bad[i], &ms) != -1)
			fail_msg("accepted \"%s\"", bad[i] ? bad[i] : "(null)");
		assert_int_equal(ms, 12345);
	}
}

static void test_duration_format(void **state)
{
	const struct { int64_t ms; const char *out; } cases[] = {
		{ 0, "0s" }, { 500, "500ms" }, { 45 * S, "45s" }, { 15 * M, "15m" },
		{ 12 * H, "12h" }, { 30 * D, "30d" }, { H + 30 * M, "1h30m" },
		{ 1500, "1s500ms" }, { D + 1, "1d1ms" }, { -90 * S, "-1m30s" },
		{ INT64_MAX, "106751991167d7h12m55s807ms" },
		{ INT64_MIN, "-106751991167d7h12m55s808ms" },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		timefmt_format_duration(cases[i].ms, out, sizeof(out));
		assert_string_equal(out, cases[i].out);
	}
	/* Truncates, always terminated. */
	timefmt_format_duration(H + 30 * M, out, 3);
	assert_string_equal(out, "1h");
	timefmt_format_duration(H, out, 0); /* no write, no crash */
}

static void test_duration_round_trip(void **state)
{
	char out[64];
	int64_t back;
	uint64_t x = 88172645463325252ULL;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		int64_t ms = (int64_t)(x % (uint64_t)(400 * D));
		if (i % 3 == 0)
			ms -= ms % S; /* whole seconds, too */
		timefmt_format_duration(ms, out, sizeof(out));
		assert_int_equal(timefmt_parse_duration(out, &back), 0);
		if (back != ms)
			fail_msg("%lld -> %s -> %lld", (long long)ms, out, (long long)back);
	}
}

static void test_time_parse_valid(void **state)
{
	const struct { const char *in; int64_t ms; } cases[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2026-12-28T09:00:00Z", 1798448400000LL },
		{ "2026-12-28t09:00:00z", 1798448400000LL },
		{ "2026-12-28 09:00:00Z", 1798448400000LL },
		{ "2026-12-28T10:30:00+01:30", 1798448400000LL },
		{ "2026-12-28T04:00:00-05:00", 1798448400000LL },
		{ "2026-12-28T09:00:00.5Z", 1798448400500LL },
		{ "2026-12-28T09:00:00.123456789Z", 1798448400123LL },
		{ "2026-12-28T09:00:00.999+00:00", 1798448400999LL },
		{ "2024-02-29T00:00:00Z", 1709164800000LL },   /* leap year */
		{ "2000-02-29T12:00:00Z", 951825600000LL },    /* divisible by 400 */
		{ "1969-12-31T23:59:59Z", -1000 },
		{ "1969-12-31T23:59:59.999Z", -1 },
		{ "2016-12-31T23:59:60Z", 1483228800000LL },   /* leap second: next minute */
		{ "0001-01-01T00:00:00Z", -62135596800000LL },
		{ "9999-12-31T23:59:59Z", 253402300799000LL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = 7;
		if (timefmt_parse_time(cases[i].in, &ms) != 0)
			fail_msg("refused \"%s\"", cases[i].in);
		if (ms != cases[i].ms)
			fail_msg("\"%s\" = %lld, want %lld", cases[i].in, (long long)ms,
				 (long long)cases[i].ms);
	}
}

static void test_time_parse_invalid(void **state)
{
	const char *bad[] = {
		NULL, "", "2026-12-28", "2026-12-28T09:00:00", "2026-12-28T09:00Z",
		"2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
		"2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z",
		"2026-01-01T00:60:00Z", "2026-01-01T00:00:61Z", "2026-01-01T00:00:00.Z",
		"2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:60",
		"2026-01-01T00:00:00+0100", "2026-01-01T00:00:00+01", "2026-01-01X00:00:00Z",
		"2026-1-01T00:00:00Z", "26-01-01T00:00:00Z", "2026-01-01T00:00:00Zjunk",
		"2026-01-01T00:00:00Z ", " 2026-01-01T00:00:00Z", "+2026-01-01T00:00:00Z",
		"2026-01-01T00:00:00GMT", "yesterday", "1798448400",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 99;
		if (timefmt_parse_time(bad[i], &ms) != -1)
			fail_msg("accepted \"%s\"", bad[i] ? bad[i] : "(null)");
		assert_int_equal(ms, 99);
	}
}

static void test_time_format(void **state)
{
	const struct { int64_t ms; const char *out; } cases[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ 1798448400000LL, "2026-12-28T09:00:00Z" },
		{ 1798448400123LL, "2026-12-28T09:00:00.123Z" },
		{ 1798448400007LL, "2026-12-28T09:00:00.007Z" },
		{ 1709164800000LL, "2024-02-29T00:00:00Z" },
		{ -1, "1969-12-31T23:59:59.999Z" },
		{ -86400000LL, "1969-12-31T00:00:00Z" },
		{ 253402300799000LL, "9999-12-31T23:59:59Z" },
	};
	char out[TIMEFMT_TIME_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		timefmt_format_time(cases[i].ms, out);
		assert_string_equal(out, cases[i].out);
	}
	/* Extremes neither crash nor overflow the buffer. */
	timefmt_format_time(INT64_MAX, out);
	assert_true(strlen(out) < TIMEFMT_TIME_LEN);
	timefmt_format_time(INT64_MIN, out);
	assert_true(strlen(out) < TIMEFMT_TIME_LEN);
}

/* Every day from 1600 to 2500 (leap rules included) agrees with timegm. */
static void test_time_round_trip_vs_timegm(void **state)
{
	char out[TIMEFMT_TIME_LEN];
	int64_t back;

	(void)state;
	for (int64_t day = -135140; day < 194000; day += 1) {
		int64_t ms = day * D + (day % 86400) * S + (day % 1000);
		timefmt_format_time(ms, out);
		assert_int_equal(timefmt_parse_time(out, &back), 0);
		if (back != ms)
			fail_msg("%lld -> %s -> %lld", (long long)ms, out, (long long)back);
		if (day % 97 == 0) {
			struct tm tm;
			time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
			gmtime_r(&t, &tm);
			char want[TIMEFMT_TIME_LEN];
			strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
			assert_memory_equal(out, want, 19);
			assert_int_equal(timegm(&tm), t);
		}
	}
}

static void test_retry_after_seconds(void **state)
{
	int64_t w = -5;

	(void)state;
	assert_int_equal(timefmt_parse_retry_after("120", 0, &w), 0);
	assert_int_equal(w, 120 * S);
	assert_int_equal(timefmt_parse_retry_after("0", 5, &w), 0);
	assert_int_equal(w, 0);
	assert_int_equal(timefmt_parse_retry_after("  7\t", 5, &w), 0);
	assert_int_equal(w, 7 * S);
	assert_int_equal(timefmt_parse_retry_after("99999999999999999999999", 0, &w), 0);
	assert_int_equal(w, INT64_MAX); /* saturates; the caller caps */
	assert_int_equal(timefmt_parse_retry_after("9223372036854775807", 0, &w), 0);
	assert_int_equal(w, INT64_MAX);
	w = 3;
	const char *bad[] = { NULL, "", "   ", "-1", "1.5", "12s", "1 2", "+3", "abc",
			      "0x10" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (timefmt_parse_retry_after(bad[i], 0, &w) != -1)
			fail_msg("accepted \"%s\"", bad[i] ? bad[i] : "(null)");
	}
	assert_int_equal(w, 3);
}

static void test_retry_after_dates(void **state)
{
	/* Sun, 06 Nov 1994 08:49:37 GMT */
	const int64_t t = 784111777000LL;
	int64_t w;

	(void)state;
	const char *forms[] = {
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
		"Sun Nov 06 08:49:37 1994",
		" Sun, 06 Nov 1994 08:49:37 GMT ",
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		w = -1;
		if (timefmt_parse_retry_after(forms[i], t - 90 * S, &w) != 0)
			fail_msg("refused \"%s\"", forms[i]);
		assert_int_equal(w, 90 * S);
		/* In the past: no wait, never negative. */
		assert_int_equal(timefmt_parse_retry_after(forms[i], t + H, &w), 0);
		assert_int_equal(w, 0);
	}
	/* RFC 850 two-digit years: at most 50 years ahead of now. */
	int64_t now2026 = 1767225600000LL; /* 2026-01-01 */
	assert_int_equal(timefmt_parse_retry_after("Thursday, 01-Jan-26 00:01:00 GMT", now2026, &w), 0);
	assert_int_equal(w, M);
	assert_int_equal(timefmt_parse_retry_after("Monday, 01-Jan-90 00:00:00 GMT", now2026, &w), 0);
	assert_int_equal(w, 0); /* 1990, not 2090 */
	assert_int_equal(timefmt_parse_retry_after("Tue, 29 Feb 2028 00:00:00 GMT", now2026, &w), 0);
	assert_true(w > 0);
}

static void test_retry_after_bad_dates(void **state)
{
	int64_t w = 11;

	(void)state;
	const char *bad[] = {
		"Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37", "Sun 06 Nov 1994 08:49:37 GMT",
		"Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
		"Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 29 Feb 2026 08:49:37 GMT",
		"Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 nov 1994 08:49:37 GMT", "Sunday, 06-Nov-1994 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994 GMT", "2026-12-28T09:00:00Z",
		"Sun, 06 Nov 1994 08:49:37 GMT and then some more text to make it long",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (timefmt_parse_retry_after(bad[i], 0, &w) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(w, 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parse_valid),
		cmocka_unit_test(test_duration_parse_invalid),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_duration_round_trip),
		cmocka_unit_test(test_time_parse_valid),
		cmocka_unit_test(test_time_parse_invalid),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_time_round_trip_vs_timegm),
		cmocka_unit_test(test_retry_after_seconds),
		cmocka_unit_test(test_retry_after_dates),
		cmocka_unit_test(test_retry_after_bad_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
