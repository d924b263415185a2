/*
 * test_store_contract.c - the store's contract (store/store.h) as every
 * backend must keep it, through the interface only: the same cases against
 * SQLite and, when TENANTDEL_TEST_PG_DSN is set, PostgreSQL; a few cases
 * of what only a server database has (several processes, its triggers,
 * its connection string) run there only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/contract_fixture.h"

/* ---- schedule ---- */

static void schedule_is_idempotent_per_tenant(void **state)
{
	struct cfx *f = *state;
	struct store_new_job j[3] = {
		{ .tenant_id = "t2", .requested_by = "a", .due_at = NOW, .deadline_at = NOW + DAY },
		{ .tenant_id = "t3", .requested_by = "a", .due_at = NOW, .deadline_at = NOW + DAY },
		{ .tenant_id = "t2", .requested_by = "a", .due_at = NOW, .deadline_at = NOW + DAY },
	};
	char a[JOBS_ID_LEN + 1], b[JOBS_ID_LEN + 1], ids[3][JOBS_ID_LEN + 1];
	int created[3];

	assert_int_equal(cfx_schedule(f->s, "t1", NOW, 0, a), 1);
	assert_int_equal(cfx_schedule(f->s, "t1", NOW, 0, b), 0);
	assert_string_equal(a, b);
	/* the same tenant twice in one batch: one job */
	assert_int_equal(store_schedule(f->s, j, 3, cfx_svcs(), CFX_N_SVCS, NOW, ids, created),
			 STORE_OK);
	assert_int_equal(created[0], 1);
	assert_int_equal(created[1], 1);
	assert_int_equal(created[2], 0);
	assert_string_equal(ids[0], ids[2]);
	/* once cancelled, the tenant gets a new job */
	assert_int_equal(store_job_cancel(f->s, a, "bob", "no", cfx_svcs(), CFX_N_SVCS, NOW, NULL),
			 STORE_OK);
	assert_int_equal(cfx_schedule(f->s, "t1", NOW, 0, b), 1);
	assert_string_not_equal(a, b);
}

/* A feed of chunks (store_schedule_feed): fail_at > 0 abandons at that
 * call of next; ids and created as stored reported them, in order. */
struct chunks {
	const struct store_new_job *jobs;
	const size_t *sizes;
	size_t calls, done, fail_at;
	char ids[8][JOBS_ID_LEN + 1];
	int created[8];
};

static int chunks_next(void *ctx, const struct store_new_job **jobs, size_t *n)
{
	struct chunks *c = ctx;
	size_t at = 0;

	if (++c->calls == c->fail_at)
		return -1;
	for (size_t i = 0; i + 1 < c->calls; i++)
		at += c->sizes[i];
	*jobs = c->jobs + at;
	*n = c->sizes[c->calls - 1];
	return 0;
}

static int chunks_stored(void *ctx, size_t n, char (*ids)[JOBS_ID_LEN + 1], const int *created)
{
	struct chunks *c = ctx;

	for (size_t i = 0; i < n; i++, c->done++) {
		memcpy(c->ids[c->done], ids[i], sizeof *ids);
		c->created[c->done] = created[i];
	}
	return 0;
}

static int chunks_rewind(void *ctx)
{
	struct chunks *c = ctx;

	c->calls = c->done = 0;
	return 0;
}

/* Chunks share one transaction: a tenant twice across chunks gets one job,
 * and a feed abandoned after a chunk leaves nothing stored. */
