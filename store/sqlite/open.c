/*
 * open.c - opening a store: what the path holds (nothing, a directory, an
 * empty file, another program's database, a damaged or newer store), a new
 * store created whole or not at all, migrations, and the integrity checks.
 */
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Every tenantdel table a store has had since migration 1. */
static const char SQL_OWN_TABLES[] =
	"SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	" AND name IN ('jobs','tasks','events','meta')";

static const char *errno_phrase(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT: return "disk full";
	case EROFS: return "read-only";
	case EACCES:
	case EPERM: return "read-only (permission denied)";
	case EISDIR: return "is a directory";
	default: return NULL;
	}
}

const char *sqlite_error_phrase(sqlite3 *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL: return "disk full";
	case SQLITE_READONLY: return "read-only";
	case SQLITE_CORRUPT: return "damaged: run audit verify";
	case SQLITE_NOTADB: return "not a tenantdel store (not an SQLite database)";
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN: return db ? errno_phrase(sqlite3_system_errno(db)) : NULL;
	default: return NULL;
	}
}

/* err = "PATH: what went wrong" for SQLite result rc. Returns -1. */
static int open_error(struct sqlite_store *s, int rc, const char *doing, char *err, size_t errlen)
{
	const char *phrase = sqlite_error_phrase(s->db, rc);

	if (phrase != NULL)
		snprintf(err, errlen, "%s: %s", s->path, phrase);
	else
		snprintf(err, errlen, "%s: %s: %s", s->path, doing,
			 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	return -1;
}

/* Runs a one-value query; the SQLite result code (SQLITE_OK when *out is set). */
static int query_int(struct sqlite_store *s, const char *sql, int *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
}

/* Is this a tenantdel store this program can use? 0, or -1 with err set. */
static int identify(struct sqlite_store *s, char *err, size_t errlen)
{
	int app = 0, version = 0, own = 0, any = 0, rc;

	if ((rc = query_int(s, "PRAGMA application_id", &app)) != SQLITE_OK ||
	    (rc = query_int(s, "PRAGMA user_version", &version)) != SQLITE_OK ||
	    (rc = query_int(s, SQL_OWN_TABLES, &own)) != SQLITE_OK ||
	    (rc = query_int(s, "SELECT count(*) FROM sqlite_master", &any)) != SQLITE_OK)
		return open_error(s, rc, "cannot read it", err, errlen);
	if ((app != 0 && app != STORE_APPLICATION_ID) || (any > 0 && own < 4)) {
		snprintf(err, errlen, "%s: not a tenantdel store (another program's database)",
			 s->path);
		return -1;
	}
	if (version == 0 || own < 4) {
		snprintf(err, errlen, "%s: not a tenantdel store (an SQLite database without "
			 "tenantdel's tables)", s->path);
		return -1;
	}
	if (version > sqlite_n_migrations) {
		snprintf(err, errlen, "%s: schema version %d is newer than this tenantdel (%d)",
			 s->path, version, sqlite_n_migrations);
		return -1;
	}
	return 0;
}

static int migrate(struct sqlite_store *s, char *err, size_t errlen)
{
	int version = 0;

	if (query_int(s, "PRAGMA user_version", &version) != SQLITE_OK)
		goto fail;
	while (version < sqlite_n_migrations) {
		char pragma[64];
		/* Several processes may open an old file at once: the version is
		 * read again under the write lock, and a migration another one
		 * applied meanwhile is not applied twice. */
		if (sqlite_exec(s, "BEGIN IMMEDIATE") < 0)
			goto fail;
		if (query_int(s, "PRAGMA user_version", &version) != SQLITE_OK) {
			sqlite_rollback(s);
			goto fail;
		}
		if (version >= sqlite_n_migrations) {
			sqlite_rollback(s);
			break;
		}
		snprintf(pragma, sizeof pragma, ";PRAGMA user_version = %d;", version + 1);
		if (sqlite_exec(s, sqlite_migrations[version]) < 0 || sqlite_exec(s, pragma) < 0 ||
		    sqlite_exec(s, "COMMIT") < 0) {
			sqlite_rollback(s);
			goto fail;
		}
		version++;
		log_msg(LOG_DEBUG, "store.migrated", "schema version %d", version);
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot apply schema migration: %s", s->path,
		 s->base.err_msg[0] ? s->base.err_msg : sqlite3_errmsg(s->db));
	return -1;
}

/*
 * Switching a file to WAL needs its exclusive lock, and SQLite answers
 * BUSY at once (no busy handler: it would deadlock) when processes opening
 * the file together contend for it. Retry for up to the busy timeout.
 */
static int set_wal(struct sqlite_store *s)
{
	int64_t until = clock_mono_ms() + 10000;
	int rc;

	for (;;) {
		rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			return rc;
		if (clock_mono_ms() > until)
			return rc;
		sqlite3_sleep(5);
	}
}

/*
 * How a writer waits for another's lock. SQLite's own busy handler sleeps
 * 1, 2, 5, 10, 15, 20, 25 ... 100 ms between tries: a `schedule` while the
 * daemon commits every few milliseconds kept waking after the lock had
 * been taken again, and waited up to 2 s. Here a waiter tries again within
 * 0.1-2 ms (the step doubles from 0.1 ms, with jitter so that waiters do
 * not wake in step), until busy_now ms have passed.
 */
static int busy_wait(void *arg, int tries)
{
	struct sqlite_store *s = arg;
	int64_t now = clock_mono_ms();
	long us;
	struct timespec ts;

	if (tries == 0)
		s->busy_since = now;
	if (now - s->busy_since >= s->busy_now)
		return 0;
	us = tries < 4 ? 100L << tries : 2000L;
	us = us / 2 + (long)(rand_r(&s->busy_seed) % (unsigned)(us / 2 + 1));
	ts.tv_sec = 0;
	ts.tv_nsec = us * 1000L;
	nanosleep(&ts, NULL);
	return 1;
}

void sqlite_set_busy(struct sqlite_store *s, int ms)
{
	if (s->busy_seed == 0)
		s->busy_seed = (unsigned)getpid() ^ (unsigned)clock_mono_ms();
	sqlite3_busy_handler(s->db, ms > 0 ? busy_wait : NULL, s);
	s->busy_now = ms;
}

static int configure(struct sqlite_store *s, char *err, size_t errlen)
{
	int rc;

	/* WAL: readers never block the writer. FULL: a commit reported is on
	 * disk, power loss included (DESIGN 3: schedule is durable). */
	if ((rc = set_wal(s)) != SQLITE_OK ||
	    (rc = sqlite3_exec(s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
			       NULL, NULL, NULL)) != SQLITE_OK)
		return open_error(s, rc, "cannot configure it", err, errlen);
	return 0;
}

/* Makes the new name of a file in path's folder durable. */
static void sync_folder(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? xstrdup(".")
		  : slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

static void unlink_db(const char *path)
{
	char *wal = xasprintf("%s-wal", path), *shm = xasprintf("%s-shm", path);

	unlink(path);
	unlink(wal);
	unlink(shm);
	free(wal);
	free(shm);
}

/* Finalizes every statement, closes the connection, frees s (NULL-safe). */
static void handle_free(struct sqlite_store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->n_cache; i++)
		sqlite3_finalize(s->cache[i].st);
	if (s->db != NULL)
		sqlite3_close(s->db);
	free(s->path);
	store_base_clear(&s->base);
	free(s);
}

/*
 * A new store is built under a temporary name, checkpointed whole into
 * its file, then linked to path: path is either absent or a complete
 * store, never an empty file a crash or a concurrent opener could see.
 * Another process creating it at the same moment wins the link; fine.
 */
static int create_store(const char *path, char *err, size_t errlen)
{
	struct sqlite_store *s = xcalloc(1, sizeof *s);
	char *tmp = xasprintf("%s.new-%ld", path, (long)getpid());
	int rc;

	s->path = xstrdup(path);
	unlink_db(tmp);
	rc = sqlite3_open_v2(tmp, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     sqlite_walbuf_vfs());
	if (rc != SQLITE_OK) {
		open_error(s, rc, "cannot create it", err, errlen);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if (configure(s, err, errlen) < 0 || migrate(s, err, errlen) < 0)
		goto fail;
	rc = sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		open_error(s, rc, "cannot create it", err, errlen);
		goto fail;
	}
	handle_free(s);
	s = NULL;
	if (link(tmp, path) < 0 && errno != EEXIST) {
		const char *phrase = errno_phrase(errno);
		snprintf(err, errlen, "%s: %s", path, phrase ? phrase : strerror(errno));
		goto fail;
	}
	sync_folder(path);
	unlink_db(tmp);
	free(tmp);
	return 0;
fail:
	handle_free(s);
	unlink_db(tmp);
	free(tmp);
	return -1;
}

/* Opens the existing regular file path (file: its stat) as a store. */
static struct store *open_existing(const char *path, const struct stat *file,
				   const struct store_config *c, char *err, size_t errlen)
{
	struct sqlite_store *s = xcalloc(1, sizeof *s);
	int rc;

	store_base_init(&s->base, &store_sqlite_backend);
	s->path = xstrdup(path);
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			     sqlite_walbuf_vfs());
	if (rc != SQLITE_OK) {
		open_error(s, rc, "cannot open it", err, errlen);
		goto fail;
	}
	if (sqlite3_db_readonly(s->db, "main") == 1) {
		snprintf(err, errlen, "%s: read-only", path);
		goto fail;
	}
	s->busy_ms = c->busy_wait_ms == 0 ? 10000 : c->busy_wait_ms < 0 ? 0 : c->busy_wait_ms;
	sqlite_set_busy(s, s->busy_ms);
	sqlite3_extended_result_codes(s->db, 1);
	/* No lookaside set up here: Debian's libsqlite3 is built without it
	 * (SQLITE_OMIT_LOOKASIDE in `PRAGMA compile_options`), so every
	 * allocation SQLite makes goes to malloc, and SQLITE_DBCONFIG_LOOKASIDE
	 * does nothing (bench/README, eighteenth pass). */
	/* identify first: WAL must never be switched on in another program's file */
	if (identify(s, err, errlen) < 0 || configure(s, err, errlen) < 0 ||
	    migrate(s, err, errlen) < 0)
		goto fail;
	/* how the log is kept: store/sqlite/integrity.c */
	s->brief = (c->flags & STORE_OPEN_BRIEF) != 0;
	if (sqlite_wal_setup(s) < 0) {
		open_error(s, sqlite3_errcode(s->db), "cannot configure it", err, errlen);
		goto fail;
	}
	if ((c->flags & STORE_OPEN_CHECK) && sqlite_check_if_changed(s, file, err, errlen) < 0)
		goto fail;
	return &s->base;
fail:
	handle_free(s);
	return NULL;
}

