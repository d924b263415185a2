/*
 * service_sets.c - the snapshot of services a scheduled job covers (a set
 * is its members' rows, shared by every job scheduled with the same
 * services), the configured set the last config sync recorded, retired
 * services, and how a job's tasks read while its service is missing from
 * the config. Creating a job's tasks from its snapshot: store/pg/materialize.c.
 */
#include "store/pg/pg_int.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_CONFIGURED "configured_set_id"

/* The sets of n members, each set's rows together, in name order (a set of
 * no member: one row, NULL name). */
static const char SQL_SETS_OF_SIZE[] =
	"SELECT ss.id, m.service, m.phase FROM service_sets ss"
	" LEFT JOIN service_set_members m ON m.set_id = ss.id"
	" WHERE ss.n_services = $1::bigint ORDER BY ss.id, m.service COLLATE \"C\"";
/* Two hosts creating the same set at once would make two: creating one
 * takes this lock, then looks again. */
static const char SQL_SET_LOCK[] = "SELECT pg_advisory_xact_lock($1::bigint)";
static const char SQL_SET_INSERT[] =
	"INSERT INTO service_sets (n_services) VALUES ($1) RETURNING id";
static const char SQL_MEMBER_INSERT[] =
	"INSERT INTO service_set_members (set_id, service, phase) VALUES ($1, $2, $3)";
static const char SQL_MEMBERS[] =
	"SELECT service, phase FROM service_set_members WHERE set_id = $1"
	" ORDER BY phase, service COLLATE \"C\"";
static const char SQL_SET_CONFIGURED[] =
	"INSERT INTO meta (key, value) VALUES ('" META_CONFIGURED "', $1::bigint::text)"
	" ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char SQL_GET_CONFIGURED[] =
	"SELECT value::bigint FROM meta WHERE key = '" META_CONFIGURED "'";
static const char SQL_RETIRED[] = "SELECT reason FROM retired_services WHERE service = $1";

static int name_cmp(const void *a, const void *b)
{
	const struct store_service *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* The set whose members are exactly want[] (sorted by name): *id, or 0. */
static int find_set(struct pg_store *s, const struct store_service *want, size_t n, int64_t *id)
{
	struct pg_params p = { 0 };
	PGresult *r;
	int64_t cur = 0;
	size_t i = 0;
	int same = 0;

	*id = 0;
	pg_p_int(&p, (int64_t)n);
	if ((r = pg_run(s, SQL_SETS_OF_SIZE, &p)) == NULL)
		return -1;
	for (int row = 0; *id == 0 && row < sym_PQntuples(r); row++) {
		const char *name = pg_str(r, row, 1);
		int64_t set = pg_int(r, row, 0, 0);

		if (set != cur) {
			cur = set;
			i = 0;
			same = 1;
		}
		/* a set of no member has one row, NULL name: n == 0 matches it */
		same = same && (n == 0 || (i < n && name != NULL &&
					   strcmp(name, want[i].name) == 0 &&
					   pg_int(r, row, 2, 0) == want[i].phase));
		if ((n == 0 || ++i == n) && same)
			*id = set;
	}
	sym_PQclear(r);
	return 0;
}

/* A new set of the n members v. */
static int insert_set(struct pg_store *s, const struct store_service *v, size_t n, int64_t *id)
{
	struct pg_params p = { 0 };

	pg_p_int(&p, (int64_t)n);
	if (pg_run_int(s, SQL_SET_INSERT, &p, 0, id) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		p.n = 0;
		pg_p_int(&p, *id);
		pg_p_text(&p, v[i].name);
		pg_p_int(&p, v[i].phase);
		if (pg_run_changes(s, SQL_MEMBER_INSERT, &p) < 0)
			return -1;
	}
	return 0;
}

int pg_service_set_id(struct pg_store *s, const struct store_service *svcs, size_t n,
		      int64_t *id)
{
	struct store_service *sorted = xcalloc(n ? n : 1, sizeof *sorted);
	struct pg_params p = { 0 };
	int64_t unused;
	int rc;

	memcpy(sorted, svcs, n * sizeof *svcs);
	qsort(sorted, n, sizeof *sorted, name_cmp);
	pg_p_int(&p, PG_LOCK_SETS);
	rc = find_set(s, sorted, n, id);
	if (rc == 0 && *id == 0)
		rc = pg_run_int(s, SQL_SET_LOCK, &p, 0, &unused);
	if (rc == 0 && *id == 0)
		rc = find_set(s, sorted, n, id);
	if (rc == 0 && *id == 0)
		rc = insert_set(s, sorted, n, id);
	free(sorted);
	return rc;
}

int pg_set_configured(struct pg_store *s, const struct store_service *svcs, size_t n)
{
	struct pg_params p = { 0 };
	int64_t id;

	if (pg_service_set_id(s, svcs, n, &id) < 0)
		return -1;
	pg_p_int(&p, id);
	return pg_run_changes(s, SQL_SET_CONFIGURED, &p) < 0 ? -1 : 0;
}

int pg_set_members(struct store *base, int64_t id, struct store_set *out)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	PGresult *r;

	pg_p_int(&p, id);
	if ((r = pg_run(s, SQL_MEMBERS, &p)) == NULL)
		return -1;
	for (int i = 0; i < sym_PQntuples(r); i++) {
		out->v = xreserve(out->v, &out->cap, out->n + 1, sizeof *out->v);
		out->v[out->n].name = pg_text(r, i, 0);
		out->v[out->n++].phase = (int)pg_int(r, i, 1, 1);
	}
	sym_PQclear(r);
	return 0;
}

int pg_configured_id(struct store *s, int64_t *id)
{
	return pg_run_int(pg_of(s), SQL_GET_CONFIGURED, NULL, 0, id);
}

int pg_retired_reason(struct store *base, const char *service, char **reason, int64_t *found)
{
	struct pg_store *s = pg_of(base);
	struct pg_params p = { 0 };
	PGresult *r;

	*found = 0;
	if (reason != NULL)
		*reason = NULL;
	pg_p_text(&p, service);
	if ((r = pg_run(s, SQL_RETIRED, &p)) == NULL)
		return -1;
	if (sym_PQntuples(r) > 0) {
		*found = 1;
		if (reason != NULL)
			*reason = pg_text(r, 0, 0);
	}
	sym_PQclear(r);
	return 0;
}
