"""Callers by name (DESIGN 6, 10): with [api] tokens_file each token has a
name, the API records it as requested_by and as the actor of cancel / hold /
release / retry, and a body cannot claim another name (400, nothing
stored); an unknown token is 401; the file is reloaded on SIGHUP (a bad one
is logged and the old one kept); a bad tokens file is a config error at its
own line."""
import http.client
import json
import os
import signal

import harness
from fleet import Fleet, write_fleet_config

ALICE = "alice-token-0123456789abcdef0123456789"
BOB = "bob-token-0123456789abcdef0123456789abc"
CAROL = "carol-token-0123456789abcdef0123456789a"


class ApiCallersTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.fleet = Fleet(token=harness.TOKEN).start()
        self.addCleanup(self.fleet.stop)
        self.tokens = os.path.join(self.w.path, "api.tokens")
        self.write_tokens("# callers of the API\n\nalice@example.com %s\n"
                          "  bob\t%s  \n" % (ALICE, BOB))
        self.port = harness.free_port()
        write_fleet_config(self.w.conf, self.fleet, self.w.token_file, self.w.db,
                           services=["orders"])
        with open(self.w.conf, "a") as f:
            f.write("\n[api]\nlisten = 127.0.0.1:%d\ntokens_file = %s\n"
                    % (self.port, self.tokens))

    def write_tokens(self, text):
        with open(self.tokens, "w") as f:
            f.write(text)

    def start(self):
        self.daemon = self.w.start()
        harness.wait_for(lambda: self.status("GET", "/v1/jobs", token=ALICE) == 200,
                         timeout=20, what="the API to listen")

    def call(self, method, path, body=None, token=ALICE):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"Authorization": "Bearer " + token}
        data = None if body is None else json.dumps(body)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return r.status, r.read().decode()
        finally:
            c.close()

    def status(self, *a, **kw):
        try:
            return self.call(*a, **kw)[0]
        except OSError:
            self.assertIsNone(self.daemon.poll(), "the daemon exited")
            return None

    def expect(self, status, method, path, body=None, token=ALICE):
        got, text = self.call(method, path, body, token)
        self.assertEqual(got, status, text)
        return json.loads(text)

    def test_the_token_names_the_caller(self):
        self.start()
        job = self.expect(201, "POST", "/v1/jobs", {"tenant_id": "acme", "after": "1d"})
        self.assertEqual(job["requested_by"], "alice@example.com")
        # a body cannot claim another name: refused, nothing stored
        err = self.expect(400, "POST", "/v1/jobs",
                          {"tenant_id": "globex", "after": "1d", "requested_by": "bob"})
        self.assertIn("'requested_by' cannot name another caller", err["error"])
        self.assertEqual(self.w.run("list", "--json").json()[0]["tenant_id"], "acme")
        self.assertEqual(len(self.w.run("list", "--json").json()), 1)
        # its own name is fine
        self.expect(201, "POST", "/v1/jobs", {"tenant_id": "globex", "after": "1d",
                                              "requested_by": "bob"}, token=BOB)
        # the actor of a transition
        self.expect(400, "POST", "/v1/jobs/%s/hold" % job["job_id"],
                    {"reason": "legal hold", "by": "carol"}, token=BOB)
        self.assertEqual(self.w.run("show", job["job_id"], "--json").json()["state"], "scheduled")
        self.expect(200, "POST", "/v1/jobs/%s/hold" % job["job_id"], {"reason": "legal hold"},
                    token=BOB)
        self.expect(200, "POST", "/v1/jobs/%s/release" % job["job_id"], {"by": "alice@example.com"})
        self.expect(200, "POST", "/v1/jobs/%s/cancel" % job["job_id"], {"reason": "withdrawn"},
                    token=BOB)
        by = {e["type"]: e["detail"].get("by") for e in
              self.w.run("events", job["job_id"], "--json").json()}
        self.assertEqual(by["job.held"], "bob")
        self.assertEqual(by["job.released"], "alice@example.com")
        self.assertEqual(by["job.cancelled"], "bob")
        # unknown tokens, a shared-token prefix, a token's digest: 401
        for tok in ("nope", ALICE[:-1], ALICE + "x", ""):
            self.assertEqual(self.status("GET", "/v1/jobs", token=tok), 401)

    def test_reloaded_on_sighup_and_a_bad_file_is_kept_out(self):
        self.start()
        self.assertEqual(self.status("GET", "/v1/jobs", token=CAROL), 401)
        self.write_tokens("alice@example.com %s\ncarol %s\n" % (ALICE, CAROL))
        self.daemon.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: self.status("GET", "/v1/jobs", token=CAROL) == 200,
                         what="carol's token after the reload")
        self.assertEqual(self.status("GET", "/v1/jobs", token=BOB), 401)
        job = self.expect(201, "POST", "/v1/jobs", {"tenant_id": "acme", "after": "1d"},
                          token=CAROL)
        self.assertEqual(job["requested_by"], "carol")
        # a duplicate name: logged, the running callers kept
        self.write_tokens("alice@example.com %s\nalice@example.com %s\n" % (ALICE, BOB))
        self.daemon.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: any(l.get("event") == "config.reload.failed"
                                     for l in self.w.log_lines(self.daemon)),
                         what="the reload to fail")
        failed = [l for l in self.w.log_lines(self.daemon)
                  if l.get("event") == "config.reload.failed"]
        self.assertIn("%s:2: alice@example.com is named twice (first on line 1)"
                      % self.tokens, json.dumps(failed))
        with open(self.daemon.logfile) as f:
            self.assertNotIn(BOB, f.read())
        self.assertEqual(self.status("GET", "/v1/jobs", token=CAROL), 200)
        self.assertEqual(self.status("GET", "/v1/jobs", token=BOB), 401)

    def test_bad_tokens_file_is_a_config_error_at_its_line(self):
        cases = [
            ("alice %s\nalice %s\n" % (ALICE, BOB), 2, "alice is named twice (first on line 1)"),
            ("alice %s\n# bob\nbob %s\n" % (ALICE, ALICE), 3,
             "the token of bob is also alice's (on line 1): each caller needs its own"),
            ("al/ice %s\n" % ALICE, 1, "a caller's name is 1 to 64 of"),
            ("alice short-token\n", 1, "the token of alice is shorter than 32 characters"),
            ("alice %s extra\n" % ALICE, 1, "expected NAME TOKEN"),
            ("alice\n", 1, "expected NAME TOKEN"),
        ]
        for text, line, msg in cases:
            self.write_tokens(text)
            res = self.w.run("check-config")
            self.assertEqual(res.rc, 2, res)
            self.assertIn("%s:%d: %s" % (self.tokens, line, msg), res.err)
            for secret in (ALICE, BOB, "short-token"):
                self.assertNotIn(secret, res.err)
        self.write_tokens("# nobody\n")
        self.assertIn("names no caller", self.w.run("check-config").err)
        os.unlink(self.tokens)
        self.assertIn("tokens_file %s cannot be read" % self.tokens,
                      self.w.run("check-config").err)
        # one way to authenticate, not two
        self.write_tokens("alice %s\n" % ALICE)
        with open(self.w.conf, "a") as f:
            f.write("token_file = %s\n" % self.tokens)
        res = self.w.run("check-config")
        self.assertEqual(res.rc, 2, res)
        self.assertIn("both token_file and tokens_file set in [api]; use one", res.err)


if __name__ == "__main__":
    import unittest
    unittest.main()
