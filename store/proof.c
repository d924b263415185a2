/*
 * proof.c - the facts of a deletion certificate: the job, its tasks and a
 * summary of its events, and the whole chain's state, as plain records, read
 * through the store's interface. The document is rendered by
 * jobs/certificate.c; every backend shares it (tombstones and reapply are the
 * backend's: store/sqlite/reapply.c).
 */
#include "jobs/certificate.h"
#include "store/store.h"

#include <stdio.h>
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

int store_proof_read(struct store *s, const char *job_id, struct proof_record *out)
{
	int rc;

	memset(out, 0, sizeof *out);
	out->events.all_ok = 1;
	rc = store_job_get(s, job_id, &out->job);
	if (rc != STORE_OK)
		return rc;
	if (store_job_tasks(s, job_id, &out->tasks, &out->n_tasks) != STORE_OK ||
	    store_events_list(s, job_id, count_event, &out->events) != STORE_OK) {
		jobs_proof_record_clear(out);
		return STORE_ERR;
	}
	return STORE_OK;
}

int store_proof_read_chain(struct store *s, struct proof_chain *out)
{
	memset(out, 0, sizeof *out);
	return store_events_verify(s, &out->broken_at, NULL, 0, &out->events, out->head);
}
