/*
 * test_util.c - the UTF-8 check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/util.h"
#include "util/redact.h"
#include "util/utf8.h"

static void test_utf8_valid(void **state)
{
	static const char *const cases[] = {
		"", "plain ASCII", "caf\xc3\xa9",                   /* é */
		"\xc2\x80", "\xdf\xbf",                              /* 2 bytes, both ends */
		"\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",      /* U+0800, U+D7FF, U+E000 */
		"\xef\xbf\xbf", "\xf0\x90\x80\x80",                  /* U+FFFF, U+10000 */
		"\xf4\x8f\xbf\xbf",                                  /* U+10FFFF */
		"\xe2\x82\xac 5 \xf0\x9f\x98\x80",                   /* € and an emoji */
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t at = 99;
		assert_int_equal(utf8_check(cases[i], strlen(cases[i]), &at), 0);
		assert_int_equal(at, 99);
	}
	/* A NUL byte is a character; the length, not the NUL, ends the text. */
	assert_int_equal(utf8_check("a\0b", 3, NULL), 0);
}

static void test_utf8_invalid(void **state)
{
	static const struct { const char *in; size_t at; } cases[] = {
		{ "\x80", 0 }, { "ab\xbf", 2 },                      /* lone continuation */
		{ "\xc0\xaf", 0 }, { "\xc1\xbf", 0 },                /* overlong 2 bytes */
		{ "\xe0\x80\xaf", 0 }, { "\xe0\x9f\xbf", 0 },        /* overlong 3 bytes */
		{ "\xf0\x80\x80\xaf", 0 }, { "\xf0\x8f\xbf\xbf", 0 },/* overlong 4 bytes */
		{ "\xed\xa0\x80", 0 }, { "x\xed\xbf\xbf", 1 },       /* surrogates */
		{ "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 },/* past U+10FFFF */
		{ "\xff", 0 }, { "\xfe", 0 },
		{ "caf\xc3", 3 }, { "\xe2\x82", 0 }, { "\xf0\x9f\x98", 0 }, /* cut short */
		{ "\xc3\x28", 0 }, { "\xe2\x28\xa1", 0 },            /* bad continuation */
		{ "ok \xe2\x82\xac \xf0\x9f\x98\x28", 7 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t at = 99;
		assert_int_equal(utf8_check(cases[i].in, strlen(cases[i].in), &at), -1);
		assert_int_equal(at, cases[i].at);
		assert_int_equal(utf8_check(cases[i].in, strlen(cases[i].in), NULL), -1);
	}
	/* Only len bytes count: a valid prefix of a bad text passes. */
	assert_int_equal(utf8_check("caf\xc3\xa9\xff", 5, NULL), 0);
}

/* xreserve doubles from 8 and keeps what the array held. */
static void test_xreserve(void **state)
{
	int *v = NULL;
	size_t cap = 0;

	(void)state;
	v = xreserve(v, &cap, 1, sizeof *v);
	assert_int_equal(cap, 8);
	for (int i = 0; i < 100; i++) {
		v = xreserve(v, &cap, (size_t)i + 1, sizeof *v);
		v[i] = i;
	}
	assert_int_equal(cap, 128);
	for (int i = 0; i < 100; i++)
		assert_int_equal(v[i], i);
	assert_ptr_equal(xreserve(v, &cap, 5, sizeof *v), v); /* room already */
	free(v);
}

/* util_int_text writes what printf's PRId64 does, limits included. */
static void test_int_text(void **state)
{
	static const int64_t v[] = { 0, 7, -7, 10, -10, 999999999999999, INT64_MAX, INT64_MIN,
				     INT64_MIN + 1 };
	char got[UTIL_INT_TEXT], want[32];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		snprintf(want, sizeof want, "%" PRId64, v[i]);
		assert_int_equal(util_int_text(v[i], got), strlen(want));
		assert_string_equal(got, want);
	}
}

/* SHA-256 known answers (FIPS 180-2's "abc", the empty input), twice each:
 * the algorithm fetched once serves every call. */
static void test_sha256(void **state)
{
	unsigned char md[UTIL_SHA256_LEN];
	char hex[2 * UTIL_SHA256_LEN + 1];

	(void)state;
	for (int i = 0; i < 2; i++) {
		util_sha256("abc", 3, md);
		util_hex(md, sizeof md, hex);
		assert_string_equal(
			hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		util_sha256("", 0, md);
		util_hex(md, sizeof md, hex);
		assert_string_equal(
			hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	}
}

/* Secrets out of a service's answer: each occurrence, its JSON-escaped
 * form too, the longest first (a token that contains another secret is
 * not left half visible), and the request's own token (extra). */
static void test_redact_secrets(void **state)
{
	struct buf secrets[2], b;
	const char *text = "a=s3cr3t b=s3cr3t-and-more c=to/ken d=to\\/ken e=bearer-x";

	buf_init(&secrets[0]);
	buf_puts(&secrets[0], "s3cr3t");
	buf_init(&secrets[1]);
	buf_puts(&secrets[1], "s3cr3t-and-more");
	buf_init(&b);
	buf_puts(&b, text);
	redact_secrets(&b, secrets, 2, NULL);
	buf_append(&b, "", 1);
	assert_string_equal(b.data, "a=[REDACTED] b=[REDACTED] c=to/ken d=to\\/ken e=bearer-x");
	buf_free(&b);
	buf_free(&secrets[1]);
	buf_init(&secrets[1]);
	buf_puts(&secrets[1], "to/ken");
	buf_init(&b);
	buf_puts(&b, text);
	redact_secrets(&b, secrets, 2, "bearer-x");
	buf_append(&b, "", 1);
	assert_string_equal(b.data, "a=[REDACTED] b=[REDACTED]-and-more c=[REDACTED] "
				    "d=[REDACTED] e=[REDACTED]");
	buf_free(&b);
	buf_init(&b); /* nothing to take out: b as it was */
	buf_puts(&b, "plain");
	redact_secrets(&b, secrets, 2, "");
	assert_int_equal(b.len, 5);
	buf_free(&b);
	buf_free(&secrets[0]);
	buf_free(&secrets[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_invalid),
		cmocka_unit_test(test_xreserve),
		cmocka_unit_test(test_int_text),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_redact_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
