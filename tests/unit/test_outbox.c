/*
 * test_outbox.c - the webhook outbox in the store: no rows without a
 * webhook, a url added later owed only what follows, pruning of what every
 * configured url has had for 7 days (an unconfigured url holds nothing
 * back, the newest row stays), and the place of a url gone from the config.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"
#include "tests/unit/store_fixture.h"

#define U "http://127.0.0.1:9/hook" /* the fixture's webhook */
#define V "http://127.0.0.1:9/other"

static const struct store_service SVCS[] = { { .name = "orders", .phase = 1 } };

static int setup(void **state)
{
	return fx_setup(state, "test_outbox");
}

static int teardown(void **state)
{
	return fx_teardown(state);
}

/* Schedules tenant (one outbox row while a webhook is configured). */
static void sched(struct store *s, const char *tenant)
{
	struct store_new_job j = { .tenant_id = tenant, .requested_by = "test",
				   .reason = "unit", .due_at = NOW + DAY,
				   .deadline_at = NOW + 2 * DAY };
	char ids[1][JOBS_ID_LEN + 1];
	int created;

	assert_int_equal(store_schedule(s, &j, 1, SVCS, 1, NOW, ids, &created), STORE_OK);
}

/* Fans out to url and records each due delivery: the first `ok` delivered. */
static void deliver(struct store *s, const char *url, size_t ok)
{
	const char *urls[] = { url };
	struct store_delivery *d;
	size_t n;
	int more;

	assert_int_equal(store_webhook_enqueue(s, urls, 1, 100, NOW, &more), STORE_OK);
	assert_int_equal(store_webhook_claim(s, url, "me", NOW, 1000, 100, &d, &n), STORE_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(store_webhook_finish(s, d[i].outbox_id, url, i < ok, i < ok ? 200 : 500,
						      NULL, NOW + 1000, NOW), STORE_OK);
	store_deliveries_free(d, n);
}

static int64_t backlog(struct store *s, const char *url)
{
	const char *urls[] = { url };
	int64_t n;

	assert_int_equal(store_webhook_backlog(s, urls, 1, &n), STORE_OK);
	return n;
}

static void prune(struct store *s, const char *const *urls, size_t n, int64_t before)
{
	int more = -1;

	assert_int_equal(store_webhook_prune(s, urls, n, before, 100, &more), STORE_OK);
	assert_int_equal(more, 0);
}

static void test_no_webhook_no_row(void **state)
{
	struct fx *f = *state;

	store_set_webhooks(f->s, NULL, 0);
	sched(f->s, "a");
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM outbox"), 0);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM meta WHERE key LIKE 'webhook.%'"), 0);
}

static void test_url_added_later_is_owed_what_follows(void **state)
{
	struct fx *f = *state;
	const char *both[] = { U, V };

	sched(f->s, "a");
	sched(f->s, "b");
	assert_int_equal(backlog(f->s, V), 0);
	store_set_webhooks(f->s, both, 2);
	sched(f->s, "c");
	assert_int_equal(backlog(f->s, U), 3);
	assert_int_equal(backlog(f->s, V), 1);
	deliver(f->s, V, 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM webhook_deliveries WHERE url = '" V "'"), 1);
	assert_int_equal(backlog(f->s, V), 0);
}

static void test_prune_what_every_url_has_had_for_7_days(void **state)
{
	struct fx *f = *state;
	const char *urls[] = { U };

	sched(f->s, "a");
	sched(f->s, "b");
	sched(f->s, "c");
	deliver(f->s, U, 3);
	prune(f->s, urls, 1, NOW); /* delivered at NOW: not before it */
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM outbox"), 3);
	prune(f->s, urls, 1, NOW + 1);
	/* the newest stays (ids are never reused), with its delivery row */
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM outbox"), 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM webhook_deliveries"), 1);
	assert_int_equal(fx_int(f->s, "SELECT id FROM outbox"), 3);
	sched(f->s, "d");
	assert_int_equal(fx_int(f->s, "SELECT MAX(id) FROM outbox"), 4);
}

static void test_undelivered_kept_for_a_configured_url_only(void **state)
{
	struct fx *f = *state;
	const char *urls[] = { U };

	sched(f->s, "a");
	sched(f->s, "b");
	sched(f->s, "c");
	deliver(f->s, U, 1); /* a delivered, b and c not */
	prune(f->s, urls, 1, NOW + 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM outbox WHERE id IN (2, 3)"), 2);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM outbox"), 2);
	/* U leaves the config: what it was owed goes with the rows; its place
	 * too, as it missed nothing written since `before` */
	prune(f->s, NULL, 0, NOW + 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM outbox"), 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM webhook_deliveries"), 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM meta WHERE key LIKE 'webhook.%'"), 0);
}

static void test_place_of_a_url_gone_kept_while_it_missed_little(void **state)
{
	struct fx *f = *state;

	sched(f->s, "a");
	deliver(f->s, U, 1);
	store_set_webhooks(f->s, (const char *const[]){ V }, 1);
	sched(f->s, "b"); /* U misses it, written at NOW */
	prune(f->s, (const char *const[]){ V }, 1, NOW);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM meta WHERE key = 'webhook.cursor:" U "'"),
			 1);
	/* put back: it resumes where it stopped */
	assert_int_equal(backlog(f->s, U), 1);
	prune(f->s, (const char *const[]){ V }, 1, NOW + 1);
	assert_int_equal(fx_int(f->s, "SELECT count(*) FROM meta WHERE key = 'webhook.cursor:" U "'"),
			 0);
	assert_int_equal(backlog(f->s, U), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_webhook_no_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_url_added_later_is_owed_what_follows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prune_what_every_url_has_had_for_7_days, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_undelivered_kept_for_a_configured_url_only,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_place_of_a_url_gone_kept_while_it_missed_little,
						setup, teardown),
	};
	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests_name("outbox", tests, NULL, NULL);
}
