"""What the dashboard asks of the API (DESIGN 6), over real HTTP against a
running daemon and the fake fleet: GET /v1/jobs with the filters of
`tenantdel list` (kind, overdue=1, due_within) and cursor paging
(before=JOB, newest first), the per-job progress of progress=1, and GET
/v1/summary, the overview in one answer."""
import datetime
import http.client
import json
import time
import unittest
import urllib.parse

import harness
from apicase import write_api_config
from fleet import SERVICES, Fleet

API_TOKEN = "api-token-e2e-dash-52e1"
STATES = ["scheduled", "running", "succeeded", "failed", "cancelled", "held"]
TASK_STATES = ["pending", "in_flight", "waiting", "succeeded", "dead", "skipped"]


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ApiDashboardTest(unittest.TestCase):
    """One daemon and one fleet for every test: each test uses its own tenants."""

    @classmethod
    def setUpClass(cls):
        cls.w = harness.Workdir()
        cls.fleet = Fleet(token=harness.TOKEN).start()
        cls.port = write_api_config(cls.w, cls.fleet, API_TOKEN,
                                    retry="max_attempts = 1\nbase_delay = 100ms\nmax_delay = 1s")
        cls.daemon = cls.w.start()
        try:
            harness.wait_for(cls.healthy, timeout=20, what="the API to listen")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.w.stop(cls.daemon)
        cls.fleet.stop()
        cls.w.cleanup()

    @classmethod
    def healthy(cls):
        try:
            return cls.call("GET", "/healthz")[0] == 200
        except OSError:
            return False

    @classmethod
    def call(cls, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", cls.port, timeout=30)
        h = {"Authorization": "Bearer " + API_TOKEN}
        data = None if body is None else json.dumps(body)
        if data is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        out = (r.status, r.read().decode())
        c.close()
        return out

    def get(self, path, status=200):
        st, text = self.call("GET", path)
        self.assertEqual(st, status, text)
        return json.loads(text)

    def post(self, path, body):
        st, text = self.call("POST", path, body)
        self.assertIn(st, (200, 201), text)
        return json.loads(text)

    def jobs(self, **q):
        return self.get("/v1/jobs?" + urllib.parse.urlencode(q))

    def wait_state(self, job_id, state, timeout=20):
        return harness.wait_for(lambda: self.get("/v1/jobs/" + job_id)["state"] == state,
                                timeout=timeout, what="job %s %s" % (job_id, state))

    def late_job(self, tenant):
        """A held job whose deadline has passed: overdue, and it stays so."""
        due = time.time() + 4
        j = self.post("/v1/jobs", {"tenant_id": tenant, "after": "4s",
                                   "deadline": rfc3339(due + 0.5)})
        self.post("/v1/jobs/%s/hold" % j["job_id"], {"reason": "legal"})
        harness.wait_for(lambda: time.time() > due + 0.6, timeout=10, what="the deadline")
        return j

    # ---- filters

    def test_filters_overdue_due_within_kind(self):
        late = self.late_job("f-late")
        soon = self.post("/v1/jobs", {"tenant_id": "f-soon", "after": "1h"})
        later = self.post("/v1/jobs", {"tenant_id": "f-later", "after": "30d"})
        ids = lambda js: {j["job_id"] for j in js}

        overdue = self.jobs(overdue=1)
        self.assertIn(late["job_id"], ids(overdue))
        self.assertNotIn(soon["job_id"], ids(overdue))
        self.assertTrue(all(j["state"] in ("scheduled", "running", "failed", "held")
                            for j in overdue))
        within = ids(self.jobs(due_within="2h"))
        self.assertIn(soon["job_id"], within)
        self.assertIn(late["job_id"], within)
        self.assertNotIn(later["job_id"], within)
        self.assertIn(later["job_id"], ids(self.jobs(due_within="31d")))
        self.assertIn(soon["job_id"], ids(self.jobs(kind="purge", state="scheduled")))
        self.assertEqual(self.jobs(kind="reapply"), [])
        # The CLI's list gives the same answer.
        cli = self.w.run("list", "--overdue", "--json")
        self.assertEqual(cli.rc, 0, cli)
        self.assertEqual(ids(cli.json()), ids(overdue))

    def test_bad_filters_are_400(self):
        for q in ("before=nope", "before=" + "0" * 36, "overdue=yes", "progress=2",
                  "kind=bogus", "due_within=soon",
                  "before=0190a4b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b&due_within=1h"):
            st, text = self.call("GET", "/v1/jobs?" + q)
            self.assertEqual(st, 400, (q, text))
            self.assertIn("error", json.loads(text))

    # ---- cursor paging

    def test_cursor_paging_over_30_jobs(self):
        made = [self.post("/v1/jobs", {"tenant_id": "page-%02d" % i, "after": "30d"})["job_id"]
                for i in range(30)]
        whole = [j["job_id"] for j in self.jobs(limit=1000)]
        self.assertEqual(whole, sorted(whole, reverse=True), "newest first")
        seen, cursor, pages = [], None, 0
        while True:
            q = {"limit": 10}
            if cursor:
                q["before"] = cursor
            page = [j["job_id"] for j in self.jobs(**q)]
            pages += 1
            self.assertLessEqual(len(page), 10)
            seen += page
            if len(page) < 10:
                break
            cursor = page[-1]
        self.assertEqual(seen, whole, "the pages, one after another, are the whole list")
        self.assertGreaterEqual(pages, 3)
        # The 30 jobs come newest first and none is lost or repeated.
        mine = [i for i in seen if i in set(made)]
        self.assertEqual(mine, list(reversed(made)))
        # A cursor with a filter: the page after the 10th of the scheduled jobs.
        sched = [j["job_id"] for j in self.jobs(state="scheduled", limit=1000)]
        after = [j["job_id"] for j in self.jobs(state="scheduled", limit=10, before=sched[9])]
        self.assertEqual(after, sched[10:20])
        # The CLI pages the same way.
        cli = self.w.run("list", "--before", sched[9], "--state", "scheduled", "--limit", "10",
                         "--json")
        self.assertEqual(cli.rc, 0, cli)
        self.assertEqual([j["job_id"] for j in cli.json()], after)

    # ---- progress

    def assert_progress_is_tasks(self, item):
        full = self.get("/v1/jobs/" + item["job_id"])
        want = {s: 0 for s in TASK_STATES}
        for t in full["tasks"]:
            want[t["state"]] += 1
        p = item["progress"]
        self.assertEqual({s: p[s] for s in TASK_STATES}, want, item["job_id"])
        self.assertEqual(p["total"], len(full["tasks"]))
        self.assertEqual(p["done"], want["succeeded"] + want["skipped"])

    def test_progress_counts(self):
        n = len(SERVICES)
        done = self.post("/v1/jobs", {"tenant_id": "p-done", "now": True})
        waiting = self.post("/v1/jobs", {"tenant_id": "p-wait", "after": "30d"})
        gone = self.post("/v1/jobs", {"tenant_id": "p-gone", "after": "30d"})
        self.post("/v1/jobs/%s/cancel" % gone["job_id"], {})
        self.fleet.fault(service="orders", op="delete", tenant_id="p-dead", mode="status",
                         status=400, count=-1)
        dead = self.post("/v1/jobs", {"tenant_id": "p-dead", "now": True})
        self.wait_state(done["job_id"], "succeeded")
        self.wait_state(dead["job_id"], "failed")
        # a failed job's other calls still in flight finish after it failed: let them, so
        # that the list and the job read after it see the same tasks
        harness.wait_for(lambda: all(t["state"] != "in_flight" for t in
                                     self.get("/v1/jobs/" + dead["job_id"])["tasks"]),
                         timeout=20, what="the failed job's last calls to finish")
        items = {j["job_id"]: j for j in self.jobs(progress=1, limit=1000)}
        self.assertTrue(all("progress" in j for j in items.values()))
        self.assertNotIn("progress", self.jobs(limit=1)[0], "only when asked for")
        p = items[done["job_id"]]["progress"]
        self.assertEqual((p["total"], p["succeeded"], p["done"]), (n, n, n))
        p = items[waiting["job_id"]]["progress"]
        self.assertEqual((p["total"], p["pending"], p["done"]), (n, n, 0))
        p = items[gone["job_id"]]["progress"]
        self.assertEqual((p["total"], p["skipped"]), (n, n))
        self.assertEqual(items[dead["job_id"]]["progress"]["dead"], 1)
        for j in (done, waiting, gone, dead):
            self.assert_progress_is_tasks(items[j["job_id"]])

    # ---- summary

    def test_summary(self):
        late = self.late_job("s-late")
        self.fleet.fault(service="inventory", op="delete", tenant_id="s-fail", mode="status",
                         status=400, count=-1, body='{"error":"<b>no</b> such tenant"}')
        failed = self.post("/v1/jobs", {"tenant_id": "s-fail", "now": True})
        self.wait_state(failed["job_id"], "failed")
        s = self.get("/v1/summary")
        self.assertEqual(sorted(s["jobs"]), sorted(STATES))
        self.assertGreaterEqual(s["jobs"]["failed"], 1)
        self.assertGreaterEqual(s["jobs"]["held"], 1)
        self.assertGreaterEqual(s["overdue"], 1)
        self.assertLessEqual(len(s["overdue_jobs"]), 10)
        mine = [j for j in s["overdue_jobs"] if j["job_id"] == late["job_id"]]
        self.assertEqual(len(mine), 1, s["overdue_jobs"])
        self.assertEqual(mine[0]["tenant_id"], "s-late")
        self.assertEqual(mine[0]["state"], "held")
        self.assertGreater(mine[0]["late_seconds"], 0)
        lateness = [j["late_seconds"] for j in s["overdue_jobs"]]
        self.assertEqual(lateness, sorted(lateness, reverse=True), "the most overdue first")
        self.assertIsInstance(s["due_lag_seconds"], (int, float))
        self.assertEqual(s["webhook_backlog"], 0)
        self.assertEqual(s["awaiting_approval"], 0, "no four eyes configured")
        svc = {x["service"]: x for x in s["services"]}
        self.assertEqual(set(svc), {name for name, _, _ in SERVICES})
        for x in svc.values():
            self.assertIn(x["breaker"], ("closed", "open", "half_open"))
            self.assertEqual(sorted(x["attempts"]), ["permanent", "retry", "success"])
        inv = svc["inventory"]
        self.assertGreaterEqual(inv["attempts"]["permanent"], 1)
        self.assertEqual(inv["latest_error"]["job_id"], failed["job_id"])
        self.assertEqual(inv["latest_error"]["tenant_id"], "s-fail")
        self.assertIn("<b>no</b>", inv["latest_error"]["error"])
        # The same counts as /metrics, from the same read.
        st, text = self.call("GET", "/metrics")
        self.assertIn('tenantdel_jobs{state="failed"} %d' % s["jobs"]["failed"], text)


if __name__ == "__main__":
    unittest.main()
