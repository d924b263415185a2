/*
 * test_config.c - config/: parsing, defaults, every key, lookup by name,
 * paths, secrets, URL expansion, and the shipped example. The errors and
 * their lines are in test_config_errors.c.
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
#include "tests/unit/config_fixture.h"
#include "tests/unit/tls_fixture.h"
#include "util/util.h"

static void test_defaults(void **state)
{
	struct fx *fx = *state;
	struct config *cfg = load_ok(fx, MIN_SERVICE);
	char *db = xasprintf("%s/tenantdel.db", fx->dir);

	assert_string_equal(cfg->dir, fx->dir);
	assert_string_equal(cfg->database, db);
	assert_string_equal(cfg->store_backend, "sqlite");
	assert_int_equal(cfg->retention_ms, 30LL * 86400000);
	assert_int_equal(cfg->deadline_ms, 7LL * 86400000);
	assert_int_equal(cfg->max_in_flight, 64);
	assert_int_equal(cfg->shutdown_grace_ms, 30000);
	assert_int_equal(cfg->base_delay_ms, 5000);
	assert_int_equal(cfg->max_delay_ms, 3600000);
	assert_int_equal(cfg->max_attempts, 20);
	assert_int_equal(cfg->give_up_after_ms, 7LL * 86400000);
	assert_int_equal(cfg->breaker_failures, 10);
	assert_int_equal(cfg->breaker_cooloff_ms, 30000);
	assert_int_equal(cfg->timeout_ms, 30000);
	assert_int_equal(cfg->connect_timeout_ms, 5000);
	assert_null(cfg->token_file);
	assert_null(cfg->token_env);
	assert_null(cfg->ca_file);
	assert_null(cfg->api_listen);
	assert_int_equal(cfg->n_webhook_urls, 0);
	assert_null(cfg->certificate_key_file);
	assert_int_equal(cfg->approval_required, 0);
	assert_int_equal(cfg->n_services, 1);
	const struct config_service *s = &cfg->services[0];
	assert_string_equal(s->name, "a");
	assert_null(s->preview_url);
	assert_int_equal(s->phase, 1);
	assert_int_equal(s->timeout_ms, 30000);
	assert_int_equal(s->max_in_flight, 8);
	assert_int_equal(s->verify, 0);
	assert_int_equal(s->on_404_fail, 0);
	assert_int_equal(s->enabled, 1);
	assert_int_equal(s->line, 1);
	assert_ptr_equal(config_find_service(cfg, "a"), s);
	assert_null(config_find_service(cfg, "b"));
	free(db);
	config_free(cfg);
}

/* config_find_service finds each of many services, in any order, and no other. */
static void test_find_among_many(void **state)
{
	struct buf b;
	struct config *cfg;

	buf_init(&b);
	for (int i = 499; i >= 0; i--)
		buf_printf(&b, "[service s%d]\ndelete_url = http://a/%d/{tenant_id}\n", i, i);
	cfg = load_ok(*state, b.data);
	assert_int_equal(cfg->n_services, 500);
	for (size_t i = 0; i < cfg->n_services; i++)
		assert_ptr_equal(config_find_service(cfg, cfg->services[i].name), &cfg->services[i]);
	assert_ptr_equal(config_find_service(cfg, "s123"), &cfg->services[499 - 123]);
	assert_null(config_find_service(cfg, "s500"));
	assert_null(config_find_service(cfg, "s"));
	config_free(cfg);
	buf_free(&b);
}

