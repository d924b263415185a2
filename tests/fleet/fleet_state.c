/*
 * fleet_state.c - what the fake fleet remembers: the catalogue of services
 * and their tables, each tenant's rows, the fault queue, the request log
 * and the in-flight counters. Callers hold fleet->lock.
 */
#include "tests/fleet/fleet.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

/*
 * The reference fleet of DESIGN §1 plus the tenant service. The second
 * column is the name tenantdel.conf.example gives the service; defaults
 * are the rows `POST /_fleet/seed {"tenant_id": T}` adds (distinct small
 * numbers so a test can tell tables apart; 446 rows in all).
 */
const struct fleet_service fleet_services[] = {
	{"orders", "orders",
	 {"customers", "orders", "order_items", "order_status_history",
	  "customer_preferences", "audit_logs"},
	 {3, 12, 20, 15, 4, 7}},
	{"inventory", "inventory",
	 {"products", "stock_movements", "low_stock_alerts", "suppliers",
	  "purchase_orders"},
	 {9, 18, 2, 5, 6}},
	{"recipes", "recipes",
	 {"recipes", "recipe_ingredients", "recipe_steps"}, {8, 19, 14}},
	{"sales", "sales",
	 {"sales_records", "aggregated_sales", "predictions"}, {17, 6, 11}},
	{"production", "production",
	 {"production_runs", "run_ingredients", "run_steps", "quality_checks"},
	 {10, 16, 13, 5}},
	{"suppliers", "suppliers",
	 {"suppliers", "purchase_orders", "order_items", "contracts", "payments"},
	 {4, 7, 12, 2, 9}},
	{"pos", "pos",
	 {"pos_configurations", "pos_transactions", "pos_transaction_items",
	  "pos_webhook_logs", "pos_sync_logs", "audit_logs"},
	 {2, 15, 20, 8, 6, 3}},
	{"external", "external", {"tenant_weather_data", "audit_logs"}, {11, 4}},
	{"forecasting", "forecasting",
	 {"forecasts", "prediction_batches", "model_performance_metrics",
	  "prediction_cache"},
	 {19, 3, 7, 13}},
	{"alerts", "alert_processor", {"alerts", "alert_interactions"}, {6, 10}},
	{"training", "training",
	 {"training_jobs", "trained_models", "model_versions", "model_metrics"},
	 {5, 3, 8, 12}},
	{"notifications", "notification",
	 {"notifications", "notification_preferences", "notification_logs"},
	 {14, 2, 17}},
	{"tenants", "tenant", {"tenants", "tenant_members"}, {1, 3}},
	/* the logical services of the user routes (enum fleet_user_service) */
	{"user_tenants", "user_tenants", {NULL}, {0}},
	{"admins", "admins", {NULL}, {0}},
	{"memberships", "memberships", {"tenant_members"}, {0}},
	{"auth", "auth",
	 {"users", "user_sessions", "refresh_tokens", "login_attempts", "user_consents"},
	 {1, 2, 3, 6, 4}}, /* a user's rows, by default */
};
const size_t fleet_service_count_all = ARRAY_LEN(fleet_services);
const size_t fleet_service_count = ARRAY_LEN(fleet_services) - FLEET_USVC_COUNT;
_Static_assert(ARRAY_LEN(fleet_services) <= FLEET_MAX_SERVICES, "raise FLEET_MAX_SERVICES");
_Static_assert(ARRAY_LEN(fleet_services) - FLEET_USVC_COUNT <= 16,
	       "fleet_tenant holds 16 services");

static const char *op_names[] = {"", "delete", "preview", "suspend", "restore",
				 "discover", "any"};
static const char *mode_names[] = {
	"status", "hang", "slow", "garbage", "success_false", "underdelete",
	"notfound", "empty204", "toplevel", "big", "down", "raw"};

static const char *role_names[] = {"owner", "admin", "member"};

const char *fleet_op_name(enum fleet_op op) { return op_names[op]; }
const char *fleet_mode_name(enum fleet_mode mode) { return mode_names[mode]; }
const char *fleet_role_name(enum fleet_role role) { return role_names[role]; }

