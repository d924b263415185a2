"""The API tests' shared part (no tests of its own, so a file that derives
from it runs only its own): a daemon with [api] on a free port of 127.0.0.1
behind one bearer token, and helpers that call it over real HTTP."""
import http.client
import json
import os

import harness
from fleet import Fleet, write_fleet_config

API_TOKEN = "api-token-e2e-3c9d71"


def write_api_config(w, fleet, token, **fleet_kw):
    """Writes w's config for fleet (write_fleet_config with fleet_kw) plus an
    [api] section on a free port whose token file holds token; returns the port."""
    token_file = os.path.join(w.path, "api.token")
    with open(token_file, "w") as f:
        f.write(token + "\n")
    port = harness.free_port()
    write_fleet_config(w.conf, fleet, w.token_file, w.db, **fleet_kw)
    with open(w.conf, "a") as f:
        f.write("\n[api]\nlisten = 127.0.0.1:%d\ntoken_file = %s\n" % (port, token_file))
    return port


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Answer(%d, %r)" % (self.status, self.body[:500])


class ApiCase(harness.TestCase):
    """Each test gets a fleet and a daemon whose API listens on self.port."""

    def setUp(self):
        super().setUp()
        self.fleet = Fleet(token=harness.TOKEN).start()
        self.addCleanup(self.fleet.stop)
        self.port = write_api_config(self.w, self.fleet, API_TOKEN)
        self.daemon = self.w.start()
        harness.wait_for(self.healthy, timeout=20, what="the API to listen")

    def healthy(self):
        try:
            return self.call("GET", "/healthz", token=None).status == 200
        except OSError:
            self.assertIsNone(self.daemon.poll(), "the daemon exited")
            return False

    def call(self, method, path, body=None, token=API_TOKEN, raw=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        a = Answer(r.status, dict(r.getheaders()), r.read().decode())
        c.close()
        return a

    def expect(self, status, method, path, body=None, **kw):
        a = self.call(method, path, body, **kw)
        self.assertEqual(a.status, status, a)
        return a

    def expect_error(self, status, method, path, body=None, **kw):
        a = self.expect(status, method, path, body, **kw)
        self.assertTrue(a.headers.get("Content-Type", "").startswith("application/json"), a)
        err = a.json()
        self.assertEqual(list(err), ["error"])
        self.assertTrue(err["error"])
        return err["error"]

    def jobs_in_db(self):
        return self.w.run("list", "--json").json()

    def wait_state(self, job, state, timeout=30):
        harness.wait_for(lambda: self.call("GET", "/v1/jobs/" + job).json()["state"] == state,
                         timeout=timeout, what="job %s %s" % (job, state))
