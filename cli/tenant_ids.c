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
 * Longest line of a --from file: a tenant id (JOBS_TENANT_ID_MAX) with room
 * for blanks around it and a CRLF. Anything longer cannot hold a tenant id
 * and is refused while it is read, never buffered whole.
 */
#define FROM_LINE_MAX (JOBS_TENANT_ID_MAX + 64)

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

/* One tenant id of line lineno into l; -1 with the reason in err. */
static int take_line(struct cli_tenant_ids *l, const char *name, size_t lineno, char *id,
		     size_t len, char *err, size_t errlen)
{
	const char *why = NULL;
	char safe[96];

	if (len == 0 || id[0] == '#')
		return 0;
	if (strlen(id) != len)
		why = "tenant id contains a NUL byte";
	else if (jobs_tenant_id_check(id, &why) == 0)
		why = NULL;
	if (why != NULL) {
		snprintf(err, errlen, "%s:%zu: invalid tenant id \"%s\": %s", name, lineno,
			 cli_safe(id, safe, sizeof safe), why);
		return -1;
	}
	l->ids = xreserve(l->ids, &l->cap, l->n + 1, sizeof *l->ids);
	l->ids[l->n++] = xstrndup(id, len);
	return 0;
}

/* See cli_int.h. */
int cli_read_tenant_ids(FILE *f, const char *name, struct cli_tenant_ids *out, char *err,
			size_t errlen)
{
	struct cli_tenant_ids l = { 0 };
	char buf[FROM_LINE_MAX + 1];
	size_t lineno = 0, len;
	int got, rc = 0;

	flockfile(f);
	while (rc == 0 && (got = read_line(f, buf, &len)) != 0) {
		lineno++;
		if (got == 1) {
			char *id = trim(buf, &len);
			rc = take_line(&l, name, lineno, id, len, err, errlen);
			continue;
		}
		if (got == -1)
			snprintf(err, errlen, "%s:%zu: cannot read: %s", name, lineno, strerror(errno));
		else
			snprintf(err, errlen, "%s:%zu: line longer than %d bytes: not a tenant id",
				 name, lineno, FROM_LINE_MAX);
		rc = -1;
	}
	funlockfile(f);
	if (rc < 0)
		cli_tenant_ids_free(&l);
	*out = l;
	return rc;
}

/* See cli_int.h. */
void cli_tenant_ids_free(struct cli_tenant_ids *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->ids[i]);
	free(l->ids);
	memset(l, 0, sizeof *l);
}
