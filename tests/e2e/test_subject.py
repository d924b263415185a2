"""Data-subject erasure end to end (DESIGN 9): `erase-user USER` against the
fake fleet's tenant and auth services. The standard scenario: the user owns
two tenants alone (purged, each by its own child job), shares a third with
another admin (kept) and is a member of two more (kept). Also: a kill -9
before the memberships step, a purge the erasure waits for, list --tenant /
--user, and the subject's certificate."""
import json
import os
import re

import harness
from fleet import find_overlaps
from test_engine_basic import EngineCase
from test_engine_daemon import answered
from test_proof_public import ED_KEY


class SubjectCase(EngineCase):

    def setUp(self):
        super().setUp()
        self.ids = self.fleet.seed_subject_scenario()
        self.user = self.ids["user"]

    def erase(self, *opts, rc=0):
        r = self.td("erase-user", self.user, *opts)
        self.assertRc(r, rc)
        return r.out.strip()

    def user_requests(self):
        return [r for r in self.fleet.requests()
                if r["service"] in ("user_tenants", "admins", "memberships", "auth")]


class TestSubject(SubjectCase):

    def test_user_erased_tenants_run_alone_purged_others_kept(self):
        self.conf(subject=True)
        job = self.erase("--now", "--reason", "GDPR request 42")
        self.assertRc(self.once(), 0)
        j = self.show(job)
        self.assertEqual(j["state"], "succeeded")
        self.assertEqual(j["kind"], "user")
        self.assertEqual(j["user_id"], self.user)
        tenants = {t["tenant_id"]: t for t in j["tenants"]}
        self.assertEqual(sorted(tenants), sorted(self.ids["tenants"]))
        for t in self.ids["solo"]:
            self.assertEqual(tenants[t]["decision"], "purge")
            child = self.show(tenants[t]["child_job_id"])
            self.assertEqual(child["state"], "succeeded")
            self.assertEqual(child["kind"], "purge")
            self.assertEqual(child["parent_id"], job)
            self.assertEqual(self.fleet.tenant(t)["total"], 0)
        shared = tenants[self.ids["shared"]]
        self.assertEqual((shared["decision"], shared["reason"], shared["child_job_id"]),
                         ("keep", "kept: 1 other admin", None))
        self.assertGreater(self.fleet.tenant(self.ids["shared"])["total"], 0)
        for t in self.ids["member"]:
            self.assertEqual(tenants[t]["reason"], "kept: member only")
            self.assertGreater(self.fleet.tenant(t)["total"], 0)
        self.assertEqual(self.fleet.user(self.user)["total"], 0)
        self.assertEqual(find_overlaps(self.fleet.requests()), [])
        # the memberships step went after every child's last request
        reqs = self.fleet.requests()
        mem = [r for r in reqs if r["service"] == "memberships" and r["op"] == "delete"]
        solo = [r for r in reqs if r["tenant_id"] in self.ids["solo"]]
        self.assertEqual(len(mem), 1)
        self.assertLess(max(r["end_ms"] for r in solo), mem[0]["start_ms"])

    def test_cancel_inside_window_sends_nothing(self):
        self.conf(subject=True)
        job = self.erase("--after", "1d")
        self.assertRc(self.td("cancel", job), 0)
        self.assertRc(self.once(), 0)
        self.assertEqual(self.state(job), "cancelled")
        self.assertEqual(self.user_requests(), [])
        self.assertGreater(self.fleet.user(self.user)["total"], 0)

    def test_one_active_job_per_user(self):
        self.conf(subject=True)
        a = self.erase("--after", "1d")
        r = self.td("erase-user", self.user, "--after", "2d")
        self.assertRc(r, 0)
        self.assertEqual(r.out.strip(), a)
        self.assertIn("already has an active erasure job", r.err)

    def test_bad_user_ids_refused_nothing_stored(self):
        self.conf(subject=True)
        for bad in ("a/b", "..", "", "a b"):
            r = self.td("erase-user", bad, "--now")
            self.assertRc(r, 2)
            self.assertIn("invalid user id", r.err)
        self.assertRc(self.td("list", "--json"), 2)  # no store was created
        self.assertEqual(self.fleet.requests(), [])

    def test_without_subject_section_refused(self):
        self.conf()
        r = self.td("erase-user", self.user, "--now")
        self.assertRc(r, 2)
        self.assertIn("no [subject] section", r.err)

    def test_malformed_discovery_fails_clearly(self):
        self.conf(subject=True)
        self.fleet.fault(service="user_tenants", op="discover", mode="status", status=200,
                         body='{"user_id": "%s", "tenants": [{"tenant_id": "x"}]}' % self.user)
        job = self.erase("--now")
        self.assertRc(self.once(), 1)
        j = self.show(job)
        self.assertEqual(j["state"], "failed")
        t = self.task(job, "subject.discover")
        self.assertEqual(t["state"], "dead")
        self.assertIn("discovery: tenants answer: x has no role", t["last_error"])
        self.assertEqual([r for r in self.fleet.requests() if r["op"] == "delete"], [])

    def test_auth_503_retried_403_fails_then_retry_completes(self):
        self.conf(subject=True)
        self.fleet.fault(service="auth", op="delete", mode="status", status=503)
        job = self.erase("--now")
        self.assertRc(self.once(), 0)
        self.assertEqual(self.state(job), "succeeded")
        self.assertEqual(self.task(job, "subject.user")["attempts"], 2)
        # a 403: the parent fails; retry completes it
        other = self.fleet.add_user("u-two", [])["user_id"]
        self.fleet.fault(service="auth", op="delete", mode="status", status=403)
        r = self.td("erase-user", other, "--now")
        self.assertRc(r, 0)
        job2 = r.out.strip()
        self.assertRc(self.once(), 1)
        self.assertEqual(self.state(job2), "failed")
        self.assertIn("403", self.task(job2, "subject.user")["last_error"])
        self.assertRc(self.td("retry", job2), 0)
        self.assertRc(self.once(), 0)
        self.assertEqual(self.state(job2), "succeeded")
        self.assertEqual(self.fleet.user(other)["total"], 0)

    def test_a_purge_the_erasure_waits_for_cannot_be_cancelled_alone(self):
        self.conf(subject=True)
        solo = self.ids["solo"][0]
        # the tenant's own purge, due tomorrow, stands for the erasure's child
        own = self.schedule(solo, "--after", "1d")
        job = self.erase("--now")
        self.assertRc(self.once(), 0)
        tenants = {t["tenant_id"]: t for t in self.show(job)["tenants"]}
        self.assertEqual(tenants[solo]["child_job_id"], own)
        self.assertEqual((self.state(job), self.state(own)), ("running", "scheduled"))
        r = self.td("cancel", own)
        self.assertRc(r, 4)
        self.assertIn("cannot cancel job %s: the erasure of a user (job %s) waits for it: "
                      "cancel the subject job %s instead" % (own, job, job), r.err)
        self.assertEqual((self.state(job), self.state(own)), ("running", "scheduled"))
        # a purge nobody waits for is cancelled as before
        other = self.schedule(self.ids["shared"], "--after", "1d")
        self.assertRc(self.td("cancel", other), 0)

    def test_sigkill_before_memberships_restart_repeats_nothing(self):
        self.conf(subject=True)
        # the memberships DELETE hangs: the kill lands between the children
        # (all succeeded) and the end of the memberships step
        self.fleet.fault(service="memberships", op="delete", mode="hang", delay_ms=60000,
                         count=1)
        job = self.erase("--now")
        p = self.w.start()
        self.wait_in_flight(seg="memberships", op="delete")
        p.kill()
        p.wait()
        children = [t["child_job_id"] for t in self.show(job)["tenants"] if t["child_job_id"]]
        self.assertEqual([self.state(c) for c in children], ["succeeded"] * 2)
        self.assertEqual(self.task(job, "subject.memberships")["state"], "in_flight")
        before = self.fleet.requests()
        p2 = self.w.start()
        self.wait_state(job, "succeeded")
        self.assertEqual(self.w.stop(p2), 0)
        reqs = self.fleet.requests()
        after = reqs[len(before):]
        # nothing done before the kill was sent again: discovery, the children
        self.assertEqual([(r["service"], r["op"]) for r in after],
                         [("memberships", "delete"), ("auth", "delete")])
        # (a preview is asked twice per service: before and after its delete)
        keys = [(r["service"], r["op"], r["tenant_id"]) for r in answered(reqs)
                if r["op"] != "preview"]
        self.assertEqual(len(keys), len(set(keys)), "a request was repeated")
        self.assertEqual({k[1] for k in keys}, {"discover", "delete"})
        self.assertEqual(find_overlaps(answered(reqs)), [])
        mem = [r for r in reqs if r["service"] == "memberships"]
        self.assertEqual(len(mem), 2)
        self.assertGreater(mem[1]["start_ms"], max(r["end_ms"] for r in before if r["end_ms"]))
        self.assertEqual(self.task(job, "subject.memberships")["attempts"], 2)
        self.assertEqual(self.fleet.user(self.user)["total"], 0)

    def listed(self, *opts):
        return [j["job_id"] for j in self.td("list", "--json", *opts).json()]

    def test_list_kind_tenant_and_user(self):
        self.conf(subject=True)
        job = self.erase("--after", "1d")
        self.fleet.seed("plain")
        purge = self.schedule("plain", "--after", "1d")
        self.assertEqual((self.listed("--kind", "user"), self.listed("--kind", "purge")),
                         ([job], [purge]))
        # a tenant named as the user: --tenant finds the tenant's job, --user the user's
        self.fleet.seed(self.user)
        same = self.schedule(self.user, "--after", "1d")
        self.assertEqual(self.listed("--tenant", self.user), [same])
        self.assertEqual(self.listed("--user", self.user), [job])
        self.assertEqual(self.listed("--user", "plain"), [])
        r = self.td("list", "--user", "a/b")
        self.assertRc(r, 2)
        self.assertIn("invalid user id", r.err)


