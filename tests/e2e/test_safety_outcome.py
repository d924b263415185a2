"""How service answers are read (issue 8: finding C, finding E service side,
finding 10, Retry-After from the wrong response, exact counts, oversized
headers): the real binary against the fake fleet, one service ("orders")
to keep each test short."""
import json
import subprocess
import urllib.parse

import harness

BIG = 2 ** 53 + 1  # the first integer a double cannot hold
CERT_KEY = "certificate-key-safety-outcome-5d1e"


class OutcomeCase(harness.FleetCase):

    def setUp(self):
        super().setUp()
        self.key_file = self.w.write("certificate.key", CERT_KEY + "\n")

    def conf(self, retry=None):
        super().conf(services=["orders"], retry=retry)
        self.w.append_conf("\n[certificate]\nkey_file = %s\n" % self.key_file)

    def raw(self, *args):
        """stdout of tenantdel as bytes: what a JSON reader really gets."""
        p = subprocess.run([harness.BIN, "-c", self.w.conf] + list(args),
                           capture_output=True, cwd=self.w.path, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def purge(self, tenant):
        job = self.td("schedule", tenant, "--now").out.strip()
        run = self.td("run", "--once", rc=None)
        return job, run

    def orders(self, job):
        return self.td("show", job, "--json").json()["tasks"][0]

    def events_text(self, job):
        return self.td("events", job, "--json").out

    def delete_gaps(self):
        d = [q for q in self.fleet.requests() if q["op"] == "delete"]
        return [b["start_ms"] - a["end_ms"] for a, b in zip(d, d[1:])]


class TestSafetyOutcome(OutcomeCase):

    def test_string_total_at_verification_is_not_zero(self):
        """Finding C: {"preview":{},"total_records":"5"} was read as 0 and the
        task passed verification with records left."""
        self.conf()
        self.fleet.seed("strtotal")
        self.fleet.fault(service="orders", op="delete", mode="underdelete", remaining=3)
        self.fleet.fault(service="orders", op="preview", mode="status", status=200,
                         body='{"preview":{},"total_records":"5"}', count=2)
        job, run = self.purge("strtotal")
        self.assertRc(run, 0)
        self.assertEqual(sum(self.fleet.tenant("strtotal")["services"]["orders"].values()), 0,
                         "verification must not pass while records remain")
        t = self.orders(job)
        self.assertEqual((t["state"], t["verified_remaining"]), ("succeeded", 0))
        self.assertIn("total_records is not a whole number", self.events_text(job))

    def test_token_echoed_by_a_service_is_redacted(self):
        """Finding 10: a service that echoes the bearer token in an error body."""
        self.conf()
        self.fleet.seed("echo")
        body = '{"detail":"bad request from Bearer %s"}' % harness.TOKEN
        self.fleet.fault(service="orders", op="delete", mode="status", status=500, body=body)
        self.fleet.fault(service="orders", op="delete", mode="status", status=403, body=body)
        job, run = self.purge("echo")
        self.assertRc(run, 1)
        t = self.orders(job)
        self.assertEqual(t["state"], "dead")
        self.assertIn("Bearer [REDACTED]", t["last_error"])
        for where, text in (("run log", run.err),
                            ("show --json", self.td("show", job, "--json").out),
                            ("events", self.events_text(job))):
            self.assertNotIn(harness.TOKEN, text, where)
        self.assertIn("[REDACTED]", run.err)

    def test_invalid_utf8_count_name_gives_json(self):
        """Finding E: invalid UTF-8 from a service went out raw in JSON."""
        self.conf()  # nothing seeded: the verification finds 0 at once
        body = b'{"summary":{"success":true,"deleted_counts":{"t\xff\xfe":2,"caf\xc3\xa9":1}}}'
        self.fleet.fault(service="orders", op="delete", mode="status", status=200,
                         body_pct=urllib.parse.quote_from_bytes(body))
        job, run = self.purge("utf8")
        self.assertRc(run, 0)
        shown = json.loads(self.raw("show", job, "--json"))
        self.assertEqual(shown["tasks"][0]["deleted_counts"],
                         {"t\ufffd\ufffd": 2, "caf\u00e9": 1})
        cert = json.loads(self.raw("certificate", job))
        self.assertIn("t\ufffd\ufffd", json.dumps(cert, ensure_ascii=False))
        self.assertIsInstance(json.loads(self.raw("events", job, "--json")), list)
        self.td("verify-certificate", "-", input=self.raw("certificate", job).decode())

    def test_counts_past_2_53_are_exact(self):
        self.conf()  # nothing seeded: the verification finds 0 at once
        self.fleet.fault(service="orders", op="preview", mode="status", status=200,
                         body='{"preview":{"rows":%d},"total_records":%d}' % (BIG, BIG))
        self.fleet.fault(service="orders", op="delete", mode="status", status=200,
                         body='{"summary":{"success":true,"deleted_counts":{"rows":%d}}}' % BIG)
        job, run = self.purge("huge")
        self.assertRc(run, 0)
        out = self.td("show", job, "--json").out
        self.assertNotIn("e+15", out)
        shown = json.loads(out)
        t = shown["tasks"][0]
        self.assertEqual(t["deleted_counts"], {"rows": BIG})
        self.assertEqual((t["total_deleted"], shown["total_deleted"]), (BIG, BIG))
        self.assertEqual((t["preview_before"], t["before_total"]), ({"rows": BIG}, BIG))
        cert = self.td("certificate", job)
        self.assertIn(str(BIG), cert.out)
        self.td("verify-certificate", "-", input=cert.out)
        self.assertIn(str(BIG), self.events_text(job))
        self.fleet.fault(service="orders", op="preview", mode="status", status=200,
                         body='{"preview":{"rows":%d},"total_records":%d}' % (BIG, BIG))
        pv = self.td("preview", "huge", "--json").json()
        self.assertEqual((pv["services"]["orders"]["total"], pv["total_records"]), (BIG, BIG))

    def test_retry_after_of_a_100_continue_or_a_trailer_is_not_honoured(self):
        self.conf(retry="base_delay = 100ms\nmax_delay = 1h")
        self.fleet.seed("cont")
        final = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n%s\r\nboom"
        # Retry-After only on the 100: not the final answer's.
        self.fleet.fault(service="orders", op="delete", mode="raw",
                         body="HTTP/1.1 100 Continue\r\nRetry-After: 3600\r\n\r\n" + final % "")
        # Only in a chunked answer's trailer: not a header.
        self.fleet.fault(service="orders", op="delete", mode="raw",
                         body="HTTP/1.1 500 Internal Server Error\r\n"
                              "Transfer-Encoding: chunked\r\nTrailer: Retry-After\r\n\r\n"
                              "4\r\nboom\r\n0\r\nRetry-After: 3600\r\n\r\n")
        # On the final 500 after a 100: honoured.
        self.fleet.fault(service="orders", op="delete", mode="raw",
                         body="HTTP/1.1 100 Continue\r\n\r\n" + final % "Retry-After: 1\r\n")
        job, run = self.purge("cont")
        self.assertRc(run, 0)
        gaps = self.delete_gaps()
        self.assertEqual(len(gaps), 3, self.fleet.requests())
        self.assertLess(gaps[0], 3000, "the 100's Retry-After was honoured")
        self.assertLess(gaps[1], 3000, "the trailer's Retry-After was honoured")
        self.assertGreaterEqual(gaps[2], 990, "the final answer's Retry-After was not")
        self.assertEqual(self.orders(job)["state"], "succeeded")

    def test_oversized_response_header_says_so(self):
        self.conf()
        self.fleet.seed("bighdr")
        self.fleet.fault(service="orders", op="delete", mode="raw",
                         body="HTTP/1.1 500 Internal Server Error\r\nX-Pad: %s\r\n"
                              "Content-Length: 0\r\n\r\n" % ("a" * (100 * 1024 + 10)))
        job, run = self.purge("bighdr")
        self.assertRc(run, 0)
        ev = self.events_text(job)
        self.assertIn("response header line too large", ev)
        self.assertNotIn("Out of memory", ev)


if __name__ == "__main__":
    import unittest
    unittest.main()