static void schedule_feed_chunks_all_or_nothing(void **state)
{
	struct cfx *f = *state;
	struct store_new_job j[5];
	static const char *tenants[5] = { "f1", "f2", "f3", "f1", "f2" };
	static const size_t sizes[4] = { 2, 2, 1, 0 };
	struct chunks c = { .jobs = j, .sizes = sizes };
	struct store_job_feed feed = { chunks_next, chunks_stored, chunks_rewind, &c };
	char id[JOBS_ID_LEN + 1];

	for (int i = 0; i < 5; i++)
		j[i] = (struct store_new_job){ .tenant_id = tenants[i], .requested_by = "a",
					       .due_at = NOW + DAY, .deadline_at = NOW + 2 * DAY };
	c.fail_at = 3;
	assert_int_equal(store_schedule_feed(f->s, &feed, cfx_svcs(), CFX_N_SVCS, NOW), STORE_ERR);
	assert_int_equal(cfx_schedule(f->s, "f3", NOW, 0, id), 1); /* both chunks undone */
	chunks_rewind(&c);
	c.fail_at = 0;
	assert_int_equal(store_schedule_feed(f->s, &feed, cfx_svcs(), CFX_N_SVCS, NOW), STORE_OK);
	assert_int_equal(c.done, 5);
	assert_int_equal(c.created[0] + c.created[1] + c.created[2] + c.created[3] + c.created[4], 2);
	assert_string_equal(c.ids[0], c.ids[3]);
	assert_string_equal(c.ids[1], c.ids[4]);
	assert_string_equal(c.ids[2], id);
}

static void schedule_shows_tasks_before_start(void **state)
{
	struct cfx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct task_record *t;
	size_t n;

	cfx_schedule(f->s, "t1", NOW + DAY, 0, id);
	assert_int_equal(store_job_tasks(f->s, id, &t, &n), STORE_OK);
	assert_int_equal(n, 4); /* orders' suspend, then the deletes by phase, service */
	assert_int_equal(t[0].kind, TASK_KIND_SUSPEND);
	assert_string_equal(t[1].service, "orders");
	assert_string_equal(t[2].service, "pos");
	assert_string_equal(t[3].service, "tenant");
	assert_int_equal(t[1].next_attempt_at, NOW + DAY);
	assert_int_equal(t[3].next_attempt_at, 0);
	jobs_task_records_free(t, n);
	assert_int_equal(store_job_tasks(f->s, "no-such-job", &t, &n), STORE_OK);
	assert_int_equal(n, 0);
	jobs_task_records_free(t, n);
}

/* Two processes schedule the same 30 tenants at once: one job each, and
 * both got its id. */
