/*
 * document_bulk.c - the job.scheduled documents of a bulk schedule, from
 * templates (jobs_bulk_docs in document.h).
 *
 * A template is a document printed once by cJSON with a raw item holding
 * the byte 0x01 in place of each value a job has of its own. cJSON never
 * prints that byte itself (it escapes control characters in strings), so
 * the printed text cuts there, unambiguously, into the pieces between the
 * holes. A job's document is the pieces with its values, each printed as
 * a JSON string by cJSON, in between.
 */
#include "jobs/document.h"
#include "util/json.h"
#include "util/util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOLE '\x01'
#define MAX_HOLES 3

struct template {
	char *text; /* the printed template, NUL at each hole */
	const char *piece[MAX_HOLES + 1];
	size_t len[MAX_HOLES + 1];
	int n_holes;
};

struct jobs_bulk_docs {
	char **services;
	size_t n_services;
	struct template detail, body;
	struct job_record detail_for, body_for; /* the shared values of each template */
	int64_t body_now;
	struct buf out;
};

static void template_clear(struct template *t)
{
	free(t->text);
	memset(t, 0, sizeof *t);
}

/* Puts a hole in place of member key of o. */
static void make_hole(cJSON *o, const char *key)
{
	char raw[2] = { HOLE, '\0' };

	cJSON_ReplaceItemInObjectCaseSensitive(o, key, cJSON_CreateRaw(raw));
}

/* Prints doc (deleted) into t, cut at its n_holes holes. */
static void template_set(struct template *t, cJSON *doc, int n_holes)
{
	char *p;

	template_clear(t);
	t->text = json_print_owned(doc);
	p = t->text;
	for (int i = 0;; i++) {
		char *hole = strchr(p, HOLE);

		t->piece[i] = p;
		if (hole == NULL) {
			t->len[i] = strlen(p);
			t->n_holes = i;
			break;
		}
		if (i == MAX_HOLES)
			break; /* too many: refused below */
		*hole = '\0';
		t->len[i] = (size_t)(hole - p);
		p = hole + 1;
	}
	if (t->n_holes != n_holes) {
		fprintf(stderr, "tenantdel: a document template without its %d holes\n", n_holes);
		abort();
	}
}

/* Appends v as a JSON string printed by cJSON (null when NULL). */
static void put_string(struct jobs_bulk_docs *d, const char *v)
{
	if (v == NULL)
		buf_puts(&d->out, "null");
	else
		json_buf_string(&d->out, v);
}

/* t's pieces with values in its holes, in d->out. */
static const char *fill(struct jobs_bulk_docs *d, const struct template *t,
			const char *const *values)
{
	buf_reset(&d->out);
	for (int i = 0; i < t->n_holes; i++) {
		buf_append(&d->out, t->piece[i], t->len[i]);
		put_string(d, values[i]);
	}
	buf_append(&d->out, t->piece[t->n_holes], t->len[t->n_holes]);
	return d->out.data;
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* 1 when a and b agree on everything but the job id and the tenant id. */
static int same_shared(const struct job_record *a, const struct job_record *b)
{
	return same_str(a->tenant_name, b->tenant_name) &&
	       same_str(a->requested_by, b->requested_by) && same_str(a->reason, b->reason) &&
	       same_str(a->hold_reason, b->hold_reason) &&
	       same_str(a->origin_job_id, b->origin_job_id) && a->kind == b->kind &&
	       a->state == b->state && a->held_from == b->held_from &&
	       a->created_at == b->created_at && a->due_at == b->due_at &&
	       a->deadline_at == b->deadline_at && a->started_at == b->started_at &&
	       a->finished_at == b->finished_at && a->total_deleted == b->total_deleted &&
	       a->deadline_missed == b->deadline_missed && a->approval == b->approval &&
	       same_str(a->approved_by, b->approved_by) && a->approved_at == b->approved_at;
}

/* Remembers j's shared values in *to (a copy: the caller's may go). */
static void remember(struct job_record *to, const struct job_record *j)
{
	jobs_job_record_clear(to);
	*to = *j;
	to->tenant_id = NULL;
	to->tenant_name = xstrdup(j->tenant_name);
	to->requested_by = xstrdup(j->requested_by);
	to->reason = xstrdup(j->reason);
	to->hold_reason = xstrdup(j->hold_reason);
	to->origin_job_id = xstrdup(j->origin_job_id);
	to->approved_by = xstrdup(j->approved_by);
}

struct jobs_bulk_docs *jobs_bulk_docs_new(const char *const *services, size_t n_services)
{
	struct jobs_bulk_docs *d = xcalloc(1, sizeof *d);

	d->services = xcalloc(n_services ? n_services : 1, sizeof *d->services);
	for (size_t i = 0; i < n_services; i++)
		d->services[i] = xstrdup(services[i]);
	d->n_services = n_services;
	buf_init(&d->out);
	return d;
}

void jobs_bulk_docs_free(struct jobs_bulk_docs *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_services; i++)
		free(d->services[i]);
	free(d->services);
	template_clear(&d->detail);
	template_clear(&d->body);
	jobs_job_record_clear(&d->detail_for);
	jobs_job_record_clear(&d->body_for);
	buf_free(&d->out);
	free(d);
}

const char *jobs_bulk_detail(struct jobs_bulk_docs *d, const struct job_record *j)
{
	if (d->detail.text == NULL || !same_shared(&d->detail_for, j)) {
		cJSON *doc = jobs_render_scheduled(j, (const char *const *)d->services,
						   d->n_services);

		make_hole(doc, "tenant_id");
		template_set(&d->detail, doc, 1);
		remember(&d->detail_for, j);
	}
	return fill(d, &d->detail, (const char *const[]){ j->tenant_id });
}

const char *jobs_bulk_body(struct jobs_bulk_docs *d, const char *eid, int64_t now,
			   const struct job_record *j)
{
	if (d->body.text == NULL || d->body_now != now || !same_shared(&d->body_for, j)) {
		cJSON *doc = jobs_render_outbox("", "job.scheduled", now, j);
		cJSON *job = cJSON_GetObjectItemCaseSensitive(doc, "job");

		make_hole(doc, "id");
		make_hole(job, "job_id");
		make_hole(job, "tenant_id");
		template_set(&d->body, doc, 3);
		remember(&d->body_for, j);
		d->body_now = now;
	}
	return fill(d, &d->body, (const char *const[]){ eid, j->id, j->tenant_id });
}
