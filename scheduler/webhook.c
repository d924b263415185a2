/*
 * webhook.c - the webhook dispatcher on the loop: fan-out, leased claims,
 * signed POSTs, back-off. See webhook.h.
 *
 * Its store work is the engine's recorder's, like the engine's own (the
 * loop never waits on the store, nor on a write lock another process
 * holds): a tick records the deliveries that ended since the last one,
 * prunes when due, fans the outbox out and claims what each receiver has
 * room for, all on the recorder's thread; its done callback, on the loop,
 * sends what was claimed. One tick at a time.
 */
#include "scheduler/webhook.h"
#include "jobs/policy.h"
#include "scheduler/lease.h"
#include "scheduler/recorder.h"
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

/* One POST in flight, then ended and waiting to be recorded. */
struct flight {
	struct webhook *w;        /* NULL once the dispatcher is freed */
	struct store_delivery d;
	LIST_ENTRY(flight) link;  /* in webhook->flights, then ended or recording */
	/* its end, once answered */
	int ok, status;
	char err[160];
	int64_t next_at, ended_at;
};

LIST_HEAD(flight_list, flight);

/* What one tick claimed for one url. */
struct claimed {
	int room;                 /* asked (0: none) */
	struct store_delivery *d;
	size_t n;
};

struct webhook {
	struct ev_loop *loop;
	struct store *store;
	struct http_client *http;
	struct recorder *rec;     /* the engine's (NULL: the store work is done here) */
	const struct config *cfg;
	struct lease_owner self;
	ev_timer timer;
	ev_tstamp prune_at;       /* ev_now of the next pruning pass */
	struct flight_list flights;
	size_t n_flights;
	struct flight_list ended; /* answered, not yet given to be recorded */
	size_t n_ended;
	int stopping;
	/* The tick on the recorder's thread: what it was given (read there
	 * only; the loop leaves it alone until tick_done), then what it got. */
	int ticking, again;       /* again: a tick was asked for meanwhile */
	struct flight_list recording;
	size_t n_recording;
	int64_t tick_now;
	int tick_prune, tick_fanout; /* fanout: and each url's room claimed */
	int prune_more, fanout_more;
	struct claimed *claims;   /* one per cfg->webhook_urls */
	size_t n_claims;
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
	if (w->stopping && w->n_ended == 0)
		return; /* stopping: ticks only record what ended */
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

/* Writes the end of f (on the thread that holds the store's work). */
static void record_end(struct store *st, const struct flight *f)
{
	if (store_webhook_finish(st, f->d.outbox_id, f->d.url, f->ok, f->status,
				 f->ok ? NULL : f->err, f->next_at, f->ended_at) != STORE_OK)
		log_msg(LOG_ERROR, "webhook.record.failed", "cannot record a delivery");
	else if (f->ok)
		log_msg(LOG_DEBUG, "webhook.delivered", "%s", f->d.event_id);
}

/* f ended: recorded by the next tick, which comes at once. */
static void ended(struct webhook *w, struct flight *f, int ok, int status, const char *err,
		  int64_t next_at, int64_t now)
{
	f->ok = ok;
	f->status = status;
	snprintf(f->err, sizeof f->err, "%s", err ? err : "");
	f->next_at = next_at;
	f->ended_at = now;
	LIST_INSERT_HEAD(&w->ended, f, link);
	w->n_ended++;
	arm_within(w, 0.0); /* a slot is free, and the end is to be recorded */
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
	ended(w, f, ok, (int)r->status, err, now + delay, now);
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
		ended(w, f, 0, 0, "cannot send", clock_now_ms() + 1000, clock_now_ms());
	}
}

/* The recorder's work: the ends given recorded, then a pruning pass when
 * one is due (rows every configured url has had for 7 days go, a bounded
 * batch at a time: written with or without a webhook, by this process or
 * an older one; first, so what it deletes is not fanned out again), the
 * outbox fanned out and each url's room claimed. */
static void tick_work(void *arg)
{
	struct webhook *w = arg;
	const struct config *cfg = w->cfg;
	const char *const *urls = (const char *const *)cfg->webhook_urls;
	struct flight *f;

	LIST_FOREACH(f, &w->recording, link)
		record_end(w->store, f);
	w->prune_more = w->fanout_more = 0;
	if (w->tick_prune &&
	    store_webhook_prune(w->store, urls, cfg->n_webhook_urls, w->tick_now - WEBHOOK_KEEP_MS,
				WEBHOOK_PRUNE_BATCH, &w->prune_more) != STORE_OK)
		w->prune_more = 0;
	if (w->tick_fanout &&
	    store_webhook_enqueue(w->store, urls, cfg->n_webhook_urls, WEBHOOK_FANOUT, w->tick_now,
				  &w->fanout_more) != STORE_OK)
		w->fanout_more = 0;
	for (size_t i = 0; w->tick_fanout && i < w->n_claims; i++) {
		struct claimed *c = &w->claims[i];
		if (c->room > 0 &&
		    store_webhook_claim(w->store, urls[i], w->self.id, w->tick_now, WEBHOOK_LEASE_MS,
					c->room, &c->d, &c->n) != STORE_OK) {
			c->d = NULL;
			c->n = 0;
		}
	}
}