static void schedule_concurrent_one_job_per_tenant(void **state)
{
	struct cfx *f = *state;
	char path[160];
	pid_t pid;
	int status;

	snprintf(path, sizeof path, "%s/child-ids", f->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0 || pid > 0) {
		struct store *s = pid == 0 ? cfx_open(f) : f->s;
		FILE *out = fopen(pid == 0 ? path : "/dev/null", "w");
		int bad = 0;

		for (int i = 0; i < 30; i++) {
			char tenant[24], id[JOBS_ID_LEN + 1];
			struct store_new_job j = { .tenant_id = tenant, .requested_by = "a",
						   .due_at = NOW, .deadline_at = NOW + DAY };
			char ids[1][JOBS_ID_LEN + 1];
			int created;

			snprintf(tenant, sizeof tenant, "c%02d", i % 100);
			bad |= store_schedule(s, &j, 1, cfx_svcs(), CFX_N_SVCS, NOW, ids, &created);
			memcpy(id, ids[0], sizeof id);
			fprintf(out, "%s %s\n", tenant, id);
		}
		fclose(out);
		if (pid == 0) {
			store_close(s);
			_exit(bad ? 1 : 0);
		}
		assert_int_equal(bad, 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	/* each tenant: one active job, the one the child was told */
	FILE *in = fopen(path, "r");
	char tenant[16], id[JOBS_ID_LEN + 1];
	int rows = 0;

	assert_non_null(in);
	while (fscanf(in, "%15s %36s", tenant, id) == 2) {
		char mine[JOBS_ID_LEN + 1];
		assert_int_equal(cfx_schedule(f->s, tenant, NOW, 0, mine), 0);
		assert_string_equal(mine, id);
		rows++;
	}
	fclose(in);
	assert_int_equal(rows, 30);
}

/* ---- listing ---- */

struct ids {
	char v[16][JOBS_ID_LEN + 1];
	int n;
};

static int collect(void *ctx, const struct job_record *j)
{
	struct ids *l = ctx;

	if (l->n < 16)
		memcpy(l->v[l->n++], j->id, JOBS_ID_LEN + 1);
	return 0;
}

static struct ids list(struct store *s, struct store_list_filter flt)
{
	struct ids l = { .n = 0 };

	assert_int_equal(store_job_list(s, &flt, collect, &l), STORE_OK);
	return l;
}

static void list_filters(void **state)
{
	struct cfx *f = *state;
	char a[JOBS_ID_LEN + 1], b[JOBS_ID_LEN + 1], c[JOBS_ID_LEN + 1], d[JOBS_ID_LEN + 1];
	struct ids l;

	cfx_schedule(f->s, "ta", NOW + 3 * DAY, 0, a);
	cfx_schedule(f->s, "tb", NOW + 1 * DAY, 0, b);
	cfx_schedule(f->s, "tc", NOW - 2 * DAY, 1, c); /* overdue, approval pending */
	cfx_schedule(f->s, "td", NOW + 2 * DAY, 0, d);
	assert_int_equal(store_job_hold(f->s, d, "bob", "wait", NOW, NULL), STORE_OK);

	l = list(f->s, (struct store_list_filter){ .now = NOW });
	assert_int_equal(l.n, 4);
	assert_string_equal(l.v[0], d); /* newest first */
	assert_string_equal(l.v[3], a);
	l = list(f->s, (struct store_list_filter){ .state = "held", .now = NOW });
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], d);
	l = list(f->s, (struct store_list_filter){ .tenant_id = "tb", .now = NOW });
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], b);
	/* user_id finds a user's erasures only: tb's purge is no user's */
	l = list(f->s, (struct store_list_filter){ .user_id = "tb", .now = NOW });
	assert_int_equal(l.n, 0);
	l = list(f->s, (struct store_list_filter){ .due_before = NOW + 2 * DAY, .now = NOW });
	assert_int_equal(l.n, 3); /* soonest first */
	assert_string_equal(l.v[0], c);
	assert_string_equal(l.v[1], b);
	assert_string_equal(l.v[2], d);
	l = list(f->s, (struct store_list_filter){ .overdue = 1, .now = NOW });
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], c);
	l = list(f->s, (struct store_list_filter){ .overdue = 1, .late_first = 1,
						    .now = NOW + 3 * DAY + DAY / 2 });
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0], c);
	assert_string_equal(l.v[1], b);
	assert_string_equal(l.v[2], d);
	l = list(f->s, (struct store_list_filter){ .awaiting_approval = 1, .now = NOW });
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], c);
	l = list(f->s, (struct store_list_filter){ .kind = "reapply", .now = NOW });
	assert_int_equal(l.n, 0);
	l = list(f->s, (struct store_list_filter){ .kind = "purge", .limit = 2, .now = NOW });
	assert_int_equal(l.n, 2);
	l = list(f->s, (struct store_list_filter){ .before_id = l.v[1], .now = NOW });
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], b);
	assert_string_equal(l.v[1], a);
}

/* ---- operator actions ---- */

