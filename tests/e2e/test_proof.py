"""Proof of erasure end to end (DESIGN 7): the certificate's numbers are the
fleet's seeded rows, service by service, verified after the purge; a signed
certificate edited by one byte fails verify-certificate; an event edited
behind the program's back is found by `audit verify` and flagged by
`events`; rows restored from a backup for purged tenants are deleted again
by `reapply` and nothing else is touched; a job past its deadline is listed
as overdue with exactly one job.deadline_missed event."""
import json
import os
import re
import time
import unittest

import harness
from fleet import SEGMENT, SERVICES

CERT_KEY = "certificate-signing-key-e2e-42"


class ProofTest(harness.FleetCase):
    def setUp(self):
        super().setUp()
        self.key_file = self.w.write("certificate.key", CERT_KEY + "\n")
        self.write_conf(key=True)

    def write_conf(self, key=True):
        self.conf()
        if key:
            self.w.append_conf("\n[certificate]\nkey_file = %s\n" % self.key_file)

    # ---- helpers

    def purge(self, *tenants):
        """Schedules each tenant due now and runs the scheduler once; returns
        the job ids."""
        ids = []
        for t in tenants:
            ids.append(self.td("schedule", t, "--now", "--by", "dpo@example.com",
                               "--reason", "GDPR Art. 17 request").out.strip())
        self.td("run", "--once")
        for i in ids:
            self.assertEqual(self.td("show", i, "--json").json()["state"], "succeeded")
        return ids

    def certificate(self, job_id):
        return self.td("certificate", job_id).json()

    def events(self, job_id):
        return self.td("events", job_id, "--json").json()

    def tamper_event(self, event_id):
        """Edits one event row directly, as someone with the database's shell."""
        self.tamper("UPDATE events SET detail = '{\"tampered\":true}' WHERE id = %d" % event_id)

    # ---- certificate

    def test_certificate_numbers_are_the_seeded_rows(self):
        seeded = self.fleet.seed("acme")["services"]
        self.fleet.seed("bystander")
        job, = self.purge("acme")
        cert = self.certificate(job)

        self.assertEqual(cert["tenant_id"], "acme")
        self.assertEqual(cert["job_id"], job)
        self.assertEqual(cert["kind"], "purge")
        self.assertEqual(cert["requested_by"], "dpo@example.com")
        self.assertEqual(cert["reason"], "GDPR Art. 17 request")
        for k in ("received_at", "due_at", "deadline_at", "started_at", "finished_at",
                  "issued_at"):
            self.assertRegex(cert[k], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", k)
        self.assertEqual(cert["method"], "purge via service deletion APIs")
        self.assertEqual(cert["verification_method"], "deletion-preview re-check")

        by_name = {s["service"]: s for s in cert["services"]}
        self.assertEqual(sorted(by_name), sorted(n for n, _, _ in SERVICES))
        total = 0
        for name, seg, _ in SERVICES:
            s = by_name[name]
            want = seeded[seg]
            n = sum(want.values())
            total += n
            self.assertEqual(s["before"], n, name)
            self.assertEqual(s["deleted"], n, name)
            self.assertEqual(s["deleted_counts"], want, name)
            self.assertEqual(s["after"], 0, name)
            self.assertEqual(s["verification"], "verified", name)
            self.assertEqual(s["state"], "succeeded", name)
            self.assertGreaterEqual(s["attempts"], 1, name)
        self.assertEqual(total, 446)
        self.assertEqual(cert["totals"]["deleted"], total)
        self.assertEqual(cert["skipped_services"], [])

        self.assertTrue(cert["chain_verified"])
        self.assertRegex(cert["chain_head"], r"^[0-9a-f]{64}$")
        self.assertEqual(cert["event_count"], len(self.events(job)))
        self.assertEqual(cert["signature"]["alg"], "HMAC-SHA256")
        # the purge touched no one else
        self.assertEqual(self.fleet.tenant("acme")["total"], 0)
        self.assertEqual(self.fleet.tenant("bystander")["total"], 446)

    def test_certificate_of_unfinished_or_unknown_job(self):
        job = self.td("schedule", "later", "--after", "1h").out.strip()
        res = self.td("certificate", job, rc=1)
        self.assertIn("scheduled", res.err)
        self.assertEqual(res.out, "")
        self.td("certificate", "0190a000-0000-7000-8000-000000000000", rc=3)

    def test_signed_certificate_edited_by_one_byte_fails(self):
        self.fleet.seed("acme")
        job, = self.purge("acme")
        text = self.td("certificate", job).out
        path = os.path.join(self.w.path, "cert.json")
        with open(path, "w") as f:
            f.write(text)
        res = self.td("verify-certificate", path)
        self.assertIn("certificate verified", res.out)
        self.assertIn("certificate verified", self.td("verify-certificate", "-", input=text).out)

        # one byte changed: a count, a letter of the tenant id, the signature
        # itself, a byte appended
        i = re.search(r'"deleted":\s*', text).end()
        edits = [text[:i] + chr(ord(text[i]) ^ 1) + text[i + 1:],
                 text.replace('"acme"', '"acmf"', 1),
                 re.sub(r'("value":\s*"[0-9a-f]{10})([0-9a-f])',
                        lambda m: m.group(1) + ("0" if m.group(2) != "0" else "1"), text),
                 text + "x"]
        for n, edited in enumerate(edits):
            self.assertNotEqual(edited, text)
            with open(path, "w") as f:
                f.write(edited)
            res = self.td("verify-certificate", path, rc=1)
            self.assertIn("NOT verified", res.err, "edit %d" % n)

        # no signature at all
        cert = json.loads(text)
        del cert["signature"]
        self.td("verify-certificate", "-", input=json.dumps(cert), rc=1)
        # no key configured: nothing to verify with
        self.write_conf(key=False)
        self.td("verify-certificate", "-", input=text, rc=2)
        self.assertNotIn("signature", self.certificate(job))

    # ---- the audit trail

    def test_audit_verify_finds_an_edited_event(self):
        self.fleet.seed("acme")
        job, = self.purge("acme")
        self.td("schedule", "other", "--after", "1d")
        res = self.td("audit", "verify")
        m = re.match(r"chain verified: (\d+) events, head ([0-9a-f]{64})$", res.out.strip())
        self.assertTrue(m, res.out)
        evs = self.events(job)
        self.assertGreaterEqual(int(m.group(1)), len(evs) + 1)

        victim = evs[len(evs) // 2]["id"]
        self.tamper_event(victim)
        res = self.td("audit", "verify", rc=1)
        self.assertIn("chain broken at event %d" % victim, res.out)
        # the job's audit trail flags it
        flagged = self.td("events", job, rc=1)
        self.assertIn("event %d" % victim, flagged.err)
        self.assertRegex(flagged.out, r"(?m)^\s*%d!" % victim)
        bad = [e for e in self.td("events", job, "--json", rc=1).json() if not e["chain_ok"]]
        self.assertEqual([e["id"] for e in bad], [victim])
        # and the certificate says the chain does not verify
        self.assertFalse(self.certificate(job)["chain_verified"])

    # ---- tombstones and reapply

    def test_reapply_after_backup_restore(self):
        seeded = self.fleet.seed("acme")["services"]
        self.fleet.seed("globex")
        self.fleet.seed("bystander")
        jobs = self.purge("acme", "globex")
        # orders restores last week's backup: the purged tenants' rows are back
        orders_rows = seeded["orders"]
        for t in ("acme", "globex"):
            self.fleet.seed(t, rows={"orders": orders_rows})
        # and pos restored acme too, but only orders is reapplied here
        self.fleet.seed("acme", rows={"pos": {"pos_transactions": 5}})

        self.td("reapply", "--service", "nope", "--since", "1h", rc=2)
        self.td("reapply", "--service", "orders", "--since", "yesterday-ish", rc=2)
        future = self.td("reapply", "--service", "orders", "--since", "2999-01-01T00:00:00Z")
        self.assertEqual(future.out, "")

        res = self.td("reapply", "--service", "orders", "--since", "1h")
        new = res.out.split()
        self.assertEqual(len(new), 2, res)
        self.assertIn("2 jobs", res.err)
        # idempotent while they have not run
        again = self.td("reapply", "--service", "orders", "--since", "1h")
        self.assertEqual(again.out, "")
        for j in new:
            shown = self.td("show", j, "--json").json()
            self.assertEqual(shown["state"], "scheduled")
            self.assertEqual([t["service"] for t in shown["tasks"]], ["orders"])
            self.assertIn(shown["tenant_id"], ("acme", "globex"))
            self.assertEqual(shown["kind"], "reapply")
            self.assertIn(shown["origin_job_id"], jobs)
            sched = [e for e in self.events(j) if e["type"] == "job.scheduled"]
            self.assertEqual(len(sched), 1)
            self.assertIn(sched[0]["detail"]["reapply_of"], jobs)

        before = len(self.fleet.requests())
        self.td("run", "--once")
        for j in new:
            self.assertEqual(self.td("show", j, "--json").json()["state"], "succeeded")
        for t in ("acme", "globex"):
            self.assertEqual(sum(self.fleet.tenant(t)["services"]["orders"].values()), 0, t)
        # nothing else touched: acme's restored pos rows, the bystander
        self.assertEqual(self.fleet.tenant("acme")["services"]["pos"]["pos_transactions"], 5)
        self.assertEqual(self.fleet.tenant("bystander")["total"], 446)
        calls = self.fleet.requests()[before:]
        self.assertTrue(calls)
        self.assertEqual({r["service"] for r in calls if r.get("op")}, {"orders"})
        self.assertEqual({r["tenant_id"] for r in calls if r.get("op")}, {"acme", "globex"})
        # a reapply job has its own certificate, pointing at the purge
        cert = self.certificate(new[0])
        self.assertEqual(cert["kind"], "reapply")
        self.assertIn(cert["reapply_of"], jobs)
        self.assertEqual(cert["services"][0]["deleted"], sum(orders_rows.values()))

    # ---- deadlines

    def test_deadline_missed_once_and_overdue(self):
        now = time.time()
        deadline = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 2))
        job = self.td("schedule", "late", "--now", "--deadline", deadline).out.strip()
        on_time = self.td("schedule", "fine", "--after", "1h").out.strip()
        self.td("hold", job, "--reason", "legal hold: litigation")
        harness.wait_for(lambda: time.time() > now + 3, timeout=10, what="the deadline")

        overdue = [j["job_id"] for j in self.td("list", "--overdue", "--json").json()]
        self.assertIn(job, overdue)
        self.assertNotIn(on_time, overdue)
        self.w.run("run", "--once")
        self.w.run("run", "--once")
        missed = [e for e in self.events(job) if e["type"] == "job.deadline_missed"]
        self.assertEqual(len(missed), 1, self.events(job))
        self.assertEqual([e for e in self.events(on_time) if e["type"] == "job.deadline_missed"],
                         [])


if __name__ == "__main__":
    unittest.main()
