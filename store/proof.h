/*
 * proof.h - what the store remembers for proof of erasure (DESIGN 7): the
 * facts a deletion certificate states (the job, its tasks, its events, the
 * whole chain's head and whether it verifies), the tombstones of purged tenants,
 * and reapply: one service's deletion scheduled again for every tenant
 * purged since a time (after that service restored a backup). The
 * certificate document and its signature are built in jobs/certificate.h
 * and jobs/signature.h.
 *
 * Return values follow store.h: STORE_OK, STORE_ERR (logged),
 * STORE_NOT_FOUND.
 */
#ifndef TENANTDEL_PROOF_H
#define TENANTDEL_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/certificate.h"
#include "store/store.h"

/*
 * Reads what a certificate of job_id states: the job, all its tasks (the
 * counts as the stored JSON text) and a summary of its own events (count,
 * first and last id, last hash, whether each one's hash checks). out->chain
 * is left zero: store_proof_read_chain reads it, once the caller knows a
 * certificate is issued (it walks every event of the store).
 *
 * Returns STORE_OK with *out filled (jobs_proof_record_clear), or
 * STORE_NOT_FOUND for an unknown job, or STORE_ERR; *out is zero on error.
 */
int store_proof_read(struct store *s, const char *job_id, struct proof_record *out);

/*
 * Walks the whole event chain (store_events_verify): out gets the number
 * of events, the head hash and the id of the first event that does not
 * verify (0: the chain verifies). STORE_OK or STORE_ERR.
 */
int store_proof_read_chain(struct store *s, struct proof_chain *out);

/* One purged tenant, as the engine recorded it when its purge succeeded. */
struct store_tombstone {
	const char *job_id;      /* the purge job */
	const char *tenant_id;
	const char *tenant_name; /* from the job; may be NULL */
	int64_t purged_at;
	const char *services;    /* as stored: a JSON array of service names */
};

/* Called once per tombstone; strings valid during the call only. Non-zero stops. */
typedef int (*store_tombstone_cb)(void *ctx, const struct store_tombstone *t);

/* Tombstones with purged_at >= since, oldest first. */
int store_tombstones_list(struct store *s, int64_t since, store_tombstone_cb cb, void *ctx);

struct store_reapply_req {
	const char *service;     /* a service of the config in force */
	int phase;               /* its phase (the single task's phase) */
	int64_t since;           /* tombstones with purged_at >= since */
	const char *by;          /* requested_by of the new jobs; may be NULL */
	const char *reason;      /* reason of the new jobs; may be NULL */
	int64_t now;             /* due_at of the new jobs */
	int64_t deadline_at;     /* deadline_at of the new jobs */
};

struct store_reapply_item {
	char job_id[JOBS_ID_LEN + 1];    /* the reapply job (new or already pending) */
	char origin_job_id[JOBS_ID_LEN + 1]; /* the purge it repeats */
	char *tenant_id;
	int created;                     /* 0: an unfinished reapply job of this
					    tenant and service already existed */
};

/*
 * In one transaction, for every tenant with a tombstone purged_at >= since
 * (its latest purge; every purged tenant, whether or not the service took
 * part in that purge: the tenant was erased, so deleting its rows anywhere
 * is right), creates a job of kind 'reapply' (origin_job_id = the purge job,
 * same tenant) in state 'scheduled', due now, with one 'delete' task for
 * the service eligible now, and a job.scheduled event whose detail is
 * jobs_reapply_detail's. The scheduler then runs it like any due job. A
 * tenant that already has an unfinished reapply job for this service gets
 * no second one (its id is returned with created = 0).
 *
 * Returns STORE_OK with *items (caller frees with store_reapply_items_free)
 * and *n, or STORE_ERR with nothing created.
 */
int store_reapply(struct store *s, const struct store_reapply_req *r,
		  struct store_reapply_item **items, size_t *n);

void store_reapply_items_free(struct store_reapply_item *items, size_t n); /* NULL-safe */

#endif
