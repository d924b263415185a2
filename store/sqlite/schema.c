/*
 * schema.c - the numbered migrations. Migration i (1-based) takes the
 * database from PRAGMA user_version i-1 to i. Never edit a shipped
 * migration: add the next one.
 */
#include "store/sqlite/sqlite_int.h"

static const char MIGRATION_1[] =
	/* One row per deletion request. */
	"CREATE TABLE jobs ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL,"
	"  tenant_name TEXT,"
	"  kind TEXT NOT NULL DEFAULT 'purge' CHECK (kind IN ('purge','reapply')),"
	"  state TEXT NOT NULL CHECK (state IN"
	"    ('scheduled','running','succeeded','failed','cancelled','held')),"
	"  held_from TEXT,"
	"  hold_reason TEXT,"
	"  requested_by TEXT,"
	"  reason TEXT,"
	"  origin_job_id TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  due_at INTEGER NOT NULL,"
	"  deadline_at INTEGER NOT NULL,"
	"  started_at INTEGER,"
	"  finished_at INTEGER,"
	"  deadline_missed INTEGER NOT NULL DEFAULT 0"
	");"
	/* At most one active purge per tenant, enforced by the database itself. */
	"CREATE UNIQUE INDEX jobs_one_active_purge ON jobs(tenant_id)"
	"  WHERE kind = 'purge' AND state NOT IN ('succeeded','cancelled');"
	"CREATE INDEX jobs_by_tenant ON jobs(tenant_id, id);"
	"CREATE INDEX jobs_by_state_due ON jobs(state, due_at);"
	"CREATE INDEX jobs_open_deadline ON jobs(deadline_at)"
	"  WHERE deadline_missed = 0 AND state NOT IN ('succeeded','cancelled');"

	/* One row per (job, service, kind). next_attempt_at NULL: not eligible
	 * yet (a later phase, opened when the earlier phases have finished). */
	"CREATE TABLE tasks ("
	"  id INTEGER PRIMARY KEY,"
	"  job_id TEXT NOT NULL REFERENCES jobs(id),"
	"  service TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('delete','suspend','restore')),"
	"  phase INTEGER NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN"
	"    ('pending','in_flight','waiting','succeeded','dead','skipped')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_at INTEGER,"
	"  first_attempt_at INTEGER,"
	"  lease_owner TEXT,"
	"  lease_expires_at INTEGER,"
	"  http_status INTEGER,"
	"  deleted_counts TEXT,"
	"  total_deleted INTEGER,"
	"  preview_before TEXT,"
	"  before_total INTEGER,"
	"  verified_after INTEGER,"
	"  duration_ms INTEGER,"
	"  last_error TEXT,"
	"  skip_reason TEXT,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (job_id, service, kind)"
	");"
	"CREATE INDEX tasks_due ON tasks(next_attempt_at)"
	"  WHERE state IN ('pending','waiting') AND next_attempt_at IS NOT NULL;"
	"CREATE INDEX tasks_leased ON tasks(lease_expires_at) WHERE state = 'in_flight';"
	"CREATE INDEX tasks_by_service ON tasks(service, state);"

	/* The audit trail: append-only, one hash chain across the database. */
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  job_id TEXT,"
	"  at INTEGER NOT NULL,"
	"  type TEXT NOT NULL,"
	"  service TEXT,"
	"  detail TEXT NOT NULL,"
	"  prev_hash TEXT NOT NULL,"
	"  hash TEXT NOT NULL"
	");"
	"CREATE INDEX events_by_job ON events(job_id, id);"
	"CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
	"  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
	"CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
	"  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"

	/* Webhook outbox: written in the transaction of the state change. */
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  event_id TEXT NOT NULL UNIQUE,"
	"  type TEXT NOT NULL,"
	"  job_id TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  body TEXT NOT NULL"
	");"
	"CREATE TABLE webhook_deliveries ("
	"  outbox_id INTEGER NOT NULL REFERENCES outbox(id),"
	"  url TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_at INTEGER NOT NULL,"
	"  delivered_at INTEGER,"
	"  last_status INTEGER,"
	"  last_error TEXT,"
	"  lease_owner TEXT,"
	"  lease_expires_at INTEGER,"
	"  PRIMARY KEY (outbox_id, url)"
	");"
	"CREATE INDEX webhook_due ON webhook_deliveries(next_attempt_at)"
	"  WHERE delivered_at IS NULL;"

	/* Every purged tenant, so a backup restore cannot resurrect it. */
	"CREATE TABLE tombstones ("
	"  job_id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL,"
	"  purged_at INTEGER NOT NULL,"
	"  services TEXT NOT NULL"
	");"
	"CREATE INDEX tombstones_by_time ON tombstones(purged_at);"

	/* Per-service circuit breakers, shared by every process on the file. */
	"CREATE TABLE breakers ("
	"  service TEXT PRIMARY KEY,"
	"  state TEXT NOT NULL,"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  open_until INTEGER,"
	"  cooloff_ms INTEGER NOT NULL DEFAULT 0,"
	"  probe_owner TEXT,"
	"  updated_at INTEGER NOT NULL"
	");"

	/* Monotonic counters for metrics (attempts by outcome, records
	 * deleted, duration histogram buckets), kept in the same transaction
	 * as the attempt they count. */
	"CREATE TABLE counters ("
	"  name TEXT NOT NULL,"
	"  service TEXT NOT NULL,"
	"  label TEXT NOT NULL DEFAULT '',"
	"  value INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (name, service, label)"
	") WITHOUT ROWID;"

	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/*
 * Delete tasks are created when a job starts, not when it is scheduled
 * (DESIGN 8: a backlog costs disk, not memory; bulk schedule writes one
 * row per job). A scheduled job keeps the services in force when it was
 * scheduled as a reference to a shared snapshot: canonical JSON
 * [{"name","phase"},...] sorted by phase then name, one row per distinct
 * config. jobs.service_set_id NULL: the job's delete tasks exist already
 * (every job of a version 1 database, reapply jobs, started jobs).
 */
