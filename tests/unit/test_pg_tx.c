/*
 * test_pg_tx.c - PostgreSQL write transactions whose COMMIT loses its
 * connection: the server is asked what became of the transaction, and the
 * body runs again only when it was rolled back. The COMMIT is broken by a
 * deferred trigger that terminates its own backend while committing, once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/contract_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(pg_commit_lost_and_rolled_back_runs_again,
							 cfx_setup, cfx_teardown,
							 (void *)"postgresql"),
	};

	log_set_level(LOG_ERROR);
	if (getenv("TEST_LOG") == NULL)
		log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
	return cfx_run("pg transactions", tests, sizeof tests / sizeof tests[0]) ? 1 : 0;
}
