/*
 * outcome.c - classifying HTTP answers (DESIGN 3 "Attempt outcome") and
 * reading the services' JSON. Every byte of the answer is hostile: bodies
 * may be HTML, truncated, deeply nested, hold strings where numbers belong,
 * negative or huge numbers, or invalid UTF-8.
 *
 * Counts: a count is a JSON number written as a whole number in
 * [0, INT64_MAX] (digits, optionally ".0..."), read exactly from its text
 * (cJSON alone keeps a double, exact only up to 2^53). An answer with any
 * other entry in a count object, a table named twice, more than
 * OUTCOME_MAX_TABLES tables, or counts whose sum overflows is unreadable
 * (a retryable failure): verification must never read "zero records
 * remain", nor a certificate a count, from an answer it could not read.
 *
 * Text that comes from a service (count names, excerpts of bodies) leaves
 * this file as valid UTF-8: each byte that does not start a valid sequence
 * becomes U+FFFD.
 */
#include "jobs/outcome.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/timefmt.h"
#include "util/json.h"
#include "util/utf8.h"
#include "util/util.h"

#define OUTCOME_MAX_TABLES 1000
#define EXCERPT_CHARS 200
#define EXCERPT_BYTES 320

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

/*
 * Writes a one-line excerpt of s (n bytes) into dst (EXCERPT_BYTES + 4):
 * runs of whitespace and control characters become one space, bytes that
 * are not UTF-8 become U+FFFD, at most EXCERPT_CHARS characters, "..." when cut.
 */
