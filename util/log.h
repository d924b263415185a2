/*
 * log.h - structured logs: one JSON object a line on stderr.
 *
 *   struct log_line *l = log_start(LOG_WARN, "task.attempt.failed");
 *   log_str(l, "job_id", id);
 *   log_int(l, "http_status", 503);
 *   log_done(l);
 *
 * Every line carries "ts" (RFC 3339 UTC, milliseconds), "level" and
 * "event". Never pass a secret to these functions.
 */
#ifndef TENANTDEL_LOG_H
#define TENANTDEL_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct log_line;

/* Lines below this level are dropped (default LOG_INFO). */
void log_set_level(enum log_level level);
/* Write to this fd instead of stderr (default 2). */
void log_set_fd(int fd);

/* Starts a line; never NULL (a dropped level gives a no-op line). */
struct log_line *log_start(enum log_level level, const char *event);
void log_str(struct log_line *l, const char *key, const char *value); /* NULL value: omitted */
void log_int(struct log_line *l, const char *key, int64_t value);
/* Writes the line with one write(2) and frees it. */
void log_done(struct log_line *l);

/*
 * A transaction's results ("job.succeeded") are logged only once it has
 * committed: between log_hold and log_release, log_done_held keeps its
 * line instead of writing it; log_release(1) writes the kept lines (one
 * write each), log_release(0) drops them (rolled back). Holds nest: the
 * outermost release decides. Outside a hold log_done_held is log_done.
 * Diagnostics (log_done) are never held.
 */
void log_hold(void);
void log_done_held(struct log_line *l);
void log_release(int emit);

/* Holds are a thread's own: a thread that logged with them calls this
 * before it ends (frees what the hold kept). */
void log_thread_done(void);

/* Shorthand: one line with just an event and a message. */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
