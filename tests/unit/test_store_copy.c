/*
 * test_store_copy.c - store_copy (migrate-store) from a SQLite store with
 * jobs in every state into an empty store of each backend (SQLite; and
 * PostgreSQL when TENANTDEL_TEST_PG_DSN names a database): every row
 * copied as it is, the chain verifying there, ids and the chain going on
 * after the copied ones; a store that is not empty, the same store, an
 * interrupted copy and a source whose chain is broken leave the target
 * as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/backend.h"
#include "tests/unit/store_fixture.h"
#include "tests/unit/sched_fixture.h"
#include "tests/unit/contract_fixture.h"

/* The source (SQLite, filled by fill()) and the target of the backend
 * under test (empty). */
struct cp {
	const char *backend;
	struct fx src;
	char dst_path[160];
	struct store *dst;
};

static struct store *open_target(struct cp *c)
{
	struct store_config sc = { .backend = c->backend, .path = c->dst_path,
				   .dsn = getenv(PG_DSN_ENV), .node = "unit",
				   .flags = STORE_OPEN_CREATE };
	char err[256];
	struct store *s = store_open(&sc, err, sizeof err);

	if (s == NULL)
		fail_msg("store_open: %s", err);
	return s;
}

static int setup(void **state)
{
	struct cp *c = xcalloc(1, sizeof *c);
	struct fx *f;

	c->backend = *state;
	assert_int_equal(fx_setup((void **)&f, "test_store_copy"), 0);
	c->src = *f;
	free(f);
	snprintf(c->dst_path, sizeof c->dst_path, "%s/dst.db", c->src.dir);
	if (strcmp(c->backend, "postgresql") == 0)
		cfx_pg_empty();
	c->dst = open_target(c);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct cp *c = *state;
	struct fx *f = xcalloc(1, sizeof *f);

	store_close(c->dst);
	*f = c->src;
	free(c);
	return fx_teardown((void **)&f);
}

/* Records finished attempts of claims c[0..n) at now: state st each. */
static void finish(struct store *s, const struct sched_claimed *c, size_t n,
		   enum task_state st, int64_t now)
{
	struct sched_result r[16];
	int failed = 0;

	for (size_t i = 0; i < n; i++)
		r[i] = result(&c[i], st, st == TASK_WAITING ? now + 60000 : 0);
	assert_int_equal(sched_record_results(s, ME, r, n, SVCS, N_SVCS, now, &failed),
			 STORE_OK);
}

/* Finishes the claims of job id among c[0..n) at now with st. */
static void work(struct store *s, const struct sched_claimed *c, size_t n, const char *id,
		 enum task_state st, int64_t now)
{
	struct sched_claimed mine[16];
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].job_id, id) == 0)
			mine[k++] = c[i];
	finish(s, mine, k, st, now);
}

/*
 * The source: jobs succeeded (a tombstone), failed, waiting, in flight,
 * held, cancelled, scheduled for later; text that COPY must escape; the
 * outbox fanned out to a webhook; a breaker, a retired service.
 */
