"""The headers each request to a service carries (docs/tenantdel.1,
REQUESTS TO SERVICES): Tenantdel-Task (job:service:kind), Tenantdel-Attempt
(the call's number, as the job's events count it), Tenantdel-Owner (the
lease owner: host/boot id/pid/start time), and on the call itself an
Idempotency-Key that stays the same across its retries; seen in the fake
fleet's request log."""
import re
import socket

import harness
from fleet import SEGMENT, parse_owner
from test_engine_basic import EngineCase


def boot_id():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def start_ticks(pid):
    """Field 22 of /proc/pid/stat: the process's start time."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


class TestCallHeaders(EngineCase):

    def host(self, conf_text):
        """The host part of this test's lease owners: [store] node, or the
        host name."""
        m = re.search(r"^node = (\S+)$", conf_text, re.M)
        return m.group(1) if m else socket.gethostname().split("/")[0]

    def requests_of(self, tenant, name):
        return [r for r in self.fleet.requests()
                if r["tenant_id"] == tenant and r["service"] == SEGMENT[name]]

    def test_every_request_names_task_call_and_process_key_stable_across_retries(self):
        text = self.conf()
        self.fleet.seed("hdr")
        # orders: a 503, then the retry; pos: a verification that finds rows
        # left, then the repeated call (a second attempt of the same task)
        self.fleet.fault(service="orders", op="delete", mode="status", status=503, count=1)
        self.fleet.fault(service="pos", op="delete", mode="underdelete", remaining=2, count=1)
        job = self.schedule("hdr", "--now")
        p = self.w.start()
        ticks = start_ticks(p.pid)
        self.wait_state(job, "succeeded")
        self.assertEqual(self.w.stop(p), 0)

        owner = "%s/%s/%d/%d" % (self.host(text), boot_id(), p.pid, ticks)
        reqs = self.fleet.requests()
        self.assertEqual(len(reqs), 3 * 13 + 1 + 2, [(r["service"], r["op"]) for r in reqs])
        for name in SEGMENT:
            task = "%s:%s:delete" % (job, name)
            for r in self.requests_of("hdr", name):
                self.assertEqual((r["task"], r["owner"]), (task, owner), r)
                key = '"%s"' % task if r["method"] == "DELETE" else None
                self.assertEqual(r["idempotency_key"], key, r)
        self.assertEqual(parse_owner(owner)[2], p.pid)

        calls = lambda name: [(r["method"], r["attempt"], r["status"])
                              for r in self.requests_of("hdr", name)]
        # a preview before the call and the verification after it belong to it
        self.assertEqual(calls("orders"), [("GET", "1", 200), ("DELETE", "1", 503),
                                           ("DELETE", "2", 200), ("GET", "2", 200)])
        self.assertEqual(calls("pos"), [("GET", "1", 200), ("DELETE", "1", 200),
                                        ("GET", "1", 200), ("DELETE", "2", 200),
                                        ("GET", "2", 200)])
        self.assertEqual(calls("sales"), [("GET", "1", 200), ("DELETE", "1", 200),
                                          ("GET", "1", 200)])
        # the numbers are the job's own: its task.attempt events
        ev = self.td("events", job, "--json").json()
        self.assertEqual([e["detail"]["attempt"] for e in ev
                          if e["type"] == "task.attempt" and e["service"] == "orders"], [1, 2])

    def test_suspend_and_restore_calls_have_keys_of_their_own(self):
        self.conf(services=["orders"], suspend=True)
        self.fleet.seed("sus")
        job = self.schedule("sus", "--after", "30d")
        self.assertRc(self.once(), 0)
        self.assertRc(self.td("cancel", job), 0)
        self.assertRc(self.once(), 0)
        posts = [(r["path"].rsplit("/", 1)[1], r["idempotency_key"], r["attempt"])
                 for r in self.fleet.requests() if r["method"] == "POST"]
        self.assertEqual(posts, [("suspend", '"%s:orders:suspend"' % job, "1"),
                                 ("restore", '"%s:orders:restore"' % job, "1")])


if __name__ == "__main__":
    import unittest
    unittest.main()
