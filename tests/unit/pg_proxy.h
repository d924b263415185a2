/*
 * pg_proxy.h - a TCP proxy on 127.0.0.1 in front of the test cluster
 * (TENANTDEL_TEST_PG_DSN), in a thread of the test: bytes go through both
 * ways as they are, except that, once armed, the first server answer
 * "COMMIT" (a CommandComplete: the transaction is committed on the
 * server) is not passed on: both ends of that connection are closed
 * instead, as a network that breaks between the commit and its reply.
 * Later connections go through normally. Include after <cmocka.h>.
 *
 *   struct pg_proxy p;
 *   pg_proxy_start(&p);           p.dsn: a connection string through it
 *   atomic_store(&p.armed, 1);    the next COMMIT's reply is lost
 *   ... p.cuts: replies lost so far
 *   pg_proxy_stop(&p);
 *
 * The server's messages are read by their framing (a type byte, a length
 * of 4 bytes counting itself), which holds from the first byte the server
 * sends when the client asks for neither SSL nor GSS encryption: the
 * DSN says sslmode=disable gssencmode=disable.
 */
#ifndef TENANTDEL_PG_PROXY_H
#define TENANTDEL_PG_PROXY_H

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/util.h"

#define PG_PROXY_PAIRS 8

struct pg_proxy_pair {
	int client, server; /* -1: the slot is free */
	struct buf from_server; /* a server message not whole yet */
};

struct pg_proxy {
	char host[256], port[16]; /* the server's, as libpq resolved them */
	struct sockaddr_un sock;  /* its Unix socket, when host is a folder */
	char dsn[1024];
	int listen_fd, wake[2];
	atomic_int armed, cuts;
	struct pg_proxy_pair pairs[PG_PROXY_PAIRS];
	pthread_t thread;
};

/* A connection to the server (a Unix socket when host is a folder); -1. */
static inline int pg_proxy_upstream(const struct pg_proxy *p)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int fd;

	if (p->host[0] == '/') {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (const struct sockaddr *)&p->sock, sizeof p->sock) < 0) {
			close(fd);
			fd = -1;
		}
		return fd;
	}
	if (getaddrinfo(p->host, p->port, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	freeaddrinfo(ai);
	return fd;
}

/* Writes all n bytes (no SIGPIPE on a closed peer); 0 or -1. */
static inline int pg_proxy_send(int fd, const char *b, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static inline void pg_proxy_close(struct pg_proxy_pair *c)
{
	if (c->client < 0)
		return;
	close(c->client);
	close(c->server);
	c->client = c->server = -1;
	buf_free(&c->from_server);
}

/* Passes the whole messages read from the server to the client, in one
 * write, but for the reply to COMMIT when armed: what came before it is
 * passed, and the pair closed there. 0, or -1 when the pair is to be
 * closed. */
static inline int pg_proxy_from_server(struct pg_proxy *p, struct pg_proxy_pair *c)
{
	struct buf *b = &c->from_server;
	size_t at = 0;
	int cut = 0;

	while (b->len - at >= 5) {
		uint32_t len;
		memcpy(&len, b->data + at + 1, 4);
		len = ntohl(len);
		if (b->len - at < 1 + (size_t)len)
			break;
		if (b->data[at] == 'C' && len == 4 + sizeof "COMMIT" &&
		    memcmp(b->data + at + 5, "COMMIT", sizeof "COMMIT") == 0 &&
		    atomic_exchange(&p->armed, 0)) {
			atomic_fetch_add(&p->cuts, 1);
			cut = 1;
			break;
		}
		at += 1 + (size_t)len;
	}
	if (pg_proxy_send(c->client, b->data, at) < 0 || cut)
		return -1;
	memmove(b->data, b->data + at, b->len - at);
	b->len -= at;
	return 0;
}

/* Bytes readable on one end of pair c: passed on; 0, or -1 to close it. */
static inline int pg_proxy_pump(struct pg_proxy *p, struct pg_proxy_pair *c, int from_client)
{
	char chunk[16384];
	ssize_t n = read(from_client ? c->client : c->server, chunk, sizeof chunk);

	if (n <= 0)
		return -1;
	if (from_client)
		return pg_proxy_send(c->server, chunk, (size_t)n);
	buf_append(&c->from_server, chunk, (size_t)n);
	return pg_proxy_from_server(p, c);
}

/* A new client: its own connection to the server (closed at once when
 * there is no slot or no server). */
static inline void pg_proxy_accept(struct pg_proxy *p)
{
	int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* as libpq's own socket: a small reply is not held back by Nagle */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	for (int i = 0; i < PG_PROXY_PAIRS; i++) {
		if (p->pairs[i].client >= 0)
			continue;
		p->pairs[i].server = pg_proxy_upstream(p);
		if (p->pairs[i].server < 0)
			break;
		p->pairs[i].client = fd;
		buf_init(&p->pairs[i].from_server);
		return;
	}
	close(fd);
}

static inline void *pg_proxy_main(void *arg)
{
	struct pg_proxy *p = arg;

	for (;;) {
		struct pollfd v[2 + 2 * PG_PROXY_PAIRS];
		int n = 2;
		v[0] = (struct pollfd){ .fd = p->wake[0], .events = POLLIN };
		v[1] = (struct pollfd){ .fd = p->listen_fd, .events = POLLIN };
		for (int i = 0; i < PG_PROXY_PAIRS; i++) {
			v[n++] = (struct pollfd){ .fd = p->pairs[i].client, .events = POLLIN };
			v[n++] = (struct pollfd){ .fd = p->pairs[i].server, .events = POLLIN };
		}
		if (poll(v, (nfds_t)n, -1) < 0)
			continue;
		if (v[0].revents)
			return NULL;
		if (v[1].revents)
			pg_proxy_accept(p);
		for (int i = 0; i < PG_PROXY_PAIRS; i++) {
			struct pg_proxy_pair *c = &p->pairs[i];
			if (c->client >= 0 && v[2 + 2 * i].revents && pg_proxy_pump(p, c, 1) < 0)
				pg_proxy_close(c);
			if (c->client >= 0 && v[3 + 2 * i].revents && pg_proxy_pump(p, c, 0) < 0)
				pg_proxy_close(c);
		}
	}
}

/* p.dsn: the test cluster's user, database and password, through the
 * proxy's port. */
static inline void pg_proxy_dsn(struct pg_proxy *p, PGconn *c, int port)
{
	const char *pass = PQpass(c);
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "host=127.0.0.1 port=%d sslmode=disable gssencmode=disable", port);
	for (int k = 0; k < 3; k++) {
		const char *v = k == 0 ? PQuser(c) : k == 1 ? PQdb(c) : pass;
		if (v == NULL || v[0] == '\0')
			continue;
		buf_puts(&b, k == 0 ? " user='" : k == 1 ? " dbname='" : " password='");
		for (; *v; v++) {
			if (*v == '\'' || *v == '\\')
				buf_append(&b, "\\", 1);
			buf_append(&b, v, 1);
		}
		buf_puts(&b, "'");
	}
	assert_true(b.len < sizeof p->dsn);
	memcpy(p->dsn, b.data, b.len + 1);
	buf_free(&b);
}

