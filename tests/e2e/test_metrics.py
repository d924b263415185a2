"""Metrics (DESIGN 7): `tenantdel metrics` and `run --metrics-file` print
Prometheus text that a real exposition parser (python3-prometheus-client)
reads, with values that match a known state: jobs by state (every state,
zeros included), attempts by outcome, records deleted per service, the
attempt-duration histogram, due lag, overdue jobs, webhook backlog and
breaker states."""
import os
import time
import unittest

import harness
from fleet import SEGMENT, SERVICES
from test_webhooks import WebhookCase

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # Debian: python3-prometheus-client (scripts/install-deps)
    text_string_to_metric_families = None

STATES = ["scheduled", "running", "succeeded", "failed", "cancelled", "held"]


def rfc3339(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse(text):
    """{name: family} from the exposition text (raises on a syntax error)."""
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(fam, name=None, **labels):
    """Values of fam's samples called name (default: the family's name)
    whose labels include labels."""
    name = name or fam.name
    return [s.value for s in fam.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


@unittest.skipIf(text_string_to_metric_families is None, "python3-prometheus-client missing")
class MetricsTest(WebhookCase):
    def setUp(self):
        super().setUp()
        # A receiver nobody listens on: every outbox row stays in the backlog.
        self.configure("http://127.0.0.1:%d/hook" % harness.free_port())

    def metrics(self):
        res = self.td("metrics")
        return parse(res.out), res.out

    def test_every_series_has_help_type_and_parses(self):
        self.td("run", "--once")  # creates the empty database (only writers do)
        fams, text = self.metrics()
        want = {"tenantdel_jobs": "gauge", "tenantdel_jobs_overdue": "gauge",
                "tenantdel_task_attempts": "counter", "tenantdel_records_deleted": "counter",
                "tenantdel_attempt_duration_seconds": "histogram",
                "tenantdel_due_lag_seconds": "gauge", "tenantdel_webhook_backlog": "gauge",
                "tenantdel_breaker_state": "gauge"}
        for name, typ in want.items():
            self.assertIn(name, fams)
            self.assertEqual(fams[name].type, typ, name)
            self.assertTrue(fams[name].documentation, name)
        for line in text.splitlines():
            if line.startswith("# TYPE"):
                self.assertIn(line.split()[2], text.replace(line, ""))
        # Every state is present on an empty database, at 0.
        for st in STATES:
            self.assertEqual(samples(fams["tenantdel_jobs"], state=st), [0.0], st)
        # Every configured service has its histogram and breaker, zeros included.
        for name, _, _ in SERVICES:
            h = fams["tenantdel_attempt_duration_seconds"]
            self.assertEqual(samples(h, "tenantdel_attempt_duration_seconds_count",
                                     service=name), [0.0])
            self.assertEqual(samples(fams["tenantdel_breaker_state"], service=name), [0.0])

    def test_usage_error(self):
        res = self.td("metrics", "--bogus", rc=2)
        self.assertEqual(res.out, "")
        self.assertIn("metrics", res.err)

    def test_values_match_known_state(self):
        seeded = self.fleet.seed("gone")["services"]
        # one 503 for orders: one retryable failure, then success
        self.fleet.fault(service="orders", op="delete", tenant_id="gone", mode="status",
                         status=503, count=1)
        gone = self.td("schedule", "gone", "--now").out.strip()
        self.td("schedule", "later", "--after", "30d")
        held = self.td("schedule", "held-one", "--after", "30d").out.strip()
        self.td("hold", held, "--reason", "litigation")
        dropped = self.td("schedule", "dropped", "--after", "30d").out.strip()
        self.td("cancel", dropped)
        self.td("run", "--once")
        self.assertEqual(self.td("show", gone, "--json").json()["state"], "succeeded")
        # Due now with a deadline two seconds on, and no scheduler running:
        # due but not started, then overdue.
        self.td("schedule", "late", "--now", "--deadline", rfc3339(time.time() + 2))
        harness.wait_for(lambda: samples(self.metrics()[0]["tenantdel_jobs_overdue"]) == [1.0],
                         timeout=10, what="the late job to be overdue")

        fams, _ = self.metrics()
        jobs = {st: samples(fams["tenantdel_jobs"], state=st)[0] for st in STATES}
        self.assertEqual(jobs, {"scheduled": 2, "running": 0, "succeeded": 1, "failed": 0,
                                "cancelled": 1, "held": 1})
        self.assertEqual(samples(fams["tenantdel_jobs_overdue"]), [1.0])
        lag = samples(fams["tenantdel_due_lag_seconds"])[0]
        self.assertTrue(1 <= lag <= 60, lag)

        attempts = fams["tenantdel_task_attempts"]
        deleted = fams["tenantdel_records_deleted"]
        hist = fams["tenantdel_attempt_duration_seconds"]
        for name, seg, _ in SERVICES:
            n = sum(seeded[seg].values())
            self.assertEqual(samples(deleted, "tenantdel_records_deleted_total", service=name),
                             [float(n)], name)
            ok = samples(attempts, "tenantdel_task_attempts_total", service=name,
                         outcome="success")
            self.assertEqual(ok, [1.0], name)
            total = sum(samples(attempts, "tenantdel_task_attempts_total", service=name))
            self.assertEqual(total, 2.0 if name == "orders" else 1.0, name)
            # The histogram counts every attempt, cumulatively, +Inf == count.
            buckets = [(s.labels["le"], s.value) for s in hist.samples
                       if s.name.endswith("_bucket") and s.labels["service"] == name]
            values = [v for _, v in buckets]
            self.assertEqual(values, sorted(values), name)
            self.assertEqual(buckets[-1][0], "+Inf")
            count = samples(hist, "tenantdel_attempt_duration_seconds_count", service=name)
            self.assertEqual(count, [total], name)
            self.assertEqual(buckets[-1][1], total, name)
            s = samples(hist, "tenantdel_attempt_duration_seconds_sum", service=name)[0]
            self.assertTrue(0 <= s < 60, s)
        self.assertEqual(samples(attempts, "tenantdel_task_attempts_total", service="orders",
                                 outcome="retry"), [1.0])

        # Nothing was delivered: the backlog is every outbox row.
        (rows,), = self.sql("SELECT COUNT(*) FROM outbox")
        self.assertGreaterEqual(rows, 8)
        self.assertEqual(samples(fams["tenantdel_webhook_backlog"]), [float(rows)])

    def test_breaker_states_and_label_escaping(self):
        # Rows as the engine keeps them, for a service whose name needs every
        # escape of the format (the store accepts any text).
        odd = 'odd "name" \\ with\nnewline'
        self.td("run", "--once")  # creates the database (only writers do)
        for svc, state in (("orders", "open"), ("sales", "half_open"), (odd, "closed")):
            self.sql("INSERT INTO breakers (service, state, failures, cooloff_ms,"
                     " updated_at) VALUES (?, ?, 0, 0, 0)", svc, state)
        self.sql("INSERT INTO counters (name, service, label, value)"
                 " VALUES ('attempts', ?, 'retry', 7)", odd)
        fams, _ = self.metrics()
        br = fams["tenantdel_breaker_state"]
        self.assertEqual(samples(br, service="orders"), [2.0])
        self.assertEqual(samples(br, service="sales"), [1.0])
        self.assertEqual(samples(br, service="pos"), [0.0])
        self.assertEqual(samples(br, service=odd), [0.0])
        self.assertEqual(samples(fams["tenantdel_task_attempts"],
                                 "tenantdel_task_attempts_total", service=odd,
                                 outcome="retry"), [7.0])

    def test_run_writes_the_metrics_file_atomically_and_at_exit(self):
        path = os.path.join(self.w.path, "textfile", "tenantdel.prom")
        os.makedirs(os.path.dirname(path))
        self.fleet.seed("t1")
        d = self.w.start("--metrics-file", path)
        harness.wait_for(lambda: os.path.exists(path), timeout=20, what="the metrics file")
        fams = parse(open(path).read())
        self.assertIn("tenantdel_jobs", fams)
        job = self.td("schedule", "t1", "--now").out.strip()
        harness.wait_for(lambda: self.td("show", job, "--json").json()["state"] == "succeeded",
                         timeout=30, what="the purge")
        self.assertEqual(self.w.stop(d), 0)
        # Written once more at exit: it shows the finished purge.
        fams = parse(open(path).read())
        self.assertEqual(samples(fams["tenantdel_jobs"], state="succeeded"), [1.0])
        # Only the file itself is left: the temporary file was renamed over it.
        self.assertEqual(os.listdir(os.path.dirname(path)), ["tenantdel.prom"])


if __name__ == "__main__":
    unittest.main()
