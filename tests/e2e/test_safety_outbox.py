"""The webhook outbox is bounded (DESIGN 7, issue 8 finding 8): rows are
written only while a webhook is configured, a url added later receives what
happens from then on (not the history), and delivered rows are pruned after
7 days (the daemon runs under libfaketime 8 days on), while a row a
configured receiver still lacks is kept."""
import json
import os
import signal
import unittest

import harness
from test_webhooks import WebhookCase

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def eight_days_on():
    """The environment that runs tenantdel 8 days in the future (in the
    sanitizer build too: ASan then lets libfaketime be preloaded first)."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME": "+8d", "FAKETIME_NO_CACHE": "1",
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}


class OutboxTest(WebhookCase):

    def outbox_ids(self):
        return {eid for (eid,) in self.sql("SELECT event_id FROM outbox")}

    def backlog(self):
        out = self.td("metrics").out
        return [l for l in out.splitlines() if l.startswith("tenantdel_webhook_backlog ")]

    def reload(self, d):
        n = len(self.events(d, "config.reloaded"))
        d.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: len(self.events(d, "config.reloaded")) > n, what="reload")

    def events(self, d, name):
        return [l for l in self.w.log_lines(d) if l.get("event") == name]

    @staticmethod
    def got(rcv):
        """[(job id, type)] of the events rcv was sent, in order."""
        with rcv.lock:
            bodies = [json.loads(r["body"]) for r in rcv.requests]
        return [(b["job"]["job_id"], b["type"]) for b in bodies]

    def test_no_webhook_writes_no_outbox_row(self):
        self.configure()
        self.fleet.seed("acme")
        job = self.td("schedule", "acme", "--now").out.strip()
        later = self.td("schedule", "later", "--after", "30d").out.strip()
        self.td("hold", later, "--reason", "litigation")
        self.td("release", later)
        self.td("cancel", later)
        self.td("run", "--once")
        self.assertEqual(self.td("show", job, "--json").json()["state"], "succeeded")
        self.assertEqual(self.sql("SELECT count(*) FROM outbox"), [(0,)])
        self.assertEqual(self.backlog(), ["tenantdel_webhook_backlog 0"])

    def test_url_added_later_receives_only_what_follows(self):
        self.configure()
        d = self.w.start()
        old = self.td("schedule", "old", "--after", "30d").out.strip()
        self.td("hold", old, "--reason", "audit")
        # The url is added; the CLI reads the new config before the daemon
        # is told: what it writes is owed to the url all the same.
        first = self.receiver()
        self.configure(first.url)
        new = self.td("schedule", "new", "--after", "30d").out.strip()
        self.reload(d)
        self.td("release", old)
        want = [(new, "job.scheduled"), (old, "job.released")]
        harness.wait_for(lambda: len(self.got(first)) >= 2, what="two deliveries")
        # A second url added while the first has a history: from then on too.
        second = self.receiver()
        self.configure(first.url, second.url)
        self.reload(d)
        self.td("cancel", new)
        harness.wait_for(lambda: len(self.got(second)) >= 1 and len(self.got(first)) >= 3,
                         what="the cancel delivered to both")
        self.assertEqual(self.w.stop(d), 0)
        # (POSTs run side by side: compared in any order)
        self.assertEqual(sorted(self.got(first)), sorted(want + [(new, "job.cancelled")]))
        self.assertEqual(self.got(second), [(new, "job.cancelled")])
        self.assertEqual(self.backlog(), ["tenantdel_webhook_backlog 0"])

    def test_delivered_rows_are_pruned_after_7_days(self):
        rcv = self.receiver()
        self.configure(rcv.url)
        d = self.w.start()
        for t in ("p1", "p2", "p3"):
            self.td("schedule", t, "--after", "30d")
        old = self.outbox_ids()
        harness.wait_for(lambda: len(self.got(rcv)) == 3, what="three deliveries")
        self.assertEqual(self.w.stop(d), 0)
        later = eight_days_on()
        job = self.td("schedule", "p4", "--after", "30d", env=later).out.strip()
        d = self.w.start(env=later)
        harness.wait_for(lambda: not (old & self.outbox_ids()), timeout=15,
                         what="the 8-day-old delivered rows pruned")
        harness.wait_for(lambda: len(self.got(rcv)) == 4, what="the new event delivered")
        self.assertEqual(self.w.stop(d), 0)
        # What is not 7 days old stays; no delivery row is left orphaned.
        self.assertEqual(self.sql("SELECT job_id, type FROM outbox"), [(job, "job.scheduled")])
        self.assertEqual(self.sql("SELECT count(*) FROM webhook_deliveries WHERE outbox_id"
                                  " NOT IN (SELECT id FROM outbox)"), [(0,)])

    def test_rows_a_receiver_still_lacks_are_kept(self):
        rcv = self.receiver()
        rcv.failing = True
        self.configure(rcv.url)
        d = self.w.start()
        self.td("schedule", "k1", "--after", "30d")
        old = self.outbox_ids()
        harness.wait_for(lambda: rcv.requests, what="a failed delivery")
        self.assertEqual(self.w.stop(d), 0)
        later = eight_days_on()
        self.td("schedule", "k2", "--after", "30d", env=later)
        n = len(rcv.requests)
        d = self.w.start(env=later)
        # Each pass prunes before it sends: a POST from this daemon comes
        # after its first pruning pass.
        harness.wait_for(lambda: len(rcv.requests) > n, what="a retry 8 days on")
        self.assertLessEqual(old, self.outbox_ids())
        rcv.failing = False
        harness.wait_for(lambda: len(rcv.delivered()) == 2, what="both deliveries")
        self.assertEqual(self.w.stop(d), 0)
        # Delivered just now (8 days on): kept for 7 more days.
        self.assertLessEqual(old, self.outbox_ids())


if __name__ == "__main__":
    unittest.main()
