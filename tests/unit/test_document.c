/*
 * test_document.c - the JSON documents of jobs/document.h: byte for byte
 * as DESIGN 4 and the webhook receivers see them (the expected texts were
 * printed by the program before the documents moved out of the store),
 * and the bulk schedule's templates giving the very bytes of the
 * one-job renderers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jobs/document.h"

#define CREATED 1893553445000LL  /* 2030-01-02T03:04:05Z */
#define DUE 1896145445000LL      /* 2030-02-01T03:04:05Z */
#define DEADLINE 1896750245000LL /* 2030-02-08T03:04:05Z */

static const char *const SERVICES[] = { "orders", "inventory", "tenant" };
#define N_SERVICES 3

static struct job_record scheduled_job(const char *id, const char *tenant, const char *name,
				       const char *by, const char *reason)
{
	struct job_record j = {
		.tenant_id = (char *)tenant, .tenant_name = (char *)name,
		.requested_by = (char *)by, .reason = (char *)reason,
		.kind = JOB_KIND_PURGE, .state = JOB_SCHEDULED, .held_from = JOB_SCHEDULED,
		.created_at = CREATED, .due_at = DUE, .deadline_at = DEADLINE,
	};

	snprintf(j.id, sizeof j.id, "%s", id);
	return j;
}

static char *print(cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);

	cJSON_Delete(doc);
	return text;
}

