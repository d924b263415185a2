/*
 * proof.h - proof of erasure (DESIGN 7): the deletion certificate of a
 * succeeded job, its canonical form and optional HMAC-SHA256 signature, the
 * tombstones of purged tenants, and reapply: one service's deletion
 * scheduled again for every tenant purged since a time (after that service
 * restored a backup).
 *
 * Return values follow store.h: STORE_OK, STORE_ERR (logged),
 * STORE_NOT_FOUND, STORE_REFUSED.
 */
#ifndef TENANTDEL_PROOF_H
#define TENANTDEL_PROOF_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* What the certificate says about how the data was erased and checked. */
#define PROOF_METHOD "purge via service deletion APIs"
#define PROOF_VERIFICATION_METHOD "deletion-preview re-check"

/* Per-service verification results in a certificate. */
#define PROOF_VERIFIED "verified"               /* preview showed 0 records */
#define PROOF_NOT_VERIFIED "not verified"       /* no preview (verify = no) */
#define PROOF_RECORDS_REMAINED "records remained"

/*
 * Builds the certificate of job_id (DESIGN 7, modelled on the NIST SP 800-88
 * Rev. 1 certificate of sanitization): the job, who asked and why, its
 * times, per service the counts before, deleted and after with the
 * verification result and attempts, skipped services with their reason, the
 * job's event count, and the whole chain's head hash and whether it
 * verifies. issued_at is epoch ms; tool_version goes into "tool".
 *
 * Returns STORE_OK with *out a new tree (caller deletes); STORE_NOT_FOUND
 * for an unknown job; STORE_REFUSED when the job has not succeeded (*state
 * receives its state, *out is NULL); STORE_ERR. state may be NULL.
 */
int store_certificate_build(struct store *s, const char *job_id, int64_t issued_at,
			    const char *tool_version, cJSON **out, enum job_state *state);

/*
 * The canonical text of a certificate: every object's keys sorted (byte
 * order, recursively), the top-level "signature" left out, printed without
 * whitespace (cJSON_PrintUnformatted). The same content always gives the
 * same bytes, whatever key order or layout a file had. Caller frees.
 * Can't fail (allocation aborts).
 */
char *store_certificate_canonical(const cJSON *cert);

/*
 * Adds (or replaces) "signature": {"alg": "HMAC-SHA256", "value": hex}
 * computed with key over the canonical text. Returns 0, or -1 (logged)
 * when OpenSSL fails.
 */
int store_certificate_sign(cJSON *cert, const unsigned char *key, size_t keylen);

/*
 * Checks a certificate's signature with key (constant-time compare).
 * Returns 0 when it verifies; -1 with a reason in why (no signature, an
 * unknown algorithm, a value that does not match the content).
 */
int store_certificate_check(const cJSON *cert, const unsigned char *key, size_t keylen,
			    char *why, size_t whylen);

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
	const char *reason;      /* reason of the new jobs; NULL: a default naming the service */
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
 * the service eligible now, and a job.scheduled event whose detail has
 * "reapply_of". The scheduler then runs it like any due job. A tenant that
 * already has an unfinished reapply job for this service gets no second
 * one (its id is returned with created = 0).
 *
 * Returns STORE_OK with *items (caller frees with store_reapply_items_free)
 * and *n, or STORE_ERR with nothing created.
 */
int store_reapply(struct store *s, const struct store_reapply_req *r,
		  struct store_reapply_item **items, size_t *n);

void store_reapply_items_free(struct store_reapply_item *items, size_t n); /* NULL-safe */

#endif
