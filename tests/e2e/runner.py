#!/usr/bin/env python3
"""Runs the end-to-end tests (tests/e2e/test_*.py) with unittest and writes
one TAP line per test, so that tests/run-tests can count them with the unit
tests. Exit status: 0 when all passed."""
import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class TapResult(unittest.TextTestResult):
    def __init__(self, stream, descriptions, verbosity, tap):
        super().__init__(stream, descriptions, verbosity)
        self.tap = tap
        self.n = 0
        self._t0 = 0.0

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def _line(self, ok, test, note=""):
        self.n += 1
        dt = time.monotonic() - self._t0
        self.tap.write("%s %d - %s (%.1fs)%s\n" % (
            "ok" if ok else "not ok", self.n, test.id(), dt, note))
        self.tap.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

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
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.discover(HERE, pattern=args.pattern, top_level_dir=HERE)
    with open(args.tap, "w") as tap:
        runner = unittest.TextTestRunner(
            stream=sys.stdout, verbosity=2,
            resultclass=lambda s, d, v: TapResult(s, d, v, tap))
        result = runner.run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