static const char MIGRATION_2[] =
	"CREATE TABLE service_sets ("
	"  id INTEGER PRIMARY KEY,"
	"  services TEXT NOT NULL UNIQUE"
	");"
	"ALTER TABLE jobs ADD COLUMN service_set_id INTEGER REFERENCES service_sets(id);";

/* Claims are per service (a service whose slots are full or whose breaker
 * is open must not hide the others' due work): its due tasks in order. */
static const char MIGRATION_3[] =
	"CREATE INDEX tasks_due_by_service ON tasks(service, next_attempt_at)"
	"  WHERE state IN ('pending','waiting') AND next_attempt_at IS NOT NULL;";

/* What the scheduler remembers of a task between attempts (DESIGN 3):
 * verify_owed 1 when its call succeeded but the verification preview
 * could not be made (the next attempt only verifies: the DELETE is not
 * repeated); retry_streak, the attempts in a row that used up no attempt
 * (service-requested waits, verification retries), which bounds free
 * waits and drives the verification back-off. */
static const char MIGRATION_4[] =
	"ALTER TABLE tasks ADD COLUMN verify_owed INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN retry_streak INTEGER NOT NULL DEFAULT 0;";

/*
 * The file says it is a tenantdel store (application_id: another
 * program's database is refused on open, DESIGN 4). A service retired for
 * good (`retire-service NAME --reason`): its unfinished tasks were skipped
 * with that reason, and a job not started yet skips it when it starts. A
 * service only missing from the config has no row: its tasks wait.
 */
static const char MIGRATION_5[] =
	"PRAGMA application_id = 1952736620;" /* STORE_APPLICATION_ID, "tdel" */
	"CREATE TABLE retired_services ("
	"  service TEXT PRIMARY KEY,"
	"  reason TEXT NOT NULL,"
	"  retired_by TEXT,"
	"  retired_at INTEGER NOT NULL"
	");";

/* free_waits (DESIGN 3 "Retry policy"): of a task's attempts (every call
 * sent), those answered with a wait the service asked for that used up no
 * retry budget; max_attempts bounds attempts - free_waits. A store written
 * before this migration counted attempts less its free waits already: 0
 * keeps its budget as it was. */
static const char MIGRATION_6_FREE_WAITS[] =
	"ALTER TABLE tasks ADD COLUMN free_waits INTEGER NOT NULL DEFAULT 0;";

/*
 * Service sets as rows (was: JSON text). A set is its members, one row
 * each, and is shared by every job scheduled with the same services
 * (deduplicated by its members: same names, same phases). The configured
 * set is meta 'configured_set_id' (was the JSON text 'configured_services').
 * The version 2 table is renamed service_sets_json and jobs.service_set_id
 * to service_set_json_id, both emptied: SQLite cannot drop a table or a
 * column that a foreign key names inside the migration's transaction, so
 * they stay, unused.
 */