/*
 * Process-wide settings, before SQLite initializes (afterwards
 * sqlite3_config refuses them, harmlessly: the defaults stay). No memory
 * statistics: nothing reads them, and keeping them took a global mutex
 * around every SQLite malloc and free (~170 lock/unlock pairs a task in
 * run --once, ~2.5 % of its instructions).
 */
static void library_setup(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *sqlite_open(const struct store_config *c, char *err, size_t errlen)
{
	const char *path = c->path;
	struct store_config o = *c;
	struct stat st;
	struct store *s;
	int created = 0;

	library_setup();
	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "no database file named for the sqlite store");
		return NULL;
	}
	if (stat(path, &st) < 0 && errno == ENOENT && (c->flags & STORE_OPEN_CREATE)) {
		if (create_store(path, err, errlen) < 0)
			return NULL;
		o.flags &= ~STORE_OPEN_CHECK; /* just built (here or by a concurrent opener) */
		created = 1;
	}
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "no store at %s", path);
		else
			snprintf(err, errlen, "%s: cannot open it: %s", path, strerror(errno));
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		snprintf(err, errlen, "%s: not a tenantdel store (%s)", path,
			 S_ISREG(st.st_mode) ? "an empty file" : "not a regular file");
		return NULL;
	}
	s = open_existing(path, &st, &o, err, errlen);
	if (s != NULL && created) {
		sqlite_of(s)->checked = 1; /* built whole a moment ago */
		sqlite_remember_built(sqlite_of(s));
	}
	return s;
}

void sqlite_close(struct store *base)
{
	struct sqlite_store *s = sqlite_of(base);

	if (s != NULL)
		sqlite_wal_close(s);
	handle_free(s);
}
