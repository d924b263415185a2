/*
 * fleet.c - tdfleet, the fake service fleet for end-to-end tests, the demo
 * and benchmarks: the twelve reference services, the tenant service (with
 * its user routes) and an auth service on one port of 127.0.0.1, with fault
 * injection and a request log driven through /_fleet/ (see fleet_control.c).
 *
 *   tdfleet [--port N] [--token TOKEN | --token-file FILE]
 *           [--port-file FILE] [--log-limit N] [--quiet]
 *
 * Prints the port on stdout once listening; exits 0 on SIGTERM/SIGINT.
 * One thread per connection (so a "hang" fault may sleep in its handler),
 * all state behind fleet.lock.
 */
#include "tests/fleet/fleet.h"
#include "util/log.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTROL_BODY_MAX (1024 * 1024)

struct options {
	unsigned port;
	const char *token;
	const char *token_file;
	const char *port_file;
	long log_limit;
	bool quiet;
};

/* One request in progress: MHD's *con_cls. */
struct conn_req {
	struct fleet_request rq;
	struct buf body;
	bool body_too_big;
	int64_t started_mono;
};

static void usage(FILE *to)
{
	fprintf(to, "usage: tdfleet [--port N] [--token TOKEN | --token-file FILE]\n"
		    "               [--port-file FILE] [--log-limit N] [--quiet]\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	o->log_limit = 1000000;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;
		if (strcmp(a, "--quiet") == 0) {
			o->quiet = true;
			continue;
		}
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (v == NULL)
			goto bad;
		i++;
		if (strcmp(a, "--port") == 0) {
			long p = strtol(v, &end, 10);
			if (*end != '\0' || p < 0 || p > 65535)
				goto bad;
			o->port = (unsigned)p;
		} else if (strcmp(a, "--token") == 0) {
			o->token = v;
		} else if (strcmp(a, "--token-file") == 0) {
			o->token_file = v;
		} else if (strcmp(a, "--port-file") == 0) {
			o->port_file = v;
		} else if (strcmp(a, "--log-limit") == 0) {
			o->log_limit = strtol(v, &end, 10);
			if (*end != '\0' || o->log_limit < 0)
				goto bad;
		} else {
			goto bad;
		}
	}
	return 0;
bad:
	usage(stderr);
	return -1;
}

/* The token from --token or --token-file (trailing newline stripped). */
static int load_token(const struct options *o, char **token)
{
	*token = NULL;
	if (o->token != NULL) {
		*token = xstrdup(o->token);
	} else if (o->token_file != NULL) {
		char *t = util_read_file(o->token_file, NULL);
		if (t == NULL) {
			fprintf(stderr, "tdfleet: %s: %s\n", o->token_file, strerror(errno));
			return -1;
		}
		size_t n = strlen(t);
		while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r'))
			t[--n] = '\0';
		*token = t;
	}
	return 0;
}

/* Keep the path raw: tenant ids are decoded per segment, so %2F stays in one. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static void check_auth(struct fleet *f, struct MHD_Connection *conn,
		       struct fleet_request *rq)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	rq->authorization_seen = h != NULL;
	rq->auth_ok = f->token == NULL ||
		      (h != NULL && strncmp(h, "Bearer ", 7) == 0 &&
		       strcmp(h + 7, f->token) == 0);
}

/* tenantdel's headers naming the task, the call and the process. */
static void read_sender(struct MHD_Connection *conn, struct fleet_sender *out)
{
	out->task = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Tenantdel-Task");
	out->attempt = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Tenantdel-Attempt");
	out->owner = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Tenantdel-Owner");
	out->idempotency_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							   "Idempotency-Key");
}

static struct conn_req *request_begin(struct fleet *f, struct MHD_Connection *conn,
				      const char *url, const char *method)
{
	struct conn_req *cr = xcalloc(1, sizeof *cr);

	buf_init(&cr->body);
	cr->started_mono = clock_mono_ms();
	cr->rq.method = xstrdup(method);
	cr->rq.path = xstrdup(url);
	cr->rq.query_since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	fleet_route_parse(&cr->rq);
	check_auth(f, conn, &cr->rq);
	read_sender(conn, &cr->rq.sender);
	if (!cr->rq.control) {
		pthread_mutex_lock(&f->lock);
		cr->rq.rec = fleet_state_log_start(f, &cr->rq);
		pthread_mutex_unlock(&f->lock);
	}
	return cr;
}