/* Index of s in names[n], or -1. */
static int name_find(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

int fleet_op_parse(const char *s)
{
	int op = name_find(op_names, ARRAY_LEN(op_names), s);
	return op == OP_NONE ? -1 : op;
}

int fleet_mode_parse(const char *s)
{
	return name_find(mode_names, ARRAY_LEN(mode_names), s);
}

int fleet_role_parse(const char *s)
{
	return name_find(role_names, ARRAY_LEN(role_names), s);
}

/* Index of a service among the first count, by segment or config name. */
static int service_find(const char *name, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(name, fleet_services[i].seg) == 0 ||
		    strcmp(name, fleet_services[i].conf_name) == 0)
			return (int)i;
	return -1;
}

int fleet_service_find(const char *name)
{
	return service_find(name, fleet_service_count);
}

int fleet_service_find_any(const char *name)
{
	return service_find(name, fleet_service_count_all);
}

int fleet_table_find(int service, const char *table)
{
	const struct fleet_service *s = &fleet_services[service];
	for (int i = 0; i < FLEET_MAX_TABLES && s->tables[i] != NULL; i++)
		if (strcmp(table, s->tables[i]) == 0)
			return i;
	return -1;
}

void fleet_init(struct fleet *f)
{
	memset(f, 0, sizeof *f);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	f->next_fault_id = 1;
	f->next_seq = 1;
	f->log_limit = 1000000;
}

void fleet_destroy(struct fleet *f)
{
	fleet_state_clear_tenants(f);
	fleet_users_clear(f);
	fleet_state_clear_faults(f);
	fleet_state_clear_log(f);
	free(f->log);
	free(f->users);
	free(f->members);
	free(f->token);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
}

/* FNV-1a: tenant ids are short and the table only needs to be even. */
static size_t tenant_bucket(const char *id)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % FLEET_TENANT_BUCKETS;
}

struct fleet_tenant *fleet_state_tenant(struct fleet *f, const char *id, bool create)
{
	size_t b = tenant_bucket(id);
	for (struct fleet_tenant *t = f->tenants[b]; t != NULL; t = t->next)
		if (strcmp(t->id, id) == 0)
			return t;
	if (!create)
		return NULL;
	struct fleet_tenant *t = xcalloc(1, sizeof *t);
	t->id = xstrdup(id);
	t->next = f->tenants[b];
	f->tenants[b] = t;
	return t;
}

int64_t *fleet_state_rows(struct fleet_tenant *t, int service)
{
	return &t->rows[service * FLEET_MAX_TABLES];
}

void fleet_state_clear_tenants(struct fleet *f)
{
	for (size_t b = 0; b < FLEET_TENANT_BUCKETS; b++) {
		struct fleet_tenant *t = f->tenants[b], *next;
		for (; t != NULL; t = next) {
			next = t->next;
			free(t->id);
			free(t);
		}
		f->tenants[b] = NULL;
	}
}

cJSON *fleet_state_tenant_json(struct fleet *f, const char *id)
{
	struct fleet_tenant *t = fleet_state_tenant(f, id, false);
	cJSON *root = cJSON_CreateObject();
	cJSON *services = cJSON_CreateObject();
	cJSON *suspended = cJSON_CreateObject();
	int64_t total = 0;

	cJSON_AddStringToObject(root, "tenant_id", id);
	cJSON_AddBoolToObject(root, "known", t != NULL);
	for (size_t s = 0; s < fleet_service_count; s++) {
		const struct fleet_service *svc = &fleet_services[s];
		cJSON *tables = cJSON_AddObjectToObject(services, svc->seg);
		for (int i = 0; i < FLEET_MAX_TABLES && svc->tables[i] != NULL; i++) {
			int64_t n = t ? fleet_state_rows(t, (int)s)[i] : 0;
			cJSON_AddNumberToObject(tables, svc->tables[i], (double)n);
			total += n;
		}
		cJSON_AddBoolToObject(suspended, svc->seg, t ? t->suspended[s] : false);
	}
	cJSON_AddItemToObject(root, "services", services);
	cJSON_AddNumberToObject(root, "total", (double)total);
	cJSON_AddItemToObject(root, "suspended", suspended);
	return root;
}

void fleet_state_add_fault(struct fleet *f, struct fleet_fault *fault)
{
	struct fleet_fault **pp = &f->faults;
	fault->id = f->next_fault_id++;
	fault->next = NULL;
	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = fault;
}

