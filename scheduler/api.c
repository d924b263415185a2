/*
 * api.c - the HTTP server of the API: libmicrohttpd driven by the libev
 * loop (an ev_io for each descriptor it polls, its time-outs in an
 * ev_timer), limits on what clients may hold, request bodies up to
 * API_MAX_BODY, the bearer token, JSON answers. The endpoints themselves
 * are in api_routes.c.
 */
#include "scheduler/api_int.h"
#include "scheduler/ui_assets.h"
#include "util/log.h"
#include "util/utf8.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* A connection idle this long is closed: a slow client holds a slot, no more. */
#define API_CONNECTION_TIMEOUT_S 10
/* Past this many connections MHD accepts and closes at once: a flood is
 * refused quickly rather than queued. */
#define API_CONNECTION_LIMIT 128
/* What one client address may hold, so that it cannot take every slot. */
#define API_PER_IP_CONNECTION_LIMIT 32
/* A request (headers and body) must arrive whole this long after its
 * connection opened or the previous request ended. */
#define API_REQUEST_READ_S 10

/* ---- connections: the time a request may take to arrive ---- */

/* ac starts waiting for a request: it is due whole API_REQUEST_READ_S from now. */
static void conn_read_start(struct api *a, struct api_conn *ac)
{
	if (ac->reading)
		TAILQ_REMOVE(&a->reading, ac, link);
	ac->reading = 1;
	ac->read_by_ms = clock_mono_ms() + API_REQUEST_READ_S * 1000;
	TAILQ_INSERT_TAIL(&a->reading, ac, link); /* same delay for all: stays sorted */
}

static void conn_read_done(struct api *a, struct api_conn *ac)
{
	if (ac == NULL || !ac->reading)
		return;
	TAILQ_REMOVE(&a->reading, ac, link);
	ac->reading = 0;
}

/* The request of c has arrived whole (or was refused): no deadline now. */
static void request_read(struct api *a, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		sym_MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	conn_read_done(a, ci != NULL ? ci->socket_context : NULL);
}

/* Before MHD closes c's descriptor: libev must not keep watching it, for
 * the number may come back as another descriptor. */
static void unwatch(struct api *a, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		sym_MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

	if (ci != NULL && ci->connect_fd >= 0 && ci->connect_fd < FD_SETSIZE)
		ev_io_stop(a->loop, &a->watch[ci->connect_fd]);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct api *a = cls;
	struct api_conn *ac = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = ac = xcalloc(1, sizeof *ac);
		ac->conn = c;
		conn_read_start(a, ac);
		return;
	}
	conn_read_done(a, ac);
	free(ac);
	*socket_context = NULL;
	unwatch(a, c);
}

/*
 * Shuts down the socket of each connection whose request is overdue. MHD's
 * own time-out counts idleness only: a client sending a header byte a
 * second would hold its slot for ever. MHD then reads end-of-file and
 * closes the connection itself (the descriptor stays MHD's).
 */
static void drop_overdue(struct api *a)
{
	int64_t now = clock_mono_ms();
	struct api_conn *ac;

	while ((ac = TAILQ_FIRST(&a->reading)) != NULL && ac->read_by_ms <= now) {
		const union MHD_ConnectionInfo *ci =
			sym_MHD_get_connection_info(ac->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		conn_read_done(a, ac);
		if (ci != NULL && shutdown(ci->connect_fd, SHUT_RDWR) == 0) {
			struct log_line *l = log_start(LOG_DEBUG, "api.request.overdue");
			log_int(l, "after_s", API_REQUEST_READ_S);
			log_done(l);
		}
	}
}

/* ---- answers ---- */

int api_fail(struct api_answer *ans, unsigned status, const char *fmt, ...)
{
	char msg[512], *clean;
	va_list ap;
	cJSON *o = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* Echoed input may be invalid UTF-8, or a character cut by a length
	 * limit: the JSON text must not be. */
	clean = utf8_clean(msg, strlen(msg));
	cJSON_AddStringToObject(o, "error", clean);
	free(clean);
	return api_json(ans, status, o);
}

int api_json(struct api_answer *ans, unsigned status, cJSON *tree)
{
	char *text = cJSON_PrintUnformatted(tree);

	cJSON_Delete(tree);
	if (text == NULL)
		abort(); /* cJSON fails only when allocation does */
	ans->status = status;
	ans->json = xasprintf("%s\n", text);
	cJSON_free(text);
	return 0;
}

static void log_request(const struct api_req *r, unsigned status)
{
	struct log_line *l = log_start(status >= 500 ? LOG_WARN : LOG_INFO, "api.request");
	log_str(l, "method", r->method);
	log_str(l, "path", r->path);
	log_int(l, "http_status", status);
	log_int(l, "duration_ms", clock_mono_ms() - r->started_ms);
	log_done(l);
}

/* Queues ans on the connection; takes ans->json. */
static enum MHD_Result send_answer(struct api_req *r, struct api_answer *ans)
{
	const char *text = ans->json ? ans->json : "";
	struct MHD_Response *resp = sym_MHD_create_response_from_buffer(
		strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				ans->content_type ? ans->content_type : "application/json");
	sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (ans->allow[0] != '\0')
		sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, ans->allow);
	if (ans->status == MHD_HTTP_SERVICE_UNAVAILABLE)
		sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (ans->status == MHD_HTTP_UNAUTHORIZED)
		sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"tenantdel\"");
	request_read(r->api, r->conn);
	rc = sym_MHD_queue_response(r->conn, ans->status, resp);
	sym_MHD_destroy_response(resp);
	log_request(r, ans->status);
	free(ans->json);
	ans->json = NULL;
	return rc;
}

