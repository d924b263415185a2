/*
 * fleet.h - the fake service fleet (tdfleet) used by end-to-end tests, the
 * demo and benchmarks. Internal interface between its files:
 *
 *   fleet.c         command line, signals, libmicrohttpd glue
 *   fleet_state.c   the service catalogue, tenant rows, fault queue,
 *                   request log and counters (all behind fleet->lock)
 *   fleet_routes.c  the service routes (tenant data), fault replies
 *   fleet_users.c   users: memberships, auth rows and their routes
 *   fleet_control.c the /_fleet/ control API
 *
 * Every function named fleet_state_* expects the caller to hold
 * fleet->lock unless its contract says otherwise.
 */
#ifndef TENANTDEL_FLEET_H
#define TENANTDEL_FLEET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define FLEET_MAX_TABLES 8
#define FLEET_MAX_SERVICES 24
#define FLEET_TENANT_BUCKETS 16384

/*
 * One service of the reference fleet, or one logical service of the user
 * routes (fleet_services[fleet_service_count + FLEET_USVC_...]).
 */
struct fleet_service {
	const char *seg;       /* URL path segment, also its name in the fleet */
	const char *conf_name; /* its name in tenantdel.conf.example */
	const char *tables[FLEET_MAX_TABLES]; /* NULL-terminated */
	int defaults[FLEET_MAX_TABLES];       /* rows seeded by default */
};

/* The logical services of the user routes, after the tenant-data services. */
enum fleet_user_service {
	FLEET_USVC_USER_TENANTS, /* GET /api/v1/tenants/user/{user_id} */
	FLEET_USVC_ADMINS,       /* GET /api/v1/tenants/{tenant_id}/admins */
	FLEET_USVC_MEMBERSHIPS,  /* .../tenants/user/{user_id}/memberships */
	FLEET_USVC_AUTH,         /* /api/v1/auth/users/{user_id} */
	FLEET_USVC_COUNT
};

enum fleet_op { OP_NONE, OP_DELETE, OP_PREVIEW, OP_SUSPEND, OP_RESTORE, OP_DISCOVER,
		OP_ANY };

enum fleet_role { ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER };

/* A user's membership in a tenant (one tenant_members row of the tenant). */
struct fleet_membership {
	char *user_id;
	char *tenant_id;
	enum fleet_role role;
};

/* A user the fleet knows (POST /_fleet/users) and its auth-service rows. */
struct fleet_user {
	char *id;
	int64_t auth[FLEET_MAX_TABLES];
};

enum fleet_mode {
	MODE_STATUS, MODE_HANG, MODE_SLOW, MODE_GARBAGE, MODE_SUCCESS_FALSE,
	MODE_UNDERDELETE, MODE_NOTFOUND, MODE_EMPTY204, MODE_TOPLEVEL, MODE_BIG,
	MODE_DOWN, MODE_RAW
};

struct fleet_tenant {
	char *id;
	int64_t rows[FLEET_MAX_TABLES * 16]; /* [service][table] */
	bool suspended[16];
	struct fleet_tenant *next; /* hash chain */
};

/* An injected fault; service -1 matches every service. */
struct fleet_fault {
	int64_t id;
	int service;
	enum fleet_op op;      /* OP_ANY matches every op */
	char *tenant_id;       /* NULL: every tenant */
	enum fleet_mode mode;
	int count;             /* -1: until cleared */
	int status;
	char *retry_after;     /* header value verbatim, or NULL */
	int64_t delay_ms;      /* -1: the mode's default */
	int64_t remaining;
	char *body;            /* NULL: the mode's default */
	struct fleet_fault *next;
};

/*
 * Who sent a request, as tenantdel's headers say (Tenantdel-Task,
 * Tenantdel-Attempt, Tenantdel-Owner, Idempotency-Key), verbatim;
 * NULL when the header is absent.
 */
struct fleet_sender {
	const char *task;
	const char *attempt;
	const char *owner;
	const char *idempotency_key;
};

