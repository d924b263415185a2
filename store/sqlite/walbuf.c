/*
 * walbuf.c - the VFS the store opens its files with: SQLite's default one,
 * except that the writes of a transaction to its WAL are gathered in
 * memory and reach the file as a few large write(2)s.
 *
 * SQLite writes each WAL frame as two calls, a 24-byte header then the
 * page: a group commit that touches 130 pages is 260 pwrite(2)s, 9 a task
 * in a fast run (241,089 of them for 26,000 tasks, strace -c), and on a
 * virtual machine each system call is dear. Here they are appended to a
 * buffer (WALBUF_CAP) and written out, in order, before anything could
 * need them on disk or read them back:
 *
 *   - xSync: a commit's frames are written, then synced (synchronous=FULL
 *     syncs the WAL at every commit). What a commit reported is on disk, as
 *     before; a crash before it loses only frames nobody was told of.
 *   - the database file's xShmBarrier, and its xShmLock releasing a lock:
 *     with a weaker synchronous setting a commit is not synced, and other
 *     connections may read its frames as soon as the WAL index (shared
 *     memory) names them, which it does behind such a barrier;
 *   - xRead, xFileSize, xTruncate, xClose on the WAL, and a write that is
 *     not next to what is held (it goes after what it may overwrite).
 *
 * A statement's journal (the pages it changed, to undo it alone) that
 * outgrows the piece of memory SQLite keeps it in becomes one of our files
 * instead of a temporary file on disk: a growing buffer, up to
 * SUBJOURNAL_MEM_MAX, then the temporary file after all. SQLite keeps that
 * file for the rest of the transaction and every later statement's journal
 * goes to it (two pwrite(2)s a page: a bulk schedule of 100,000 jobs made
 * 8,206 of them), where a buffer costs a memcpy. Freed as the transaction
 * ends, when SQLite closes it; a TEMP database's pager keeps its journal
 * open as long as the connection, so a journal that starts again from its
 * beginning (no savepoint needs what it held) gives back what it grew to.
 *
 * The database file and every other file are SQLite's own, untouched, but
 * for the barrier and lock calls above.
 */
#include "store/sqlite/sqlite_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WALBUF_VFS "tenantdel"
/* The most one write through the unix VFS may carry, in whole pages: its
 * xWrite takes at most 128 KiB - 1 bytes (seekAndWriteFd keeps 17 bits of
 * the length), and a longer one fails as "disk full". It bounds the WAL
 * buffer (30 frames of 4 KiB pages a write) and the statement journal's
 * pieces, which SQLite writes one a call when the journal spills. */
#define VFS_WRITE_MAX (124 * 1024)
#define WALBUF_CAP VFS_WRITE_MAX
#define STMT_JOURNAL_SPILL VFS_WRITE_MAX /* see walbuf_init */
#define ROUND8(n) (((n) + 7) & ~(size_t)7)
#define MAX2(a, b) ((a) > (b) ? (a) : (b))
#define MAX3(a, b, c) MAX2(MAX2(a, b), c)

/* How much of statement journals is held in memory: past it, the
 * journal goes to a temporary file as SQLite's would. */
#define SUBJOURNAL_MEM_MAX (16u << 20)

struct wal_file;

/* One of our files: SQLite's own (real) behind it. */
struct shim_file {
	sqlite3_file base;
	sqlite3_file *real;
};

/* A database file: SQLite's, with its WAL's buffer flushed at barriers. */
struct main_file {
	struct shim_file s;
	const char *name;        /* the pointer SQLite opened it with */
	struct wal_file *wal;    /* its WAL, while open (under vfs_mutex) */
	struct main_file *next;  /* open database files (under vfs_mutex) */
};

/* A WAL file: SQLite's, with the buffer. */
struct wal_file {
	struct shim_file s;
	struct main_file *db;    /* its database file, if found (under vfs_mutex) */
	unsigned char *buf;
	sqlite3_int64 off;       /* the file offset of buf[0] */
	size_t len;              /* bytes held */
};

/* A statement journal: in memory, or (past SUBJOURNAL_MEM_MAX) SQLite's
 * temporary file, opened then. */
