/*
 * test_timefmt.c - durations, RFC 3339 times, Retry-After.
 */
#include <errno.h>
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
		{ "007s", 7 * S }, { "36525d", 36525 * D }, { "876600h", TIMEFMT_MAX_DURATION_MS },
		{ "36524d23h59m59s999ms1ms", TIMEFMT_MAX_DURATION_MS },
		{ "3155760000000ms", TIMEFMT_MAX_DURATION_MS },
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
		"5s\n", "99999999999999999999999x", "99999999999999999999999", "36526d-",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 12345;
		errno = 0;
		if (timefmt_parse_duration(bad[i], &ms) != -1)
			fail_msg("accepted \"%s\"", bad[i] ? bad[i] : "(null)");
		assert_int_equal(ms, 12345);
		if (errno != EINVAL)
			fail_msg("\"%s\": errno %d, want EINVAL", bad[i] ? bad[i] : "(null)", errno);
	}
}

/* Over 100 years: refused (ERANGE), however the total is reached. */
static void test_duration_parse_too_long(void **state)
{
	const char *big[] = {
		"36525d1ms", "36526d", "876601h", "3155760000001ms",
		"106751991167d",             /* now + this wrapped due_at negative */
		"106751991168d",             /* past INT64_MAX ms */
		"9223372036854775807ms",
		"9223372036854775808ms",     /* digits overflow int64 */
		"99999999999999999999999s",
		"9223372036854775807ms1ms",  /* the sum overflows int64 */
		"36525d36525d", "18263d18263d",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		int64_t ms = 12345;
		errno = 0;
		if (timefmt_parse_duration(big[i], &ms) != -1)
			fail_msg("accepted \"%s\" as %lld", big[i], (long long)ms);
		assert_int_equal(ms, 12345);
		if (errno != ERANGE)
			fail_msg("\"%s\": errno %d, want ERANGE", big[i], errno);
	}
}

/*
 * Random texts of 1 to 4 parts with numbers of 1 to 22 digits: accepted
 * exactly when the true total (computed in 128 bits) is within the bound,
 * and then with that total.
 */
static void test_duration_parse_property(void **state)
{
	static const struct { const char *name; int64_t ms; } units[] = {
		{ "ms", 1 }, { "s", S }, { "m", M }, { "h", H }, { "d", D },
	};
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	char text[160];

	(void)state;
	for (int i = 0; i < 200000; i++) {
		__int128 want = 0;
		size_t len = 0;
		int parts;

		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		parts = 1 + (int)(x % 4);
		for (int p = 0; p < parts; p++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			int digits = 1 + (int)(x % 22), u = (int)((x >> 8) % 5);
			__int128 n = 0;
			for (int d = 0; d < digits; d++) {
				x ^= x << 13; x ^= x >> 7; x ^= x << 17;
				int dig = (int)(x % 10);
				text[len++] = (char)('0' + dig);
				n = n * 10 + dig;
			}
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s", units[u].name);
			want += n * units[u].ms;
		}
		text[len] = '\0';
		int64_t ms = -1;
		int rc = timefmt_parse_duration(text, &ms);
		if (want <= TIMEFMT_MAX_DURATION_MS) {
			if (rc != 0 || ms != (int64_t)want)
				fail_msg("\"%s\": rc %d, %lld", text, rc, (long long)ms);
		} else if (rc != -1 || errno != ERANGE || ms != -1) {
			fail_msg("\"%s\" (over the bound): rc %d, %lld", text, rc, (long long)ms);
		}
	}
}

