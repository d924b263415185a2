"""Shared helpers for the end-to-end tests: a temporary work folder with a
token, a config and a database; running the real tenantdel binary; starting
and stopping a daemon; waiting for conditions instead of sleeping."""
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

import backend
from fleet import Fleet, write_fleet_config

BIN = os.environ.get("TENANTDEL_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "tenantdel")
SRCDIR = os.environ.get("TENANTDEL_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOKEN = "s3cr3t-token-e2e-7f9a1c"

# The store backend under test and its cluster (tests/e2e/backend.py).
BACKEND = backend.BACKEND
PgCluster = backend.PgCluster
env_cluster = backend.env_cluster


def sqlite_only(reason):
    """Marks a test (or a test class) that is about the SQLite store itself
    (its file, the sqlite3 shell): tests/e2e/runner.py leaves it out of the
    PostgreSQL run (not a skip: nothing is missing)."""
    def mark(fn):
        fn.sqlite_only = reason
        return fn
    return mark


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


# free_port's ports: below the kernel's ephemeral range (32768 up), so that
# no connection's source port takes one between free_port and the bind of
# the daemon it is for; the range split between the runner's processes
# (E2E_WORKER, tests/e2e/runner.py), so that two never pick the same one.
PORTS = (10000, 32000)
_rnd = random.Random()


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago (nothing bound to it)."""
    workers = 8
    worker = int(os.environ.get("E2E_WORKER", "0")) % workers
    span = (PORTS[1] - PORTS[0]) // workers
    low = PORTS[0] + worker * span
    for _ in range(200):
        port = _rnd.randrange(low, low + span)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise AssertionError("no free port of 127.0.0.1 in %d..%d" % (low, low + span - 1))


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
        self.dsn_file = self.write(backend.DSN_FILE, cluster.new_db() + "\n")
        return "\n[store]\nbackend = postgresql\ndsn_file = %s\n%s" % (
            self.dsn_file, "node = %s\n" % node if node else "")

    def store_section(self):
        """The [store] section of the backend under test ("" for SQLite), or
        the one set before (self.store = self.use_postgresql(...)); one
        database per Workdir."""
        return self.store if self.store else backend.store_section(self.path)

    def has_store(self):
        """Whether the workdir's store exists (a writer created it)."""
        if BACKEND == "postgresql":
            return os.path.exists(os.path.join(self.path, backend.DSN_FILE)) and \
                backend.rows(self.path, "SELECT to_regclass('jobs') IS NOT NULL") == [("t",)]
        return os.path.exists(self.db)

    def write_conf(self, text):
        """Writes tenantdel.conf: text, with the [store] section of the
        backend under test when text has none."""
        with open(self.conf, "w") as f:
            f.write(backend.with_store(text, self.path))

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
        try:
            p = subprocess.run(cmd, input=input, capture_output=True, text=True,
                               timeout=timeout, cwd=self.path, env=e)
        except subprocess.TimeoutExpired as t:
            err = t.stderr.decode(errors="replace") if isinstance(t.stderr, bytes) else t.stderr
            raise AssertionError("tenantdel %s: still running after %ss (killed); its log:\n%s"
                                 % (" ".join(str(a) for a in args), timeout,
                                    (err or "")[-6000:])) from None
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
            elif p.returncode < 0 and p.returncode not in (-signal.SIGKILL, -signal.SIGTERM):
                # died of a signal of its own (abort, crash): its last
                # lines say why, and the workdir is about to go
                sys.stderr.write("\n%s died of signal %d; its log ends:\n" %
                                 (p.logfile, -p.returncode))
                with open(p.logfile, errors="replace") as f:
                    sys.stderr.write("".join(f.readlines()[-30:]))
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
        """The rows of query on the workdir's database (SQL both backends
        take; ? placeholders), committed."""
        if BACKEND == "postgresql":
            return backend.rows(self.w.path, query, args)
        db = sqlite3.connect(self.w.db)
        try:
            rows = db.execute(query, args).fetchall()
            db.commit()
            return rows
        finally:
            db.close()


    def tamper(self, sql):
        """Runs sql (events rows edited or deleted) behind tenantdel's back,
        as someone with the database's own shell: the append-only guard
        lifted for it (SQLite: its triggers dropped; PostgreSQL: disabled,
        and enabled again after)."""
        if BACKEND == "postgresql":
            backend.rows(self.w.path, "ALTER TABLE events DISABLE TRIGGER USER; %s;"
                         " ALTER TABLE events ENABLE TRIGGER USER" % sql)
            return
        db = sqlite3.connect(self.w.db)
        try:
            db.executescript("DROP TRIGGER IF EXISTS events_no_update;"
                             " DROP TRIGGER IF EXISTS events_no_delete; %s;" % sql)
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
        if self.w.store and "[store]" not in text:  # a store the test chose itself
            self.w.append_conf(self.w.store)
            text += self.w.store
        return text
