/*
 * json.c - cJSON with exact integers (see json.h).
 *
 * cJSON does not keep a number's text, so json_parse_numbers reads it back
 * from the source after a successful parse: in valid JSON, outside strings,
 * a number is the only token that starts with '-' or a digit, and cJSON
 * ends it at the first byte that cannot continue one; the tree lists the
 * numbers in the order the text does.
 */
#include "util/json.h"
#include "util/util.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_DOUBLE_MAX 9007199254740992.0 /* 2^53 */

struct scan {
	const char *p, *end;
};

static int number_byte(char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' ||
	       c == 'E';
}

/* The next number token of the text (*len its length), or NULL at the end. */
static const char *next_number(struct scan *s, size_t *len)
{
	while (s->p < s->end) {
		char c = *s->p++;
		if (c == '"') {
			while (s->p < s->end && *s->p != '"')
				s->p += *s->p == '\\' ? 2 : 1;
			s->p++;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			const char *start = s->p - 1;
			while (s->p < s->end && number_byte(*s->p))
				s->p++;
			*len = (size_t)(s->p - start);
			return start;
		}
	}
	return NULL;
}

/* Gives item, its siblings and their children their number texts, in
 * document order. -1 when the text and the tree disagree (cannot happen
 * for a tree cJSON parsed from that text). */
static int attach_texts(cJSON *item, struct scan *s)
{
	for (; item != NULL; item = item->next) {
		if (cJSON_IsNumber(item)) {
			size_t n;
			const char *t = next_number(s, &n);
			if (t == NULL || item->valuestring != NULL)
				return -1;
			item->valuestring = xstrndup(t, n);
		} else if (item->child != NULL && attach_texts(item->child, s) < 0) {
			return -1;
		}
	}
	return 0;
}

/* See json.h. The texts are malloc'ed, as cJSON's default allocator does. */
cJSON *json_parse_numbers(const char *text, size_t len, const char **end)
{
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, end, 0);
	struct scan s = { text, text + len };
	size_t n;

	if (root == NULL)
		return NULL;
	if (end != NULL && *end != NULL && *end >= text && *end <= s.end)
		s.end = *end;
	if (attach_texts(root, &s) < 0 || next_number(&s, &n) != NULL) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* 0 and *v when text is a decimal integer ("-"? digits) within int64. */
static int parse_int_text(const char *text, int64_t *v)
{
	const char *p = text[0] == '-' ? text + 1 : text;
	char *after;
	long long n;

	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	n = strtoll(text, &after, 10);
	if (errno != 0 || *after != '\0')
		return -1;
	*v = n;
	return 0;
}

/* Turns the integer number items under item into raw items, in place. */
static void make_ints_raw(cJSON *item)
{
	int64_t v;

	for (; item != NULL; item = item->next) {
		if (cJSON_IsNumber(item) && item->valuestring != NULL &&
		    parse_int_text(item->valuestring, &v) == 0)
			item->type = cJSON_Raw; /* valuestring: its digits */
		else if (item->child != NULL)
			make_ints_raw(item->child);
	}
}

/* See json.h. */
cJSON *json_parse_exact(const char *text)
{
	const char *end = NULL;
	cJSON *root;

	if (text == NULL || (root = json_parse_numbers(text, strlen(text), &end)) == NULL)
		return NULL;
	if (end == NULL || end[strspn(end, " \t\r\n")] != '\0') {
		cJSON_Delete(root);
		return NULL;
	}
	make_ints_raw(root);
	return root;
}

/* See json.h. */
char *json_print_owned(cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	if (text == NULL) {
		fprintf(stderr, "tenantdel: out of memory\n");
		abort();
	}
	return text;
}

/* See json.h. */
cJSON *json_create_int(int64_t v)
{
	char digits[UTIL_INT_TEXT];
	cJSON *item;

	util_int_text(v, digits);
	item = cJSON_CreateRaw(digits);
	if (item == NULL) {
		fprintf(stderr, "tenantdel: out of memory\n");
		abort();
	}
	return item;
}

/* See json.h. */
void json_add_int(cJSON *obj, const char *key, int64_t v)
{
	cJSON_AddItemToObject(obj, key, json_create_int(v));
}

/* See json.h. */
int json_get_int(const cJSON *item, int64_t *v)
{
	double d;

	if (cJSON_IsRaw(item))
		return item->valuestring != NULL ? parse_int_text(item->valuestring, v) : -1;
	if (!cJSON_IsNumber(item))
		return -1;
	d = item->valuedouble;
	if (!(d >= -EXACT_DOUBLE_MAX && d <= EXACT_DOUBLE_MAX) || d != (double)(int64_t)d)
		return -1;
	*v = (int64_t)d;
	return 0;
}

void json_buf_string(struct buf *b, const char *s)
{
	/* a string item that refers to s: printed, never freed */
	cJSON item = { .type = cJSON_String | cJSON_IsReference, .valuestring = (char *)s };
	/* at most \u00XX a byte, two quotes, the NUL, and the 5 bytes of slack
	 * cJSON_PrintPreallocated asks for */
	size_t need = 6 * strlen(s) + 8;
	char stack[512], *p = need <= sizeof stack ? stack : xmalloc(need);

	if (need > INT_MAX || !cJSON_PrintPreallocated(&item, p, (int)need, 0)) {
		fprintf(stderr, "tenantdel: cannot print a string of %zu bytes\n", strlen(s));
		abort();
	}
	buf_puts(b, p);
	if (p != stack)
		free(p);
}