static void test_add_duration(void **state)
{
	const int64_t max = TIMEFMT_MAX_TIME_MS;
	int64_t out = 77;

	(void)state;
	assert_int_equal(timefmt_add_duration(1000, 500, &out), 0);
	assert_int_equal(out, 1500);
	assert_int_equal(timefmt_add_duration(1000, -1000, &out), 0);
	assert_int_equal(out, 0);
	assert_int_equal(timefmt_add_duration(max - 5, 5, &out), 0);
	assert_int_equal(out, max);
	out = 77;
	const struct { int64_t t, d; } bad[] = {
		{ 1000, -1001 }, { max - 5, 6 }, { max, 1 }, { INT64_MAX, 1 }, { INT64_MIN, -1 },
		{ 1, INT64_MAX }, { INT64_MAX, INT64_MAX }, { INT64_MIN, INT64_MAX },
		{ 0, INT64_MIN }, { -1, 0 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (timefmt_add_duration(bad[i].t, bad[i].d, &out) != -1)
			fail_msg("%lld + %lld accepted", (long long)bad[i].t, (long long)bad[i].d);
	assert_int_equal(out, 77);
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
		{ "2016-12-31T23:59:60Z", 1483228800000LL },   /* leap second: next minute */
		{ "9999-12-31T23:59:59Z", 253402300799000LL },
		{ "9999-12-31T23:59:59.999Z", TIMEFMT_MAX_TIME_MS },
		{ "1970-01-01T01:00:00+01:00", 0 },
		{ "9999-12-31T23:59:59.999+23:59", TIMEFMT_MAX_TIME_MS - 23 * H - 59 * M },
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
		errno = 0;
		if (timefmt_parse_time(bad[i], &ms) != -1)
			fail_msg("accepted \"%s\"", bad[i] ? bad[i] : "(null)");
		assert_int_equal(ms, 99);
		assert_int_equal(errno, EINVAL);
	}
}

/* Valid RFC 3339, but outside 1970 .. 9999 once the offset is applied. */
static void test_time_parse_out_of_range(void **state)
{
	const char *far[] = {
		"1969-12-31T23:59:59Z", "1969-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z",
		"0000-01-01T00:00:00Z", "1970-01-01T00:00:00+00:01", "1970-01-01T00:59:59.999+01:00",
		"9999-12-31T23:59:59-00:01", "9999-12-31T23:59:60Z", "9999-12-31T23:00:00-23:59",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
		int64_t ms = 99;
		errno = 0;
		if (timefmt_parse_time(far[i], &ms) != -1)
			fail_msg("accepted \"%s\" as %lld", far[i], (long long)ms);
		assert_int_equal(ms, 99);
		assert_int_equal(errno, ERANGE);
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

/* Every day from 1970 to 2500 (leap rules included) agrees with timegm. */
static void test_time_round_trip_vs_timegm(void **state)
{
	char out[TIMEFMT_TIME_LEN];
	int64_t back;

	(void)state;
	for (int64_t day = 0; day < 194000; day += 1) {
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
	/* Saturates at the longest duration: now + wait cannot overflow. */
	assert_int_equal(timefmt_parse_retry_after("99999999999999999999999", 0, &w), 0);
	assert_int_equal(w, TIMEFMT_MAX_DURATION_MS);
	assert_int_equal(timefmt_parse_retry_after("9223372036854775807", 0, &w), 0);
	assert_int_equal(w, TIMEFMT_MAX_DURATION_MS);
	assert_int_equal(timefmt_parse_retry_after("3155760000", 0, &w), 0);
	assert_int_equal(w, TIMEFMT_MAX_DURATION_MS);
	assert_int_equal(timefmt_parse_retry_after("3155759999", 0, &w), 0);
	assert_int_equal(w, TIMEFMT_MAX_DURATION_MS - S);
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
	/* Far ahead, or any clock at all: saturated, never negative, no overflow. */
	assert_int_equal(timefmt_parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now2026, &w), 0);
	assert_int_equal(w, TIMEFMT_MAX_DURATION_MS);
	assert_int_equal(timefmt_parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MIN, &w), 0);
	assert_int_equal(w, TIMEFMT_MAX_DURATION_MS);
	assert_int_equal(timefmt_parse_retry_after("Monday, 01-Jan-90 00:00:00 GMT", INT64_MAX, &w), 0);
	assert_int_equal(w, 0);
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
		cmocka_unit_test(test_duration_parse_too_long),
		cmocka_unit_test(test_duration_parse_property),
		cmocka_unit_test(test_add_duration),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_duration_round_trip),
		cmocka_unit_test(test_time_parse_valid),
		cmocka_unit_test(test_time_parse_invalid),
		cmocka_unit_test(test_time_parse_out_of_range),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_time_round_trip_vs_timegm),
		cmocka_unit_test(test_retry_after_seconds),
		cmocka_unit_test(test_retry_after_dates),
		cmocka_unit_test(test_retry_after_bad_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
