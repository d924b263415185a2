/*
 * integrity.c - the store's integrity checks, the file stamp that spares a
 * check of a file already checked, and the log's checkpoints, which change
 * that stamp and so remember it.
 */
#include "store/sqlite/sqlite_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
#define UPKEEP_REMEMBER_WAIT_MS 50 /* ... after a checkpoint within a commit: the
				      caller (the daemon's claims) waits for it */
/*
 * The log's upkeep. SQLite's own autocheckpoint (after a commit that leaves
 * 1000 pages or more in the WAL) is replaced by sqlite_wal_upkeep, which
 * does the same and then remembers the stamp of the file it wrote: with
 * SQLite's, every checkpoint of a running daemon changed the stamp, and
 * every `schedule` while it worked ran the quick check again (4,500-16,500
 * reads, 70-150 ms on a 5 MB store instead of 10).
 *
 * A short command (STORE_OPEN_BRIEF) leaves the WAL as it is when it
 * closes: checkpointing it each time (two fdatasyncs, the WAL and its index
 * deleted and created again by the next command) was most of a
 * `schedule`'s time. One that wrote empties the log as it closes once it
 * holds BRIEF_CHECKPOINT_PAGES, SQLite's default: every process that opens
 * the store while no other has it open reads the whole log to rebuild its
 * index (~1 ms a MiB here: at 64 MiB, a `show` took 60 ms more). Within a
 * command, only a bulk schedule's log is folded back, past
 * BULK_CHECKPOINT_PAGES, and a log file left past BULK_LOG_BYTES is
 * emptied as the command closes: the next process would otherwise rebuild
 * its index from it and copy every frame into the file again (after
 * scheduling a million jobs, the next run paid ~800 MB of writes).
 *
 * A checkpoint's stamp is remembered only when the file was known checked
 * as it began (its stamp the one this handle checked or last wrote, or the
 * one the store remembers): a daemon checked at its start days ago must
 * not bless a foreign write by checkpointing on top of it. Then whether it
 * copied the whole log or gave up half way (a command emptying the log
 * while the daemon reads it gives up at once, having copied frames into
 * the file); not when it failed or never started.
 */
#define RUN_CHECKPOINT_PAGES 1000
#define BRIEF_CHECKPOINT_PAGES 1024
#define BULK_CHECKPOINT_PAGES 16384
#define BULK_LOG_BYTES (64LL << 20)

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
 * NULL reads it and says whether it equals stamp, else writes value and
 * says whether it could (a write that failed is logged at debug). */
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
	else if (value != NULL && rc == SQLITE_DONE)
		same = 1;
	else if (value != NULL)
		log_msg(LOG_DEBUG, "store.not_remembered", "%s: %s", s->path, sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return same;
}

/*
 * quick_check, unless a check already passed on the file as it is now
 * (see CHECK_RACY_MS above). Remembering is best effort: a write that fails
 * costs the next writer a check, nothing else.
 */
int sqlite_check_if_changed(struct sqlite_store *s, const struct stat *st, char *err,
			    size_t errlen)
{
	char stamp[128];
	int64_t mtime_ms = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000, t0;

	if (st->st_size > QUICK_CHECK_MAX_BYTES)
		return 0;
	s->checked = 1; /* unless it fails, and then the store is not opened */
	file_stamp(st, stamp, sizeof stamp);
	if (!stamp_row(s, stamp, NULL)) {
		t0 = clock_mono_ms();
		if (quick_check(s, err, errlen) < 0)
			return -1;
		log_msg(LOG_DEBUG, "store.checked", "%s: quick check of %lld bytes in %lld ms",
			s->path, (long long)st->st_size, (long long)(clock_mono_ms() - t0));
		if (clock_now_ms() - mtime_ms >= CHECK_RACY_MS)
			stamp_row(s, stamp, stamp);
	}
	/* checked or matched: this handle's own checkpoints may build on it (a
	 * write in the same clock tick as a check is the one case it misses,
	 * as a checkpoint's remembered stamp does) */
	snprintf(s->good_stamp, sizeof s->good_stamp, "%s", stamp);
	return 0;
}


/* The main file's stamp now, for a handle that keeps one (checked as it
 * opened, the file within QUICK_CHECK_MAX_BYTES); else -1. */
static int checked_stamp(struct sqlite_store *s, char *stamp, size_t len)
{
	struct stat st;

	if (!s->checked || stat(s->path, &st) < 0 || st.st_size > QUICK_CHECK_MAX_BYTES)
		return -1;
	file_stamp(&st, stamp, len);
	return 0;
}

/*
 * After a checkpoint (whole or given up) that began on a file known checked
 * (known_checked), or after this process built the store: the main file is
 * now what SQLite copied into a checked file from a checked store, so its
 * new stamp is remembered as checked (the meta row goes to the WAL, which
 * is left as it is: the file keeps that stamp), and kept as the handle's
 * own (good_stamp: its next checkpoint knows the file even if this row
 * could not be written). It is the one stamp remembered younger than
 * CHECK_RACY_MS: that rule is for content a check did not read, and this
 * content is SQLite's own writes. Waits up to wait_ms for another writer's
 * transaction (unremembered, every writer of the next second would run the
 * check); best effort, like sqlite_check_if_changed's.
 */
static void remember_checkpoint(struct sqlite_store *s, int wait_ms)
{
	char stamp[128];

	if (checked_stamp(s, stamp, sizeof stamp) < 0)
		return;
	snprintf(s->good_stamp, sizeof s->good_stamp, "%s", stamp);
	if (stamp_row(s, stamp, NULL))
		return; /* nothing copied since the last one */
	sqlite_set_busy(s, wait_ms);
	if (stamp_row(s, stamp, stamp))
		log_msg(LOG_DEBUG, "store.remembered", "%s: checked as %s", s->path, stamp);
	sqlite_set_busy(s, s->busy_ms);
}

/*
 * After this process built the store (create_store): the file is SQLite's
 * writes of a schema it laid down whole a moment ago, so its stamp is
 * remembered as checked at once, as a checkpoint's is (the first `run`
 * after the first `schedule` of a new store no longer checks it).
 */
void sqlite_remember_built(struct sqlite_store *s)
{
	remember_checkpoint(s, REMEMBER_WAIT_MS);
}

/* After each commit: the log's length, for sqlite_wal_upkeep. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sqlite_store *s = arg;

	s->wal_frames = frames;
	return SQLITE_OK;
}

int sqlite_wal_setup(struct sqlite_store *s)
{
	if (s->brief && sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) !=
			    SQLITE_OK)
		return -1;
	sqlite3_wal_hook(s->db, wal_hook, s); /* replaces SQLite's autocheckpoint */
	return 0;
}

