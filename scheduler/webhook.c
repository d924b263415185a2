/*
 * webhook.c - the webhook dispatcher on the loop: fan-out, leased claims,
 * signed POSTs, back-off. See webhook.h.
 */
#include "scheduler/webhook.h"
#include "jobs/policy.h"
#include "scheduler/lease.h"
#include "store/store.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define WEBHOOK_TIMEOUT_MS 10000
#define WEBHOOK_LEASE_MS (WEBHOOK_TIMEOUT_MS + 10000)
#define WEBHOOK_PER_URL 4    /* POSTs in flight to one receiver */
#define WEBHOOK_MAX 32       /* POSTs in flight in all */
#define WEBHOOK_FANOUT 500   /* outbox rows fanned out per url per tick */
#define WEBHOOK_POLL_S 1.0   /* other processes write the outbox too */
#define WEBHOOK_KEEP_MS (7 * 24 * 3600 * 1000LL) /* delivered rows kept that long */
#define WEBHOOK_PRUNE_S 60.0 /* between pruning passes */
#define WEBHOOK_PRUNE_AGAIN_S 0.1 /* after a full batch: the rest soon, not at once */
#define WEBHOOK_PRUNE_BATCH 1000

/* One POST in flight. */
struct flight {
	struct webhook *w;        /* NULL once the dispatcher is freed */
	struct store_delivery d;
	LIST_ENTRY(flight) link;  /* in webhook->flights */
};

LIST_HEAD(flight_list, flight);

struct webhook {
	struct ev_loop *loop;
	struct store *store;
	struct http_client *http;
	const struct config *cfg;
	struct lease_owner self;
	ev_timer timer;
	ev_tstamp prune_at;       /* ev_now of the next pruning pass */
	struct flight_list flights;
	size_t n_flights;
	int stopping;
};

void webhook_sign(const char *secret, size_t secret_len, int64_t t, const char *body,
		  size_t body_len, char out[WEBHOOK_SIGNATURE_LEN])
{
	char mac[65];
	struct buf msg;

	buf_init(&msg);
	buf_printf(&msg, "%lld.", (long long)t);
	buf_append(&msg, body, body_len);
	util_hmac_sha256_hex(secret, secret_len, msg.data, msg.len, mac);
	buf_free(&msg);
	snprintf(out, WEBHOOK_SIGNATURE_LEN, "t=%lld,v1=%s", (long long)t, mac);
}

/* The receiver for logs: scheme and host only (a URL path may hold a token). */
static void url_origin(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://");
	size_t n = p ? (size_t)(p - url) + 3 + strcspn(p + 3, "/?#") : strcspn(url, "/?#");
	snprintf(out, outlen, "%.*s", (int)n, url);
}

static size_t in_flight_to(const struct webhook *w, const char *url)
{
	size_t n = 0;
	const struct flight *f;

	LIST_FOREACH(f, &w->flights, link)
		n += strcmp(f->d.url, url) == 0;
	return n;
}

static void arm(struct webhook *w, double after)
{
	ev_timer_stop(w->loop, &w->timer);
	if (w->stopping)
		return;
	ev_timer_set(&w->timer, after, 0.0);
	ev_timer_start(w->loop, &w->timer);
}

/* Ticks no later than after seconds from now (an earlier tick stays). */
static void arm_within(struct webhook *w, double after)
{
	if (ev_is_active(&w->timer) && ev_timer_remaining(w->loop, &w->timer) <= after)
		return;
	arm(w, after);
}

static void unlink_flight(struct webhook *w, struct flight *f)
{
	LIST_REMOVE(f, link);
	w->n_flights--;
}

static void flight_free(struct flight *f)
{
	free(f->d.url);
	free(f->d.event_id);
	free(f->d.type);
	free(f->d.body);
	free(f);
}