struct sub_file {
	struct shim_file s;
	unsigned char *mem;
	size_t len, cap;
	int flags;    /* what SQLite opened it with */
	int on_disk;  /* s.real is open and holds everything */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs walbuf_vfs;
static pthread_once_t walbuf_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t vfs_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct main_file *open_mains;
static int walbuf_ok;
static struct walbuf_stats stats;

/* The real file behind one of ours: placed after it in SQLite's buffer. */
static sqlite3_file *real_of(void *f, size_t ours)
{
	return (sqlite3_file *)((char *)f + ROUND8(ours));
}

/* ---- what both kinds of file pass to SQLite's own ---- */

#define REAL(f) (((struct shim_file *)(f))->real)
static int shim_read(sqlite3_file *f, void *out, int amt, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), out, amt, off);
}
static int shim_write(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xWrite(REAL(f), data, amt, off);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int shim_sync(sqlite3_file *f, int flags) { return REAL(f)->pMethods->xSync(REAL(f), flags); }
static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int shim_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int shim_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int shim_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int shim_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int shim_sector_size(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int shim_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int shim_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **out)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), region, size, extend, out);
}
static int shim_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, amt, out);
}
static int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}
#undef REAL

/* ---- the WAL ---- */

/* What is held goes to the file, in one write; SQLITE_OK or its error. */
static int wal_flush(struct wal_file *w)
{
	int rc;

	if (w->len == 0)
		return SQLITE_OK;
	rc = w->s.real->pMethods->xWrite(w->s.real, w->buf, (int)w->len, w->off);
	__atomic_add_fetch(&stats.writes, 1, __ATOMIC_RELAXED);
	/* written or not, it is not held any more: a failed write fails the
	 * transaction, which SQLite rolls back (its frames are never used) */
	w->len = 0;
	return rc;
}

static int wal_close(sqlite3_file *f)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc = wal_flush(w), rc2;

	pthread_mutex_lock(&vfs_mutex);
	if (w->db != NULL)
		w->db->wal = NULL;
	pthread_mutex_unlock(&vfs_mutex);
	rc2 = w->s.real->pMethods->xClose(w->s.real);
	free(w->buf);
	w->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *f, void *out, int amt, sqlite3_int64 off)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc = wal_flush(w);

	return rc != SQLITE_OK ? rc : shim_read(f, out, amt, off);
}

/* Appended, or written over what is held, when it fits; else what is held
 * goes first. */
static int wal_write(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off)
{
	struct wal_file *w = (struct wal_file *)f;
	size_t n = (size_t)amt;
	int rc;

	__atomic_add_fetch(&stats.calls, 1, __ATOMIC_RELAXED);
	if (w->len > 0 && off >= w->off && off <= w->off + (sqlite3_int64)w->len &&
	    (size_t)(off - w->off) + n <= WALBUF_CAP) {
		size_t at = (size_t)(off - w->off);

		memcpy(w->buf + at, data, n);
		if (at + n > w->len)
			w->len = at + n;
		return SQLITE_OK;
	}
	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	if (n > WALBUF_CAP) {
		__atomic_add_fetch(&stats.writes, 1, __ATOMIC_RELAXED);
		return w->s.real->pMethods->xWrite(w->s.real, data, amt, off);
	}
	if (w->buf == NULL && (w->buf = malloc(WALBUF_CAP)) == NULL) {
		__atomic_add_fetch(&stats.writes, 1, __ATOMIC_RELAXED);
		return w->s.real->pMethods->xWrite(w->s.real, data, amt, off);
	}
	memcpy(w->buf, data, n);
	w->off = off;
	w->len = n;
	return SQLITE_OK;
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc = wal_flush(w);

	return rc != SQLITE_OK ? rc : shim_truncate(f, size);
}

static int wal_sync(sqlite3_file *f, int flags)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc = wal_flush(w);

	return rc != SQLITE_OK ? rc : shim_sync(f, flags);
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc = wal_flush(w);

	return rc != SQLITE_OK ? rc : shim_file_size(f, size);
}

static const sqlite3_io_methods wal_methods = {
	.iVersion = 1,
	.xClose = wal_close,
	.xRead = wal_read,
	.xWrite = wal_write,
	.xTruncate = wal_truncate,
	.xSync = wal_sync,
	.xFileSize = wal_file_size,
	.xLock = shim_lock,
	.xUnlock = shim_unlock,
	.xCheckReservedLock = shim_check_reserved,
	.xFileControl = shim_file_control,
	.xSectorSize = shim_sector_size,
	.xDeviceCharacteristics = shim_device,
};

/* ---- a statement's journal ---- */

