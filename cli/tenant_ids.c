/*
 * tenant_ids.c - the reader of `schedule --from FILE` (declared in
 * cli_int.h): kept apart from the commands so that the fuzz harness
 * (tests/fuzz/fuzz_from.c) links it alone.
 */
#include "cli/cli_int.h"
#include "jobs/jobs.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Reads one line of f into buf (FROM_LINE_MAX + 1 bytes, NUL-terminated,
 * without its '\n'); *len gets its length (NUL bytes included). Returns 1
 * for a line, 0 at the end of the file, -1 on a read error (errno set), -2
 * for a line too long (the rest of it is left unread).
 */
static int read_line(FILE *f, char *buf, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = getc_unlocked(f)) != EOF && c != '\n') {
		if (n == FROM_LINE_MAX)
			return -2;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	*len = n;
	if (c == EOF && ferror(f))
		return -1;
	return c == EOF && n == 0 ? 0 : 1;
}

/* Strips blanks and a CR around a line in place; returns the start. */
static char *trim(char *s, size_t *len)
{
	size_t n = *len;

	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	s[n] = '\0';
	while (*s == ' ' || *s == '\t') {
		s++;
		n--;
	}
	*len = n;
	return s;
}

/* Whether the trimmed line id (len bytes) is a tenant id; -1 with the
 * reason in err. */
static int check_line(const char *name, size_t lineno, const char *id, size_t len, char *err,
		      size_t errlen)
{
	const char *why = NULL;
	char safe[96];

	if (strlen(id) != len)
		why = "tenant id contains a NUL byte";
	else if (jobs_tenant_id_check(id, &why) == 0)
		return 0;
	snprintf(err, errlen, "%s:%zu: invalid tenant id \"%s\": %s", name, lineno,
		 cli_safe(id, safe, sizeof safe), why);
	return -1;
}

/* See cli_int.h. */
void cli_id_reader_init(struct cli_id_reader *r, FILE *f, const char *name)
{
	r->f = f;
	r->name = name;
	r->lineno = 0;
}

/* See cli_int.h. */
int cli_id_next(struct cli_id_reader *r, const char **id, char *err, size_t errlen)
{
	size_t len;
	int got;

	flockfile(r->f);
	while ((got = read_line(r->f, r->buf, &len)) == 1) {
		char *line = trim(r->buf, &len);

		r->lineno++;
		if (len == 0 || line[0] == '#')
			continue;
		funlockfile(r->f);
		*id = line;
		return check_line(r->name, r->lineno, line, len, err, errlen) < 0 ? -1 : 1;
	}
	funlockfile(r->f);
	if (got == 0)
		return 0;
	r->lineno++;
	if (got == -1)
		snprintf(err, errlen, "%s:%zu: cannot read: %s", r->name, r->lineno,
			 strerror(errno));
	else
		snprintf(err, errlen, "%s:%zu: line longer than %d bytes: not a tenant id",
			 r->name, r->lineno, FROM_LINE_MAX);
	return -1;
}
