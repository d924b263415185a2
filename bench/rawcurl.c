/*
 * rawcurl.c - the baseline for `make bench`: a plain libcurl-multi loop that
 * sends N DELETE requests, at most K at a time, over keep-alive connections,
 * to the same server tenantdel is benchmarked against. What tenantdel adds
 * on top (durable claims, recording, events) is the ratio between the two.
 *
 *   rawcurl BASE_URL N K     prints "requests=N seconds=S rps=R"
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

static void add_one(CURLM *m, const char *base, long i, struct curl_slist *hdrs)
{
	char url[512];
	CURL *e = curl_easy_init();

	snprintf(url, sizeof url, "%s/api/v1/svc%ld/tenant/bench-%ld", base, i % 13, i / 13);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
	curl_multi_add_handle(m, e);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: rawcurl BASE_URL N K\n");
		return 2;
	}
	const char *base = argv[1];
	long n = atol(argv[2]), k = atol(argv[3]), sent = 0, done = 0, failed = 0;
	struct curl_slist *hdrs = curl_slist_append(NULL, "Authorization: Bearer bench");
	CURLM *m;
	double t0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, k);
	t0 = now_s();
	while (done < n) {
		int running, msgs;
		CURLMsg *msg;
		while (sent < n && sent - done < k)
			add_one(m, base, sent++, hdrs);
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &msgs)) != NULL) {
			long code = 0;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK || code != 200)
				failed++;
			curl_multi_remove_handle(m, msg->easy_handle);
			curl_easy_cleanup(msg->easy_handle);
			done++;
		}
		if (done < n)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	double secs = now_s() - t0;
	printf("requests=%ld failed=%ld seconds=%.3f rps=%.0f\n", n, failed, secs, n / secs);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
