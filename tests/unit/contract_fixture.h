/*
 * contract_fixture.h - the fixture of the store's contract tests
 * (test_store_contract.c): the same cases against every backend, through
 * store.h only. SQLite: a fresh file per test. PostgreSQL (when
 * TENANTDEL_TEST_PG_DSN names a database: `make test` starts a throwaway
 * cluster, tests/pg/cluster): the database emptied per test. Include after
 * <cmocka.h>.
 */
#ifndef TENANTDEL_CONTRACT_FIXTURE_H
#define TENANTDEL_CONTRACT_FIXTURE_H

#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/log.h"
#include "util/util.h"

#define PG_DSN_ENV "TENANTDEL_TEST_PG_DSN"
#define NOW 1800000000000LL /* 2027-01-15 */
#define DAY 86400000LL

struct cfx {
	const char *backend; /* "sqlite" or "postgresql" */
	char dir[64];
	char path[128];
	struct store *s;
};

/* The store_config of the fixture's store. */
static inline struct store_config cfx_config(const struct cfx *f, int flags)
{
	struct store_config c = { .backend = f->backend, .path = f->path, .flags = flags,
				  .dsn = getenv(PG_DSN_ENV), .node = "unit" };
	return c;
}

/* Runs SQL on a connection of its own to the test database (PostgreSQL);
 * returns libpq's result status. */
static inline ExecStatusType cfx_pg_exec(const char *sql)
{
	PGconn *c = PQconnectdb(getenv(PG_DSN_ENV));
	PGresult *r;
	ExecStatusType st;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, sql);
	st = PQresultStatus(r);
	PQclear(r);
	PQfinish(c);
	return st;
}

/* One number from SQL on the test database (PostgreSQL). */
static inline int64_t cfx_pg_int(const char *sql)
{
	PGconn *c = PQconnectdb(getenv(PG_DSN_ENV));
	PGresult *r = PQexec(c, sql);
	int64_t v;

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return v;
}

/* Empties the test database: no store in it. */
static inline void cfx_pg_empty(void)
{
	assert_int_equal(cfx_pg_exec("SET client_min_messages = warning;"
				     "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"),
			 PGRES_COMMAND_OK);
}

/* The jobs in state as the metrics count them (`tenantdel metrics`): kept
 * apart from the jobs table (SQLite: job_states), so every way a job is
 * created must count it. */
static inline int64_t cfx_jobs_counted(struct store *s, enum job_state state)
{
	struct store_metrics m;
	int64_t n;

	assert_int_equal(store_metrics_read(s, NOW, NULL, 0, &m), STORE_OK);
	n = m.jobs[state];
	store_metrics_clear(&m);
	return n;
}

/* A cmocka setup for the backend *state names (a const char *): a fresh,
 * empty store, not opened when open is 0. */
static inline int cfx_setup_store(void **state, int open)
{
	struct cfx *f = xcalloc(1, sizeof *f);
	struct store_config c;
	char err[256];

	f->backend = *state;
	snprintf(f->dir, sizeof f->dir, "/tmp/contract.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
	if (strcmp(f->backend, "postgresql") == 0)
		cfx_pg_empty();
	c = cfx_config(f, STORE_OPEN_CREATE);
	if (open) {
		f->s = store_open(&c, err, sizeof err);
		if (f->s == NULL)
			fail_msg("store_open: %s", err);
		store_set_webhooks(f->s, (const char *const[]){ "http://127.0.0.1:9/hook" }, 1);
	}
	*state = f;
	return 0;
}

static inline int cfx_setup(void **state)
{
	return cfx_setup_store(state, 1);
}

static inline int cfx_setup_empty(void **state)
{
	return cfx_setup_store(state, 0);
}

static inline int cfx_teardown(void **state)
{
	struct cfx *f = *state;
	char cmd[160];

	store_close(f->s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Opens another handle on the fixture's store (fails the test if it cannot). */
static inline struct store *cfx_open(const struct cfx *f)
{
	struct store_config c = cfx_config(f, STORE_OPEN_CREATE);
	char err[256];
	struct store *s = store_open(&c, err, sizeof err);

	if (s == NULL)
		fail_msg("store_open: %s", err);
	return s;
}

#define CFX_N_SVCS 3
static inline const struct store_service *cfx_svcs(void)
{
	static const struct store_service v[CFX_N_SVCS] = {
		{ .name = "orders", .phase = 1, .has_suspend = 1, .has_restore = 1 },
		{ .name = "pos", .phase = 1 },
		{ .name = "tenant", .phase = 2 },
	};
	return v;
}

/* Schedules tenant (due at due, deadline a day later, approval pending when
 * pending); its id into id. Returns created. */
static inline int cfx_schedule(struct store *s, const char *tenant, int64_t due, int pending,
			       char id[JOBS_ID_LEN + 1])
{
	struct store_new_job j = { .tenant_id = tenant, .requested_by = "alice",
				   .reason = "unit", .due_at = due, .deadline_at = due + DAY,
				   .approval_pending = pending };
	char ids[1][JOBS_ID_LEN + 1];
	int created = -1;

	assert_int_equal(store_schedule(s, &j, 1, cfx_svcs(), CFX_N_SVCS, NOW, ids, &created),
			 STORE_OK);
	memcpy(id, ids[0], JOBS_ID_LEN + 1);
	return created;
}

/* The state of job id. */
static inline enum job_state cfx_state(struct store *s, const char *id)
{
	struct job_record j;
	enum job_state st;

	assert_int_equal(store_job_get(s, id, &j), STORE_OK);
	st = j.state;
	jobs_job_record_clear(&j);
	return st;
}

/* The cmocka tests of each backend available: sqlite always, postgresql
 * when PG_DSN_ENV is set. Returns the failures. */
static inline int cfx_run(const char *group, const struct CMUnitTest *tests, size_t n)
{
	static const char *const sqlite = "sqlite", *const pg = "postgresql";
	struct CMUnitTest *v = xcalloc(n, sizeof *v);
	int failed = 0;

	for (int b = 0; b < 2; b++) {
		const char *name = b == 0 ? sqlite : pg;
		size_t k = 0;
		char title[64];

		if (b == 1 && getenv(PG_DSN_ENV) == NULL) {
			/* CI installs everything: a backend left untested there fails */
			const char *ci = getenv("CI");
			fprintf(stderr, "%s: %s not set: PostgreSQL not tested\n", group, PG_DSN_ENV);
			failed += ci != NULL && strcmp(ci, "true") == 0;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			/* a test whose initial_state names one backend runs on it only */
			if (tests[i].initial_state != NULL &&
			    strcmp(tests[i].initial_state, name) != 0)
				continue;
			v[k] = tests[i];
			v[k++].initial_state = (void *)name;
		}
		snprintf(title, sizeof title, "%s (%s)", group, name);
		failed += _cmocka_run_group_tests(title, v, k, NULL, NULL);
	}
	free(v);
	return failed;
}

#endif
