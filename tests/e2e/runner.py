#!/usr/bin/env python3
"""Runs the end-to-end tests (tests/e2e/test_*.py) with unittest and writes
one TAP line per test, so that tests/run-tests can count them with the unit
tests. Exit status: 0 when all passed.

With --backend postgresql (tests/run-tests' second run, on the cluster of
TENANTDEL_TEST_PG_DSN that tests/pg/with-cluster starts; a database per
workdir) it runs the files of POSTGRESQL_FILES only, less the tests marked
harness.sqlite_only, and names each test with the backend."""
import argparse
import fnmatch
import os
import sys
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
            if not any(fnmatch.fnmatch(name, g) for g in POSTGRESQL_FILES) or \
                    getattr(fn, "sqlite_only", None) or getattr(type(t), "sqlite_only", None):
                continue
        out.addTest(t)
    return out


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tap", required=True)
    ap.add_argument("--pattern", default="test_*.py")
    ap.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    args = ap.parse_args()
    os.environ["TENANTDEL_TEST_BACKEND"] = args.backend  # before harness is imported
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.discover(HERE, pattern=args.pattern, top_level_dir=HERE)
    suite = for_backend(suite, args.backend)
    label = " [postgresql]" if args.backend == "postgresql" else ""
    with open(args.tap, "w") as tap:
        runner = unittest.TextTestRunner(
            stream=sys.stdout, verbosity=2,
            resultclass=lambda s, d, v: TapResult(s, d, v, tap, label))
        result = runner.run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
