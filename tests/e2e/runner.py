#!/usr/bin/env python3
"""Runs the end-to-end tests (tests/e2e/test_*.py) with unittest and writes
one TAP line per test, so that tests/run-tests can count them with the unit
tests. Exit status: 0 when all passed.

Each file runs in a process of its own, --jobs of them at a time (most of
a test's time is spent waiting on the binary, the fleet or a timeout, not
on a core), longest first (the times of the last run, kept in --times).
A file's output is printed whole when it ends; the TAP lines are written
in the order of the files, whichever ended first. A file whose process
ends without reporting a failure, yet not with 0 (it crashed, or ran past
--file-timeout and was killed with everything it started), counts as one
failure.

With --backend postgresql (on the cluster of TENANTDEL_TEST_PG_DSN that
tests/pg/with-cluster starts; a database per workdir) it runs the files of
POSTGRESQL_FILES only, less the tests marked harness.sqlite_only, and names
each test with the backend. --backend may be given twice: both runs share
the pool of processes."""
import argparse
import fnmatch
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

# The files that go through the store, run again on PostgreSQL: the
# engine, the API and the CLI, approvals, proofs and certificates, subject
# erasure, webhooks and metrics, the safety files about the engine, the
# outcomes, time and the outbox, and the chaos test. Left SQLite-only, for
# what they test is not the store's contract:
#   test_safety_store    SQLite's own file: damage, disk full, read-only, locks
#   test_config_scale    config parsing at scale (the store is incidental)
#   test_packaging       install layout, systemd unit, man page
#   test_dashboard, test_alerting, test_api_dashboard, test_safety_api
#                        the browser UI, Prometheus rules and HTTP hardening
#   test_fleet_selftest  the fake fleet itself
#   test_pg_store        PostgreSQL already (a cluster of its own or make test's)
#   test_migrate_store   copies between the two backends itself
POSTGRESQL_FILES = (
    "test_engine*.py", "test_api.py", "test_api_callers.py", "test_cli.py",
    "test_approval.py", "test_proof*.py", "test_subject*.py", "test_webhooks.py",
    "test_metrics.py", "test_safety_engine.py", "test_safety_outcome.py",
    "test_safety_time.py", "test_safety_outbox.py", "test_chaos.py",
)

# The files that keep the cores busy (hundreds of jobs as fast as the
# binary goes, against deadlines): one at a time, and each counts as two
# of --jobs, for side by side with others the chaos tests took twice as
# long, past their deadlines under the sanitizers. The files that mostly
# wait (a daemon's timer, a timeout) run alongside.
CPU_BOUND_FILES = ("test_chaos.py", "test_pg_chaos.py")

# Seconds a file takes, for the order of the first run (no --times file
# yet, as on CI's clean clone): the long ones start first. Only an order;
# a file missing here counts as DEFAULT_SECONDS.
FIRST_RUN_SECONDS = {
    "test_chaos.py": 70, "test_pg_chaos.py": 70, "test_safety_engine.py": 40,
    "test_engine_daemon.py": 35, "test_pg_engine.py": 35, "test_pg_outage.py": 30,
    "test_safety_api.py": 25, "test_dashboard.py": 25, "test_cli.py": 20,
}
DEFAULT_SECONDS = 5.0


def for_backend(suite, backend):
    """The tests of suite that run on backend: on postgresql those of
    POSTGRESQL_FILES not marked harness.sqlite_only."""
    out = unittest.TestSuite()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            out.addTests(for_backend(t, backend))
            continue
        if backend == "postgresql":
            name = type(t).__module__.split(".")[-1] + ".py"
            fn = getattr(t, t._testMethodName, None)
            if not on_postgresql(name) or \
                    getattr(fn, "sqlite_only", None) or getattr(type(t), "sqlite_only", None):
                continue
        out.addTest(t)
    return out


def on_postgresql(name):
    """Whether the file name is run again on PostgreSQL."""
    return any(fnmatch.fnmatch(name, g) for g in POSTGRESQL_FILES)


