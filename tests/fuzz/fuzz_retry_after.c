/*
 * fuzz_retry_after.c - libFuzzer harness for the Retry-After parser
 * (timefmt_parse_retry_after). Bytes 0-3: "now", big-endian seconds since
 * the epoch (so dates before and after it are both reached); the rest is the
 * header value. A parsed wait is never negative.
 */
#include "jobs/timefmt.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t now_ms, wait_ms = -1;
	char *value;

	if (size < 4)
		return 0;
	now_ms = ((int64_t)data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3]) * 1000;
	value = fuzz_strndup(data + 4, size - 4);
	if (timefmt_parse_retry_after(value, now_ms, &wait_ms) == 0 && wait_ms < 0)
		abort();
	free(value);
	return 0;
}
