/*
 * api_int.h - shared by scheduler/api.c (the server: MHD on the loop,
 * request bodies, auth), scheduler/api_routes.c (routing, the shared
 * input checks and answers) and the endpoints (api_jobs.c, api_list.c,
 * api_summary.c, api_proof.c). Nothing else includes it.
 */
#ifndef TENANTDEL_API_INT_H
#define TENANTDEL_API_INT_H

#include <cjson/cJSON.h>
#include <sys/queue.h>
#include <sys/select.h>

#include "config/config.h"
#include "scheduler/api.h"
#include "scheduler/mhd_lib.h"
#include "util/util.h"

struct api_ticket;
struct api_store_job;

/* Query arguments kept a request, at most: GET /v1/jobs has 10 filters,
 * so past them one is unknown or given twice, and the first 16 show it. */
#define API_MAX_ARGS 16

/* One query argument (MHD's strings, alive as long as the request). */
struct api_arg {
	const char *key, *value; /* value NULL when absent ("?k") */
	size_t key_size, value_size;
};

/* One request, from its first header to its completion. */
struct api_req {
	struct api *api;
	struct MHD_Connection *conn;
	const char *method;
	char *path;                 /* decoded path, without the query */
	struct buf body;
	int too_large;
	int64_t started_ms;         /* monotonic, for the log line */
	char caller[CONFIG_NAME_MAX + 1]; /* the token's name ([api] tokens_file), or "" */
	/* The query's arguments, read on the loop once the request is whole:
	 * a handler on the recorder's thread does not call MHD. */
	struct api_arg args[API_MAX_ARGS];
	size_t n_args;
	/* An answer made while the connection was suspended (a preview, or a
	 * handler run on the recorder's thread). */
	struct api_ticket *ticket;
	int suspended;
	int ready;
	unsigned status;
	char *answer;               /* JSON text */
	const char *content_type;   /* its type (NULL: application/json) */
	LIST_ENTRY(api_req) link;   /* in api->suspended while suspended */
};

LIST_HEAD(api_req_list, api_req);

/* One connection, from accept to close (MHD's socket context). */
struct api_conn {
	struct MHD_Connection *conn;
	int reading;                  /* waiting for a request to arrive whole */
	int64_t read_by_ms;           /* monotonic: its deadline, while reading */
	TAILQ_ENTRY(api_conn) link;   /* in api->reading while reading */
};

TAILQ_HEAD(api_conn_list, api_conn);

struct api {
	struct ev_loop *loop;
	struct MHD_Daemon *daemon;
	ev_io watch[FD_SETSIZE];    /* by descriptor: what MHD polls */
	int watch_top;              /* watch[watch_top..] are all stopped */
	ev_timer timer;
	struct api_deps deps;
	int port;
	struct api_req_list suspended; /* waiting for a deferred answer */
	struct api_conn_list reading; /* by deadline, the earliest first */
	/* Handlers that use the store run on the recorder's thread, queued
	 * here and given a batch at a time (api_routes.c). */
	STAILQ_HEAD(api_store_jobs, api_store_job) store_queue, store_batch;
	int store_busy;               /* a batch is the recorder's */
	ev_prepare store_give;        /* gives the queue, after the engine's turn */
};

/* What an endpoint answers: a status and a JSON text (malloc'ed). */
struct api_answer {
	unsigned status;
	char *json;
	const char *content_type; /* NULL: application/json */
	char allow[32];           /* 405: the Allow header, "" otherwise */
};

