"""The scheduler on PostgreSQL end to end (DESIGN 8): `run --once` and a
daemon purge against the fake fleet with [store] backend = postgresql;
two daemons with different nodes on one database share the work with no
task ever having two requests in flight and each service's max_in_flight
held at the fleet; a daemon killed with SIGKILL leaves its leases to the
other, taken only once they expired on the database's clock."""
import os
import signal
import time

import harness
from fleet import SERVICES, find_overlaps
from test_engine_basic import EngineCase

CERT_KEY = "certificate-signing-key-pg-e2e"


def answered(reqs):
    """The requests the fleet has answered (an abandoned one stays open)."""
    return [r for r in reqs if r.get("op") and r["end_ms"]]


class PgEngineCase(EngineCase):
    """An EngineCase whose store is a database of a PostgreSQL cluster: the
    one TENANTDEL_TEST_PG_DSN names, or (OWN_CLUSTER, or no such variable) a
    throwaway cluster of the class's own. The first node is "node-a";
    node_conf() writes the same config under another node."""

    OWN_CLUSTER = False

    @classmethod
    def setUpClass(cls):
        dsn = None if cls.OWN_CLUSTER else os.environ.get("TENANTDEL_TEST_PG_DSN")
        cls.cluster = harness.PgCluster(dsn).start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def setUp(self):
        super().setUp()
        self.w.store = self.w.use_postgresql(self.cluster, node="node-a")
        with open(self.w.dsn_file) as f:
            self.db = f.read().split("dbname=")[1].strip()

    def node_conf(self, node):
        """The workdir's config with node = node instead; returns its path."""
        with open(self.w.conf) as f:
            text = f.read()
        self.assertIn("node = node-a\n", text)
        return self.w.write("tenantdel-%s.conf" % node,
                            text.replace("node = node-a\n", "node = %s\n" % node))

    def psql(self, sql):
        return self.cluster.psql(sql, db=self.db)

    def job_states(self, limit=100000):
        r = self.td("list", "--json", "--limit", str(limit))
        self.assertRc(r, 0)
        return {j["job_id"]: j["state"] for j in r.json()}

    def wait_all_succeeded(self, jobs, timeout=60, what="every job succeeded"):
        def done():
            states = self.job_states()
            return all(states.get(j) == "succeeded" for j in jobs)
        harness.wait_for(done, timeout=timeout, interval=0.2, what=what)