/* On the loop: the ends recorded are freed, what was claimed goes out
 * (unless stopping: the leases are released at exit), the next tick armed. */
static void tick_done(void *arg)
{
	struct webhook *w = arg;
	struct flight *f;
	double next;

	while ((f = LIST_FIRST(&w->recording)) != NULL) {
		LIST_REMOVE(f, link);
		flight_free(f);
	}
	w->n_recording = 0;
	for (size_t i = 0; i < w->n_claims; i++) {
		struct claimed *c = &w->claims[i];
		for (size_t k = 0; k < c->n && !w->stopping; k++)
			send_one(w, &c->d[k]);
		store_deliveries_free(c->d, c->n);
		c->d = NULL;
		c->n = 0;
		c->room = 0;
	}
	w->ticking = 0;
	if (w->tick_prune)
		w->prune_at = ev_now(w->loop) +
			      (w->prune_more ? WEBHOOK_PRUNE_AGAIN_S : WEBHOOK_PRUNE_S);
	next = w->prune_at - ev_now(w->loop);
	if (next > WEBHOOK_POLL_S)
		next = WEBHOOK_POLL_S;
	arm(w, w->again || w->fanout_more || w->n_ended > 0 ? 0.0 : next < 0 ? 0.0 : next);
	w->again = 0;
}

/* Each url's room: its own budget, within what is left of the total. */
static void plan_claims(struct webhook *w)
{
	const struct config *cfg = w->cfg;
	int left = WEBHOOK_MAX - (int)w->n_flights;

	if (w->n_claims < cfg->n_webhook_urls) {
		w->claims = xrealloc(w->claims, cfg->n_webhook_urls * sizeof *w->claims);
		memset(w->claims + w->n_claims, 0,
		       (cfg->n_webhook_urls - w->n_claims) * sizeof *w->claims);
	}
	w->n_claims = cfg->n_webhook_urls;
	for (size_t i = 0; i < w->n_claims; i++) {
		int room = WEBHOOK_PER_URL - (int)in_flight_to(w, cfg->webhook_urls[i]);
		if (room > left)
			room = left;
		w->claims[i].room = room > 0 ? room : 0;
		left -= w->claims[i].room;
	}
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct webhook *w = t->data;
	const struct config *cfg = w->cfg;
	int configured = cfg->n_webhook_urls > 0 && cfg->webhook_secret != NULL;
	struct flight *f;

	if (w->ticking) {
		w->again = 1; /* tick_done ticks again at once */
		return;
	}
	/* the ends so far go with this tick */
	while ((f = LIST_FIRST(&w->ended)) != NULL) {
		LIST_REMOVE(f, link);
		LIST_INSERT_HEAD(&w->recording, f, link);
	}
	w->n_recording = w->n_ended;
	w->n_ended = 0;
	w->tick_now = clock_now_ms();
	w->tick_prune = !w->stopping && w->prune_at - ev_now(loop) <= 0;
	w->tick_fanout = !w->stopping && configured;
	if (w->tick_fanout)
		plan_claims(w);
	if (w->n_recording == 0 && !w->tick_prune && !w->tick_fanout) {
		double next = w->prune_at - ev_now(loop);
		arm(w, next > WEBHOOK_POLL_S ? WEBHOOK_POLL_S : next);
		return;
	}
	w->ticking = 1;
	recorder_run(w->rec, tick_work, tick_done, w);
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
	LIST_INIT(&w->ended);
	LIST_INIT(&w->recording);
	w->loop = deps->loop;
	w->store = deps->store;
	w->http = deps->http;
	w->rec = deps->rec;
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
	/* an end not yet recorded counts: the engine waits for it */
	return w->n_flights + w->n_ended + w->n_recording;
}

void webhook_stop(struct webhook *w)
{
	w->stopping = 1;
	ev_timer_stop(w->loop, &w->timer);
	/* ends not yet given to be recorded: a tick for them (the engine waits
	 * for them, webhook_in_flight) */
	if (w->n_ended > 0 && !w->ticking)
		arm(w, 0.0);
}

void webhook_free(struct webhook *w)
{
	struct flight *f;

	if (w == NULL)
		return;
	ev_timer_stop(w->loop, &w->timer);
	LIST_FOREACH(f, &w->flights, link)
		f->w = NULL; /* their callbacks free them */
	/* the recorder has ended (engine_free): the last ends are written here */
	while ((f = LIST_FIRST(&w->ended)) != NULL) {
		LIST_REMOVE(f, link);
		record_end(w->store, f);
		flight_free(f);
	}
	store_webhook_release(w->store, w->self.id);
	free(w->claims);
	free(w);
}
