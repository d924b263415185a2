/*
 * test_subject_contract.c - data-subject erasure in the store (DESIGN 9),
 * through store.h only, against SQLite and (with TENANTDEL_TEST_PG_DSN:
 * `make test` starts a throwaway cluster) PostgreSQL: one active subject
 * job per user, the discover step's success remembering the tenants and
 * creating the child purges in its record transaction, a failed child
 * failing its subject job, later steps waiting for every child, operator
 * actions reaching the children, and the steps never taken for services
 * the config lacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "contract_fixture.h"

#define ME "hostA/boot/1/1"

/* The config's services, then the subject job's steps (the engine claims
 * with both; it syncs the config's only). */
#define N_CONF 3
#define N_ALL (N_CONF + SUBJECT_N_STEPS)
static struct sched_service SVC[N_ALL] = {
	{ .name = "orders", .phase = 1, .enabled = 1, .max_in_flight = 8, .lease_ms = 60000 },
	{ .name = "pos", .phase = 1, .enabled = 1, .max_in_flight = 8, .lease_ms = 60000 },
	{ .name = "tenant", .phase = 2, .enabled = 1, .max_in_flight = 8, .lease_ms = 60000 },
	{ .name = SUBJECT_STEP_DISCOVER, .phase = 1, .enabled = 1, .max_in_flight = 8,
	  .lease_ms = 60000 },
	{ .name = SUBJECT_STEP_MEMBERSHIPS, .phase = 2, .enabled = 1, .max_in_flight = 8,
	  .lease_ms = 60000 },
	{ .name = SUBJECT_STEP_USER, .phase = 3, .enabled = 1, .max_in_flight = 8,
	  .lease_ms = 60000 },
};

static int schedule_user(struct store *s, const char *user, char id[JOBS_ID_LEN + 1])
{
	struct store_new_job j = { .tenant_id = user, .requested_by = "alice",
				   .reason = "gdpr", .due_at = NOW, .deadline_at = NOW + DAY };
	int created = -1;

	assert_int_equal(store_schedule_subject(s, &j, NOW, id, &created), STORE_OK);
	return created;
}

/* Housekeeping until done: due jobs start, their first phase opens. */
static void maintain(struct store *s, int64_t now)
{
	struct sched_maint m;

	do
		assert_int_equal(sched_maintain(s, ME, NULL, NULL, 0, NULL, 0, now, &m), STORE_OK);
	while (m.more);
}

/* Claims every due task; records the one of job_id and service with state
 * (and, for the discover step, what it found). Returns whether it found it. */
static int run_task(struct store *s, const char *job_id, const char *service,
		    enum task_state state, const struct subject_tenant *found, size_t n_found,
		    int64_t now)
{
	struct sched_claimed *c = NULL;
	struct sched_result r;
	size_t n = 0;
	int hit = 0;

	assert_int_equal(sched_claim_tasks(s, ME, SVC, N_ALL, 0, 100, now, &c, &n), STORE_OK);
	for (size_t i = 0; i < n; i++) {
		int mine = strcmp(c[i].job_id, job_id) == 0 && strcmp(c[i].service, service) == 0;

		r = (struct sched_result){
			.task_id = c[i].task_id, .lease_until = c[i].lease_until,
			.job_id = c[i].job_id, .tenant_id = c[i].tenant_id,
			.service = c[i].service, .kind = c[i].kind, .attempt = c[i].attempts + 1,
			.state = mine ? state : TASK_WAITING, .unsent = !mine,
			.next_attempt_at = now + DAY, .http_status = mine ? 200 : 0,
			.outcome = "success", .total = -1, .before_total = -1,
			.verified_after = -1, .duration_ms = 5, .breaker = POLICY_BREAKER_SKIP,
			.error = state == TASK_DEAD && mine ? "gone wrong" : NULL,
			.discovery = mine && found != NULL, .discovered = found,
			.n_discovered = n_found,
		};
		hit |= mine;
		assert_int_equal(sched_record_results(s, ME, &r, 1, SVC, N_ALL, now, NULL),
				 STORE_OK);
	}
	sched_claimed_free(c, n);
	return hit;
}

/* The state of job id's task of service. */
static enum task_state task_state(struct store *s, const char *id, const char *service)
{
	struct task_record *t;
	size_t n;
	enum task_state st = TASK_SKIPPED;
	int seen = 0;

	assert_int_equal(store_job_tasks(s, id, &t, &n), STORE_OK);
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].service, service) == 0) {
			st = t[i].state;
			seen = 1;
		}
	jobs_task_records_free(t, n);
	assert_true(seen);
	return st;
}

static int count_type(void *ctx, const struct event_record *ev)
{
	int *n = ctx;

	*n += strcmp(ev->type, "subject.discovered") == 0;
	return 0;
}

/* One active subject job per user, with its three steps; another user's
 * is another job, and a user id may also be a tenant id. */