static const char full_text[] =
	"; every key\n"
	"[scheduler]\n"
	"database = /var/lib/td/x.db ; inline comment\n"
	"retention = 14d\n"
	"deadline = 1d12h\n"
	"max_in_flight = 100\n"
	"shutdown_grace = 0\n"
	"[retry]\n"
	"base_delay = 500ms\n"
	"max_delay = 10m\n"
	"max_attempts = 3\n"
	"give_up_after = 2d\n"
	"breaker_failures = 4\n"
	"breaker_cooloff = 1m\n"
	"[http]\n"
	"timeout = 12s\n"
	"connect_timeout = 2s\n"
	"token_env = SVC_TOKEN\n"
	"ca_file = ca.pem\n"
	"client_cert = c.pem\n"
	"client_key = k.pem\n"
	"[api]\n"
	"listen = [::1]:0\n"
	"token_file = api.token\n"
	"[webhook]\n"
	"url = https://h1.example/x\n"
	"url = http://h2.example/y\n"
	"secret_env = HOOK_SECRET\n"
	"[certificate]\n"
	"key_file = /etc/cert.key\n"
	"[store]\n"
	"backend = sqlite\n"
	"[service orders]\n"
	"  delete_url = https://o:1/api/{tenant_id}\n"
	"  preview_url = https://o:1/api/{tenant_id}/deletion-preview\n"
	"  suspend_url = https://o:1/api/{tenant_id}/suspend\n"
	"  restore_url = https://o:1/api/{tenant_id}/restore\n"
	"  phase = 3\n"
	"  timeout = 90s\n"
	"  max_in_flight = 2\n"
	"  verify = off\n"
	"  on_404 = fail\n"
	"  enabled = no\n"
	"[service tenant-2_X]\n"
	"delete_url = http://t/{tenant_id}\n"
	"preview_url = http://t/{tenant_id}/p\n"
	"[policy]\n"
	"approval = required\n"
	"[subject]\n"
	"tenants_url = http://t/u/{user_id}\n"
	"admins_url = http://t/{tenant_id}/admins\n"
	"memberships_url = http://t/u/{user_id}/m\n"
	"user_url = http://a/u/{user_id}\n"
	"user_preview_url = http://a/u/{user_id}/p\n"
	"timeout = 4s\n";

static void test_every_key(void **state)
{
	struct fx *fx = *state;
	char *ca = put(fx, "ca.pem", TLS_CERT_PEM, strlen(TLS_CERT_PEM));
	char *cert = put(fx, "c.pem", TLS_CERT_PEM, strlen(TLS_CERT_PEM));
	char *key = put(fx, "k.pem", TLS_KEY_PEM, strlen(TLS_KEY_PEM));
	char *api = xasprintf("%s/api.token", fx->dir);
	struct config *cfg = load_ok(fx, full_text);

	assert_string_equal(cfg->database, "/var/lib/td/x.db");
	assert_int_equal(cfg->retention_ms, 14LL * 86400000);
	assert_int_equal(cfg->deadline_ms, 36LL * 3600000);
	assert_int_equal(cfg->max_in_flight, 100);
	assert_int_equal(cfg->shutdown_grace_ms, 0);
	assert_int_equal(cfg->base_delay_ms, 500);
	assert_int_equal(cfg->max_delay_ms, 600000);
	assert_int_equal(cfg->max_attempts, 3);
	assert_int_equal(cfg->give_up_after_ms, 2LL * 86400000);
	assert_int_equal(cfg->breaker_failures, 4);
	assert_int_equal(cfg->breaker_cooloff_ms, 60000);
	assert_int_equal(cfg->timeout_ms, 12000);
	assert_int_equal(cfg->connect_timeout_ms, 2000);
	assert_null(cfg->token_file);
	assert_string_equal(cfg->token_env, "SVC_TOKEN");
	assert_string_equal(cfg->ca_file, ca);
	assert_string_equal(cfg->client_cert, cert);
	assert_string_equal(cfg->client_key, key);
	assert_string_equal(cfg->api_listen, "[::1]:0");
	assert_string_equal(cfg->api_host, "::1");
	assert_int_equal(cfg->api_port, 0);
	assert_string_equal(cfg->api_token_file, api);
	assert_int_equal(cfg->n_webhook_urls, 2);
	assert_string_equal(cfg->webhook_urls[0], "https://h1.example/x");
	assert_string_equal(cfg->webhook_urls[1], "http://h2.example/y");
	assert_string_equal(cfg->webhook_secret_env, "HOOK_SECRET");
	assert_string_equal(cfg->certificate_key_file, "/etc/cert.key");
	assert_int_equal(cfg->approval_required, 1);
	assert_int_equal(cfg->subject.configured, 1);
	assert_string_equal(cfg->subject.tenants_url, "http://t/u/{user_id}");
	assert_string_equal(cfg->subject.admins_url, "http://t/{tenant_id}/admins");
	assert_string_equal(cfg->subject.memberships_url, "http://t/u/{user_id}/m");
	assert_string_equal(cfg->subject.user_url, "http://a/u/{user_id}");
	assert_null(cfg->subject.memberships_preview_url);
	assert_string_equal(cfg->subject.user_preview_url, "http://a/u/{user_id}/p");
	assert_int_equal(cfg->subject.timeout_ms, 4000);
	assert_int_equal(cfg->n_services, 2);
	const struct config_service *o = &cfg->services[0], *t = &cfg->services[1];
	assert_string_equal(o->name, "orders");
	assert_string_equal(o->delete_url, "https://o:1/api/{tenant_id}");
	assert_string_equal(o->preview_url, "https://o:1/api/{tenant_id}/deletion-preview");
	assert_string_equal(o->suspend_url, "https://o:1/api/{tenant_id}/suspend");
	assert_string_equal(o->restore_url, "https://o:1/api/{tenant_id}/restore");
	assert_int_equal(o->phase, 3);
	assert_int_equal(o->timeout_ms, 90000);
	assert_int_equal(o->max_in_flight, 2);
	assert_int_equal(o->verify, 0);
	assert_int_equal(o->on_404_fail, 1);
	assert_int_equal(o->enabled, 0);
	assert_int_equal(o->line, 33);
	assert_string_equal(t->name, "tenant-2_X");
	assert_int_equal(t->verify, 1);          /* preview_url set */
	assert_int_equal(t->timeout_ms, 12000);  /* [http] timeout */
	assert_int_equal(t->line, 44);
	free(ca);
	free(cert);
	free(key);
	free(api);
	config_free(cfg);
}