class TestPgEngine(PgEngineCase):

    def test_run_once_purges_and_certificates_verify(self):
        key = self.w.write("certificate.key", CERT_KEY + "\n")
        self.conf()
        self.w.append_conf("\n[certificate]\nkey_file = %s\n" % key)
        tenants = ["pg-once-%d" % i for i in range(3)]
        for t in tenants:
            self.fleet.seed(t)
        jobs = self.schedule_many(tenants, "--now")
        self.assertRc(self.once(), 0)
        self.assertEqual(set(self.job_states().values()), {"succeeded"})
        for t in tenants:
            self.assertEqual(self.fleet.tenant(t)["total"], 0, t)
        self.assertRc(self.td("audit", "verify"), 0)
        for j in jobs:
            cert = self.td("certificate", j)
            self.assertRc(cert, 0)
            path = self.w.write("cert-%s.json" % j, cert.out)
            res = self.td("verify-certificate", path)
            self.assertRc(res, 0)
            self.assertIn("certificate verified", res.out)
        # the jobs are rows of PostgreSQL, not of a SQLite file
        self.assertEqual(self.psql("SELECT count(*) FROM jobs WHERE state = 'succeeded'")
                         .strip(), "3")
        self.assertFalse(os.path.exists(self.w.db))

    def test_daemon_picks_up_work_scheduled_while_it_runs(self):
        self.conf()
        self.fleet.seed("pg-live")
        d = self.w.start()
        harness.wait_for(lambda: self.log_events(d, "engine.started"), what="daemon started")
        job = self.schedule("pg-live", "--now")
        self.wait_state(job, "succeeded", timeout=20)
        self.assertEqual(self.fleet.tenant("pg-live")["total"], 0)
        self.assertEqual(self.w.stop(d), 0)
        self.assertRc(self.td("audit", "verify"), 0)

    def test_two_nodes_share_the_work_without_overlap(self):
        limit = 2
        self.conf(extra_scheduler="max_in_flight = 16",
                  overrides={name: {"max_in_flight": limit} for name, _, _ in SERVICES})
        for _, seg, _ in SERVICES:
            self.fleet.fault(service=seg, op="any", mode="slow", delay_ms=15, count=-1)
        tenants = ["pg-two-%02d" % i for i in range(30)]
        for t in tenants:
            self.fleet.seed(t)
        jobs = self.schedule_many(tenants, "--now")
        a = self.w.start()
        b = self.w.start(conf=self.node_conf("node-b"))
        self.wait_all_succeeded(jobs)
        self.assertEqual(self.w.stop(a), 0)
        self.assertEqual(self.w.stop(b), 0)

        self.assertEqual({t: self.fleet.tenant(t)["total"] for t in tenants if
                          self.fleet.tenant(t)["total"]}, {})
        reqs = self.fleet.requests()
        self.assertEqual(find_overlaps(reqs)[:3], [])
        top = self.fleet.stats()["max_in_flight_by_service"]
        self.assertLessEqual(max(top.values()), limit, top)
        # both did a share (each claims at most `limit` a service at a time)
        for p in (a, b):
            self.assertTrue(self.log_events(p, "task.attempt.succeeded"), p.logfile)
        owners = self.psql("SELECT DISTINCT detail::json->>'lease_owner' FROM events"
                           " WHERE detail::json->>'lease_owner' IS NOT NULL")
        self.assertEqual(owners.strip(), "", "no lease was taken back")
        self.assertRc(self.td("audit", "verify"), 0)

    def test_a_killed_nodes_lease_is_taken_after_it_expired(self):
        # orders: one call an attempt, a lease of timeout + 10 s. The
        # timeout is what node-b's start and the look at the lease below
        # may take while the call hangs: 1 s was too short on a loaded
        # machine (the call timed out, its retry succeeded, no lease left).
        self.conf(overrides={"orders": {"preview_url": None, "timeout": "4s"}})
        self.fleet.seed("pg-kill")
        self.fleet.fault(service="orders", op="delete", tenant_id="pg-kill", mode="hang",
                         delay_ms=6000)
        job = self.schedule("pg-kill", "--now")
        a = self.w.start()
        self.wait_in_flight("orders")
        b = self.w.start(conf=self.node_conf("node-b"))
        harness.wait_for(lambda: self.log_events(b, "engine.started"), what="node-b started")
        lease = self.psql("SELECT lease_owner, lease_expires_at, (extract(epoch FROM"
                          " clock_timestamp()) * 1000)::bigint FROM tasks WHERE service ="
                          " 'orders' AND state = 'in_flight'").strip().split("\t")
        self.assertEqual(len(lease), 3, lease)
        owner, until, db_now = lease[0], int(lease[1]), int(lease[2])
        self.assertTrue(owner.startswith("node-a/"), owner)
        self.assertGreater(until - db_now, 5000, "a lease of about 11 s")
        a.send_signal(signal.SIGKILL)
        a.wait()

        self.wait_state(job, "succeeded", timeout=40)
        self.assertEqual(self.fleet.tenant("pg-kill")["total"], 0)
        # node-b did not take it before the lease ran out on the database's
        # clock, although node-a's pid is dead on this machine: another node
        # is another host.
        # (An event's time is the reclaimer's cycle start, before the
        # database's clock passed the lease: the retry's request is the proof.)
        taken = self.psql("SELECT count(*) FROM events WHERE type = 'task.attempt'"
                          " AND detail::json->>'lease_owner' = '%s'" % owner)
        self.assertEqual(taken.strip(), "1")
        orders = self.deletes("orders", "pg-kill")
        self.assertEqual(len(orders), 2, orders)
        self.assertGreaterEqual(orders[1]["start_ms"], until)
        self.assertTrue(self.log_events(b, "task.lease.reclaimed"))
        self.assertEqual(self.w.stop(b), 0)
        self.assertRc(self.td("audit", "verify"), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