static void subject_one_active_job_per_user(void **state)
{
	struct cfx *f = *state;
	char a[JOBS_ID_LEN + 1], b[JOBS_ID_LEN + 1], c[JOBS_ID_LEN + 1], t[JOBS_ID_LEN + 1];
	struct task_record *tasks;
	struct subject_tenant *found = NULL;
	struct job_record j;
	size_t n;

	assert_int_equal(schedule_user(f->s, "u-1", a), 1);
	assert_int_equal(schedule_user(f->s, "u-1", b), 0);
	assert_string_equal(a, b);
	assert_int_equal(schedule_user(f->s, "u-2", c), 1);
	assert_string_not_equal(a, c);
	assert_int_equal(cfx_schedule(f->s, "u-1", NOW, 0, t), 1);
	assert_int_equal(cfx_jobs_counted(f->s, JOB_SCHEDULED), 3);
	assert_int_equal(store_job_get(f->s, a, &j), STORE_OK);
	assert_int_equal(j.kind, JOB_KIND_USER);
	assert_int_equal(j.state, JOB_SCHEDULED);
	assert_null(j.parent_id);
	jobs_job_record_clear(&j);
	assert_int_equal(store_job_tasks(f->s, a, &tasks, &n), STORE_OK);
	assert_int_equal(n, SUBJECT_N_STEPS);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(tasks[i].service, subject_step_name((enum subject_step)i));
		assert_int_equal(tasks[i].phase, (int)i + 1);
		assert_null(tasks[i].last_error); /* a step is no absent service */
	}
	jobs_task_records_free(tasks, n);
	assert_int_equal(store_subject_tenants(f->s, a, &found, &n), STORE_OK);
	assert_int_equal(n, 0);
	free(found);
}

static void discovered(struct subject_tenant v[3])
{
	memset(v, 0, 3 * sizeof *v);
	snprintf(v[0].tenant_id, sizeof v[0].tenant_id, "t-alone");
	v[0].role = SUBJECT_ROLE_OWNER;
	v[0].decision = SUBJECT_PURGE;
	snprintf(v[0].reason, sizeof v[0].reason, "only admin");
	snprintf(v[1].tenant_id, sizeof v[1].tenant_id, "t-member");
	v[1].role = SUBJECT_ROLE_MEMBER;
	snprintf(v[1].reason, sizeof v[1].reason, "member only");
	snprintf(v[2].tenant_id, sizeof v[2].tenant_id, "t-busy");
	v[2].role = SUBJECT_ROLE_ADMIN;
	v[2].decision = SUBJECT_PURGE;
	snprintf(v[2].reason, sizeof v[2].reason, "only admin");
}

/* The discover step's success: tenants remembered, a child purge per tenant
 * to purge (a tenant's active purge stands for it), later steps waiting for
 * the children; a dead child task fails the subject job; retry, hold and
 * release of the subject job reach the child. */
