/*
 * copy.c - moving a whole store into another one of any backend
 * (store_copy, `tenantdel migrate-store`): the list of the portable tables
 * and their columns, and the copy itself, which streams the rows one
 * backend walks into the load of the other and checks the chain there
 * before committing. No SQL here: each backend reads and writes rows of
 * the tables below its own way.
 *
 * The list is the schema every backend shares: the PostgreSQL schema
 * (store/pg/schema.c) is its reference, and what SQLite keeps only because
 * it cannot drop it (service_sets_json, jobs.service_set_json_id) is not
 * in it. A migration that adds a column or a table to the backends adds
 * it here as well, in both backends' schemas alike: a new column at the
 * end of its table's list, a new table after every table its foreign keys
 * point into (a subject_tenants table, whose rows name jobs, after jobs).
 */
#include "store/backend.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

#define I STORE_COL_INT
#define T STORE_COL_TEXT
#define COLS(v) v, (int)ARRAY_LEN(v)

static const struct store_column service_sets[] = {
	{ "id", I }, { "n_services", I },
};
static const struct store_column service_set_members[] = {
	{ "set_id", I }, { "service", T }, { "phase", I },
};
static const struct store_column jobs[] = {
	{ "id", T }, { "tenant_id", T }, { "tenant_name", T }, { "kind", T },
	{ "state", T }, { "held_from", T }, { "hold_reason", T }, { "requested_by", T },
	{ "reason", T }, { "origin_job_id", T }, { "created_at", I }, { "due_at", I },
	{ "deadline_at", I }, { "started_at", I }, { "finished_at", I },
	{ "deadline_missed", I }, { "service_set_id", I }, { "approval", T },
	{ "approved_by", T }, { "approved_at", I }, { "parent_id", T },
};
static const struct store_column subject_tenants[] = {
	{ "job_id", T }, { "tenant_id", T }, { "role", T }, { "other_admins", I },
	{ "decision", T }, { "reason", T }, { "child_job_id", T },
};
static const struct store_column tasks[] = {
	{ "id", I }, { "job_id", T }, { "service", T }, { "kind", T }, { "phase", I },
	{ "state", T }, { "attempts", I }, { "next_attempt_at", I },
	{ "first_attempt_at", I }, { "lease_owner", T }, { "lease_expires_at", I },
	{ "http_status", I }, { "deleted_counts", T }, { "total_deleted", I },
	{ "preview_before", T }, { "before_total", I }, { "verified_after", I },
	{ "duration_ms", I }, { "last_error", T }, { "skip_reason", T },
	{ "updated_at", I }, { "verify_owed", I }, { "retry_streak", I },
	{ "free_waits", I },
};
static const struct store_column events[] = {
	{ "id", I }, { "job_id", T }, { "at", I }, { "type", T }, { "service", T },
	{ "detail", T }, { "prev_hash", T }, { "hash", T },
};
static const struct store_column outbox[] = {
	{ "id", I }, { "event_id", T }, { "type", T }, { "job_id", T },
	{ "created_at", I }, { "body", T },
};
static const struct store_column webhook_deliveries[] = {
	{ "outbox_id", I }, { "url", T }, { "attempts", I }, { "next_attempt_at", I },
	{ "delivered_at", I }, { "last_status", I }, { "last_error", T },
	{ "lease_owner", T }, { "lease_expires_at", I },
};
static const struct store_column tombstones[] = {
	{ "job_id", T }, { "tenant_id", T }, { "purged_at", I }, { "services", T },
};
static const struct store_column breakers[] = {
	{ "service", T }, { "state", T }, { "failures", I }, { "open_until", I },
	{ "cooloff_ms", I }, { "probe_owner", T }, { "updated_at", I },
};
static const struct store_column counters[] = {
	{ "name", T }, { "service", T }, { "label", T }, { "value", I },
};
static const struct store_column retired_services[] = {
	{ "service", T }, { "reason", T }, { "retired_by", T }, { "retired_at", I },
};
static const struct store_column meta[] = {
	{ "key", T }, { "value", T },
};

/* In load order: a table's foreign keys point into tables above it. */
const struct store_table store_tables[] = {
	{ "service_sets", COLS(service_sets), 1 },
	{ "service_set_members", COLS(service_set_members), 2 },
	{ "jobs", COLS(jobs), 1 },
	{ "subject_tenants", COLS(subject_tenants), 2 },
	{ "tasks", COLS(tasks), 1 },
	{ "events", COLS(events), 1 },
	{ "outbox", COLS(outbox), 1 },
	{ "webhook_deliveries", COLS(webhook_deliveries), 2 },
	{ "tombstones", COLS(tombstones), 1 },
	{ "breakers", COLS(breakers), 1 },
	{ "counters", COLS(counters), 3 },
	{ "retired_services", COLS(retired_services), 1 },
	{ "meta", COLS(meta), 1 },
};
const int store_n_tables = (int)ARRAY_LEN(store_tables);