static void actions_guard_their_states(void **state)
{
	struct cfx *f = *state;
	char id[JOBS_ID_LEN + 1], p[JOBS_ID_LEN + 1];
	struct job_record j;

	cfx_schedule(f->s, "t1", NOW, 0, id);
	assert_int_equal(store_job_release(f->s, id, "bob", NOW, &j), STORE_REFUSED);
	assert_int_equal(j.state, JOB_SCHEDULED);
	jobs_job_record_clear(&j);
	assert_int_equal(store_job_hold(f->s, id, "bob", NULL, NOW, NULL), STORE_REFUSED);
	assert_int_equal(store_job_hold(f->s, id, "bob", "legal", NOW, &j), STORE_OK);
	assert_int_equal(j.state, JOB_HELD);
	assert_string_equal(j.hold_reason, "legal");
	jobs_job_record_clear(&j);
	assert_int_equal(store_job_cancel(f->s, id, "bob", "x", cfx_svcs(), CFX_N_SVCS, NOW, NULL),
			 STORE_REFUSED);
	assert_int_equal(store_job_release(f->s, id, "bob", NOW, NULL), STORE_OK);
	assert_int_equal(cfx_state(f->s, id), JOB_SCHEDULED);
	assert_int_equal(store_job_retry(f->s, id, NULL, "bob", NOW, NULL), STORE_REFUSED);
	assert_int_equal(store_job_cancel(f->s, id, "bob", "x", cfx_svcs(), CFX_N_SVCS, NOW, &j),
			 STORE_OK);
	assert_int_equal(j.state, JOB_CANCELLED);
	jobs_job_record_clear(&j);
	assert_int_equal(store_job_cancel(f->s, id, "bob", "x", cfx_svcs(), CFX_N_SVCS, NOW, NULL),
			 STORE_REFUSED);
	assert_int_equal(store_job_hold(f->s, "no-such-job", "bob", "r", NOW, NULL),
			 STORE_NOT_FOUND);
	/* four eyes: not by who asked for it, once only */
	cfx_schedule(f->s, "t2", NOW, 1, p);
	assert_int_equal(store_job_approve(f->s, p, "alice", NOW, NULL), STORE_REFUSED);
	assert_int_equal(store_job_approve(f->s, p, "carol", NOW, &j), STORE_OK);
	assert_int_equal(j.approval, JOB_APPROVAL_APPROVED);
	assert_string_equal(j.approved_by, "carol");
	jobs_job_record_clear(&j);
	assert_int_equal(store_job_approve(f->s, p, "dave", NOW, NULL), STORE_REFUSED);
}

/* Two processes hold and release one job 20 times each: every action
 * either happens whole or is refused; the chain stays one. */
