/*
 * fuzz.c - helpers shared by the libFuzzer harnesses (see fuzz.h).
 */
#include "tests/fuzz/fuzz.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int fuzz_memfile_set(struct fuzz_memfile *mf, const char *name, const uint8_t *data,
		     size_t size)
{
	if (!mf->ready) {
		mf->fd = memfd_create(name, MFD_CLOEXEC);
		if (mf->fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(mf->path, sizeof mf->path, "/proc/self/fd/%d", mf->fd);
		mf->ready = 1;
	}
	if (ftruncate(mf->fd, 0) < 0)
		return -1;
	return size == 0 || pwrite(mf->fd, data, size, 0) == (ssize_t)size ? 0 : -1;
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);

	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

char *fuzz_take_line(const uint8_t **data, size_t *size)
{
	const uint8_t *nl = memchr(*data, '\n', *size);
	size_t n = nl != NULL ? (size_t)(nl - *data) : *size;
	char *s = fuzz_strndup(*data, n);

	*data += n < *size ? n + 1 : n;
	*size -= n < *size ? n + 1 : n;
	return s;
}

int fuzz_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
			   : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
		unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;

		if (n == 0 || len - i < n)
			return 0;
		for (size_t k = 1; k < n; k++) {
			if (p[i + k] < (k == 1 ? lo : 0x80) || p[i + k] > (k == 1 ? hi : 0xbf))
				return 0;
		}
		i += n;
	}
	return 1;
}
