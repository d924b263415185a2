"""The scheduler end to end (DESIGN 3): the real binary against the fake
fleet over 127.0.0.1. This file: purge, retention, phases, outcomes, retry,
verification, suspend/restore, config changes, preview. EngineCase is the
shared base of the test_engine_*.py files."""
import json
import os
import re
import signal
import time

import harness
from fleet import DEFAULT_TOTAL, SEGMENT, SERVICES, find_overlaps


class EngineCase(harness.FleetCase):
    """A Workdir plus a fleet that asks for the test token."""

    def td(self, *args, **kw):
        """Runs tenantdel args; the exit code is left to the caller to check."""
        return self.w.run(*args, **kw)

    def schedule(self, tenant, *opts):
        r = self.td("schedule", tenant, *opts)
        self.assertRc(r, 0)
        return r.out.strip()

    def schedule_many(self, tenants, *opts):
        """Schedules tenants with `schedule --from FILE opts`; returns the job ids."""
        path = self.w.write("tenants.txt", "\n".join(tenants) + "\n")
        r = self.td("schedule", "--from", path, *opts)
        self.assertRc(r, 0)
        return r.out.split()

    def show(self, job):
        r = self.td("show", job, "--json")
        self.assertRc(r, 0)
        return r.json()

    def task(self, job, service, kind="delete"):
        for t in self.show(job)["tasks"]:
            if t["service"] == service and t.get("kind", "delete") == kind:
                return t
        return None

    def state(self, job):
        return self.show(job)["state"]

    def wait_state(self, job, state, timeout=15):
        harness.wait_for(lambda: self.state(job) == state, timeout=timeout,
                         what="job %s %s (is %s)" % (job, state, self.state(job)))

    def once(self, timeout=60):
        return self.td("run", "--once", timeout=timeout)

    def deletes(self, seg=None, tenant=None):
        return [r for r in self.fleet.requests() if r["op"] == "delete"
                and (seg is None or r["service"] == seg)
                and (tenant is None or r["tenant_id"] == tenant)]

    def log_events(self, p, name):
        return [l for l in self.w.log_lines(p) if l.get("event") == name]

    def wait_in_flight(self, seg="orders", op="delete"):
        """Waits until a request op to the service at path segment seg is
        open at the fleet (sent, not answered yet)."""
        harness.wait_for(lambda: any(r["op"] == op and r["service"] == seg and r["end_ms"] == 0
                                     for r in self.fleet.requests()),
                         what="the %s %s in flight" % (seg, op))


