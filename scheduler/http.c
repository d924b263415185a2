/*
 * http.c - libcurl multi socket interface on libev, after curl's
 * docs/examples/ephiperfifo.c: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to call it back (CURLMOPT_TIMERFUNCTION);
 * libev tells curl what happened (curl_multi_socket_action).
 */
#include "scheduler/http.h"
#include "scheduler/curl_lib.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "util/redact.h"
#include "util/util.h"

struct http_client {
	struct ev_loop *loop;
	CURLM *multi;
	CURLSH *share;      /* TLS sessions, one cache for every handle */
	ev_timer timer;
	int still_running;
	char *ca_file, *client_cert, *client_key;
	struct buf *secrets;  /* redacted from answers */
	size_t n_secrets;
	LIST_HEAD(xfer_list, xfer) xfers; /* every transfer in flight, for abort */
	CURL **idle;        /* finished easy handles, reset, for the next request */
	size_t n_idle;
};

/* Easy handles kept for reuse: enough for a full max_in_flight burst. */
#define IDLE_MAX 256
/* All the header lines of an answer (curl itself refuses one over 100 KiB). */
#define HEADERS_MAX (256 * 1024)
/* curl's receive buffer, one a transfer (16 KiB by default: 64 MiB at 4096
 * in flight). Services answer a few hundred bytes of JSON; a larger answer
 * only takes more reads. */
#define RECV_BUFFER 1024L

/* One request in flight: one allocation, its header lines (curl's list
 * nodes, then their text) after the struct. */
struct xfer {
	struct http_client *c;
	CURL *easy;
	struct curl_slist *headers; /* lines[0], NULL when none */
	char *body_out;
	struct buf body;
	size_t max_body;
	int too_large;
	char *bearer;        /* redacted from the answer; in lines[0] */
	size_t header_bytes;
	int in_header;       /* between a status line and its blank line */
	int headers_too_large;
	char error[CURL_ERROR_SIZE];
	int64_t started;
	http_done_fn done;
	void *arg;
	LIST_ENTRY(xfer) link;   /* in http_client->xfers */
	size_t size;             /* of the whole allocation */
	struct curl_slist lines[];
};

/* One socket curl asked us to watch. */
struct sock {
	ev_io io;
	int set;
	struct http_client *c;
};

static void check_multi_info(struct http_client *c);

/* ---- curl -> libev ---- */

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_client *c = w->data;

	sym_curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &c->still_running);
	check_multi_info(c);
}

static int multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;

	ev_timer_stop(c->loop, &c->timer);
	if (timeout_ms >= 0) {
		/* 0 means "call curl_multi_socket_action at once": next loop turn. */
		ev_timer_set(&c->timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(c->loop, &c->timer);
	}
	return 0;
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sock *s = (struct sock *)w;
	struct http_client *c = s->c;
	int action = ((revents & EV_READ) ? CURL_CSELECT_IN : 0) |
		     ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0);

	sym_curl_multi_socket_action(c->multi, w->fd, action, &c->still_running);
	/* Not "stop the timer when still_running is 0" as in ephiperfifo: a
	 * callback below may add a request whose timer curl just armed. */
	check_multi_info(c);
}

static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct http_client *c = userp;
	struct sock *s = sockp;
	int kind;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			if (s->set)
				ev_io_stop(c->loop, &s->io);
			free(s);
			sym_curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->c = c;
		sym_curl_multi_assign(c->multi, fd, s);
	}
	kind = ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (s->set)
		ev_io_stop(c->loop, &s->io);
	ev_io_init(&s->io, io_cb, fd, kind);
	s->set = 1;
	ev_io_start(c->loop, &s->io);
	return 0;
}

/* ---- transfers ---- */

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;

	if (x->body.len + n > x->max_body) {
		x->too_large = 1;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	buf_append(&x->body, ptr, n);
	return n;
}

/* Counts the header bytes (bounded) and notes whether a header block is
 * being read, so that curl's "out of memory" for a header line over its
 * limit can be told as what it is. Retry-After is read in finish(). */
static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;

	x->header_bytes += n;
	if (x->header_bytes > HEADERS_MAX) {
		x->headers_too_large = 1;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
		x->in_header = 1;
	else if (n <= 2 && (n == 0 || ptr[0] == '\r' || ptr[0] == '\n'))
		x->in_header = 0;
	return n;
}

