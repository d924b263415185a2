"""The HTTP API (DESIGN 6) of a running daemon, over real HTTP: every
endpoint, its answers and its refusals (401 without the token and nothing
changed; 400 for malformed JSON, wrong types, unknown fields, invalid
tenant ids; 404/405 for unknown routes and methods; 409 in the wrong state;
413 past 64 KiB), and a slow client that does not stall the scheduler."""
import http.client
import json
import socket
import time
import unittest

import apicase
from apicase import API_TOKEN
from fleet import DEFAULT_TOTAL, SERVICES


class ApiTest(apicase.ApiCase):
    # ---- health, auth

    def test_healthz_is_open(self):
        a = self.expect(200, "GET", "/healthz", token=None)
        self.assertEqual(a.json(), {"status": "ok"})

    def test_missing_or_wrong_token_is_401_and_changes_nothing(self):
        body = {"tenant_id": "acme", "now": True}
        for kw in ({"token": None}, {"token": "wrong"}, {"token": API_TOKEN + "x"},
                   {"token": API_TOKEN[:-1]}, {"token": ""},
                   {"token": None, "headers": {"Authorization": "Basic " + API_TOKEN}},
                   {"token": None, "headers": {"Authorization": API_TOKEN}}):
            self.expect_error(401, "POST", "/v1/jobs", body, **kw)
            self.expect_error(401, "GET", "/v1/jobs", **kw)
            self.expect_error(401, "GET", "/metrics", **kw)
        job = self.td("schedule", "held", "--after", "30d").out.strip()
        self.expect_error(401, "POST", "/v1/jobs/%s/cancel" % job, token="nope")
        self.assertEqual([j["tenant_id"] for j in self.jobs_in_db()], ["held"])
        self.assertEqual(self.td("show", job, "--json").json()["state"], "scheduled")
        # The token appears in no log line.
        with open(self.daemon.logfile) as f:
            self.assertNotIn(API_TOKEN, f.read())

    def test_a_port_in_use_is_a_config_error(self):
        # A second daemon on the same [api] listen cannot bind: exit 2, one line.
        res = self.w.run("run", timeout=30)
        self.assertRc(res, 2)
        self.assertIn("127.0.0.1:%d" % self.port, res.err)
        self.assertEqual(self.call("GET", "/healthz", token=None).status, 200)

    # ---- schedule

    def test_create_then_same_tenant_returns_the_active_job(self):
        before = time.time()
        a = self.expect(201, "POST", "/v1/jobs", {"tenant_id": "acme", "tenant_name": "Acme",
                                                  "requested_by": "auth-service",
                                                  "reason": "account closed", "after": "1h"})
        job = a.json()
        self.assertEqual(job["tenant_id"], "acme")
        self.assertEqual(job["tenant_name"], "Acme")
        self.assertEqual(job["requested_by"], "auth-service")
        self.assertEqual(job["state"], "scheduled")
        self.assertEqual(len([t for t in job["tasks"]]), len(SERVICES))
        due = time.mktime(time.strptime(job["due_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        self.assertTrue(before + 3600 - 5 <= due <= time.time() + 3600 + 5, job["due_at"])
        again = self.expect(200, "POST", "/v1/jobs", {"tenant_id": "acme", "after": "2h"}).json()
        self.assertEqual(again["job_id"], job["job_id"])
        self.assertEqual(again["due_at"], job["due_at"])
        self.assertEqual(len(self.jobs_in_db()), 1)
        # The same job the CLI shows.
        shown = self.td("show", job["job_id"], "--json").json()
        self.assertEqual(self.expect(200, "GET", "/v1/jobs/" + job["job_id"]).json(), shown)

    def test_create_at_and_deadline(self):
        job = self.expect(201, "POST", "/v1/jobs", {
            "tenant_id": "t-at", "at": "2099-01-02T03:04:05Z",
            "deadline": "2099-02-01T00:00:00Z"}).json()
        self.assertEqual(job["due_at"], "2099-01-02T03:04:05Z")
        self.assertEqual(job["deadline_at"], "2099-02-01T00:00:00Z")

    def test_bad_bodies_are_400_and_store_nothing(self):
        cases = [
            ("malformed JSON", '{"tenant_id": "a",'),
            ("not JSON", "tenant_id=a"),
            ("an array", '["a"]'),
            ("a string", '"a"'),
            ("trailing garbage", '{"tenant_id": "a"} x'),
            ("empty", ""),
            ("wrong type", '{"tenant_id": 42}'),
            ("wrong type name", '{"tenant_id": "a", "tenant_name": ["x"]}'),
            ("wrong type now", '{"tenant_id": "a", "now": "yes"}'),
            ("unknown field", '{"tenant_id": "a", "tenant": "b"}'),
            ("missing tenant", '{"reason": "x"}'),
            ("two timings", '{"tenant_id": "a", "after": "1h", "at": "2099-01-01T00:00:00Z"}'),
            ("bad duration", '{"tenant_id": "a", "after": "soon"}'),
            ("bad time", '{"tenant_id": "a", "at": "tomorrow"}'),
            ("deadline first", '{"tenant_id": "a", "at": "2099-01-02T00:00:00Z",'
                               ' "deadline": "2099-01-01T00:00:00Z"}'),
        ]
        for bad in ("", ".", "..", "-x", "a/b", "a b", "ü", "x" * 129, "a\u0000b"):
            cases.append(("tenant %r" % bad, json.dumps({"tenant_id": bad})))
        for what, raw in cases:
            with self.subTest(what):
                self.expect_error(400, "POST", "/v1/jobs", raw=raw)
        self.assertEqual(self.jobs_in_db(), [])

    def test_body_over_64_kib_is_413(self):
        big = json.dumps({"tenant_id": "big", "reason": "x" * (65 * 1024)})
        self.expect_error(413, "POST", "/v1/jobs", raw=big)
        # Chunked, without a Content-Length: refused as well.
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.putrequest("POST", "/v1/jobs")
        c.putheader("Authorization", "Bearer " + API_TOKEN)
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        chunk = big.encode()
        for i in range(0, len(chunk), 8192):
            part = chunk[i:i + 8192]
            c.send(b"%x\r\n%s\r\n" % (len(part), part))
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        self.assertEqual(r.status, 413)
        self.assertIn("error", json.loads(r.read()))
        c.close()
        # Just under the limit is fine.
        ok = json.dumps({"tenant_id": "fits", "reason": "x" * (60 * 1024)})
        self.expect(201, "POST", "/v1/jobs", raw=ok)
        self.assertEqual([j["tenant_id"] for j in self.jobs_in_db()], ["fits"])

    # ---- read

    def test_get_and_list(self):
        ids = [self.expect(201, "POST", "/v1/jobs", {"tenant_id": t, "after": "30d"}).json()
               ["job_id"] for t in ("l1", "l2", "l3")]
        self.td("hold", ids[1], "--reason", "x")
        every = self.expect(200, "GET", "/v1/jobs").json()
        self.assertEqual([j["job_id"] for j in every], ids[::-1])
        self.assertNotIn("tasks", every[0])
        self.assertEqual([j["job_id"] for j in self.expect(
            200, "GET", "/v1/jobs?tenant_id=l2").json()], [ids[1]])
        self.assertEqual([j["job_id"] for j in self.expect(
            200, "GET", "/v1/jobs?state=held").json()], [ids[1]])
        self.assertEqual([j["job_id"] for j in self.expect(
            200, "GET", "/v1/jobs?state=scheduled&limit=1").json()], [ids[2]])
        self.assertEqual(self.expect(200, "GET", "/v1/jobs?tenant_id=nobody").json(), [])
        for q in ("state=bogus", "limit=0", "limit=x", "limit=-1", "limit=100000",
                  "tenant_id=..", "colour=red"):
            with self.subTest(q):
                self.expect_error(400, "GET", "/v1/jobs?" + q)
        for bad in ("0190a000-0000-7000-8000-000000000000", "not-a-job", "x" * 300):
            self.expect_error(404, "GET", "/v1/jobs/" + bad)
            self.expect_error(404, "GET", "/v1/jobs/%s/events" % bad)
            self.expect_error(404, "POST", "/v1/jobs/%s/cancel" % bad)

    # ---- transitions

    def test_hold_release_cancel_and_409s(self):
        job = self.expect(201, "POST", "/v1/jobs", {"tenant_id": "tr", "after": "30d"}).json()
        path = "/v1/jobs/%s/" % job["job_id"]
        self.expect_error(400, "POST", path + "hold")
        self.expect_error(400, "POST", path + "hold", {"reason": ""})
        self.expect_error(400, "POST", path + "hold", {"reason": 5})
        self.expect_error(400, "POST", path + "hold", {"reason": "x", "until": "never"})
        self.expect_error(400, "POST", path + "cancel", raw="{nope")
        held = self.expect(200, "POST", path + "hold", {"reason": "litigation", "by": "legal"})
        self.assertEqual(held.json()["state"], "held")
        self.expect_error(409, "POST", path + "hold", {"reason": "again"})
        self.assertEqual(self.expect(200, "POST", path + "release").json()["state"], "scheduled")
        self.expect_error(409, "POST", path + "release")
        self.expect_error(409, "POST", path + "retry")
        c = self.expect(200, "POST", path + "cancel", {"by": "admin", "reason": "mistake"})
        self.assertEqual(c.json()["state"], "cancelled")
        self.expect_error(409, "POST", path + "cancel")
        self.expect_error(409, "POST", path + "hold", {"reason": "late"})
        types = [e["type"] for e in self.expect(200, "GET", path + "events").json()]
        self.assertEqual(types, ["job.scheduled", "job.held", "job.released", "job.cancelled"])
        ev = self.expect(200, "GET", path + "events").json()
        self.assertEqual(ev, self.td("events", job["job_id"], "--json").json())
        # After the window the purge cannot be cancelled.
        run = self.expect(201, "POST", "/v1/jobs", {"tenant_id": "rn", "now": True}).json()
        self.fleet.fault(service="orders", op="delete", tenant_id="rn", mode="hang", count=-1)
        self.wait_state(run["job_id"], "running")
        self.expect_error(409, "POST", "/v1/jobs/%s/cancel" % run["job_id"])
        self.fleet.clear_faults()

    def test_purge_retry_and_certificate(self):
        self.fleet.seed("gone")
        self.fleet.fault(service="pos", op="delete", tenant_id="gone", mode="status",
                         status=401, count=1)
        job = self.expect(201, "POST", "/v1/jobs", {"tenant_id": "gone", "now": True}).json()
        path = "/v1/jobs/%s/" % job["job_id"]
        self.expect_error(409, "GET", path + "certificate")
        self.wait_state(job["job_id"], "failed")
        self.expect_error(400, "POST", path + "retry", {"service": 1})
        r = self.expect(200, "POST", path + "retry", {"service": "pos", "by": "ops"}).json()
        self.assertEqual(r["state"], "running")
        self.wait_state(job["job_id"], "succeeded")
        cert = self.expect(200, "GET", path + "certificate").json()
        self.assertEqual(cert["job_id"], job["job_id"])
        self.assertTrue(cert["chain_verified"])
        self.assertEqual(self.fleet.tenant("gone")["total"], 0)
        self.expect_error(409, "POST", path + "retry")

    # ---- preview, metrics

    def test_preview(self):
        self.fleet.seed("pv")
        a = self.expect(200, "GET", "/v1/tenants/pv/preview").json()
        self.assertEqual(a["tenant_id"], "pv")
        self.assertEqual(a["total_records"], DEFAULT_TOTAL)
        self.assertEqual(len(a["services"]), len(SERVICES))
        self.assertEqual(a, self.w.run("preview", "pv", "--json").json())
        # Several at once, while the loop goes on serving.
        conns = []
        for i in range(5):
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            c.request("GET", "/v1/tenants/pv/preview",
                      headers={"Authorization": "Bearer " + API_TOKEN})
            conns.append(c)
        self.expect(200, "GET", "/healthz", token=None)
        for c in conns:
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(json.loads(r.read())["total_records"], DEFAULT_TOTAL)
            c.close()
        self.expect_error(400, "GET", "/v1/tenants/../preview")
        self.expect_error(400, "GET", "/v1/tenants/-x/preview")
        self.expect_error(400, "GET", "/v1/tenants/%s/preview" % ("x" * 129))

    def test_metrics(self):
        self.expect(201, "POST", "/v1/jobs", {"tenant_id": "m1", "after": "30d"})
        a = self.expect(200, "GET", "/metrics")
        self.assertTrue(a.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        self.assertIn('tenantdel_jobs{state="scheduled"} 1', a.body)
        self.assertEqual(a.body.split("tenantdel_due_lag")[0],
                         self.td("metrics").out.split("tenantdel_due_lag")[0])

    # ---- routes, methods

    def test_unknown_routes_and_methods(self):
        for path in ("/", "/v1", "/v2/jobs", "/v1/jobs/", "/v1/jobs/x/y/z", "/v1/tenants/a",
                     "/healthz/x", "/v1/jobs/%s/explode" % ("0" * 8 + "-0000-7000-8000-" +
                                                            "0" * 12)):
            with self.subTest(path):
                self.expect_error(404, "GET", path)
        for method, path in (("DELETE", "/v1/jobs"), ("PUT", "/v1/jobs"),
                             ("POST", "/healthz"), ("GET", "/v1/jobs/%s/cancel" % ("0" * 8 +
                              "-0000-7000-8000-" + "0" * 12)), ("PATCH", "/metrics")):
            with self.subTest(method + path):
                a = self.call(method, path)
                self.assertEqual(a.status, 405, a)
                self.assertIn("error", a.json())
                self.assertTrue(a.headers.get("Allow"), a.headers)

    # ---- a slow client

    def test_slow_clients_do_not_stall_scheduling(self):
        self.fleet.seed("fast")
        slow = []
        for i in range(8):
            s = socket.create_connection(("127.0.0.1", self.port))
            s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      + API_TOKEN.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"tena")
            slow.append(s)
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(b"GET /v1/jo")  # half a request line
        slow.append(s)
        t0 = time.monotonic()
        job = self.expect(201, "POST", "/v1/jobs", {"tenant_id": "fast", "now": True}).json()
        self.wait_state(job["job_id"], "succeeded", timeout=20)
        self.assertLess(time.monotonic() - t0, 15)
        self.assertEqual(self.fleet.tenant("fast")["total"], 0)
        # The daemon closes idle connections by itself (connection time-out).
        for s in slow:
            s.settimeout(30)
            while s.recv(4096):  # raises socket.timeout if never closed
                pass
            s.close()


if __name__ == "__main__":
    unittest.main()
