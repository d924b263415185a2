"""Data-subject erasure through the API (DESIGN 6, 9): POST /v1/jobs
{"user_id"} creates the subject job (201; 200 with the active one) under
erase-user's rules, with the calling token's name as requested_by; GET
/v1/jobs/ID shows the discovered tenants as `show --json` does; the list
filters user jobs by kind and by user_id (tenant_id matches tenants'
jobs only). With four eyes the erasure waits for another caller's approval
(its children need none); malformed discovery answers fail the job; a
purge the erasure waits for is not cancelled alone (409); the certificate
over the API."""
import json
import os

import harness
from fleet import Fleet, write_fleet_config
import test_api_callers
from test_api_callers import ALICE, BOB


class SubjectApiCase(harness.TestCase):
    """A fleet with the standard erasure scenario, a [subject] config and an
    API with the callers alice@example.com and bob (start() runs it)."""
    # test_api_callers' helpers, without its tests (no global name for its class)
    _c = test_api_callers.ApiCallersTest
    write_tokens, start, call, status, expect = (_c.write_tokens, _c.start, _c.call, _c.status,
                                                 _c.expect)

    def setUp(self):
        super().setUp()
        self.fleet = Fleet(token=harness.TOKEN).start()
        self.addCleanup(self.fleet.stop)
        self.ids = self.fleet.seed_subject_scenario()
        self.user = self.ids["user"]
        self.tokens = os.path.join(self.w.path, "api.tokens")
        self.write_tokens("alice@example.com %s\nbob %s\n" % (ALICE, BOB))
        self.write_conf()

    def write_conf(self, policy=None, subject=True, certificate=None):
        self.port = harness.free_port()
        write_fleet_config(self.w.conf, self.fleet, self.w.token_file, self.w.db,
                           services=["orders", "pos"], subject=subject)
        with open(self.w.conf, "a") as f:
            if policy is not None:
                f.write("\n[policy]\n%s\n" % policy)
            if certificate is not None:
                f.write("\n[certificate]\n%s\n" % certificate)
            f.write("\n[api]\nlisten = 127.0.0.1:%d\ntokens_file = %s\n"
                    % (self.port, self.tokens))

    def get(self, job, token=ALICE):
        return self.expect(200, "GET", "/v1/jobs/" + job, token=token)

    def wait_state(self, job, state, timeout=30):
        harness.wait_for(lambda: self.get(job)["state"] == state, timeout=timeout,
                         what="job %s %s" % (job, state))

    def listed(self, query):
        return [j["job_id"] for j in self.expect(200, "GET", "/v1/jobs?" + query)]


