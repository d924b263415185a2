"""Webhooks (DESIGN 7): every job state change is POSTed to each [webhook]
url with Tenantdel-Event-Id and an HMAC-SHA256 Tenantdel-Signature,
retried until 2xx, at least once: a receiver that fails twice still gets
everything, signed; nothing is lost across a daemon restart (SIGTERM or
kill -9); a receiver that is down or hangs delays only its own deliveries."""
import hashlib
import hmac
import http.client
import http.server
import json
import signal
import socket
import sqlite3
import threading
import time
import unittest

import harness

SECRET = "whsec-e2e-5b1f9d"


class Receiver:
    """An HTTP receiver on 127.0.0.1: answers `fail_first` requests with
    500, then 200 (500 while `failing` is set; hangs when hang=True).
    Records every request with the status it got."""

    def __init__(self, fail_first=0, hang=False):
        self.fail_first = fail_first
        self.failing = False
        self.hang = hang
        self.lock = threading.Lock()
        self.requests = []  # every request, failed ones included
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                if outer.hang:
                    outer.release.wait(60)
                with outer.lock:
                    k = len(outer.requests) + 1
                    status = 500 if k <= outer.fail_first or outer.failing else 200
                    outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                           "body": body, "at": time.time(),
                                           "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def delivered(self):
        """{event id: request} of the requests answered 200."""
        with self.lock:
            return {r["headers"].get("Tenantdel-Event-Id"): r for r in self.requests
                    if r["status"] == 200}


def verify(testcase, req, secret=SECRET):
    """Checks one delivery's headers and signature the way a receiver must."""
    h = req["headers"]
    testcase.assertEqual(h.get("Content-Type"), "application/json")
    sig = h.get("Tenantdel-Signature")
    testcase.assertIsNotNone(sig)
    parts = dict(p.split("=", 1) for p in sig.split(","))
    t = int(parts["t"])
    testcase.assertLess(abs(time.time() - t), 300, "timestamp is now")
    want = hmac.new(secret.encode(), b"%d." % t + req["body"], hashlib.sha256).hexdigest()
    testcase.assertTrue(hmac.compare_digest(parts["v1"], want), "signature verifies")
    body = json.loads(req["body"])
    testcase.assertEqual(body["id"], h.get("Tenantdel-Event-Id"))
    testcase.assertEqual(sorted(body), ["created_at", "id", "job", "type"])
    testcase.assertNotIn("tasks", body["job"])
    return body


class WebhookCase(harness.FleetCase):
    """A FleetCase with a webhook secret file (SECRET), [webhook] urls in the
    config, and receivers stopped afterwards."""

    def setUp(self):
        super().setUp()
        self.secret_file = self.w.write("webhook.secret", SECRET + "\n")

    def configure(self, *urls):
        """The fleet's config, with a [webhook] section when urls are given."""
        self.conf()
        if urls:
            self.w.append_conf("\n[webhook]\n" + "".join("url = %s\n" % u for u in urls) +
                               "secret_file = %s\n" % self.secret_file)

    def receiver(self, **kw):
        r = Receiver(**kw)
        self.addCleanup(r.stop)
        return r


