/*
 * utf8.c - making text from outside valid UTF-8 (see utf8.h).
 */
#include "util/utf8.h"
#include "util/util.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at p (n > 0 bytes left), 0 if invalid. */
static size_t seq_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (p[0] == 0xe0) lo = 0xa0;
	if (p[0] == 0xed) hi = 0x9f;
	if (p[0] == 0xf0) lo = 0x90;
	if (p[0] == 0xf4) hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* See utf8.h. */
const char *utf8_char(const char *p, size_t n, size_t *used, size_t *len)
{
	size_t k = seq_len((const unsigned char *)p, n);

	if (k == 0) {
		*used = 1;
		*len = sizeof(UTF8_REPLACEMENT) - 1;
		return UTF8_REPLACEMENT;
	}
	*used = *len = k;
	return p;
}

/* See utf8.h. */
char *utf8_clean(const char *s, size_t n)
{
	char *out = xmalloc(n * 3 + 1);
	size_t at = 0, used, len;

	for (size_t i = 0; i < n; i += used) {
		const char *c = utf8_char(s + i, n - i, &used, &len);
		memcpy(out + at, c, len);
		at += len;
	}
	out[at] = '\0';
	return out;
}

/* See utf8.h. */
int utf8_check(const char *s, size_t len, size_t *bad_at)
{
	for (size_t i = 0, k; i < len; i += k) {
		k = seq_len((const unsigned char *)s + i, len - i);
		if (k == 0) {
			if (bad_at != NULL)
				*bad_at = i;
			return -1;
		}
	}
	return 0;
}