static void excerpt(const char *s, size_t n, char *dst)
{
	const char *p = s, *end = s + n;
	size_t len = 0, chars = 0, used, k;
	int space = 1; /* drops leading blanks */

	while (p < end && chars < EXCERPT_CHARS && len + 4 <= EXCERPT_BYTES) {
		unsigned char b = (unsigned char)*p;
		if (b < 0x20 || b == 0x7f || b == ' ') {
			if (!space) {
				dst[len++] = ' ';
				chars++;
			}
			space = 1;
			p++;
			continue;
		}
		space = 0;
		const char *c = utf8_char(p, (size_t)(end - p), &used, &k);
		memcpy(dst + len, c, k);
		len += k;
		p += used;
		chars++;
	}
	while (p < end && ((unsigned char)*p < 0x20 || *p == ' ' || *p == 0x7f))
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

/* The body as a JSON object, its numbers' texts kept (util/json.h), or
 * NULL when it is anything else. Caller cJSON_Delete()s. cJSON limits
 * nesting depth (CJSON_NESTING_LIMIT). */
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
	root = json_parse_numbers(body, n, &end);
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
	char what[160];

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

/*
 * 0 and *v when item is a count: a number written as a whole number in
 * [0, INT64_MAX], digits with at most a fraction of zeros ("12", "12.0");
 * -1 for anything else (a sign, an exponent, a string, ...).
 */
static int read_count(const cJSON *item, int64_t *v)
{
	const char *p;
	int64_t n = 0;

	if (!cJSON_IsNumber(item) || item->valuestring == NULL)
		return -1;
	p = item->valuestring;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	if (*p == '.' && p[1] == '0')
		for (p++; *p == '0'; p++)
			;
	if (*p != '\0')
		return -1;
	*v = n;
	return 0;
}

/* Grown as tables come (at most OUTCOME_MAX_TABLES): a fixed 16 KB array
 * zeroed for each answer was the largest cost of classifying one. */
struct counts {
	char **names; /* valid UTF-8, owned */
	int64_t *values;
	size_t n, cap_names, cap_values;
	int64_t total;
};

static void counts_free(struct counts *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
	free(c->values);
	free(c);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 when two of c's tables have the same name. */
static int has_duplicate(const struct counts *c)
{
	char **sorted;
	int dup = 0;

	if (c->n < 2)
		return 0; /* names is NULL when there are none */
	sorted = xmalloc(c->n * sizeof *sorted);
	memcpy(sorted, c->names, c->n * sizeof *sorted);
	qsort(sorted, c->n, sizeof *sorted, cmp_names);
	for (size_t i = 1; i < c->n && !dup; i++)
		dup = strcmp(sorted[i - 1], sorted[i]) == 0;
	free(sorted);
	return dup;
}

/* Why an answer is unreadable. */
struct why {
	char text[128];
};

static int unreadable(struct why *why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Writes the reason into why; returns -1. */
static int unreadable(struct why *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why->text, sizeof why->text, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Reads the count object obj (what names it): a new struct counts (caller
 * counts_free()s), or NULL with the reason it is unreadable in why.
 */
static struct counts *read_counts(const cJSON *obj, const char *what, struct why *why)
{
	struct counts *c = xcalloc(1, sizeof(*c));
	const cJSON *item;
	int64_t v;

	cJSON_ArrayForEach(item, obj) {
		if (c->n == OUTCOME_MAX_TABLES) {
			unreadable(why, "%s: more than %d tables", what, OUTCOME_MAX_TABLES);
			goto fail;
		}
		if (read_count(item, &v) < 0) {
			unreadable(why, "%s: a count is not a whole number >= 0", what);
			goto fail;
		}
		if (v > INT64_MAX - c->total) {
			unreadable(why, "%s: the counts add up past %lld", what,
				   (long long)INT64_MAX);
			goto fail;
		}
		c->names = xreserve(c->names, &c->cap_names, c->n + 1, sizeof *c->names);
		c->values = xreserve(c->values, &c->cap_values, c->n + 1, sizeof *c->values);
		c->names[c->n] = utf8_clean(item->string, strlen(item->string));
		c->values[c->n++] = v;
		c->total += v;
	}
	if (!has_duplicate(c))
		return c;
	unreadable(why, "%s: a table is named twice", what);
fail:
	counts_free(c);
	return NULL;
}

/* Renders c into o->counts_json (integers printed exactly) and o->total. */
static void store_counts(const struct counts *c, struct outcome *o)
{
	cJSON *obj = cJSON_CreateObject();

	for (size_t i = 0; i < c->n; i++)
		json_add_int(obj, c->names[i], c->values[i]);
	o->counts_json = json_print_owned(obj);
	o->total = c->total;
	o->has_counts = 1;
}

/* The deleted_counts of a 2xx answer (in "summary", else at the top
 * level; null or absent: no counts). 0, or -1 with why. */
static int read_deleted_counts(const cJSON *root, struct outcome *o, struct why *why)
{
	const cJSON *summary = get_object(root, "summary");
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(summary, "deleted_counts");
	struct counts *c;

	if (obj == NULL)
		obj = cJSON_GetObjectItemCaseSensitive(root, "deleted_counts");
	if (obj == NULL || cJSON_IsNull(obj))
		return 0;
	if (!cJSON_IsObject(obj))
		return unreadable(why, "deleted_counts is not an object");
	c = read_counts(obj, "deleted_counts", why);
	if (c == NULL)
		return -1;
	store_counts(c, o);
	counts_free(c);
	return 0;
}

/* A 2xx answer to a DELETE. */
static void classify_delete_2xx(const struct outcome_http *h, struct outcome *o)
{
	cJSON *root;
	struct why why;

	if (h->status == 204 || h->body == NULL || is_blank(h->body, h->body_len))
		return;
	root = parse_object(h);
	if (root == NULL) {
		set_unreadable(o, h, "not a JSON object");
		return;
	}
	if (!reported_failure(h, root, o) && read_deleted_counts(root, o, &why) < 0)
		set_unreadable(o, h, why.text);
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
 * The counts and total of a preview object. Each of "preview" and
 * "total_records" that is present must be readable; when both are, the
 * total is total_records, which may count more than the tables listed but
 * never less. Returns 0, or -1 with the reason the answer is unreadable.
 */
static int read_preview(const cJSON *root, struct outcome *o, struct why *why)
{
	const cJSON *pv = cJSON_GetObjectItemCaseSensitive(root, "preview");
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "total_records");
	int64_t total = -1;
	struct counts *c;

	if (pv != NULL && !cJSON_IsObject(pv))
		return unreadable(why, "preview is not an object");
	if (tr != NULL && read_count(tr, &total) < 0)
		return unreadable(why, "total_records is not a whole number >= 0");
	if (pv == NULL && tr == NULL)
		return unreadable(why, "neither preview nor total_records");
	if (pv != NULL) {
		c = read_counts(pv, "preview", why);
		if (c == NULL)
			return -1;
		if (tr != NULL && total < c->total) {
			counts_free(c);
			return unreadable(why, "total_records is less than the sum of preview");
		}
		store_counts(c, o);
		counts_free(c);
	}
	if (tr != NULL)
		o->total = total;
	o->has_counts = 1;
	return 0;
}

/* See outcome.h. An empty 2xx answer (or 204) is unreadable: it cannot
 * show that zero records remain. */
void outcome_classify_preview(const struct outcome_http *h, struct outcome *out)
{
	cJSON *root;
	struct why why;

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
	if (!reported_failure(h, root, out) && read_preview(root, out, &why) < 0) {
		outcome_clear(out);
		out->total = 0;
		out->has_counts = 0;
		set_unreadable(out, h, why.text);
	}
	cJSON_Delete(root);
}
