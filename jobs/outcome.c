/*
 * outcome.c - classifying HTTP answers (DESIGN 3 "Attempt outcome") and
 * reading the services' JSON. Every byte of the answer is hostile: bodies
 * may be HTML, truncated, deeply nested, hold strings where numbers belong,
 * negative or huge numbers, or invalid UTF-8.
 *
 * Counts: a count is a JSON number that is a whole number in [0, 2^53].
 * - delete answers: other entries are left out of counts_json and total
 *   (the service said the deletion succeeded; a bad count must not turn
 *   that into endless retries);
 * - preview answers: any other entry makes the whole answer unreadable
 *   (a retryable failure), since verification must never read "zero
 *   records remain" from an answer it could not read.
 * A table named twice keeps its larger count. At most OUTCOME_MAX_TABLES
 * tables (and 4x as many members) are read; past that, the rest are left out
 * of a delete's counts, and a preview is unreadable.
 */
#include "jobs/outcome.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/timefmt.h"
#include "util/util.h"

#define OUTCOME_MAX_TABLES 1000
#define EXCERPT_CHARS 200
#define EXCERPT_BYTES 320
#define COUNT_MAX 9007199254740992.0 /* 2^53: larger doubles are not exact */

static void set_error(struct outcome *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct outcome *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->error, sizeof(o->error), fmt, ap);
	va_end(ap);
}

static void outcome_init(struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = OUTCOME_SUCCESS;
	o->uses_attempt = 1;
	o->retry_after_ms = -1;
}

/* Frees counts_json; NULL-safe. The struct stays usable (counts cleared). */
void outcome_clear(struct outcome *o)
{
	if (o == NULL)
		return;
	free(o->counts_json);
	o->counts_json = NULL;
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (p[0] == 0xe0) lo = 0xa0;
	if (p[0] == 0xed) hi = 0x9f;
	if (p[0] == 0xf0) lo = 0x90;
	if (p[0] == 0xf4) hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/*
 * Writes a one-line excerpt of s (n bytes) into dst (EXCERPT_BYTES + 4):
 * runs of whitespace and control characters become one space, invalid
 * UTF-8 bytes become '?', at most EXCERPT_CHARS characters, "..." when cut.
 */
static void excerpt(const char *s, size_t n, char *dst)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	size_t len = 0, chars = 0;
	int space = 1; /* drops leading blanks */

	while (p < end && chars < EXCERPT_CHARS && len + 4 <= EXCERPT_BYTES) {
		size_t k = utf8_len(p, (size_t)(end - p));
		if (*p < 0x20 || *p == 0x7f || *p == ' ') {
			if (!space) {
				dst[len++] = ' ';
				chars++;
			}
			space = 1;
			p++;
			continue;
		}
		space = 0;
		if (k == 0) {
			dst[len++] = '?';
			k = 1;
		} else {
			memcpy(dst + len, p, k);
			len += k;
		}
		p += k;
		chars++;
	}
	while (p < end && (*p < 0x20 || *p == ' ' || *p == 0x7f))
		p++;
	while (len > 0 && dst[len - 1] == ' ')
		len--;
	if (p < end) {
		memcpy(dst + len, "...", 3);
		len += 3;
	}
	dst[len] = '\0';
}

/* "HTTP 401: <excerpt>" ("HTTP 401" when the body is empty). */
static void set_http_error(struct outcome *o, const struct outcome_http *h, const char *what)
{
	char ex[EXCERPT_BYTES + 4] = "";

	if (h->body != NULL)
		excerpt(h->body, h->body_len, ex);
	if (ex[0] != '\0')
		set_error(o, "%sHTTP %ld: %s", what, h->status, ex);
	else
		set_error(o, "%sHTTP %ld", what, h->status);
}

/* "<prefix>: <curl message>", or just the prefix. */
static void set_transport_error(struct outcome *o, const struct outcome_http *h,
				const char *prefix)
{
	char ex[EXCERPT_BYTES + 4] = "";

	if (h->transport_error != NULL)
		excerpt(h->transport_error, strlen(h->transport_error), ex);
	if (ex[0] != '\0')
		set_error(o, "%s: %s", prefix, ex);
	else
		set_error(o, "%s", prefix);
}

/* Transport failures; returns 1 when *o is decided. */
static int classify_transport(const struct outcome_http *h, struct outcome *o)
{
	switch (h->transport) {
	case TRANSPORT_OK:
		if (h->body_len <= OUTCOME_MAX_BODY)
			return 0;
		set_error(o, "answer larger than 1 MiB");
		break;
	case TRANSPORT_TIMEOUT:
		o->counts_for_breaker = 1;
		set_transport_error(o, h, "timed out");
		break;
	case TRANSPORT_CONNECT:
		o->counts_for_breaker = 1;
		set_transport_error(o, h, "connection failed");
		break;
	case TRANSPORT_TOO_LARGE:
		set_error(o, "answer larger than 1 MiB");
		break;
	default:
		set_transport_error(o, h, "transfer failed");
		break;
	}
	o->kind = OUTCOME_RETRY;
	return 1;
}

