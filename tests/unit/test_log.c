/*
 * test_log.c - the structured log: each line one JSON object that parses,
 * strings escaped, levels filtered, held lines written whole only once
 * released.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "util/log.h"
#include "util/util.h"

/* Everything written to the log since the last call, read from a pipe. */
static int pipe_fd[2];

static int setup(void **state)
{
	if (pipe(pipe_fd) != 0)
		return -1;
	log_set_fd(pipe_fd[1]);
	log_set_level(LOG_INFO);
	return 0;
}

static int teardown(void **state)
{
	log_set_fd(2);
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	return 0;
}

/* What the pipe holds now (caller frees); the write end stays open. */
static char *drain(void)
{
	struct buf b;
	char chunk[4096];

	buf_init(&b);
	buf_append(&b, "", 0);
	write(pipe_fd[1], "\x01", 1); /* a mark: read up to it */
	for (;;) {
		ssize_t n = read(pipe_fd[0], chunk, sizeof chunk);
		assert_true(n > 0);
		buf_append(&b, chunk, (size_t)n);
		if (chunk[n - 1] == '\x01')
			break;
	}
	b.data[--b.len] = '\0';
	return buf_steal(&b);
}

/* Line i (from 0) of text as a parsed object. */
static cJSON *line(const char *text, int i)
{
	const char *p = text;
	char *one;
	cJSON *o;

	while (i-- > 0) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	one = strndup(p, strcspn(p, "\n"));
	o = cJSON_Parse(one);
	assert_non_null(o);
	free(one);
	return o;
}

static void test_line_shape_and_escapes(void **state)
{
	static const char nasty[] = "q\"b\\s\n\t\r\b\f\x01\x1f caf\xc3\xa9 </script>";
	struct log_line *l = log_start(LOG_WARN, "task.attempt.failed");
	char *text;
	cJSON *o;

	log_str(l, "job_id", "j1");
	log_str(l, "absent", NULL);
	log_str(l, "nasty", nasty);
	log_int(l, "status", 503);
	log_int(l, "low", INT64_MIN);
	log_done(l);
	text = drain();
	assert_int_equal(strchr(text, '\n') - text + 1, strlen(text)); /* one line */
	assert_int_equal(text[strlen(text) - 2], '}');
	o = line(text, 0);
	assert_string_equal(cJSON_GetObjectItem(o, "level")->valuestring, "warn");
	assert_string_equal(cJSON_GetObjectItem(o, "event")->valuestring, "task.attempt.failed");
	assert_string_equal(cJSON_GetObjectItem(o, "job_id")->valuestring, "j1");
	assert_null(cJSON_GetObjectItem(o, "absent"));
	assert_string_equal(cJSON_GetObjectItem(o, "nasty")->valuestring, nasty);
	assert_int_equal(cJSON_GetObjectItem(o, "status")->valuedouble, 503);
	assert_true(strstr(text, "\"low\":-9223372036854775808}") != NULL);
	/* RFC 3339 UTC with milliseconds */
	const char *ts = cJSON_GetObjectItem(o, "ts")->valuestring;
	assert_int_equal(strlen(ts), 24);
	assert_true(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
	cJSON_Delete(o);
	free(text);
}

static void test_levels_filtered(void **state)
{
	struct log_line *l = log_start(LOG_DEBUG, "quiet");
	char *text;

	log_str(l, "k", "v");
	log_int(l, "n", 1);
	log_done(l);
	log_msg(LOG_ERROR, "loud", "%d%%", 5);
	text = drain();
	cJSON *o = line(text, 0);
	assert_string_equal(cJSON_GetObjectItem(o, "event")->valuestring, "loud");
	assert_string_equal(cJSON_GetObjectItem(o, "message")->valuestring, "5%");
	assert_null(strstr(text, "quiet"));
	cJSON_Delete(o);
	free(text);
}

static void test_held_lines_written_whole_on_release(void **state)
{
	char *text;
	int lines = 0;

	log_hold();
	for (int i = 0; i < 200; i++) { /* several PIPE_BUF chunks */
		struct log_line *l = log_start(LOG_INFO, "job.succeeded");
		log_int(l, "i", i);
		log_done_held(l);
	}
	log_msg(LOG_WARN, "diagnostic", "not held");
	text = drain();
	assert_non_null(strstr(text, "not held"));
	assert_null(strstr(text, "job.succeeded"));
	free(text);
	log_release(1);
	text = drain();
	for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++) {
		cJSON *o = line(text, lines);
		assert_int_equal(cJSON_GetObjectItem(o, "i")->valuedouble, lines);
		cJSON_Delete(o);
		lines++;
	}
	assert_int_equal(lines, 200);
	free(text);
	/* a rolled back hold writes nothing */
	log_hold();
	log_done_held(log_start(LOG_INFO, "job.failed"));
	log_release(0);
	log_msg(LOG_INFO, "after", "x");
	text = drain();
	assert_null(strstr(text, "job.failed"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_shape_and_escapes),
		cmocka_unit_test(test_levels_filtered),
		cmocka_unit_test(test_held_lines_written_whole_on_release),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
