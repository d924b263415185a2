/*
 * fuzz_timefmt.c - libFuzzer harness for durations and RFC 3339 times
 * (timefmt_parse_duration, timefmt_parse_time). Byte 0 picks the parser
 * (even: duration, odd: time); the rest is the text. What parses must
 * format and parse back to the same value, and a duration is never
 * negative.
 */
#include "jobs/timefmt.h"
#include "tests/fuzz/fuzz.h"

static void duration_round_trip(const char *s)
{
	int64_t ms, again;
	char text[64];

	if (timefmt_parse_duration(s, &ms) < 0)
		return;
	if (ms < 0)
		abort();
	timefmt_format_duration(ms, text, sizeof text);
	if (timefmt_parse_duration(text, &again) < 0 || again != ms)
		abort();
}

static void time_round_trip(const char *s)
{
	int64_t ms, again;
	char text[TIMEFMT_TIME_LEN];

	if (timefmt_parse_time(s, &ms) < 0)
		return;
	timefmt_format_time(ms, text);
	if (timefmt_parse_time(text, &again) < 0 || again != ms)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	s = fuzz_strndup(data + 1, size - 1);
	if (data[0] & 1)
		time_round_trip(s);
	else
		duration_round_trip(s);
	free(s);
	return 0;
}
