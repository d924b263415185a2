/*
 * proof.c - the facts of a deletion certificate: the job, its tasks and a
 * summary of its events, and the whole chain's state, as plain records, read
 * through the store's interface. The document is rendered by
 * jobs/certificate.c; every backend shares it (tombstones and reapply are the
 * backend's: store/sqlite/reapply.c).
 */
#include "jobs/certificate.h"
#include "store/backend.h"
#include "store/store.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int count_event(void *ctx, const struct event_record *ev)
{
	struct proof_events *je = ctx;

	if (je->count++ == 0)
		je->first_id = ev->id;
	je->last_id = ev->id;
	if (!ev->chain_ok)
		je->all_ok = 0;
	snprintf(je->last_hash, sizeof je->last_hash, "%s", ev->hash ? ev->hash : "");
	return 0;
}

/* The child purge of a subject job: its state, records and own events. */
static int read_child(struct store *s, const char *job_id, struct proof_child *c)
{
	struct job_record j;

	memset(c, 0, sizeof *c);
	c->events.all_ok = 1;
	if (store_job_get(s, job_id, &j) != STORE_OK)
		return STORE_ERR; /* a child is never deleted: not there is an error */
	c->state = j.state;
	c->total_deleted = j.total_deleted;
	jobs_job_record_clear(&j);
	return store_events_list(s, job_id, count_event, &c->events);
}

/* A subject job's discovered tenants and, in the same order, their children. */
static int read_subject(struct store *s, struct proof_record *out)
{
	if (store_subject_tenants(s, out->job.id, &out->tenants, &out->n_tenants) != STORE_OK)
		return STORE_ERR;
	out->children = xcalloc(out->n_tenants ? out->n_tenants : 1, sizeof *out->children);
	for (size_t i = 0; i < out->n_tenants; i++)
		if (out->tenants[i].child_job_id[0] != '\0' &&
		    read_child(s, out->tenants[i].child_job_id, &out->children[i]) != STORE_OK)
			return STORE_ERR;
	return STORE_OK;
}

/* The reads under one hold of the store's lock: in a daemon, no batch of
 * the recorder's lands between the job and its events. */
static int proof_read(struct store *s, const char *job_id, struct proof_record *out)
{
	int rc;

	memset(out, 0, sizeof *out);
	out->events.all_ok = 1;
	rc = store_job_get(s, job_id, &out->job);
	if (rc != STORE_OK)
		return rc;
	if (store_job_tasks(s, job_id, &out->tasks, &out->n_tasks) != STORE_OK ||
	    store_events_list(s, job_id, count_event, &out->events) != STORE_OK ||
	    (out->job.kind == JOB_KIND_USER && read_subject(s, out) != STORE_OK)) {
		jobs_proof_record_clear(out);
		return STORE_ERR;
	}
	return STORE_OK;
}

int store_proof_read(struct store *s, const char *job_id, struct proof_record *out)
{
	int rc;

	store_lock(s);
	rc = proof_read(s, job_id, out);
	store_unlock(s);
	return rc;
}

int store_proof_read_chain(struct store *s, struct proof_chain *out)
{
	int rc;

	memset(out, 0, sizeof *out);
	rc = store_events_verify(s, &out->broken_at, NULL, 0, &out->events, out->head);
	/* A chain that verifies numbers its events 1..count (a gap breaks it),
	 * so its head is event count. */
	if (rc == STORE_OK && out->broken_at == 0)
		out->head_id = out->events;
	return rc;
}

struct heads_walk {
	struct proof_head **by_id;       /* the caller's heads, sorted by id */
	size_t n;
};

static int cmp_heads(const void *a, const void *b)
{
	const struct proof_head *x = *(struct proof_head *const *)a;
	const struct proof_head *y = *(struct proof_head *const *)b;

	return (x->id > y->id) - (x->id < y->id);
}

static int find_head(void *ctx, const struct event_record *ev)
{
	struct heads_walk *w = ctx;
	struct proof_head key = { .id = ev->id }, *kp = &key;
	struct proof_head **h = bsearch(&kp, w->by_id, w->n, sizeof *h, cmp_heads);

	/* Several certificates may name one head: bsearch finds any of them. */
	while (h != NULL && h > w->by_id && h[-1]->id == ev->id)
		h--;
	for (; h != NULL && h < w->by_id + w->n && (*h)->id == ev->id; h++)
		(*h)->state = ev->hash != NULL && strcmp(ev->hash, (*h)->hash) == 0
				      ? PROOF_HEAD_FOUND : PROOF_HEAD_CHANGED;
	return 0;
}

int store_proof_find_heads(struct store *s, struct proof_head *heads, size_t n)
{
	struct heads_walk w = { xcalloc(n ? n : 1, sizeof *w.by_id), n };
	int rc;

	for (size_t i = 0; i < n; i++) {
		heads[i].state = PROOF_HEAD_MISSING;
		w.by_id[i] = &heads[i];
	}
	qsort(w.by_id, n, sizeof *w.by_id, cmp_heads);
	rc = n > 0 ? store_events_list(s, NULL, find_head, &w) : STORE_OK;
	free(w.by_id);
	return rc;
}
