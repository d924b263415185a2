/*
 * fuzz_outcome.c - libFuzzer harness for the service-response classifier
 * (outcome_classify_delete / outcome_classify_preview). Input layout:
 *   byte 0     bit 0: preview (else delete), bit 1: on_404 = fail,
 *              bits 2-4: transport (modulo the enum)
 *   bytes 1-2  HTTP status, big-endian, modulo 1000
 *   then       the Retry-After header value, up to the first '\n'
 *              (an empty line: no Retry-After header)
 *   the rest   the body (NUL-terminated copy, as scheduler/http.c gives it)
 * Besides the sanitizers, it checks what the engine relies on: a kind in
 * range, counts_json (when set) a JSON object, a total >= 0, valid UTF-8
 * in every text that is stored or logged.
 */
#include "jobs/outcome.h"
#include "tests/fuzz/fuzz.h"

#include <cjson/cJSON.h>
#include <string.h>

static void check(const struct outcome *o)
{
	cJSON *counts;

	if (o->kind != OUTCOME_SUCCESS && o->kind != OUTCOME_RETRY && o->kind != OUTCOME_PERMANENT)
		abort();
	if (o->total < 0 || o->retry_after_ms < -1 || memchr(o->error, '\0', sizeof o->error) == NULL)
		abort();
	if (!fuzz_utf8_valid(o->error, strlen(o->error)))
		abort();
	if (o->counts_json == NULL)
		return;
	counts = cJSON_Parse(o->counts_json);
	if (!cJSON_IsObject(counts) || !fuzz_utf8_valid(o->counts_json, strlen(o->counts_json)))
		abort();
	cJSON_Delete(counts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome_http h = {0};
	struct outcome o;
	char *retry_after, *body;
	int mode;

	if (size < 3)
		return 0;
	mode = data[0];
	h.transport = (enum outcome_transport)((mode >> 2) % (TRANSPORT_OTHER + 1));
	h.status = ((long)data[1] << 8 | data[2]) % 1000;
	h.now_ms = 1767225600000; /* 2026-01-01T00:00:00Z */
	data += 3;
	size -= 3;
	retry_after = fuzz_take_line(&data, &size);
	h.retry_after = retry_after[0] != '\0' ? retry_after : NULL;
	body = fuzz_strndup(data, size);
	h.body = body;
	h.body_len = size;
	if (h.transport != TRANSPORT_OK)
		h.transport_error = "fuzzed transport error";
	if (mode & 1)
		outcome_classify_preview(&h, &o);
	else
		outcome_classify_delete(&h, (mode >> 1) & 1, &o);
	check(&o);
	outcome_clear(&o);
	free(body);
	free(retry_after);
	return 0;
}
