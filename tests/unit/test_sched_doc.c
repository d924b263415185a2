/*
 * test_sched_doc.c - the scheduler's event details byte for byte (an old
 * store's event chain hashes these bytes) and the cumulative deleted
 * counts of a task.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "jobs/document.h"
#include "jobs/sched_doc.h"
#include "util/json.h"

#define NOW 1800000000000LL /* 2027-01-15T08:00:00Z */

static void check(char *got, const char *want)
{
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_attempt_detail(void **state)
{
	struct sched_doc_attempt a = {
		.kind = TASK_KIND_DELETE, .attempt = 3, .outcome = "success",
		.state = "succeeded", .http_status = 200, .duration_ms = 41,
		.counts_json = "{\"orders\": 12, \"rows\": 9007199254740993}",
		.total = 9007199254741005, .next_attempt_at = NOW,
	};

	(void)state;
	check(sched_doc_attempt(&a),
	      "{\"kind\":\"delete\",\"attempt\":3,\"outcome\":\"success\",\"state\":\"succeeded\","
	      "\"http_status\":200,\"duration_ms\":41,"
	      "\"deleted_counts\":{\"orders\":12,\"rows\":9007199254740993},"
	      "\"total_deleted\":9007199254741005}");
	a = (struct sched_doc_attempt){
		.kind = TASK_KIND_SUSPEND, .attempt = 1, .outcome = "retry",
		.state = "lease_lost", .duration_ms = 0, .total = -1,
		.error = "HTTP 429", .free_wait = 1, .waiting = 1, .next_attempt_at = NOW,
	};
	check(sched_doc_attempt(&a),
	      "{\"kind\":\"suspend\",\"attempt\":1,\"outcome\":\"retry\",\"state\":\"lease_lost\","
	      "\"http_status\":null,\"duration_ms\":0,\"error\":\"HTTP 429\",\"free_wait\":true,"
	      "\"next_attempt_at\":\"2027-01-15T08:00:00Z\"}");
	/* counts that do not parse are left out; a waiting time unknown is null */
	a.counts_json = "not json";
	a.next_attempt_at = 0;
	a.free_wait = 0;
	a.error = NULL;
	check(sched_doc_attempt(&a),
	      "{\"kind\":\"suspend\",\"attempt\":1,\"outcome\":\"retry\",\"state\":\"lease_lost\","
	      "\"http_status\":null,\"duration_ms\":0,\"next_attempt_at\":null}");
}

/* The attempt's detail as cJSON alone renders it (every number through
 * cJSON_AddNumberToObject): the bytes of the chains written before. */
static char *attempt_by_cjson(const struct sched_doc_attempt *a)
{
	cJSON *d = cJSON_CreateObject(), *counts = json_parse_exact(a->counts_json);

	cJSON_AddStringToObject(d, "kind", jobs_task_kind_name(a->kind));
	cJSON_AddNumberToObject(d, "attempt", a->attempt);
	cJSON_AddStringToObject(d, "outcome", a->outcome);
	cJSON_AddStringToObject(d, "state", a->state);
	if (a->http_status > 0)
		cJSON_AddNumberToObject(d, "http_status", a->http_status);
	else
		cJSON_AddNullToObject(d, "http_status");
	cJSON_AddNumberToObject(d, "duration_ms", (double)a->duration_ms);
	if (counts != NULL)
		cJSON_AddItemToObject(d, "deleted_counts", counts);
	if (a->total >= 0)
		json_add_int(d, "total_deleted", a->total);
	if (a->error != NULL)
		cJSON_AddStringToObject(d, "error", a->error);
	if (a->free_wait)
		cJSON_AddBoolToObject(d, "free_wait", 1);
	if (a->waiting)
		jobs_json_add_time(d, "next_attempt_at", a->next_attempt_at);
	return json_print_owned(d);
}

/* Whatever the numbers and texts, the detail is cJSON's rendering byte for
 * byte: numbers around 10^15 (where "%1.15g" turns to an exponent), past
 * 2^53, the int64 and int limits; texts with quotes, backslashes, control
 * characters, multi-byte and stray bytes. */
static void test_attempt_detail_as_cjson(void **state)
{
	static const int64_t nums[] = {
		0, 1, -1, 41, 599, 2147483647, -2147483647 - 1, 999999999999999,
		-999999999999999, 1000000000000000, -1000000000000000, 1000000000000001,
		9007199254740993, INT64_MAX, INT64_MIN,
	};
	static const char *texts[] = {
		"", "a \"quoted\" \\ back", "ctl \x01\x1f\n\r\t\b\f\x7f end",
		"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x92\xa9", "stray \xff\xfe", "</script>",
	};
	static const char *counts[] = {
		NULL, "{\"rows\": 9223372036854775807, \"k\\\"ey\": 1.5e3}", "{\"\\u0001\": -0}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
			struct sched_doc_attempt a = {
				.kind = (enum task_kind)(k % 2), .outcome = texts[k],
				.state = texts[(k + 1) % 6], .error = texts[(k + 2) % 6],
				.attempt = (int)nums[i], .http_status = (int)nums[(i + k) % 15],
				.duration_ms = nums[i], .counts_json = counts[k % 3],
				.total = nums[(i + 1) % 15], .free_wait = (int)(k & 1),
				.waiting = (int)(i & 1), .next_attempt_at = NOW,
			};
			char *want = attempt_by_cjson(&a);

			check(sched_doc_attempt(&a), want);
			free(want);
		}
	}
}