static const char MIGRATION_7_SERVICE_SET_ROWS[] =
	"INSERT INTO service_sets (services)"
	"  SELECT value FROM meta WHERE key = 'configured_services' ON CONFLICT DO NOTHING;"
	"ALTER TABLE service_sets RENAME TO service_sets_json;"
	"ALTER TABLE jobs RENAME COLUMN service_set_id TO service_set_json_id;"
	"CREATE TABLE service_sets ("
	"  id INTEGER PRIMARY KEY,"
	"  n_services INTEGER NOT NULL"
	");"
	"CREATE INDEX service_sets_by_size ON service_sets(n_services);"
	"CREATE TABLE service_set_members ("
	"  set_id INTEGER NOT NULL REFERENCES service_sets(id),"
	"  service TEXT NOT NULL,"
	"  phase INTEGER NOT NULL,"
	"  PRIMARY KEY (set_id, service)"
	") WITHOUT ROWID;"
	"CREATE INDEX service_set_members_by_service ON service_set_members(service);"
	"INSERT INTO service_sets (id, n_services)"
	"  SELECT id, json_array_length(services) FROM service_sets_json;"
	"INSERT INTO service_set_members (set_id, service, phase)"
	"  SELECT ss.id, COALESCE(json_extract(e.value, '$.name'), ''),"
	"         COALESCE(json_extract(e.value, '$.phase'), 1)"
	"  FROM service_sets_json ss, json_each(ss.services) e;"
	"INSERT INTO meta (key, value)"
	"  SELECT 'configured_set_id', ss.id FROM service_sets_json ss"
	"  JOIN meta m ON m.key = 'configured_services' AND m.value = ss.services;"
	"DELETE FROM meta WHERE key = 'configured_services';"
	"ALTER TABLE jobs ADD COLUMN service_set_id INTEGER REFERENCES service_sets(id);"
	"UPDATE jobs SET service_set_id = service_set_json_id, service_set_json_id = NULL"
	"  WHERE service_set_json_id IS NOT NULL;"
	"DELETE FROM service_sets_json;";

/*
 * Version 8: four eyes (DESIGN 10). approval is NULL for a job that needs
 * none, 'pending' until a second person approves it, then 'approved' with
 * who and when. A pending job never starts.
 */
static const char MIGRATION_8_APPROVAL[] =
	"ALTER TABLE jobs ADD COLUMN approval TEXT"
	"  CHECK (approval IS NULL OR approval IN ('pending','approved'));"
	"ALTER TABLE jobs ADD COLUMN approved_by TEXT;"
	"ALTER TABLE jobs ADD COLUMN approved_at INTEGER;";

/*
 * Version 9: data-subject erasure (DESIGN 9). A job of kind 'user' erases
 * one person; its tenant_id column holds the subject's user id (the same
 * syntax), and one active subject job per user is enforced like one active
 * purge per tenant. Its steps are ordinary tasks (services
 * subject.discover, subject.memberships, subject.user, phases 1 to 3).
 * What discovery found is subject_tenants: per tenant the user's role, the
 * decision (purge or keep) with its reason, and the child purge job, whose
 * parent_id names the subject job. The kind CHECK of migration 1 is
 * widened in place (writable_schema: no row changes; RESET reloads it).
 */
static const char MIGRATION_9_SUBJECT[] =
	"PRAGMA writable_schema = ON;"
	"UPDATE sqlite_schema SET sql = replace(sql, '''reapply''))', '''reapply'',''user''))')"
	"  WHERE type = 'table' AND name = 'jobs';"
	"PRAGMA writable_schema = RESET;"
	"PRAGMA writable_schema = OFF;"
	"ALTER TABLE jobs ADD COLUMN parent_id TEXT REFERENCES jobs(id);"
	"CREATE INDEX jobs_by_parent ON jobs(parent_id) WHERE parent_id IS NOT NULL;"
	"CREATE UNIQUE INDEX jobs_one_active_user ON jobs(tenant_id)"
	"  WHERE kind = 'user' AND state NOT IN ('succeeded','cancelled');"
	"CREATE TABLE subject_tenants ("
	"  job_id TEXT NOT NULL REFERENCES jobs(id),"
	"  tenant_id TEXT NOT NULL,"
	"  role TEXT NOT NULL CHECK (role IN ('owner','admin','member')),"
	"  other_admins INTEGER NOT NULL DEFAULT 0,"
	"  decision TEXT NOT NULL CHECK (decision IN ('purge','keep')),"
	"  reason TEXT NOT NULL,"
	"  child_job_id TEXT REFERENCES jobs(id),"
	"  PRIMARY KEY (job_id, tenant_id)"
	") WITHOUT ROWID;";