/* [http] after the services still gives them their default timeout. */
static void test_service_timeout_late_http(void **state)
{
	struct fx *fx = *state;
	struct config *cfg = load_ok(fx, MIN_SERVICE "[http]\ntimeout = 7s\n"
				     "[service b]\ndelete_url = http://b/{tenant_id}\ntimeout = 1s\n"
				     "verify = yes\npreview_url = http://b/{tenant_id}/p\n");

	assert_int_equal(cfg->services[0].timeout_ms, 7000);
	assert_int_equal(cfg->services[1].timeout_ms, 1000);
	assert_int_equal(cfg->services[1].verify, 1);
	config_free(cfg);
}

static void test_listen_ipv4(void **state)
{
	struct fx *fx = *state;
	struct config *cfg = load_ok(fx, "[api]\nlisten = 127.0.0.1:8470\ntoken_env = T\n"
				     MIN_SERVICE);

	assert_string_equal(cfg->api_host, "127.0.0.1");
	assert_int_equal(cfg->api_port, 8470);
	config_free(cfg);
}

/* Windows line endings, a UTF-8 BOM, '#' comments and the longest name. */
static void test_crlf_bom_long_name(void **state)
{
	struct fx *fx = *state;
	char name[65], *text;
	struct config *cfg;

	memset(name, 'n', 64);
	name[64] = '\0';
	text = xasprintf("\xEF\xBB\xBF# comment\r\n[scheduler]\r\nretention = 2d\r\n"
			 "[service %s]\r\ndelete_url = http://a/{tenant_id}\r\n", name);
	cfg = load_ok(fx, text);
	assert_int_equal(cfg->retention_ms, 2LL * 86400000);
	assert_string_equal(cfg->services[0].name, name);
	assert_string_equal(cfg->services[0].delete_url, "http://a/{tenant_id}");
	assert_int_equal(cfg->services[0].line, 4);
	config_free(cfg);
	free(text);
	text = xasprintf("[service %sx]\ndelete_url = http://a/{tenant_id}\n", name);
	assert_null(load_text(fx, text));
	assert_non_null(strstr(fx->err, "tenantdel.conf:1: invalid service name"));
	free(text);
}

