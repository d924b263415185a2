/*
 * test_pg_tx.c - PostgreSQL write transactions whose COMMIT loses its
 * connection: the server is asked what became of the transaction, and the
 * body runs again only when it was rolled back. Rolled back: a deferred
 * trigger terminates its own backend while committing, once. Committed: a
 * proxy between the store and the server (pg_proxy.h) loses the reply to
 * a COMMIT the server carried out, once.
 * And a transaction with more events than it keeps in memory (a bulk
 * schedule) writes them as it goes, all or nothing still.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/contract_fixture.h"
#include "tests/unit/pg_proxy.h"

/* The proxy of the test that goes through one (its setup to its teardown). */
static struct pg_proxy proxy;

/* The next COMMIT that inserted a job is killed on the server, once. */
static void kill_next_commit(void)
{
	assert_int_equal(
		cfx_pg_exec("CREATE SEQUENCE kill_once;"
			    "CREATE FUNCTION kill_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$"
			    " BEGIN IF nextval('kill_once') = 1 THEN"
			    "  PERFORM pg_terminate_backend(pg_backend_pid()); END IF;"
			    " RETURN NULL; END $$;"
			    "CREATE CONSTRAINT TRIGGER kill_at_commit AFTER INSERT ON jobs"
			    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION kill_at_commit()"),
		PGRES_COMMAND_OK);
}

/* The COMMIT died with its backend, so nothing was stored: the schedule is
 * run again on a new connection and stored once. */
static void pg_commit_lost_and_rolled_back_runs_again(void **state)
{
	struct cfx *f = *state;
	char id[JOBS_ID_LEN + 1];

	kill_next_commit();
	assert_int_equal(cfx_schedule(f->s, "t1", NOW, 0, id), 1);
	assert_int_equal(cfx_pg_int("SELECT last_value FROM kill_once"), 2); /* two commits */
	assert_int_equal(cfx_pg_int("SELECT count(*) FROM jobs"), 1);
	assert_int_equal(cfx_pg_int("SELECT count(*) FROM events"), 1);
	assert_int_equal(cfx_state(f->s, id), JOB_SCHEDULED);
	/* and the store goes on on its new connection */
	assert_int_equal(cfx_schedule(f->s, "t2", NOW, 0, id), 1);
	assert_int_equal(cfx_pg_int("SELECT count(*) FROM events"), 2);
}

/* A fresh database, and the store opened on it through the proxy. */
static int setup_proxied(void **state)
{
	struct cfx *f;
	struct store_config c;
	char err[256];

	cfx_setup_empty(state);
	f = *state;
	pg_proxy_start(&proxy);
	c = cfx_config(f, STORE_OPEN_CREATE);
	c.dsn = proxy.dsn;
	f->s = store_open(&c, err, sizeof err);
	if (f->s == NULL)
		fail_msg("store_open through the proxy: %s", err);
	store_set_webhooks(f->s, (const char *const[]){ "http://127.0.0.1:9/hook" }, 1);
	return 0;
}

static int teardown_proxied(void **state)
{
	cfx_teardown(state);
	pg_proxy_stop(&proxy);
	return 0;
}

/* The server committed, and the reply was lost with the connection: the
 * store asks on a new connection, is told "committed", and reports the
 * schedule done without running it again (run again, it would find the job
 * already there: created 0). Stored once, one event, and the warning says
 * why. */
static void pg_commit_lost_but_committed_is_done(void **state)
{
	struct cfx *f = *state;
	char id[JOBS_ID_LEN + 1], log_path[160], *log;
	int fd;

	snprintf(log_path, sizeof log_path, "%s/log", f->dir);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	log_set_fd(fd);
	log_set_level(LOG_WARN);
	atomic_store(&proxy.armed, 1);
	assert_int_equal(cfx_schedule(f->s, "t1", NOW, 0, id), 1);
	log_set_level(LOG_ERROR);
	log_set_fd(getenv("TEST_LOG") ? 2 : open("/dev/null", O_WRONLY | O_CLOEXEC));
	close(fd);
	assert_int_equal(atomic_load(&proxy.cuts), 1);
	assert_int_equal(cfx_pg_int("SELECT count(*) FROM jobs WHERE tenant_id = 't1'"), 1);
	assert_int_equal(cfx_pg_int("SELECT count(*) FROM events"), 1);
	assert_int_equal(cfx_state(f->s, id), JOB_SCHEDULED);
	log = util_read_file(log_path, NULL);
	assert_non_null(log);
	assert_non_null(strstr(log, "connection lost during COMMIT; the transaction committed"));
	free(log);
	/* and the store goes on on its new connection */
	assert_int_equal(cfx_schedule(f->s, "t2", NOW, 0, id), 1);
	assert_int_equal(cfx_pg_int("SELECT count(*) FROM events"), 2);
}

/* A feed of n jobs ("bulk-N") in chunks of 1000; abandoned at the call of
 * next numbered fail_at (0: never). */
struct bulk {
	struct store_new_job jobs[1000];
	char tenants[1000][16];
	size_t n, sent, calls, fail_at;
	int64_t chain_locked; /* the chain's lock, seen from outside after 10,000 */
};

static int bulk_next(void *ctx, const struct store_new_job **jobs, size_t *n)
{
	struct bulk *b = ctx;
	size_t k = b->n - b->sent < 1000 ? b->n - b->sent : 1000;

	if (++b->calls == b->fail_at)
		return -1;
	for (size_t i = 0; i < k; i++) {
		snprintf(b->tenants[i], sizeof b->tenants[i], "bulk-%zu", b->sent + i);
		b->jobs[i] = (struct store_new_job){ .tenant_id = b->tenants[i], .requested_by = "a",
						     .due_at = NOW + DAY, .deadline_at = NOW + 2 * DAY };
	}
	b->sent += k;
	*jobs = b->jobs;
	*n = k;
	return 0;
}

static int bulk_stored(void *ctx, size_t n, char (*ids)[JOBS_ID_LEN + 1], const int *created)
{
	struct bulk *b = ctx;

	/* the chain's lock ("tdel" 2: classid 0x7464, objid 0x656c0002) in this
	 * test's database: pg_locks lists the whole cluster's, and the
	 * end-to-end tests running meanwhile hold the same lock in theirs */
	if (b->sent == 10000)
		b->chain_locked = cfx_pg_int("SELECT count(*) FROM pg_locks WHERE locktype ="
					     " 'advisory' AND classid = 29796 AND objid = 1701576706"
					     " AND granted AND database = (SELECT oid FROM pg_database"
					     " WHERE datname = current_database())");
	return 0;
}

static int bulk_rewind(void *ctx)
{
	struct bulk *b = ctx;

	b->sent = b->calls = 0;
	return 0;
}

/* 20,000 jobs in one transaction: more events than are held in memory, so
 * they are written as the feed goes, under the chain's lock. Abandoned
 * after 15,000, nothing is left; whole, the chain verifies and another
 * writer's event follows it. */
static void pg_bulk_events_written_as_they_go(void **state)
{
	struct cfx *f = *state;
	static struct bulk b;
	struct store_job_feed feed = { bulk_next, bulk_stored, bulk_rewind, &b };
	int64_t bad = -1, count = 0;
	char head[65], why[200] = "", id[JOBS_ID_LEN + 1];

	b = (struct bulk){ .n = 20000, .fail_at = 16 };
	assert_int_equal(store_schedule_feed(f->s, &feed, cfx_svcs(), CFX_N_SVCS, NOW), STORE_ERR);
	assert_int_equal(cfx_pg_int("SELECT count(*) FROM events"), 0);
	assert_int_equal(cfx_pg_int("SELECT count(*) FROM jobs"), 0);
	bulk_rewind(&b);
	b.fail_at = 0;
	assert_int_equal(store_schedule_feed(f->s, &feed, cfx_svcs(), CFX_N_SVCS, NOW), STORE_OK);
	assert_int_equal(b.chain_locked, 1); /* written before the end: the lock taken */
	assert_int_equal(cfx_schedule(f->s, "after", NOW, 0, id), 1);
	assert_int_equal(store_events_verify(f->s, &bad, why, sizeof why, &count, head), STORE_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(count, 20001);
	assert_int_equal(cfx_pg_int("SELECT max(id) FROM events"), 20001);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(pg_commit_lost_and_rolled_back_runs_again,
							 cfx_setup, cfx_teardown,
							 (void *)"postgresql"),
		cmocka_unit_test_prestate_setup_teardown(pg_commit_lost_but_committed_is_done,
							 setup_proxied, teardown_proxied,
							 (void *)"postgresql"),
		cmocka_unit_test_prestate_setup_teardown(pg_bulk_events_written_as_they_go,
							 cfx_setup, cfx_teardown,
							 (void *)"postgresql"),
	};

	log_set_level(LOG_ERROR);
	if (getenv("TEST_LOG") == NULL)
		log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
	return cfx_run("pg transactions", tests, sizeof tests / sizeof tests[0]) ? 1 : 0;
}
