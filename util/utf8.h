/*
 * utf8.h - making text from outside valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), so that JSON built from it
 * is JSON every reader accepts.
 */
#ifndef TENANTDEL_UTF8_H
#define TENANTDEL_UTF8_H

#include <stddef.h>

/* U+FFFD REPLACEMENT CHARACTER, which stands for a byte that is not UTF-8. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/*
 * The character at p (n > 0 bytes left): sets *used to the bytes it takes
 * and returns the bytes that stand for it (*len of them): itself when it is
 * valid UTF-8, else UTF8_REPLACEMENT for its first byte alone. Can't fail.
 */
const char *utf8_char(const char *p, size_t n, size_t *used, size_t *len);

/* The n bytes at s as valid UTF-8 (see utf8_char), NUL-terminated;
 * malloc'ed, never NULL. */
char *utf8_clean(const char *s, size_t n);

/*
 * Checks that s[0..len) is well-formed UTF-8 (as utf8_char judges it). NUL
 * bytes are UTF-8 too: callers that refuse them check for them. Returns 0,
 * or -1 with the offset of the first byte that is not part of a valid
 * character in *bad_at (when not NULL). Can't fail otherwise.
 */
int utf8_check(const char *s, size_t len, size_t *bad_at);

#endif
