"""migrate-store (DESIGN 4, 8): a SQLite store with jobs in every state
(succeeded with certificates, failed, waiting on a Retry-After, one task in
flight when its daemon was killed, held, cancelled, scheduled for later),
made by a daemon against the fake fleet with injected faults, copied into
the PostgreSQL store of another config (a throwaway cluster of the test's
own): list, show, events and certificate print the same from both
configs, audit verify passes there; a second copy is refused (not empty),
so is the same store, and a database that cannot be reached is a clear
error that never prints the connection string."""
import json
import os
import signal
import unittest

import harness
from fleet import write_fleet_config
from harness import FleetCase, PgCluster

SERVICES = ["orders", "pos", "tenant"]
OK = ["ok-%02d" % i for i in range(12)]
FAILING = ["fail-1", "fail-2"]
WAITING = ["wait-1"]
HANGING = "hang-1"


class MigrateStoreTest(FleetCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = PgCluster().start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def setUp(self):
        super().setUp()
        # the hung delete must still be in flight when the daemon is killed,
        # however long a loaded machine takes to settle the rest
        self.conf(services=SERVICES, retry="base_delay = 100ms\nmax_delay = 1s\nmax_attempts = 2",
                  overrides={"orders": "timeout = 10m\n"})
        self.new_conf = os.path.join(self.w.path, "new.conf")
        write_fleet_config(self.new_conf, self.fleet, self.w.token_file,
                           os.path.join(self.w.path, "unused.db"), services=SERVICES)
        with open(self.new_conf, "a") as f:
            f.write(self.w.use_postgresql(self.cluster, node="host-b"))

    def new(self, *args, rc=0):
        """tenantdel -c new.conf args."""
        return self.td("-c", self.new_conf, *args, rc=rc, conf=False)

    @staticmethod
    def certificate(run, job):
        """The certificate of job from run (self.td or self.new), less the
        moment it was issued."""
        cert = json.loads(run("certificate", job).out)
        del cert["issued_at"]
        return cert

    def jobs_in_every_state(self):
        """Fills the SQLite store; returns {tenant: job id}."""
        for t in OK + FAILING + WAITING + [HANGING]:
            self.fleet.seed(t)
        for t in FAILING:
            self.fleet.fault(service="orders", op="delete", tenant_id=t, mode="status",
                             status=400, count=-1)
        for t in WAITING:
            self.fleet.fault(service="pos", op="delete", tenant_id=t, mode="status",
                             status=503, retry_after="3600", count=-1)
        self.fleet.fault(service="orders", op="delete", tenant_id=HANGING, mode="hang")
        tenants = OK + FAILING + WAITING + [HANGING]
        path = self.w.write("tenants.txt", "\n".join(tenants) + "\n")
        ids = dict(zip(tenants, self.td("schedule", "--from", path, "--now").out.split()))
        for t in ("later", "held", "gone"):
            ids[t] = self.td("schedule", t, "--after", "30d").out.strip()
        self.td("hold", ids["held"], "--reason", "legal hold")
        self.td("cancel", ids["gone"], "--reason", "asked twice")
        daemon = self.w.start()

        def settled():
            # one list, and a show only for the task states it lacks: a
            # command under ASan on a loaded machine takes a second or more
            in_flight = any(r["tenant_id"] == HANGING and r["end_ms"] == 0
                            for r in self.fleet.requests())
            state = {j["tenant_id"]: j["state"] for j in self.td("list", "--json").json()}
            if not in_flight or any(state[t] != "succeeded" for t in OK) or \
                    any(state[t] != "failed" for t in FAILING):
                return False
            return all(any(k["state"] == "waiting" for k in self.td("show", ids[t], "--json")
                           .json()["tasks"]) for t in WAITING)
        # under 1 s alone, ~4 s under ASan; make test runs three or four
        # files at once beside it
        harness.wait_for(settled, timeout=60, what="every job in its state")
        self.w.stop(daemon, sig=signal.SIGKILL)
        return ids

    def test_copy_prints_the_same_everywhere(self):
        ids = self.jobs_in_every_state()
        hang = self.td("show", ids[HANGING], "--json").json()
        self.assertIn("in_flight", [k["state"] for k in hang["tasks"]])
        res = self.td("migrate-store", "--to", self.new_conf)
        self.assertIn("copied %d jobs" % len(ids), res.out)
        self.assertEqual(self.new("list", "--json").out, self.td("list", "--json").out)
        for t, job in ids.items():
            for cmd in (["show", job], ["show", job, "--json"], ["events", job, "--json"]):
                self.assertEqual(self.new(*cmd).out, self.td(*cmd).out, (t, cmd))
            if t in OK:
                self.assertEqual(self.certificate(self.new, job), self.certificate(self.td, job))
            else:
                self.assertEqual(self.new("certificate", job, rc=1).err,
                                 self.td("certificate", job, rc=1).err)
        self.assertTrue(self.certificate(self.new, ids[OK[0]])["chain_verified"])
        verified = self.new("audit", "verify").out
        self.assertIn("chain verified", verified)
        self.assertEqual(verified.splitlines()[-1], self.td("audit", "verify").out.splitlines()[-1])
        # the rows are in PostgreSQL, as they were in SQLite
        with open(self.w.dsn_file) as f:
            db = f.read().split("dbname=")[1].strip()
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM jobs", db=db).strip(),
                         str(len(ids)))
        # the new store works on: the held job released there goes on the chain
        self.new("release", ids["held"])
        self.assertIn("chain verified", self.new("audit", "verify").out)

    def test_refuses_a_store_that_is_not_empty(self):
        self.td("schedule", "acme")
        self.new("schedule", "other")
        res = self.td("migrate-store", "--to", self.new_conf, rc=4)
        self.assertIn("not empty", res.err)
        self.assertIn("nothing copied", res.err)
        self.assertEqual(len(self.new("list", "--json").json()), 1)

    def test_refuses_a_second_copy_and_the_same_store(self):
        self.td("schedule", "acme")
        self.td("migrate-store", "--to", self.new_conf)
        res = self.td("migrate-store", "--to", self.new_conf, rc=4)
        self.assertIn("not empty", res.err)
        res = self.td("migrate-store", "--to", self.w.conf, rc=2)
        self.assertIn("names this same store", res.err)
        # PostgreSQL to itself, through another connection string
        with open(self.w.dsn_file) as f:
            other_dsn = self.w.write("other.dsn", f.read().strip() + " application_name=x\n")
        with open(self.new_conf) as f:
            other = self.w.write("other.conf", f.read().replace(self.w.dsn_file, other_dsn))
        res = self.new("migrate-store", "--to", other, rc=2)
        self.assertIn("names this same store", res.err)

    def test_unreachable_database_is_a_clear_error(self):
        self.td("schedule", "acme")
        secret = "Pw-migrate-5c1e"
        self.w.write("pg.dsn", "host=/nonexistent/sock user=x password=%s dbname=y\n" % secret)
        res = self.td("migrate-store", "--to", self.new_conf, rc=2)
        self.assertIn("cannot connect to the PostgreSQL store", res.err)
        self.assertNotIn(secret, res.out + res.err)
        self.assertNotIn("/nonexistent/sock user=x", res.out + res.err)

    def test_usage(self):
        self.assertIn("--to NEW.conf", self.td("migrate-store", "--help").out)
        self.assertIn("--to NEW.conf is required", self.td("migrate-store", rc=2).err)
        self.td("schedule", "acme")
        res = self.td("migrate-store", "--to", os.path.join(self.w.path, "missing.conf"), rc=2)
        self.assertIn("missing.conf", res.err)


if __name__ == "__main__":
    unittest.main()
