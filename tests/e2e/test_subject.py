"""Data-subject erasure end to end (DESIGN 9): `erase-user USER` against the
fake fleet's tenant and auth services. The standard scenario: the user owns
two tenants alone (purged, each by its own child job), shares a third with
another admin (kept) and is a member of two more (kept)."""
import harness
from fleet import find_overlaps
from test_engine_basic import EngineCase


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


if __name__ == "__main__":
    import unittest
    unittest.main()
