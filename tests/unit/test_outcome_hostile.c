/*
 * test_outcome_hostile.c - classifying answers that try to mislead: counts
 * that are not whole numbers, duplicates, huge or deep documents, invalid
 * UTF-8, and every shape of a deletion preview.
 */
#include "tests/unit/outcome_fixture.h"

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