static enum outcome_transport map_code(CURLcode rc, const struct xfer *x)
{
	switch (rc) {
	case CURLE_OK:
		return TRANSPORT_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return TRANSPORT_TIMEOUT;
	case CURLE_WRITE_ERROR:
		return x->too_large ? TRANSPORT_TOO_LARGE : TRANSPORT_OTHER;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		return TRANSPORT_CONNECT;
	default:
		return TRANSPORT_OTHER;
	}
}

/* An easy handle for a new request: a reset idle one when there is one
 * (saves curl_easy_init's allocations and set-up per request), else new.
 * A new handle joins the client's share, which curl_easy_reset keeps: its
 * TLS sessions are the client's, so a new connection by any handle can
 * resume one, and curl allocates no session cache of the handle's own
 * (~900 bytes each, 3.7 MB at 4096 in flight). NULL when curl cannot
 * allocate one. */
static CURL *get_easy(struct http_client *c)
{
	CURL *e;

	if (c->n_idle > 0)
		return c->idle[--c->n_idle];
	e = sym_curl_easy_init();
	if (e != NULL && c->share != NULL)
		sym_curl_easy_setopt(e, CURLOPT_SHARE, c->share);
	return e;
}

/* Takes back a handle no longer in the multi: reset (no option, header
 * list or buffer of the last request survives) and kept, or freed. */
static void put_easy(struct http_client *c, CURL *easy)
{
	if (c->n_idle == IDLE_MAX) {
		sym_curl_easy_cleanup(easy);
		return;
	}
	sym_curl_easy_reset(easy);
	if (c->idle == NULL)
		c->idle = xcalloc(IDLE_MAX, sizeof *c->idle);
	c->idle[c->n_idle++] = easy;
}

static void xfer_free(struct xfer *x)
{
	struct http_client *c = x->c;

	LIST_REMOVE(x, link);
	sym_curl_multi_remove_handle(c->multi, x->easy);
	put_easy(c, x->easy);
	free(x->body_out);
	buf_free(&x->body);
	/* the token (in its header line) must not linger in freed memory */
	explicit_bzero(x->lines, x->size - offsetof(struct xfer, lines));
	free(x);
}

/* The client's secrets and the request's token taken out of b. */
static void redact_all(const struct xfer *x, struct buf *b)
{
	redact_secrets(b, x->c->secrets, x->c->n_secrets, x->bearer);
}

/* Why the transfer failed, in words. */
static const char *failure_text(const struct xfer *x, CURLcode rc, const char *why)
{
	if (why != NULL)
		return why;
	if (x->too_large)
		return "answer larger than the limit";
	if (x->headers_too_large)
		return "response headers larger than 256 KiB";
	if (rc == CURLE_OUT_OF_MEMORY && (x->in_header || x->header_bytes == 0))
		return "response header line too large (over curl's 100 KiB limit)";
	return x->error[0] ? x->error : sym_curl_easy_strerror(rc);
}

