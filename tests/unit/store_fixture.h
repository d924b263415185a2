/*
 * store_fixture.h - the per-test fixture of the store's unit tests: a fresh
 * temporary folder and database for each test, removed afterwards, and raw
 * SQL for arranging or inspecting rows: the SQLite backend's tests.
 * Include after <cmocka.h>.
 */
#ifndef TENANTDEL_STORE_FIXTURE_H
#define TENANTDEL_STORE_FIXTURE_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"

/* The store tests' clock: "now" and a day, in epoch ms. */
#define NOW 1800000000000LL /* 2027-01-15 */
#define DAY 86400000LL

struct fx {
	char dir[64];
	char path[128];
	struct store *s;
};

/* store_open of the SQLite store at path with flags (STORE_OPEN_*). */
static inline struct store *fx_open(const char *path, int flags, char *err, size_t errlen)
{
	struct store_config c = { .backend = "sqlite", .path = path, .flags = flags };

	return store_open(&c, err, errlen);
}

/* A cmocka setup: mkdtemp under /tmp named after prefix, a store in it. */
static inline int fx_setup(void **state, const char *prefix)
{
	struct fx *f = xcalloc(1, sizeof *f);
	char err[256];

	snprintf(f->dir, sizeof f->dir, "/tmp/%s.XXXXXX", prefix);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
	f->s = fx_open(f->path, STORE_OPEN_CREATE, err, sizeof err);
	assert_non_null(f->s);
	/* A webhook configured: the tests look at the outbox rows too. */
	store_set_webhooks(f->s, (const char *const[]){ "http://127.0.0.1:9/hook" }, 1);
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];

	store_close(f->s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* For main(): log from level on, and only to /dev/null unless the
 * environment variable env is set: the errors the tests provoke on purpose
 * would only clutter the TAP output. */
static inline void fx_quiet_log(enum log_level level, const char *env)
{
	log_set_level(level);
	if (getenv(env) == NULL)
		log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
}

/* Runs SQL on the store's connection; fails the test when it errs. */
static inline void fx_exec(struct store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(sqlite_of(s)->db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

/* A one-number answer of SQL on the store's connection; fails the test
 * when it errs or returns no row. */
static inline int64_t fx_int(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(sqlite_of(s)->db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The kept counts of jobs by state (job_states) are the counts of the
 * jobs table: triggers keep them as jobs change state or go, the code that
 * inserts a job as it is created (schema version 15). */
static inline void fx_assert_states_kept(struct store *s)
{
	assert_int_equal(fx_int(s, "SELECT COALESCE(SUM(n), 0) FROM job_states"),
			 fx_int(s, "SELECT count(*) FROM jobs"));
	assert_int_equal(fx_int(s, "SELECT count(*) FROM job_states k WHERE k.n <>"
				   " (SELECT count(*) FROM jobs j WHERE j.state = k.state)"),
			 0);
	assert_int_equal(fx_int(s, "SELECT count(DISTINCT state) FROM jobs"),
			 fx_int(s, "SELECT count(*) FROM job_states WHERE n > 0"));
}

/* The services most store tests schedule with: orders (with suspend and
 * restore URLs) and pos in phase 1, tenant in phase 2. */
#define FX_N_SVCS 3
static inline const struct store_service *fx_svcs(void)
{
	static const struct store_service v[FX_N_SVCS] = {
		{ .name = "orders", .phase = 1, .has_suspend = 1, .has_restore = 1 },
		{ .name = "pos", .phase = 1 },
		{ .name = "tenant", .phase = 2 },
	};

	return v;
}

/* Schedules tenant at now, due at due (deadline a day later) with svcs;
 * its id into id. Returns created. */
static inline int fx_schedule(struct store *s, const char *tenant, int64_t now, int64_t due,
			      const struct store_service *svcs, size_t n,
			      char id[JOBS_ID_LEN + 1])
{
	struct store_new_job j = { .tenant_id = tenant, .requested_by = "test",
				   .reason = "unit", .due_at = due,
				   .deadline_at = due + 86400000LL };
	char ids[1][JOBS_ID_LEN + 1];
	int created = -1;

	assert_int_equal(store_schedule(s, &j, 1, svcs, n, now, ids, &created), STORE_OK);
	memcpy(id, ids[0], JOBS_ID_LEN + 1);
	return created;
}

/* Starts the jobs due at now as the engine does (their delete tasks are
 * created); returns how many. */
static inline int fx_start_due(struct store *s, int64_t now)
{
	struct sched_maint m;

	assert_int_equal(sched_maintain(s, "test", NULL, NULL, 0, NULL, 0, now, &m), STORE_OK);
	return m.started;
}

/* The task of service svc and kind among t[0..n), or NULL. */
static inline const struct task_record *fx_find_task(const struct task_record *t, size_t n,
						     const char *svc, enum task_kind kind)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].service, svc) == 0 && t[i].kind == kind)
			return &t[i];
	return NULL;
}

#endif
