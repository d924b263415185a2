"""The store backend the end-to-end tests run against, and where a test's
store lives: "sqlite" (default: the workdir's tenantdel.db), or
"postgresql" (TENANTDEL_TEST_BACKEND=postgresql with TENANTDEL_TEST_PG_DSN
naming a cluster, tests/pg/cluster): a database of its own per workdir,
named by a [store] section that every config the tests write gets.
Standard library only; fleet.py and harness.py use it."""
import os
import shutil
import subprocess
import tempfile
import time

BACKEND = os.environ.get("TENANTDEL_TEST_BACKEND", "sqlite")
SRCDIR = os.environ.get("TENANTDEL_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CLUSTER = os.path.join(SRCDIR, "tests", "pg", "cluster")
DSN_FILE = "pg.dsn"


class PgCluster:
    """A throwaway PostgreSQL cluster in a temporary folder (tests/pg/cluster),
    or the one a DSN names: databases on it for the tests."""

    def __init__(self, dsn=None):
        self.dir = None
        self.dsn = dsn

    def start(self):
        if self.dsn is None:
            self.dir = tempfile.mkdtemp(prefix="tenantdel-pg-")
            p = subprocess.run([CLUSTER, "start", self.dir], capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError("cannot start PostgreSQL: " + p.stderr)
            self.dsn = p.stdout.strip()
        return self

    def stop(self):
        if self.dir is not None:
            subprocess.run([CLUSTER, "stop", self.dir], capture_output=True)
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def restart(self):
        """Restarts the server at once (pg_ctl restart -m immediate: every
        connection cut, no checkpoint). Only a cluster of this test's own."""
        if self.dir is None:
            raise RuntimeError("restart: not a cluster of this test's own")
        p = subprocess.run([CLUSTER, "restart", self.dir], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("cannot restart PostgreSQL: " + p.stderr)

    def psql(self, sql, db=None, dsn=None):
        """Runs sql on the cluster (database db, or the DSN dsn, else the
        cluster's); returns its output (unaligned, tuples only, fields
        separated by a tab)."""
        dsn = dsn or (self.dsn if db is None else self.db_dsn(db))
        p = subprocess.run(["psql", "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-d", dsn, "-c", sql], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("psql: " + p.stderr)
        return p.stdout

    def db_dsn(self, name):
        return " ".join(w for w in self.dsn.split() if not w.startswith("dbname=")) + \
            " dbname=" + name

    def new_db(self):
        """A new empty database; returns its DSN."""
        name = "td_%d_%d" % (os.getpid(), int(time.monotonic() * 1e6))
        self.psql("CREATE DATABASE %s" % name)
        return self.db_dsn(name)


_env_cluster = None


def env_cluster():
    """The cluster of TENANTDEL_TEST_PG_DSN (BACKEND postgresql), or None."""
    global _env_cluster
    if BACKEND == "postgresql" and _env_cluster is None:
        dsn = os.environ.get("TENANTDEL_TEST_PG_DSN")
        if not dsn:
            raise RuntimeError("TENANTDEL_TEST_BACKEND=postgresql needs TENANTDEL_TEST_PG_DSN")
        _env_cluster = PgCluster(dsn).start()
    return _env_cluster


def store_section(folder, node=None):
    """The [store] section of the backend under test for the workdir folder
    ("" for SQLite): its database, created at the first call (its DSN in
    folder/pg.dsn, a secret file as in production)."""
    cluster = env_cluster()
    if cluster is None:
        return ""
    path = os.path.join(folder, DSN_FILE)
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(cluster.new_db() + "\n")
    return "\n[store]\nbackend = postgresql\ndsn_file = %s\n%s" % (
        path, "node = %s\n" % node if node else "")


def with_store(text, folder):
    """Config text with the backend's [store] section added (none when the
    text has one of its own, or for SQLite)."""
    if BACKEND != "postgresql" or "[store]" in text:
        return text
    return text.rstrip("\n") + "\n" + store_section(folder)


def rows(folder, query, args=()):
    """The rows of query (? placeholders: args) on the workdir's PostgreSQL
    database, as tuples of int (when the text is one) or str."""
    with open(os.path.join(folder, DSN_FILE)) as f:
        dsn = f.read().strip()
    parts = query.split("?")
    if len(parts) != len(args) + 1:
        raise ValueError("%d placeholders, %d arguments" % (len(parts) - 1, len(args)))
    sql = parts[0]
    for a, rest in zip(args, parts[1:]):
        sql += (str(a) if isinstance(a, int) else "'" + str(a).replace("'", "''") + "'") + rest
    out = []
    for line in env_cluster().psql(sql, dsn=dsn).splitlines():
        out.append(tuple(int(v) if v.lstrip("-").isdigit() else v for v in line.split("\t")))
    return out
