"""The PostgreSQL store through the CLI: the cluster of TENANTDEL_TEST_PG_DSN
(make test starts one: tests/pg/with-cluster) or one of the test's own
(tests/pg/cluster), a database per test; schedule, list, show, hold,
cancel, events and audit verify as with SQLite; the DSN is a secret; an
idle daemon picks up work another process makes due within a second or
so (LISTEN/NOTIFY), not at its slow poll."""
import os
import time
import unittest

import harness
from harness import FleetCase, PgCluster


class PgStoreTest(FleetCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = PgCluster(os.environ.get("TENANTDEL_TEST_PG_DSN")).start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def setUp(self):
        super().setUp()
        self.conf(services=["orders", "tenant"])
        self.store = self.w.use_postgresql(self.cluster, node="host-a")
        self.w.append_conf(self.store)
        with open(self.w.dsn_file) as f:
            self.db = f.read().split("dbname=")[1].strip()

    def test_commands_against_postgresql(self):
        ids = self.td("schedule", "acme", "--reason", "pg").out.split()
        self.assertEqual(len(ids), 1)
        again = self.td("schedule", "acme", "--reason", "pg")
        self.assertEqual(again.out.split(), ids)
        self.assertIn("already has an active job", again.err)
        other = self.td("schedule", "beta").out.split()[0]
        listed = self.td("list", "--json").json()
        self.assertEqual([j["job_id"] for j in listed], [other, ids[0]])
        shown = self.td("show", ids[0]).out
        self.assertIn("acme", shown)
        self.assertRegex(shown, r"state\s+scheduled")
        self.td("hold", ids[0], "--reason", "legal")
        self.td("cancel", ids[0], "--reason", "x", rc=4)  # held: release it first
        self.td("release", ids[0])
        self.td("cancel", ids[0], "--reason", "x")
        self.assertIn("scheduled", self.td("list", "--state", "scheduled").out)
        self.assertEqual(self.td("list", "--state", "cancelled", "--json").out.count(ids[0]), 1)
        events = self.td("events", ids[0]).out
        for t in ("job.scheduled", "job.held", "job.released", "job.cancelled"):
            self.assertIn(t, events)
        verified = self.td("audit", "verify")
        self.assertIn("chain verified: 5 events", verified.out)
        # the rows are in PostgreSQL, not in a SQLite file
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM jobs", db=self.db).strip(), "2")

    def test_tampered_chain_is_found(self):
        job = self.td("schedule", "acme").out.split()[0]
        self.td("hold", job, "--reason", "r")
        # the trigger refuses an UPDATE; an operator with the rights to
        # disable it can still tamper: audit verify finds it
        self.cluster.psql("ALTER TABLE events DISABLE TRIGGER events_no_update;"
                          "UPDATE events SET detail = '{}' WHERE id = 2", db=self.db)
        res = self.td("audit", "verify", rc=1)
        self.assertIn("append-only triggers are missing or disabled", res.out)
        self.cluster.psql("ALTER TABLE events ENABLE TRIGGER events_no_update", db=self.db)
        res = self.td("audit", "verify", rc=1)
        self.assertIn("event 2", res.out + res.err)

    def test_dsn_is_never_printed(self):
        secret = "Pw-e2e-91f3"
        self.w.write("pg.dsn", "host=/nonexistent/sock user=x password=%s dbname=y\n" % secret)
        res = self.td("schedule", "acme", rc=2)
        self.assertNotIn(secret, res.out + res.err)
        self.assertIn("cannot connect to the PostgreSQL store", res.err)
        self.w.write("pg.dsn", "")
        res = self.td("list", rc=None)
        self.assertNotEqual(res.rc, 0)
        self.assertIn("pg.dsn", res.err)

    def deleted_at(self, tenant):
        """Whether the fleet has seen a DELETE for tenant (truthy: when)."""
        for r in self.fleet.requests():
            if r["method"] == "DELETE" and r["tenant_id"] == tenant:
                return time.monotonic()
        return None

    def test_idle_daemon_takes_new_work_at_once(self):
        p = self.w.start()
        harness.wait_for(lambda: any(line.get("event") == "engine.started"
                                     for line in self.w.log_lines(p)), what="daemon start")
        # The daemon's slow poll ticks every 10 s: the second job is
        # scheduled just after the tick that found the first (were it
        # found by that tick); only a NOTIFY brings it in under 5 s.
        for tenant in ("acme", "beta"):
            t0 = time.monotonic()
            self.td("schedule", tenant, "--now")
            seen = harness.wait_for(lambda: self.deleted_at(tenant), timeout=15,
                                    what="the DELETE of %s" % tenant)
            self.assertLess(seen - t0, 5.0, "%s waited for the slow poll" % tenant)
        self.assertEqual(self.w.stop(p), 0)


if __name__ == "__main__":
    unittest.main()