/* Queues a file of the dashboard (DESIGN 6). No token: the page signs in. */
static enum MHD_Result send_asset(struct api_req *r, const struct ui_asset *ua)
{
	struct MHD_Response *resp = sym_MHD_create_response_from_buffer(
		ua->len, (void *)ua->data, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ua->content_type);
	sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	sym_MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'self'; frame-ancestors 'none'");
	sym_MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	sym_MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	sym_MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	rc = sym_MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
	sym_MHD_destroy_response(resp);
	log_request(r, MHD_HTTP_OK);
	return rc;
}

/* "/ui" without its slash: the page's relative links need it. */
static enum MHD_Result send_ui_redirect(struct api_req *r)
{
	struct MHD_Response *resp = sym_MHD_create_response_from_buffer(0, NULL,
								    MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	sym_MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, "/ui/");
	rc = sym_MHD_queue_response(r->conn, MHD_HTTP_MOVED_PERMANENTLY, resp);
	sym_MHD_destroy_response(resp);
	log_request(r, MHD_HTTP_MOVED_PERMANENTLY);
	return rc;
}

/* ---- request lifecycle ---- */

static struct api_req *req_new(struct api *a, struct MHD_Connection *c, const char *url,
			       const char *method)
{
	struct api_req *r = xcalloc(1, sizeof *r);

	r->api = a;
	r->conn = c;
	r->method = method;
	r->path = xstrdup(url);
	r->started_ms = clock_mono_ms();
	buf_init(&r->body);
	return r;
}

static void suspend(struct api *a, struct api_req *r)
{
	request_read(a, r->conn);
	sym_MHD_suspend_connection(r->conn);
	r->suspended = 1;
	LIST_INSERT_HEAD(&a->suspended, r, link);
}

static void resume(struct api *a, struct api_req *r)
{
	LIST_REMOVE(r, link);
	r->suspended = 0;
	sym_MHD_resume_connection(r->conn);
	/* MHD must run to notice: on the next loop iteration, not from here. */
	ev_timer_stop(a->loop, &a->timer);
	ev_timer_set(&a->timer, 0.0, 0.0);
	ev_timer_start(a->loop, &a->timer);
}

void api_req_complete(struct api_req *r, struct api_answer *ans)
{
	r->ready = 1;
	r->status = ans->status;
	r->content_type = ans->content_type;
	r->answer = ans->json;
	ans->json = NULL;
	if (r->suspended)
		resume(r->api, r);
}

static void req_free(struct api_req *r)
{
	if (r->ticket != NULL)
		r->ticket->req = NULL; /* the preview's answer will be dropped */
	buf_free(&r->body);
	free(r->path);
	free(r->answer);
	free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci =
		sym_MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	if (*con_cls != NULL)
		req_free(*con_cls);
	*con_cls = NULL;
	/* Kept alive, the connection now waits for its next request. */
	if (ci != NULL && ci->socket_context != NULL)
		conn_read_start(cls, ci->socket_context);
}

static enum MHD_Result keep_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       size_t key_size, const char *value, size_t value_size)
{
	struct api_req *r = cls;

