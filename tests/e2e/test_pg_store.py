"""The PostgreSQL store through the CLI: a cluster of the test's own
(tests/pg/cluster), a database per test; schedule, list, show, hold,
cancel, events and audit verify as with SQLite; the DSN is a secret."""
import json
import unittest

from harness import FleetCase, PgCluster


class PgStoreTest(FleetCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = PgCluster().start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def setUp(self):
        super().setUp()
        self.conf()
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


if __name__ == "__main__":
    unittest.main()
