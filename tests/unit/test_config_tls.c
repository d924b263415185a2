/*
 * test_config_tls.c - the TLS files of [http] (DESIGN 5): one that cannot
 * be read or parsed as PEM, or a key that does not match its certificate,
 * is a config error at its key's line, never a per-attempt failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "tests/unit/tls_fixture.h"
#include "util/util.h"

struct fx {
	char dir[PATH_MAX];
	char err[512];
};

static int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof *fx);
	char tmpl[] = "/tmp/test_config_tls.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, fx->dir));
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char *cmd = xasprintf("rm -rf '%s'", fx->dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(fx);
	return 0;
}

static void put(struct fx *fx, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", fx->dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

/* Loads a config whose [http] holds http (line 2 on); NULL: fx->err says why. */
static struct config *load(struct fx *fx, const char *http)
{
	char *text = xasprintf("[http]\n%s[service a]\ndelete_url = http://a/{tenant_id}\n", http);
	char *path = xasprintf("%s/tenantdel.conf", fx->dir);
	struct config *cfg;

	put(fx, "tenantdel.conf", text);
	cfg = config_load(path, fx->err, sizeof fx->err);
	free(text);
	free(path);
	return cfg;
}

static void expect_error(struct fx *fx, const char *http, int line, const char *needle)
{
	struct config *cfg = load(fx, http);
	char *at = xasprintf("tenantdel.conf:%d: ", line);

	if (cfg != NULL)
		fail_msg("accepted: %s", http);
	if (strstr(fx->err, at) == NULL || strstr(fx->err, needle) == NULL)
		fail_msg("got %s, expected %s... %s", fx->err, at, needle);
	free(at);
}

static void test_readable_pem_accepted(void **state)
{
	struct fx *fx = *state;
	struct config *cfg;

	put(fx, "ca.pem", TLS_CERT_PEM);
	put(fx, "c.pem", TLS_CERT_PEM);
	put(fx, "k.pem", TLS_KEY_PEM);
	cfg = load(fx, "ca_file = ca.pem\nclient_cert = c.pem\nclient_key = k.pem\n");
	if (cfg == NULL)
		fail_msg("%s", fx->err);
	config_free(cfg);
}

static void test_unreadable_or_not_pem_refused(void **state)
{
	struct fx *fx = *state;

	expect_error(fx, "token_env = X\nca_file = /nonexistent.pem\n", 3,
		     "ca_file /nonexistent.pem cannot be read: No such file or directory");
	put(fx, "junk.pem", "not a certificate\n");
	expect_error(fx, "ca_file = junk.pem\n", 2, "is not a PEM file of CA certificates");
	put(fx, "k.pem", TLS_KEY_PEM);
	expect_error(fx, "client_cert = k.pem\n", 2, "client_cert");
	put(fx, "c.pem", TLS_CERT_PEM);
	expect_error(fx, "client_key = c.pem\n", 2, "is not an unencrypted PEM private key");
	expect_error(fx, "ca_file = .\n", 2, "ca_file");
}

static void test_key_must_match_certificate(void **state)
{
	struct fx *fx = *state;

	put(fx, "c.pem", TLS_CERT_PEM);
	put(fx, "other.pem", TLS_OTHER_KEY_PEM);
	expect_error(fx, "client_cert = c.pem\nclient_key = other.pem\n", 3,
		     "does not match client_cert");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_readable_pem_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_or_not_pem_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_must_match_certificate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