#undef I
#undef T

#define PROGRESS_EVERY 5000

int store_same(struct store *a, struct store *b)
{
	int same = 0;

	if (a->be != b->be)
		return 0;
	if (a->be->same_store == NULL) {
		store_set_error(a, STORE_E_OTHER, "the %s store cannot compare stores yet",
				a->be->name);
		return -1;
	}
	return a->be->same_store(a, b, &same) == STORE_OK ? same : -1;
}

struct copy {
	struct store *to;
	store_progress_cb progress;
	void *ctx;
	struct store_copy_result *out;
	const struct store_table *table; /* the table being copied */
	int64_t done, total;             /* its rows */
	int failed, stopped;
};

/* What the chain is as read from the source: its length and head. */
static void note_row(struct copy *c, const struct store_table *t, const struct store_value *row)
{
	c->out->rows++;
	if (strcmp(t->name, "jobs") == 0)
		c->out->jobs++;
	else if (strcmp(t->name, "tasks") == 0)
		c->out->tasks++;
	else if (strcmp(t->name, "events") == 0) {
		c->out->events++;
		snprintf(c->out->head, sizeof c->out->head, "%s",
			 row[7].text != NULL ? row[7].text : "");
	}
}

/* The end of the table being copied: its last progress report. */
static int table_end(struct copy *c)
{
	if (!c->stopped && c->table != NULL && c->progress != NULL && c->done > 0 &&
	    c->progress(c->ctx, c->table->name, c->done, c->total) != 0)
		c->stopped = 1;
	return c->stopped;
}

static int copy_row(void *ctx, const struct store_table *t, int64_t total,
		    const struct store_value *row)
{
	struct copy *c = ctx;

	if (t != c->table) {
		if (table_end(c))
			return 1;
		c->table = t;
		c->done = 0;
		c->total = total;
	}
	if (c->to->be->load_row(c->to, t, row) != STORE_OK) {
		c->failed = 1;
		return 1;
	}
	note_row(c, t, row);
	if (++c->done % PROGRESS_EVERY == 0 && c->progress != NULL &&
	    c->progress(c->ctx, t->name, c->done, total) != 0)
		c->stopped = 1;
	return c->stopped;
}

/* The chain as the target holds it, against what was read. STORE_OK or
 * STORE_ERR (kept on to). */
static int check_chain(struct store *to, const struct store_copy_result *r)
{
	char why[200], head[65];
	int64_t bad, count;

	if (store_events_verify(to, &bad, why, sizeof why, &count, head) != STORE_OK)
		return STORE_ERR;
	if (bad != 0) {
		store_set_error(to, STORE_E_OTHER, "the copied chain does not verify (%s): "
				"run audit verify on the store copied from", why);
		return STORE_ERR;
	}
	if (count != r->events || strcmp(head, r->head) != 0) {
		store_set_error(to, STORE_E_OTHER, "the copied chain has %lld events, "
				"%lld were read", (long long)count, (long long)r->events);
		return STORE_ERR;
	}
	return STORE_OK;
}

/* Whether both backends can copy; else the reason, kept on s. */
static int copy_supported(struct store *s, int loading)
{
	const struct store_backend *be = s->be;

	if (loading ? be->load_begin && be->load_row && be->load_done && be->load_end
		    : be->rows_walk != NULL)
		return 1;
	store_set_error(s, STORE_E_OTHER, "the %s store cannot be copied %s yet", be->name,
			loading ? "into" : "from");
	return 0;
}

int store_copy(struct store *from, struct store *to, store_progress_cb progress, void *ctx,
	       struct store_copy_result *out, int *errwhich)
{
	struct copy c = { .to = to, .progress = progress, .ctx = ctx, .out = out };
	int rc, same;

	memset(out, 0, sizeof *out);
	*errwhich = 1;
	if (!copy_supported(to, 1))
		return STORE_ERR;
	*errwhich = 0;
	if (!copy_supported(from, 0) || (same = store_same(from, to)) < 0)
		return STORE_ERR;
	*errwhich = 1;
	if (same) {
		store_set_error(to, STORE_E_OTHER, "it is the store copied from");
		return STORE_REFUSED;
	}
	if ((rc = to->be->load_begin(to, store_tables, store_n_tables)) != STORE_OK)
		return rc;
	rc = from->be->rows_walk(from, store_tables, store_n_tables, copy_row, &c);
	if (rc != STORE_OK || c.failed || table_end(&c)) {
		*errwhich = rc != STORE_OK ? 0 : 1;
		if (c.stopped)
			store_set_error(to, STORE_E_OTHER, "interrupted");
		goto fail;
	}
	if (to->be->load_done(to, store_tables, store_n_tables) != STORE_OK ||
	    check_chain(to, out) != STORE_OK)
		goto fail;
	return to->be->load_end(to, 1);
fail:
	to->be->load_end(to, 0);
	return STORE_ERR;
}
