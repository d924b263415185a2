/*
 * test_outcome.c - classifying delete answers (DESIGN 3 "Attempt outcome"):
 * statuses, counts, Retry-After, errors, transport failures. Hostile
 * shapes and previews: test_outcome_hostile.c.
 */
#include "tests/unit/outcome_fixture.h"

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
