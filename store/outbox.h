/*
 * outbox.h - webhook deliveries: the outbox rows (written with each job
 * state change, store_job_changed, while a webhook url is configured)
 * fanned out to every configured receiver URL, claimed under a lease,
 * marked delivered on a 2xx, and pruned 7 days after delivery.
 *
 * Delivery rows are created lazily: each URL has a place (meta key
 * "webhook.cursor:<url>", the last outbox id fanned out to it), set to the
 * newest outbox row when a process with the url in its config first
 * writes or dispatches, so a receiver added to the config later receives
 * what happens from then on, not the history. At-least-once: a row is
 * delivered when a receiver said 2xx; a crash between the POST and the
 * record sends it again.
 *
 * A url taken out of the config is sent nothing more and no longer counts
 * in the backlog. Its undelivered deliveries are kept, not sent, until
 * their outbox row is pruned (once it is 7 days old and the configured
 * urls are done with it); its place is kept while the events it missed
 * are less than 7 days old. So a url put back soon (a bad edit undone)
 * resumes where it stopped, nothing lost; put back later, it is a new url.
 */
#ifndef TENANTDEL_STORE_OUTBOX_H
#define TENANTDEL_STORE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* One claimed delivery. Strings are malloc'ed (store_deliveries_free). */
struct store_delivery {
	int64_t outbox_id;
	char *url;
	char *event_id;  /* the outbox event id: Tenantdel-Event-Id */
	char *type;      /* "job.scheduled", ... */
	char *body;      /* the JSON to POST, byte for byte as stored */
	int attempts;    /* POSTs made, this one included */
};

void store_deliveries_free(struct store_delivery *d, size_t n); /* NULL-safe */

/*
 * The config's webhook urls, for this handle's writes from now on (copied;
 * n == 0: none): outbox rows are written only while there is one, and the
 * first write gives each url its place. Call after store_open and after a
 * config reload. Can't fail.
 */
void store_set_webhooks(struct store *s, const char *const *urls, size_t n);

/*
 * Fans new outbox rows out to each url (at most `batch` rows per url per
 * call, oldest first): one delivery row each, due now. A url without a
 * place gets the newest row as its place (no history). Does nothing (and
 * no write transaction) when every place is at the newest outbox row.
 * *more is set to 1 when a url still has rows left to fan out.
 * Returns STORE_OK or STORE_ERR.
 */
int store_webhook_enqueue(struct store *s, const char *const *urls, size_t n, int batch,
			  int64_t now, int *more);

/*
 * Claims up to limit due deliveries of url (undelivered, next_attempt_at
 * <= now, no live lease), oldest due first: each gets lease owner and
 * expiry now + lease_ms and its attempts counted, in one transaction; a
 * row whose lease another process took in between is left out.
 * *out (caller frees with store_deliveries_free) and *n receive them.
 * Returns STORE_OK (possibly *n == 0) or STORE_ERR.
 */
int store_webhook_claim(struct store *s, const char *url, const char *owner, int64_t now,
			int64_t lease_ms, int limit, struct store_delivery **out, size_t *n);

/*
 * Records the end of one POST: delivered (a 2xx) sets delivered_at; else
 * next_attempt_at is set for the retry. status is the HTTP status (0
 * none), error a one-line reason or NULL. The lease is released either way.
 * Returns STORE_OK or STORE_ERR.
 */
int store_webhook_finish(struct store *s, int64_t outbox_id, const char *url, int delivered,
			 int status, const char *error, int64_t next_attempt_at, int64_t now);

/*
 * Releases every lease of owner on undelivered rows (due at once), for a
 * clean shutdown. Returns STORE_OK or STORE_ERR.
 */
int store_webhook_release(struct store *s, const char *owner);

/*
 * The distinct lease owners of undelivered rows, for taking over the leases
 * of a dead process. *owners (each string and the array malloc'ed, the
 * caller frees) and *n. Returns STORE_OK or STORE_ERR.
 */
int store_webhook_lease_owners(struct store *s, char ***owners, size_t *n);

/*
 * Deletes up to limit outbox rows (with their delivery rows) that every
 * one of urls (the configured ones) has had delivered before `before` or
 * never owed, written before `before` too, oldest first (delivery rows of
 * urls not in urls go with them); then forgets the place of each url not
 * in urls whose first missed row, if any, was written before `before`.
 * The newest outbox row is always kept: ids are never reused,
 * so places stay valid. *more is set to 1 when a full batch was deleted.
 * One write transaction. Returns STORE_OK or STORE_ERR.
 */
int store_webhook_prune(struct store *s, const char *const *urls, size_t n, int64_t before,
			int limit, int *more);

/*
 * Deliveries to urls not yet acknowledged: undelivered rows plus outbox
 * rows not yet fanned out. Returns STORE_OK or STORE_ERR.
 */
int store_webhook_backlog(struct store *s, const char *const *urls, size_t n,
			  int64_t *count);

#endif
