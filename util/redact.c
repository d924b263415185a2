/*
 * redact.c - secrets taken out of text; see redact.h.
 */
#include "util/redact.h"

#include <stdlib.h>
#include <string.h>

/* Replaces each occurrence of the len bytes at secret in b by REDACT_MARK. */
static void redact_one(struct buf *b, const char *secret, size_t len)
{
	const char *p = b->data, *end = b->data + b->len, *hit;
	struct buf out;

	if (len == 0 || p == NULL || memmem(p, b->len, secret, len) == NULL)
		return;
	buf_init(&out);
	while ((hit = memmem(p, (size_t)(end - p), secret, len)) != NULL) {
		buf_append(&out, p, (size_t)(hit - p));
		buf_puts(&out, REDACT_MARK);
		p = hit + len;
	}
	buf_append(&out, p, (size_t)(end - p));
	explicit_bzero(b->data, b->len);
	buf_free(b);
	*b = out;
}

/* Redacts secret from b, and its JSON-escaped form ('/' as "\/") too. */
static void redact(struct buf *b, const struct buf *secret)
{
	struct buf esc;

	redact_one(b, secret->data, secret->len);
	if (memchr(secret->data, '/', secret->len) == NULL)
		return;
	buf_init(&esc);
	for (size_t i = 0; i < secret->len; i++)
		buf_append(&esc, secret->data[i] == '/' ? "\\/" : secret->data + i,
			   secret->data[i] == '/' ? 2 : 1);
	redact_one(b, esc.data, esc.len);
	explicit_bzero(esc.data, esc.len);
	buf_free(&esc);
}

static int longer_first(const void *a, const void *b)
{
	size_t x = (*(const struct buf *const *)a)->len, y = (*(const struct buf *const *)b)->len;

	return x < y ? 1 : x > y ? -1 : 0;
}

void redact_secrets(struct buf *b, const struct buf *secrets, size_t n, const char *extra)
{
	const struct buf **all = xmalloc((n + 1) * sizeof *all);
	struct buf more = { (char *)extra, extra ? strlen(extra) : 0, 0 };
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		all[k++] = &secrets[i];
	if (more.len > 0)
		all[k++] = &more;
	qsort(all, k, sizeof *all, longer_first);
	for (size_t i = 0; i < k; i++)
		redact(b, all[i]);
	free(all);
}