/* A relative config path still gives an absolute dir and database. */
static void test_relative_paths(void **state)
{
	struct fx *fx = *state;
	char cwd[PATH_MAX], *db = xasprintf("%s/data/td.db", fx->dir);
	char *tok = xasprintf("%s/service.token", fx->dir);
	const char *text = "[scheduler]\ndatabase = data/td.db\n[http]\ntoken_file = service.token\n"
		MIN_SERVICE;
	char *path = put(fx, "rel.conf", text, strlen(text));
	struct config *cfg;

	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(fx->dir), 0);
	cfg = config_load("rel.conf", fx->err, sizeof fx->err);
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, "rel.conf");
	assert_string_equal(cfg->dir, fx->dir);
	assert_string_equal(cfg->database, db);
	assert_string_equal(cfg->token_file, tok);
	config_free(cfg);
	free(path);
	free(db);
	free(tok);
}

struct warnings {
	int n;
	char text[1024];
};

static void collect(void *ctx, const char *msg)
{
	struct warnings *w = ctx;
	size_t used = strlen(w->text);

	w->n++;
	snprintf(w->text + used, sizeof w->text - used, "%s\n", msg);
}

static void test_secrets_from_files_and_env(void **state)
{
	struct fx *fx = *state;
	static const char key[] = {'k', '\0', 'y', '\n'};
	char *p1 = put(fx, "svc.token", "s3cret\n", 7);
	char *p2 = put(fx, "hook.secret", "hooky\r\n", 7);
	char *p3 = put(fx, "cert.key", key, sizeof key);
	char *p4 = put(fx, "api.token", "two\n\n", 5);
	struct warnings w = {0};
	struct config *cfg;

	setenv("TD_TEST_API", "api-tok", 1);
	cfg = load_ok(fx, "[http]\ntoken_file = svc.token\n[webhook]\nurl = https://h/\n"
		      "secret_file = hook.secret\n[certificate]\nkey_file = cert.key\n"
		      "[api]\nlisten = 127.0.0.1:0\ntoken_env = TD_TEST_API\n" MIN_SERVICE);
	assert_int_equal(config_load_secrets(cfg, collect, &w), 0);
	assert_int_equal(w.n, 0);
	assert_string_equal(cfg->token, "s3cret");
	assert_string_equal(cfg->webhook_secret, "hooky");
	assert_string_equal(cfg->api_token, "api-tok");
	assert_int_equal(cfg->certificate_key_len, 3);
	assert_memory_equal(cfg->certificate_key, key, 3);
	/* Loading again replaces, and only one newline is ever stripped. */
	free(cfg->api_token_env);
	cfg->api_token_env = NULL;
	cfg->api_token_file = xstrdup(p4);
	assert_int_equal(config_load_secrets(cfg, collect, &w), 0);
	assert_string_equal(cfg->api_token, "two\n");
	unsetenv("TD_TEST_API");
	config_free(cfg);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
}

static void test_unreadable_secrets_warn(void **state)
{
	struct fx *fx = *state;
	char *empty = put(fx, "empty.token", "\n", 1);
	char *hidden = put(fx, "hidden.secret", "topsecret\n", 10);
	struct warnings w = {0};
	struct config *cfg;

	unsetenv("TD_TEST_UNSET");
	cfg = load_ok(fx, "[http]\ntoken_file = missing.token\n[api]\nlisten = 127.0.0.1:1\n"
		      "token_env = TD_TEST_UNSET\n[webhook]\nurl = http://h/\n"
		      "secret_file = empty.token\n" MIN_SERVICE);
	assert_int_equal(config_load_secrets(cfg, collect, &w), -1);
	assert_int_equal(w.n, 3);
	assert_non_null(strstr(w.text, "missing.token"));
	assert_non_null(strstr(w.text, "No such file or directory"));
	assert_non_null(strstr(w.text, "TD_TEST_UNSET is not set"));
	assert_non_null(strstr(w.text, "empty.token is empty"));
	assert_null(cfg->token);
	assert_null(cfg->api_token);
	assert_null(cfg->webhook_secret);
	config_free(cfg);

	/* A readable secret is never part of any message. */
	cfg = load_ok(fx, "[http]\ntoken_file = hidden.secret\n[api]\nlisten = 127.0.0.1:1\n"
		      "token_file = nope\n" MIN_SERVICE);
	memset(&w, 0, sizeof w);
	assert_int_equal(config_load_secrets(cfg, collect, &w), -1);
	assert_int_equal(w.n, 1);
	assert_null(strstr(w.text, "topsecret"));
	assert_string_equal(cfg->token, "topsecret");
	config_free(cfg);
	free(empty);
	free(hidden);
}

