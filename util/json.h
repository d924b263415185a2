/*
 * json.h - cJSON with exact integers. cJSON keeps a number only as a
 * double, exact up to 2^53, and prints large ones in exponent form; record
 * counts go up to INT64_MAX. These keep a number's source text when
 * parsing, and print int64 values digit for digit (as raw items).
 *
 *   cJSON *o = json_parse_exact("{\"rows\": 9007199254740993}");
 *   json_add_int(o, "total", total);      // printed exactly
 */
#ifndef TENANTDEL_JSON_H
#define TENANTDEL_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses len bytes of text as cJSON_ParseWithLengthOpts(text, len, end, 0)
 * does, and gives every number item its source text in valuestring (owned
 * by the tree: cJSON_Delete frees it). Returns NULL when the text is not
 * JSON. Caller cJSON_Delete()s.
 */
cJSON *json_parse_numbers(const char *text, size_t len, const char **end);

/*
 * Parses NUL-terminated JSON text for printing it again: every number
 * written as an integer that fits int64 becomes a raw item holding its
 * digits, so it prints exactly (json_get_int reads it). NULL when text is
 * NULL, not JSON, or has more than blanks after the value. Caller
 * cJSON_Delete()s.
 */
cJSON *json_parse_exact(const char *text);

/* A raw item printing v exactly. Aborts when out of memory. */
cJSON *json_create_int(int64_t v);

/* Adds json_create_int(v) to obj under key. Aborts when out of memory. */
void json_add_int(cJSON *obj, const char *key, int64_t v);

/*
 * *v = the integer item's value: a raw item from json_create_int or
 * json_parse_exact, or a number item that is a whole double within +-2^53.
 * Returns 0, or -1 (v untouched) when item is no such integer.
 */
int json_get_int(const cJSON *item, int64_t *v);

/*
 * The unformatted text of o (cJSON_PrintUnformatted), which is deleted.
 * Aborts when out of memory. Caller frees the text.
 */
char *json_print_owned(cJSON *o);

struct buf;
/*
 * Appends s to b as a JSON string, quotes included, escaped by cJSON's own
 * printer (hot paths that print a document piece by piece: the log, bulk
 * job.scheduled details). Aborts when out of memory.
 */
void json_buf_string(struct buf *b, const char *s);

#endif
