/*
 * timefmt.h - durations ("500ms", "1h30m", "30d") and RFC 3339 times.
 * Inside, time is integer milliseconds since the epoch (UTC).
 */
#ifndef TENANTDEL_TIMEFMT_H
#define TENANTDEL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a duration: one or more <digits><unit> with units ms, s, m, h, d
 * (e.g. "45s", "1h30m", "500ms"); "0" alone is accepted as zero. Returns 0
 * and stores milliseconds in *ms, or -1 on bad syntax or overflow.
 */
int timefmt_parse_duration(const char *s, int64_t *ms);

/* Formats a duration in the shortest exact form ("1h30m", "500ms", "0s"). */
void timefmt_format_duration(int64_t ms, char *out, size_t outlen);

/*
 * Parses an RFC 3339 time ("2026-12-28T09:00:00Z", fractional seconds and
 * +hh:mm offsets allowed, 'T' or 't' or ' ' separator). Returns 0 and the
 * epoch milliseconds in *ms, or -1 when invalid (including impossible dates).
 */
int timefmt_parse_time(const char *s, int64_t *ms);

/* Formats epoch ms as RFC 3339 UTC, "2026-12-28T09:00:00Z" (".123" added
 * only when ms is not a whole second). out needs TIMEFMT_TIME_LEN bytes. */
#define TIMEFMT_TIME_LEN 32
void timefmt_format_time(int64_t ms, char out[TIMEFMT_TIME_LEN]);

/*
 * Parses an HTTP Retry-After value: delta-seconds or an HTTP-date (IMF-fixdate,
 * also RFC 850 and asctime forms). Returns 0 and the wait in ms relative to
 * now_ms (never negative), or -1 when unparseable.
 */
int timefmt_parse_retry_after(const char *value, int64_t now_ms, int64_t *wait_ms);

#endif
