/*
 * timefmt.h - durations ("500ms", "1h30m", "30d") and RFC 3339 times.
 * Inside, time is integer milliseconds since the epoch (UTC).
 */
#ifndef TENANTDEL_TIMEFMT_H
#define TENANTDEL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/*
 * The bounds of every duration and time tenantdel accepts: a duration is at
 * most 100 years (of 365.25 days), a time lies from 1970-01-01T00:00:00Z to
 * 9999-12-31T23:59:59.999Z. Within them no sum of a time and a duration can
 * overflow an int64, but add with timefmt_add_duration all the same.
 */
#define TIMEFMT_MAX_DURATION_MS (36525LL * 24 * 60 * 60 * 1000)
#define TIMEFMT_MIN_TIME_MS 0LL
#define TIMEFMT_MAX_TIME_MS 253402300799999LL

/*
 * Parses a duration: one or more <digits><unit> with units ms, s, m, h, d
 * (e.g. "45s", "1h30m", "500ms"); "0" alone is accepted as zero. Returns 0
 * and stores milliseconds in *ms, or -1 with errno EINVAL on bad syntax,
 * ERANGE when longer than TIMEFMT_MAX_DURATION_MS (*ms untouched).
 */
int timefmt_parse_duration(const char *s, int64_t *ms);

/*
 * t + d (d may be negative) into *out. Returns 0, or -1 (*out untouched)
 * when the sum overflows or falls outside TIMEFMT_MIN_TIME_MS ..
 * TIMEFMT_MAX_TIME_MS. The one place where a duration is added to a time.
 */
int timefmt_add_duration(int64_t t, int64_t d, int64_t *out);

/* Formats a duration in the shortest exact form ("1h30m", "500ms", "0s"). */
void timefmt_format_duration(int64_t ms, char *out, size_t outlen);

/*
 * Parses an RFC 3339 time ("2026-12-28T09:00:00Z", fractional seconds and
 * +hh:mm offsets allowed, 'T' or 't' or ' ' separator). Returns 0 and the
 * epoch milliseconds in *ms, or -1 with errno EINVAL when invalid (including
 * impossible dates), ERANGE when outside TIMEFMT_MIN_TIME_MS ..
 * TIMEFMT_MAX_TIME_MS (*ms untouched).
 */
int timefmt_parse_time(const char *s, int64_t *ms);

/* Formats epoch ms as RFC 3339 UTC, "2026-12-28T09:00:00Z" (".123" added
 * only when ms is not a whole second). out needs TIMEFMT_TIME_LEN bytes. */
#define TIMEFMT_TIME_LEN 32
void timefmt_format_time(int64_t ms, char out[TIMEFMT_TIME_LEN]);

/*
 * Parses an HTTP Retry-After value: delta-seconds or an HTTP-date (IMF-fixdate,
 * also RFC 850 and asctime forms). Returns 0 and the wait in ms relative to
 * now_ms (never negative, at most TIMEFMT_MAX_DURATION_MS), or -1 when
 * unparseable.
 */
int timefmt_parse_retry_after(const char *value, int64_t now_ms, int64_t *wait_ms);

#endif