static void assert_text(char *got, const char *want)
{
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

#define JOB_ID "01890a5d-ac96-774b-bcce-b302099a8057"
#define EVENT_ID "01890a5d-ac96-774b-bcce-b302099a8058"

static void test_outbox_body(void **state)
{
	struct job_record j = scheduled_job(JOB_ID, "acme-0", "Acme \"Q\" \\ Co", "ops<a>",
					    "tab\there \xc3\xa9 \xe2\x80\xa8");

	(void)state;
	assert_text(jobs_outbox_body(EVENT_ID, "job.scheduled", CREATED, &j),
		    "{\"id\":\"" EVENT_ID "\",\"type\":\"job.scheduled\","
		    "\"created_at\":\"2030-01-02T03:04:05Z\",\"job\":{\"job_id\":\"" JOB_ID "\","
		    "\"tenant_id\":\"acme-0\",\"tenant_name\":\"Acme \\\"Q\\\" \\\\ Co\","
		    "\"kind\":\"purge\",\"state\":\"scheduled\",\"requested_by\":\"ops<a>\","
		    "\"reason\":\"tab\\there \xc3\xa9 \xe2\x80\xa8\","
		    "\"created_at\":\"2030-01-02T03:04:05Z\",\"due_at\":\"2030-02-01T03:04:05Z\","
		    "\"deadline_at\":\"2030-02-08T03:04:05Z\",\"started_at\":null,"
		    "\"finished_at\":null,\"total_deleted\":0,\"deadline_missed\":false}}");
	j.state = JOB_HELD;
	j.hold_reason = "legal \"x\"";
	assert_text(print(jobs_render_job(&j, NULL, 0)),
		    "{\"job_id\":\"" JOB_ID "\",\"tenant_id\":\"acme-0\","
		    "\"tenant_name\":\"Acme \\\"Q\\\" \\\\ Co\",\"kind\":\"purge\",\"state\":\"held\","
		    "\"held_from\":\"scheduled\",\"hold_reason\":\"legal \\\"x\\\"\","
		    "\"requested_by\":\"ops<a>\",\"reason\":\"tab\\there \xc3\xa9 \xe2\x80\xa8\","
		    "\"created_at\":\"2030-01-02T03:04:05Z\",\"due_at\":\"2030-02-01T03:04:05Z\","
		    "\"deadline_at\":\"2030-02-08T03:04:05Z\",\"started_at\":null,"
		    "\"finished_at\":null,\"total_deleted\":0,\"deadline_missed\":false}");
}

static void test_event_details(void **state)
{
	struct job_record j = scheduled_job(JOB_ID, "acme-1", NULL, "b\"\\\\</", "r\t\"x\"");

	(void)state;
	assert_text(print(jobs_render_scheduled(&j, SERVICES, N_SERVICES)),
		    "{\"tenant_id\":\"acme-1\","
		    "\"due_at\":\"2030-02-01T03:04:05Z\",\"deadline_at\":\"2030-02-08T03:04:05Z\","
		    "\"requested_by\":\"b\\\"\\\\\\\\</\",\"reason\":\"r\\t\\\"x\\\"\","
		    "\"services\":[\"orders\",\"inventory\",\"tenant\"]}");
	assert_text(jobs_detail_held("me", "legal \"x\"", JOB_SCHEDULED),
		    "{\"by\":\"me\",\"reason\":\"legal \\\"x\\\"\",\"from\":\"scheduled\"}");
	assert_text(jobs_detail_released("me", "legal \"x\"", JOB_RUNNING),
		    "{\"by\":\"me\",\"hold_reason\":\"legal \\\"x\\\"\",\"to\":\"running\"}");
	assert_text(jobs_detail_cancelled("me", "no \"more\"", NULL, 0),
		    "{\"by\":\"me\",\"reason\":\"no \\\"more\\\"\",\"restores\":[]}");
	assert_text(jobs_detail_cancelled(NULL, NULL, SERVICES, 2),
		    "{\"by\":null,\"reason\":null,\"restores\":[\"orders\",\"inventory\"]}");
	assert_text(jobs_detail_retried("me", NULL, 1, JOB_FAILED),
		    "{\"by\":\"me\",\"service\":null,\"tasks\":1,\"from\":\"failed\"}");
	assert_text(jobs_detail_running("me", JOB_FAILED), "{\"by\":\"me\",\"from\":\"failed\"}");
}

static void test_event_render(void **state)
{
	struct event_record ev = {
		.id = 7, .job_id = JOB_ID, .at = CREATED + 1, .type = "job.held",
		.detail = "{\"by\":\"me\",\"n\":9007199254740993}", .prev_hash = "ab",
		.hash = "cd", .chain_ok = 1,
	};

	(void)state;
	assert_text(print(jobs_render_event(&ev)),
		    "{\"id\":7,\"job_id\":\"" JOB_ID "\",\"at\":\"2030-01-02T03:04:05.001Z\","
		    "\"type\":\"job.held\",\"service\":null,"
		    "\"detail\":{\"by\":\"me\",\"n\":9007199254740993},"
		    "\"prev_hash\":\"ab\",\"hash\":\"cd\",\"chain_ok\":true}");
	ev.detail = "not json";
	ev.job_id = NULL;
	ev.chain_ok = 0;
	assert_text(print(jobs_render_event(&ev)),
		    "{\"id\":7,\"job_id\":null,\"at\":\"2030-01-02T03:04:05.001Z\","
		    "\"type\":\"job.held\",\"service\":null,\"detail\":{},"
		    "\"prev_hash\":\"ab\",\"hash\":\"cd\",\"chain_ok\":false}");
}

/* The bulk documents of job j equal the one-job renderers' bytes. */
static void assert_bulk_same(struct jobs_bulk_docs *d, const struct job_record *j,
			     const char *eid, int64_t now)
{
	char *detail = print(jobs_render_scheduled(j, SERVICES, N_SERVICES));
	char *body = jobs_outbox_body(eid, "job.scheduled", now, j);

	assert_string_equal(jobs_bulk_detail(d, j), detail);
	assert_string_equal(jobs_bulk_body(d, eid, now, j), body);
	free(detail);
	free(body);
}

/* Strings that need escaping, the template's own hole byte among them,
 * in what jobs share and in what each has of its own. */
static void test_bulk_equals_single(void **state)
{
	static const char *const names[] = { NULL, "A \"b\" \\ c", "\x01\x02\x1f\x7f \xc3\xa9" };
	static const char *const tenants[] = { "acme-1", "t:x.y_z-9", "Z" };
	struct jobs_bulk_docs *d = jobs_bulk_docs_new(SERVICES, N_SERVICES);
	char big[3000];

	(void)state;
	memset(big, '"', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	for (size_t n = 0; n < 3; n++) {
		for (size_t t = 0; t < 3; t++) {
			struct job_record j = scheduled_job(JOB_ID, tenants[t], names[n],
							    "by\x01", names[(n + 1) % 3]);
			assert_bulk_same(d, &j, EVENT_ID, CREATED);
			j.due_at += 1; /* a shared value changes: the templates follow */
			assert_bulk_same(d, &j, EVENT_ID, CREATED + (int64_t)t);
		}
	}
	/* A tenant's own string longer than the stack buffer of one value. */
	{
		struct job_record j = scheduled_job(JOB_ID, big, NULL, NULL, NULL);
		assert_bulk_same(d, &j, "e\n", CREATED);
	}
	jobs_bulk_docs_free(d);
	jobs_bulk_docs_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outbox_body),
		cmocka_unit_test(test_event_details),
		cmocka_unit_test(test_event_render),
		cmocka_unit_test(test_bulk_equals_single),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