/* Starts the proxy on a free port of 127.0.0.1 (fails the test if it
 * cannot): the server is the one TENANTDEL_TEST_PG_DSN names. */
static inline void pg_proxy_start(struct pg_proxy *p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	PGconn *c = PQconnectdb(getenv("TENANTDEL_TEST_PG_DSN"));

	memset(p, 0, sizeof *p);
	for (int i = 0; i < PG_PROXY_PAIRS; i++)
		p->pairs[i].client = p->pairs[i].server = -1;
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	snprintf(p->host, sizeof p->host, "%s", PQhost(c));
	snprintf(p->port, sizeof p->port, "%s", PQport(c)[0] ? PQport(c) : "5432");
	p->sock.sun_family = AF_UNIX;
	assert_true(snprintf(p->sock.sun_path, sizeof p->sock.sun_path, "%s/.s.PGSQL.%s", p->host,
			     p->port) < (int)sizeof p->sock.sun_path);
	p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(p->listen_fd >= 0);
	assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(p->listen_fd, 16), 0);
	assert_int_equal(getsockname(p->listen_fd, (struct sockaddr *)&a, &alen), 0);
	pg_proxy_dsn(p, c, ntohs(a.sin_port));
	PQfinish(c);
	assert_int_equal(pipe2(p->wake, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&p->thread, NULL, pg_proxy_main, p), 0);
}

/* Stops the thread and closes every connection through it. */
static inline void pg_proxy_stop(struct pg_proxy *p)
{
	assert_int_equal(write(p->wake[1], "x", 1), 1);
	assert_int_equal(pthread_join(p->thread, NULL), 0);
	for (int i = 0; i < PG_PROXY_PAIRS; i++)
		pg_proxy_close(&p->pairs[i]);
	close(p->listen_fd);
	close(p->wake[0]);
	close(p->wake[1]);
}

#endif