void fleet_fault_clear(struct fleet_fault *fault)
{
	free(fault->tenant_id);
	free(fault->retry_after);
	free(fault->body);
	memset(fault, 0, sizeof *fault);
}

static bool fault_matches(const struct fleet_fault *ft, int service,
			  enum fleet_op op, const char *tenant_id)
{
	if (ft->service != -1 && ft->service != service)
		return false;
	if (ft->op != OP_ANY && ft->op != op)
		return false;
	if (ft->tenant_id != NULL &&
	    (tenant_id == NULL || strcmp(ft->tenant_id, tenant_id) != 0))
		return false;
	return true;
}

bool fleet_state_take_fault(struct fleet *f, int service, enum fleet_op op,
			    const char *tenant_id, struct fleet_fault *out)
{
	for (struct fleet_fault **pp = &f->faults; *pp != NULL; pp = &(*pp)->next) {
		struct fleet_fault *ft = *pp;
		if (!fault_matches(ft, service, op, tenant_id))
			continue;
		*out = *ft;
		out->tenant_id = xstrdup(ft->tenant_id);
		out->retry_after = xstrdup(ft->retry_after);
		out->body = xstrdup(ft->body);
		out->next = NULL;
		if (ft->count > 0 && --ft->count == 0) {
			*pp = ft->next;
			fleet_fault_clear(ft);
			free(ft);
		}
		return true;
	}
	return false;
}

void fleet_state_clear_faults(struct fleet *f)
{
	struct fleet_fault *ft = f->faults, *next;
	for (; ft != NULL; ft = next) {
		next = ft->next;
		fleet_fault_clear(ft);
		free(ft);
	}
	f->faults = NULL;
}

cJSON *fleet_state_faults_json(struct fleet *f)
{
	cJSON *arr = cJSON_CreateArray();
	for (struct fleet_fault *ft = f->faults; ft != NULL; ft = ft->next) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "id", (double)ft->id);
		cJSON_AddStringToObject(o, "service",
					ft->service < 0 ? "*" : fleet_services[ft->service].seg);
		cJSON_AddStringToObject(o, "op", fleet_op_name(ft->op));
		if (ft->tenant_id != NULL)
			cJSON_AddStringToObject(o, "tenant_id", ft->tenant_id);
		cJSON_AddStringToObject(o, "mode", fleet_mode_name(ft->mode));
		cJSON_AddNumberToObject(o, "count", ft->count);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

struct fleet_record *fleet_state_log_start(struct fleet *f, const struct fleet_request *rq)
{
	struct fleet_record *rec = xcalloc(1, sizeof *rec);

	rec->seq = f->next_seq++;
	rec->method = xstrdup(rq->method);
	rec->path = xstrdup(rq->path);
	rec->service = rq->service;
	rec->op = rq->op;
	rec->tenant_id = xstrdup(rq->tenant_id);
	rec->start_ms = clock_now_ms();
	rec->auth_ok = rq->auth_ok;
	rec->authorization_seen = rq->authorization_seen;
	rec->task = xstrdup(rq->sender.task);
	rec->attempt = xstrdup(rq->sender.attempt);
	rec->owner = xstrdup(rq->sender.owner);
	rec->idempotency_key = xstrdup(rq->sender.idempotency_key);

	f->requests++;
	if (++f->in_flight > f->max_in_flight)
		f->max_in_flight = f->in_flight;
	if (rec->service >= 0) {
		int *n = &f->svc_in_flight[rec->service];
		if (++*n > f->svc_max_in_flight[rec->service])
			f->svc_max_in_flight[rec->service] = *n;
	}
	if (f->log_len >= f->log_limit) {
		f->log_dropped++;
		rec->seq = -rec->seq; /* not kept: freed by log_release */
	} else {
		if (f->log_len == f->log_cap) {
			f->log_cap = f->log_cap ? f->log_cap * 2 : 256;
			f->log = xrealloc(f->log, f->log_cap * sizeof *f->log);
		}
		f->log[f->log_len++] = rec;
	}
	return rec;
}

static void record_free(struct fleet_record *rec)
{
	free(rec->method);
	free(rec->path);
	free(rec->tenant_id);
	free(rec->task);
	free(rec->attempt);
	free(rec->owner);
	free(rec->idempotency_key);
	free(rec);
}

