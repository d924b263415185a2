/*
 * log.c - one JSON object a line, written with a single write(2) so that
 * lines from concurrent processes sharing stderr never interleave.
 *
 * A line is printed as it is built, into its own buffer: the daemon logs
 * each attempt, and a cJSON tree built, printed and freed per line was
 * ~29,000 instructions of the ~455,000 an attempt cost in all (callgrind,
 * run --once). Strings are printed by cJSON (json_buf_string).
 */
#include "util/log.h"
#include "util/json.h"
#include "util/util.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct log_line {
	struct buf text; /* "{...": the closing brace and newline come at the end */
	int on;          /* 0: the level is filtered out */
};

static enum log_level min_level = LOG_INFO;
static int log_fd = 2;

/* Lines kept by log_done_held while held, each a malloc'ed "...\n": a
 * thread's own (the engine's recording thread holds its batch's lines
 * while the loop logs its own). */
static _Thread_local int hold_depth;
static _Thread_local char **held;
static _Thread_local size_t n_held, cap_held;

/* Room for a timestamp: a year of any int's width, with its milliseconds. */
#define TS_MAX 64

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level) { min_level = level; }
void log_set_fd(int fd) { log_fd = fd; }

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" of now into out; gmtime_r only when the
 * second changes. Returns the length. */
static size_t timestamp(char out[TS_MAX])
{
	static _Thread_local time_t last = -1;
	static _Thread_local char secs_text[TS_MAX];
	static _Thread_local size_t secs_len;
	int64_t now = clock_now_ms();
	time_t secs = (time_t)(now / 1000);
	int ms = (int)(now % 1000);

	if (secs != last) {
		struct tm tm;
		int n;
		gmtime_r(&secs, &tm);
		n = snprintf(secs_text, sizeof secs_text - 5, "%04d-%02d-%02dT%02d:%02d:%02d",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			     tm.tm_min, tm.tm_sec);
		secs_len = n < 0 ? 0 : (size_t)n;
		last = secs;
	}
	memcpy(out, secs_text, secs_len);
	out[secs_len] = '.';
	out[secs_len + 1] = (char)('0' + ms / 100);
	out[secs_len + 2] = (char)('0' + ms / 10 % 10);
	out[secs_len + 3] = (char)('0' + ms % 10);
	out[secs_len + 4] = 'Z';
	return secs_len + 5;
}

/* ,"key": */
static void put_key(struct buf *b, const char *key)
{
	buf_append(b, ",", 1);
	json_buf_string(b, key);
	buf_append(b, ":", 1);
}

struct log_line *log_start(enum log_level level, const char *event)
{
	struct log_line *l = xcalloc(1, sizeof *l);
	char ts[TS_MAX];
	size_t n;

	if (level < min_level)
		return l;
	l->on = 1;
	n = timestamp(ts);
	buf_append(&l->text, "{\"ts\":\"", 7);
	buf_append(&l->text, ts, n);
	buf_append(&l->text, "\"", 1);
	put_key(&l->text, "level");
	json_buf_string(&l->text, level_names[level]);
	put_key(&l->text, "event");
	json_buf_string(&l->text, event);
	return l;
}

void log_str(struct log_line *l, const char *key, const char *value)
{
	if (!l->on || value == NULL)
		return;
	put_key(&l->text, key);
	json_buf_string(&l->text, value);
}

void log_int(struct log_line *l, const char *key, int64_t value)
{
	char digits[UTIL_INT_TEXT];

	if (!l->on)
		return;
	put_key(&l->text, key);
	buf_append(&l->text, digits, util_int_text(value, digits));
}

/* The line as text with its newline (NULL when filtered out); frees l. */
static char *render(struct log_line *l)
{
	char *line = NULL;

	if (l->on) {
		buf_append(&l->text, "}\n", 2);
		line = buf_steal(&l->text);
	}
	buf_free(&l->text);
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

/* Writes the held lines, as many whole lines a write(2) as fit in
 * PIPE_BUF bytes: a pipe never splits such a write, so lines still never
 * interleave with another process's (a longer line goes alone). */
static void write_held(void)
{
	struct buf out;

	buf_init(&out);
	for (size_t i = 0; i < n_held; i++) {
		size_t n = strlen(held[i]);
		if (out.len > 0 && out.len + n > PIPE_BUF) {
			(void)!write(log_fd, out.data, out.len);
			buf_reset(&out);
		}
		buf_append(&out, held[i], n);
	}
	if (out.len > 0)
		(void)!write(log_fd, out.data, out.len);
	buf_free(&out);
}

void log_release(int emit)
{
	if (hold_depth == 0 || --hold_depth > 0)
		return;
	if (emit)
		write_held();
	for (size_t i = 0; i < n_held; i++)
		free(held[i]);
	n_held = 0;
}

void log_thread_done(void)
{
	for (size_t i = 0; i < n_held; i++)
		free(held[i]);
	n_held = 0;
	hold_depth = 0;
	free(held);
	held = NULL;
	cap_held = 0;
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
