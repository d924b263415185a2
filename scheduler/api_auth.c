/*
 * api_auth.c - who calls the API (DESIGN 6, 10): the bearer token, one
 * shared token or callers by name ([api] tokens_file), and the actor a
 * request acts as.
 */
#include "scheduler/api_int.h"

#include <nettle/memops.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * The caller whose token the request carries, by name: r->caller gets it.
 * Every token is compared (memeql_sec over sha256 digests, so lengths
 * do not matter either) and none is skipped once one matched: the time
 * says neither which caller matched nor how close a wrong token came.
 */
static int find_caller(const struct config *cfg, const char *tok, struct api_req *r)
{
	unsigned char d[CONFIG_TOKEN_DIGEST];
	size_t found = 0; /* 1 + the index of the match */

	util_sha256(tok, strlen(tok), d);
	for (size_t i = 0; i < cfg->n_api_callers; i++) {
		size_t eq = (size_t)(memeql_sec(d, cfg->api_callers[i].digest, sizeof d) != 0);
		found |= (i + 1) & ((size_t)0 - eq); /* tokens are unique: at most one */
	}
	if (found == 0)
		return 0;
	snprintf(r->caller, sizeof r->caller, "%s", cfg->api_callers[found - 1].name);
	return 1;
}

int api_authorized(const struct api *a, struct MHD_Connection *c, struct api_req *r)
{
	const struct config *cfg = a->deps.cfg;
	const char *tok = cfg->api_token;
	const char *h = sym_MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	size_t n;

	r->caller[0] = '\0';
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	if (cfg->n_api_callers > 0)
		return find_caller(cfg, h, r);
	if (tok == NULL)
		return 0;
	n = strlen(tok);
	/* The length is no secret worth hiding; the bytes are compared in
	 * constant time. */
	return strlen(h) == n && n > 0 && memeql_sec(h, tok, n);
}

int api_actor(const struct api_req *r, const char *field, const char **value,
	      struct api_answer *ans)
{
	if (r->caller[0] == '\0') {
		if (*value == NULL)
			*value = "api";
		return 0;
	}
	if (*value != NULL && strcmp(*value, r->caller) != 0)
		return api_fail(ans, 400, "'%s' cannot name another caller: this token is %s's",
				field, r->caller), -1;
	*value = r->caller;
	return 0;
}