static void log_failure(const struct flight *f, const struct http_response *r,
			int64_t delay)
{
	char origin[256];
	struct log_line *l = log_start(LOG_WARN, "webhook.delivery.failed");

	url_origin(f->d.url, origin, sizeof origin);
	log_str(l, "receiver", origin);
	log_str(l, "event_id", f->d.event_id);
	log_str(l, "type", f->d.type);
	log_int(l, "attempt", f->d.attempts);
	if (r->status > 0)
		log_int(l, "http_status", r->status);
	else
		log_str(l, "error", r->error);
	log_int(l, "retry_in_ms", delay);
	log_done(l);
}

static void on_done(void *arg, const struct http_response *r)
{
	struct flight *f = arg;
	struct webhook *w = f->w;
	int ok = r->transport == TRANSPORT_OK && r->status >= 200 && r->status < 300;
	int64_t now = clock_now_ms(), delay = 0;
	char err[160] = "";

	if (w == NULL) { /* the dispatcher is gone: the lease runs out */
		flight_free(f);
		return;
	}
	unlink_flight(w, f);
	if (!ok && !(w->stopping && r->transport == TRANSPORT_OTHER)) {
		struct policy_retry p = {.base_delay_ms = w->cfg->base_delay_ms,
					 .max_delay_ms = w->cfg->max_delay_ms};
		delay = policy_retry_delay(&p, f->d.attempts, policy_rand01());
		log_failure(f, r, delay);
	}
	if (!ok)
		snprintf(err, sizeof err, "%s",
			 r->status > 0 ? "HTTP status not 2xx" : (r->error ? r->error : "failed"));
	if (store_webhook_finish(w->store, f->d.outbox_id, f->d.url, ok, (int)r->status,
				 ok ? NULL : err, now + delay, now) != STORE_OK)
		log_msg(LOG_ERROR, "webhook.record.failed", "cannot record a delivery");
	else if (ok)
		log_msg(LOG_DEBUG, "webhook.delivered", "%s", f->d.event_id);
	flight_free(f);
	arm_within(w, 0.0); /* a slot is free */
}

static void send_one(struct webhook *w, struct store_delivery *d)
{
	char sig[WEBHOOK_SIGNATURE_LEN], h_sig[WEBHOOK_SIGNATURE_LEN + 32], h_id[128];
	const char *headers[] = {h_id, h_sig, NULL};
	const struct config *cfg = w->cfg;
	struct flight *f = xcalloc(1, sizeof *f);
	struct http_request rq = {0};

	f->w = w;
	f->d = *d;
	memset(d, 0, sizeof *d); /* the flight owns the strings now */
	webhook_sign(cfg->webhook_secret, strlen(cfg->webhook_secret), clock_now_ms() / 1000,
		     f->d.body, strlen(f->d.body), sig);
	snprintf(h_sig, sizeof h_sig, "Tenantdel-Signature: %s", sig);
	snprintf(h_id, sizeof h_id, "Tenantdel-Event-Id: %s", f->d.event_id);
	rq.method = "POST";
	rq.url = f->d.url;
	rq.body = f->d.body;
	rq.body_len = strlen(f->d.body);
	rq.content_type = "application/json";
	rq.headers = headers;
	rq.timeout_ms = WEBHOOK_TIMEOUT_MS;
	rq.connect_timeout_ms = cfg->connect_timeout_ms;
	rq.max_body = 64 * 1024;
	LIST_INSERT_HEAD(&w->flights, f, link);
	w->n_flights++;
	if (http_send(w->http, &rq, on_done, f) < 0) {
		unlink_flight(w, f);
		store_webhook_finish(w->store, f->d.outbox_id, f->d.url, 0, 0, "cannot send",
				     clock_now_ms() + 1000, clock_now_ms());
		flight_free(f);
	}
}

/* Claims and sends what url may have in flight now. */
static void dispatch_url(struct webhook *w, const char *url, int64_t now)
{
	struct store_delivery *d = NULL;
	size_t busy = in_flight_to(w, url), n = 0;
	int room = WEBHOOK_PER_URL - (int)busy;

	if (room > (int)(WEBHOOK_MAX - w->n_flights))
		room = (int)(WEBHOOK_MAX - w->n_flights);
	if (room <= 0)
		return;
	if (store_webhook_claim(w->store, url, w->self.id, now, WEBHOOK_LEASE_MS, room, &d, &n) !=
	    STORE_OK)
		return;
	for (size_t i = 0; i < n; i++)
		send_one(w, &d[i]);
	store_deliveries_free(d, n);
}