class TestSubjectApi(SubjectApiCase):

    def test_post_user_id_creates_the_erasure_as_the_token_names(self):
        self.start()
        job = self.expect(201, "POST", "/v1/jobs", {"user_id": self.user, "after": "1d",
                                                    "reason": "GDPR request 7"})
        self.assertEqual((job["kind"], job["user_id"], job["requested_by"], job["reason"]),
                         ("user", self.user, "alice@example.com", "GDPR request 7"))
        self.assertIsNone(job["tenant_id"])
        self.assertEqual(job["tenants"], [])
        again = self.expect(200, "POST", "/v1/jobs", {"user_id": self.user, "after": "2d"},
                            token=BOB)
        self.assertEqual(again["job_id"], job["job_id"])
        # the CLI sees the same job
        self.assertEqual(self.td("list", "--user", self.user, "--json").json()[0]["job_id"],
                         job["job_id"])
        err = self.expect(400, "POST", "/v1/jobs", {"user_id": "u-other", "after": "1d",
                                                    "requested_by": "bob"})["error"]
        self.assertIn("'requested_by' cannot name another caller", err)

    def test_bad_bodies_refused_nothing_stored(self):
        self.start()
        cases = [({"user_id": "a/b", "now": True}, "invalid user_id"),
                 ({"user_id": "..", "now": True}, "invalid user_id"),
                 ({"user_id": "", "now": True}, "invalid user_id"),
                 ({"user_id": 7, "now": True}, "user_id"),
                 ({"user_id": self.user, "tenant_id": "acme", "now": True},
                  "either 'tenant_id' or 'user_id'"),
                 ({"user_id": self.user, "tenant_name": "Acme", "now": True}, "tenant_name"),
                 ({"user_id": self.user, "after": "soon"}, "'after' is not a duration"),
                 ({"reason": "nobody"}, "'tenant_id' (or 'user_id') is required")]
        for body, why in cases:
            err = self.expect(400, "POST", "/v1/jobs", body)["error"]
            self.assertIn(why, err, body)
        self.assertEqual(self.td("list", "--json").json(), [])
        self.assertEqual(self.fleet.requests(), [])

    def test_without_subject_section_refused(self):
        self.write_conf(subject=False)
        self.start()
        err = self.expect(400, "POST", "/v1/jobs", {"user_id": self.user, "now": True})["error"]
        self.assertIn("no [subject] section", err)
        self.assertEqual(self.td("list", "--json").json(), [])

    def test_get_shows_tenants_as_show_json_and_list_filters(self):
        self.start()
        job = self.expect(201, "POST", "/v1/jobs", {"user_id": self.user, "now": True})["job_id"]
        self.wait_state(job, "succeeded")
        got = self.get(job)
        shown = self.td("show", job, "--json").json()
        self.assertEqual(got["tenants"], shown["tenants"])
        self.assertEqual(len(got["tenants"]), 5)
        self.assertEqual(got["tasks"], shown["tasks"])
        children = sorted(t["child_job_id"] for t in got["tenants"] if t["child_job_id"])
        self.assertEqual(len(children), 2)
        self.assertNotIn("tenants", self.get(children[0]))
        self.assertEqual(self.listed("kind=user"), [job])
        self.assertEqual(self.listed("user_id=" + self.user), [job])
        self.assertEqual(sorted(self.listed("kind=purge")), children)
        # a user id is no tenant: tenant_id finds the tenant's jobs only
        self.assertEqual(self.listed("tenant_id=" + self.user), [])
        self.assertEqual(self.listed("tenant_id=" + self.ids["solo"][0]),
                         [t["child_job_id"] for t in got["tenants"]
                          if t["tenant_id"] == self.ids["solo"][0]])
        self.assertIn("invalid user_id",
                      self.expect(400, "GET", "/v1/jobs?user_id=a/b")["error"])

    def test_cancel_of_a_purge_the_erasure_waits_for_is_409(self):
        self.start()
        own = self.expect(201, "POST", "/v1/jobs", {"tenant_id": self.ids["solo"][1],
                                                    "after": "1d"})["job_id"]
        job = self.expect(201, "POST", "/v1/jobs", {"user_id": self.user, "now": True})["job_id"]
        harness.wait_for(lambda: len(self.get(job)["tenants"]) == 5, timeout=30,
                         what="the discovery")
        err = self.expect(409, "POST", "/v1/jobs/%s/cancel" % own, {})["error"]
        self.assertIn("cancel the subject job %s instead" % job, err)
        self.assertEqual(self.get(own)["state"], "scheduled")

    def test_four_eyes_pending_erasure_never_runs_until_another_caller_approves(self):
        self.write_conf(policy="approval = required")
        self.start()
        job = self.expect(201, "POST", "/v1/jobs", {"user_id": self.user, "now": True})
        self.assertEqual((job["approval"], job["requested_by"]), ("pending", "alice@example.com"))
        job = job["job_id"]
        # past its due time: a whole run of the scheduler sends nothing
        self.td("run", "--once")
        self.assertEqual(self.fleet.requests(), [])
        self.assertEqual((self.get(job)["state"], self.get(job)["approval"]),
                         ("scheduled", "pending"))
        self.assertEqual([j["job_id"] for j in
                          self.td("list", "--awaiting-approval", "--json").json()], [job])
        # the requester cannot approve: not through the CLI, not with their token
        r = self.td("approve", job, "--by", "alice@example.com", rc=4)
        self.assertIn("the requester cannot approve their own request", r.err)
        err = self.expect(409, "POST", "/v1/jobs/%s/approve" % job, {})["error"]
        self.assertIn("the requester cannot approve", err)
        self.assertIn("'by' cannot name another caller",
                      self.expect(400, "POST", "/v1/jobs/%s/approve" % job,
                                  {"by": "bob"})["error"])
        self.assertEqual(self.fleet.requests(), [])
        got = self.expect(200, "POST", "/v1/jobs/%s/approve" % job, {}, token=BOB)
        self.assertEqual((got["approval"], got["approved_by"]), ("approved", "bob"))
        self.wait_state(job, "succeeded")
        children = [t["child_job_id"] for t in self.get(job)["tenants"] if t["child_job_id"]]
        self.assertEqual(len(children), 2)
        for c in children:  # the children of an approved erasure need no approval
            child = self.get(c)
            self.assertEqual(child["state"], "succeeded")
            self.assertIsNone(child.get("approval"))
        self.assertEqual(self.fleet.user(self.user)["total"], 0)
        events = [e["type"] for e in self.expect(200, "GET", "/v1/jobs/%s/events" % job)]
        self.assertIn("job.approved", events)

    def test_malformed_discovery_fails_the_api_job_clearly(self):
        self.fleet.fault(service="admins", op="discover", mode="status", status=200,
                         body='{"tenant_id": "%s", "admins": [{"user_id": "someone-else", '
                              '"role": "owner"}]}' % self.ids["solo"][0])
        self.start()
        job = self.expect(201, "POST", "/v1/jobs", {"user_id": self.user, "now": True})["job_id"]
        self.wait_state(job, "failed")
        j = self.get(job)
        self.assertEqual(j["tenants"], [])
        step = [t for t in j["tasks"] if t["service"] == "subject.discover"][0]
        self.assertEqual(step["state"], "dead")
        self.assertIn("discovery: admins answer", step["last_error"])
        self.assertIn(self.user, step["last_error"])
        self.assertEqual([r for r in self.fleet.requests() if r["op"] == "delete"], [])
        self.assertEqual(self.td("list", "--kind", "purge", "--json").json(), [])

    def test_certificate_over_the_api_is_hmac_signed_and_verifies(self):
        key = os.path.join(self.w.path, "hmac.key")
        with open(key, "w") as f:
            f.write("subject-certificate-hmac-key\n")
        self.write_conf(certificate="key_file = %s" % key)
        self.start()
        job = self.expect(201, "POST", "/v1/jobs", {"user_id": self.user, "after": "1d"})
        err = self.expect(409, "GET", "/v1/jobs/%s/certificate" % job["job_id"])["error"]
        self.assertIn("not succeeded", err)
        self.expect(200, "POST", "/v1/jobs/%s/cancel" % job["job_id"], {})
        job = self.expect(201, "POST", "/v1/jobs", {"user_id": self.user, "now": True,
                                                    "reason": "GDPR request 9"})["job_id"]
        self.wait_state(job, "succeeded")
        _, text = self.call("GET", "/v1/jobs/%s/certificate" % job)
        cert = json.loads(text)
        self.assertEqual((cert["kind"], cert["user_id"], cert["requested_by"]),
                         ("user", self.user, "alice@example.com"))
        self.assertEqual(cert["signature"]["alg"], "HMAC-SHA256")
        self.assertEqual(len(cert["tenants"]), 5)
        self.assertEqual(cert["totals"]["tenants_purged"], 2)
        self.td("verify-certificate", "-", input=text)
        self.td("verify-certificate", "-", input=text.replace("GDPR request 9", "GDPR request 8"),
                rc=1)


if __name__ == "__main__":
    import unittest
    unittest.main()
