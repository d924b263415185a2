/*
 * http.h - HTTP requests on the event loop: libcurl's multi *socket*
 * interface driven by libev (curl's docs/examples/ephiperfifo.c is the
 * model). One client per loop; connections are kept alive and reused.
 *
 *   struct http_request rq = { .method = "DELETE", .url = url,
 *                              .bearer = token, .timeout_ms = 30000 };
 *   http_send(client, &rq, on_done, arg);   // on_done(arg, &response) later
 *
 * The callback runs from the loop (never from inside http_send), exactly
 * once per accepted request, and may send new requests.
 *
 * What the callback sees of an answer is what may be stored and logged:
 * the request's bearer token and the client's secrets
 * (http_client_set_secrets) are replaced by "[REDACTED]" in the body and
 * the error text, and Retry-After is the final response's header (not a
 * 1xx response's, not a trailer).
 */
#ifndef TENANTDEL_HTTP_H
#define TENANTDEL_HTTP_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "jobs/outcome.h"
#include "util/dl.h"

struct http_client;

/* TLS material, copied by http_client_new (all may be NULL). */
struct http_tls {
	const char *ca_file;
	const char *client_cert;
	const char *client_key;
};

struct http_request {
	const char *method;           /* "GET", "DELETE", "POST", ... */
	const char *url;
	const char *bearer;           /* Authorization: Bearer ..., NULL for none */
	const char *body;             /* request body (POST), NULL for none */
	size_t body_len;
	const char *content_type;     /* with a body; default application/json */
	const char *const *headers;   /* extra "Name: value" lines, NULL-terminated; may be NULL */
	int64_t timeout_ms;           /* whole request; <= 0: 30 s */
	int64_t connect_timeout_ms;   /* <= 0: 5 s */
	size_t max_body;              /* answer cap; 0: OUTCOME_MAX_BODY (1 MiB) */
};

/* The answer, valid during the callback only. */
struct http_response {
	enum outcome_transport transport; /* TRANSPORT_OK when an HTTP answer came */
	const char *error;                /* why it is not OK (curl's message ...), else NULL */
	long status;                      /* 0 when no answer */
	const char *body;                 /* NUL-terminated, never NULL */
	size_t body_len;
	const char *retry_after;          /* the final response's header value, or NULL */
	int64_t duration_ms;
};

typedef void (*http_done_fn)(void *arg, const struct http_response *r);

/*
 * The client's library (libcurl) loaded on a thread of its own meanwhile
 * (util/dl.h: dl_preload), for a command that builds a client after work
 * of its own; dl_preload_join before it returns.
 */
void http_preload(struct dl_preload *p);

/*
 * A client on loop. Returns NULL (logged) when libcurl cannot set up. Free
 * with http_client_free.
 */
struct http_client *http_client_new(struct ev_loop *loop, const struct http_tls *tls);

/*
 * Aborts every request still in flight (their callbacks run with
 * TRANSPORT_OTHER "aborted") and frees the client. NULL-safe.
 */
void http_client_free(struct http_client *c);

/*
 * Starts a request; the request's strings are copied. Returns 0, or -1
 * (logged, callback never called) when it cannot even be started.
 */
int http_send(struct http_client *c, const struct http_request *rq, http_done_fn done,
	      void *arg);

/* Aborts every request in flight now: callbacks run with TRANSPORT_OTHER. */
void http_abort_all(struct http_client *c, const char *why);

/* Replaces the TLS material for requests started from now on. */
void http_client_set_tls(struct http_client *c, const struct http_tls *tls);

/*
 * Keeps up to n connections open for reuse (at least 256): at least as
 * many as requests may be in flight at once, or every wave of answers
 * closes the connections past the limit and the next wave opens new ones.
 * Can't fail.
 */
void http_client_set_max_connects(struct http_client *c, long n);

/*
 * Replaces the secrets (n of them, copied) that are redacted from every
 * answer handed to a callback from now on, besides each request's bearer
 * token. Empty secrets are ignored. Can't fail.
 */
void http_client_set_secrets(struct http_client *c, const struct config_secret *secrets,
			     size_t n);

#endif
