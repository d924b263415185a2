/*
 * keys.c - every key of tenantdel.conf: its table entry, its value parser,
 * and the checks that can only run once the whole file is read.
 */
#include "config/keys.h"
#include "jobs/timefmt.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


static int set_duration(struct config_parser *p, const struct config_key_spec *k,
			const char *v, void *field)
{
	int64_t ms;

	/* The bound (100 years) keeps every "now + duration" far from overflow. */
	if (timefmt_parse_duration(v, &ms) < 0) {
		if (errno == ERANGE)
			return config_fail(p, "%s in %s is longer than 100 years: '%.80s'",
					   k->name, p->label, v);
		return config_fail(p, "bad duration '%.80s' for %s in %s "
				   "(e.g. 500ms, 45s, 15m, 1h30m, 7d)", v, k->name, p->label);
	}
	if (ms < k->min)
		return config_fail(p, "%s in %s must be greater than zero", k->name, p->label);
	*(int64_t *)field = ms;
	return 0;
}

static int set_int(struct config_parser *p, const struct config_key_spec *k,
		   const char *v, void *field)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 ||
	    n < k->min || n > k->max)
		return config_fail(p, "%s in %s must be an integer from %lld to %lld, not '%.80s'",
				   k->name, p->label, k->min, k->max, v);
	*(int *)field = (int)n;
	return 0;
}

/* A file name; relative names are taken from the config file's folder. */
static int set_path(struct config_parser *p, const struct config_key_spec *k,
		    const char *v, void *field)
{
	char **dst = field;

	if (v[0] == '\0') {
		if (k->min)
			return config_fail(p, "%s in %s must not be empty", k->name, p->label);
		return 0;
	}
	free(*dst);
	*dst = config_resolve_path(p->cfg->dir, v);
	return 0;
}

