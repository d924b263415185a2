/*
 * fuzz.h - what the libFuzzer harnesses share (tests/fuzz/fuzz_*.c).
 * Each harness is one LLVMFuzzerTestOneInput; see tests/fuzz/README.md.
 */
#ifndef TENANTDEL_FUZZ_H
#define TENANTDEL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An anonymous in-memory file with a path, for code that only reads paths. */
struct fuzz_memfile {
	int ready;           /* 0 until the first fuzz_memfile_set */
	int fd;
	char path[64];       /* "/proc/self/fd/N" */
};

/*
 * Makes mf's content exactly data[0..size) (creating the memfd, named name,
 * on the first call; it stays open for the process). Returns 0, or -1 when
 * the memfd cannot be made or written (the run is then skipped).
 */
int fuzz_memfile_set(struct fuzz_memfile *mf, const char *name, const uint8_t *data,
		     size_t size);

/*
 * Copies data[0..size) into a new NUL-terminated string (the input of a
 * parser that takes C strings). Never NULL; caller frees.
 */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Splits *data at the first '\n': returns the part before it as a new
 * string (caller frees) and advances *data and *size past the '\n' (to the end
 * when there is none). */
char *fuzz_take_line(const uint8_t **data, size_t *size);

/* 1 when s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates). */
int fuzz_utf8_valid(const char *s, size_t len);

#endif
