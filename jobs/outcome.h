/*
 * outcome.h - what an HTTP answer means (DESIGN 3 "Attempt outcome") and
 * reading the services' JSON. Pure: the caller did the I/O.
 */
#ifndef TENANTDEL_OUTCOME_H
#define TENANTDEL_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

/* How the transport ended, before any HTTP status is looked at. */
enum outcome_transport {
	TRANSPORT_OK,         /* a complete HTTP answer was received */
	TRANSPORT_TIMEOUT,    /* slower than the service timeout */
	TRANSPORT_CONNECT,    /* refused, reset, DNS, TLS handshake ... */
	TRANSPORT_TOO_LARGE,  /* body over OUTCOME_MAX_BODY */
	TRANSPORT_OTHER,
};

#define OUTCOME_MAX_BODY (1024 * 1024)

struct outcome_http {
	enum outcome_transport transport;
	const char *transport_error; /* curl's message, or NULL */
	long status;                 /* HTTP status, 0 when no answer */
	const char *body;            /* may be NULL */
	size_t body_len;
	const char *retry_after;     /* Retry-After header value or NULL */
	int64_t now_ms;
};

enum outcome_kind {
	OUTCOME_SUCCESS,
	OUTCOME_RETRY,     /* retryable failure */
	OUTCOME_PERMANENT, /* task dead at once */
};

struct outcome {
	enum outcome_kind kind;
	int uses_attempt;        /* 0 when the service asked for the wait (429/503 + Retry-After) */
	int counts_for_breaker;  /* 1 for 5xx, time-outs, connection errors */
	int64_t retry_after_ms;  /* -1 when the service gave no Retry-After */
	char *counts_json;       /* {"table": n, ...} or NULL (no counts, or a preview that
				    gave only total_records); malloc'ed; valid UTF-8,
				    each n printed as an exact integer */
	int64_t total;           /* sum of counts, or preview total_records; 0 if none */
	int has_counts;          /* 1 when counts/total came from the answer */
	char error[512];         /* "" on success; else one line of valid UTF-8, body
				    excerpt included */
};

/* Frees counts_json; the struct itself is the caller's. NULL-safe. */
void outcome_clear(struct outcome *o);

/*
 * Classifies the answer to a DELETE (delete, suspend or restore call).
 * on_404_fail: 1 when the service has on_404 = fail. Fills *out (which the
 * caller later outcome_clear()s). Can't fail.
 *
 * A count is a JSON number written as a whole number in [0, INT64_MAX]
 * ("12" or "12.0"), read exactly. A 2xx answer whose deleted_counts is not
 * null and not an object of counts with distinct names (at most 1000,
 * summing within INT64_MAX) is a retryable "unreadable answer", like one
 * that is not JSON. Transport OTHER and TOO_LARGE, 408/425/429 and unreadable 2xx answers are
 * retryable but do not count for the breaker; 3xx and 4xx other than
 * 404/408/425/429 are permanent; 1xx and statuses >= 600 are retryable.
 * retry_after_ms is the service's wait, uncapped: the caller caps it.
 */
void outcome_classify_delete(const struct outcome_http *h, int on_404_fail,
			     struct outcome *out);

/*
 * Classifies the answer to a deletion-preview GET. Success sets counts_json
 * from "preview" and total from "total_records" (else the sum of preview);
 * 404 is success with counts_json "{}", total 0, has_counts 1. An answer
 * that cannot prove its count is a retryable "unreadable answer", never
 * zero: empty, 204, not an object, neither field, a field present that is
 * not readable as counts are in deleted_counts (a string total, a negative
 * or fractional count, a table named twice ...), or a total_records
 * smaller than the sum of preview. Can't fail.
 */
void outcome_classify_preview(const struct outcome_http *h, struct outcome *out);

#endif