static void subject_discovery_and_children(void **state)
{
	struct cfx *f = *state;
	char id[JOBS_ID_LEN + 1], busy[JOBS_ID_LEN + 1], child[JOBS_ID_LEN + 1];
	struct subject_tenant v[3], *got = NULL;
	struct store_absent *abs = NULL;
	struct job_record j;
	size_t n;
	int events = 0;

	assert_int_equal(sched_sync_services(f->s, SVC, N_CONF, NOW, NULL, NULL), STORE_OK);
	assert_int_equal(cfx_schedule(f->s, "t-busy", NOW + DAY, 0, busy), 1);
	assert_int_equal(schedule_user(f->s, "u-1", id), 1);
	maintain(f->s, NOW);
	assert_int_equal(cfx_state(f->s, id), JOB_RUNNING);
	discovered(v);
	assert_true(run_task(f->s, id, SUBJECT_STEP_DISCOVER, TASK_SUCCEEDED, v, 3, NOW + 1));

	assert_int_equal(store_subject_tenants(f->s, id, &got, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(got[0].tenant_id, "t-alone"); /* by tenant id */
	assert_int_equal(got[0].decision, SUBJECT_PURGE);
	assert_string_equal(got[1].tenant_id, "t-busy");
	assert_string_equal(got[1].child_job_id, busy);
	assert_string_equal(got[2].tenant_id, "t-member");
	assert_int_equal(got[2].decision, SUBJECT_KEEP);
	assert_int_equal(got[2].role, SUBJECT_ROLE_MEMBER);
	assert_string_equal(got[2].child_job_id, "");
	assert_string_equal(got[2].reason, "member only");
	memcpy(child, got[0].child_job_id, sizeof child);
	free(got);
	/* t-busy's purge, the child: scheduled; the subject job: running */
	assert_int_equal(cfx_jobs_counted(f->s, JOB_SCHEDULED), 2);
	assert_int_equal(cfx_jobs_counted(f->s, JOB_RUNNING), 1);
	assert_int_equal(store_job_get(f->s, child, &j), STORE_OK);
	assert_int_equal(j.kind, JOB_KIND_PURGE);
	assert_string_equal(j.tenant_id, "t-alone");
	assert_string_equal(j.parent_id, id);
	assert_int_equal(j.due_at, NOW + 1);
	assert_int_equal(j.deadline_at, NOW + DAY);
	jobs_job_record_clear(&j);
	assert_int_equal(store_events_list(f->s, id, count_type, &events), STORE_OK);
	assert_int_equal(events, 1);
	/* the steps are no service the config lacks */
	assert_int_equal(store_absent_services(f->s, cfx_svcs(), CFX_N_SVCS, &abs, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_absent_free(abs, n);

	/* a child's task dies: the child fails, and so does its subject job;
	 * meanwhile the memberships step waited for the children (never claimed) */
	maintain(f->s, NOW + 2);
	assert_int_equal(cfx_state(f->s, child), JOB_RUNNING);
	assert_true(run_task(f->s, child, "orders", TASK_DEAD, NULL, 0, NOW + 4));
	assert_int_equal(task_state(f->s, id, SUBJECT_STEP_MEMBERSHIPS), TASK_PENDING);
	assert_int_equal(cfx_state(f->s, child), JOB_FAILED);
	assert_int_equal(cfx_state(f->s, id), JOB_FAILED);

	/* a retry of the subject job retries the child's dead task */
	assert_int_equal(store_job_retry(f->s, id, NULL, "bob", NOW + 5, &j), STORE_OK);
	assert_int_equal(j.state, JOB_RUNNING);
	jobs_job_record_clear(&j);
	assert_int_equal(cfx_state(f->s, child), JOB_RUNNING);
	assert_int_equal(task_state(f->s, child, "orders"), TASK_WAITING);

	/* a running job cannot be cancelled; a hold and a release of the
	 * subject job reach the child, not the tenant's own purge (only linked) */
	assert_int_equal(store_job_cancel(f->s, id, "bob", "by mistake", NULL, 0, NOW + 6, &j),
			 STORE_REFUSED);
	jobs_job_record_clear(&j);
	assert_int_equal(store_job_hold(f->s, id, "bob", "legal", NOW + 6, &j), STORE_OK);
	assert_int_equal(j.state, JOB_HELD);
	jobs_job_record_clear(&j);
	assert_int_equal(cfx_state(f->s, child), JOB_HELD);
	assert_int_equal(cfx_state(f->s, busy), JOB_SCHEDULED);
	assert_int_equal(store_job_release(f->s, id, "bob", NOW + 7, NULL), STORE_OK);
	assert_int_equal(cfx_state(f->s, child), JOB_RUNNING);
}

/* A discover step whose lease was lost remembers nothing. */
static void subject_discovery_fenced_by_lease(void **state)
{
	struct cfx *f = *state;
	char id[JOBS_ID_LEN + 1];
	struct subject_tenant v[3], *got = NULL;
	struct sched_claimed *c = NULL;
	struct sched_result r;
	size_t n = 0;

	assert_int_equal(sched_sync_services(f->s, SVC, N_CONF, NOW, NULL, NULL), STORE_OK);
	assert_int_equal(schedule_user(f->s, "u-1", id), 1);
	maintain(f->s, NOW);
	assert_int_equal(sched_claim_tasks(f->s, ME, SVC, N_ALL, 0, 10, NOW, &c, &n), STORE_OK);
	assert_int_equal(n, 1);
	discovered(v);
	r = (struct sched_result){
		.task_id = c[0].task_id, .lease_until = c[0].lease_until + 1, /* not its lease */
		.job_id = c[0].job_id, .tenant_id = c[0].tenant_id, .service = c[0].service,
		.kind = c[0].kind, .attempt = 1, .state = TASK_SUCCEEDED, .http_status = 200,
		.outcome = "success", .total = -1, .before_total = -1, .verified_after = -1,
		.breaker = POLICY_BREAKER_SKIP, .discovery = 1, .discovered = v, .n_discovered = 3,
	};
	assert_int_equal(sched_record_results(f->s, ME, &r, 1, SVC, N_ALL, NOW, NULL), STORE_OK);
	sched_claimed_free(c, n);
	assert_int_equal(store_subject_tenants(f->s, id, &got, &n), STORE_OK);
	assert_int_equal(n, 0);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(subject_one_active_job_per_user, cfx_setup,
						cfx_teardown),
		cmocka_unit_test_setup_teardown(subject_discovery_and_children, cfx_setup,
						cfx_teardown),
		cmocka_unit_test_setup_teardown(subject_discovery_fenced_by_lease, cfx_setup,
						cfx_teardown),
	};

	log_set_level(LOG_ERROR);
	if (getenv("TEST_LOG") == NULL)
		log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
	return cfx_run("subject contract", tests, sizeof tests / sizeof tests[0]) ? 1 : 0;
}