/* One service request as the request log keeps it. */
struct fleet_record {
	int64_t seq;
	char *method;
	char *path;
	int service;           /* -1 when the route is unknown */
	enum fleet_op op;
	char *tenant_id;       /* the path id, decoded; NULL when none */
	int64_t start_ms;
	int64_t end_ms;        /* 0 while in flight */
	int status;            /* 0 while in flight or closed without answer */
	bool auth_ok;
	bool authorization_seen;
	char *task, *attempt, *owner, *idempotency_key; /* the sender's headers, or NULL */
};

struct fleet {
	pthread_mutex_t lock;
	pthread_cond_t wake;   /* broadcast on shutdown, wakes hangs */
	bool shutting_down;
	char *token;           /* NULL: no auth required */
	bool quiet;

	struct fleet_tenant *tenants[FLEET_TENANT_BUCKETS];
	struct fleet_user *users;             /* in creation order */
	size_t users_len, users_cap;
	struct fleet_membership *members;     /* in creation order */
	size_t members_len, members_cap;
	struct fleet_fault *faults; /* in insertion order */
	int64_t next_fault_id;

	struct fleet_record **log; /* in arrival order */
	size_t log_len, log_cap, log_limit, log_dropped;
	int64_t next_seq;

	int64_t requests;      /* service requests since the last reset */
	int in_flight, max_in_flight;
	int svc_in_flight[FLEET_MAX_SERVICES], svc_max_in_flight[FLEET_MAX_SERVICES];
};

/* What a route answers; fleet.c turns it into an MHD response. */
struct fleet_reply {
	int status;
	char *body;            /* owned; NULL: empty body */
	size_t body_len;
	const char *content_type;
	char *retry_after;     /* owned; NULL: no header */
	bool drop;             /* close the connection without answering */
	bool raw;              /* body is the raw HTTP answer: write it, then close */
};

/* Facts about an incoming request, parsed once when its headers arrive. */
struct fleet_request {
	const char *method;
	const char *path;      /* raw, still percent-encoded */
	const char *query_since; /* "since" query argument, or NULL */
	int service;           /* -1: not a service route */
	enum fleet_op op;
	char *tenant_id;       /* the path id, decoded, owned (a user id on user routes) */
	bool control;          /* under /_fleet/ */
	bool known_route;      /* the path names a route */
	bool method_ok;        /* ... and the method is the route's */
	bool auth_ok;
	bool authorization_seen;
	struct fleet_sender sender; /* libmicrohttpd's strings, valid during the request */
	struct fleet_record *rec; /* in the request log, or NULL */
};

/* ---- fleet_state.c ---- */

extern const struct fleet_service fleet_services[];
/* The tenant-data services (seeded rows); the user services follow them. */
extern const size_t fleet_service_count;
/* Every service, the user services included. */
extern const size_t fleet_service_count_all;

/* Index of a tenant-data service by path segment or config name, or -1. */
int fleet_service_find(const char *name);
/* Same, the logical services of the user routes included. */
int fleet_service_find_any(const char *name);
/* Index of a table within a service, or -1. */
int fleet_table_find(int service, const char *table);

void fleet_init(struct fleet *f);
/* Frees every tenant, fault and record; the mutex too. */
void fleet_destroy(struct fleet *f);

/* The tenant, created with no rows if create and absent; else NULL. */
struct fleet_tenant *fleet_state_tenant(struct fleet *f, const char *id, bool create);
int64_t *fleet_state_rows(struct fleet_tenant *t, int service);
void fleet_state_clear_tenants(struct fleet *f);
/* {"tenant_id","known","services":{...},"total","suspended":{...}}. */
cJSON *fleet_state_tenant_json(struct fleet *f, const char *id);

/* Appends a fault (takes ownership). */
void fleet_state_add_fault(struct fleet *f, struct fleet_fault *fault);
/*
 * Takes the first fault matching the request (consuming one count) and
 * copies it into *out, which the caller releases with fleet_fault_clear.
 * Returns true when one matched.
 */
bool fleet_state_take_fault(struct fleet *f, int service, enum fleet_op op,
			    const char *tenant_id, struct fleet_fault *out);
void fleet_fault_clear(struct fleet_fault *fault);
void fleet_state_clear_faults(struct fleet *f);
cJSON *fleet_state_faults_json(struct fleet *f);