static void fill(struct store *s)
{
	char id[8][JOBS_ID_LEN + 1];
	struct store_new_job odd = { .tenant_id = "odd", .tenant_name = "Caf\xc3\xa9 \\ \t\n\r",
				     .requested_by = "a\\b", .reason = "two\nlines\tand\\N",
				     .due_at = NOW + DAY, .deadline_at = NOW + 2 * DAY };
	char ids[1][JOBS_ID_LEN + 1];
	struct sched_claimed *c = NULL;
	size_t n;
	int created, more = 0;
	const char *url = "http://127.0.0.1:9/hook";

	schedule(s, "done", NOW, id[0]);
	schedule(s, "dead", NOW, id[1]);
	schedule(s, "wait", NOW, id[2]);
	schedule(s, "flight", NOW, id[3]);
	schedule(s, "held", NOW + DAY, id[4]);
	schedule(s, "gone", NOW + DAY, id[5]);
	schedule(s, "later", NOW + DAY, id[6]);
	assert_int_equal(store_schedule(s, &odd, 1, NEW_SVCS, N_SVCS, NOW, ids, &created),
			 STORE_OK);
	assert_int_equal(store_job_hold(s, id[4], "ops", "legal", NOW, NULL), STORE_OK);
	assert_int_equal(store_job_cancel(s, id[5], "ops", "no", NULL, 0, NOW, NULL), STORE_OK);
	assert_int_equal(maintain(s, ME, NULL, NOW).started, 4);
	n = claim(s, ME, NOW + 1, &c);
	work(s, c, n, id[0], TASK_SUCCEEDED, NOW + 2);
	work(s, c, n, id[1], TASK_DEAD, NOW + 2);
	work(s, c, n, id[2], TASK_WAITING, NOW + 2); /* id[3]'s stay in flight */
	sched_claimed_free(c, n);
	n = claim(s, ME, NOW + 3, &c);
	work(s, c, n, id[0], TASK_SUCCEEDED, NOW + 4); /* its phase 2: done */
	sched_claimed_free(c, n);
	assert_int_equal(cfx_state(s, id[0]), JOB_SUCCEEDED);
	assert_int_equal(cfx_state(s, id[1]), JOB_FAILED);
	assert_int_equal(store_webhook_enqueue(s, &url, 1, 100, NOW + 6, &more), STORE_OK);
	fx_exec(s, "INSERT INTO breakers (service, state, failures, open_until, cooloff_ms,"
		   " updated_at) VALUES ('pos', 'open', 5, 1800000060000, 30000, 1800000000000);"
		   "INSERT INTO retired_services (service, reason, retired_by, retired_at)"
		   " VALUES ('fax', 'gone for good', 'ops', 1800000000000)");
}

static int dump_row(void *ctx, const struct store_table *t, int64_t total,
		    const struct store_value *row)
{
	struct buf *b = ctx;

	buf_printf(b, "%s:", t->name);
	for (int i = 0; i < t->n_cols; i++)
		if (row[i].null)
			buf_puts(b, " NULL");
		else if (t->cols[i].type == STORE_COL_INT)
			buf_printf(b, " %lld", (long long)row[i].num);
		else
			buf_printf(b, " [%s]", row[i].text);
	buf_puts(b, "\n");
	return 0;
}

/* Every portable row of s as text, table by table (malloc'ed). */
static char *dump(struct store *s)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "");
	assert_int_equal(s->be->rows_walk(s, store_tables, store_n_tables, dump_row, &b),
			 STORE_OK);
	buf_append(&b, "", 1);
	return buf_steal(&b);
}

static int64_t count_lines(const char *text, const char *prefix)
{
	int64_t n = 0;
	size_t len = strlen(prefix);

	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += strncmp(p, prefix, len) == 0;
	return n;
}

static void copy_ok(struct store *from, struct store *to, struct store_copy_result *r)
{
	int which = -1;

	if (store_copy(from, to, NULL, NULL, r, &which) != STORE_OK)
		fail_msg("store_copy: %s", store_last_error(which ? to : from));
}

