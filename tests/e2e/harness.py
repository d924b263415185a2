"""Shared helpers for the end-to-end tests: a temporary work folder with a
token, a config and a database; running the real tenantdel binary; starting
and stopping a daemon; waiting for conditions instead of sleeping."""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest

from fleet import Fleet, write_fleet_config

BIN = os.environ.get("TENANTDEL_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "tenantdel")
SRCDIR = os.environ.get("TENANTDEL_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOKEN = "s3cr3t-token-e2e-7f9a1c"

# The store backend the tests run against: "sqlite" (default), or
# "postgresql" with TENANTDEL_TEST_PG_DSN naming a cluster (tests/pg/cluster):
# each Workdir then gets a database of its own there, and FleetCase.conf a
# [store] section naming it.
BACKEND = os.environ.get("TENANTDEL_TEST_BACKEND", "sqlite")
CLUSTER = os.path.join(SRCDIR, "tests", "pg", "cluster")


class PgCluster:
    """A throwaway PostgreSQL cluster in a temporary folder (tests/pg/cluster),
    or the one TENANTDEL_TEST_PG_DSN names: databases on it for the tests."""

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
        connection cut, no checkpoint). Only a cluster of its own."""
        if self.dir is None:
            raise RuntimeError("restart: not a cluster of this test's own")
        p = subprocess.run([CLUSTER, "restart", self.dir], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("cannot restart PostgreSQL: " + p.stderr)

    def psql(self, sql, db=None):
        """Runs sql on the cluster (database db, else the DSN's); returns its
        output (unaligned, tuples only)."""
        dsn = self.dsn if db is None else self.db_dsn(db)
        p = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", dsn,
                            "-c", sql], capture_output=True, text=True)
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


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    """Polls pred() until it returns a truthy value; returns it. Raises
    AssertionError naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago (nothing listens on it)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fill_disk(path):
    """Writes zeros to the file path until its file system is full."""
    with open(path, "wb", buffering=0) as f:  # nothing left to flush at close
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def own_tests(suite):
    """The tests of suite whose class defines them itself, without those it
    inherits from another file's test class (whose file runs them): for a
    load_tests(loader, tests, pattern) returning own_tests(tests)."""
    out = unittest.TestSuite()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            out.addTests(own_tests(t))
        elif t._testMethodName in vars(type(t)):
            out.addTest(t)
    return out


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "Result(rc=%d, out=%r, err=%r)" % (self.rc, self.out[-2000:], self.err[-2000:])


class Workdir:
    """A temporary folder holding tenantdel.conf, service.token and the db."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="tenantdel-e2e-")
        self.token_file = os.path.join(self.path, "service.token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.conf = os.path.join(self.path, "tenantdel.conf")
        self.db = os.path.join(self.path, "tenantdel.db")
        self.daemons = []
        self.dsn_file = None
        self.store = None

    def use_postgresql(self, cluster, node=None):
        """Puts the store in a new database of cluster: writes its DSN to
        pg.dsn; returns the [store] section naming it."""
        self.dsn_file = self.write("pg.dsn", cluster.new_db() + "\n")
        return "\n[store]\nbackend = postgresql\ndsn_file = %s\n%s" % (
            self.dsn_file, "node = %s\n" % node if node else "")

    def store_section(self):
        """The [store] section of the backend under test ("" for SQLite), or
        the one set before (self.store = self.use_postgresql(...)); one
        database per Workdir."""
        if self.store is None:
            cluster = env_cluster()
            if cluster is None:
                return ""
            self.store = self.use_postgresql(cluster)
        return self.store

    def write_conf(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def append_conf(self, text):
        with open(self.conf, "a") as f:
            f.write(text)

    def write(self, name, text):
        """Writes text to the file name in the workdir; returns its path."""
        path = os.path.join(self.path, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run(self, *args, input=None, timeout=60, env=None, conf=True):
        """Runs tenantdel [-c conf] args...; returns Result."""
        cmd = [BIN] + (["-c", self.conf] if conf else []) + [str(a) for a in args]
        e = dict(os.environ)
        e.pop("TENANTDEL_CONFIG", None)
        if env:
            e.update(env)
        p = subprocess.run(cmd, input=input, capture_output=True, text=True,
                           timeout=timeout, cwd=self.path, env=e)
        return Result(p.returncode, p.stdout, p.stderr)

    def start(self, *args, env=None, conf=None):
        """Starts `tenantdel -c conf run args...` in the background (conf:
        the workdir's unless given); stderr (the JSON log) goes to a file in
        the workdir. Returns the Popen."""
        log = open(os.path.join(self.path, "daemon-%d.log" % len(self.daemons)), "w")
        e = dict(os.environ)
        if env:
            e.update(env)
        p = subprocess.Popen([BIN, "-c", conf or self.conf, "run"] + [str(a) for a in args],
                             stdout=log, stderr=log, cwd=self.path, env=e)
        p.logfile = log.name
        self.daemons.append(p)
        return p

    def log_lines(self, p):
        with open(p.logfile) as f:
            out = []
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
            return out

    def stop(self, p, sig=signal.SIGTERM, timeout=30):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def cleanup(self):
        for p in self.daemons:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.path, ignore_errors=True)


class TestCase(unittest.TestCase):
    """Gives each test self.w, a fresh Workdir, removed afterwards."""

    def setUp(self):
        self.w = Workdir()
        self.addCleanup(self.w.cleanup)

    def assertRc(self, res, rc):
        self.assertEqual(res.rc, rc, repr(res))

    def td(self, *args, rc=0, **kw):
        """Runs tenantdel args (Workdir.run) and checks its exit code is rc
        (None: any); returns the Result."""
        res = self.w.run(*args, **kw)
        if rc is not None:
            self.assertRc(res, rc)
        return res

    def sql(self, query, *args):
        """The rows of query on the workdir's database."""
        db = sqlite3.connect(self.w.db)
        try:
            return db.execute(query, args).fetchall()
        finally:
            db.close()


class FleetCase(TestCase):
    """A TestCase with self.fleet, a fake fleet asking for the test token,
    stopped afterwards."""

    def setUp(self):
        super().setUp()
        self.fleet = Fleet(token=TOKEN).start()
        self.addCleanup(self.fleet.stop)

    def conf(self, **kw):
        """Writes the workdir's tenantdel.conf for the fleet (fleet.write_fleet_config
        keywords); returns its text."""
        text = write_fleet_config(self.w.conf, self.fleet, self.w.token_file, self.w.db, **kw)
        store = self.w.store_section()
        if store:
            self.w.append_conf(store)
        return text + store