/*
 * A pruning pass when one is due: rows every configured url has had for 7
 * days go, a bounded batch at a time (written with or without a webhook,
 * by this process or an older one). Returns the seconds until the next.
 */
static double prune(struct webhook *w, int64_t now)
{
	const struct config *cfg = w->cfg;
	double wait = w->prune_at - ev_now(w->loop);
	int more = 0;

	if (wait > 0)
		return wait;
	if (store_webhook_prune(w->store, (const char *const *)cfg->webhook_urls,
				cfg->n_webhook_urls, now - WEBHOOK_KEEP_MS, WEBHOOK_PRUNE_BATCH,
				&more) != STORE_OK)
		more = 0;
	wait = more ? WEBHOOK_PRUNE_AGAIN_S : WEBHOOK_PRUNE_S;
	w->prune_at = ev_now(w->loop) + wait;
	return wait;
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct webhook *w = t->data;
	const struct config *cfg = w->cfg;
	const char *const *urls = (const char *const *)cfg->webhook_urls;
	int64_t now = clock_now_ms();
	double next;
	int more = 0;

	if (w->stopping)
		return;
	next = prune(w, now); /* first: what it deletes is not fanned out again */
	if (next > WEBHOOK_POLL_S)
		next = WEBHOOK_POLL_S;
	if (cfg->n_webhook_urls == 0 || cfg->webhook_secret == NULL) {
		arm(w, next);
		return;
	}
	if (store_webhook_enqueue(w->store, urls, cfg->n_webhook_urls, WEBHOOK_FANOUT, now,
				  &more) != STORE_OK)
		more = 0;
	for (size_t i = 0; i < cfg->n_webhook_urls; i++)
		dispatch_url(w, urls[i], now);
	arm(w, more ? 0.0 : next);
}

/* Deliveries leased by a process known dead are due again at once. */
static void reclaim_dead(struct webhook *w)
{
	char **owners = NULL;
	size_t n = 0;

	if (store_webhook_lease_owners(w->store, &owners, &n) != STORE_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(owners[i], w->self.id) == 0 || lease_owner_dead(&w->self, owners[i]))
			store_webhook_release(w->store, owners[i]);
		free(owners[i]);
	}
	free(owners);
}

struct webhook *webhook_start(const struct webhook_deps *deps)
{
	struct webhook *w = xcalloc(1, sizeof *w);

	LIST_INIT(&w->flights);
	w->loop = deps->loop;
	w->store = deps->store;
	w->http = deps->http;
	w->cfg = deps->cfg;
	lease_owner_self(&w->self, w->cfg->store_node);
	ev_init(&w->timer, on_tick);
	w->timer.data = w;
	store_set_webhooks(w->store, (const char *const *)w->cfg->webhook_urls,
			   w->cfg->n_webhook_urls);
	if (w->cfg->n_webhook_urls > 0)
		reclaim_dead(w);
	arm(w, 0.0);
	return w;
}

void webhook_set_config(struct webhook *w, const struct config *cfg)
{
	w->cfg = cfg;
	/* The store writes the outbox from now on as this config says. */
	store_set_webhooks(w->store, (const char *const *)cfg->webhook_urls,
			   cfg->n_webhook_urls);
	webhook_kick(w);
}

void webhook_kick(struct webhook *w)
{
	/* Coalesced: a busy engine cycles far more often than this. */
	arm_within(w, 0.05);
}

size_t webhook_in_flight(const struct webhook *w)
{
	return w->n_flights;
}

void webhook_stop(struct webhook *w)
{
	w->stopping = 1;
	ev_timer_stop(w->loop, &w->timer);
}

void webhook_free(struct webhook *w)
{
	struct flight *f;

	if (w == NULL)
		return;
	ev_timer_stop(w->loop, &w->timer);
	LIST_FOREACH(f, &w->flights, link)
		f->w = NULL; /* their callbacks free them */
	store_webhook_release(w->store, w->self.id);
	free(w);
}