/* The buffer at cap bytes (0: none); 0, or -1 when memory is short (the
 * buffer is then as it was). stats.held follows. */
static int sub_resize(struct sub_file *j, size_t cap)
{
	unsigned char *mem = NULL;

	if (cap > 0 && (mem = realloc(j->mem, cap)) == NULL)
		return -1;
	if (cap == 0)
		free(j->mem);
	__atomic_add_fetch(&stats.held, (uint64_t)cap - (uint64_t)j->cap, __ATOMIC_RELAXED);
	j->mem = mem;
	j->cap = cap;
	if (j->len > cap)
		j->len = cap;
	return 0;
}

static int sub_close(sqlite3_file *f)
{
	struct sub_file *j = (struct sub_file *)f;

	(void)sub_resize(j, 0);
	return j->on_disk ? j->s.real->pMethods->xClose(j->s.real) : SQLITE_OK;
}

static int sub_read(sqlite3_file *f, void *out, int amt, sqlite3_int64 off)
{
	struct sub_file *j = (struct sub_file *)f;
	size_t n = (size_t)amt, have;

	if (j->on_disk)
		return shim_read(f, out, amt, off);
	have = (size_t)off < j->len ? j->len - (size_t)off : 0;
	if (have > n)
		have = n;
	if (have > 0)
		memcpy(out, j->mem + off, have);
	if (have == n)
		return SQLITE_OK;
	memset((char *)out + have, 0, n - have); /* as a short read must */
	return SQLITE_IOERR_SHORT_READ;
}

/* What memory holds goes to SQLite's temporary file, opened now, in
 * writes the unix VFS takes (VFS_WRITE_MAX); memory is freed. When the
 * file cannot be opened or written, memory keeps it all (as SQLite's own
 * journal does when its spill fails): the statement that fails on the
 * error is undone from it. */
static int sub_to_disk(struct sub_file *j)
{
	int rc = real_vfs->xOpen(real_vfs, NULL, j->s.real, j->flags, NULL);

	if (rc != SQLITE_OK)
		return rc;
	for (size_t at = 0; rc == SQLITE_OK && at < j->len; at += VFS_WRITE_MAX) {
		size_t n = j->len - at < VFS_WRITE_MAX ? j->len - at : VFS_WRITE_MAX;

		rc = j->s.real->pMethods->xWrite(j->s.real, j->mem + at, (int)n,
						 (sqlite3_int64)at);
	}
	if (rc != SQLITE_OK) {
		j->s.real->pMethods->xClose(j->s.real);
		return rc;
	}
	j->on_disk = 1;
	(void)sub_resize(j, 0);
	__atomic_add_fetch(&stats.spilled_to_disk, 1, __ATOMIC_RELAXED);
	return rc;
}

static int sub_write(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off)
{
	struct sub_file *j = (struct sub_file *)f;
	size_t end = (size_t)off + (size_t)amt;
	int rc;

	if (j->on_disk)
		return shim_write(f, data, amt, off);
	if (off == 0) {
		/* a new first record: nothing before it is needed any more */
		j->len = 0;
		if (j->cap > 2 * STMT_JOURNAL_SPILL)
			(void)sub_resize(j, 2 * STMT_JOURNAL_SPILL);
	}
	if (end > j->cap) {
		size_t cap = j->cap ? j->cap : 2 * STMT_JOURNAL_SPILL;

		while (cap < end)
			cap *= 2;
		if (cap > SUBJOURNAL_MEM_MAX)
			cap = SUBJOURNAL_MEM_MAX;
		/* past SUBJOURNAL_MEM_MAX, or short of memory: to the file */
		if (end > cap || sub_resize(j, cap) < 0) {
			if ((rc = sub_to_disk(j)) != SQLITE_OK)
				return rc;
			return shim_write(f, data, amt, off);
		}
	}
	if ((size_t)off > j->len) /* never done by SQLite: a hole reads as zeros */
		memset(j->mem + j->len, 0, (size_t)off - j->len);
	memcpy(j->mem + off, data, (size_t)amt);
	if (end > j->len)
		j->len = end;
	return SQLITE_OK;
}

static int sub_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct sub_file *j = (struct sub_file *)f;

	if (j->on_disk)
		return shim_truncate(f, size);
	if ((size_t)size < j->len)
		j->len = (size_t)size;
	return SQLITE_OK;
}