class TestSubjectCertificate(SubjectCase):

    def write(self, name, text):
        path = os.path.join(self.w.path, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_certificate_names_tenants_children_counts_and_verifies_with_public_key(self):
        self.conf(subject=True)
        with open(self.w.conf, "a") as f:
            f.write("\n[certificate]\nsigning_key = %s\n" % self.write("ed.pem", ED_KEY))
        job = self.erase("--now", "--by", "dpo@example.com", "--reason", "GDPR request 42")
        r = self.td("certificate", job)
        self.assertRc(r, 1)
        self.assertIn("not succeeded", r.err)
        self.assertRc(self.once(), 0)
        r = self.td("certificate", job)
        self.assertRc(r, 0)
        text, cert = r.out, r.json()
        self.assertEqual((cert["kind"], cert["user_id"], cert["job_id"], cert["requested_by"],
                          cert["reason"], cert["state"]),
                         ("user", self.user, job, "dpo@example.com", "GDPR request 42",
                          "succeeded"))
        self.assertNotIn("tenant_id", cert)
        self.assertTrue(cert["received_at"] and cert["finished_at"])
        tenants = {t["tenant_id"]: t for t in cert["tenants"]}
        self.assertEqual(sorted(tenants), sorted(self.ids["tenants"]))
        shown = {t["tenant_id"]: t for t in self.show(job)["tenants"]}
        for t in self.ids["solo"]:
            child = tenants[t]["child"]
            self.assertEqual((tenants[t]["role"], tenants[t]["decision"]), ("owner", "purge"))
            self.assertEqual(child["job_id"], shown[t]["child_job_id"])
            self.assertEqual(child["state"], "succeeded")
            self.assertEqual(child["deleted"], self.show(child["job_id"])["total_deleted"])
            last = self.td("events", child["job_id"], "--json").json()[-1]
            self.assertEqual((child["head_event_id"], child["head_event_hash"]),
                             (last["id"], last["hash"]))
            own = self.td("certificate", child["job_id"]).json()["events"]
            self.assertEqual((own["last_id"], own["last_hash"]),
                             (child["head_event_id"], child["head_event_hash"]))
        self.assertEqual((tenants[self.ids["shared"]]["decision"],
                          tenants[self.ids["shared"]]["reason"],
                          tenants[self.ids["shared"]]["child"]),
                         ("keep", "kept: 1 other admin", None))
        for key in ("memberships", "user_data"):
            self.assertEqual(cert[key]["state"], "succeeded")
            self.assertGreater(cert[key]["deleted"], 0)
            self.assertTrue(cert[key]["deleted_counts"])
        tot = cert["totals"]
        self.assertEqual((tot["tenants"], tot["tenants_purged"], tot["tenants_kept"]), (5, 2, 3))
        self.assertEqual(tot["memberships_deleted"], cert["memberships"]["deleted"])
        self.assertEqual(tot["user_data_deleted"], cert["user_data"]["deleted"])
        self.assertEqual(tot["deleted_in_tenants"],
                         sum(tenants[t]["child"]["deleted"] for t in self.ids["solo"]))
        self.assertTrue(cert["chain_verified"])
        self.assertRegex(cert["chain_head"], r"^[0-9a-f]{64}$")
        self.assertEqual(cert["signature"]["alg"], "Ed25519")
        # anyone can check it with the public key alone; one byte changed fails
        pub = self.write("public.pem", self.td("certificate-key", "--public").out)
        path = self.write("cert.json", text)
        r = self.w.run("verify-certificate", path, "--public-key", pub, conf=False)
        self.assertRc(r, 0)
        self.assertEqual(r.out, "certificate verified\n")
        i = re.search(r'"tenants_purged":\s*', text).end()
        for edited in (text[:i] + "3" + text[i + 1:],
                       text.replace('"%s"' % self.ids["shared"], '"%s"' % self.ids["shared"][:-1] + 'x"', 1)):
            self.assertNotEqual(edited, text)
            self.write("cert.json", edited)
            r = self.w.run("verify-certificate", path, "--public-key", pub, conf=False)
            self.assertRc(r, 1)
            self.assertIn("certificate NOT verified", r.err)
        # audit verify --certificates finds its chain head
        self.write("cert.json", text)
        self.assertRc(self.td("audit", "verify", "--certificates", path), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