/* Logs the arrival of a service request; the record stays owned by f. */
struct fleet_record *fleet_state_log_start(struct fleet *f, const struct fleet_request *rq);
/* Marks the record answered with status (0: closed); idempotent. */
void fleet_state_log_end(struct fleet *f, struct fleet_record *rec, int status);
/* Frees the record after log_end if it is no longer in the log (reset). */
void fleet_state_log_release(struct fleet *f, struct fleet_record *rec);
void fleet_state_clear_log(struct fleet *f);
/* The log as a JSON array text (records with seq > since). Caller frees. */
char *fleet_state_log_text(struct fleet *f, int64_t since);
cJSON *fleet_state_stats_json(struct fleet *f);

const char *fleet_op_name(enum fleet_op op);
const char *fleet_mode_name(enum fleet_mode mode);
int fleet_mode_parse(const char *s);  /* -1 if unknown */
int fleet_op_parse(const char *s);    /* -1 if unknown */
const char *fleet_role_name(enum fleet_role role);
int fleet_role_parse(const char *s);  /* -1 if unknown */

/* ---- fleet_users.c ---- */

/* The user, or NULL; created (no rows) when create and absent. */
struct fleet_user *fleet_users_get(struct fleet *f, const char *id, bool create);
/*
 * Gives the user a membership in the tenant, or changes its role if it
 * has one already. A new membership is one more tenant_members row.
 */
void fleet_users_join(struct fleet *f, const char *user_id, const char *tenant_id,
		      enum fleet_role role);
/* Forgets the memberships in a tenant (its rows are the caller's). */
void fleet_users_drop_tenant(struct fleet *f, const char *tenant_id);
void fleet_users_clear(struct fleet *f);
/* {"user_id","known","memberships":[...],"auth":{...},"total"}. */
cJSON *fleet_users_json(struct fleet *f, const char *id);
/*
 * Parses the user routes below /api/v1/ (seg: its n raw segments) into
 * rq. Returns true when the path is a user route (known_route set).
 */
bool fleet_users_route_parse(struct fleet_request *rq, const char **seg,
			     const size_t *len, int n);
/*
 * Carries out a user route (lock held): keep rows are left in the first
 * table of a delete (underdelete). Returns its answer and sets *status.
 */
cJSON *fleet_users_op(struct fleet *f, const struct fleet_request *rq, int64_t keep,
		      bool toplevel, int *status);

/* ---- fleet_routes.c ---- */

/*
 * Parses the route of a request (service, op, tenant id) into rq.
 * rq->method and rq->path must be set. Never fails: an unknown route
 * leaves rq->known_route false.
 */
void fleet_route_parse(struct fleet_request *rq);
/* Answers a service route (faults, auth, the data). Takes the lock itself. */
void fleet_route_service(struct fleet *f, struct fleet_request *rq,
			 struct fleet_reply *out);
/* Answers a /_fleet/ control request with its JSON body. */
void fleet_route_control(struct fleet *f, struct fleet_request *rq,
			 const char *body, size_t body_len, struct fleet_reply *out);

/* True when the raw path segment (len bytes) is word. */
bool fleet_seg_is(const char *seg, size_t len, const char *word);
/* Percent-decodes n bytes of s. Returns NULL on a bad escape or NUL. */
char *fleet_percent_decode(const char *s, size_t n);
/* Sets out to a JSON reply with the printed tree (which it frees). */
void fleet_reply_json(struct fleet_reply *out, int status, cJSON *json);
/* Empties FLEET_MAX_TABLES rows but keep in rows[0]; removed[i] = what went. */
void fleet_take_rows(int64_t *rows, int64_t keep, int64_t *removed);
/* {"detail": detail}. */
cJSON *fleet_detail_json(const char *detail);
/*
 * The deletion answer of §1 for id_key = id (tenant_id or user_id): counts
 * named by the service's tables; toplevel: no "summary" object.
 */
cJSON *fleet_delete_answer(const char *id_key, const char *id, int service,
			   const int64_t *removed, bool toplevel);
/* The preview answer: {id_key, "service", "preview", "total_records"}. */
cJSON *fleet_preview_answer(const char *id_key, const char *id, int service,
			    const int64_t *counts, bool toplevel);

#endif
