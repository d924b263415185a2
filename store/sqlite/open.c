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
#include <unistd.h>

/*
 * With STORE_OPEN_CHECK (the commands that start work: schedule, run) a file
 * up to this size gets PRAGMA quick_check (every page's structure, no index
 * cross-check) when it is opened; readers never pay for it (a 5 MB store
 * costs ~30 ms a check: every `show` would). Measured on 2 busy CPUs: 0.13 s for
 * 60 MB (45,000 scheduled jobs), 1.9 s for 1.4 GB (a million): too slow for
 * every `show`. A larger file relies on SQLite's own checks of each page a
 * statement reads (reported as "damaged") and on `audit verify`, which runs
 * the full integrity_check (0.28 s at 60 MB, 5.2 s at 1.4 GB).
 *
 * A check that passed is remembered with the file's stamp (device, inode,
 * size, modification time to the nanosecond), as git's index remembers a
 * file's hash: the next writer that finds the same stamp skips it. Anything
 * that writes the file (a checkpoint, an editor, dd) changes the stamp, so
 * the next writer checks again; without that, one `schedule` on an 18 MB
 * store spent 92 % of its instructions re-checking unchanged pages. A stamp
 * younger than CHECK_RACY_MS is not remembered: a write in the same clock
 * tick as the one before the check would leave the stamp as it was.
 */
#define QUICK_CHECK_MAX_BYTES (64LL << 20)
#define CHECK_RACY_MS 1000
#define REMEMBER_WAIT_MS 2000 /* for the write lock, to remember a checkpoint's stamp */
/* The WAL size past which a short command checkpoints (see open_existing
 * and sqlite_close); SQLite counts it in pages, 4 KiB by default. It is
 * SQLite's own default: every process that opens the store while no other
 * has it open reads the whole WAL to rebuild its index (~1 ms a MiB here:
 * at 64 MiB, a `show` took 60 ms more). */
#define BRIEF_CHECKPOINT_BYTES (4LL << 20)
#define BRIEF_CHECKPOINT_PAGES ((int)(BRIEF_CHECKPOINT_BYTES / 4096))

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