/*
 * Non-2xx statuses. 404 is decided by the caller. 408/425/429/5xx are
 * retryable (5xx alone counts for the breaker), with Retry-After honoured;
 * a 429/503 that names its wait does not use up an attempt. 3xx and other
 * 4xx are permanent (a redirect that is not followed means a wrong URL);
 * anything else (1xx, >= 600) is retryable.
 */
static void classify_failure_status(const struct outcome_http *h, struct outcome *o)
{
	long s = h->status;
	int64_t wait;

	if (s == 408 || s == 425 || s == 429 || (s >= 500 && s <= 599)) {
		o->kind = OUTCOME_RETRY;
		o->counts_for_breaker = s >= 500;
		set_http_error(o, h, "");
		if (h->retry_after != NULL &&
		    timefmt_parse_retry_after(h->retry_after, h->now_ms, &wait) == 0) {
			o->retry_after_ms = wait;
			if (s == 429 || s == 503)
				o->uses_attempt = 0;
		}
	} else if (s >= 300 && s <= 499) {
		o->kind = OUTCOME_PERMANENT;
		set_http_error(o, h, "");
	} else {
		o->kind = OUTCOME_RETRY;
		set_http_error(o, h, "unexpected status: ");
	}
}

static int is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* The body as a JSON object, or NULL when it is anything else. Caller
 * cJSON_Delete()s. cJSON limits nesting depth (CJSON_NESTING_LIMIT). */
static cJSON *parse_object(const struct outcome_http *h)
{
	const char *body = h->body, *end = NULL;
	size_t n = h->body_len;
	cJSON *root;

	if (body == NULL || n == 0)
		return NULL;
	if (n >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0) {
		body += 3;
		n -= 3;
	}
	root = cJSON_ParseWithLengthOpts(body, n, &end, 0);
	if (root == NULL)
		return NULL;
	if (!cJSON_IsObject(root) || end == NULL || end < body ||
	    !is_blank(end, n - (size_t)(end - body))) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

static void set_unreadable(struct outcome *o, const struct outcome_http *h, const char *why)
{
	char what[96];

	o->kind = OUTCOME_RETRY;
	snprintf(what, sizeof(what), "unreadable answer (%s): ", why);
	set_http_error(o, h, what);
}

/* An object member, only when it is an object. */
static cJSON *get_object(const cJSON *parent, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);

	return cJSON_IsObject(v) ? v : NULL;
}

/*
 * success: false, in "summary" or at the top level: a retryable failure
 * that keeps the service's "errors" (else its "message"). Returns 1 then.
 */
static int reported_failure(const struct outcome_http *h, const cJSON *root, struct outcome *o)
{
	const cJSON *summary = get_object(root, "summary");
	const cJSON *errs = NULL;
	char *text = NULL;
	char ex[EXCERPT_BYTES + 4] = "";

	if (!cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(summary, "success")) &&
	    !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "success")))
		return 0;
	if (summary != NULL)
		errs = cJSON_GetObjectItemCaseSensitive(summary, "errors");
	if (errs == NULL)
		errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	if (errs == NULL)
		errs = cJSON_GetObjectItemCaseSensitive(root, "message");
	if (errs != NULL)
		text = cJSON_PrintUnformatted(errs);
	if (text != NULL)
		excerpt(text, strlen(text), ex);
	free(text);
	o->kind = OUTCOME_RETRY;
	set_error(o, "service reported failure (HTTP %ld, success false): errors %s",
		  h->status, ex[0] ? ex : "none given");
	return 1;
}

/* 0 and *v when item is a whole number in [0, 2^53]; -1 otherwise. */
static int read_count(const cJSON *item, int64_t *v)
{
	double d;

	if (!cJSON_IsNumber(item))
		return -1;
	d = item->valuedouble;
	if (!isfinite(d) || d < 0 || d > COUNT_MAX || floor(d) != d)
		return -1;
	*v = (int64_t)d;
	return 0;
}

struct counts {
	const char *names[OUTCOME_MAX_TABLES];
	int64_t values[OUTCOME_MAX_TABLES];
	size_t n;
	int bad;  /* entries that were not counts, or beyond the limit */
};

