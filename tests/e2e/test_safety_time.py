"""Issue 8, finding A and the schedule --from reader: every duration and time
tenantdel accepts is bounded (durations at most 100 years, times 1970 ..
9999), so no input can wrap a due time into the past and purge at once;
the CLI and the API compute due and deadline times by one rule; a --from
file is all or nothing even when reading fails, and a line longer than a
tenant id can be is refused as it is read, without buffering it."""
import os
import resource
import socket
import struct
import subprocess

import apicase
import harness
from test_cli import CONF, rfc3339_ms

WRAP = "106751991167d"  # now + this overflowed int64 ms: due_at went negative
TOO_LONG = [WRAP, "36526d", "36525d1ms", "9223372036854775807ms", "99999999999999999999999s"]
DAY_MS = 86400000
PAST = "2001-01-01T00:00:00Z"


def is_sanitized():
    with open(harness.BIN, "rb") as f:
        return b"__asan_init" in f.read()


def stored_jobs(case):
    """Rows of the jobs table of case's workdir, or [] when no store was
    created at all."""
    if not case.w.has_store():
        return []
    return case.sql("SELECT tenant_id, due_at FROM jobs")


def run_measured(w, args, stdin=subprocess.DEVNULL, env=None, preexec=None):
    """Runs tenantdel -c conf args; returns (Result, the child's peak RSS in
    KiB, which includes this process's peak before the exec)."""
    out, err = (open(os.path.join(w.path, n), "w+") for n in ("m.out", "m.err"))
    e = dict(os.environ, **(env or {}))
    p = subprocess.Popen([harness.BIN, "-c", w.conf] + list(args), stdin=stdin, stdout=out,
                         stderr=err, cwd=w.path, env=e, preexec_fn=preexec)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    res = harness.Result(p.returncode, out.read(), err.read())
    out.close()
    err.close()
    return res, usage.ru_maxrss


class CliBoundsTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.w.write_conf(CONF)

    def fails(self, *args):
        r = self.w.run(*args)
        self.assertRc(r, 2)
        self.assertEqual(len(r.err.strip().splitlines()), 1, r)
        return r

    def test_after_too_long_is_refused_and_nothing_stored(self):
        for after in TOO_LONG:
            r = self.fails("schedule", "wrap", "--after", after)
            self.assertIn("--after", r.err)
            self.assertIn("100 years", r.err)
        self.assertEqual(stored_jobs(self), [])
        # the bound itself is accepted, due exactly 100 years (36525 days) on
        j = self.w.run("schedule", "edge", "--after", "36525d", "--json")
        self.assertRc(j, 0)
        j = j.json()
        self.assertEqual(rfc3339_ms(j["due_at"]) - rfc3339_ms(j["created_at"]), 36525 * DAY_MS)

    def test_times_out_of_range_are_refused(self):
        for args, why in ((["--at", "0001-01-01T00:00:00Z"], "outside"),
                          (["--at", "1969-12-31T23:59:59Z"], "outside"),
                          (["--at", "9999-12-31T00:00:00Z"], "100 years away"),
                          (["--deadline", "9999-12-31T23:59:59-01:00"], "outside"),
                          (["--now", "--deadline", "9999-12-31T00:00:00Z"], "100 years after")):
            r = self.fails("schedule", "acme", *args)
            self.assertIn(why, r.err)
        self.assertEqual(stored_jobs(self), [])

    def test_huge_config_duration_is_refused_naming_file_and_line(self):
        for section, key in (("scheduler", "retention"), ("scheduler", "deadline"),
                             ("scheduler", "shutdown_grace"), ("retry", "base_delay"),
                             ("retry", "max_delay"), ("retry", "give_up_after"),
                             ("retry", "breaker_cooloff"), ("http", "timeout"),
                             ("http", "connect_timeout")):
            lines = (CONF if "[retry]" in CONF else CONF + "\n[retry]\n").splitlines()
            lines = [l for l in lines if not l.startswith(key + " =")]
            line = lines.index("[%s]" % section) + 2
            lines.insert(line - 1, "%s = %s" % (key, WRAP))
            self.w.write_conf("\n".join(lines) + "\n")
            for cmd in (["schedule", "acme"], ["check-config"]):
                r = self.fails(*cmd)
                self.assertIn("%s:%d:" % (self.w.conf, line), r.err)
                self.assertIn(key, r.err)
                self.assertIn("100 years", r.err)
        self.assertEqual(stored_jobs(self), [])

    def test_list_due_within_and_reapply_since_are_bounded(self):
        self.assertRc(self.w.run("schedule", "acme"), 0)
        r = self.fails("list", "--due-within", WRAP)
        self.assertIn("100 years", r.err)
        r = self.fails("reapply", "--service", "orders", "--since", WRAP)
        self.assertIn("--since", r.err)
        r = self.fails("reapply", "--service", "orders", "--since", "36500d")  # before 1970
        self.assertIn("1970", r.err)
        self.assertEqual(len(stored_jobs(self)), 1)


class FromReaderTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.w.write_conf(CONF)

    def write(self, name, head, long_len=0):
        path = os.path.join(self.w.path, name)
        with open(path, "w") as f:
            f.write(head)
            for _ in range(long_len // (1 << 20)):
                f.write("x" * (1 << 20))
            f.write("\nt-after\n")
        return path

    def test_long_line_is_refused_as_it_is_read(self):
        short = self.write("short.txt", "t-a\nt-b\n" + "y" * 300)
        big = self.write("big.txt", "t-a\nt-b\n", long_len=64 << 20)
        r0, rss0 = run_measured(self.w, ["schedule", "--from", short])
        r1, rss1 = run_measured(self.w, ["schedule", "--from", big])
        # A 64 MiB line costs no more memory than a 300-byte one (buffered
        # whole, it added about 64 MiB). The peak of a child counts the test
        # process's own memory from before exec, the same in both runs, so
        # only the difference says something.
        self.assertLess(rss1 - rss0, 16 << 10, "peak RSS %d KiB vs %d KiB" % (rss1, rss0))
        for r, path in ((r0, short), (r1, big)):
            self.assertRc(r, 2)
            self.assertIn("%s:3: line longer than" % path, r.err)
            self.assertIn("nothing was scheduled", r.err)
        self.assertEqual(stored_jobs(self), [])

    def test_read_error_midway_schedules_nothing(self):
        # stdin is a socket that times out after two lines: read() fails (EAGAIN)
        mine, theirs = socket.socketpair()
        self.addCleanup(mine.close)
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 300000))
        mine.sendall(b"t-a\nt-b\n")
        r, _ = run_measured(self.w, ["schedule", "--from", "-"], stdin=theirs.fileno())
        theirs.close()
        self.assertRc(r, 2)
        self.assertIn("stdin:3: cannot read", r.err)
        self.assertIn("nothing was scheduled", r.err)
        self.assertEqual(stored_jobs(self), [])

    def test_out_of_memory_while_reading_schedules_nothing(self):
        # the red team's case: lines, then a line too big for the memory
        # allowed (getline failed with ENOMEM and the lines before it were
        # scheduled, exit 0)
        big = self.write("big.txt", "t-a\nt-b\n", long_len=96 << 20)
        if is_sanitized():  # ASan maps terabytes: cap its allocations instead
            env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                   ":allocator_may_return_null=1:max_allocation_size_mb=32"}
            preexec = None
        else:
            env = None

            def preexec():
                resource.setrlimit(resource.RLIMIT_AS, (80 << 20, 80 << 20))
        r, _ = run_measured(self.w, ["schedule", "--from", big], env=env, preexec=preexec)
        self.assertNotEqual(r.rc, 0, r)
        self.assertEqual(r.out, "")
        self.assertEqual(stored_jobs(self), [])


class ApiBoundsTest(apicase.ApiCase):
    """The same bounds and the same rule through POST /v1/jobs (the API
    daemon and call() of apicase.ApiCase)."""

    def test_after_too_long_is_400_and_nothing_stored(self):
        for body in [{"after": a} for a in TOO_LONG] + [
                {"at": "0001-01-01T00:00:00Z"}, {"at": "9999-12-31T00:00:00Z"},
                {"deadline": "9999-12-31T23:59:59-01:00"}]:
            ans = self.expect(400, "POST", "/v1/jobs", dict(body, tenant_id="wrap")).json()
            self.assertIn("error", ans)
        ans = self.call("POST", "/v1/jobs", {"tenant_id": "wrap", "after": WRAP}).json()
        self.assertIn("100 years", ans["error"])
        self.assertEqual(self.call("GET", "/v1/jobs").json(), [])
        self.assertEqual(stored_jobs(self), [])

    def test_at_in_the_past_gives_the_same_times_as_the_cli(self):
        api = self.expect(201, "POST", "/v1/jobs", {"tenant_id": "api-past", "at": PAST}).json()
        cli = self.w.run("schedule", "cli-past", "--at", PAST, "--json")
        self.assertRc(cli, 0)
        cli = cli.json()
        for j in (api, cli):
            due, created = rfc3339_ms(j["due_at"]), rfc3339_ms(j["created_at"])
            self.assertAlmostEqual(due, created, delta=2000, msg=j)  # due now, not in 2001
            self.assertEqual(rfc3339_ms(j["deadline_at"]) - due, 7 * DAY_MS, j)
            self.assertFalse(j["deadline_missed"], j)
        # a deadline before that (already past) is refused the same way by both
        ans = self.expect(400, "POST", "/v1/jobs", {"tenant_id": "api-2", "at": PAST,
                                                    "deadline": "2001-01-02T00:00:00Z"}).json()
        self.assertIn("before the due time", ans["error"])
        r = self.w.run("schedule", "cli-2", "--at", PAST, "--deadline", "2001-01-02T00:00:00Z")
        self.assertRc(r, 2)
        self.assertIn("before the due time", r.err)