class WebhookTest(WebhookCase):

    def outbox(self):
        """{event id: type} of every outbox row."""
        return dict(self.sql("SELECT event_id, type FROM outbox"))

    def wait_delivered(self, rcv, timeout=30):
        def done():
            want = self.outbox()
            return want and set(want) <= set(rcv.delivered())
        harness.wait_for(done, timeout=timeout, what="every outbox event delivered")

    def test_fails_twice_then_every_event_arrives_signed(self):
        rcv = self.receiver(fail_first=2)
        self.configure(rcv.url)
        self.fleet.seed("acme")
        d = self.w.start()
        job = self.td("schedule", "acme", "--now", "--by", "dpo").out.strip()
        later = self.td("schedule", "later", "--after", "30d").out.strip()
        self.td("hold", later, "--reason", "litigation")
        self.td("release", later)
        self.td("cancel", later)
        harness.wait_for(lambda: self.td("show", job, "--json").json()["state"] == "succeeded",
                         timeout=30, what="the purge")
        self.wait_delivered(rcv)
        types = {}
        for eid, req in rcv.delivered().items():
            body = verify(self, req)
            types.setdefault(body["job"]["job_id"], []).append(body["type"])
        self.assertEqual(sorted(types[job]), ["job.scheduled", "job.started", "job.succeeded"])
        self.assertEqual(sorted(types[later]), ["job.cancelled", "job.held", "job.released",
                                                "job.scheduled"])
        # The two failures were retried: 2 + one per event, and the failed
        # ones were signed as well.
        self.assertGreaterEqual(len(rcv.requests), len(self.outbox()) + 2)
        for req in rcv.requests:
            verify(self, req)
        self.assertEqual(self.w.stop(d), 0)
        fams = self.td("metrics").out
        self.assertIn("tenantdel_webhook_backlog 0", fams)

    def test_nothing_lost_across_restarts(self):
        rcv = self.receiver()
        self.configure(rcv.url)
        d = self.w.start()
        a = self.td("schedule", "a1", "--after", "30d").out.strip()
        self.wait_delivered(rcv)
        self.assertEqual(self.w.stop(d), 0)
        # Written while no daemon runs: delivered by the next one.
        self.td("hold", a, "--reason", "audit")
        self.td("schedule", "a2", "--after", "30d")
        d = self.w.start()
        self.wait_delivered(rcv)
        # kill -9 with undelivered rows: the next daemon delivers them.
        rcv.failing = True
        self.td("release", a)
        harness.wait_for(lambda: len(rcv.requests) > 0 and any(
            json.loads(r["body"])["type"] == "job.released" for r in rcv.requests),
            timeout=20, what="a failing delivery attempt")
        d.send_signal(signal.SIGKILL)
        d.wait()
        self.td("cancel", a)
        rcv.failing = False
        self.w.start()
        self.wait_delivered(rcv, timeout=60)
        self.assertIn("job.cancelled", [json.loads(r["body"])["type"]
                                        for r in rcv.delivered().values()])
        for req in rcv.delivered().values():
            verify(self, req)

    @harness.sqlite_only("SQLite's write lock, held by another connection")
    def test_a_delivery_ending_under_a_held_store_does_not_hold_the_loop(self):
        # A delivery's end is recorded by the engine's recorder: while
        # another connection holds SQLite's write lock, the loop (and the
        # API on it) goes on; the end is recorded once the lock is gone.
        rcv = self.receiver(hang=True)
        self.configure(rcv.url)
        port = harness.free_port()
        token = self.w.write("api.token", "t0ken-hook\n")
        self.w.append_conf("\n[api]\nlisten = 127.0.0.1:%d\ntoken_file = %s\n" % (port, token))
        d = self.w.start()
        self.td("schedule", "h1", "--after", "30d")
        harness.wait_for(lambda: self.sql("SELECT COUNT(*) FROM webhook_deliveries"
                                          " WHERE lease_owner IS NOT NULL")[0][0] == 1,
                         what="the delivery in flight")
        lock = sqlite3.connect(self.w.db, isolation_level=None, timeout=10)
        lock.execute("BEGIN IMMEDIATE")
        try:
            rcv.release.set()  # answered 200 now, while the lock is held
            harness.wait_for(lambda: len(rcv.requests) == 1, what="the delivery answered")
            time.sleep(0.3)
            slowest = 0.0
            for _ in range(5):
                t = time.monotonic()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request("GET", "/healthz")
                self.assertEqual(c.getresponse().status, 200)
                c.close()
                slowest = max(slowest, time.monotonic() - t)
            self.assertLess(slowest, 1.0, "the API waited for the store")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        harness.wait_for(lambda: self.sql("SELECT COUNT(*) FROM webhook_deliveries"
                                          " WHERE delivered_at IS NOT NULL")[0][0] == 1,
                         what="the delivery recorded")
        self.assertEqual(self.w.stop(d), 0)
        self.assertEqual(len(rcv.requests), 1, "delivered once")

    def test_a_down_or_hanging_receiver_delays_only_its_own(self):
        good = self.receiver()
        hanging = self.receiver(hang=True)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        down = "http://127.0.0.1:%d/hook" % s.getsockname()[1]
        s.close()
        self.configure(hanging.url, down, good.url)
        self.w.start()
        t0 = time.monotonic()
        for i in range(12):
            self.td("schedule", "t%d" % i, "--after", "30d")
        self.wait_delivered(good, timeout=20)
        self.assertLess(time.monotonic() - t0, 15)
        # The others are still owed everything (the good receiver's last
        # 200s are recorded just after it sent them).
        want = ["tenantdel_webhook_backlog %d" % (2 * len(self.outbox()))]

        def backlog():
            fams = self.td("metrics").out
            return [l for l in fams.splitlines() if l.startswith("tenantdel_webhook_backlog ")]
        harness.wait_for(lambda: backlog() == want, timeout=10, what="backlog %s" % want)


if __name__ == "__main__":
    unittest.main()
