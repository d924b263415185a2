/*
 * config_fixture.h - the per-test fixture of the config's unit tests: a
 * fresh temporary folder for each test, removed afterwards, a config file
 * written into it and loaded, and the exact error a bad one must give.
 * Include after <cmocka.h>.
 */
#ifndef TENANTDEL_CONFIG_FIXTURE_H
#define TENANTDEL_CONFIG_FIXTURE_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "util/util.h"

#define MIN_SERVICE "[service a]\ndelete_url = http://a/t/{tenant_id}\n"

struct fx {
	char dir[PATH_MAX];   /* realpath of the test's own temp folder */
	char err[512];
};

static inline int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof *fx);
	char tmpl[] = "/tmp/test_config.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, fx->dir));
	*state = fx;
	return 0;
}

static inline int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline int teardown(void **state)
{
	struct fx *fx = *state;

	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Writes name in the test folder; returns its path (caller frees). */
static inline char *put(struct fx *fx, const char *name, const void *data, size_t len)
{
	char *path = xasprintf("%s/%s", fx->dir, name);
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

static inline struct config *load_text(struct fx *fx, const char *text)
{
	char *path = put(fx, "tenantdel.conf", text, strlen(text));
	struct config *cfg = config_load(path, fx->err, sizeof fx->err);

	free(path);
	return cfg;
}

static inline struct config *load_ok(struct fx *fx, const char *text)
{
	struct config *cfg = load_text(fx, text);

	if (cfg == NULL)
		fail_msg("unexpected config error: %s", fx->err);
	return cfg;
}

/* The config must be refused with exactly "<path>:<line>: <msg>". */
static inline void expect_error(struct fx *fx, const char *text, int line, const char *msg)
{
	struct config *cfg = load_text(fx, text);
	char *want;

	if (line > 0)
		want = xasprintf("%s/tenantdel.conf:%d: %s", fx->dir, line, msg);
	else
		want = xasprintf("%s/tenantdel.conf: %s", fx->dir, msg);
	if (cfg != NULL)
		fail_msg("accepted, expected: %s", want);
	if (strcmp(fx->err, want) != 0)
		fail_msg("got:      %s\nexpected: %s", fx->err, want);
	free(want);
}

#endif
