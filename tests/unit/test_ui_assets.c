/*
 * test_ui_assets.c - the dashboard's embedded files: every file of ui/ is
 * in the binary byte for byte (the generator's od/awk round trip), with
 * its Content-Type, and nothing else is found under /ui/. Runs from the
 * source root (tests/run-tests changes to it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <cmocka.h>

#include "scheduler/ui_assets.h"

/* The whole file as malloc'ed bytes; *len its size. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void test_every_file_embedded_byte_for_byte(void **state)
{
	DIR *d = opendir("ui");
	struct dirent *e;
	int seen = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char url[512], file[512];
		const struct ui_asset *a;
		unsigned char *want;
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(url, sizeof url, "/ui/%s", e->d_name);
		snprintf(file, sizeof file, "ui/%s", e->d_name);
		a = ui_asset_find(url);
		assert_non_null(a);
		assert_string_equal(a->path, url);
		want = slurp(file, &len);
		assert_int_equal(a->len, len);
		assert_memory_equal(a->data, want, len);
		assert_int_equal(a->data[len], 0);
		free(want);
		seen++;
	}
	closedir(d);
	assert_true(seen >= 3);
}

static void test_index_and_content_types(void **state)
{
	const struct ui_asset *root = ui_asset_find("/ui/");
	const struct ui_asset *index = ui_asset_find("/ui/index.html");

	assert_non_null(root);
	assert_ptr_equal(root, index);
	assert_string_equal(index->content_type, "text/html; charset=utf-8");
	assert_string_equal(ui_asset_find("/ui/app.js")->content_type,
			    "text/javascript; charset=utf-8");
	assert_string_equal(ui_asset_find("/ui/app.css")->content_type,
			    "text/css; charset=utf-8");
	assert_non_null(strstr((const char *)index->data, "<script src=\"app.js\""));
}

static void test_other_paths_are_not_found(void **state)
{
	static const char *const paths[] = {
		"/ui", "/ui/x.js", "/ui/../ui/app.js", "/ui//app.js", "/ui/app.js/",
		"/uiapp.js", "/app.js", "ui/app.js", "/ui/APP.JS", "/ui/app.js?x", "",
	};

	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		assert_null(ui_asset_find(paths[i]));
	assert_null(ui_asset_find(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_file_embedded_byte_for_byte),
		cmocka_unit_test(test_index_and_content_types),
		cmocka_unit_test(test_other_paths_are_not_found),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