static void test_expand_url(void **state)
{
	char *u = config_expand_url("http://h/{tenant_id}/x/{tenant_id}", "abc-1.2_~Z");
	assert_string_equal(u, "http://h/abc-1.2_~Z/x/abc-1.2_~Z");
	free(u);
	u = config_expand_url("http://h/t/{tenant_id}?q", "a b/c:d%e\xc3\xa9?#");
	assert_string_equal(u, "http://h/t/a%20b%2Fc%3Ad%25e%C3%A9%3F%23?q");
	free(u);
	u = config_expand_url("http://h/{tenant}", "x");
	assert_string_equal(u, "http://h/{tenant}");
	free(u);
}

static void test_default_path(void **state)
{
	struct fx *fx = *state;
	char cwd[PATH_MAX];

	assert_string_equal(config_default_path("/x.conf"), "/x.conf");
	setenv("TENANTDEL_CONFIG", "/env.conf", 1);
	assert_string_equal(config_default_path(NULL), "/env.conf");
	unsetenv("TENANTDEL_CONFIG");
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(fx->dir), 0);
	assert_string_equal(config_default_path(NULL), "/etc/tenantdel/tenantdel.conf");
	free(put(fx, "tenantdel.conf", "", 0));
	assert_string_equal(config_default_path(NULL), "tenantdel.conf");
	assert_int_equal(chdir(cwd), 0);
}

static void test_shipped_example(void **state)
{
	struct fx *fx = *state;
	const char *src = getenv("TENANTDEL_SRCDIR");
	char *path = xasprintf("%s/tenantdel.conf.example", src ? src : ".");
	struct warnings w = {0};
	struct config *cfg = config_load(path, fx->err, sizeof fx->err);

	if (cfg == NULL)
		fail_msg("example: %s", fx->err);
	assert_int_equal(cfg->n_services, 13);
	for (size_t i = 0; i < 12; i++) {
		assert_int_equal(cfg->services[i].phase, 1);
		assert_non_null(cfg->services[i].preview_url);
		assert_int_equal(cfg->services[i].verify, 1);
	}
	const struct config_service *t = config_find_service(cfg, "tenant");
	assert_non_null(t);
	assert_int_equal(t->phase, 2);
	assert_null(t->preview_url);
	assert_string_equal(t->delete_url, "http://tenant-service:8000/api/v1/tenants/{tenant_id}");
	assert_non_null(strstr(config_find_service(cfg, "alert_processor")->delete_url,
			       "/api/v1/alerts/tenant/{tenant_id}"));
	assert_non_null(strstr(config_find_service(cfg, "notification")->preview_url,
			       "/api/v1/notifications/tenant/{tenant_id}/deletion-preview"));
	assert_string_equal(cfg->token_file, "/etc/tenantdel/service.token");
	assert_null(cfg->api_listen);
	assert_int_equal(cfg->max_in_flight, 64);
	assert_int_equal(cfg->max_delay_ms, 3600000);
	if (access(cfg->token_file, R_OK) != 0) {
		assert_int_equal(config_load_secrets(cfg, collect, &w), -1);
		assert_int_equal(w.n, 1);
		assert_non_null(strstr(w.text, "/etc/tenantdel/service.token"));
	}
	config_free(cfg);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_among_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_timeout_late_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf_bom_long_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_from_files_and_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_secrets_warn, setup, teardown),
		cmocka_unit_test(test_expand_url),
		cmocka_unit_test_setup_teardown(test_default_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shipped_example, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