/*
 * Whether the main file is, as a checkpoint begins, as a check or a
 * checkpoint left it (1): its stamp is the one this handle last knew
 * checked, or the one the store remembers (another process's check or
 * checkpoint). 0: anything else wrote it since (dd, an editor, a copy over
 * it; or a checkpoint whose stamp is not remembered yet): a handle checked
 * days ago must not bless that by checkpointing on top of it; the next
 * writer's check reads it. -1: no stamp is kept for this handle or file
 * (not checked: a reader; past QUICK_CHECK_MAX_BYTES).
 */
static int known_checked(struct sqlite_store *s)
{
	char stamp[128];

	if (checked_stamp(s, stamp, sizeof stamp) < 0)
		return -1;
	return strcmp(stamp, s->good_stamp) == 0 || stamp_row(s, stamp, NULL);
}

/*
 * A checkpoint in mode, then the stamp it leaves remembered (see above)
 * when the file was known checked before it and the checkpoint copied
 * frames into it, whole or in part (SQLITE_BUSY: it gave up half way); not
 * when it failed, nor when this handle's own transaction kept it from
 * starting (SQLITE_LOCKED). A short command that does not know the file
 * leaves the log alone: another process changed the file while it ran
 * (the daemon, whose checkpoint it would otherwise overtake between the
 * copy and the remembering, and every checkpoint after it would then
 * find a file nobody vouched for), and that process folds the log back.
 */
static void checkpoint(struct sqlite_store *s, int mode, int wait_ms)
{
	int known = known_checked(s), rc;

	if (known == 0 && s->brief)
		return;
	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, mode, NULL, NULL) & 0xff;
	if (known == 1 && (rc == SQLITE_OK || rc == SQLITE_BUSY))
		remember_checkpoint(s, wait_ms);
}

/*
 * After a commit: past the handle's limit of pages in the log since its
 * last checkpoint, a passive checkpoint (as SQLite's autocheckpoint: it
 * never waits, and copies what no reader still needs), then the file's new
 * stamp remembered. Counting from the last one keeps a log that readers
 * hold from being checkpointed (and remembered) after every commit.
 */
void sqlite_wal_upkeep(struct sqlite_store *s)
{
	int limit = s->brief ? BULK_CHECKPOINT_PAGES : RUN_CHECKPOINT_PAGES;

	if (s->wal_frames < s->wal_done)
		s->wal_done = 0; /* the log started again from its beginning */
	if (s->wal_frames - s->wal_done < limit)
		return;
	s->wal_done = s->wal_frames;
	checkpoint(s, SQLITE_CHECKPOINT_PASSIVE, UPKEEP_REMEMBER_WAIT_MS);
}

/*
 * As a handle closes: a short command empties the log once it holds
 * BRIEF_CHECKPOINT_PAGES or its file is past BULK_LOG_BYTES (see above);
 * any other handle (run, the daemon) always, as SQLite would on the last
 * close. Either remembers the stamp after it and leaves that row in the
 * log: with SQLite's close, the first command after every `run --once` ran
 * the quick check. At once: another process holding the log makes it give
 * up rather than wait.
 */
void sqlite_wal_close(struct sqlite_store *s)
{
	char *wal;
	struct stat st;
	int big;

	if (!s->brief && !s->checked)
		return; /* SQLite's own close does it */
	wal = xasprintf("%s-wal", s->path);
	big = stat(wal, &st) == 0 && st.st_size >= BULK_LOG_BYTES;
	free(wal);
	if (s->brief && !big && s->wal_frames < BRIEF_CHECKPOINT_PAGES)
		return;
	(void)sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite_set_busy(s, 0);
	checkpoint(s, SQLITE_CHECKPOINT_TRUNCATE, REMEMBER_WAIT_MS);
}