static int set_env(struct config_parser *p, const struct config_key_spec *k,
		   const char *v, void *field)
{
	char **dst = field;
	size_t n = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789_");

	if (v[0] == '\0')
		return 0;
	if (v[n] != '\0' || (v[0] >= '0' && v[0] <= '9'))
		return config_fail(p, "%s in %s: '%.80s' is not an environment variable name",
				   k->name, p->label, v);
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

/* 0 when v is an http:// or https:// URL with a host and no blanks. */
static int check_url(struct config_parser *p, const struct config_key_spec *k,
		     const char *v)
{
	size_t skip;

	if (v[0] == '\0')
		return config_fail(p, "%s in %s must not be empty", k->name, p->label);
	if (strncasecmp(v, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(v, "https://", 8) == 0)
		skip = 8;
	else
		return config_fail(p, "%s in %s must start with http:// or https://, not '%.80s'",
				   k->name, p->label, v);
	if (v[skip] == '\0' || v[skip] == '/')
		return config_fail(p, "%s in %s has no host: '%.80s'", k->name, p->label, v);
	for (const char *c = v; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return config_fail(p, "%s in %s contains a blank or control character",
					   k->name, p->label);
	return 0;
}

static int set_service_url(struct config_parser *p, const struct config_key_spec *k,
			   const char *v, void *field)
{
	char **dst = field;

	if (check_url(p, k, v) < 0)
		return -1;
	if (strstr(v, "{tenant_id}") == NULL)
		return config_fail(p, "%s in %s must contain {tenant_id}", k->name, p->label);
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

/* A [subject] URL: admins_url (k->min 1) names {tenant_id}, the others
 * {user_id}. */
static int set_subject_url(struct config_parser *p, const struct config_key_spec *k,
			   const char *v, void *field)
{
	const char *var = k->min ? "{tenant_id}" : "{user_id}";
	char **dst = field;

	if (check_url(p, k, v) < 0)
		return -1;
	if (strstr(v, var) == NULL)
		return config_fail(p, "%s in [subject] must contain %s", k->name, var);
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

static int set_webhook_url(struct config_parser *p, const struct config_key_spec *k,
			   const char *v, void *field)
{
	struct config *cfg = p->cfg;

	if (check_url(p, k, v) < 0)
		return -1;
	cfg->webhook_urls = xreserve(cfg->webhook_urls, &p->webhook_urls_cap,
				     cfg->n_webhook_urls + 1, sizeof *cfg->webhook_urls);
	cfg->webhook_urls[cfg->n_webhook_urls++] = xstrdup(v);
	return 0;
}

static int set_bool(struct config_parser *p, const struct config_key_spec *k,
		    const char *v, void *field)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*(int *)field = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*(int *)field = 0;
			return 0;
		}
	}
	return config_fail(p, "%s in %s must be yes or no, not '%.80s'", k->name, p->label, v);
}

static int set_on_404(struct config_parser *p, const struct config_key_spec *k,
		      const char *v, void *field)
{
	if (strcmp(v, "success") == 0)
		*(int *)field = 0;
	else if (strcmp(v, "fail") == 0)
		*(int *)field = 1;
	else
		return config_fail(p, "on_404 in %s must be success or fail, not '%.80s'",
				   p->label, v);
	return 0;
}

/* backend = sqlite | postgresql: the store's backend by name (store_open). */
static int set_backend(struct config_parser *p, const struct config_key_spec *k,
		       const char *v, void *field)
{
	if (strcmp(v, "sqlite") == 0 || strcmp(v, "postgresql") == 0) {
		*(const char **)field = strcmp(v, "sqlite") == 0 ? "sqlite" : "postgresql";
		return 0;
	}
	return config_fail(p, "backend in [store] must be sqlite or postgresql, not '%.80s'", v);
}

/* node = NAME: what this host's leases carry in a shared store; printable,
 * no blanks, at most 63 bytes. */
static int set_node(struct config_parser *p, const struct config_key_spec *k, const char *v,
		    void *field)
{
	char **dst = field;

	if (v[0] == '\0' || strlen(v) > 63)
		return config_fail(p, "node in [store] must be 1 to 63 characters");
	for (const char *c = v; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return config_fail(p, "node in [store] contains a blank or control character");
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

static int set_approval(struct config_parser *p, const struct config_key_spec *k,
			const char *v, void *field)
{
	if (strcmp(v, "none") == 0 || strcmp(v, "required") == 0) {
		*(int *)field = strcmp(v, "required") == 0;
		return 0;
	}
	return config_fail(p, "approval in [policy] must be none or required, not '%.80s'", v);
}

/* 0 and *port when s is a decimal port 0..65535. */
static int parse_port(const char *s, int *port)
{
	long n = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
	}
	if (n > 65535)
		return -1;
	*port = (int)n;
	return 0;
}

/* listen = IPV4:PORT or [IPV6]:PORT (port 0: any free port). */
static int set_listen(struct config_parser *p, const struct config_key_spec *k,
		      const char *v, void *field)
{
	struct config *cfg = p->cfg;
	unsigned char addr[16];
	const char *colon = strrchr(v, ':');
	char *host = NULL;
	int port, ok = 0;

	if (colon != NULL && parse_port(colon + 1, &port) == 0) {
		if (v[0] == '[' && colon > v + 1 && colon[-1] == ']') {
			host = xstrndup(v + 1, (size_t)(colon - v - 2));
			ok = inet_pton(AF_INET6, host, addr) == 1;
		} else {
			host = xstrndup(v, (size_t)(colon - v));
			ok = inet_pton(AF_INET, host, addr) == 1;
		}
	}
	if (!ok) {
		free(host);
		return config_fail(p, "listen in [api] must be IPV4:PORT or [IPV6]:PORT "
				   "(e.g. 127.0.0.1:8470), not '%.80s'", v);
	}
	cfg->api_listen = xstrdup(v);
	cfg->api_host = host;
	cfg->api_port = port;
	return 0;
}

#define C(f) offsetof(struct config, f)
#define S(f) offsetof(struct config_service, f)

static const struct config_key_spec scheduler_keys[] = {
	{"database", set_path, C(database), 1, 0, 0},
	{"retention", set_duration, C(retention_ms), 0, 0, 0},
	{"deadline", set_duration, C(deadline_ms), 1, 0, 0},
	{"max_in_flight", set_int, C(max_in_flight), 1, 10000, 0},
	{"shutdown_grace", set_duration, C(shutdown_grace_ms), 0, 0, 0},
	{NULL, NULL, 0, 0, 0, 0},
};
static const struct config_key_spec retry_keys[] = {
	{"base_delay", set_duration, C(base_delay_ms), 1, 0, 0},
	{"max_delay", set_duration, C(max_delay_ms), 1, 0, 0},
	{"max_attempts", set_int, C(max_attempts), 1, 1000, 0},
	{"give_up_after", set_duration, C(give_up_after_ms), 1, 0, 0},
	{"breaker_failures", set_int, C(breaker_failures), 1, 1000, 0},
	{"breaker_cooloff", set_duration, C(breaker_cooloff_ms), 1, 0, 0},
	{NULL, NULL, 0, 0, 0, 0},
};
static const struct config_key_spec http_keys[] = {
	{"timeout", set_duration, C(timeout_ms), 1, 0, 0},
	{"connect_timeout", set_duration, C(connect_timeout_ms), 1, 0, 0},
	{"token_file", set_path, C(token_file), 0, 0, 0},
	{"token_env", set_env, C(token_env), 0, 0, 0},
	{"ca_file", set_path, C(ca_file), 0, 0, 0},
	{"client_cert", set_path, C(client_cert), 0, 0, 0},
	{"client_key", set_path, C(client_key), 0, 0, 0},
	{NULL, NULL, 0, 0, 0, 0},
};
static const struct config_key_spec api_keys[] = {
	{"listen", set_listen, C(api_listen), 0, 0, 0},
	{"token_file", set_path, C(api_token_file), 0, 0, 0},
	{"token_env", set_env, C(api_token_env), 0, 0, 0},
	{"tokens_file", set_path, C(api_tokens_file), 0, 0, 0},
	{NULL, NULL, 0, 0, 0, 0},
};
static const struct config_key_spec webhook_keys[] = {
	{"url", set_webhook_url, C(webhook_urls), 0, 0, 1},
	{"secret_file", set_path, C(webhook_secret_file), 0, 0, 0},
	{"secret_env", set_env, C(webhook_secret_env), 0, 0, 0},
	{NULL, NULL, 0, 0, 0, 0},
};
static const struct config_key_spec certificate_keys[] = {
	{"key_file", set_path, C(certificate_key_file), 0, 0, 0},
	{"signing_key", set_path, C(certificate_signing_key_file), 0, 0, 0},
	{NULL, NULL, 0, 0, 0, 0},
};
static const struct config_key_spec store_keys[] = {
	{"backend", set_backend, C(store_backend), 0, 0, 0},
	{"dsn_file", set_path, C(store_dsn_file), 0, 0, 0},
	{"dsn_env", set_env, C(store_dsn_env), 0, 0, 0},
	{"node", set_node, C(store_node), 0, 0, 0},
	{NULL, NULL, 0, 0, 0, 0},
};
static const struct config_key_spec policy_keys[] = {
	{"approval", set_approval, C(approval_required), 0, 0, 0},
	{NULL, NULL, 0, 0, 0, 0},
};
#define SUBJ(f) offsetof(struct config, subject.f)
static const struct config_key_spec subject_keys[] = {
	{"tenants_url", set_subject_url, SUBJ(tenants_url), 0, 0, 0},
	{"admins_url", set_subject_url, SUBJ(admins_url), 1, 0, 0},
	{"memberships_url", set_subject_url, SUBJ(memberships_url), 0, 0, 0},
	{"user_url", set_subject_url, SUBJ(user_url), 0, 0, 0},
	{"memberships_preview_url", set_subject_url, SUBJ(memberships_preview_url), 0, 0, 0},
	{"user_preview_url", set_subject_url, SUBJ(user_preview_url), 0, 0, 0},
	{"timeout", set_duration, SUBJ(timeout_ms), 1, 0, 0},
	{NULL, NULL, 0, 0, 0, 0},
};
static const struct config_key_spec service_keys[] = {
	{"delete_url", set_service_url, S(delete_url), 0, 0, 0},
	{"preview_url", set_service_url, S(preview_url), 0, 0, 0},
	{"suspend_url", set_service_url, S(suspend_url), 0, 0, 0},
	{"restore_url", set_service_url, S(restore_url), 0, 0, 0},
	{"phase", set_int, S(phase), 1, 1000, 0},
	{"timeout", set_duration, S(timeout_ms), 1, 0, 0},
	{"max_in_flight", set_int, S(max_in_flight), 1, 10000, 0},
	{"verify", set_bool, S(verify), 0, 0, 0},
	{"on_404", set_on_404, S(on_404_fail), 0, 0, 0},
	{"enabled", set_bool, S(enabled), 0, 0, 0},
	{NULL, NULL, 0, 0, 0, 0},
};

static const struct config_key_spec *const key_tables[] = {
	[SEC_SCHEDULER] = scheduler_keys, [SEC_RETRY] = retry_keys,
	[SEC_HTTP] = http_keys, [SEC_API] = api_keys, [SEC_WEBHOOK] = webhook_keys,
	[SEC_CERTIFICATE] = certificate_keys, [SEC_STORE] = store_keys,
	[SEC_POLICY] = policy_keys, [SEC_SUBJECT] = subject_keys,
	[SEC_SERVICE] = service_keys,
};

const struct config_key_spec *config_find_key(int sec, const char *name, int *index)
{
	const struct config_key_spec *t;

	if (sec < 0 || sec > SEC_SERVICE)
		return NULL;
	t = key_tables[sec];
	for (int i = 0; t[i].name != NULL; i++) {
		if (strcmp(t[i].name, name) == 0) {
			*index = i;
			return &t[i];
		}
	}
	return NULL;
}

/* Line where key was set in global section sec, 0 if not set. */
static int key_line(const struct config_parser *p, int sec, const char *name)
{
	int i;

	if (config_find_key(sec, name, &i) == NULL)
		return 0;
	return p->key_line[sec].lines[i];
}

/* file_key and env_key both set in sec: refused at the later of the two. */
static int check_one_source(struct config_parser *p, int sec, const char *sec_name,
			    const char *file_key, const char *env_key)
{
	int a = key_line(p, sec, file_key), b = key_line(p, sec, env_key);

	if (a == 0 || b == 0)
		return 0;
	return config_fail_at(p, a > b ? a : b, "both %s and %s set in [%s]; use one",
			      file_key, env_key, sec_name);
}

/* The [store] keys of a PostgreSQL store: only with backend = postgresql,
 * which needs one of dsn_file and dsn_env. */
static int check_store(struct config_parser *p)
{
	static const char *const pg_keys[] = { "dsn_file", "dsn_env", "node" };
	struct config *cfg = p->cfg;
	int pg = strcmp(cfg->store_backend, "postgresql") == 0;

	if (check_one_source(p, SEC_STORE, "store", "dsn_file", "dsn_env") < 0)
		return -1;
	for (size_t i = 0; !pg && i < ARRAY_LEN(pg_keys); i++)
		if (key_line(p, SEC_STORE, pg_keys[i]) > 0)
			return config_fail_at(p, key_line(p, SEC_STORE, pg_keys[i]),
					      "%s in [store] is only for backend = postgresql",
					      pg_keys[i]);
	if (pg && cfg->store_dsn_file == NULL && cfg->store_dsn_env == NULL)
		return config_fail_at(p, key_line(p, SEC_STORE, "backend"),
				      "backend = postgresql in [store] needs dsn_file or dsn_env");
	return 0;
}

static int check_globals(struct config_parser *p)
{
	struct config *cfg = p->cfg;

	if (check_one_source(p, SEC_HTTP, "http", "token_file", "token_env") < 0 ||
	    check_one_source(p, SEC_API, "api", "token_file", "token_env") < 0 ||
	    check_one_source(p, SEC_API, "api", "token_file", "tokens_file") < 0 ||
	    check_one_source(p, SEC_API, "api", "token_env", "tokens_file") < 0 ||
	    check_one_source(p, SEC_WEBHOOK, "webhook", "secret_file", "secret_env") < 0 ||
	    check_store(p) < 0)
		return -1;
	if (cfg->max_delay_ms < cfg->base_delay_ms) {
		int line = key_line(p, SEC_RETRY, "max_delay");
		return config_fail_at(p, line ? line : key_line(p, SEC_RETRY, "base_delay"),
				      "max_delay in [retry] must not be shorter than base_delay");
	}
	if (cfg->api_listen != NULL && cfg->api_token_file == NULL && cfg->api_token_env == NULL &&
	    cfg->api_tokens_file == NULL)
		return config_fail_at(p, p->sec_line[SEC_API],
				      "[api] listen needs token_file, token_env or tokens_file");
	if (cfg->n_webhook_urls > 0 && cfg->webhook_secret_file == NULL &&
	    cfg->webhook_secret_env == NULL)
		return config_fail_at(p, p->sec_line[SEC_WEBHOOK],
				      "[webhook] url needs secret_file or secret_env to sign with");
	if (cfg->database == NULL)
		cfg->database = config_resolve_path(cfg->dir, "tenantdel.db");
	return 0;
}

static int check_service(struct config_parser *p, struct config_service *s,
			 const struct config_key_lines *lines)
{
	int vi = 0;

	if (s->delete_url == NULL)
		return config_fail_at(p, s->line, "[service %s] has no delete_url", s->name);
	if (s->verify == 1 && s->preview_url == NULL) {
		config_find_key(SEC_SERVICE, "verify", &vi);
		return config_fail_at(p, lines->lines[vi],
				      "verify = yes in [service %s] needs a preview_url", s->name);
	}
	if (s->verify == -1)
		s->verify = s->preview_url != NULL;
	if (s->timeout_ms == 0)
		s->timeout_ms = p->cfg->timeout_ms;
	return 0;
}

/* [subject], when present, names every URL of the erasure. */
static int check_subject(struct config_parser *p)
{
	struct config_subject *sj = &p->cfg->subject;
	const char *missing = sj->tenants_url == NULL	    ? "tenants_url"
			      : sj->admins_url == NULL	    ? "admins_url"
			      : sj->memberships_url == NULL ? "memberships_url"
			      : sj->user_url == NULL	    ? "user_url"
							    : NULL;

	if (p->sec_line[SEC_SUBJECT] == 0)
		return 0;
	if (missing != NULL)
		return config_fail_at(p, p->sec_line[SEC_SUBJECT], "[subject] has no %s",
				      missing);
	sj->configured = 1;
	if (sj->timeout_ms == 0)
		sj->timeout_ms = p->cfg->timeout_ms;
	return 0;
}

int config_finish(struct config_parser *p)
{
	struct config *cfg = p->cfg;

	if (check_globals(p) < 0 || check_subject(p) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_services; i++)
		if (check_service(p, &cfg->services[i], &p->svc_lines[i]) < 0)
			return -1;
	if (cfg->n_services == 0)
		return config_fail_at(p, 0, "no [service NAME] section: nothing to delete");
	return 0;
}
