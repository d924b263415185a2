/*
 * test_config_errors.c - config/: every refused config gives exactly
 * "FILE:LINE: message", the first error by line winning.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tests/unit/config_fixture.h"
#include "util/util.h"

struct bad_case {
	const char *text;
	int line;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{"[scheduler]\nretention = 30d\n\nretention_days = 3\n" MIN_SERVICE, 4,
	 "unknown key 'retention_days' in [scheduler]"},
	{MIN_SERVICE "colour = red\n", 3, "unknown key 'colour' in [service a]"},
	{MIN_SERVICE "\n[schedular]\nx = 1\n", 4, "unknown section [schedular]"},
	{MIN_SERVICE "[service]\n", 3, "[service] needs a name: [service NAME]"},
	{"retention = 1d\n" MIN_SERVICE, 1, "key 'retention' outside any section"},
	{"[scheduler]\nretention = 30 days\n" MIN_SERVICE, 2,
	 "bad duration '30 days' for retention in [scheduler] (e.g. 500ms, 45s, 15m, 1h30m, 7d)"},
	{"[retry]\nbase_delay = 0\n" MIN_SERVICE, 2, "base_delay in [retry] must be greater than zero"},
	{MIN_SERVICE "timeout = 0s\n", 3, "timeout in [service a] must be greater than zero"},
	{"[scheduler]\nmax_in_flight = 0\n" MIN_SERVICE, 2,
	 "max_in_flight in [scheduler] must be an integer from 1 to 10000, not '0'"},
	{"[scheduler]\nmax_in_flight = 10001\n" MIN_SERVICE, 2,
	 "max_in_flight in [scheduler] must be an integer from 1 to 10000, not '10001'"},
	{"[retry]\nmax_attempts = 2x\n" MIN_SERVICE, 2,
	 "max_attempts in [retry] must be an integer from 1 to 1000, not '2x'"},
	{"[retry]\nbreaker_failures = 1001\n" MIN_SERVICE, 2,
	 "breaker_failures in [retry] must be an integer from 1 to 1000, not '1001'"},
	{MIN_SERVICE "phase = 0\n", 3, "phase in [service a] must be an integer from 1 to 1000, not '0'"},
	{MIN_SERVICE "max_in_flight = -1\n", 3,
	 "max_in_flight in [service a] must be an integer from 1 to 10000, not '-1'"},
	{MIN_SERVICE "verify = maybe\n", 3, "verify in [service a] must be yes or no, not 'maybe'"},
	{MIN_SERVICE "on_404 = ignore\n", 3, "on_404 in [service a] must be success or fail, not 'ignore'"},
	{MIN_SERVICE "phase = 2\nphase = 3\n", 4, "duplicate key 'phase' in [service a] (first at line 3)"},
	{"[http]\ntimeout = 1s\n[scheduler]\n[http]\n" MIN_SERVICE, 4,
	 "duplicate section [http] (first at line 1)"},
	{MIN_SERVICE "\n[service a]\ndelete_url = http://x/{tenant_id}\n", 4,
	 "duplicate service 'a' (first at line 1)"},
	{"[service a b]\ndelete_url = http://x/{tenant_id}\n", 1,
	 "invalid service name 'a b' (1 to 64 of A-Z a-z 0-9 _ -)"},
	{MIN_SERVICE "\n[service b]\npreview_url = http://b/{tenant_id}/p\n", 4,
	 "[service b] has no delete_url"},
	{"[service a]\ndelete_url = http://a/tenants/all\n", 2,
	 "delete_url in [service a] must contain {tenant_id}"},
	{MIN_SERVICE "preview_url = ftp://a/{tenant_id}\n", 3,
	 "preview_url in [service a] must start with http:// or https://, not 'ftp://a/{tenant_id}'"},
	{MIN_SERVICE "verify = yes\n", 3, "verify = yes in [service a] needs a preview_url"},
	{"[http]\ntoken_file = /t\n\ntoken_env = TOK\n" MIN_SERVICE, 4,
	 "both token_file and token_env set in [http]; use one"},
	{"[retry]\nmax_delay = 1s\nbase_delay = 5s\n" MIN_SERVICE, 2,
	 "max_delay in [retry] must not be shorter than base_delay"},
	{"[api]\nlisten = localhost:80\ntoken_env = T\n" MIN_SERVICE, 2,
	 "listen in [api] must be IPV4:PORT or [IPV6]:PORT (e.g. 127.0.0.1:8470), not 'localhost:80'"},
	{"[api]\nlisten = 127.0.0.1:65536\ntoken_env = T\n" MIN_SERVICE, 2,
	 "listen in [api] must be IPV4:PORT or [IPV6]:PORT (e.g. 127.0.0.1:8470), not '127.0.0.1:65536'"},
	{MIN_SERVICE "[api]\nlisten = 127.0.0.1:1\n", 3, "[api] listen needs token_file, token_env or tokens_file"},
	{MIN_SERVICE "[webhook]\nurl = https://h/x\n", 3,
	 "[webhook] url needs secret_file or secret_env to sign with"},
	{"[http]\ntoken_env = 1BAD\n" MIN_SERVICE, 2,
	 "token_env in [http]: '1BAD' is not an environment variable name"},
	{"[scheduler]\ndatabase =\n" MIN_SERVICE, 2, "database in [scheduler] must not be empty"},
	{MIN_SERVICE "[store]\nbackend = postgresql\n", 4,
	 "backend = postgresql in [store] needs dsn_file or dsn_env"},
	{MIN_SERVICE "[store]\nbackend = postgresql\ndsn_env = PG\ndsn_file = /x\n", 6,
	 "both dsn_file and dsn_env set in [store]; use one"},
	{MIN_SERVICE "[store]\ndsn_file = /run/pg.dsn\n", 4,
	 "dsn_file in [store] is only for backend = postgresql"},
	{MIN_SERVICE "[store]\nbackend = sqlite\ndsn_env = PG\n", 5,
	 "dsn_env in [store] is only for backend = postgresql"},
	{MIN_SERVICE "[store]\nbackend = postgresql\ndsn_env = PG\nnode = a b\n", 6,
	 "node in [store] contains a blank or control character"},
	{MIN_SERVICE "[store]\nbackend = mysql\n", 4,
	 "backend in [store] must be sqlite or postgresql, not 'mysql'"},
	{MIN_SERVICE "[store]\nnode = a\n", 4, "node in [store] is only for backend = postgresql"},
	{MIN_SERVICE "[policy]\napproval = maybe\n", 4,
	 "approval in [policy] must be none or required, not 'maybe'"},
	{MIN_SERVICE "[policy]\napproval = none\napproval = required\n", 5,
	 "duplicate key 'approval' in [policy] (first at line 4)"},
	{MIN_SERVICE "[subject]\ntenants_url = http://t/u/{tenant_id}\n", 4,
	 "tenants_url in [subject] must contain {user_id}"},
	{MIN_SERVICE "[subject]\nadmins_url = http://t/{user_id}/admins\n", 4,
	 "admins_url in [subject] must contain {tenant_id}"},
	{MIN_SERVICE "[subject]\ntenants_url = http://t/u/{user_id}\n", 3,
	 "[subject] has no admins_url"},
	{MIN_SERVICE "[subject]\nuser = x\n", 4, "unknown key 'user' in [subject]"},
	{MIN_SERVICE "phase 2\n", 3, "syntax error: expected '[section]' or 'key = value'"},
	{MIN_SERVICE "[scheduler\n", 3, "syntax error: section header without ']'"},
	{"[scheduler] x\n" MIN_SERVICE, 1, "unexpected text after section header [scheduler]"},
	{"[scheduler]\n", 0, "no [service NAME] section: nothing to delete"},
};

static void test_errors_with_lines(void **state)
{
	struct fx *fx = *state;

	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		expect_error(fx, bad_cases[i].text, bad_cases[i].line, bad_cases[i].msg);
	}
}

/* The first error by line wins, whether inih's or ours. */
static void test_first_error_wins(void **state)
{
	struct fx *fx = *state;

	expect_error(fx, MIN_SERVICE "oops\nbogus = 1\n", 3,
		     "syntax error: expected '[section]' or 'key = value'");
	expect_error(fx, MIN_SERVICE "bogus = 1\noops\n", 3, "unknown key 'bogus' in [service a]");
}

static void test_long_line(void **state)
{
	struct fx *fx = *state;
	char text[1024];

	snprintf(text, sizeof text, MIN_SERVICE "preview_url = http://a/{tenant_id}/%0400d\n", 0);
	struct config *cfg = load_text(fx, text);
	assert_null(cfg);
	assert_non_null(strstr(fx->err, "tenantdel.conf:3: line too long"));
}

static void test_missing_file(void **state)
{
	struct fx *fx = *state;
	char *path = xasprintf("%s/nope.conf", fx->dir), *want;

	assert_null(config_load(path, fx->err, sizeof fx->err));
	want = xasprintf("%s: cannot read config: No such file or directory", path);
	assert_string_equal(fx->err, want);
	free(want);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_errors_with_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_error_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