/*
 * Version 10: the jobs and tasks CHECK constraints as comparisons, the
 * same rule as the `IN (...)` lists they replace. For a list of three
 * values or more SQLite builds an ephemeral table each time a statement
 * checks the constraint, so every claim, record and job move paid for one
 * (memset of its pages: ~8 % of the hot path's instructions).
 *
 * Only the constraint text changes, not what is stored: SQLite documents
 * this edit of sqlite_schema under writable_schema for changing CHECK
 * constraints ("Making Other Kinds Of Table Schema Changes"). It costs the
 * same on a store of any size (a rebuild would copy every row), and keeps
 * whatever columns other migrations added. A text not found (a store made
 * otherwise) is left as it is: slower, never weaker. RESET reloads this
 * connection's schema; the table made and dropped changes the schema
 * cookie, so that other connections reload theirs.
 */
#define IN6(col, a, b, c, d, e, f) \
	"'CHECK (" col " IN    (''" a "'',''" b "'',''" c "'',''" d "'',''" e "'',''" f "''))'," \
	"'CHECK (" col " = ''" a "'' OR " col " = ''" b "'' OR " col " = ''" c "''" \
	" OR " col " = ''" d "'' OR " col " = ''" e "'' OR " col " = ''" f "'')'"
static const char MIGRATION_10_CHECKS[] =
	"PRAGMA writable_schema = ON;"
	"UPDATE sqlite_schema SET sql = replace(replace(sql,"
	IN6("state", "scheduled", "running", "succeeded", "failed", "cancelled", "held") "),"
	" 'CHECK (kind IN (''purge'',''reapply'',''user''))',"
	" 'CHECK (kind = ''purge'' OR kind = ''reapply'' OR kind = ''user'')')"
	" WHERE type = 'table' AND name = 'jobs';"
	"UPDATE sqlite_schema SET sql = replace(replace(sql,"
	IN6("state", "pending", "in_flight", "waiting", "succeeded", "dead", "skipped") "),"
	" 'CHECK (kind IN (''delete'',''suspend'',''restore''))',"
	" 'CHECK (kind = ''delete'' OR kind = ''suspend'' OR kind = ''restore'')')"
	" WHERE type = 'table' AND name = 'tasks';"
	"PRAGMA writable_schema = RESET;"
	"CREATE TABLE schema_cookie_10 (x);"
	"DROP TABLE schema_cookie_10;"
	/* The unfinished purge jobs whose delete tasks exist (started, or
	 * older than service snapshots): where a service added to the config
	 * gets its tasks (sqlite_sync_services, at start and on SIGHUP). Found
	 * otherwise by walking every job not started: seconds per service in a
	 * backlog of a million. */
	"CREATE INDEX jobs_with_tasks ON jobs(state) WHERE kind = 'purge'"
	"  AND service_set_id IS NULL AND state NOT IN ('succeeded','cancelled');"
	/* The jobs not started yet by their service snapshot: the few whose
	 * snapshot is not the configured one (a config change reaches them,
	 * sqlite_materialize_stale) without walking the others. */
	"CREATE INDEX jobs_by_set ON jobs(service_set_id) WHERE service_set_id IS NOT NULL;";
#undef IN6

/*
 * Version 11: fewer index entries moved by each claim and record. A claim
 * (pending -> in_flight) and a record (in_flight -> succeeded) each moved
 * the task in tasks_by_service (service, state) and in tasks_leased; now
 * the service index holds the service only (a state change leaves it
 * alone; what needs a service's tasks by state filters the few rows a
 * service not configured has), and the in-flight index is per service
 * (service, lease_expires_at), which also answers a service's in-flight
 * count, once per service per claim.
 */
static const char MIGRATION_11_TASK_INDEXES[] =
	"DROP INDEX tasks_by_service;"
	"DROP INDEX tasks_leased;"
	"CREATE INDEX tasks_of_service ON tasks(service);"
	"CREATE INDEX tasks_in_flight ON tasks(service, lease_expires_at) WHERE state = 'in_flight';";

/*
 * Version 12: what a listing or the metrics read of a large backlog (a
 * million jobs scheduled for later) without walking every job:
 *  - jobs_by_state_id: `list --state S`, newest first, reads its page;
 *  - jobs_missed: the active jobs already marked past their deadline (the
 *    others past it are found in jobs_open_deadline): `list --overdue` and
 *    the overdue gauge;
 *  - jobs_awaiting: the jobs waiting for their second person;
 *  - job_states: the number of jobs in each state, kept by triggers in
 *    the transaction of every insert, state change and delete (counted
 *    once here), for the metrics' gauges (inserts: see version 15).
 */