class TapResult(unittest.TextTestResult):
    def __init__(self, stream, descriptions, verbosity, tap, label=""):
        super().__init__(stream, descriptions, verbosity)
        self.tap = tap
        self.label = label
        self._failed_subtests = set()
        self.n = 0
        self._t0 = 0.0

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def _line(self, ok, test, note=""):
        self.n += 1
        dt = time.monotonic() - self._t0
        self.tap.write("%s %d - %s (%.1fs)%s\n" % (
            "ok" if ok else "not ok", self.n, test.id() + self.label, dt, note))
        self.tap.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addSubTest(self, test, subtest, err):
        # a failed subtest fails its test (one line: addSuccess never comes)
        super().addSubTest(test, subtest, err)
        if err is not None and test not in self._failed_subtests:
            self._failed_subtests.add(test)
            self._line(False, test, " # subtest %s" % subtest._subDescription())

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, " # SKIP " + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test)


def run_one(name, backend, tap_path):
    """Runs the tests of the file name on backend (this process: a worker
    of main's pool); writes their TAP lines to tap_path. 0 when all passed."""
    os.environ["TENANTDEL_TEST_BACKEND"] = backend  # before harness is imported
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.discover(HERE, pattern=name, top_level_dir=HERE)
    suite = for_backend(suite, backend)
    label = " [postgresql]" if backend == "postgresql" else ""
    with open(tap_path, "w") as tap:
        runner = unittest.TextTestRunner(
            stream=sys.stdout, verbosity=2,
            resultclass=lambda s, d, v: TapResult(s, d, v, tap, label))
        result = runner.run(suite)
    return 0 if result.wasSuccessful() else 1


class Item:
    """One file on one backend: its process, output and TAP lines."""

    def __init__(self, name, backend, seconds):
        self.name, self.backend, self.seconds = name, backend, seconds
        self.key = "%s/%s" % (backend, name)
        self.proc = self.out = self.tap_path = None
        self.started = self.took = 0.0
        self.timed_out = False
        self.tap = []

    def title(self):
        return self.name + (" [postgresql]" if self.backend == "postgresql" else "")


def plan(pattern, backends, times):
    """The items to run (files matching pattern, per backend), in the
    order their TAP lines are written."""
    names = sorted(n for n in os.listdir(HERE)
                   if n.endswith(".py") and fnmatch.fnmatch(n, pattern))
    items = []
    for b in backends:
        for n in names:
            if b == "postgresql" and not on_postgresql(n):
                continue
            guess = FIRST_RUN_SECONDS.get(n, DEFAULT_SECONDS)
            items.append(Item(n, b, times.get("%s/%s" % (b, n), guess)))
    return items


def start(item, slot, work):
    """Starts item's process, in a session of its own (so that a timeout
    ends all it started); E2E_WORKER is its slot in the pool."""
    item.tap_path = os.path.join(work, item.key.replace("/", "-") + ".tap")
    item.out = open(os.path.join(work, item.key.replace("/", "-") + ".out"), "w+")
    env = dict(os.environ, E2E_WORKER=str(slot), PYTHONUNBUFFERED="1")
    item.started = time.monotonic()
    item.proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--one", item.name,
         "--backend", item.backend, "--tap", item.tap_path],
        stdout=item.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, start_new_session=True)


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def finish(item, total, file_timeout):
    """Collects a finished item's TAP lines (one failure more when its
    process ended badly without reporting one) and prints its output whole."""
    item.took = time.monotonic() - item.started
    rc = item.proc.returncode
    try:
        with open(item.tap_path) as f:
            item.tap = [l for l in f.read().splitlines() if l.startswith(("ok ", "not ok "))]
    except FileNotFoundError:
        item.tap = []
    item.out.seek(0)
    text = item.out.read()
    item.out.close()
    if rc != 0 and not any(l.startswith("not ok") for l in item.tap):
        why = "%s: %s after %d test(s)" % (
            item.title(), "ran past %.0fs, killed" % file_timeout if item.timed_out
            else "exited with %d" % rc, len(item.tap))
        item.tap.append("not ok 0 - " + why)
        text += "\nrunner.py: " + why + "\n"
    failed = sum(1 for l in item.tap if l.startswith("not ok"))
    sys.stdout.write("\n===== [%d/%d] %s: %d ok, %d failed, %.1fs =====\n%s" % (
        total[0], total[1], item.title(), len(item.tap) - failed, failed, item.took, text))
    if not text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()