static int sub_sync(sqlite3_file *f, int flags)
{
	struct sub_file *j = (struct sub_file *)f;

	return j->on_disk ? shim_sync(f, flags) : SQLITE_OK;
}

static int sub_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct sub_file *j = (struct sub_file *)f;

	if (j->on_disk)
		return shim_file_size(f, size);
	*size = (sqlite3_int64)j->len;
	return SQLITE_OK;
}

/* A journal is private to its connection: no locks to take. */
static int sub_lock(sqlite3_file *f, int l) { return SQLITE_OK; }
static int sub_check_reserved(sqlite3_file *f, int *out)
{
	*out = 0;
	return SQLITE_OK;
}
static int sub_file_control(sqlite3_file *f, int op, void *arg)
{
	struct sub_file *j = (struct sub_file *)f;

	return j->on_disk ? shim_file_control(f, op, arg) : SQLITE_NOTFOUND;
}
static int sub_sector_size(sqlite3_file *f) { return 4096; }
static int sub_device(sqlite3_file *f) { return 0; }

static const sqlite3_io_methods sub_methods = {
	.iVersion = 1,
	.xClose = sub_close,
	.xRead = sub_read,
	.xWrite = sub_write,
	.xTruncate = sub_truncate,
	.xSync = sub_sync,
	.xFileSize = sub_file_size,
	.xLock = sub_lock,
	.xUnlock = sub_lock,
	.xCheckReservedLock = sub_check_reserved,
	.xFileControl = sub_file_control,
	.xSectorSize = sub_sector_size,
	.xDeviceCharacteristics = sub_device,
};

/* ---- the database file ---- */

/* Its WAL's frames go to the file: another connection may read them once
 * the WAL index names them. */
static void main_flush_wal(struct main_file *m)
{
	/* The WAL is this connection's: only its own thread writes or closes
	 * it, and that thread is the one calling here. */
	if (m->wal != NULL)
		(void)wal_flush(m->wal);
}

static int main_close(sqlite3_file *f)
{
	struct main_file *m = (struct main_file *)f;

	pthread_mutex_lock(&vfs_mutex);
	for (struct main_file **p = &open_mains; *p != NULL; p = &(*p)->next)
		if (*p == m) {
			*p = m->next;
			break;
		}
	if (m->wal != NULL)
		m->wal->db = NULL;
	pthread_mutex_unlock(&vfs_mutex);
	return m->s.real->pMethods->xClose(m->s.real);
}

static void main_shm_barrier(sqlite3_file *f)
{
	struct main_file *m = (struct main_file *)f;

	main_flush_wal(m);
	m->s.real->pMethods->xShmBarrier(m->s.real);
}

static int main_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	struct main_file *m = (struct main_file *)f;

	if (flags & SQLITE_SHM_UNLOCK)
		main_flush_wal(m);
	return m->s.real->pMethods->xShmLock(m->s.real, offset, n, flags);
}

static const sqlite3_io_methods main_methods = {
	.iVersion = 3,
	.xClose = main_close,
	.xRead = shim_read,
	.xWrite = shim_write,
	.xTruncate = shim_truncate,
	.xSync = shim_sync,
	.xFileSize = shim_file_size,
	.xLock = shim_lock,
	.xUnlock = shim_unlock,
	.xCheckReservedLock = shim_check_reserved,
	.xFileControl = shim_file_control,
	.xSectorSize = shim_sector_size,
	.xDeviceCharacteristics = shim_device,
	.xShmMap = shim_shm_map,
	.xShmLock = main_shm_lock,
	.xShmBarrier = main_shm_barrier,
	.xShmUnmap = shim_shm_unmap,
	.xFetch = shim_fetch,
	.xUnfetch = shim_unfetch,
};

/* ---- the VFS ---- */