/* Runs an integrity pragma; *intact and why (its first finding) as found. */
static int run_check(struct sqlite_store *s, const char *pragma, int *intact, char *why,
		     size_t whylen)
{
	sqlite3_stmt *st = NULL;
	const char *text;
	int rc = sqlite3_prepare_v2(s->db, pragma, -1, &st, NULL);

	*intact = 0;
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		text = (const char *)sqlite3_column_text(st, 0);
		*intact = text != NULL && strcmp(text, "ok") == 0;
		snprintf(why, whylen, "%s", text ? text : "");
	} else if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
		snprintf(why, whylen, "%s", sqlite3_errmsg(s->db));
	} else {
		sqlite_keep_error(s, rc, NULL);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int sqlite_check_integrity(struct store *base, int *intact, char *why, size_t whylen)
{
	struct sqlite_store *s = sqlite_of(base);

	return run_check(s, "PRAGMA integrity_check(1)", intact, why, whylen) == 0 ? STORE_OK
										    : STORE_ERR;
}

static int quick_check(struct sqlite_store *s, char *err, size_t errlen)
{
	char why[200];
	int intact = 0;

	if (run_check(s, "PRAGMA quick_check(1)", &intact, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: %s", s->path, s->base.err_msg);
		return -1;
	}
	if (!intact)
		snprintf(err, errlen, "%s: damaged: run audit verify (%s)", s->path, why);
	return intact ? 0 : -1;
}

/* The main file's stamp as text: what any write to it changes. */
static void file_stamp(const struct stat *st, char *out, size_t len)
{
	snprintf(out, len, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino, (long long)st->st_size,
		 (long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
}

/* Runs one statement on the meta row of the remembered check: with value
 * NULL reads it and says whether it equals stamp, else writes value. */
static int stamp_row(struct sqlite_store *s, const char *stamp, const char *value)
{
	sqlite3_stmt *st = NULL;
	const char *sql = value == NULL
		? "SELECT value = ?1 FROM meta WHERE key = '" SQLITE_META_CHECKED "'"
		: "INSERT OR REPLACE INTO meta (key, value) VALUES ('" SQLITE_META_CHECKED "', ?1)";
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), same = 0;

	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, value ? value : stamp, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		same = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return same;
}

/*
 * quick_check, unless a check already passed on the file as it is now
 * (see CHECK_RACY_MS above). Remembering is best effort: a write that fails
 * costs the next writer a check, nothing else.
 */
static int check_if_changed(struct sqlite_store *s, const struct stat *st, char *err,
			    size_t errlen)
{
	char stamp[128];
	int64_t mtime_ms = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;

	file_stamp(st, stamp, sizeof stamp);
	if (stamp_row(s, stamp, NULL))
		return 0;
	if (quick_check(s, err, errlen) < 0)
		return -1;
	if (clock_now_ms() - mtime_ms >= CHECK_RACY_MS)
		stamp_row(s, stamp, stamp);
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
	sqlite3_busy_timeout(s->db, c->busy_wait_ms == 0 ? 10000
				    : c->busy_wait_ms < 0 ? 0 : c->busy_wait_ms);
	sqlite3_extended_result_codes(s->db, 1);
	/* SQLite's lookaside (small allocations from a per-connection arena)
	 * is 1200 bytes x 40 by default, and the cached statements keep most of
	 * it: the run's steps then go to malloc. 500 slots (600 KB, touched as
	 * used): run --once -3.3 % of its instructions (callgrind). */
	(void)sqlite3_db_config(s->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 1200, 500);
	/* identify first: WAL must never be switched on in another program's file */
	if (identify(s, err, errlen) < 0 || configure(s, err, errlen) < 0 ||
	    migrate(s, err, errlen) < 0)
		goto fail;
	/* A short command leaves the WAL as it is when it closes: checkpointing
	 * it each time (two fdatasyncs, the WAL and its index deleted and
	 * created again by the next command) was most of a `schedule`'s time.
	 * It folds the WAL back once it passes BRIEF_CHECKPOINT_PAGES, so that
	 * without a daemon the WAL, which every opener then reads whole, stays
	 * small; and the command that did it remembers the file it wrote as
	 * checked (sqlite_close), else every writer opening it in the next
	 * second ran the quick check again (three `schedule` loops at once on
	 * a 60 MB store: 3.3 s of CPU for 150 jobs, 1.3 s without). The daemon
	 * and `run --once` checkpoint at 1000 pages and when they close. */
	s->brief = (c->flags & STORE_OPEN_BRIEF) != 0;
	if (s->brief &&
	    (sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) != SQLITE_OK ||
	     sqlite3_wal_autocheckpoint(s->db, BRIEF_CHECKPOINT_PAGES) != SQLITE_OK)) {
		open_error(s, sqlite3_errcode(s->db), "cannot configure it", err, errlen);
		goto fail;
	}
	if ((c->flags & STORE_OPEN_CHECK) && file->st_size <= QUICK_CHECK_MAX_BYTES) {
		if (check_if_changed(s, file, err, errlen) < 0)
			goto fail;
		s->checked = 1;
	}
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
	if (s != NULL && created)
		sqlite_of(s)->checked = 1; /* built whole a moment ago */
	return s;
}

/*
 * After a short command's checkpoint: the main file is now what SQLite
 * copied into it from a store that passed its check when this command
 * opened it, so its new stamp is remembered as checked (the meta row goes
 * to the WAL, which the command leaves: the file keeps that stamp). It is
 * the one stamp remembered younger than CHECK_RACY_MS: that rule is for
 * content a check did not read, and this content is SQLite's own writes
 * of a checked store. Best effort, like check_if_changed's.
 */
static void remember_own_checkpoint(struct sqlite_store *s)
{
	char stamp[128];
	struct stat st;

	if (stat(s->path, &st) == 0 && st.st_size <= QUICK_CHECK_MAX_BYTES) {
		file_stamp(&st, stamp, sizeof stamp);
		/* waits for another writer's short transaction: unremembered,
		 * every writer of the next second would run the check */
		sqlite3_busy_timeout(s->db, REMEMBER_WAIT_MS);
		stamp_row(s, stamp, stamp);
	}
}

/*
 * A short command that left a write-ahead log past BRIEF_CHECKPOINT_BYTES
 * (many commands since the last checkpoint, or a bulk schedule whose own
 * commit has copied it into the database file already) empties it as it
 * closes. Left as it is, every later process that opens the store alone
 * reads all of it to rebuild its index, and the first to checkpoint copies
 * its frames again: after scheduling a million jobs, the next run paid
 * ~800 MB of writes (its tasks/s 0.59 of an empty store's).
 */
void sqlite_close(struct store *base)
{
	struct sqlite_store *s = sqlite_of(base);
	char *wal;
	struct stat st;

	if (s != NULL && s->brief) {
		wal = xasprintf("%s-wal", s->path);
		/* best effort, at once: a reader (a running daemon) holding the
		 * log makes it give up rather than wait out the busy timeout */
		if (stat(wal, &st) == 0 && st.st_size >= BRIEF_CHECKPOINT_BYTES) {
			sqlite3_busy_timeout(s->db, 0);
			if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
						      NULL) == SQLITE_OK &&
			    s->checked)
				remember_own_checkpoint(s);
		}
		free(wal);
	}
	handle_free(s);
}