static void test_copies_every_row(void **state)
{
	struct cp *c = *state;
	struct store_copy_result r;
	char *before, *after, head[65], why[160];
	int64_t bad = -1, count = 0;

	fill(c->src.s);
	before = dump(c->src.s);
	copy_ok(c->src.s, c->dst, &r);
	after = dump(c->dst);
	assert_string_equal(after, before);
	assert_int_equal(r.jobs, count_lines(before, "jobs:"));
	assert_int_equal(r.tasks, count_lines(before, "tasks:"));
	assert_true(count_lines(before, "webhook_deliveries:") > 0);
	assert_true(count_lines(before, "tombstones:") == 1);
	assert_true(count_lines(before, "counters:") > 0);
	assert_int_equal(store_events_verify(c->dst, &bad, why, sizeof why, &count, head),
			 STORE_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(count, r.events);
	assert_string_equal(head, r.head);
	/* a SQLite target keeps the events as its own writes do
	 * (store/sqlite/events.c): the dump above read them back as hex */
	if (strcmp(c->backend, "sqlite") == 0) {
		assert_int_equal(fx_int(c->dst, "SELECT count(*) FROM events WHERE"
					" length(hash) <> 32 OR length(prev_hash) <> 0"), 0);
		fx_assert_states_kept(c->dst); /* not copied: counted as loaded */
	}
	free(before);
	free(after);
}

/* What is written after the copy goes on after it: new task ids (not the
 * copied ones), the next event on the copied chain. */
static void test_writes_go_on_after_the_copy(void **state)
{
	struct cp *c = *state;
	struct store_copy_result r;
	char id[JOBS_ID_LEN + 1], head[65], why[160];
	int64_t bad = -1, count = 0;

	fill(c->src.s);
	copy_ok(c->src.s, c->dst, &r);
	/* orders has a suspend task: a task row written at schedule time */
	cfx_schedule(c->dst, "after", NOW, 0, id);
	assert_int_equal(store_job_hold(c->dst, id, "ops", "r", NOW, NULL), STORE_OK);
	assert_int_equal(store_events_verify(c->dst, &bad, why, sizeof why, &count, head),
			 STORE_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(count, r.events + 2);
}

static void test_refuses_a_store_that_is_not_empty(void **state)
{
	struct cp *c = *state;
	struct store_copy_result r;
	char id[JOBS_ID_LEN + 1], *before, *after;
	int which = -1;

	fill(c->src.s);
	cfx_schedule(c->dst, "there", NOW, 0, id);
	before = dump(c->dst);
	assert_int_equal(store_copy(c->src.s, c->dst, NULL, NULL, &r, &which), STORE_REFUSED);
	assert_non_null(strstr(store_last_error(c->dst), "not empty"));
	after = dump(c->dst);
	assert_string_equal(after, before);
	free(before);
	free(after);
}

static void test_knows_the_same_store(void **state)
{
	struct cp *c = *state;
	struct store *again = open_target(c);
	struct store_copy_result r;
	int which = -1;

	assert_int_equal(store_same(c->dst, again), 1);
	assert_int_equal(store_same(c->src.s, c->dst), 0);
	assert_int_equal(store_copy(again, c->dst, NULL, NULL, &r, &which), STORE_REFUSED);
	assert_non_null(strstr(store_last_error(c->dst), "store copied from"));
	store_close(again);
}

struct stop_at {
	int calls, stop_after;
	char last_table[32];
	int64_t last_done, last_total;
};

static int progress(void *ctx, const char *table, int64_t done, int64_t total)
{
	struct stop_at *p = ctx;

	if (strcmp(p->last_table, table) != 0 && p->last_table[0] != '\0')
		assert_int_equal(p->last_done, p->last_total); /* a table ends whole */
	snprintf(p->last_table, sizeof p->last_table, "%s", table);
	p->last_done = done;
	p->last_total = total;
	return ++p->calls == p->stop_after;
}

/* A copy stopped halfway leaves nothing; the next one copies it all. */
static void test_interrupted_copy_leaves_nothing(void **state)
{
	struct cp *c = *state;
	struct stop_at p = { .stop_after = 3 };
	struct store_copy_result r;
	char *empty = dump(c->dst), *after;
	int which = -1;

	fill(c->src.s);
	assert_int_equal(store_copy(c->src.s, c->dst, progress, &p, &r, &which), STORE_ERR);
	assert_int_equal(p.calls, 3);
	assert_string_equal(store_last_error(c->dst), "interrupted");
	after = dump(c->dst);
	assert_string_equal(after, empty);
	free(after);
	p = (struct stop_at){ 0 };
	assert_int_equal(store_copy(c->src.s, c->dst, progress, &p, &r, &which), STORE_OK);
	assert_string_equal(p.last_table, "meta");
	assert_int_equal(p.last_done, p.last_total);
	free(empty);
}

/* A source whose chain was tampered with is not copied. */
static void test_broken_chain_is_not_copied(void **state)
{
	struct cp *c = *state;
	struct store_copy_result r;
	char *empty = dump(c->dst), *after;
	int which = -1;

	fill(c->src.s);
	fx_exec(c->src.s, "DROP TRIGGER events_no_update;"
			  "UPDATE events SET detail = '{}' WHERE id = 3");
	assert_int_equal(store_copy(c->src.s, c->dst, NULL, NULL, &r, &which), STORE_ERR);
	assert_int_equal(which, 1);
	assert_non_null(strstr(store_last_error(c->dst), "event 3"));
	after = dump(c->dst);
	assert_string_equal(after, empty);
	free(after);
	free(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_copies_every_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes_go_on_after_the_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_a_store_that_is_not_empty, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_knows_the_same_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted_copy_leaves_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_broken_chain_is_not_copied, setup, teardown),
	};

	fx_quiet_log(LOG_DEBUG, "TEST_STORE_COPY_LOG");
	return cfx_run("store_copy", tests, ARRAY_LEN(tests));
}