static void test_reclaimed_detail(void **state)
{
	(void)state;
	check(sched_doc_reclaimed("delete", 2, 0, "lease expired", "h/b/1/2"),
	      "{\"kind\":\"delete\",\"attempt\":2,\"outcome\":\"retry\",\"state\":\"waiting\","
	      "\"http_status\":null,\"error\":\"lease expired\",\"lease_owner\":\"h/b/1/2\"}");
	check(sched_doc_reclaimed(NULL, 5, 1, "lease owner died; gave up after 5 attempts", NULL),
	      "{\"kind\":\"delete\",\"attempt\":5,\"outcome\":\"permanent\",\"state\":\"dead\","
	      "\"http_status\":null,\"error\":\"lease owner died; gave up after 5 attempts\","
	      "\"lease_owner\":\"\"}");
}

static void test_preview_verify_detail(void **state)
{
	(void)state;
	check(sched_doc_preview("{\"rows\":3}", 3, NULL),
	      "{\"when\":\"before\",\"counts\":{\"rows\":3},\"total\":3}");
	check(sched_doc_preview(NULL, -1, "HTTP 500"),
	      "{\"when\":\"before\",\"error\":\"HTTP 500\"}");
	check(sched_doc_verify(0), "{\"remaining\":0,\"verified\":true}");
	check(sched_doc_verify(9007199254740993), "{\"remaining\":9007199254740993,\"verified\":false}");
}

static void test_job_details(void **state)
{
	struct jobs_eval_view v;
	struct jobs_eval e;

	(void)state;
	check(sched_doc_deadline_missed(NOW, JOB_RUNNING),
	      "{\"deadline_at\":\"2027-01-15T08:00:00Z\",\"state\":\"running\"}");
	check(sched_doc_deadline_missed(0, JOB_HELD), "{\"deadline_at\":null,\"state\":\"held\"}");
	jobs_eval_view_init(&v, JOB_RUNNING);
	jobs_eval_view_add(&v, TASK_DEAD, 1, 1);
	jobs_eval_view_add(&v, TASK_DEAD, 2, 1);
	jobs_evaluate(&v, &e);
	check(sched_doc_eval(&e, &v), "{\"dead_tasks\":2}");
	jobs_eval_view_init(&v, JOB_FAILED);
	jobs_evaluate(&v, &e);
	check(sched_doc_eval(&e, &v), "{\"from\":\"failed\",\"reason\":\"no dead task left\"}");
	v.state = JOB_RUNNING;
	jobs_evaluate(&v, &e); /* succeed: written as {} */
	assert_null(sched_doc_eval(&e, &v));
}

static void test_merge_counts(void **state)
{
	(void)state;
	check(sched_doc_merge_counts("{\"a\":1,\"b\":2}", "{\"b\":3,\"c\":4}"),
	      "{\"a\":1,\"b\":5,\"c\":4}");
	/* exact past 2^53, capped at INT64_MAX */
	check(sched_doc_merge_counts("{\"a\":9007199254740993}", "{\"a\":2}"),
	      "{\"a\":9007199254740995}");
	check(sched_doc_merge_counts("{\"a\":9223372036854775000}", "{\"a\":9223372036854775000}"),
	      "{\"a\":9223372036854775807}");
	/* a value that is no integer is not added */
	check(sched_doc_merge_counts("{\"a\":1}", "{\"a\":\"x\",\"b\":2}"), "{\"a\":1,\"b\":2}");
	/* nothing stored yet, or no object: this call's counts */
	check(sched_doc_merge_counts(NULL, "{\"a\":1}"), "{\"a\":1}");
	check(sched_doc_merge_counts("[1]", "{\"a\":1}"), "{\"a\":1}");
	check(sched_doc_merge_counts("{\"a\":1}", "[2]"), "[2]");
	assert_null(sched_doc_merge_counts("{\"a\":1}", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attempt_detail),
		cmocka_unit_test(test_attempt_detail_as_cjson),
		cmocka_unit_test(test_reclaimed_detail),
		cmocka_unit_test(test_preview_verify_detail),
		cmocka_unit_test(test_job_details),
		cmocka_unit_test(test_merge_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