class TestEngineBasic(EngineCase):

    @harness.sqlite_only("the PostgreSQL store loads libpq")
    def test_short_commands_load_no_network_library_run_does(self):
        """libcrypto, libcurl, libpq and libmicrohttpd are loaded when first
        needed (util/dl.h): schedule and show map none of them (no TLS file
        or signing key here; their hashes are Nettle's); run --once loads
        libcurl for its requests, and not the two it does not use."""
        self.conf()
        self.fleet.seed("acme")

        def mapped(*args):
            # the dynamic loader names each library it maps: "file=libz.so.1 [0]; ..."
            r = self.td(*args, env=dict(LD_DEBUG="files"))
            self.assertRc(r, 0)
            return r, {m.split(".so")[0] for m in re.findall(r"file=(\S+)", r.err)}

        r, libs = mapped("schedule", "acme", "--now")
        job = r.out.strip()
        libs |= mapped("show", job)[1]
        self.assertIn("libsqlite3", libs)
        self.assertIn("libnettle", libs)
        self.assertFalse(libs & {"libcrypto", "libcurl", "libpq", "libmicrohttpd", "libgnutls"},
                         sorted(libs))
        libs = mapped("run", "--once")[1]
        self.assertIn("libcurl", libs)
        self.assertFalse(libs & {"libpq", "libmicrohttpd"}, sorted(libs))  # no [api] here
        self.assertEqual(self.state(job), "succeeded")

    def test_purge_end_to_end_in_phase_order_with_token(self):
        self.conf()
        self.fleet.seed("acme")
        job = self.schedule("acme", "--now")
        r = self.once()
        self.assertRc(r, 0)
        self.assertEqual(self.fleet.tenant("acme")["total"], 0)
        j = self.show(job)
        self.assertEqual(j["state"], "succeeded")
        self.assertEqual(j["total_deleted"], DEFAULT_TOTAL)
        self.assertEqual(len(j["tasks"]), len(SERVICES))
        for t in j["tasks"]:
            self.assertEqual((t["state"], t["attempts"]), ("succeeded", 1), t)
        reqs = self.fleet.requests()
        tenant_reqs = [q for q in reqs if q["service"] == "tenants" and q["op"] == "delete"]
        phase1_end = max(q["end_ms"] for q in reqs if q["op"] == "delete" and q["service"] != "tenants")
        self.assertEqual(len(tenant_reqs), 1)
        self.assertGreaterEqual(tenant_reqs[0]["start_ms"], phase1_end)
        self.assertTrue(all(q["auth_ok"] for q in reqs), "every request carries the token")
        self.assertFalse(find_overlaps(reqs))
        logs = [json.loads(l) for l in r.err.splitlines() if l.startswith("{")]
        self.assertIn("job.succeeded", [l["event"] for l in logs])
        ok = [l for l in logs if l["event"] == "task.attempt.succeeded"]
        self.assertEqual(len(ok), len(SERVICES))
        for l in ok:
            for k in ("ts", "level", "job_id", "tenant_id", "service", "attempt", "http_status",
                      "duration_ms"):
                self.assertIn(k, l)

    def test_retention_honoured_and_cancel_inside_window_sends_nothing(self):
        self.conf()
        self.fleet.seed("later")
        job = self.schedule("later", "--after", "30d")
        self.assertRc(self.once(), 0)
        self.assertEqual(self.fleet.requests(), [])
        self.assertEqual(self.state(job), "scheduled")
        self.assertRc(self.td("cancel", job), 0)
        self.assertRc(self.once(), 0)
        self.assertEqual(self.fleet.requests(), [])
        self.assertEqual(self.fleet.tenant("later")["total"], DEFAULT_TOTAL)
        # a short window: nothing before due_at, everything after
        self.fleet.seed("soon")
        job = self.schedule("soon", "--after", "1500ms")
        due = self.show(job)["due_at"]
        p = self.w.start()
        self.wait_state(job, "succeeded")
        first = min(q["start_ms"] for q in self.fleet.requests())
        due_ms = time.mktime(time.strptime(due[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 - time.timezone * 1000
        self.assertGreaterEqual(first, due_ms)
        self.assertEqual(self.w.stop(p), 0)

    def test_permanent_401_fails_job_blocks_phase_then_retry_succeeds(self):
        self.conf()
        self.fleet.seed("t401")
        self.fleet.fault(service="orders", op="delete", mode="status", status=401, count=-1)
        job = self.schedule("t401", "--now")
        r = self.once()
        self.assertRc(r, 1)
        j = self.show(job)
        self.assertEqual(j["state"], "failed")
        orders = self.task(job, "orders")
        self.assertEqual((orders["state"], orders["attempts"], orders["http_status"]),
                         ("dead", 1, 401))
        self.assertIn("401", orders["last_error"])
        self.assertEqual(self.deletes("tenants"), [], "the tenant service waits while a task is dead")
        self.assertEqual(self.task(job, "tenant")["state"], "pending")
        self.fleet.clear_faults()
        self.assertRc(self.td("retry", job), 0)
        self.assertRc(self.once(), 0)
        self.assertEqual(self.state(job), "succeeded")
        orders_ok = [q for q in self.deletes("orders") if q["status"] == 200]
        self.assertGreaterEqual(self.deletes("tenants")[0]["start_ms"], orders_ok[0]["end_ms"])
        self.assertEqual(self.fleet.tenant("t401")["total"], 0)
        self.assertRc(self.td("retry", job), 4)

    def test_503_twice_three_attempts(self):
        self.conf()
        self.fleet.seed("flaky")
        self.fleet.fault(service="pos", op="delete", mode="status", status=503, count=2)
        job = self.schedule("flaky", "--now")
        self.assertRc(self.once(), 0)
        pos = self.task(job, "pos")
        self.assertEqual((pos["state"], pos["attempts"]), ("succeeded", 3))
        self.assertEqual(len(self.deletes("pos")), 3)
        self.assertEqual(self.state(job), "succeeded")

    def test_429_retry_after_waits_and_does_not_use_an_attempt(self):
        # max_attempts = 1: the wait the service asked for uses up none of
        # the budget, yet both calls made are attempts (DESIGN 3).
        self.conf(retry="base_delay = 100ms\nmax_delay = 2s\nmax_attempts = 1")
        self.fleet.seed("slow")
        self.fleet.fault(service="pos", op="delete", mode="status", status=429,
                         retry_after="2", count=1)
        job = self.schedule("slow", "--now")
        self.assertRc(self.once(), 0)
        d = self.deletes("pos")
        self.assertEqual(len(d), 2)
        self.assertGreaterEqual(d[1]["start_ms"] - d[0]["end_ms"], 1990)
        pos = self.task(job, "pos")
        self.assertEqual((pos["state"], pos["attempts"]), ("succeeded", 2))
        ev = self.td("events", job, "--json").json()
        tries = [e["detail"] for e in ev if e["type"] == "task.attempt" and e["service"] == "pos"]
        self.assertEqual([(t["attempt"], t.get("free_wait", False)) for t in tries],
                         [(1, True), (2, False)])

    def test_under_deletion_caught_by_verification_and_retried(self):
        self.conf()
        self.fleet.seed("under")
        self.fleet.fault(service="orders", op="delete", mode="underdelete", remaining=3, count=1)
        job = self.schedule("under", "--now")
        self.assertRc(self.once(), 0)
        orders = self.task(job, "orders")
        self.assertEqual((orders["state"], orders["attempts"]), ("succeeded", 2))
        self.assertEqual(self.fleet.tenant("under")["total"], 0)
        ev = self.td("events", job, "--json").json()
        fails = [e for e in ev if e["type"] == "task.attempt" and e["service"] == "orders"
                 and "verification" in (e["detail"].get("error") or "")]
        self.assertEqual(len(fails), 1)
        self.assertIn("3 records remain", fails[0]["detail"]["error"])
        self.assertEqual(self.show(job)["total_deleted"], DEFAULT_TOTAL)

    def test_404_is_success(self):
        # verify = no: with it, the preview would show the rows a 404 left
        self.conf(overrides={"orders": {"verify": "no"}})
        self.fleet.seed("gone")
        self.fleet.fault(service="orders", op="delete", mode="notfound", count=1)
        job = self.schedule("gone", "--now")
        self.assertRc(self.once(), 0)
        orders = self.task(job, "orders")
        self.assertEqual((orders["state"], orders["attempts"], orders["http_status"]),
                         ("succeeded", 1, 404))

    def test_hang_past_timeout_is_retried(self):
        self.conf(overrides={"orders": {"timeout": "700ms"}})
        self.fleet.seed("hang")
        self.fleet.fault(service="orders", op="delete", mode="hang", delay_ms=5000, count=1)
        job = self.schedule("hang", "--now")
        t0 = time.monotonic()
        self.assertRc(self.once(), 0)
        self.assertLess(time.monotonic() - t0, 4.5)
        orders = self.task(job, "orders")
        self.assertEqual((orders["state"], orders["attempts"]), ("succeeded", 2))
        ev = self.td("events", job, "--json").json()
        self.assertTrue(any("timed out" in (e["detail"].get("error") or "") for e in ev
                            if e["type"] == "task.attempt"))

    def test_suspend_at_schedule_and_restore_on_cancel(self):
        self.conf(suspend=True)
        self.fleet.seed("soft")
        job = self.schedule("soft", "--after", "1h")
        self.assertRc(self.once(), 0)
        t = self.fleet.tenant("soft")
        self.assertTrue(all(t["suspended"].values()), t["suspended"])
        self.assertEqual(self.deletes(), [])
        self.assertRc(self.td("cancel", job), 0)
        self.assertRc(self.once(), 0)
        t = self.fleet.tenant("soft")
        self.assertFalse(any(t["suspended"].values()), t["suspended"])
        self.assertEqual(t["total"], DEFAULT_TOTAL)
        self.assertEqual(self.deletes(), [])
        kinds = {(x["service"], x.get("kind")): x["state"] for x in self.show(job)["tasks"]}
        self.assertEqual(kinds[("orders", "restore")], "succeeded")

    def test_service_added_gets_tasks_and_removed_waits(self):
        names = [n for n, _, _ in SERVICES]
        self.conf(services=[n for n in names if n != "pos"])
        self.fleet.seed("cfg")
        job = self.schedule("cfg", "--after", "1h")
        self.assertIsNone(self.task(job, "pos"))
        self.conf(services=[n for n in names if n != "sales"])
        self.assertRc(self.once(), 0)
        self.assertEqual(self.task(job, "pos")["state"], "pending")
        sales = self.task(job, "sales")  # waits for it: only retire-service skips (DESIGN 3)
        self.assertEqual((sales["state"], sales["last_error"]), ("pending", "service not in config"))
        types = [(e["type"], e["service"]) for e in self.td("events", job, "--json").json()]
        self.assertIn(("task.added", "pos"), types)
        self.assertNotIn(("task.skipped", "sales"), types)
        self.assertRc(self.td("release", job), 4)  # not held: unchanged
        # once due, it purges with pos and without sales
        r = self.td("schedule", "cfg", "--now")
        self.assertEqual(r.out.strip(), job)

    def test_preview_parallel_json_and_partial_failure(self):
        self.conf()
        self.fleet.seed("pv")
        r = self.td("preview", "pv", "--json")
        self.assertRc(r, 0)
        p = r.json()
        self.assertEqual(p["tenant_id"], "pv")
        self.assertEqual(p["total_records"], DEFAULT_TOTAL)
        self.assertEqual(p["services"]["orders"]["total"], 61)
        self.fleet.fault(service="pos", op="preview", mode="status", status=500, count=-1)
        r = self.td("preview", "pv")
        self.assertRc(r, 1)
        self.assertIn("orders", r.out)
        self.assertIn("error", r.out)
        self.assertRc(self.td("preview", "../x"), 2)


if __name__ == "__main__":
    import unittest
    unittest.main()