/*
 * A record leaves the log only through a reset, but a reset may happen
 * while its request is still in flight: such records are "orphans", no
 * longer in the log, and are freed by their own log_end.
 */
void fleet_state_log_end(struct fleet *f, struct fleet_record *rec, int status)
{
	if (rec == NULL || rec->end_ms != 0)
		return;
	rec->end_ms = clock_now_ms();
	rec->status = status;
	f->in_flight--;
	if (rec->service >= 0)
		f->svc_in_flight[rec->service]--;
}

void fleet_state_clear_log(struct fleet *f)
{
	for (size_t i = 0; i < f->log_len; i++)
		if (f->log[i]->end_ms != 0)
			record_free(f->log[i]);
		else
			f->log[i]->seq = -f->log[i]->seq; /* orphan: freed at its end */
	f->log_len = 0;
	f->log_dropped = 0;
	f->requests = 0;
	f->max_in_flight = f->in_flight;
	for (size_t s = 0; s < fleet_service_count_all; s++)
		f->svc_max_in_flight[s] = f->svc_in_flight[s];
}

void fleet_state_log_release(struct fleet *f, struct fleet_record *rec)
{
	if (rec != NULL && rec->seq < 0)
		record_free(rec);
}

/* o[name] = value, or null when value is NULL. */
static void add_or_null(cJSON *o, const char *name, const char *value)
{
	if (value != NULL)
		cJSON_AddStringToObject(o, name, value);
	else
		cJSON_AddNullToObject(o, name);
}

static cJSON *record_json(const struct fleet_record *rec)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "seq", (double)rec->seq);
	cJSON_AddStringToObject(o, "method", rec->method);
	cJSON_AddStringToObject(o, "path", rec->path);
	if (rec->service >= 0)
		cJSON_AddStringToObject(o, "service", fleet_services[rec->service].seg);
	else
		cJSON_AddNullToObject(o, "service");
	cJSON_AddStringToObject(o, "op", fleet_op_name(rec->op));
	add_or_null(o, "tenant_id", rec->tenant_id);
	cJSON_AddNumberToObject(o, "start_ms", (double)rec->start_ms);
	cJSON_AddNumberToObject(o, "end_ms", (double)rec->end_ms);
	cJSON_AddNumberToObject(o, "status", rec->status);
	cJSON_AddBoolToObject(o, "auth_ok", rec->auth_ok);
	cJSON_AddBoolToObject(o, "authorization_seen", rec->authorization_seen);
	add_or_null(o, "task", rec->task);
	add_or_null(o, "attempt", rec->attempt);
	add_or_null(o, "owner", rec->owner);
	add_or_null(o, "idempotency_key", rec->idempotency_key);
	return o;
}

char *fleet_state_log_text(struct fleet *f, int64_t since)
{
	struct buf b;
	bool first = true;

	buf_init(&b);
	buf_puts(&b, "[");
	for (size_t i = 0; i < f->log_len; i++) {
		if (f->log[i]->seq <= since)
			continue;
		cJSON *o = record_json(f->log[i]);
		char *s = cJSON_PrintUnformatted(o);
		if (!first)
			buf_puts(&b, ",\n");
		buf_puts(&b, s);
		first = false;
		free(s);
		cJSON_Delete(o);
	}
	buf_puts(&b, "]\n");
	return buf_steal(&b);
}

cJSON *fleet_state_stats_json(struct fleet *f)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *by = cJSON_CreateObject();
	cJSON *now = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "requests", (double)f->requests);
	cJSON_AddNumberToObject(o, "in_flight", f->in_flight);
	cJSON_AddNumberToObject(o, "max_in_flight", f->max_in_flight);
	for (size_t s = 0; s < fleet_service_count_all; s++) {
		cJSON_AddNumberToObject(by, fleet_services[s].seg, f->svc_max_in_flight[s]);
		cJSON_AddNumberToObject(now, fleet_services[s].seg, f->svc_in_flight[s]);
	}
	cJSON_AddItemToObject(o, "max_in_flight_by_service", by);
	cJSON_AddItemToObject(o, "in_flight_by_service", now);
	cJSON_AddNumberToObject(o, "log_dropped", (double)f->log_dropped);
	return o;
}
