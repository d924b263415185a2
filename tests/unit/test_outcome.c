/*
 * test_outcome.c - classifying answers (DESIGN 3 "Attempt outcome").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jobs/outcome.h"

#define NOW 1798448400000LL /* 2026-12-28T09:00:00Z */
#define R "\xef\xbf\xbd"      /* U+FFFD */

static struct outcome_http answer(long status, const char *body)
{
	struct outcome_http h = {
		.transport = TRANSPORT_OK, .status = status, .body = body,
		.body_len = body ? strlen(body) : 0, .now_ms = NOW,
	};
	return h;
}

static struct outcome del(long status, const char *body)
{
	struct outcome o;
	struct outcome_http h = answer(status, body);

	outcome_classify_delete(&h, 0, &o);
	return o;
}

static struct outcome pre(long status, const char *body)
{
	struct outcome o;
	struct outcome_http h = answer(status, body);

	outcome_classify_preview(&h, &o);
	return o;
}

static void assert_success_no_counts(struct outcome *o)
{
	assert_int_equal(o->kind, OUTCOME_SUCCESS);
	assert_int_equal(o->has_counts, 0);
	assert_null(o->counts_json);
	assert_int_equal(o->total, 0);
	assert_string_equal(o->error, "");
	assert_int_equal(o->uses_attempt, 1);
	assert_int_equal(o->counts_for_breaker, 0);
	assert_int_equal(o->retry_after_ms, -1);
}

static void test_delete_summary_counts(void **state)
{
	(void)state;
	struct outcome o = del(200,
		"{\"message\": \"ok\", \"summary\": {\"tenant_id\": \"abc-123\", \"service_name\": \"pos\","
		" \"success\": true, \"deleted_counts\": {\"pos_transactions\": 450,"
		" \"pos_transaction_items\": 1500}, \"errors\": [], \"timestamp\": \"2025-10-31T12:34:56Z\"}}");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_int_equal(o.has_counts, 1);
	assert_string_equal(o.counts_json, "{\"pos_transactions\":450,\"pos_transaction_items\":1500}");
	assert_int_equal(o.total, 1950);
	assert_string_equal(o.error, "");
	assert_int_equal(o.uses_attempt, 1);
	outcome_clear(&o);
	assert_null(o.counts_json);
	outcome_clear(&o); /* twice is fine */
	outcome_clear(NULL);
}

static void test_delete_top_level_counts(void **state)
{
	(void)state;
	struct outcome o = del(202, "{\"deleted_counts\": {\"tenants\": 1, \"tenant_members\": 3}}");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_string_equal(o.counts_json, "{\"tenants\":1,\"tenant_members\":3}");
	assert_int_equal(o.total, 4);
	outcome_clear(&o);
	/* summary wins over the top level. */
	o = del(200, "{\"deleted_counts\": {\"a\": 9}, \"summary\": {\"deleted_counts\": {\"b\": 2}}}");
	assert_string_equal(o.counts_json, "{\"b\":2}");
	outcome_clear(&o);
	/* Empty counts are counts: zero rows. */
	o = del(200, "{\"summary\": {\"success\": true, \"deleted_counts\": {}}}");
	assert_int_equal(o.has_counts, 1);
	assert_string_equal(o.counts_json, "{}");
	assert_int_equal(o.total, 0);
	outcome_clear(&o);
}

static void test_delete_no_counts(void **state)
{
	(void)state;
	const char *bodies[] = {
		NULL, "", "  \r\n\t", "{}", "{\"message\": \"deleted\"}", "{\"success\": true}",
		"{\"summary\": \"done\"}", "{\"deleted_counts\": null}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct outcome o = del(200, bodies[i]);
		assert_success_no_counts(&o);
		outcome_clear(&o);
	}
	/* 204: success whatever the body says. */
	struct outcome o = del(204, "junk");
	assert_success_no_counts(&o);
	o = del(204, NULL);
	assert_success_no_counts(&o);
}

