/*
 * webhook.h - the webhook dispatcher: on the scheduler's loop, it fans the
 * outbox (one row per job state change, written in the change's own
 * transaction) out to every [webhook] url and POSTs each row's body with
 *
 *   Tenantdel-Event-Id: <the outbox event id>
 *   Tenantdel-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * through the engine's HTTP client (the same curl multi). A delivery is
 * retried with the [retry] back-off until its receiver answers 2xx:
 * at least once, across restarts (the state is in the database). Each
 * receiver has its own small in-flight budget, so one that is down, slow
 * or failing delays only its own deliveries.
 */
#ifndef TENANTDEL_WEBHOOK_H
#define TENANTDEL_WEBHOOK_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "scheduler/http.h"
#include "store/store.h"

/* "t=" + up to 20 digits + ",v1=" + 64 hex + NUL */
#define WEBHOOK_SIGNATURE_LEN 96

/*
 * Writes the Tenantdel-Signature value for body sent at unix time t:
 * "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>". Can't fail.
 */
void webhook_sign(const char *secret, size_t secret_len, int64_t t, const char *body,
		  size_t body_len, char out[WEBHOOK_SIGNATURE_LEN]);

struct recorder;

struct webhook_deps {
	struct ev_loop *loop;
	struct store *store;
	struct http_client *http;
	/* the engine's recorder: the dispatcher's store work runs on its
	 * thread, so the loop never waits on the store (NULL: on the loop) */
	struct recorder *rec;
	const struct config *cfg;  /* [webhook] urls and secret, [retry] delays */
};

struct webhook;

/*
 * Starts the dispatcher on deps->loop (it idles when no url is
 * configured, but for pruning: every minute, outbox rows every configured
 * url has had for 7 days are deleted). The store writes outbox rows only
 * while cfg has a url. Deliveries leased by a process known dead are taken
 * over at once. Never NULL.
 */
struct webhook *webhook_start(const struct webhook_deps *deps);

/* Uses cfg from now on (after a config reload), for the store's outbox
 * writes too; cfg must outlive it. */
void webhook_set_config(struct webhook *w, const struct config *cfg);

/* Look at the outbox within 50 ms (a state change was just written). */
void webhook_kick(struct webhook *w);

/* POSTs in flight, and ended but not yet recorded. */
size_t webhook_in_flight(const struct webhook *w);

/*
 * Claims nothing more; deliveries in flight are still recorded when they
 * end (call before the HTTP client is freed, free after it).
 */
void webhook_stop(struct webhook *w);

/*
 * Frees the dispatcher, after the recorder has ended: the ends not yet
 * recorded are written here. Deliveries still leased by this process are
 * released (due again at once, for the next process). NULL-safe.
 */
void webhook_free(struct webhook *w);

#endif