/* Fills *ans with status and {"error": msg} (printf format). Returns 0. */
int api_fail(struct api_answer *ans, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Fills *ans with status and the tree's text; deletes tree. Returns 0. */
int api_json(struct api_answer *ans, unsigned status, cJSON *tree);

/*
 * Routes one complete request (body read, token checked). Fills *ans and
 * returns 0, or returns 1 when the answer will come later through
 * api_req_complete (the caller then suspends the connection).
 */
int api_route(struct api *a, struct api_req *r, struct api_answer *ans);

/*
 * 1 when the request on c carries "Authorization: Bearer <api token>": one
 * of [api] tokens_file (its name put in r->caller), or the one shared
 * token (r->caller ""). Else 0. Constant time in the token (api_auth.c).
 */
int api_authorized(const struct api *a, struct MHD_Connection *c, struct api_req *r);

/*
 * Who acts in a request (DESIGN 10): with [api] tokens_file, the calling
 * token's name, and a body's field naming anyone else is refused (400:
 * a client cannot claim another name); with one shared token, the body's
 * field, else "api". *value holds the body's field (NULL when absent) and
 * receives the actor (pointing into r or the body). 0, or -1 with ans filled.
 */
int api_actor(const struct api_req *r, const char *field, const char **value,
	      struct api_answer *ans);

/* The answer to a store error: 500 with store_last_error. Returns 0. */
int api_store_failed(struct api *a, struct api_answer *ans);

/* The answer for an unknown job id: 404. Returns 0. */
int api_no_job(const char *id, struct api_answer *ans);

/* ---- what the endpoints share (api_routes.c) ---- */

/*
 * r's body as a JSON object whose keys are all in allowed (NULL-terminated):
 * valid UTF-8, no NUL, nothing after the value. An empty body is {} unless
 * required. NULL after filling ans with a 400.
 */
cJSON *api_parse_body(struct api_req *r, const char *const *allowed, int required,
		      struct api_answer *ans);

/* o[key] as a string: *out = NULL when absent or null. -1 (400) on another type. */
int api_get_str(const cJSON *o, const char *key, const char **out, struct api_answer *ans);

/* 0 when id, the value of field (tenant_id, user_id), is a valid tenant id
 * (user ids follow the same syntax); -1 after a 400 naming field and why. */
int api_check_id(const char *field, const char *id, struct api_answer *ans);

/* Tells the engine that work was written (it then looks at once). */
void api_wrote(struct api *a);

/* The job with its tasks (show --json, with a subject job's tenants) as the answer, with status (404 for
 * an unknown job, 500 on a store error). Returns 0. */
int api_answer_job(struct api *a, const char *id, unsigned status, struct api_answer *ans);

/* ---- the endpoints: as every route, 0 with *ans filled ---- */

/* POST /v1/jobs, GET /v1/jobs/ID, POST /v1/jobs/ID/cancel|hold|release|retry|approve
 * (api_jobs.c). */
int api_h_create(struct api *a, struct api_req *r, const char *id, struct api_answer *ans);
int api_h_get(struct api *a, struct api_req *r, const char *id, struct api_answer *ans);
int api_h_cancel(struct api *a, struct api_req *r, const char *id, struct api_answer *ans);
int api_h_hold(struct api *a, struct api_req *r, const char *id, struct api_answer *ans);
int api_h_release(struct api *a, struct api_req *r, const char *id, struct api_answer *ans);
int api_h_retry(struct api *a, struct api_req *r, const char *id, struct api_answer *ans);
int api_h_approve(struct api *a, struct api_req *r, const char *id, struct api_answer *ans);

/* GET /v1/jobs?filters (api_list.c). */
int api_h_list(struct api *a, struct api_req *r, const char *id, struct api_answer *ans);

/* GET /v1/summary (api_summary.c). */
int api_h_summary(struct api *a, struct api_req *r, const char *id, struct api_answer *ans);

/* GET /v1/jobs/ID/events and GET /v1/jobs/ID/certificate (api_proof.c). */
int api_h_events(struct api *a, struct api_req *r, const char *id, struct api_answer *ans);
int api_h_certificate(struct api *a, struct api_req *r, const char *id,
		      struct api_answer *ans);

/*
 * A deferred answer is ready: stores it in r (taking ans->json) and, when
 * the connection is suspended, resumes it. Called on the loop's thread,
 * outside MHD (or, synchronously, from inside api_route).
 */
void api_req_complete(struct api_req *r, struct api_answer *ans);

/* The ticket between a request and its deferred answer (the engine's
 * preview, or a handler on the recorder's thread). */
struct api_ticket {
	struct api_req *req; /* NULL once the request is gone */
};

/* Sets up the queue of handlers for the recorder (api_start), and ends it
 * (api_stop): waits for the batch under way, whose answers are queued;
 * the requests still queued are left suspended, for api_stop's 503. */
void api_store_jobs_init(struct api *a);
void api_store_jobs_stop(struct api *a);

#endif