/* Closes the request's log record with status (0: no answer). */
static void request_finish(struct fleet *f, struct conn_req *cr, int status)
{
	if (cr->rq.rec == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	fleet_state_log_end(f, cr->rq.rec, status);
	fleet_state_log_release(f, cr->rq.rec);
	pthread_mutex_unlock(&f->lock);
	cr->rq.rec = NULL;
	if (!f->quiet) {
		struct log_line *l = log_start(LOG_INFO, "fleet.request");
		log_str(l, "method", cr->rq.method);
		log_str(l, "path", cr->rq.path);
		log_int(l, "status", status);
		log_int(l, "duration_ms", clock_mono_ms() - cr->started_mono);
		log_done(l);
	}
}

/* Writes the raw answer on the connection's socket, which MHD then closes
 * (the request was read whole: nothing of MHD's is pending on it). */
static void send_raw(struct MHD_Connection *conn, const char *data, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct pollfd pfd = { .fd = ci ? ci->connect_fd : -1, .events = POLLOUT };

	while (pfd.fd >= 0 && len > 0) {
		ssize_t n = send(pfd.fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			poll(&pfd, 1, 1000);
		} else {
			return;
		}
	}
}

static enum MHD_Result send_reply(struct fleet *f, struct MHD_Connection *conn,
				  struct conn_req *cr, struct fleet_reply *rp)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (rp->raw) {
		send_raw(conn, rp->body, rp->body_len);
		request_finish(f, cr, rp->status);
		free(rp->body);
		return MHD_NO;
	}
	if (rp->drop) {
		request_finish(f, cr, 0);
		free(rp->body);
		free(rp->retry_after);
		return MHD_NO;
	}
	if (rp->body != NULL)
		resp = MHD_create_response_from_buffer(rp->body_len, rp->body,
						       MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (rp->body != NULL && rp->content_type != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rp->content_type);
	if (rp->retry_after != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, rp->retry_after);
	free(rp->retry_after);
	request_finish(f, cr, rp->status);
	ret = MHD_queue_response(conn, (unsigned)rp->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct fleet *f = cls;
	struct conn_req *cr = *con_cls;
	struct fleet_reply rp = {0};

	if (cr == NULL) {
		*con_cls = request_begin(f, conn, url, method);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (cr->rq.control && cr->body.len + *upload_data_size <= CONTROL_BODY_MAX)
			buf_append(&cr->body, upload_data, *upload_data_size);
		else if (cr->rq.control)
			cr->body_too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (cr->rq.control && cr->body_too_big) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "error", "body over 1 MiB");
		fleet_reply_json(&rp, 413, o);
	} else if (cr->rq.control) {
		fleet_route_control(f, &cr->rq, cr->body.data, cr->body.len, &rp);
	} else {
		fleet_route_service(f, &cr->rq, &rp);
	}
	return send_reply(f, conn, cr, &rp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct fleet *f = cls;
	struct conn_req *cr = *con_cls;

	if (cr == NULL)
		return;
	request_finish(f, cr, 0); /* the client went away before an answer */
	buf_free(&cr->body);
	free(cr->rq.tenant_id);
	free((char *)cr->rq.method);
	free((char *)cr->rq.path);
	free(cr);
	*con_cls = NULL;
}

static struct MHD_Daemon *start_daemon(struct fleet *f, unsigned port)
{
	struct sockaddr_in addr;
	unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION;

	if (!f->quiet)
		flags |= MHD_USE_ERROR_LOG;
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, f,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
				MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
				MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, f,
				MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
				MHD_OPTION_END);
}

static int announce_port(const struct options *o, unsigned port)
{
	char line[16];
	int n = snprintf(line, sizeof line, "%u\n", port);

	fputs(line, stdout);
	fflush(stdout);
	if (o->port_file != NULL &&
	    util_write_file_atomic(o->port_file, line, (size_t)n) != 0) {
		fprintf(stderr, "tdfleet: %s: %s\n", o->port_file, strerror(errno));
		return -1;
	}
	return 0;
}

static void wait_for_signal(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	while (sigwait(&set, &sig) != 0)
		;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	static struct fleet f; /* large (tenant buckets): not on the stack */
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;

	if (parse_args(argc, argv, &o) != 0)
		return 2;
	fleet_init(&f);
	f.quiet = o.quiet;
	f.log_limit = (size_t)o.log_limit;
	if (load_token(&o, &f.token) != 0)
		return 2;

	/* Block the stop signals in every thread; main takes them with sigwait. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	d = start_daemon(&f, o.port);
	if (d == NULL) {
		fprintf(stderr, "tdfleet: cannot listen on 127.0.0.1:%u\n", o.port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || announce_port(&o, info->port) != 0) {
		MHD_stop_daemon(d);
		return 1;
	}
	wait_for_signal();

	pthread_mutex_lock(&f.lock);
	f.shutting_down = true;
	pthread_cond_broadcast(&f.wake);
	pthread_mutex_unlock(&f.lock);
	MHD_stop_daemon(d);
	fleet_destroy(&f);
	return 0;
}
