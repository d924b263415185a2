"""The HTTP API under hostile clients (issue 8): a slowloris neither wedges
the API nor stalls scheduling, and it recovers by itself; invalid UTF-8 in
a body or a CLI text argument is refused; a bad list filter is a 400 that
names it; an escaped backslash before "u0000" is text, not a NUL; an absurd
Content-Length gets one well-formed 413."""
import http.client
import json
import os
import resource
import socket
import threading
import time
import unittest

import apicase
import harness
from apicase import API_TOKEN

# What the daemon promises (scheduler/api.c): the connections one address
# may hold, and how long a request may take to arrive whole.
PER_IP_LIMIT = 32
REQUEST_READ_S = 10


class Slowloris:
    """n connections to port, spread over the source addresses, each sending
    the start of a request and then one more header byte a second."""

    def __init__(self, port, sources, n):
        self.socks = []
        for i in range(n):
            s = socket.socket()
            s.bind((sources[i % len(sources)], 0))
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            self.socks.append(s)
        self.closed_at = {}  # socket -> monotonic time the daemon closed it
        self.started = time.monotonic()
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _send(self, s, data):
        if s in self.closed_at:
            return
        try:
            s.send(data)
            if s.recv(1) == b"":
                self.closed_at[s] = time.monotonic()
        except BlockingIOError:
            pass  # not connected yet (in the backlog), or nothing to read
        except OSError:
            self.closed_at[s] = time.monotonic()

    def _drip(self):
        first = True
        while not self.stop_ev.is_set():
            for s in self.socks:
                self._send(s, b"GET /healthz HTTP/1.1\r\nX-Slow: " if first else b"x")
            first = False
            self.stop_ev.wait(1.0)

    def open_count(self):
        return len(self.socks) - len(self.closed_at)

    def stop(self):
        self.stop_ev.set()
        self.thread.join()
        for s in self.socks:
            s.close()


