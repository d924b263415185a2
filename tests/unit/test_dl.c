/*
 * test_dl.c - libraries loaded when first needed (util/dl.h): every
 * function resolved or none, a library that is missing or too old named
 * with its Debian package, an init that fails undoing the load, a second
 * load free, and a load begun on a thread of its own (dl_preload).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "util/dl.h"

static double (*sym_a)(double), (*sym_b)(double);

static const struct dl_sym GOOD[] = {
	{ "cos", (void **)&sym_a },
	{ "sqrt", (void **)&sym_b },
};

static const struct dl_sym ONE_MISSING[] = {
	{ "cos", (void **)&sym_a },
	{ "no_such_function_anywhere", (void **)&sym_b },
};

static void test_loads_each_function_once(void **state)
{
	struct dl_lib lib = { .soname = "libm.so.6", .package = "libc6", .what = "maths",
			      .syms = GOOD, .n_syms = 2 };
	char err[256] = "";

	sym_a = sym_b = NULL;
	assert_int_equal(dl_load(&lib, err, sizeof err), 0);
	assert_true(lib.loaded);
	assert_non_null(sym_a);
	assert_true(sym_b(16.0) == 4.0);
	assert_true(sym_a(0.0) == 1.0);
	sym_a = NULL; /* a second load does nothing */
	assert_int_equal(dl_load(&lib, err, sizeof err), 0);
	assert_null(sym_a);
	assert_string_equal(err, "");
}

static void test_a_missing_library_is_named_with_its_package(void **state)
{
	struct dl_lib lib = { .soname = "libtenantdel-absent.so.9", .package = "libabsent9",
			      .what = "HTTP requests", .syms = GOOD, .n_syms = 2 };
	char err[512];

	sym_a = sym_b = NULL;
	assert_int_equal(dl_load(&lib, err, sizeof err), -1);
	assert_false(lib.loaded);
	assert_null(sym_a);
	assert_non_null(strstr(err, "HTTP requests: libtenantdel-absent.so.9 is needed "
				    "(Debian package libabsent9)"));
	assert_non_null(strstr(err, "No such file")); /* dlerror's reason */
	/* and it is tried again next time, not remembered as failed */
	assert_int_equal(dl_load(&lib, err, sizeof err), -1);
}

static void test_an_old_library_leaves_nothing_half_loaded(void **state)
{
	struct dl_lib lib = { .soname = "libm.so.6", .package = "libc6", .what = "maths",
			      .syms = ONE_MISSING, .n_syms = 2 };
	char err[512];

	sym_a = sym_b = NULL;
	assert_int_equal(dl_load(&lib, err, sizeof err), -1);
	assert_false(lib.loaded);
	assert_null(lib.handle);
	assert_null(sym_a); /* resolved before the missing one, then cleared */
	assert_string_equal(err, "maths: libm.so.6 has no no_such_function_anywhere: a newer "
				 "one is needed (Debian package libc6)");
}

static int inits;

static int init_fails(void)
{
	inits++;
	return sym_a != NULL ? -1 : 0; /* resolved before it runs */
}

static void test_an_init_that_fails_unloads(void **state)
{
	struct dl_lib lib = { .soname = "libm.so.6", .package = "libc6", .what = "maths",
			      .syms = GOOD, .n_syms = 2, .init = init_fails };
	char err[512];

	sym_a = sym_b = NULL;
	assert_int_equal(dl_load(&lib, err, sizeof err), -1);
	assert_int_equal(inits, 1);
	assert_false(lib.loaded);
	assert_null(lib.handle);
	assert_null(sym_a);
	assert_string_equal(err, "maths: libm.so.6 cannot be initialised");
}

static int slow_inits;

/* An init that takes a while: the preload's thread is inside it when the
 * caller asks for the library. */
static int init_slowly(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	slow_inits++;
	return 0;
}

/* A preload loads on its own thread; a dl_load meanwhile waits for it and
 * finds the library ready (its init ran once); a failed preload says
 * nothing, and the caller's own load reports the error. */
static void test_a_preload_is_waited_for_and_its_errors_left_to_the_caller(void **state)
{
	struct dl_lib lib = { .soname = "libm.so.6", .package = "libc6", .what = "maths",
			      .syms = GOOD, .n_syms = 2, .init = init_slowly };
	struct dl_lib absent = { .soname = "libtenantdel-absent.so.9", .package = "libabsent9",
				 .what = "HTTP requests", .syms = GOOD, .n_syms = 2 };
	struct dl_preload p, q;
	char err[512] = "";

	sym_a = sym_b = NULL;
	slow_inits = 0;
	dl_preload_start(&p, &lib);
	assert_int_equal(dl_load(&lib, err, sizeof err), 0);
	assert_true(lib.loaded);
	assert_true(sym_b(9.0) == 3.0);
	dl_preload_join(&p);
	assert_int_equal(slow_inits, 1);
	dl_preload_join(&p); /* twice: nothing */
	dl_preload_start(&q, &absent);
	dl_preload_join(&q);
	assert_false(absent.loaded);
	assert_int_equal(dl_load(&absent, err, sizeof err), -1);
	assert_non_null(strstr(err, "(Debian package libabsent9)"));
}

/* GnuTLS is told not to initialise itself as it loads (util/dl.h), unless
 * the user said otherwise. */
static void test_process_setup_keeps_gnutls_from_initialising_itself(void **state)
{
	unsetenv("GNUTLS_NO_IMPLICIT_INIT");
	dl_process_setup();
	assert_string_equal(getenv("GNUTLS_NO_IMPLICIT_INIT"), "1");
	setenv("GNUTLS_NO_IMPLICIT_INIT", "0", 1);
	dl_process_setup();
	assert_string_equal(getenv("GNUTLS_NO_IMPLICIT_INIT"), "0");
	unsetenv("GNUTLS_NO_IMPLICIT_INIT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loads_each_function_once),
		cmocka_unit_test(test_a_missing_library_is_named_with_its_package),
		cmocka_unit_test(test_an_old_library_leaves_nothing_half_loaded),
		cmocka_unit_test(test_an_init_that_fails_unloads),
		cmocka_unit_test(test_a_preload_is_waited_for_and_its_errors_left_to_the_caller),
		cmocka_unit_test(test_process_setup_keeps_gnutls_from_initialising_itself),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
