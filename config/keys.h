/*
 * keys.h - private to the config module: the parser state shared by
 * config.c (reading, sections) and keys.c (keys, values, final checks).
 * Nothing outside config/ includes this.
 */
#ifndef TENANTDEL_CONFIG_KEYS_H
#define TENANTDEL_CONFIG_KEYS_H

#include "config/config.h"

#include <stddef.h>

/* Section kinds; the global ones index section tables. */
enum {
	SEC_SCHEDULER, SEC_RETRY, SEC_HTTP, SEC_API, SEC_WEBHOOK, SEC_CERTIFICATE, SEC_STORE,
	SEC_POLICY, SEC_SUBJECT,
	N_GLOBAL_SECTIONS,
	SEC_SERVICE = N_GLOBAL_SECTIONS,
	SEC_NONE = -1,        /* before the first section header */
	SEC_SKIP = -2,        /* inside a section already refused */
};

#define CONFIG_MAX_KEYS 16

/* Line of each key seen in one section (0: not set). */
struct config_key_lines {
	int lines[CONFIG_MAX_KEYS];
};

struct config_parser {
	struct config *cfg;
	const char *path;                 /* as given, for messages */
	const char *text;                 /* the whole file */
	size_t len, pos;
	int line;                         /* line inih is on */
	int sec;                          /* SEC_* */
	char label[CONFIG_NAME_MAX + 16]; /* "[http]", "[service orders]" */
	int sec_line[N_GLOBAL_SECTIONS];  /* header lines, 0 if absent */
	struct config_key_lines key_line[N_GLOBAL_SECTIONS];
	struct config_key_lines *svc_lines; /* parallel to cfg->services */
	size_t services_cap, svc_lines_cap; /* xreserve capacities of both */
	size_t webhook_urls_cap;            /* of cfg->webhook_urls */
	char *err;
	size_t errlen;
	int err_set, err_line;
};

struct config_key_spec {
	const char *name;
	/* Parses value into field (base + off); 0, or -1 after config_fail. */
	int (*set)(struct config_parser *p, const struct config_key_spec *k,
		   const char *value, void *field);
	size_t off;
	long long min, max;   /* integers: range; durations: min ms */
	int repeat;           /* may appear more than once (webhook url) */
};

/*
 * Records the first error as "FILE:LINE: message" ("FILE: message" when
 * line is 0); later errors are ignored. Always returns -1.
 */
int config_fail_at(struct config_parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define config_fail(p, ...) config_fail_at((p), (p)->line, __VA_ARGS__)

/* The key called name in section sec (SEC_SERVICE for services), or NULL;
 * *index gets its position (for the line tables). */
const struct config_key_spec *config_find_key(int sec, const char *name, int *index);

/* Checks that need the whole file, fills late defaults. 0 or -1. */
int config_finish(struct config_parser *p);

/* value when absolute, else dir/value. Caller frees. */
char *config_resolve_path(const char *dir, const char *value);

/*
 * Reads and parses [certificate] signing_key (keyfiles.c) into
 * cfg->certificate_signing_key; 0 (also when unset), or -1 after
 * config_fail at the key's line.
 */
int config_check_signing_key(struct config_parser *p);

/*
 * Reads [api] tokens_file (keyfiles.c) into cfg->api_callers; 0 (also when
 * unset), or -1 after config_fail naming the file and line.
 */
int config_load_callers(struct config_parser *p);

/* Wipes and frees every loaded secret. Can't fail. */
void config_free_secrets(struct config *cfg);

#endif