	if (r->n_args == API_MAX_ARGS)
		return MHD_NO;
	r->args[r->n_args++] = (struct api_arg){ key, value, key_size, value_size };
	return MHD_YES;
}

/* The first call for a request: refuse an announced body over the limit. */
static int body_announced_too_large(struct MHD_Connection *c)
{
	const char *cl = sym_MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long n;

	if (cl == NULL)
		return 0;
	errno = 0;
	n = strtoull(cl, &end, 10);
	return errno != 0 || n > API_MAX_BODY;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **con_cls)
{
	struct api *a = cls;
	struct api_req *r = *con_cls;
	struct api_answer ans = {0};
	const struct ui_asset *ua;

	if (r == NULL) {
		*con_cls = r = req_new(a, c, url, method);
		if (!body_announced_too_large(c))
			return MHD_YES;
		api_fail(&ans, MHD_HTTP_CONTENT_TOO_LARGE, "request body over %d bytes",
			 API_MAX_BODY);
		return send_answer(r, &ans);
	}
	if (r->ready) { /* resumed after a deferred answer */
		ans.status = r->status;
		ans.content_type = r->content_type;
		ans.json = r->answer;
		r->answer = NULL;
		return send_answer(r, &ans);
	}
	if (*upload_size > 0) {
		if (r->body.len + *upload_size > API_MAX_BODY)
			r->too_large = 1;
		else
			buf_append(&r->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		api_fail(&ans, MHD_HTTP_CONTENT_TOO_LARGE, "request body over %d bytes",
			 API_MAX_BODY);
	else if (strcmp(r->method, "GET") == 0 && strcmp(r->path, "/ui") == 0)
		return send_ui_redirect(r);
	else if (strcmp(r->method, "GET") == 0 && (ua = ui_asset_find(r->path)) != NULL)
		return send_asset(r, ua);
	else if (strcmp(r->path, "/healthz") != 0 && !api_authorized(a, c, r))
		api_fail(&ans, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token");
	else if (sym_MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, keep_arg, r) < 0)
		api_fail(&ans, 400, "cannot read the query");
	else if (api_route(a, r, &ans) == 1) {
		if (r->ready) { /* answered synchronously */
			ans.status = r->status;
			ans.content_type = r->content_type;
			ans.json = r->answer;
			r->answer = NULL;
		} else {
			suspend(a, r);
			return MHD_YES;
		}
	}
	return send_answer(r, &ans);
}

/* ---- MHD on the libev loop ---- */

/* The timer for what MHD must do next: its time-outs, or the earliest
 * request deadline. */
static void arm_timer(struct api *a)
{
	MHD_UNSIGNED_LONG_LONG ms;
	const struct api_conn *first = TAILQ_FIRST(&a->reading);
	double after = -1.0;

	if (sym_MHD_get_timeout(a->daemon, &ms) == MHD_YES)
		after = (double)ms / 1000.0;
	if (first != NULL) {
		double d = (double)(first->read_by_ms - clock_mono_ms()) / 1000.0;
		d = d > 0.0 ? d : 0.0;
		after = after < 0.0 || d < after ? d : after;
	}
	ev_timer_stop(a->loop, &a->timer);
	if (after >= 0.0) {
		ev_timer_set(&a->timer, after, 0.0);
		ev_timer_start(a->loop, &a->timer);
	}
}

/*
 * The watchers follow MHD's descriptors: after every run, each one it wants
 * read or written has an ev_io for just that, and no other has one. Level-
 * triggered on purpose: a client that closed while queued is seen at once
 * (MHD's own epoll mode misses such an end and holds the slot until a
 * time-out). MHD refuses connections past FD_SETSIZE by itself.
 */
static void watch_fds(struct api *a)
{
	fd_set rs, ws, es;
	MHD_socket max_fd = MHD_INVALID_SOCKET;
	int top;

	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_ZERO(&es);
	sym_MHD_get_fdset2(a->daemon, &rs, &ws, &es, &max_fd, FD_SETSIZE);
	top = max_fd + 1 > a->watch_top ? max_fd + 1 : a->watch_top;
	for (int fd = 0; fd < top; fd++) {
		ev_io *w = &a->watch[fd];
		int want = (FD_ISSET(fd, &rs) ? EV_READ : 0) | (FD_ISSET(fd, &ws) ? EV_WRITE : 0);

		if (ev_is_active(w) && (w->events & (EV_READ | EV_WRITE)) == want)
			continue;
		ev_io_stop(a->loop, w);
		if (want != 0) {
			ev_io_set(w, fd, want);
			ev_io_start(a->loop, w);
		}
	}
	a->watch_top = max_fd + 1;
}

/* After MHD ran: drop overdue requests, follow its descriptors, re-arm. */
static void after_run(struct api *a)
{
	drop_overdue(a);
	watch_fds(a);
	arm_timer(a);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct api *a = w->data;
	fd_set rs, ws, es;

	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_ZERO(&es);
	if (revents & EV_READ)
		FD_SET(w->fd, &rs);
	if (revents & EV_WRITE)
		FD_SET(w->fd, &ws);
	sym_MHD_run_from_select(a->daemon, &rs, &ws, &es);
	after_run(a);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct api *a = w->data;

	sym_MHD_run(a->daemon);
	after_run(a);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	struct log_line *l = log_start(LOG_DEBUG, "api.mhd");
	log_str(l, "message", msg);
	log_done(l);
}

/* Resolves [api] listen into addr; 0, or -1 with err. */
static int listen_addr(const struct config *cfg, struct sockaddr_storage *addr, int *v6,
		       char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL;
	char port[16];
	int rc;

	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", cfg->api_port);
	rc = getaddrinfo(cfg->api_host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, errlen, "[api] listen %s: %s", cfg->api_listen ? cfg->api_listen : "",
			 gai_strerror(rc));
		return -1;
	}
	memset(addr, 0, sizeof *addr);
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	*v6 = res->ai_family == AF_INET6;
	freeaddrinfo(res);
	return 0;
}

struct api *api_start(const struct api_deps *deps, char *err, size_t errlen)
{
	struct api *a;
	struct sockaddr_storage addr;
	const union MHD_DaemonInfo *info;
	int v6 = 0;

	if ((deps->cfg->api_token == NULL || deps->cfg->api_token[0] == '\0') &&
	    deps->cfg->n_api_callers == 0) {
		snprintf(err, errlen, "[api] has no token: set token_file, token_env or tokens_file");
		return NULL;
	}
	if (listen_addr(deps->cfg, &addr, &v6, err, errlen) < 0 || mhd_lib_load(err, errlen) < 0)
		return NULL;
	a = xcalloc(1, sizeof *a);
	a->loop = deps->loop;
	a->deps = *deps;
	TAILQ_INIT(&a->reading);
	LIST_INIT(&a->suspended);
	a->daemon = sym_MHD_start_daemon(
		MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
			(v6 ? MHD_USE_IPv6 : 0),
		(uint16_t)deps->cfg->api_port, NULL, NULL, on_request, a,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_CONNECTION_TIMEOUT_S,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)API_CONNECTION_LIMIT,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)API_PER_IP_CONNECTION_LIMIT,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_END);
	if (a->daemon == NULL) {
		snprintf(err, errlen, "[api] listen %s: cannot listen (address in use?)",
			 deps->cfg->api_listen ? deps->cfg->api_listen : "");
		free(a);
		return NULL;
	}
	info = sym_MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
	a->port = info ? info->port : deps->cfg->api_port;
	for (size_t fd = 0; fd < ARRAY_LEN(a->watch); fd++) {
		ev_init(&a->watch[fd], on_io);
		a->watch[fd].data = a;
	}
	ev_init(&a->timer, on_timer);
	a->timer.data = a;
	api_store_jobs_init(a);
	watch_fds(a);
	arm_timer(a);

	struct log_line *l = log_start(LOG_INFO, "api.listening");
	log_str(l, "host", deps->cfg->api_host);
	log_int(l, "port", a->port);
	log_done(l);
	return a;
}

int api_port(const struct api *a)
{
	return a->port;
}

void api_set_config(struct api *a, const struct config *cfg)
{
	a->deps.cfg = cfg;
}

void api_stop(struct api *a)
{
	if (a == NULL)
		return;
	api_store_jobs_stop(a);
	/* MHD must not be stopped with suspended connections: answer them. */
	while (!LIST_EMPTY(&a->suspended)) {
		struct api_answer ans = {0};
		api_fail(&ans, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
		api_req_complete(LIST_FIRST(&a->suspended), &ans);
	}
	sym_MHD_run(a->daemon);
	for (int fd = 0; fd < a->watch_top; fd++)
		ev_io_stop(a->loop, &a->watch[fd]);
	ev_timer_stop(a->loop, &a->timer);
	sym_MHD_stop_daemon(a->daemon);
	free(a);
}
