/*
 * log.c - one JSON object a line, written with a single write(2) so that
 * lines from concurrent processes sharing stderr never interleave.
 */
#include "util/log.h"
#include "util/json.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct log_line {
	cJSON *obj; /* NULL when the level is filtered out */
	enum log_level level;
};

static enum log_level min_level = LOG_INFO;
static int log_fd = 2;

/* Lines kept by log_done_held while held, each a malloc'ed "...\n". */
static int hold_depth;
static char **held;
static size_t n_held, cap_held;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level) { min_level = level; }
void log_set_fd(int fd) { log_fd = fd; }

struct log_line *log_start(enum log_level level, const char *event)
{
	struct log_line *l = xcalloc(1, sizeof *l);
	char ts[64];
	int64_t now = clock_now_ms();
	time_t secs = (time_t)(now / 1000);
	struct tm tm;

	l->level = level;
	if (level < min_level)
		return l;
	gmtime_r(&secs, &tm);
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(now % 1000));
	l->obj = cJSON_CreateObject();
	cJSON_AddStringToObject(l->obj, "ts", ts);
	cJSON_AddStringToObject(l->obj, "level", level_names[level]);
	cJSON_AddStringToObject(l->obj, "event", event);
	return l;
}

void log_str(struct log_line *l, const char *key, const char *value)
{
	if (l->obj != NULL && value != NULL)
		cJSON_AddStringToObject(l->obj, key, value);
}

void log_int(struct log_line *l, const char *key, int64_t value)
{
	if (l->obj != NULL)
		json_add_int(l->obj, key, value);
}

/* The line as text with its newline (NULL when filtered out); frees l. */
static char *render(struct log_line *l)
{
	char *line = NULL;

	if (l->obj != NULL) {
		char *s = cJSON_PrintUnformatted(l->obj);
		if (s != NULL) {
			size_t n = strlen(s);
			line = xmalloc(n + 2);
			memcpy(line, s, n);
			line[n] = '\n';
			line[n + 1] = '\0';
			free(s);
		}
		cJSON_Delete(l->obj);
	}
	free(l);
	return line;
}

void log_done(struct log_line *l)
{
	char *line = render(l);

	if (line != NULL)
		(void)!write(log_fd, line, strlen(line));
	free(line);
}

void log_hold(void)
{
	hold_depth++;
}

void log_done_held(struct log_line *l)
{
	char *line;

	if (hold_depth == 0) {
		log_done(l);
		return;
	}
	if ((line = render(l)) == NULL)
		return;
	held = xreserve(held, &cap_held, n_held + 1, sizeof *held);
	held[n_held++] = line;
}

void log_release(int emit)
{
	if (hold_depth == 0 || --hold_depth > 0)
		return;
	for (size_t i = 0; i < n_held; i++) {
		if (emit)
			(void)!write(log_fd, held[i], strlen(held[i]));
		free(held[i]);
	}
	n_held = 0;
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
	struct log_line *l = log_start(level, event);
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_str(l, "message", msg);
	log_done(l);
}
