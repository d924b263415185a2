"""Four eyes (DESIGN 10): with [policy] approval = required a new job waits
with "approval": "pending" (no such key without four eyes) and is never dispatched, even past its due time
(run --once and a daemon alike; it shows in list --overdue once its
deadline passes and in list --awaiting-approval), until someone other than
its requester approves it (`approve JOB --by WHO`, exit 4 for the requester
or a job not pending, 3 for no such job; POST /v1/jobs/ID/approve, 409).
The approval is an event and is in the certificate. Over the API the
approver is the token's name. Without the setting nothing changes."""
import glob
import os

import harness
from fleet import Fleet, write_fleet_config
import test_api_callers
from test_api_callers import BOB

SHARED = "shared-api-token-e2e-5a1b2c"


def faketime_env(offset):
    """tenantdel with its wall clock moved by offset ("+10d"), or None."""
    found = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    if not found:
        return None
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": found[0], "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "ASAN_OPTIONS": (opts + ":" if opts else "") + "verify_asan_link_order=0"}


class ApprovalCase(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.fleet = Fleet(token=harness.TOKEN).start()
        self.addCleanup(self.fleet.stop)

    def write_conf(self, policy="approval = required\n", api=""):
        # suspend_url too: a pending job sends nothing at all, not even a suspend
        write_fleet_config(self.w.conf, self.fleet, self.w.token_file, self.w.db,
                           services=["orders", "pos"], suspend=True)
        with open(self.w.conf, "a") as f:
            if policy is not None:
                f.write("\n[policy]\n" + policy)
            f.write(api)

    def schedule(self, tenant, *opts):
        self.fleet.seed(tenant)
        return self.td("schedule", tenant, *opts).out.strip()

    def show(self, job):
        return self.td("show", job, "--json").json()

    def sent_for(self, tenant):
        return [r for r in self.fleet.requests() if r.get("tenant_id") == tenant]

    def listed(self, *opts, env=None):
        return [j["job_id"] for j in self.td("list", "--json", *opts, env=env).json()]


class CliApprovalTest(ApprovalCase):
    def test_a_pending_job_is_never_dispatched_until_another_person_approves(self):
        self.write_conf()
        job = self.schedule("acme", "--now", "--by", "alice", "--reason", "contract ended")
        shown = self.show(job)
        self.assertEqual(shown["approval"], "pending")
        self.assertNotIn("approved_by", shown)
        self.assertEqual(self.listed("--awaiting-approval"), [job])

        # past its due time and its deadline: still nothing sent
        later = faketime_env("+10d")
        if later is None:
            self.skipTest("libfaketime not installed (Debian package faketime)")
        self.td("run", "--once", env=later)
        self.assertEqual(self.sent_for("acme"), [])
        self.assertEqual(self.show(job)["state"], "scheduled")
        self.assertEqual(self.listed("--overdue", env=later), [job])
        self.assertEqual(self.listed("--overdue"), [])
        # waiting for a person is no scheduler lag
        self.assertIn("tenantdel_due_lag_seconds 0.000\n", self.td("metrics", env=later).out)

        # four eyes: not the requester; not without a name
        res = self.td("approve", job, "--by", "alice", rc=4)
        self.assertIn("cannot approve job %s" % job, res.err)
        self.assertIn("own request", res.err)
        self.td("approve", job, rc=2)
        self.td("approve", "0190d5c5-0000-7000-8000-000000000000", "--by", "bob", rc=3)
        self.assertEqual(self.show(job)["approval"], "pending")

        self.assertEqual(self.td("approve", job, "--by", "bob").out, "job %s: approved\n" % job)
        shown = self.show(job)
        self.assertEqual((shown["approval"], shown["approved_by"]), ("approved", "bob"))
        self.assertRegex(shown["approved_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        self.assertEqual(self.listed("--awaiting-approval"), [])
        self.td("approve", job, "--by", "carol", rc=4)  # no longer pending

        self.td("run", "--once")
        self.assertEqual(self.show(job)["state"], "succeeded")
        self.assertIn("DELETE", [r["method"] for r in self.sent_for("acme")])
        events = self.td("events", job, "--json").json()
        approved = [e for e in events if e["type"] == "job.approved"]
        self.assertEqual([e["detail"] for e in approved], [{"by": "bob"}])
        cert = self.td("certificate", job).json()
        self.assertEqual(cert["requested_by"], "alice")
        self.assertEqual(cert["approval"]["by"], "bob")
        self.assertEqual(cert["approval"]["at"], shown["approved_at"])

    def test_bulk_jobs_wait_too_and_a_daemon_starts_only_the_approved(self):
        self.write_conf()
        for t in ("acme", "globex"):
            self.fleet.seed(t)
        path = self.w.write("tenants.txt", "acme\nglobex\n")
        acme, globex = self.td("schedule", "--from", path, "--now", "--by", "alice").out.split()
        self.assertEqual(sorted(self.listed("--awaiting-approval")), sorted([acme, globex]))
        self.td("approve", globex, "--by", "bob")
        p = self.w.start()
        harness.wait_for(lambda: self.show(globex)["state"] == "succeeded", timeout=20,
                         what="the approved job to finish")
        # the daemon purged globex, due at the same time: acme was never sent
        self.assertEqual(self.sent_for("acme"), [])
        self.assertEqual(self.show(acme)["state"], "scheduled")
        # approving wakes the daemon
        self.td("approve", acme, "--by", "bob")
        harness.wait_for(lambda: self.show(acme)["state"] == "succeeded", timeout=20,
                         what="the job approved under a running daemon to finish")
        self.assertEqual(self.w.stop(p), 0)

    def test_without_the_setting_nothing_changes(self):
        for policy in (None, "approval = none\n"):
            with self.subTest(policy=policy):
                self.write_conf(policy=policy)
                tenant = "acme" if policy is None else "globex"
                job = self.schedule(tenant, "--now", "--by", "alice")
                self.assertNotIn("approval", self.show(job))
                self.assertEqual(self.listed("--awaiting-approval"), [])
                self.td("run", "--once")
                self.assertEqual(self.show(job)["state"], "succeeded")
                self.assertNotIn("approval", self.td("certificate", job).json())
                self.td("approve", job, "--by", "bob", rc=4)

    def test_a_bad_value_is_a_config_error_at_its_line(self):
        self.write_conf(policy="approval = maybe\n")
        res = self.td("check-config", rc=2)
        with open(self.w.conf) as f:
            line = f.read().splitlines().index("approval = maybe") + 1
        self.assertIn("%s:%d: approval in [policy] must be none or required" % (self.w.conf, line),
                      res.err)


class ApiApprovalTest(test_api_callers.ApiCallersTest):
    """Over the API, with ApiCallersTest's tokens (alice@example.com, bob)."""

    def setUp(self):
        super().setUp()
        self.w.append_conf("\n[policy]\napproval = required\n")

    def show(self, job):
        return self.td("show", job, "--json").json()

    def test_the_approver_is_the_tokens_name(self):
        self.start()
        self.fleet.seed("acme")
        job = self.expect(201, "POST", "/v1/jobs", {"tenant_id": "acme", "now": True})
        self.assertEqual((job["requested_by"], job["approval"]), ("alice@example.com", "pending"))
        path = "/v1/jobs/%s/approve" % job["job_id"]
        listed = self.expect(200, "GET", "/v1/jobs?awaiting_approval=1")
        self.assertEqual([j["job_id"] for j in listed], [job["job_id"]])
        self.assertEqual(self.expect(200, "GET", "/v1/summary")["awaiting_approval"], 1)
        err = self.expect(409, "POST", path, {})
        self.assertIn("own request", err["error"])
        self.expect(400, "POST", path, {"by": "carol"}, token=BOB)  # no other name
        self.assertEqual(self.show(job["job_id"])["approval"], "pending")
        self.assertEqual([r for r in self.fleet.requests() if r.get("tenant_id") == "acme"], [])
        done = self.expect(200, "POST", path, {}, token=BOB)
        self.assertEqual((done["approval"], done["approved_by"]), ("approved", "bob"))
        self.expect(409, "POST", path, {}, token=BOB)
        self.expect(404, "POST", "/v1/jobs/0190d5c5-0000-7000-8000-000000000000/approve", {})
        self.assertEqual(self.expect(200, "GET", "/v1/jobs?awaiting_approval=1"), [])
        self.assertEqual(self.expect(200, "GET", "/v1/summary")["awaiting_approval"], 0)
        harness.wait_for(lambda: self.show(job["job_id"])["state"] == "succeeded", timeout=20,
                         what="the approved job to finish")
        self.assertEqual(self.td("certificate", job["job_id"]).json()["approval"]["by"], "bob")

    def test_a_shared_token_names_the_approver_in_the_body(self):
        write_fleet_config(self.w.conf, self.fleet, self.w.token_file, self.w.db,
                           services=["orders"])
        self.w.append_conf("\n[policy]\napproval = required\n[api]\nlisten = 127.0.0.1:%d\n"
                           "token_file = %s\n" % (self.port, self.w.write("api.token", SHARED)))
        self.daemon = self.w.start()
        harness.wait_for(lambda: self.status("GET", "/v1/jobs", token=SHARED) == 200,
                         timeout=20, what="the API to listen")
        job = self.expect(201, "POST", "/v1/jobs",
                          {"tenant_id": "acme", "after": "1d", "requested_by": "alice"},
                          token=SHARED)
        path = "/v1/jobs/%s/approve" % job["job_id"]
        err = self.expect(400, "POST", path, {}, token=SHARED)
        self.assertIn("'by'", err["error"])
        self.expect(409, "POST", path, {"by": "alice"}, token=SHARED)
        done = self.expect(200, "POST", path, {"by": "bob"}, token=SHARED)
        self.assertEqual(done["approved_by"], "bob")


def load_tests(loader, tests, pattern):
    """Only this file's tests: ApiApprovalTest inherits test_api_callers' own."""
    return harness.own_tests(tests)
