"""Shared helpers for the end-to-end tests: a temporary work folder with a
token, a config and a database; running the real tenantdel binary; starting
and stopping a daemon; waiting for conditions instead of sleeping."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("TENANTDEL_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "tenantdel")
SRCDIR = os.environ.get("TENANTDEL_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOKEN = "s3cr3t-token-e2e-7f9a1c"


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

    def write_conf(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

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

    def start(self, *args, env=None):
        """Starts `tenantdel -c conf run args...` in the background; stderr
        (the JSON log) goes to a file in the workdir. Returns the Popen."""
        log = open(os.path.join(self.path, "daemon-%d.log" % len(self.daemons)), "w")
        e = dict(os.environ)
        if env:
            e.update(env)
        p = subprocess.Popen([BIN, "-c", self.conf, "run"] + [str(a) for a in args],
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