class SafetyApiTest(apicase.ApiCase):
    def healthz_from(self, source, timeout=3):
        """GET /healthz from the given source address; the status, or None
        when no answer came within timeout seconds."""
        s = socket.socket()
        s.settimeout(timeout)
        try:
            s.bind((source, 0))
            s.connect(("127.0.0.1", self.port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = s.recv(4096)
            return int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else None
        except OSError:
            return None
        finally:
            s.close()

    # ---- Finding D: slowloris

    def test_slowloris_from_many_addresses_does_not_wedge_the_api(self):
        # 300 slow connections from 10 addresses fill every connection slot.
        self.fleet.seed("during")
        job = self.td("schedule", "during", "--after", "2s").out.strip()
        sources = ["127.0.0.%d" % i for i in range(2, 12)]
        attack = Slowloris(self.port, sources, 300)
        self.addCleanup(attack.stop)
        # Scheduling goes on meanwhile: the job is purged during the attack
        # (the API has no slot left to ask, the CLI reads the store).
        harness.wait_for(lambda: self.td("show", job, "--json").json()["state"] == "succeeded",
                         timeout=15, what="the job to be purged during the attack")
        self.assertLess(time.monotonic() - attack.started, 8)
        self.assertEqual(self.fleet.tenant("during")["total"], 0)
        harness.wait_for(lambda: time.monotonic() - attack.started > 8, timeout=15,
                         what="the attack to go on for 8 s")
        attack.stop()
        # The API is back by itself within seconds of the attack's end.
        t0 = time.monotonic()
        harness.wait_for(lambda: self.healthz_from("127.0.0.1", timeout=1) == 200,
                         timeout=5, what="/healthz after the attack")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIsNone(self.daemon.poll())

    def test_slowloris_from_one_address_is_capped_and_its_slow_headers_dropped(self):
        attack = Slowloris(self.port, ["127.0.0.1"], 300)
        self.addCleanup(attack.stop)
        # Beyond the per-address limit, connections are closed at once...
        harness.wait_for(lambda: attack.open_count() <= PER_IP_LIMIT, timeout=5,
                         what="connections beyond %d to be refused" % PER_IP_LIMIT)
        # ...and another address is still served during the attack.
        self.assertEqual(self.healthz_from("127.0.0.2"), 200)
        # A header that never ends is dropped once the request is overdue,
        # though a byte a second keeps the connection from being idle.
        harness.wait_for(lambda: attack.open_count() == 0, timeout=REQUEST_READ_S + 5,
                         what="the slow headers to be dropped")
        self.assertLess(max(attack.closed_at.values()) - attack.started, REQUEST_READ_S + 4)
        attack.stop()
        self.assertEqual(self.healthz_from("127.0.0.1"), 200)

    # ---- Finding E, input side: invalid UTF-8 is refused where it comes in

    def test_invalid_utf8_in_a_body_is_400_and_stores_nothing(self):
        for field in ("reason", "tenant_name", "requested_by"):
            raw = b'{"tenant_id": "acme", "%s": "caf\xc3 \xff"}' % field.encode()
            with self.subTest(field):
                err = self.expect_error(400, "POST", "/v1/jobs", raw=raw)
                self.assertIn("UTF-8", err)
        self.assertEqual(self.jobs_in_db(), [])
        job = self.td("schedule", "held", "--after", "30d").out.strip()
        for verb, raw in (("hold", b'{"reason": "\xed\xa0\x80"}'),
                          ("cancel", b'{"reason": "ok", "by": "\xc0\xaf"}')):
            with self.subTest(verb):
                self.expect_error(400, "POST", "/v1/jobs/%s/%s" % (job, verb), raw=raw)
        self.assertEqual(self.td("show", job, "--json").json()["state"], "scheduled")
        # An error that echoes bad input is valid UTF-8 itself.
        self.assertIn("is unknown", self.expect_error(400, "GET", "/v1/jobs?x%FF=1"))

    def test_invalid_utf8_in_a_cli_text_is_exit_2_and_stores_nothing(self):
        bad = os.fsdecode(b"caf\xc3 \xff")
        for opt in ("--reason", "--name", "--by"):
            with self.subTest(opt):
                res = self.td("schedule", "acme", opt, bad, rc=2)
                self.assertIn("%s is not valid UTF-8" % opt, res.err)
        self.assertEqual(self.jobs_in_db(), [])
        job = self.td("schedule", "held", "--after", "30d").out.strip()
        for args in (("hold", job, "--reason", bad), ("hold", job, "--reason", "x", "--by", bad),
                     ("cancel", job, "--reason", bad), ("release", job, "--by", bad),
                     ("retry", job, "--by", bad)):
            with self.subTest(args[0]):
                self.td(*args, rc=2)
        self.assertEqual(self.td("show", job, "--json").json()["state"], "scheduled")
        # Valid UTF-8 is kept as given.
        job = self.td("schedule", "zurich", "--name", "Zürich AG", "--reason", "Löschung €").out.strip()
        shown = self.td("show", job, "--json").json()
        self.assertEqual((shown["tenant_name"], shown["reason"]), ("Zürich AG", "Löschung €"))

    # ---- list filters

    def test_a_bad_list_filter_is_a_400_that_names_it(self):
        self.expect(201, "POST", "/v1/jobs", {"tenant_id": "a", "after": "30d"})
        cases = {"tenant_id": ("tenant_id=", "tenant_id=%00", "tenant_id=a%00b", "tenant_id",
                               "tenant_id=a&tenant_id=b", "tenant_id=..", "tenant_id=%FF"),
                 "state": ("state=", "state=nope", "state=held%00"),
                 "limit": ("limit=", "limit=0", "limit=x", "limit=1%002"),
                 "sort": ("sort=1",)}
        for name, queries in cases.items():
            for q in queries:
                with self.subTest(q):
                    self.assertIn(name, self.expect_error(400, "GET", "/v1/jobs?" + q))
        self.assertEqual(len(self.expect(200, "GET", "/v1/jobs?tenant_id=a").json()), 1)

    # ---- NUL

    def test_an_escaped_backslash_before_u0000_is_text(self):
        raw = r'{"tenant_id": "bs", "reason": "a\\u0000b", "tenant_name": "c:\\\\u0000"}'
        job = self.expect(201, "POST", "/v1/jobs", raw=raw).json()
        self.assertEqual(job["reason"], r"a\u0000b")
        shown = self.td("show", job["job_id"], "--json").json()
        self.assertEqual((shown["reason"], shown["tenant_name"]), (r"a\u0000b", r"c:\\u0000"))
        # A real escaped NUL, after an escaped backslash or not, is refused.
        for reason in (r"a\u0000b", r"a\\\u0000", r"\u0000"):
            with self.subTest(reason):
                body = '{"tenant_id": "nul", "reason": "%s"}' % reason
                self.assertIn("NUL", self.expect_error(400, "POST", "/v1/jobs", raw=body))
        self.assertEqual([j["tenant_id"] for j in self.jobs_in_db()], ["bs"])


if __name__ == "__main__":
    unittest.main()


class HangServer:
    """Accepts HTTP connections on 127.0.0.1 and never answers: each one a
    request held in flight by the daemon."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


class ManyInFlightApiTest(harness.TestCase):
    """A thousand requests in flight leave the API reachable: libmicrohttpd
    polls with select(), which cannot watch a descriptor of 1024 or more,
    so the transfers' sockets must not take every low number."""

    IN_FLIGHT = 1100

    def setUp(self):
        super().setUp()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 4 * self.IN_FLIGHT
        if hard != resource.RLIM_INFINITY and hard < want:
            self.fail("this test needs a hard descriptor limit of %d (ulimit -Hn)" % want)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        self.hang = HangServer()
        self.addCleanup(self.hang.close)

    def test_api_answers_with_1100_requests_in_flight(self):
        token_file = os.path.join(self.w.path, "api.token")
        with open(token_file, "w") as f:
            f.write(API_TOKEN + "\n")
        port = harness.free_port()
        with open(self.w.conf, "w") as f:
            f.write("[scheduler]\ndatabase = %s\nmax_in_flight = %d\n\n"
                    "[http]\ntoken_file = %s\ntimeout = 120s\n\n"
                    "[service slow]\ndelete_url = http://127.0.0.1:%d/t/{tenant_id}\n"
                    "max_in_flight = %d\n\n[api]\nlisten = 127.0.0.1:%d\ntoken_file = %s\n"
                    % (self.w.db, self.IN_FLIGHT, self.w.token_file, self.hang.port,
                       self.IN_FLIGHT, port, token_file))
        ids = os.path.join(self.w.path, "ids.txt")
        with open(ids, "w") as f:
            f.write("".join("tenant-%04d\n" % i for i in range(self.IN_FLIGHT)))
        self.td("schedule", "--from", ids, "--now")
        daemon = self.w.start()
        harness.wait_for(lambda: len(self.hang.conns) >= self.IN_FLIGHT - 20, timeout=60,
                         what="the requests to be in flight")
        self.assertIsNone(daemon.poll())
        for path in ["/healthz", "/v1/jobs?limit=1"]:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", path, headers={"Authorization": "Bearer " + API_TOKEN})
            r = c.getresponse()
            self.assertEqual(r.status, 200, path)
            r.read()
            c.close()