def weight(item):
    return 2 if item.name in CPU_BOUND_FILES else 1


def next_item(pending, running, jobs):
    """Takes the first of pending that fits beside running (the weights
    within jobs, one of CPU_BOUND_FILES at most), or returns None."""
    used = sum(weight(i) for i in running)
    cpu_bound = any(weight(i) > 1 for i in running)
    for n, item in enumerate(pending):
        if weight(item) > 1 and cpu_bound:
            continue
        if used + weight(item) <= jobs or not running:
            return pending.pop(n)
    return None


def run_pool(items, jobs, file_timeout, work):
    """Runs items, jobs at a time (by weight), longest first; returns when
    all ended. A process's E2E_WORKER is its slot, below jobs."""
    pending = sorted(items, key=lambda i: -i.seconds)
    running = {}  # slot -> item
    done = 0
    try:
        while pending or running:
            item = next_item(pending, running.values(), jobs)
            while item is not None:
                slot = min(set(range(jobs)) - set(running))
                running[slot] = item
                start(item, slot, work)
                item = next_item(pending, running.values(), jobs)
            time.sleep(0.05)
            for slot, item in list(running.items()):
                if item.proc.poll() is None:
                    if time.monotonic() - item.started > file_timeout:
                        item.timed_out = True
                        kill_group(item.proc)
                    continue
                kill_group(item.proc)  # whatever the tests left behind
                del running[slot]
                done += 1
                finish(item, (done, len(items)), file_timeout)
    finally:
        for item in running.values():
            kill_group(item.proc)


def write_tap(path, items):
    """Writes the TAP lines of items to path, numbered anew in the order of
    items; returns how many."""
    n = 0
    with open(path, "w") as tap:
        for item in items:
            for line in item.tap:
                n += 1
                m = re.match(r"(ok|not ok) \d+ - (.*)", line)
                tap.write("%s %d - %s\n" % (m.group(1), n, m.group(2)))
    return n


def load_times(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_times(path, items):
    times = load_times(path)
    times.update({i.key: round(i.took, 1) for i in items})
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(times, f, indent=0, sort_keys=True)
    os.replace(tmp, path)


def default_jobs():
    """Twice the cores, at least 2, at most 4: the tests mostly wait."""
    return max(2, min(4, 2 * (os.cpu_count() or 1)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tap", required=True)
    ap.add_argument("--pattern", default="test_*.py")
    ap.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("E2E_JOBS") or 0))
    ap.add_argument("--times", help="a file keeping each file's time, for the order")
    ap.add_argument("--file-timeout", type=float, default=900.0)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # a worker: this file only
    args = ap.parse_args()
    backends = args.backend or ["sqlite"]
    if args.one:
        return run_one(args.one, backends[0], args.tap)
    items = plan(args.pattern, backends, load_times(args.times) if args.times else {})
    jobs = args.jobs if args.jobs > 0 else default_jobs()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tenantdel-e2e-run-") as work:
        run_pool(items, jobs, args.file_timeout, work)
    n = write_tap(args.tap, items)
    if args.times:
        save_times(args.times, items)
    slow = sorted(items, key=lambda i: -i.took)[:5]
    print("\nend-to-end: %d files, %d tests in %.0fs with %d processes; longest: %s" % (
        len(items), n, time.monotonic() - t0, jobs,
        ", ".join("%s %.0fs" % (i.title(), i.took) for i in slow)))
    return 0 if all(not l.startswith("not ok") for i in items for l in i.tap) else 1


if __name__ == "__main__":
    sys.exit(main())
