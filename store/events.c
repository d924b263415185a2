/*
 * events.c - the audit trail's rules, the same for every backend: the
 * canonical hash of an event, and the checks of the chain over the rows a
 * backend walks (events_walk): a job's events each with chain_ok, and the
 * whole chain's verification. Appending is the backend's (one place
 * assigns ids and hashes: store/sqlite/events.c says how).
 */
#include "store/backend.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char store_genesis_hash[STORE_HASH_HEX] =
	"0000000000000000000000000000000000000000000000000000000000000000";

/* Puts the decimal form of v and a newline at p; returns the end. */
static char *put_int(char *p, int64_t v)
{
	p += util_int_text(v, p);
	*p++ = '\n';
	return p;
}

/* Puts the n bytes of s (NULL when n is 0) and then sep (when not NUL) at
 * p; returns the end. */
static char *put_text(char *p, const char *s, size_t n, char sep)
{
	if (n > 0)
		memcpy(p, s, n);
	p += n;
	if (sep != '\0')
		*p++ = sep;
	return p;
}

/* The text is joined on the stack when it fits (an event's detail is a few
 * hundred bytes), so that hashing an event allocates nothing. */
void store_event_digest(const char *prev_hash, int64_t id, const char *job_id, int64_t at,
			const char *type, const char *service, const char *detail,
			unsigned char md[UTIL_SHA256_LEN])
{
	const char *f[] = { prev_hash, job_id, type, service, detail };
	size_t n[ARRAY_LEN(f)], total = 2 * UTIL_INT_TEXT + 6;
	char stack[2048], *text, *p;

	for (size_t i = 0; i < ARRAY_LEN(f); i++)
		total += n[i] = f[i] ? strlen(f[i]) : 0;
	text = p = total <= sizeof stack ? stack : xmalloc(total);
	p = put_text(p, prev_hash, n[0], '\n');
	p = put_int(p, id);
	p = put_text(p, job_id, n[1], '\n');
	p = put_int(p, at);
	p = put_text(p, type, n[2], '\n');
	p = put_text(p, service, n[3], '\n');
	p = put_text(p, detail, n[4], '\0');
	util_sha256(text, (size_t)(p - text), md);
	if (text != stack)
		free(text);
}

void store_event_hash(const char *prev_hash, int64_t id, const char *job_id, int64_t at,
		      const char *type, const char *service, const char *detail,
		      char out[STORE_HASH_HEX])
{
	unsigned char md[UTIL_SHA256_LEN];

	store_event_digest(prev_hash, id, job_id, at, type, service, detail, md);
	util_hex(md, sizeof md, out);
}

/*
 * 1 when ev's hash matches its content and its prev_hash matches pred (the
 * hash of event id-1; NULL when that event is missing). Else 0 and why.
 */
static int event_ok(const struct event_record *ev, const char *pred, char *why, size_t whylen)
{
	char h[STORE_HASH_HEX];

	if (ev->id == 1)
		pred = store_genesis_hash;
	/* first: a backend that does not repeat prev_hash in each row reads
	 * it from event id-1, so without that event it has none to hash */
	if (pred == NULL) {
		snprintf(why, whylen, "event %lld: event %lld is missing", (long long)ev->id,
			 (long long)ev->id - 1);
		return 0;
	}
	store_event_hash(ev->prev_hash, ev->id, ev->job_id, ev->at, ev->type, ev->service,
			 ev->detail, h);
	if (ev->hash == NULL || strcmp(h, ev->hash) != 0) {
		snprintf(why, whylen, "event %lld: its hash does not match its content",
			 (long long)ev->id);
		return 0;
	}
	if (ev->prev_hash == NULL || strcmp(pred, ev->prev_hash) != 0) {
		snprintf(why, whylen, "event %lld: prev_hash does not match event %lld",
			 (long long)ev->id, (long long)ev->id - 1);
		return 0;
	}
	return 1;
}

struct list_walk {
	store_event_cb cb;
	void *ctx;
};

static int list_row(void *ctx, const struct event_record *row, const char *pred)
{
	struct list_walk *w = ctx;
	struct event_record ev = *row;
	char why[160];

	ev.chain_ok = event_ok(&ev, pred, why, sizeof why);
	return w->cb(w->ctx, &ev);
}

/* The backend's walk under the store's lock (the recorder's thread may
 * use the handle too). */
static int walk_locked(struct store *s, const char *job_id, store_event_row_cb cb, void *ctx)
{
	int rc;

	store_lock(s);
	rc = s->be->events_walk(s, job_id, cb, ctx);
	store_unlock(s);
	return rc;
}

int store_events_list(struct store *s, const char *job_id, store_event_cb cb, void *ctx)
{
	struct list_walk w = { .cb = cb, .ctx = ctx };

	return walk_locked(s, job_id, list_row, &w);
}

struct verify_walk {
	char prev[STORE_HASH_HEX]; /* the hash of the row before */
	int64_t prev_id;
	int64_t count, first_bad;
	char *why;
	size_t whylen;
};

static int verify_row(void *ctx, const struct event_record *ev, const char *unused)
{
	struct verify_walk *w = ctx;
	char msg[160];

	w->count++;
	if (w->first_bad == 0 &&
	    !event_ok(ev, ev->id == w->prev_id + 1 ? w->prev : NULL, msg, sizeof msg)) {
		w->first_bad = ev->id;
		if (w->why != NULL)
			snprintf(w->why, w->whylen, "%s", msg);
	}
	snprintf(w->prev, sizeof w->prev, "%s", ev->hash ? ev->hash : "");
	w->prev_id = ev->id;
	return 0;
}

int store_events_verify(struct store *s, int64_t *first_bad, char *why, size_t whylen,
			int64_t *count, char head[65])
{
	struct verify_walk w = { .why = why, .whylen = whylen };
	int rc;

	*first_bad = 0;
	*count = 0;
	head[0] = '\0';
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	memcpy(w.prev, store_genesis_hash, sizeof w.prev);
	rc = walk_locked(s, NULL, verify_row, &w);
	if (rc != STORE_OK)
		return STORE_ERR;
	*first_bad = w.first_bad;
	*count = w.count;
	snprintf(head, 65, "%s", w.prev_id > 0 ? w.prev : "");
	return STORE_OK;
}