static int walbuf_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
		       int *out_flags)
{
	int rc;

	(void)vfs;
	if (flags & SQLITE_OPEN_WAL) {
		struct wal_file *w = (struct wal_file *)f;
		const char *db = sqlite3_filename_database(name);

		memset(w, 0, sizeof *w);
		w->s.real = real_of(f, sizeof *w);
		rc = real_vfs->xOpen(real_vfs, name, w->s.real, flags, out_flags);
		if (rc != SQLITE_OK || w->s.real->pMethods == NULL)
			return rc; /* base.pMethods NULL: SQLite closes nothing */
		pthread_mutex_lock(&vfs_mutex);
		for (struct main_file *m = open_mains; m != NULL; m = m->next)
			if (m->name == db && m->wal == NULL) {
				m->wal = w;
				w->db = m;
				break;
			}
		pthread_mutex_unlock(&vfs_mutex);
		w->s.base.pMethods = &wal_methods;
		return rc;
	}
	if (flags & SQLITE_OPEN_MAIN_DB) {
		struct main_file *m = (struct main_file *)f;

		memset(m, 0, sizeof *m);
		m->s.real = real_of(f, sizeof *m);
		rc = real_vfs->xOpen(real_vfs, name, m->s.real, flags, out_flags);
		if (rc != SQLITE_OK || m->s.real->pMethods == NULL)
			return rc;
		if (m->s.real->pMethods->iVersion < 3)
			goto as_is; /* cannot happen with unix: its shm calls to forward */
		m->name = name;
		pthread_mutex_lock(&vfs_mutex);
		m->next = open_mains;
		open_mains = m;
		pthread_mutex_unlock(&vfs_mutex);
		m->s.base.pMethods = &main_methods;
		return rc;
	as_is:
		m->s.real->pMethods->xClose(m->s.real);
	}
	if ((flags & SQLITE_OPEN_SUBJOURNAL) && name == NULL) {
		struct sub_file *j = (struct sub_file *)f;

		memset(j, 0, sizeof *j);
		j->s.real = real_of(f, sizeof *j);
		j->flags = flags;
		j->s.base.pMethods = &sub_methods;
		if (out_flags != NULL)
			*out_flags = flags;
		__atomic_add_fetch(&stats.spilled, 1, __ATOMIC_RELAXED);
		return SQLITE_OK;
	}
	/* anything else (journals, temporary files): SQLite's own, in place */
	return real_vfs->xOpen(real_vfs, name, f, flags, out_flags);
}

static void walbuf_init(void)
{
	/* Before SQLite initialises (sqlite3_vfs_find does): a statement's
	 * journal (the pages it changed, kept to undo it alone) stays in
	 * SQLite's memory up to this size, instead of its 64 KiB; it is
	 * emptied after each statement. Past it, the journal becomes a file for
	 * the rest of the transaction, which every later statement writes to
	 * (a sub_file here: before it, a temporary file, and a housekeeping
	 * pass starting 128 jobs made 30,000 pwrite(2)s of it). That pass (13
	 * services) needs 96-128 KiB. Not more, for two reasons:
	 * SQLite keeps the journal in memory as pieces of this size and spills
	 * it a piece a write, which VFS_WRITE_MAX bounds (a 256 KiB piece
	 * failed; test_walbuf); and it allocates a whole piece at a statement's
	 * first journal write (with 4 MiB, an ASan build took 2.5 times the
	 * page faults of a run). */
	(void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, STMT_JOURNAL_SPILL);
	real_vfs = sqlite3_vfs_find(NULL);
	if (real_vfs == NULL)
		return;
	/* everything but xOpen as the default VFS's own: they see the same
	 * pAppData and mxPathname through this copy */
	walbuf_vfs = *real_vfs;
	walbuf_vfs.pNext = NULL;
	walbuf_vfs.zName = WALBUF_VFS;
	walbuf_vfs.szOsFile = (int)(ROUND8(MAX3(sizeof(struct main_file), sizeof(struct wal_file),
						 sizeof(struct sub_file))) +
				    (size_t)real_vfs->szOsFile);
	walbuf_vfs.xOpen = walbuf_open;
	walbuf_ok = sqlite3_vfs_register(&walbuf_vfs, 0) == SQLITE_OK;
}

const char *sqlite_walbuf_vfs(void)
{
	pthread_once(&walbuf_once, walbuf_init);
	return walbuf_ok ? WALBUF_VFS : NULL;
}

void sqlite_walbuf_stats(struct walbuf_stats *out)
{
	out->calls = __atomic_load_n(&stats.calls, __ATOMIC_RELAXED);
	out->writes = __atomic_load_n(&stats.writes, __ATOMIC_RELAXED);
	out->spilled = __atomic_load_n(&stats.spilled, __ATOMIC_RELAXED);
	out->spilled_to_disk = __atomic_load_n(&stats.spilled_to_disk, __ATOMIC_RELAXED);
	out->held = __atomic_load_n(&stats.held, __ATOMIC_RELAXED);
}