static const char MIGRATION_12_BACKLOG[] =
	"CREATE INDEX jobs_by_state_id ON jobs(state, id);"
	"CREATE INDEX jobs_missed ON jobs(deadline_at) WHERE deadline_missed = 1"
	"  AND state <> 'succeeded' AND state <> 'cancelled';"
	"CREATE INDEX jobs_awaiting ON jobs(id) WHERE approval = 'pending';"
	"CREATE TABLE job_states ("
	"  state TEXT PRIMARY KEY,"
	"  n INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO job_states (state, n) SELECT state, COUNT(*) FROM jobs GROUP BY state;"
	"CREATE TRIGGER job_states_insert AFTER INSERT ON jobs BEGIN"
	"  INSERT INTO job_states (state, n) VALUES (new.state, 1)"
	"  ON CONFLICT (state) DO UPDATE SET n = n + 1;"
	" END;"
	"CREATE TRIGGER job_states_update AFTER UPDATE OF state ON jobs"
	" WHEN old.state IS NOT new.state BEGIN"
	"  UPDATE job_states SET n = n - 1 WHERE state = old.state;"
	"  INSERT INTO job_states (state, n) VALUES (new.state, 1)"
	"  ON CONFLICT (state) DO UPDATE SET n = n + 1;"
	" END;"
	"CREATE TRIGGER job_states_delete AFTER DELETE ON jobs BEGIN"
	"  UPDATE job_states SET n = n - 1 WHERE state = old.state;"
	" END;";

/*
 * Version 13: tasks_due (next_attempt_at of the due tasks, all services)
 * goes. Claims and wake-ups walk tasks_due_by_service; only the metrics'
 * oldest due task read it, and every claim and record moved a task in it
 * (2.5 % of the instructions of a run). The metrics now walk
 * tasks_due_by_service too, one service after another.
 */
static const char MIGRATION_13_NO_TASKS_DUE[] = "DROP INDEX tasks_due;";

/*
 * Version 14: fewer bytes a job (a backlog of a million scheduled jobs).
 *  - Events written from now on keep their hash as its 32 bytes and do
 *    not repeat prev_hash, the hash of the row before (it is the empty
 *    BLOB: store/sqlite/events.c); the hashed text is the same. Rows
 *    written before keep their hex text: every read takes both. No row
 *    changes here; the version keeps an older program, which would read
 *    the BLOBs as text, out of the file.
 *  - jobs_by_tenant holds the tenant only, not (tenant, job id): a
 *    tenant's few jobs are sorted in memory (SQL_LIST_TENANT); 36 bytes of
 *    id less an entry.
 *  - events_by_job holds the job only: the rowid it carries is the event
 *    id, already in id order (it held the id twice).
 */
static const char MIGRATION_14_COMPACT[] =
	"DROP INDEX jobs_by_tenant;"
	"CREATE INDEX jobs_by_tenant ON jobs(tenant_id);"
	"DROP INDEX events_by_job;"
	"CREATE INDEX events_by_job ON events(job_id);";

/*
 * Version 15: a new job is counted in job_states by the code that inserts
 * it (sqlite_jobs_created: every job starts 'scheduled'), once a statement,
 * not by a trigger: a trigger runs as a program of its own for each row,
 * ~7,300 instructions of the ~37,000 a job costs in a bulk schedule (15 %
 * of its time). The state changes and deletes keep their triggers: the
 * code that moves a job does not know every state it leaves.
 */
static const char MIGRATION_15_COUNTED_INSERTS[] =
	"DROP TRIGGER job_states_insert;"
	/* a job that changes state before its insert was counted (a bulk
	 * schedule counts at the end of its feed) still finds its row to
	 * decrement */
	"INSERT OR IGNORE INTO job_states (state, n) VALUES ('scheduled', 0);";

const char *const sqlite_migrations[] = {
	MIGRATION_1,
	MIGRATION_2,
	MIGRATION_3,
	MIGRATION_4,
	MIGRATION_5,
	MIGRATION_6_FREE_WAITS,
	MIGRATION_7_SERVICE_SET_ROWS,
	MIGRATION_8_APPROVAL,
	MIGRATION_9_SUBJECT,
	MIGRATION_10_CHECKS,
	MIGRATION_11_TASK_INDEXES,
	MIGRATION_12_BACKLOG,
	MIGRATION_13_NO_TASKS_DUE,
	MIGRATION_14_COMPACT,
	MIGRATION_15_COUNTED_INSERTS,
};
const int sqlite_n_migrations = (int)(sizeof sqlite_migrations / sizeof sqlite_migrations[0]);