/* Hands the answer, redacted, to the caller, then frees the transfer. */
static void finish(struct xfer *x, CURLcode rc, const char *why)
{
	struct http_response r;
	struct curl_header *h;
	struct buf error;
	long status = 0;

	memset(&r, 0, sizeof r);
	buf_init(&error);
	r.transport = why ? TRANSPORT_OTHER : map_code(rc, x);
	if (r.transport == TRANSPORT_OK) {
		sym_curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		/* the final response's own header: not a 1xx's, not a trailer */
		if (sym_curl_easy_header(x->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
			r.retry_after = h->value;
	}
	r.status = status;
	if (r.transport != TRANSPORT_OK || x->too_large) {
		buf_puts(&error, failure_text(x, rc, why));
		redact_all(x, &error);
		r.error = error.data;
	}
	redact_all(x, &x->body);
	r.body = x->body.data ? x->body.data : "";
	r.body_len = x->body.len;
	r.duration_ms = clock_mono_ms() - x->started;
	x->done(x->arg, &r);
	buf_free(&error);
	xfer_free(x);
}

static void check_multi_info(struct http_client *c)
{
	CURLMsg *msg;
	int left;

	while ((msg = sym_curl_multi_info_read(c->multi, &left)) != NULL) {
		struct xfer *x = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		sym_curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x != NULL)
			finish(x, msg->data.result, NULL);
	}
}

#define AUTH_PREFIX "Authorization: Bearer "

/* A header line as its two parts (either may be ""). */
struct line {
	const char *a, *b;
};

/* The request's header lines, in order, the bearer's first; *n of them.
 * lines has room for 4 + the extra lines. */
static void header_lines(const struct http_request *rq, struct line *lines, size_t *n)
{
	size_t k = 0;

	if (rq->bearer != NULL)
		lines[k++] = (struct line){ AUTH_PREFIX, rq->bearer };
	lines[k++] = (struct line){ "Accept: application/json", "" };
	lines[k++] = (struct line){ "Expect:", "" };
	if (rq->body != NULL)
		lines[k++] = (struct line){ "Content-Type: ",
					    rq->content_type ? rq->content_type
							     : "application/json" };
	for (size_t i = 0; rq->headers != NULL && rq->headers[i] != NULL; i++)
		lines[k++] = (struct line){ rq->headers[i], "" };
	*n = k;
}

/* A transfer with its header lines as curl's list in one allocation: one
 * malloc a request instead of two a line (a few hundred bytes less a
 * request in flight). The bearer redacted from answers is the tail of its
 * Authorization line. */
static struct xfer *xfer_new(const struct http_request *rq)
{
	size_t extra = 0, n, size;
	struct line stack[12], *lines = stack; /* a task's request has 7 */
	struct xfer *x;
	char *p;

	while (rq->headers != NULL && rq->headers[extra] != NULL)
		extra++;
	if (4 + extra > ARRAY_LEN(stack))
		lines = xcalloc(4 + extra, sizeof *lines);
	header_lines(rq, lines, &n);
	size = sizeof *x + n * sizeof x->lines[0];
	for (size_t i = 0; i < n; i++)
		size += strlen(lines[i].a) + strlen(lines[i].b) + 1;
	x = xcalloc(1, size);
	x->size = size;
	p = (char *)&x->lines[n];
	for (size_t i = 0; i < n; i++) {
		x->lines[i].data = p;
		x->lines[i].next = i + 1 < n ? &x->lines[i + 1] : NULL;
		p = stpcpy(stpcpy(p, lines[i].a), lines[i].b) + 1;
	}
	x->headers = n > 0 ? &x->lines[0] : NULL;
	if (rq->bearer != NULL)
		x->bearer = x->lines[0].data + strlen(AUTH_PREFIX);
	if (lines != stack)
		free(lines);
	return x;
}

/*
 * Opens a transfer's socket above FD_SETSIZE when the descriptor limit
 * allows (the engine raises it for a large max_in_flight): the API server
 * (libmicrohttpd) polls with select(), so it refuses any connection whose
 * descriptor is 1024 or more, and with a thousand requests in flight every
 * low number would be a transfer's. libev watches these with epoll, which
 * has no such bound. Below the limit, the socket stays where it is.
 */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose,
				 struct curl_sockaddr *addr)
{
	int fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);

	if (fd >= 0 && fd < FD_SETSIZE) {
		int high = fcntl(fd, F_DUPFD_CLOEXEC, FD_SETSIZE);
		if (high >= 0) {
			close(fd);
			fd = high;
		}
	}
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static void set_options(struct http_client *c, struct xfer *x, const struct http_request *rq)
{
	CURL *e = x->easy;

	sym_curl_easy_setopt(e, CURLOPT_URL, rq->url);
	sym_curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
	if (strcmp(rq->method, "GET") == 0)
		sym_curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	if (x->body_out != NULL) {
		sym_curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body_out);
		sym_curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	} else if (strcmp(rq->method, "POST") == 0) {
		sym_curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
	}
	sym_curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	sym_curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	sym_curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	sym_curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	sym_curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	sym_curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(rq->timeout_ms > 0 ? rq->timeout_ms : 30000));
	sym_curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms : 5000));
	sym_curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	sym_curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	sym_curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	sym_curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	sym_curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->error);
	sym_curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	sym_curl_easy_setopt(e, CURLOPT_USERAGENT, "tenantdel");
	sym_curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RECV_BUFFER);
	sym_curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	sym_curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file)
		sym_curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	if (c->client_cert)
		sym_curl_easy_setopt(e, CURLOPT_SSLCERT, c->client_cert);
	if (c->client_key)
		sym_curl_easy_setopt(e, CURLOPT_SSLKEY, c->client_key);
}

