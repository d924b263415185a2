/*
 * certificate.h - the documents of proof of erasure (DESIGN 7), built from
 * plain records: the deletion certificate of a succeeded job, and the
 * job.scheduled detail of a reapply job. Pure: the store reads the facts
 * (store_proof_read, store/store.h), this renders them; the canonical form
 * and the signature are in jobs/signature.h.
 *
 *   struct proof_record p;
 *   store_proof_read(s, id, &p);                  // job, tasks, its events
 *   if (jobs_certificate_issuable(&p.job) &&
 *       store_proof_read_chain(s, &p.chain) == STORE_OK)   // the whole chain
 *           cert = jobs_certificate_build(&p, now, TENANTDEL_VERSION);
 *   jobs_proof_record_clear(&p);
 */
#ifndef TENANTDEL_CERTIFICATE_H
#define TENANTDEL_CERTIFICATE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "jobs/record.h"
#include "jobs/subject.h"

/* What the certificate says about how the data was erased and checked. */
#define PROOF_METHOD "purge via service deletion APIs"
#define PROOF_VERIFICATION_METHOD "deletion-preview re-check"

/* Per-service verification results in a certificate. */
#define PROOF_VERIFIED "verified"               /* preview showed 0 records */
#define PROOF_NOT_VERIFIED "not verified"       /* no preview (verify = no) */
#define PROOF_RECORDS_REMAINED "records remained"

/* Hex sha256 of an event, with its NUL. */
#define PROOF_HASH_HEX 65

/* The job's own events in the chain. */
struct proof_events {
	int64_t count;
	int64_t first_id, last_id;       /* meaningful when count > 0 */
	int all_ok;                      /* every one's hash and link check */
	char last_hash[PROOF_HASH_HEX];  /* the last one's hash */
};

/* The whole event chain of the store. */
struct proof_chain {
	int64_t events;                  /* how many */
	int64_t broken_at;               /* 0: it verifies; else the first bad event's id */
	char head[PROOF_HASH_HEX];       /* the last event's hash, "" when none */
	int64_t head_id;                 /* the last event's id; 0 when none or broken */
};

/* A chain head a certificate named, and what the chain holds there now. */
struct proof_head {
	int64_t id;                      /* the event id the certificate names */
	char hash[PROOF_HASH_HEX];       /* and its hash then */
	int state;                       /* PROOF_HEAD_*, filled by store_proof_find_heads */
};

#define PROOF_HEAD_MISSING 0             /* no event with that id: the chain was cut */
#define PROOF_HEAD_FOUND 1               /* the event is there with that hash */
#define PROOF_HEAD_CHANGED 2             /* the event is there with another hash */

/* A subject job's child purge, as its certificate refers to it. */
struct proof_child {
	enum job_state state;
	int64_t total_deleted;
	struct proof_events events;      /* the child's own events: its head in the chain */
};

/* Everything a certificate states, as the store remembers it. */
struct proof_record {
	struct job_record job;
	struct task_record *tasks;       /* all of the job's tasks */
	size_t n_tasks;
	struct proof_events events;
	struct proof_chain chain;
	/* A subject job (kind user): the discovered tenants and, in the same
	 * order, the child purge of each (meaningful where the tenant has a
	 * child_job_id). Both NULL for other jobs. */
	struct subject_tenant *tenants;
	struct proof_child *children;
	size_t n_tenants;
};

/* Frees the record's strings and tasks and zeroes it; NULL-safe. */
void jobs_proof_record_clear(struct proof_record *p);

/* 1 when a certificate may be issued for job j (it has succeeded), else 0. */
int jobs_certificate_issuable(const struct job_record *j);

/*
 * The certificate of p's job (DESIGN 7, modelled on the NIST SP 800-88
 * Rev. 1 certificate of sanitization): the job, who asked and why, its
 * times, per delete task that ran the counts before, deleted and after with
 * the verification result and attempts, skipped services with their
 * reason, the job's events, and the whole chain's head (event id and hash,
 * the id null when the chain does not verify) and whether it verifies.
 * A subject job's (kind user) names the user, and instead of the services
 * lists the discovered tenants with their role and decision, each child
 * purge's reference (job id, state, deleted, its last event's id and
 * hash), the discovery, memberships and user-data steps with their
 * counts, and totals. issued_at is epoch ms; tool_version goes into
 * "tool".
 *
 * Returns a new tree (caller deletes), or NULL when the job is not
 * issuable (jobs_certificate_issuable). Allocation failure aborts.
 */
cJSON *jobs_certificate_build(const struct proof_record *p, int64_t issued_at,
			      const char *tool_version);

/*
 * The chain head cert names ("chain_head_id", "chain_head") into *out.
 * Returns 0, or -1 with why (it names none: a certificate of an older
 * tenantdel, or one issued over a chain that did not verify).
 */
int jobs_certificate_head(const cJSON *cert, struct proof_head *out, char *why,
			  size_t whylen);

/*
 * The detail of a reapply job's job.scheduled event, as JSON object text:
 * jobs_render_scheduled's keys for the new job j with its one service
 * (jobs/document.h), then "reapply_of" (j->origin_job_id, the purge
 * repeated), "purged_at" (when that purge finished) and "since" (the
 * reapply's --since). Caller frees. Allocation failure aborts.
 */
char *jobs_reapply_detail(const struct job_record *j, const char *service, int64_t purged_at,
			  int64_t since);

#endif
