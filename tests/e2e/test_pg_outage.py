"""PostgreSQL going away under a running daemon (DESIGN 8): while the
server is down the daemon's event loop keeps running (its API answers, the
requests in flight are read to the end and not sent again), its engine
backs off instead of the store waiting inside a call; once the server is
back every job succeeds, each attempt recorded once."""
import http.client
import subprocess
import time

import backend
import harness
from apicase import API_TOKEN
from test_pg_engine import PgEngineCase

SERVICES = ["orders", "inventory"]
SLOW_MS = 3000      # each DELETE is answered this long after it arrived
ANSWER_S = 1.0      # what the API may take to answer while the database is away


class TestPgOutage(PgEngineCase):

    OWN_CLUSTER = True  # stopped by the test: never the shared one

    def setUp(self):
        super().setUp()
        # The test cluster acknowledges commits before they reach the WAL
        # (tests/pg/cluster): a crash would undo them. A real server does not.
        self.psql("ALTER DATABASE %s SET synchronous_commit = on" % self.db)

    def server(self, *args):
        """tests/pg/cluster ARGS[0] DIR ARGS[1:] on this class's cluster."""
        p = subprocess.run([backend.CLUSTER, args[0], self.cluster.dir] + list(args[1:]),
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)

    def get(self, path, token=None):
        """(status, seconds taken) of GET path on the daemon's API."""
        start = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
        r = c.getresponse()
        body = r.read().decode()
        self.last_headers = dict(r.getheaders())
        c.close()
        return r.status, time.monotonic() - start, body

    def conf_with_api(self):
        # one call an attempt, answered after SLOW_MS, well inside its timeout
        self.conf(services=SERVICES,
                  overrides={n: {"preview_url": None, "timeout": "20s"} for n in SERVICES})
        self.port = harness.free_port()
        token = self.w.write("api.token", API_TOKEN + "\n")
        self.w.append_conf("\n[api]\nlisten = 127.0.0.1:%d\ntoken_file = %s\n" %
                           (self.port, token))

    def test_daemon_keeps_its_work_through_a_database_outage(self):
        self.conf_with_api()
        tenants = ["pg-outage-%d" % i for i in range(3)]
        for t in tenants:
            self.fleet.seed(t)
        for seg in SERVICES:
            self.fleet.fault(service=seg, op="delete", mode="slow", delay_ms=SLOW_MS, count=-1)
        jobs = self.schedule_many(tenants, "--now")
        d = self.w.start()
        n = len(tenants) * len(SERVICES)
        harness.wait_for(lambda: len([r for r in self.deletes() if r["end_ms"] == 0]) == n,
                         timeout=20, what="%d DELETEs in flight" % n)

        self.server("stop", "immediate")
        slowest = [0.0]

        def outage_ridden():
            self.assertIsNone(d.poll(), "the daemon exited")
            status, took, _ = self.get("/healthz")
            self.assertEqual(status, 200)
            slowest[0] = max(slowest[0], took)
            self.assertLess(took, ANSWER_S, "the API stalled while the database is away")
            # the answers were read and their recording tried (and refused)
            failed = self.log_events(d, "engine.store.failed")
            return all(r["end_ms"] for r in self.deletes()) and \
                any(l.get("unrecorded", 0) > 0 for l in failed)
        harness.wait_for(outage_ridden, timeout=20, interval=0.1,
                         what="the DELETEs answered and their recording tried")
        # a store-backed request says why, at once, and that it is for now
        status, took, body = self.get("/v1/jobs/" + jobs[0], token=API_TOKEN)
        self.assertEqual(status, 503, body)
        self.assertEqual(self.last_headers.get("Retry-After"), "1")
        self.assertIn("database unreachable", body)
        self.assertLess(took, ANSWER_S)
        self.assertEqual(len(self.deletes()), n, "nothing is sent again meanwhile")

        self.server("start")
        self.wait_all_succeeded(jobs, timeout=60)
        for job, tenant in zip(jobs, tenants):
            left = self.fleet.tenant(tenant)["services"]
            self.assertEqual({seg: left[seg] for seg in SERVICES if any(left[seg].values())},
                             {}, tenant)
            for t in self.show(job)["tasks"]:
                sent = self.deletes(t["service"], tenant)
                self.assertEqual(t["attempts"], len(sent), (job, t["service"]))
        self.assertEqual(len(self.deletes()), n, "each DELETE went out once")
        self.assertTrue(self.log_events(d, "engine.store.recovered"), d.logfile)
        self.assertIsNone(d.poll(), "the daemon exited")
        self.assertEqual(self.w.stop(d), 0)
        self.assertRc(self.td("audit", "verify"), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
