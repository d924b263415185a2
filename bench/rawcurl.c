/*
 * rawcurl.c - the baseline for `make bench`: a plain libcurl-multi loop that
 * sends N DELETE requests, at most K at a time, over keep-alive connections,
 * to the same server tenantdel is benchmarked against. What tenantdel adds
 * on top (durable claims, recording, events) is the ratio between the two.
 *
 *   rawcurl BASE_URL N K     prints "requests=N failed=F seconds=S rps=R"
 *
 * The loop is the one tenantdel uses, minus everything else: the multi
 * socket interface (curl_multi_socket_action) on epoll, waking only on
 * socket activity or curl's own timer, K easy handles reused from request
 * to request (so connections and curl's per-handle state are reused), the
 * same request headers. An earlier version waited in curl_multi_poll(100 ms)
 * each round; curl 7.88 did not include the transfer sockets in that poll,
 * so every round slept the full 100 ms (~700 requests/s).
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct raw {
	CURLM *multi;
	int epfd;
	long timeout_ms; /* curl's timer: -1 none */
	const char *base;
	long n, sent, done, failed;
	struct curl_slist *hdrs;
};

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	return size * n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CURLMOPT_SOCKETFUNCTION: mirror curl's interest in epoll. */
static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct raw *r = userp;
	struct epoll_event ev = { 0 };

	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
		curl_multi_assign(r->multi, fd, NULL);
		return 0;
	}
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	ev.data.fd = fd;
	if (sockp == NULL) {
		epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev);
		curl_multi_assign(r->multi, fd, r); /* any non-NULL marks "added" */
	} else {
		epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev);
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: remember when curl wants to be called. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct raw *r = userp;

	r->timeout_ms = timeout_ms;
	return 0;
}

/* Points easy at the next URL and hands it to the multi. */
static void send_next(struct raw *r, CURL *e)
{
	char url[512];
	long i = r->sent++;

	snprintf(url, sizeof url, "%s/api/v1/svc%ld/tenant/bench-%06ld", r->base, i % 13, i / 13);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_multi_add_handle(r->multi, e);
}

static CURL *new_easy(struct raw *r)
{
	CURL *e = curl_easy_init();

	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "tenantdel");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
	return e;
}

/* Collects finished transfers; each freed handle takes the next request. */
static void check_done(struct raw *r)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(r->multi, &left)) != NULL) {
		CURL *e = msg->easy_handle;
		long code = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		if (msg->data.result != CURLE_OK || code != 200)
			r->failed++;
		r->done++;
		curl_multi_remove_handle(r->multi, e);
		if (r->sent < r->n)
			send_next(r, e);
		else
			curl_easy_cleanup(e);
	}
}

static void run(struct raw *r, long k)
{
	struct epoll_event evs[256];
	int running = 0;

	for (long i = 0; i < k && r->sent < r->n; i++)
		send_next(r, new_easy(r));
	curl_multi_socket_action(r->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	while (r->done < r->n) {
		int n = epoll_wait(r->epfd, evs, 256, r->timeout_ms < 0 ? 1000 : (int)r->timeout_ms);

		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			exit(1);
		}
		if (n <= 0)
			curl_multi_socket_action(r->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		for (int i = 0; i < n; i++) {
			int act = ((evs[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
				  ((evs[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
				  ((evs[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
			curl_multi_socket_action(r->multi, evs[i].data.fd, act, &running);
		}
		check_done(r);
	}
}

int main(int argc, char **argv)
{
	struct raw r = { .timeout_ms = -1 };
	long k;
	double t0, secs;

	if (argc != 4) {
		fprintf(stderr, "usage: rawcurl BASE_URL N K\n");
		return 2;
	}
	r.base = argv[1];
	r.n = atol(argv[2]);
	k = atol(argv[3]);
	if (r.n <= 0 || k <= 0) {
		fprintf(stderr, "rawcurl: N and K must be positive\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r.hdrs = curl_slist_append(NULL, "Authorization: Bearer bench-token");
	r.hdrs = curl_slist_append(r.hdrs, "Accept: application/json");
	r.hdrs = curl_slist_append(r.hdrs, "Expect:");
	r.epfd = epoll_create1(EPOLL_CLOEXEC);
	r.multi = curl_multi_init();
	curl_multi_setopt(r.multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(r.multi, CURLMOPT_SOCKETDATA, &r);
	curl_multi_setopt(r.multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(r.multi, CURLMOPT_TIMERDATA, &r);
	curl_multi_setopt(r.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, k);
	curl_multi_setopt(r.multi, CURLMOPT_MAXCONNECTS, k);
	t0 = now_s();
	run(&r, k);
	secs = now_s() - t0;
	printf("requests=%ld failed=%ld seconds=%.3f rps=%.0f\n", r.n, r.failed, secs,
	       (double)r.n / secs);
	curl_multi_cleanup(r.multi);
	close(r.epfd);
	curl_slist_free_all(r.hdrs);
	curl_global_cleanup();
	return r.failed ? 1 : 0;
}
