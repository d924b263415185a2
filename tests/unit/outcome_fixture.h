/*
 * outcome_fixture.h - shared by the outcome unit tests: an answer as the
 * HTTP client hands it, classified as a delete or a preview.
 */
#ifndef TENANTDEL_OUTCOME_FIXTURE_H
#define TENANTDEL_OUTCOME_FIXTURE_H

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

static inline struct outcome_http answer(long status, const char *body)
{
	struct outcome_http h = {
		.transport = TRANSPORT_OK, .status = status, .body = body,
		.body_len = body ? strlen(body) : 0, .now_ms = NOW,
	};
	return h;
}

static inline struct outcome del(long status, const char *body)
{
	struct outcome o;
	struct outcome_http h = answer(status, body);

	outcome_classify_delete(&h, 0, &o);
	return o;
}

static inline struct outcome pre(long status, const char *body)
{
	struct outcome o;
	struct outcome_http h = answer(status, body);

	outcome_classify_preview(&h, &o);
	return o;
}

static inline void assert_success_no_counts(struct outcome *o)
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


#endif
