/*
 * test_subject.c - data-subject erasure's decisions (jobs/subject.h): the
 * tenants answer and the admins answer read strictly (every malformed or
 * contradictory answer an error naming the fault), and who runs a tenant
 * alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jobs/subject.h"

static int tenants(const char *body, struct subject_tenant **v, size_t *n, char *err)
{
	return subject_parse_tenants(body, strlen(body), "u1", v, n, err, 256);
}

static void test_tenants_answer(void **state)
{
	struct subject_tenant *v;
	size_t n;
	char err[256];

	assert_int_equal(tenants("{\"user_id\":\"u1\",\"tenants\":[{\"tenant_id\":\"t1\","
				 "\"role\":\"owner\"},{\"tenant_id\":\"t2\",\"role\":\"member\"}]}",
				 &v, &n, err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].tenant_id, "t1");
	assert_int_equal(v[0].role, SUBJECT_ROLE_OWNER);
	assert_int_equal(v[1].role, SUBJECT_ROLE_MEMBER);
	free(v);
	assert_int_equal(tenants("{\"user_id\":\"u1\",\"tenants\":[]}", &v, &n, err), 0);
	assert_int_equal(n, 0);
	free(v);
}

static void test_tenants_refused(void **state)
{
	static const struct {
		const char *body, *why;
	} cases[] = {
		{"", "not a JSON object"},
		{"<html>", "not a JSON object"},
		{"[]", "not a JSON object"},
		{"{\"tenants\":[]}", "no user_id"},
		{"{\"user_id\":\"u2\",\"tenants\":[]}", "user_id is 'u2', not 'u1'"},
		{"{\"user_id\":\"u1\"}", "no tenants list"},
		{"{\"user_id\":\"u1\",\"tenants\":{}}", "no tenants list"},
		{"{\"user_id\":\"u1\",\"tenants\":[{\"role\":\"owner\"}]}",
		 "an entry without tenant_id"},
		{"{\"user_id\":\"u1\",\"tenants\":[{\"tenant_id\":\"t1\"}]}", "t1 has no role"},
		{"{\"user_id\":\"u1\",\"tenants\":[{\"tenant_id\":\"t1\",\"role\":\"boss\"}]}",
		 "t1 has an unknown role 'boss'"},
		{"{\"user_id\":\"u1\",\"tenants\":[{\"tenant_id\":\"../x\",\"role\":\"owner\"}]}",
		 "tenant id '../x': "},
		{"{\"user_id\":\"u1\",\"tenants\":[{\"tenant_id\":\"t1\",\"role\":\"owner\"},"
		 "{\"tenant_id\":\"t1\",\"role\":\"member\"}]}", "tenant t1 listed twice"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct subject_tenant *v = (void *)1;
		size_t n = 9;
		char err[256] = "";

		assert_int_equal(tenants(cases[i].body, &v, &n, err), -1);
		assert_null(v);
		assert_int_equal(n, 0);
		if (strncmp(err, cases[i].why, strlen(cases[i].why)) != 0)
			fail_msg("case %zu: '%s', want '%s'", i, err, cases[i].why);
	}
}

static int admins(const char *body, enum subject_role role, struct subject_tenant *t, char *err)
{
	memset(t, 0, sizeof *t);
	strcpy(t->tenant_id, "t1");
	t->role = role;
	return subject_parse_admins(body, strlen(body), "u1", t, err, 256);
}

static void test_admins_and_decision(void **state)
{
	struct subject_tenant t;
	char err[256];

	assert_int_equal(admins("{\"tenant_id\":\"t1\",\"admins\":[{\"user_id\":\"u1\","
				"\"role\":\"owner\"}]}", SUBJECT_ROLE_OWNER, &t, err), 0);
	assert_int_equal(t.other_admins, 0);
	subject_decide(&t);
	assert_int_equal(t.decision, SUBJECT_PURGE);
	assert_string_equal(t.reason, "purged: only owner");

	assert_int_equal(admins("{\"tenant_id\":\"t1\",\"admins\":[{\"user_id\":\"u1\","
				"\"role\":\"admin\"},{\"user_id\":\"u2\",\"role\":\"owner\"},"
				"{\"user_id\":\"u3\",\"role\":\"admin\"},{\"user_id\":\"u4\","
				"\"role\":\"member\"}]}", SUBJECT_ROLE_ADMIN, &t, err), 0);
	assert_int_equal(t.other_admins, 2);
	subject_decide(&t);
	assert_int_equal(t.decision, SUBJECT_KEEP);
	assert_string_equal(t.reason, "kept: 2 other admins");

	memset(&t, 0, sizeof t);
	t.role = SUBJECT_ROLE_MEMBER;
	subject_decide(&t);
	assert_int_equal(t.decision, SUBJECT_KEEP);
	assert_string_equal(t.reason, "kept: member only");
}

static void test_admins_refused(void **state)
{
	static const struct {
		const char *body, *why;
	} cases[] = {
		{"nope", "not a JSON object"},
		{"{\"tenant_id\":\"t2\",\"admins\":[]}", "tenant_id is 't2', not 't1'"},
		{"{\"tenant_id\":\"t1\"}", "no admins list"},
		{"{\"tenant_id\":\"t1\",\"admins\":[]}", "u1 is owner of t1, yet not among its admins"},
		{"{\"tenant_id\":\"t1\",\"admins\":[{\"user_id\":\"u2\",\"role\":\"owner\"}]}",
		 "u1 is owner of t1, yet not among its admins"},
		{"{\"tenant_id\":\"t1\",\"admins\":[{\"user_id\":\"u1\",\"role\":\"member\"}]}",
		 "u1 is owner of t1, yet listed as a member there"},
		{"{\"tenant_id\":\"t1\",\"admins\":[{\"user_id\":\"u1\",\"role\":\"owner\"},"
		 "{\"user_id\":\"u1\",\"role\":\"admin\"}]}", "user u1 listed twice"},
		{"{\"tenant_id\":\"t1\",\"admins\":[{\"user_id\":\"u1\",\"role\":\"chief\"}]}",
		 "u1 has an unknown role 'chief'"},
		{"{\"tenant_id\":\"t1\",\"admins\":[{\"role\":\"owner\"}]}",
		 "an entry without user_id"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct subject_tenant t;
		char err[256] = "";

		assert_int_equal(admins(cases[i].body, SUBJECT_ROLE_OWNER, &t, err), -1);
		if (strcmp(err, cases[i].why) != 0)
			fail_msg("case %zu: '%s', want '%s'", i, err, cases[i].why);
	}
}

static void test_names(void **state)
{
	enum subject_step st;
	enum subject_role r;
	enum subject_decision d;

	assert_int_equal(subject_step_parse("subject.memberships", &st), 0);
	assert_int_equal(st, SUBJECT_MEMBERSHIPS);
	assert_string_equal(subject_step_name(SUBJECT_USER), "subject.user");
	assert_int_equal(subject_step_parse("orders", &st), -1);
	assert_int_equal(subject_role_parse("admin", &r), 0);
	assert_int_equal(r, SUBJECT_ROLE_ADMIN);
	assert_int_equal(subject_role_parse("Admin", &r), -1);
	assert_int_equal(subject_decision_parse("purge", &d), 0);
	assert_int_equal(d, SUBJECT_PURGE);
	assert_string_equal(subject_decision_name(SUBJECT_KEEP), "keep");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tenants_answer),
		cmocka_unit_test(test_tenants_refused),
		cmocka_unit_test(test_admins_and_decision),
		cmocka_unit_test(test_admins_refused),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
