/*
 * subject.h - data-subject erasure (DESIGN 9), the decisions: reading the
 * tenant service's discovery answers (which tenants a user belongs to, with
 * which role; who runs a tenant) and deciding, per tenant, whether it is
 * purged (the user runs it alone) or kept (others run it, or the user is a
 * member only). An answer that is missing, malformed or contradictory is
 * an error that names what is wrong, never a guess. Pure: the caller did
 * the I/O.
 */
#ifndef TENANTDEL_SUBJECT_H
#define TENANTDEL_SUBJECT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "jobs/jobs.h"

/* The step tasks of a subject job, in phase order: their service names
 * (never a config service's: those have no '.'). */
#define SUBJECT_STEP_DISCOVER "subject.discover"
#define SUBJECT_STEP_MEMBERSHIPS "subject.memberships"
#define SUBJECT_STEP_USER "subject.user"
#define SUBJECT_N_STEPS 3

enum subject_step {
	SUBJECT_DISCOVER,    /* phase 1: GET tenants_url, then admins_url */
	SUBJECT_MEMBERSHIPS, /* phase 2, after every child succeeded */
	SUBJECT_USER,        /* phase 3 */
};

/* The step's task service name; its phase is step + 1. */
const char *subject_step_name(enum subject_step step);
/* The step of a task service name; 0, or -1 when it is not a step. */
int subject_step_parse(const char *service, enum subject_step *out);

enum subject_role { SUBJECT_ROLE_OWNER, SUBJECT_ROLE_ADMIN, SUBJECT_ROLE_MEMBER };

/* "owner", "admin", "member"; parse: 0 or -1. */
const char *subject_role_name(enum subject_role r);
int subject_role_parse(const char *s, enum subject_role *out);

enum subject_decision {
	SUBJECT_KEEP,  /* others run it, or the user is a member only */
	SUBJECT_PURGE, /* the user is its only owner or admin: a child purge job */
};

/* "keep", "purge"; parse: 0 or -1. */
const char *subject_decision_name(enum subject_decision d);
int subject_decision_parse(const char *s, enum subject_decision *out);

/* One tenant of the user, as discovered and decided. */
struct subject_tenant {
	char tenant_id[JOBS_TENANT_ID_MAX + 1];
	enum subject_role role;
	int other_admins;                    /* owners/admins besides the user */
	enum subject_decision decision;
	char reason[64];                     /* "purged: only owner", "kept: 2 other admins" */
	char child_job_id[JOBS_ID_LEN + 1];  /* the purge job; "" none (yet) */
};

/* Whether the user's role lets them run the tenant (owner or admin). */
int subject_runs(enum subject_role r);

/*
 * Reads the answer of tenants_url for user_id: {"user_id": user_id,
 * "tenants": [{"tenant_id", "role"}, ...]}. On success *out is a malloc'ed
 * array of *n tenants (role set, other_admins 0, decision KEEP until
 * subject_decide), which the caller frees; 0. On an answer that is not
 * that object, names another user, lists a tenant twice, a tenant id that
 * is not one (DESIGN 2) or an unknown role: -1 and err says which.
 */
int subject_parse_tenants(const char *body, size_t len, const char *user_id,
			  struct subject_tenant **out, size_t *n, char *err, size_t errlen);

/*
 * Reads the answer of admins_url for t: {"tenant_id": t->tenant_id,
 * "admins": [{"user_id", "role"}, ...]} and sets t->other_admins to the
 * owners and admins other than user_id. -1 (err says why) when the answer
 * is not that object, names another tenant, lists someone twice, has an
 * unknown role, or does not list user_id as the owner or admin the tenants
 * answer said they were.
 */
int subject_parse_admins(const char *body, size_t len, const char *user_id,
			 struct subject_tenant *t, char *err, size_t errlen);

/*
 * The decision for t from its role and other_admins: a tenant the user
 * runs with nobody else is purged ("purged: only owner" or "... admin"),
 * one others run too is kept ("kept: N other admins"), a membership is
 * kept ("kept: member only").
 * Can't fail.
 */
void subject_decide(struct subject_tenant *t);

/* ---- documents (subject_doc.c) ---- */

struct job_record;
struct task_record;

/* One tenant as {"tenant_id","role","other_admins","decision","reason"}.
 * Caller deletes. */
cJSON *subject_render_tenant(const struct subject_tenant *t);

/* The tenants as [{"tenant_id","role","other_admins","decision","reason",
 * "child_job_id"}] (child_job_id null when none). Caller deletes. */
cJSON *subject_render_tenants(const struct subject_tenant *v, size_t n);

/* show --json of job j with its n tasks t (jobs_render_job) and, for a
 * subject job, "tenants" (its n_tn discovered tenants tn, as above): what
 * the CLI and the API both answer. Caller deletes. */
cJSON *subject_render_job(const struct job_record *j, const struct task_record *t, size_t n,
			  const struct subject_tenant *tn, size_t n_tn);

/* The detail of a subject job's subject.discovered event: {"tenants": [...]}
 * as above. Caller frees the text. */
char *subject_detail_discovered(const struct subject_tenant *v, size_t n);

/* The job.scheduled detail of a subject job ({"user_id", ..., "steps"}) or
 * of a child purge ({"tenant_id", ..., "parent_id"}). Caller frees. */
char *subject_detail_scheduled(const struct job_record *j);

#endif