int http_send(struct http_client *c, const struct http_request *rq, http_done_fn done,
	      void *arg)
{
	struct xfer *x = xfer_new(rq);
	CURLMcode mc;

	x->c = c;
	x->easy = get_easy(c);
	if (x->easy == NULL) {
		log_msg(LOG_ERROR, "http.error", "curl_easy_init failed");
		explicit_bzero(x->lines, x->size - offsetof(struct xfer, lines));
		free(x);
		return -1;
	}
	buf_init(&x->body);
	x->max_body = rq->max_body ? rq->max_body : OUTCOME_MAX_BODY;
	if (rq->body != NULL)
		x->body_out = xstrndup(rq->body, rq->body_len);
	x->done = done;
	x->arg = arg;
	x->started = clock_mono_ms();
	set_options(c, x, rq);
	LIST_INSERT_HEAD(&c->xfers, x, link);
	mc = sym_curl_multi_add_handle(c->multi, x->easy);
	if (mc != CURLM_OK) {
		log_msg(LOG_ERROR, "http.error", "curl_multi_add_handle: %s", sym_curl_multi_strerror(mc));
		xfer_free(x);
		return -1;
	}
	return 0;
}

void http_abort_all(struct http_client *c, const char *why)
{
	struct xfer *x;

	while ((x = LIST_FIRST(&c->xfers)) != NULL)
		finish(x, CURLE_ABORTED_BY_CALLBACK, why ? why : "aborted");
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v && *v ? xstrdup(v) : NULL;
}

void http_client_set_tls(struct http_client *c, const struct http_tls *tls)
{
	set_str(&c->ca_file, tls ? tls->ca_file : NULL);
	set_str(&c->client_cert, tls ? tls->client_cert : NULL);
	set_str(&c->client_key, tls ? tls->client_key : NULL);
}

void http_client_set_secrets(struct http_client *c, const struct config_secret *secrets,
			     size_t n)
{
	for (size_t i = 0; i < c->n_secrets; i++) {
		explicit_bzero(c->secrets[i].data, c->secrets[i].len);
		buf_free(&c->secrets[i]);
	}
	free(c->secrets);
	c->secrets = xcalloc(n + 1, sizeof *c->secrets);
	c->n_secrets = 0;
	for (size_t i = 0; i < n; i++) {
		if (secrets[i].len == 0)
			continue;
		buf_init(&c->secrets[c->n_secrets]);
		buf_append(&c->secrets[c->n_secrets++], secrets[i].data, secrets[i].len);
	}
}

void http_preload(struct dl_preload *p)
{
	curl_lib_preload(p);
}

struct http_client *http_client_new(struct ev_loop *loop, const struct http_tls *tls)
{
	struct http_client *c;
	char err[256];

	if (curl_lib_load(err, sizeof err) < 0) {
		log_msg(LOG_ERROR, "http.error", "%s", err);
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	LIST_INIT(&c->xfers);
	c->loop = loop;
	c->multi = sym_curl_multi_init();
	if (c->multi == NULL) {
		log_msg(LOG_ERROR, "http.error", "curl_multi_init failed");
		free(c);
		return NULL;
	}
	c->share = sym_curl_share_init();
	if (c->share != NULL &&
	    sym_curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		sym_curl_share_cleanup(c->share); /* each handle keeps its own, as before */
		c->share = NULL;
	}
	ev_timer_init(&c->timer, timer_cb, 0., 0.);
	c->timer.data = c;
	sym_curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	sym_curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	sym_curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
	sym_curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	http_client_set_max_connects(c, 0);
	http_client_set_tls(c, tls);
	return c;
}

void http_client_set_max_connects(struct http_client *c, long n)
{
	sym_curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, n > 256 ? n : 256L);
}

void http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	http_abort_all(c, "client closed");
	ev_timer_stop(c->loop, &c->timer);
	while (c->n_idle > 0)
		sym_curl_easy_cleanup(c->idle[--c->n_idle]);
	free(c->idle);
	sym_curl_multi_cleanup(c->multi);
	if (c->share != NULL)
		sym_curl_share_cleanup(c->share); /* after every handle that used it */
	http_client_set_tls(c, NULL);
	http_client_set_secrets(c, NULL, 0);
	free(c->secrets);
	free(c);
}