/* Reads every member of obj into c; a table named twice keeps the larger. */
static void read_counts(const cJSON *obj, struct counts *c)
{
	const cJSON *item;
	size_t seen = 0;

	cJSON_ArrayForEach(item, obj) {
		int64_t v;
		size_t i;

		if (++seen > 4 * OUTCOME_MAX_TABLES) { /* bounds the duplicate search */
			c->bad++;
			break;
		}
		if (item->string == NULL || read_count(item, &v) < 0) {
			c->bad++;
			continue;
		}
		for (i = 0; i < c->n && strcmp(c->names[i], item->string) != 0; i++)
			;
		if (i < c->n) {
			if (v > c->values[i])
				c->values[i] = v;
		} else if (c->n < OUTCOME_MAX_TABLES) {
			c->names[c->n] = item->string;
			c->values[c->n++] = v;
		} else {
			c->bad++;
		}
	}
}

/* Renders c into o->counts_json (integers printed exactly) and o->total.
 * The sum cannot overflow: at most 1000 values of at most 2^53. */
static void store_counts(const struct counts *c, struct outcome *o)
{
	cJSON *obj = cJSON_CreateObject();
	char num[24];

	o->total = 0;
	for (size_t i = 0; i < c->n; i++) {
		snprintf(num, sizeof(num), "%lld", (long long)c->values[i]);
		cJSON_AddRawToObject(obj, c->names[i], num);
		o->total += c->values[i];
	}
	o->counts_json = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (o->counts_json == NULL) {
		fprintf(stderr, "tenantdel: out of memory rendering counts\n");
		abort();
	}
	o->has_counts = 1;
}

/* A 2xx answer to a DELETE. */
static void classify_delete_2xx(const struct outcome_http *h, struct outcome *o)
{
	cJSON *root, *counts;
	struct counts *c;

	if (h->status == 204 || h->body == NULL || is_blank(h->body, h->body_len))
		return;
	root = parse_object(h);
	if (root == NULL) {
		set_unreadable(o, h, "not a JSON object");
		return;
	}
	if (!reported_failure(h, root, o)) {
		counts = get_object(get_object(root, "summary"), "deleted_counts");
		if (counts == NULL)
			counts = get_object(root, "deleted_counts");
		if (counts != NULL) {
			c = xcalloc(1, sizeof(*c));
			read_counts(counts, c);
			store_counts(c, o);
			free(c);
		}
	}
	cJSON_Delete(root);
}

/* See outcome.h. */
void outcome_classify_delete(const struct outcome_http *h, int on_404_fail,
			     struct outcome *out)
{
	outcome_init(out);
	if (classify_transport(h, out))
		return;
	if (h->status >= 200 && h->status <= 299) {
		classify_delete_2xx(h, out);
	} else if (h->status == 404) {
		if (on_404_fail) {
			out->kind = OUTCOME_PERMANENT;
			set_http_error(out, h, "");
		}
	} else {
		classify_failure_status(h, out);
	}
}

/*
 * The counts and total of a preview object. total_records, when it is a
 * number, must be a count; when both it and "preview" are given, the larger
 * of total_records and the sum of preview is the total, so a service whose
 * two figures disagree cannot pass verification with records left.
 * Returns NULL, or the reason the answer is unreadable.
 */
static const char *read_preview(const cJSON *root, struct outcome *o)
{
	const cJSON *pv = cJSON_GetObjectItemCaseSensitive(root, "preview");
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "total_records");
	int64_t total = -1;
	struct counts *c;

	if (pv != NULL && !cJSON_IsObject(pv))
		return "preview is not an object";
	if (cJSON_IsNumber(tr) && read_count(tr, &total) < 0)
		return "total_records is not a whole number >= 0";
	if (pv == NULL && total < 0)
		return "neither preview nor total_records";
	if (pv != NULL) {
		c = xcalloc(1, sizeof(*c));
		read_counts(pv, c);
		if (c->bad) {
			free(c);
			return "a preview count is not a whole number >= 0";
		}
		store_counts(c, o);
		free(c);
	}
	if (total > o->total)
		o->total = total;
	o->has_counts = 1;
	return NULL;
}

/* See outcome.h. An empty 2xx answer (or 204) is unreadable: it cannot
 * show that zero records remain. */
void outcome_classify_preview(const struct outcome_http *h, struct outcome *out)
{
	cJSON *root;
	const char *why;

	outcome_init(out);
	if (classify_transport(h, out))
		return;
	if (h->status == 404) {
		out->counts_json = xstrdup("{}");
		out->has_counts = 1;
		return;
	}
	if (h->status < 200 || h->status > 299) {
		classify_failure_status(h, out);
		return;
	}
	root = parse_object(h);
	if (root == NULL) {
		int empty = h->body == NULL || is_blank(h->body, h->body_len);
		set_unreadable(out, h, empty ? "empty preview" : "not a JSON object");
		return;
	}
	if (!reported_failure(h, root, out)) {
		why = read_preview(root, out);
		if (why != NULL) {
			outcome_clear(out);
			out->total = 0;
			out->has_counts = 0;
			set_unreadable(out, h, why);
		}
	}
	cJSON_Delete(root);
}
