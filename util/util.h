/*
 * util.h - allocation wrappers, growable arrays, clock, growable buffer, files.
 *
 * Allocation never returns NULL: on failure it prints one line and aborts
 * (tmux style), so callers do not carry OOM paths for small objects.
 */
#ifndef TENANTDEL_UTIL_H
#define TENANTDEL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocate; abort on failure. Caller frees with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);            /* NULL in, NULL out */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The one growable-array helper: returns p (an array of *cap elements of
 * elsize bytes) with room for at least need elements, doubling its capacity
 * (from 8) when it must grow, *cap updated. Aborts on overflow or when memory
 * runs out; can't fail otherwise. Use as: v = xreserve(v, &cap, n + 1, sizeof *v);
 */
void *xreserve(void *p, size_t *cap, size_t need, size_t elsize);

/* Wall-clock time, integer milliseconds since the Unix epoch (UTC). */
int64_t clock_now_ms(void);
/* Monotonic time in milliseconds, for measuring durations only. */
int64_t clock_mono_ms(void);

/* A growable byte buffer, always NUL-terminated after its len bytes. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);                 /* frees data, re-inits */
void buf_reset(struct buf *b);                /* len = 0, keeps memory */
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Detach the data (caller frees); b is re-initialised. Never NULL. */
char *buf_steal(struct buf *b);

/* Room for any int64's decimal text and its NUL. */
#define UTIL_INT_TEXT 21

/*
 * v's decimal text ("-" when negative) and a NUL into out, as printf's
 * PRId64 writes it, without printf (hot paths: event hashes, JSON
 * integers). Returns its length; can't fail.
 */
size_t util_int_text(int64_t v, char out[UTIL_INT_TEXT]);

#define UTIL_SHA256_LEN 32

/* SHA-256 of len bytes at data into md (util/digest.c); can't fail. */
void util_sha256(const void *data, size_t len, unsigned char md[UTIL_SHA256_LEN]);
/* The n bytes at p as 2n lowercase hex digits and a NUL into out. */
void util_hex(const unsigned char *p, size_t n, char *out);

/*
 * Hex HMAC-SHA256(key, data) into out (64 hex digits + NUL): the one MAC of
 * webhook signatures and HMAC-signed certificates. Can't fail.
 */
void util_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
			  char out[65]);

/*
 * Read a whole file into a NUL-terminated string. Returns NULL and sets
 * errno when it cannot be read. Caller frees.
 */
char *util_read_file(const char *path, size_t *len);

/*
 * Write data to path atomically: a temporary file in the same folder,
 * fsync, rename. Returns 0, or -1 with errno set.
 */
int util_write_file_atomic(const char *path, const void *data, size_t len);

#endif
