"""Issue 8, the engine's part (DESIGN 3): service-requested waits are no hot
loop, a failed verification retries only the preview, `attempts` counts the
calls actually sent, a live lease is never taken over whatever the wall
clock says, a clock step re-arms the wake-up at once (and a backward one
runs nothing early), and a failing store is retried with back-off."""
import glob
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

import harness
from fleet import find_overlaps
from test_engine_basic import EngineCase


def faketime_lib():
    """The libfaketime preload library (Debian package faketime), or None."""
    found = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    return found[0] if found else None


class SafetyCase(EngineCase):

    def faketime_env(self, offset_file=None, offset=None):
        """Environment that runs tenantdel with a faked wall clock: a fixed
        offset ("+5m"), or one read from offset_file at every call (so a
        running process's clock can be stepped). The monotonic clock stays
        true, as after a real NTP step."""
        lib = faketime_lib()
        if lib is None:
            self.skipTest("libfaketime not installed (Debian package faketime)")
        env = {"LD_PRELOAD": lib, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        # the sanitizer build wants its runtime first; the preload is benign
        opts = os.environ.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "verify_asan_link_order=0"
        if offset_file is not None:
            env.update(FAKETIME_TIMESTAMP_FILE=offset_file, FAKETIME_NO_CACHE="1")
        else:
            env["FAKETIME"] = offset
        return env

    def events(self, p, name):
        return self.log_events(p, name)


class TestServiceWaits(SafetyCase):

    def test_retry_after_zero_or_past_is_bounded_and_then_counted(self):
        # Finding B: "Retry-After: 0" was 8,926 DELETEs in 10 s, attempts 0.
        self.conf(services=["orders"], overrides={"orders": {"preview_url": None}},
                  retry="base_delay = 400ms\nmax_delay = 1s\nmax_attempts = 3")
        for t in ("zero", "past"):
            self.fleet.seed(t)
        self.fleet.fault(service="orders", op="delete", tenant_id="zero", mode="status",
                         status=429, retry_after="0", count=-1)
        self.fleet.fault(service="orders", op="delete", tenant_id="past", mode="status",
                         status=503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT", count=-1)
        jobs = {t: self.schedule(t, "--now") for t in ("zero", "past")}
        p = self.w.start()
        for job in jobs.values():
            self.wait_state(job, "failed", timeout=20)
        for t, job in jobs.items():
            sent = sorted(self.deletes("orders", tenant=t), key=lambda r: r["start_ms"])
            # 3 waits in a row are free, then each counts toward max_attempts
            self.assertEqual(len(sent), 3 + 3, t)
            gaps = [b["start_ms"] - a["end_ms"] for a, b in zip(sent, sent[1:])]
            self.assertGreaterEqual(min(gaps), 390, "a service wait is at least base_delay")
            orders = self.task(job, "orders")
            # attempts counts every call made (DESIGN 3): the free ones too
            self.assertEqual((orders["state"], orders["attempts"]), ("dead", 3 + 3), t)
        self.assertEqual(self.w.stop(p), 0)


class TestVerification(SafetyCase):

    def test_failed_verification_preview_is_retried_without_the_delete(self):
        # Finding 6: a 503 from the verification preview repeated the DELETE.
        self.conf(services=["orders"])
        self.fleet.seed("verify")
        # the pre-purge preview, the verification, and its first retry fail
        self.fleet.fault(service="orders", op="preview", mode="status", status=503, count=3)
        job = self.schedule("verify", "--now")
        self.assertRc(self.once(), 0)
        self.assertEqual(len(self.deletes("orders")), 1, "the DELETE is not repeated")
        orders = self.task(job, "orders")
        self.assertEqual((orders["state"], orders["attempts"]), ("succeeded", 1))
        self.assertEqual(self.state(job), "succeeded")
        previews = [r for r in self.fleet.requests() if r["op"] == "preview"]
        self.assertEqual([r["status"] for r in previews], [503, 503, 503, 200])
        ev = self.td("events", job, "--json").json()
        verified = [e for e in ev if e["type"] == "task.verify"]
        self.assertEqual([e["detail"]["remaining"] for e in verified], [0])
        self.assertEqual(sum(self.fleet.tenant("verify")["services"]["orders"].values()), 0)


class TestAttemptsCountSentCalls(SafetyCase):

    def test_a_claim_killed_before_its_call_is_not_an_attempt(self):
        # Finding 7: a process killed after claiming, before the DELETE went
        # out, left an attempt counted that the service never saw.
        self.conf(services=["orders"])
        self.fleet.seed("killed")
        self.fleet.fault(service="orders", op="preview", mode="hang", delay_ms=60000, count=1)
        job = self.schedule("killed", "--now")
        p = self.w.start()
        self.wait_in_flight(op="preview")
        p.kill()
        p.wait()
        p2 = self.w.start()
        self.wait_state(job, "succeeded", timeout=10)
        orders = self.task(job, "orders")
        self.assertEqual(orders["attempts"], len(self.deletes("orders")))
        self.assertEqual(orders["attempts"], 1)
        self.assertEqual(self.w.stop(p2), 0)
        # logged once, after the commit
        self.assertEqual(len(self.events(p2, "job.succeeded")), 1)
        self.assertEqual(len(self.events(p2, "task.attempt.succeeded")), 1)


class TestClockJumps(SafetyCase):

    def test_forward_jump_never_takes_over_a_live_lease(self):
        # Finding 1: a DELETE in flight at a daemon; a run --once whose clock
        # is 5 minutes ahead took the "expired" lease and sent a second one.
        self.conf(services=["orders"], overrides={"orders": {"preview_url": None}})
        self.fleet.seed("jump")
        self.fleet.fault(service="orders", op="delete", mode="slow", delay_ms=5000, count=1)
        job = self.schedule("jump", "--now")
        p = self.w.start()
        self.wait_in_flight()
        r = self.td("run", "--once", env=self.faketime_env(offset="+5m"))
        self.assertRc(r, 0)
        self.assertEqual(len(self.deletes("orders")), 1, "run --once sent a second DELETE")
        self.wait_state(job, "succeeded", timeout=15)
        self.assertFalse(find_overlaps(self.fleet.requests()))
        self.assertLessEqual(self.fleet.stats()["max_in_flight_by_service"].get("orders", 0), 1)
        orders = self.task(job, "orders")
        self.assertEqual((orders["state"], orders["attempts"]), ("succeeded", 1))
        self.assertEqual(self.w.stop(p), 0)

    def start_with_clock(self):
        """A daemon whose wall clock is shifted by what clock_file says."""
        clock_file = os.path.join(self.w.path, "clock")
        with open(clock_file, "w") as f:
            f.write("+0\n")
        p = self.w.start(env=self.faketime_env(offset_file=clock_file))
        harness.wait_for(lambda: self.events(p, "engine.started"), what="daemon start")
        return p, clock_file

    @staticmethod
    def step_clock(clock_file, offset):
        tmp = clock_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(offset + "\n")
        os.replace(tmp, clock_file)

    def test_forward_jump_runs_due_work_at_once(self):
        # Finding 9: after a forward step due work waited up to the 60 s cap.
        self.conf(services=["orders"], overrides={"orders": {"preview_url": None}})
        self.fleet.seed("later")
        p, clock = self.start_with_clock()
        job = self.schedule("later", "--after", "5m")
        harness.wait_for(lambda: self.events(p, "engine.started"), what="daemon start")
        time.sleep(1.5)  # let it see the job and go to sleep for the 60 s cap
        self.assertEqual(self.deletes("orders"), [])
        t0 = time.monotonic()
        self.step_clock(clock, "+310")
        harness.wait_for(lambda: self.deletes("orders"), timeout=10,
                         what="the DELETE after the clock step")
        self.assertLess(time.monotonic() - t0, 3.0)
        self.wait_state(job, "succeeded")
        self.assertTrue(self.events(p, "clock.jumped"))
        self.assertEqual(self.w.stop(p), 0)

    def test_backward_jump_runs_nothing_early(self):
        self.conf(services=["orders"], overrides={"orders": {"preview_url": None}})
        self.fleet.seed("early")
        p, clock = self.start_with_clock()
        job = self.schedule("early", "--after", "3s")
        t0 = time.monotonic()
        self.step_clock(clock, "-3600")
        harness.wait_for(lambda: self.events(p, "clock.jumped"), what="the step seen")
        while time.monotonic() - t0 < 5.0:  # past due on the true clock
            self.assertEqual(self.deletes("orders"), [], "work ran before its due time")
            time.sleep(0.2)
        self.assertEqual(self.state(job), "scheduled")
        t1 = time.monotonic()
        self.step_clock(clock, "+0")
        self.wait_state(job, "succeeded", timeout=10)
        self.assertLess(time.monotonic() - t1, 4.0)
        self.assertEqual(self.w.stop(p), 0)


@harness.sqlite_only("the SQLite file's disk fills up (the server's disk is not the host's)")
class TestStoreFailure(SafetyCase):

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0 or shutil.which("mount") is None:
            self.skipTest("a small tmpfs needs root (CI runs as root)")
        self.disk = os.path.join(self.w.path, "disk")
        os.mkdir(self.disk)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", self.disk],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: " + r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", self.disk])
        self.filler = os.path.join(self.disk, "filler")

    def test_disk_full_backs_off_and_logs_results_once_recorded(self):
        # Finding 4 (the daemon's part): 93 lines in its first second, then
        # 4 a second, no back-off; and results logged before any commit.
        db = os.path.join(self.disk, "tenantdel.db")
        harness_conf = self.conf(services=["orders"], overrides={"orders": {"preview_url": None}})
        self.w.write_conf(harness_conf.replace(self.w.db, db))
        self.fleet.seed("full")
        self.fleet.fault(service="orders", op="delete", mode="slow", delay_ms=1500, count=1)
        job = self.schedule("full", "--now")
        p = self.w.start()
        self.wait_in_flight()
        harness.fill_disk(self.filler)
        harness.wait_for(lambda: len(self.events(p, "engine.store.failed")) >= 3, timeout=10,
                         what="three back-off steps")
        t_fail = time.monotonic()
        lines = self.w.log_lines(p)
        steps = self.events(p, "engine.store.failed")
        self.assertLess(len(lines), 25, "one line per back-off step, not a flood")
        waits = [s["retry_in_ms"] for s in steps]
        self.assertEqual(waits[:3], sorted(waits[:3]))
        self.assertGreater(waits[2], waits[0])
        # the answer came, but nothing is announced before it is recorded
        self.assertEqual(self.events(p, "task.attempt.succeeded"), [])
        self.assertEqual(self.events(p, "job.succeeded"), [])
        os.unlink(self.filler)
        self.wait_state(job, "succeeded", timeout=15)
        self.assertLess(time.monotonic() - t_fail, 12)
        self.assertEqual(self.w.stop(p), 0)
        self.assertEqual(len(self.events(p, "task.attempt.succeeded")), 1)
        self.assertEqual(len(self.events(p, "job.succeeded")), 1)
        self.assertTrue(self.events(p, "engine.store.recovered"))
        self.assertEqual(len(self.deletes("orders")), 1)


@harness.sqlite_only("SQLite's write lock, held by another connection")
class TestStoreHeld(SafetyCase):

    def healthz_seconds(self, port):
        start = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        c.close()
        self.assertEqual(r.status, 200)
        return time.monotonic() - start

    def held_store(self, job, p, answered, what, sent_before):
        """Holds SQLite's write lock from another connection until
        answered() is true and a moment after; the API must answer at once
        meanwhile, and no more than sent_before orders DELETEs go out.
        Returns once the job succeeded and the daemon stopped."""
        lock = sqlite3.connect(self.w.db, isolation_level=None, timeout=10)
        lock.execute("BEGIN IMMEDIATE")
        try:
            harness.wait_for(answered, timeout=10, what=what)
            time.sleep(0.3)
            slowest = max(self.healthz_seconds(self.port) for _ in range(5))
            self.assertLess(slowest, 1.0, "the API waited for the store")
            self.assertEqual(self.events(p, "job.succeeded"), [])
            self.assertEqual([e for e in self.events(p, "task.attempt.succeeded")
                              if e.get("service") == "orders"], [],
                             "announced before it was recorded")
            self.assertEqual(len(self.deletes("orders")), sent_before,
                             "sent before it was counted")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        self.wait_state(job, "succeeded", timeout=15)
        self.assertEqual(self.w.stop(p), 0)
        self.assertEqual(len([e for e in self.events(p, "task.attempt.succeeded")
                              if e.get("service") == "orders"]), 1)
        self.assertEqual(self.events(p, "engine.store.failed"), [])

    def start_with_api(self, tenant, overrides):
        self.conf(services=["orders", "inventory"], overrides=overrides)
        self.port = harness.free_port()
        token = self.w.write("api.token", "t0ken-held\n")
        self.w.append_conf("\n[api]\nlisten = 127.0.0.1:%d\ntoken_file = %s\n"
                           % (self.port, token))
        self.fleet.seed(tenant)

    def orders_answered(self, op):
        return lambda: any(r["end_ms"] for r in self.fleet.requests()
                           if r["service"] == "orders" and r["op"] == op)

    def test_a_writer_holding_the_store_holds_back_recording_not_the_loop(self):
        # The group commit runs on the recorder's thread: while another
        # connection holds SQLite's write lock, the recorder waits for it
        # (the busy timeout) and the event loop does not: the API answers
        # at once and the answers in flight are read. Nothing is announced
        # before it is recorded; once the lock is gone, all of it is.
        self.start_with_api("held", {n: {"preview_url": None} for n in ("orders", "inventory")})
        self.fleet.fault(service="orders", op="delete", mode="slow", delay_ms=1500, count=1)
        job = self.schedule("held", "--now")
        p = self.w.start()
        self.wait_in_flight()
        # the DELETE is answered while the lock is held: the recorder now
        # waits on it
        self.held_store(job, p, self.orders_answered("delete"), "the orders DELETE answered", 1)
        self.assertEqual(len(self.deletes("orders")), 1, "sent once")

    def test_an_api_write_under_a_held_store_waits_alone(self):
        # The API's handlers run on the recorder's thread: a write that
        # waits for the lock another connection holds keeps only its own
        # client waiting; /healthz answers at once meanwhile, and the write
        # is answered once the lock is gone.
        self.start_with_api("w0", {})
        p = self.w.start()
        harness.wait_for(lambda: self.events(p, "api.listening"), what="the API up")
        got = {}

        def post():
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            body = json.dumps({"tenant_id": "w1", "after": "30d"})
            c.request("POST", "/v1/jobs", body, {"Authorization": "Bearer t0ken-held",
                                                 "Content-Type": "application/json"})
            r = c.getresponse()
            got["status"], got["body"] = r.status, r.read()
            c.close()
        lock = sqlite3.connect(self.w.db, isolation_level=None, timeout=10)
        lock.execute("BEGIN IMMEDIATE")
        writer = threading.Thread(target=post)
        try:
            writer.start()
            time.sleep(0.5)
            slowest = max(self.healthz_seconds(self.port) for _ in range(5))
            self.assertLess(slowest, 1.0, "the API waited for the store")
            self.assertEqual(got, {}, "written while the lock was held")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        writer.join(30)
        self.assertEqual(got.get("status"), 201, got)
        self.assertEqual(self.w.stop(p), 0)
        self.assertEqual(self.events(p, "engine.store.failed"), [])

    def test_a_reload_under_a_held_store_does_not_hold_the_loop(self):
        # A reload's sync of the services to the store is the recorder's:
        # a SIGHUP while another connection holds the lock leaves the loop
        # free; the reload is announced once the sync could be written.
        self.start_with_api("r0", {})
        p = self.w.start()
        harness.wait_for(lambda: self.events(p, "api.listening"), what="the API up")
        lock = sqlite3.connect(self.w.db, isolation_level=None, timeout=10)
        lock.execute("BEGIN IMMEDIATE")
        try:
            p.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            slowest = max(self.healthz_seconds(self.port) for _ in range(5))
            self.assertLess(slowest, 1.0, "the API waited for the store")
            self.assertEqual(self.events(p, "config.reloaded"), [], "announced before the sync")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        harness.wait_for(lambda: self.events(p, "config.reloaded"), what="the reload")
        self.assertEqual(self.w.stop(p), 0)
        self.assertEqual(self.events(p, "engine.store.failed"), [])

    def test_a_writer_holding_the_store_holds_back_counting_not_the_loop(self):
        # A call after a preview is counted (a write) before it is sent:
        # that too is the recorder's, so the preview answered while another
        # connection holds the lock leaves the loop free. The call goes
        # once the lock is gone.
        self.start_with_api("held2", {"inventory": {"preview_url": None}})
        self.fleet.fault(service="orders", op="preview", mode="slow", delay_ms=1500, count=1)
        job = self.schedule("held2", "--now")
        p = self.w.start()
        self.wait_in_flight(op="preview")
        self.held_store(job, p, self.orders_answered("preview"), "the orders preview answered", 0)
        self.assertEqual(len(self.deletes("orders")), 1, "sent once")
