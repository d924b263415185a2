/*
 * redact.h - secrets taken out of text before it is kept or shown: a
 * service's answer (its body, the transfer's error) may echo the token it
 * was sent or another secret the config holds, and answers go to the
 * audit trail, the log and the API.
 */
#ifndef TENANTDEL_REDACT_H
#define TENANTDEL_REDACT_H

#include <stddef.h>

#include "util/util.h"

/* What stands for a secret taken out. */
#define REDACT_MARK "[REDACTED]"

/*
 * Replaces in b every occurrence of each of the n secrets, and of extra
 * (NULL: none), by REDACT_MARK: each also in its JSON-escaped form ('/' as
 * "\/"), the longest first (a secret inside another must not leave the
 * rest of it). What b held before is zeroed, not only freed.
 */
void redact_secrets(struct buf *b, const struct buf *secrets, size_t n, const char *extra);

#endif