static void actions_race_from_two_processes(void **state)
{
	struct cfx *f = *state;
	char id[JOBS_ID_LEN + 1];
	int64_t first_bad, count;
	char why[200], head[65];
	pid_t pid;
	int status, ok = 0;

	cfx_schedule(f->s, "t1", NOW, 0, id);
	pid = fork();
	assert_true(pid >= 0);
	struct store *s = pid == 0 ? cfx_open(f) : f->s;
	for (int i = 0; i < 20; i++) {
		int h = store_job_hold(s, id, "x", "r", NOW, NULL);
		int r = store_job_release(s, id, "x", NOW, NULL);
		if ((h != STORE_OK && h != STORE_REFUSED) || (r != STORE_OK && r != STORE_REFUSED))
			ok = -1;
	}
	if (pid == 0) {
		store_close(s);
		_exit(ok ? 1 : 0);
	}
	assert_int_equal(ok, 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(store_events_verify(f->s, &first_bad, why, sizeof why, &count, head),
			 STORE_OK);
	assert_int_equal(first_bad, 0);
	assert_true(count >= 1);
}

/* ---- the events chain ---- */

struct walk {
	int64_t n, last;
	int gaps;
};

static int walk_event(void *ctx, const struct event_record *ev)
{
	struct walk *w = ctx;

	w->gaps += ev->id != w->last + 1;
	w->last = ev->id;
	w->n++;
	return 0;
}

/* Events from two processes writing at once: ids 1..n without a gap, each
 * one's hash chained to the one before (store_events_verify). */
static void events_one_chain_from_two_writers(void **state)
{
	struct cfx *f = *state;
	struct walk w = { 0 };
	int64_t first_bad, count;
	char why[200], head[65];
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	struct store *s = pid == 0 ? cfx_open(f) : f->s;
	for (int i = 0; i < 25; i++) {
		char tenant[24], id[JOBS_ID_LEN + 1];
		snprintf(tenant, sizeof tenant, "%s%02d", pid == 0 ? "child" : "parent", i % 100);
		cfx_schedule(s, tenant, NOW, 0, id);
	}
	if (pid == 0) {
		store_close(s);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(store_events_list(f->s, NULL, walk_event, &w), STORE_OK);
	assert_int_equal(w.n, 50);
	assert_int_equal(w.gaps, 0);
	assert_int_equal(store_events_verify(f->s, &first_bad, why, sizeof why, &count, head),
			 STORE_OK);
	assert_int_equal(first_bad, 0);
	assert_int_equal(count, 50);
}

/* ---- PostgreSQL only ---- */

static void pg_events_are_append_only(void **state)
{
	struct cfx *f = *state;
	char id[JOBS_ID_LEN + 1];

	cfx_schedule(f->s, "t1", NOW, 0, id);
	assert_int_equal(cfx_pg_exec("UPDATE events SET detail = '{}'"), PGRES_FATAL_ERROR);
	assert_int_equal(cfx_pg_exec("DELETE FROM events"), PGRES_FATAL_ERROR);
	assert_int_equal(cfx_pg_exec("TRUNCATE events"), PGRES_FATAL_ERROR);
	assert_int_equal(cfx_pg_int("SELECT count(*) FROM events"), 1);
	assert_int_equal(cfx_pg_exec("INSERT INTO events (id, at, type, detail, prev_hash, hash)"
				     " VALUES (1, 0, 'x', '{}', '', '')"),
			 PGRES_FATAL_ERROR); /* an id taken: no fork */
}

/* Four processes open an empty database at once: each migration is
 * applied once, every one of them opens the store. */
static void pg_migrations_race(void **state)
{
	struct cfx *f = *state;
	pid_t pids[4];
	int status;

	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct store_config c = cfx_config(f, STORE_OPEN_CREATE);
			char err[256];
			struct store *s = store_open(&c, err, sizeof err);
			if (s == NULL)
				fprintf(stderr, "child %d: %s\n", i, err);
			store_close(s);
			_exit(s == NULL);
		}
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(cfx_pg_int("SELECT count(*) FROM tenantdel_schema"), 1);
	assert_int_equal(cfx_pg_int("SELECT count(*) FROM pg_tables WHERE tablename = 'jobs'"), 1);
}

/* Opening a database that is not a store: refused unless asked to create;
 * another program's database refused. */
static void pg_open_refuses_what_is_not_a_store(void **state)
{
	struct cfx *f = *state;
	struct store_config c = cfx_config(f, 0);
	char err[256];

	assert_null(store_open(&c, err, sizeof err));
	assert_non_null(strstr(err, "no store in database"));
	assert_int_equal(cfx_pg_exec("CREATE TABLE other (x int)"), PGRES_COMMAND_OK);
	c.flags = STORE_OPEN_CREATE;
	assert_null(store_open(&c, err, sizeof err));
	assert_non_null(strstr(err, "not a tenantdel store"));
}

/* The connection string never appears in a message, its password neither. */
static void pg_dsn_never_in_errors(void **state)
{
	struct cfx *f = *state;
	const char *const dsns[] = {
		"host=/nonexistent/socket user=u password=Sekr1tPw dbname=x",
		"password Sekr1tPw",
		"postgresql://u:Sekr1tPw@/x?host=/nonexistent/socket",
		"postgresql://u:Sekr1tPw@/x?host=/nonexistent/socket&bogus=%zz",
	};

	for (size_t i = 0; i < sizeof dsns / sizeof dsns[0]; i++) {
		struct store_config c = cfx_config(f, STORE_OPEN_CREATE | STORE_OPEN_BRIEF);
		char err[512] = "";

		c.dsn = dsns[i];
		assert_null(store_open(&c, err, sizeof err));
		assert_true(err[0] != '\0');
		if (strstr(err, "Sekr1tPw") != NULL || strstr(err, "nonexistent/socket user"))
			fail_msg("dsn %zu leaked: %s", i, err);
	}
}

/* A connection LISTENing to the store's wake-ups, as another host's. */
static PGconn *listener(void)
{
	PGconn *c = PQconnectdb(getenv(PG_DSN_ENV));
	PGresult *r = PQexec(c, "LISTEN tenantdel_due");

	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	return c;
}

/* The wake-ups c received: waits (up to 5 s) for the first, then takes
 * what came with or before it (one per transaction, in commit order). */
static int wakeups(PGconn *c)
{
	PGnotify *n;
	int k = 0;

	for (int i = 0; i < 500 && k == 0; i++) {
		if (i > 0)
			usleep(10000);
		assert_int_equal(PQconsumeInput(c), 1);
		for (; (n = PQnotifies(c)) != NULL; k++)
			PQfreemem(n);
	}
	PQclear(PQexec(c, "SELECT 1"));
	for (; (n = PQnotifies(c)) != NULL; k++)
		PQfreemem(n);
	return k;
}

/* What makes work due now wakes the other hosts (LISTEN/NOTIFY), once per
 * transaction; what does not (a job awaiting approval, a hold, a cancel
 * with nothing to restore) sends none: the wake-up after it is the only
 * one. */
static void pg_due_work_notifies(void **state)
{
	struct cfx *f = *state;
	PGconn *c = listener();
	char id[JOBS_ID_LEN + 1], p[JOBS_ID_LEN + 1], q[JOBS_ID_LEN + 1];

	cfx_schedule(f->s, "t1", NOW, 0, id);
	assert_int_equal(wakeups(c), 1);
	cfx_schedule(f->s, "t2", NOW, 1, p); /* awaits approval, suspends too */
	assert_int_equal(store_job_approve(f->s, p, "carol", NOW, NULL), STORE_OK);
	assert_int_equal(wakeups(c), 1);
	assert_int_equal(store_job_hold(f->s, id, "bob", "legal", NOW, NULL), STORE_OK);
	assert_int_equal(store_job_release(f->s, id, "bob", NOW, NULL), STORE_OK);
	assert_int_equal(wakeups(c), 1);
	assert_int_equal(store_job_cancel(f->s, id, "bob", "x", NULL, 0, NOW, NULL), STORE_OK);
	cfx_schedule(f->s, "t3", NOW + DAY, 0, q); /* its suspend is due now */
	assert_int_equal(wakeups(c), 1);
	PQfinish(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(schedule_is_idempotent_per_tenant, cfx_setup,
						cfx_teardown),
		cmocka_unit_test_setup_teardown(schedule_feed_chunks_all_or_nothing, cfx_setup,
						cfx_teardown),
		cmocka_unit_test_setup_teardown(schedule_shows_tasks_before_start, cfx_setup,
						cfx_teardown),
		cmocka_unit_test_setup_teardown(schedule_concurrent_one_job_per_tenant, cfx_setup,
						cfx_teardown),
		cmocka_unit_test_setup_teardown(list_filters, cfx_setup, cfx_teardown),
		cmocka_unit_test_setup_teardown(actions_guard_their_states, cfx_setup, cfx_teardown),
		cmocka_unit_test_setup_teardown(actions_race_from_two_processes, cfx_setup,
						cfx_teardown),
		cmocka_unit_test_setup_teardown(events_one_chain_from_two_writers, cfx_setup,
						cfx_teardown),
		cmocka_unit_test_prestate_setup_teardown(pg_events_are_append_only, cfx_setup,
							 cfx_teardown, (void *)"postgresql"),
		cmocka_unit_test_prestate_setup_teardown(pg_migrations_race, cfx_setup_empty,
							 cfx_teardown, (void *)"postgresql"),
		cmocka_unit_test_prestate_setup_teardown(pg_open_refuses_what_is_not_a_store,
							 cfx_setup_empty, cfx_teardown,
							 (void *)"postgresql"),
		cmocka_unit_test_prestate_setup_teardown(pg_dsn_never_in_errors, cfx_setup_empty,
							 cfx_teardown, (void *)"postgresql"),
		cmocka_unit_test_prestate_setup_teardown(pg_due_work_notifies, cfx_setup,
							 cfx_teardown, (void *)"postgresql"),
	};

	log_set_level(LOG_ERROR);
	if (getenv("TEST_LOG") == NULL)
		log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
	return cfx_run("store contract", tests, sizeof tests / sizeof tests[0]) ? 1 : 0;
}