static void test_delete_unreadable_2xx(void **state)
{
	(void)state;
	const char *bodies[] = {
		"<html><body>502 Bad Gateway</body></html>",
		"{\"summary\": {\"success\": true, \"deleted_counts\": {\"a\": 1",  /* truncated */
		"[]", "[{\"deleted_counts\": {}}]", "\"ok\"", "null", "true", "42", "ok",
		"{} trailing", "{}{}", "{\"a\":1,}", "\xff\xfe{}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct outcome o = del(200, bodies[i]);
		if (o.kind != OUTCOME_RETRY)
			fail_msg("body #%zu taken as %d", i, o.kind);
		assert_non_null(strstr(o.error, "unreadable answer"));
		assert_null(o.counts_json);
		assert_int_equal(o.has_counts, 0);
		assert_int_equal(o.uses_attempt, 1);
		assert_int_equal(o.counts_for_breaker, 0);
		outcome_clear(&o);
	}
	/* A UTF-8 BOM before the object is tolerated. */
	struct outcome o = del(200, "\xef\xbb\xbf{\"deleted_counts\": {\"x\": 2}}");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_int_equal(o.total, 2);
	outcome_clear(&o);
}

static void test_delete_success_false(void **state)
{
	(void)state;
	struct outcome o = del(200,
		"{\"summary\": {\"success\": false, \"deleted_counts\": {\"a\": 3},"
		" \"errors\": [\"table a: lock timeout\", \"table b: fk violation\"]}}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_null(o.counts_json);
	assert_non_null(strstr(o.error, "success false"));
	assert_non_null(strstr(o.error, "[\"table a: lock timeout\",\"table b: fk violation\"]"));
	assert_int_equal(o.counts_for_breaker, 0);
	assert_int_equal(o.uses_attempt, 1);
	outcome_clear(&o);

	o = del(200, "{\"success\": false, \"errors\": [\"boom\"]}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_non_null(strstr(o.error, "boom"));
	outcome_clear(&o);

	o = del(200, "{\"success\": false, \"message\": \"database is read-only\"}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_non_null(strstr(o.error, "database is read-only"));
	outcome_clear(&o);

	o = del(200, "{\"summary\": {\"success\": false}}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_non_null(strstr(o.error, "none given"));
	outcome_clear(&o);

	/* Only a JSON false counts: null, 0, "false" are not false. */
	const char *not_false[] = { "{\"success\": null}", "{\"success\": 0}",
				    "{\"success\": \"false\"}" };
	for (size_t i = 0; i < 3; i++) {
		o = del(200, not_false[i]);
		assert_int_equal(o.kind, OUTCOME_SUCCESS);
		outcome_clear(&o);
	}
}

static void test_delete_404(void **state)
{
	struct outcome o;
	struct outcome_http h = answer(404, "{\"detail\": \"Not Found\"}");

	(void)state;
	outcome_classify_delete(&h, 0, &o);
	assert_success_no_counts(&o);
	outcome_classify_delete(&h, 1, &o);
	assert_int_equal(o.kind, OUTCOME_PERMANENT);
	assert_string_equal(o.error, "HTTP 404: {\"detail\": \"Not Found\"}");
	assert_int_equal(o.counts_for_breaker, 0);
	outcome_clear(&o);
}

static void test_delete_retryable_statuses(void **state)
{
	(void)state;
	const long statuses[] = { 408, 425, 429, 500, 502, 503, 504, 599 };
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		long s = statuses[i];
		struct outcome o = del(s, "busy");
		char want[64];
		assert_int_equal(o.kind, OUTCOME_RETRY);
		assert_int_equal(o.counts_for_breaker, s >= 500);
		assert_int_equal(o.uses_attempt, 1);
		assert_int_equal(o.retry_after_ms, -1);
		snprintf(want, sizeof(want), "HTTP %ld: busy", s);
		assert_string_equal(o.error, want);
		assert_null(o.counts_json);
		outcome_clear(&o);
	}
}

static void test_delete_retry_after(void **state)
{
	struct outcome o;
	struct outcome_http h;

	(void)state;
	const struct { long status; const char *ra; int64_t ms; int uses; } cases[] = {
		{ 429, "120", 120000, 0 },
		{ 503, "7", 7000, 0 },
		{ 503, "Mon, 28 Dec 2026 09:01:00 GMT", 60000, 0 },
		{ 429, "Monday, 28-Dec-26 09:00:30 GMT", 30000, 0 },
		{ 429, "Mon Dec 28 09:00:05 2026", 5000, 0 },
		{ 503, "Mon, 28 Dec 2026 08:00:00 GMT", 0, 0 },   /* past: no wait */
		{ 500, "10", 10000, 1 },  /* honoured, but uses an attempt */
		{ 502, "10", 10000, 1 },
		{ 408, "3", 3000, 1 },
		{ 425, "3", 3000, 1 },
		{ 429, "soon", -1, 1 },   /* unreadable: an ordinary retry */
		{ 503, "", -1, 1 },
		{ 503, "-5", -1, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h = answer(cases[i].status, "");
		h.retry_after = cases[i].ra;
		outcome_classify_delete(&h, 0, &o);
		assert_int_equal(o.kind, OUTCOME_RETRY);
		if (o.retry_after_ms != cases[i].ms || o.uses_attempt != cases[i].uses)
			fail_msg("case %zu: retry_after %lld uses %d", i,
				 (long long)o.retry_after_ms, o.uses_attempt);
		assert_int_equal(o.counts_for_breaker, cases[i].status >= 500);
		outcome_clear(&o);
	}
	/* Retry-After on a permanent or a success is ignored. */
	h = answer(401, "no");
	h.retry_after = "60";
	outcome_classify_delete(&h, 0, &o);
	assert_int_equal(o.kind, OUTCOME_PERMANENT);
	assert_int_equal(o.retry_after_ms, -1);
	assert_int_equal(o.uses_attempt, 1);
	h = answer(200, "");
	h.retry_after = "60";
	outcome_classify_delete(&h, 0, &o);
	assert_success_no_counts(&o);
}

static void test_delete_permanent_statuses(void **state)
{
	(void)state;
	const long statuses[] = { 400, 401, 403, 405, 409, 410, 413, 422, 451, 499, 301, 302 };
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		struct outcome o = del(statuses[i], "{\"detail\":\"Invalid token\"}");
		char want[96];
		assert_int_equal(o.kind, OUTCOME_PERMANENT);
		assert_int_equal(o.counts_for_breaker, 0);
		assert_int_equal(o.uses_attempt, 1);
		snprintf(want, sizeof(want), "HTTP %ld: {\"detail\":\"Invalid token\"}", statuses[i]);
		assert_string_equal(o.error, want);
		outcome_clear(&o);
	}
	struct outcome o = del(403, NULL);
	assert_string_equal(o.error, "HTTP 403");
	o = del(401, "  \n ");
	assert_string_equal(o.error, "HTTP 401");
	/* Statuses that make no sense: retried. */
	const long odd[] = { 0, 100, 199, 600, 999, -1 };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		o = del(odd[i], "x");
		assert_int_equal(o.kind, OUTCOME_RETRY);
		assert_non_null(strstr(o.error, "unexpected status"));
	}
}

static void test_error_excerpt(void **state)
{
	char body[4000];

	(void)state;
	/* Control characters and runs of blanks: one space; cut at 200 chars. */
	snprintf(body, sizeof(body), "\n\n<html>\r\n\t<title>Forbidden</title>\x01\x1b[31m");
	struct outcome o = del(403, body);
	assert_string_equal(o.error, "HTTP 403: <html> <title>Forbidden</title> [31m");
	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	o = del(401, body);
	assert_true(strlen(o.error) == strlen("HTTP 401: ") + 200 + 3);
	assert_memory_equal(o.error + strlen(o.error) - 3, "...", 3);
	/* Valid UTF-8 is kept whole; each invalid byte becomes U+FFFD. */
	o = del(400, "caf\xc3\xa9 \xff\xfe bad \xe2\x82 \xed\xa0\x80 ok");
	assert_string_equal(o.error, "HTTP 400: caf\xc3\xa9 " R R " bad " R R " " R R R " ok");
	/* Multi-byte characters near the limit are never split, error stays in bounds. */
	char wide[2000] = "";
	for (int i = 0; i < 400; i++)
		strcat(wide, "\xf0\x9f\x98\x80"); /* 4-byte emoji */
	o = del(422, wide);
	assert_true(strlen(o.error) < sizeof(o.error));
	size_t n = strlen(o.error);
	assert_memory_equal(o.error + n - 3, "...", 3);
	assert_int_equal((n - 3 - strlen("HTTP 422: ")) % 4, 0);
	/* A NUL in the middle of a body (body_len is the length). */
	struct outcome_http h = answer(400, NULL);
	h.body = "bad\0request";
	h.body_len = 11;
	outcome_classify_delete(&h, 0, &o);
	assert_string_equal(o.error, "HTTP 400: bad request");
}

static void test_transport_failures(void **state)
{
	struct outcome o;

	(void)state;
	const struct {
		enum outcome_transport t; const char *msg; const char *want; int breaker;
	} cases[] = {
		{ TRANSPORT_TIMEOUT, "Operation timed out after 30000 milliseconds",
		  "timed out: Operation timed out after 30000 milliseconds", 1 },
		{ TRANSPORT_TIMEOUT, NULL, "timed out", 1 },
		{ TRANSPORT_CONNECT, "Could not resolve host: orders-service",
		  "connection failed: Could not resolve host: orders-service", 1 },
		{ TRANSPORT_CONNECT, "", "connection failed", 1 },
		{ TRANSPORT_TOO_LARGE, "whatever", "answer larger than 1 MiB", 0 },
		{ TRANSPORT_OTHER, "Failure when receiving data from the peer",
		  "transfer failed: Failure when receiving data from the peer", 0 },
		{ (enum outcome_transport)77, NULL, "transfer failed", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome_http h = answer(0, NULL);
		h.transport = cases[i].t;
		h.transport_error = cases[i].msg;
		for (int preview = 0; preview < 2; preview++) {
			if (preview)
				outcome_classify_preview(&h, &o);
			else
				outcome_classify_delete(&h, 1, &o);
			assert_int_equal(o.kind, OUTCOME_RETRY);
			assert_string_equal(o.error, cases[i].want);
			assert_int_equal(o.counts_for_breaker, cases[i].breaker);
			assert_int_equal(o.uses_attempt, 1);
			assert_null(o.counts_json);
		}
	}
	/* A body over 1 MiB handed over anyway is refused too. */
	struct outcome_http h = answer(200, "{}");
	h.body_len = OUTCOME_MAX_BODY + 1;
	outcome_classify_delete(&h, 0, &o);
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_string_equal(o.error, "answer larger than 1 MiB");
}

/* A delete answer whose counts cannot be read exactly is unreadable. */
static void test_hostile_counts_delete(void **state)
{
	(void)state;
	struct outcome o = del(200,
		"{\"deleted_counts\": {\"ok\": 5, \"zero\": 0, \"whole\": 7.00}}");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_int_equal(o.has_counts, 1);
	assert_string_equal(o.counts_json, "{\"ok\":5,\"zero\":0,\"whole\":7}");
	assert_int_equal(o.total, 12);
	outcome_clear(&o);
	o = del(200, "{\"deleted_counts\": {\"max\": 9223372036854775807}}");
	assert_string_equal(o.counts_json, "{\"max\":9223372036854775807}");
	assert_true(o.total == INT64_MAX);
	outcome_clear(&o);
	const char *bad[] = {
		"-3", "1.5", "\"7\"", "null", "true", "{\"x\": 1}", "[1]", "1e300", "1e999",
		"2e3", "-0", "0.0001", "9223372036854775808", "99999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char body[128];
		snprintf(body, sizeof body, "{\"summary\": {\"deleted_counts\": {\"a\": 1, \"b\": %s}}}",
			 bad[i]);
		o = del(200, body);
		if (o.kind != OUTCOME_RETRY || strstr(o.error, "unreadable answer") == NULL)
			fail_msg("count %s taken: kind %d, error \"%s\"", bad[i], o.kind, o.error);
		assert_non_null(strstr(o.error, "deleted_counts: a count is not a whole number"));
		assert_null(o.counts_json);
		assert_int_equal(o.has_counts, 0);
		assert_int_equal(o.uses_attempt, 1);
	}
	/* A table named twice: refused, not the first or the larger taken. */
	o = del(200, "{\"deleted_counts\": {\"a\": 1, \"b\": 2, \"a\": 9}}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_non_null(strstr(o.error, "a table is named twice"));
	assert_null(o.counts_json);
	/* Counts that add up past INT64_MAX. */
	o = del(200, "{\"deleted_counts\": {\"a\": 9223372036854775807, \"b\": 1}}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_non_null(strstr(o.error, "add up past"));
	/* deleted_counts that is not an object; null is "no counts". */
	o = del(200, "{\"deleted_counts\": [1, 2]}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_non_null(strstr(o.error, "deleted_counts is not an object"));
	o = del(200, "{\"summary\": {\"deleted_counts\": 5}}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	o = del(200, "{\"summary\": {\"success\": true, \"deleted_counts\": null}}");
	assert_success_no_counts(&o);
	/* Hostile names are escaped. */
	o = del(200, "{\"deleted_counts\": {\"q\\\"\\n\\u0001\": 2}}");
	assert_string_equal(o.counts_json, "{\"q\\\"\\n\\u0001\":2}");
	assert_int_equal(o.total, 2);
	outcome_clear(&o);
	o = del(200, "{\"deleted_counts\": {\"\": 3}}");
	assert_string_equal(o.counts_json, "{\"\":3}");
	outcome_clear(&o);
}

/* Counts are exact to INT64_MAX, never rounded through a double. */
static void test_exact_counts(void **state)
{
	(void)state;
	struct outcome o = del(200,
		"{\"deleted_counts\": {\"a\": 9007199254740993, \"b\": 9007199254740995}}");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_string_equal(o.counts_json, "{\"a\":9007199254740993,\"b\":9007199254740995}");
	assert_true(o.total == 18014398509481988LL);
	outcome_clear(&o);
	o = pre(200, "{\"preview\": {\"a\": 9007199254740993}, \"total_records\": 9007199254740993}");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_string_equal(o.counts_json, "{\"a\":9007199254740993}");
	assert_true(o.total == 9007199254740993LL);
	outcome_clear(&o);
	o = pre(200, "{\"total_records\": 9223372036854775807}");
	assert_true(o.total == INT64_MAX);
	o = pre(200, "{\"total_records\": 9223372036854775808}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	/* 2^53 + 1 at verification is one record left, not 2^53 ... or zero. */
	o = pre(200, "{\"preview\": {\"a\": 1}, \"total_records\": 9007199254740993}");
	assert_true(o.total == 9007199254740993LL);
	outcome_clear(&o);
}

/* Count names that are not UTF-8 leave as valid UTF-8 (U+FFFD). */
static void test_invalid_utf8_names(void **state)
{
	(void)state;
	struct outcome o = del(200, "{\"deleted_counts\": {\"t\xff\xfe\": 2, \"caf\xc3\xa9\": 1,"
				    " \"\xed\xa0\x80x\": 3}}");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_string_equal(o.counts_json,
			    "{\"t" R R "\":2,\"caf\xc3\xa9\":1,\"" R R R "x\":3}");
	outcome_clear(&o);
	o = pre(200, "{\"preview\": {\"\xc0\xaf\": 0}, \"total_records\": 0}");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_string_equal(o.counts_json, "{\"" R R "\":0}");
	outcome_clear(&o);
	/* Two names that become the same are a table named twice. */
	o = pre(200, "{\"preview\": {\"\xff\": 0, \"\xfe\": 0}}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_non_null(strstr(o.error, "named twice"));
}

static char *nested(int depth)
{
	char *s = malloc((size_t)depth * 6 + 64);
	size_t n = 0;

	n += (size_t)sprintf(s, "{\"deleted_counts\":{\"a\":1},\"x\":");
	for (int i = 0; i < depth; i++)
		n += (size_t)sprintf(s + n, "[");
	for (int i = 0; i < depth; i++)
		n += (size_t)sprintf(s + n, "]");
	sprintf(s + n, "}");
	return s;
}

static void test_hostile_shapes(void **state)
{
	(void)state;
	/* Deep nesting: refused by the parser's limit, never a crash. */
	char *deep = nested(100000);
	struct outcome o = del(200, deep);
	assert_int_equal(o.kind, OUTCOME_RETRY);
	outcome_clear(&o);
	o = pre(200, deep);
	assert_int_equal(o.kind, OUTCOME_RETRY);
	free(deep);
	char *shallow = nested(50);
	o = del(200, shallow);
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_int_equal(o.total, 1);
	outcome_clear(&o);
	free(shallow);
	/* NaN and friends are not JSON. */
	o = del(200, "{\"deleted_counts\": {\"a\": NaN}}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	o = del(200, "{\"deleted_counts\": {\"a\": Infinity}}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	/* Thousands of tables: unreadable past 1000, no quadratic blow-up. */
	for (int preview = 0; preview < 2; preview++) {
		size_t cap = 20000 * 16 + 64;
		char *many = malloc(cap);
		size_t n = (size_t)sprintf(many, "{\"%s\":{", preview ? "preview" : "deleted_counts");
		for (int i = 0; i < 20000; i++)
			n += (size_t)snprintf(many + n, cap - n, "%s\"t%d\":1", i ? "," : "", i);
		snprintf(many + n, cap - n, "}}");
		o = preview ? pre(200, many) : del(200, many);
		assert_int_equal(o.kind, OUTCOME_RETRY);
		assert_non_null(strstr(o.error, "more than 1000 tables"));
		outcome_clear(&o);
		free(many);
	}
}

static void test_preview_shapes(void **state)
{
	(void)state;
	struct outcome o = pre(200,
		"{\"tenant_id\": \"abc-123\", \"service\": \"forecasting\","
		" \"preview\": {\"forecasts\": 8432, \"prediction_batches\": 15},"
		" \"total_records\": 8447, \"warning\": \"...\"}");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_int_equal(o.has_counts, 1);
	assert_string_equal(o.counts_json, "{\"forecasts\":8432,\"prediction_batches\":15}");
	assert_int_equal(o.total, 8447);
	assert_string_equal(o.error, "");
	outcome_clear(&o);
	/* No total_records: the sum. */
	o = pre(200, "{\"preview\": {\"a\": 2, \"b\": 3}}");
	assert_int_equal(o.total, 5);
	outcome_clear(&o);
	/* Only total_records. */
	o = pre(200, "{\"total_records\": 12}");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_int_equal(o.has_counts, 1);
	assert_null(o.counts_json);
	assert_int_equal(o.total, 12);
	/* Zero remains. */
	o = pre(200, "{\"preview\": {\"a\": 0}, \"total_records\": 0}");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_int_equal(o.total, 0);
	outcome_clear(&o);
	o = pre(200, "{\"preview\": {}, \"total_records\": 0}");
	assert_int_equal(o.total, 0);
	assert_string_equal(o.counts_json, "{}");
	outcome_clear(&o);
	/* A total over the tables listed: the total (a subset may be listed). */
	o = pre(200, "{\"preview\": {\"a\": 4}, \"total_records\": 10}");
	assert_int_equal(o.total, 10);
	outcome_clear(&o);
}

static void test_preview_404_and_failures(void **state)
{
	(void)state;
	struct outcome o = pre(404, "not found");
	assert_int_equal(o.kind, OUTCOME_SUCCESS);
	assert_int_equal(o.total, 0);
	assert_int_equal(o.has_counts, 1);
	assert_string_equal(o.counts_json, "{}");
	outcome_clear(&o);

	o = pre(503, "down");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_int_equal(o.counts_for_breaker, 1);
	assert_string_equal(o.error, "HTTP 503: down");
	o = pre(429, "");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_int_equal(o.counts_for_breaker, 0);
	o = pre(401, "bad token");
	assert_int_equal(o.kind, OUTCOME_PERMANENT);
	assert_string_equal(o.error, "HTTP 401: bad token");
	o = pre(200, "{\"success\": false, \"errors\": [\"db\"]}");
	assert_int_equal(o.kind, OUTCOME_RETRY);
	assert_non_null(strstr(o.error, "db"));
}

/* A preview that cannot prove its count is never taken as zero. */
static void test_preview_unreadable(void **state)
{
	(void)state;
	const struct { long status; const char *body; const char *why; } cases[] = {
		{ 204, NULL, "empty preview" },
		{ 200, "", "empty preview" },
		{ 200, " \n", "empty preview" },
		{ 200, "<html>ok</html>", "not a JSON object" },
		{ 200, "[0]", "not a JSON object" },
		{ 200, "{}", "neither preview nor total_records" },
		{ 200, "{\"tenant_id\": \"x\"}", "neither preview nor total_records" },
		{ 200, "{\"total_records\": \"0\"}", "total_records is not" },
		/* finding C: a string total is no zero */
		{ 200, "{\"preview\": {}, \"total_records\": \"5\"}", "total_records is not" },
		{ 200, "{\"preview\": {\"a\": 2}, \"total_records\": \"lots\"}", "total_records is not" },
		{ 200, "{\"preview\": {}, \"total_records\": null}", "total_records is not" },
		{ 200, "{\"preview\": {}, \"total_records\": true}", "total_records is not" },
		{ 200, "{\"preview\": {}, \"total_records\": [5]}", "total_records is not" },
		{ 200, "{\"preview\": {}, \"total_records\": -0}", "total_records is not" },
		{ 200, "{\"preview\": {}, \"total_records\": 5e0}", "total_records is not" },
		{ 200, "{\"preview\": {\"a\": 4}, \"total_records\": 0}", "less than the sum" },
		{ 200, "{\"preview\": {\"a\": 0, \"a\": 3}, \"total_records\": 3}", "named twice" },
		{ 200, "{\"preview\": {\"a\": 3, \"a\": 0}}", "named twice" },
		{ 200, "{\"preview\": {\"a\": 9223372036854775807, \"b\": 1}}", "add up past" },
		{ 200, "{\"preview\": [1, 2]}", "preview is not an object" },
		{ 200, "{\"preview\": null, \"total_records\": 0}", "preview is not an object" },
		{ 200, "{\"preview\": {\"a\": \"5\"}}", "preview: a count is not" },
		{ 200, "{\"preview\": {\"a\": -5}, \"total_records\": 0}", "preview: a count is not" },
		{ 200, "{\"preview\": {\"a\": 1.5}}", "preview: a count is not" },
		{ 200, "{\"preview\": {\"a\": null}}", "preview: a count is not" },
		{ 200, "{\"preview\": {\"a\": {\"rows\": 3}}}", "preview: a count is not" },
		{ 200, "{\"preview\": {\"a\": 1e400}}", "preview: a count is not" },
		{ 200, "{\"preview\": {\"a\": 0}, \"total_records\": -1}", "total_records is not" },
		{ 200, "{\"preview\": {\"a\": 0}, \"total_records\": 0.5}", "total_records is not" },
		{ 200, "{\"total_records\": 1e30}", "total_records is not" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome o = pre(cases[i].status, cases[i].body);
		if (o.kind != OUTCOME_RETRY)
			fail_msg("case %zu taken as %d", i, o.kind);
		assert_non_null(strstr(o.error, "unreadable answer"));
		if (strstr(o.error, cases[i].why) == NULL)
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, o.error, cases[i].why);
		assert_null(o.counts_json);
		assert_int_equal(o.has_counts, 0);
		assert_int_equal(o.total, 0);
		outcome_clear(&o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delete_summary_counts),
		cmocka_unit_test(test_delete_top_level_counts),
		cmocka_unit_test(test_delete_no_counts),
		cmocka_unit_test(test_delete_unreadable_2xx),
		cmocka_unit_test(test_delete_success_false),
		cmocka_unit_test(test_delete_404),
		cmocka_unit_test(test_delete_retryable_statuses),
		cmocka_unit_test(test_delete_retry_after),
		cmocka_unit_test(test_delete_permanent_statuses),
		cmocka_unit_test(test_error_excerpt),
		cmocka_unit_test(test_transport_failures),
		cmocka_unit_test(test_hostile_counts_delete),
		cmocka_unit_test(test_exact_counts),
		cmocka_unit_test(test_invalid_utf8_names),
		cmocka_unit_test(test_hostile_shapes),
		cmocka_unit_test(test_preview_shapes),
		cmocka_unit_test(test_preview_404_and_failures),
		cmocka_unit_test(test_preview_unreadable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
