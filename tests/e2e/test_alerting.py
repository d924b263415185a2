"""Alerting and Grafana (DESIGN 7): dist/prometheus/tenantdel-rules.yml passes
`promtool check rules` and its unit tests (`promtool test rules`: each alert
fires on a synthetic series, and stays quiet where it should); every
expression of the Grafana dashboard parses as PromQL; every alert links a
runbook section that exists; and every metric name the rules and the
dashboard use is one that `tenantdel metrics` really prints.

promtool comes with Debian's `prometheus` package. Without it the promtool
tests are skipped, with the reason, except under CI=true, where they fail."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness
from fleet import Fleet, write_fleet_config

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # Debian: python3-prometheus-client (scripts/install-deps)
    text_string_to_metric_families = None

RULES = os.path.join(harness.SRCDIR, "dist", "prometheus", "tenantdel-rules.yml")
RULES_TEST = os.path.join(harness.SRCDIR, "dist", "prometheus", "tenantdel-rules.test.yml")
GRAFANA = os.path.join(harness.SRCDIR, "dist", "grafana", "tenantdel.json")
RUNBOOK = os.path.join(harness.SRCDIR, "docs", "runbook.md")

# Series Prometheus records itself for each scrape target, not tenantdel's.
PROMETHEUS_OWN = {"up"}

# PromQL words that look like names but are not metrics.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "inf", "nan"}

# Grafana's variables, replaced by plain values so that promtool can parse.
GRAFANA_VARS = [("$__rate_interval", "5m"), ("$__range", "1h"), ("$__interval", "1m"),
                ("${instance}", ".*"), ("$instance", ".*")]


def promtool():
    """The promtool path; skips the calling test (fails it under CI=true)
    when there is none."""
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            raise AssertionError("promtool is missing (Debian package prometheus): "
                                 "CI must not skip the alerting tests")
        raise unittest.SkipTest("promtool is missing (Debian package prometheus)")
    return path


def run_promtool(*args):
    p = subprocess.run([promtool()] + list(args), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def load_rules():
    """The alerting rules as [{alert, expr, annotations, ...}]: a minimal
    reader of this file's layout (PyYAML is not required), cross-checked
    against promtool's own count in test_rules_pass_promtool_check."""
    rules, cur, key = [], None, None
    with open(RULES) as f:
        for line in f:
            s = line.strip()
            if s.startswith("#") or not s:
                continue
            m = re.match(r"- alert: (\S+)$", s)
            if m:
                cur = {"alert": m.group(1), "annotations": {}}
                rules.append(cur)
                key = None
                continue
            if cur is None:
                continue
            m = re.match(r'(expr|for): (.+)$', s)
            if m:
                cur[m.group(1)] = m.group(2)
                continue
            m = re.match(r'(summary|description|runbook_url): ?(.*)$', s)
            if m:
                key = m.group(1)
                cur["annotations"][key] = m.group(2).strip('"')
            elif key == "description" and line.startswith(" " * 12):
                cur["annotations"][key] += " " + s
    return rules


def grafana_exprs():
    """Every PromQL expression of the dashboard: targets and variable queries."""
    with open(GRAFANA) as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            out.extend(t["expr"] for t in p.get("targets", []) if t.get("expr"))
            walk(p.get("panels", []))
    walk(dash["panels"])
    for v in dash["templating"]["list"]:
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if v.get("type") == "query" and q:
            m = re.match(r"label_values\((.*),\s*\w+\)$", q)
            out.append(m.group(1) if m else q)
    return out


def metric_names(expr):
    """The metric names an expression reads: identifiers that are neither
    functions, keywords, label names (in {...} or by/without/on/ignoring
    lists) nor durations."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # strings
    e = re.sub(r"\{[^}]*\}", "", e)                           # label matchers
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\[[^\]]*\]", "", e)                          # ranges
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word, rest = m.group(0), e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def exposed_names(text):
    """Every sample name the exposition text can carry, read with the
    prometheus_client parser: gauges by name, counters with _total,
    histograms with _bucket, _sum and _count (even before a first sample)."""
    names = set()
    for fam in text_string_to_metric_families(text):
        names.update(s.name for s in fam.samples)
        if fam.type == "counter":
            names.add(fam.name + "_total")
        elif fam.type == "histogram":
            names.update(fam.name + sfx for sfx in ("_bucket", "_sum", "_count"))
        else:
            names.add(fam.name)
    return names


def runbook_anchors():
    """GitHub's anchors of the runbook's headings."""
    anchors = set()
    with open(RUNBOOK) as f:
        for line in f:
            m = re.match(r"#+\s+(.*)$", line)
            if m:
                slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
                anchors.add(slug)
    return anchors


class RulesTest(unittest.TestCase):
    def test_rules_pass_promtool_check(self):
        rc, out = run_promtool("check", "rules", RULES)
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS: %d rules found" % len(load_rules()), out)

    def test_each_alert_fires_in_its_unit_test(self):
        rc, out = run_promtool("test", "rules", RULES_TEST)
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS", out)
        # Each alert is asserted firing at least once (an exp_alerts list that
        # is not empty after its alertname) and quiet at least once.
        with open(RULES_TEST) as f:
            text = f.read()
        for rule in load_rules():
            name = rule["alert"]
            fired = re.search(r"alertname: %s\n\s+exp_alerts:\n\s+- exp_labels" % name, text)
            quiet = re.search(r"alertname: %s\n\s+exp_alerts: \[\]" % name, text)
            self.assertTrue(fired, "%s is never tested firing" % name)
            self.assertTrue(quiet, "%s is never tested quiet" % name)

    def test_grafana_expressions_parse(self):
        exprs = grafana_exprs()
        self.assertGreaterEqual(len(exprs), 10)
        # As recording rules, promtool parses each one.
        lines = ["groups:", "  - name: grafana", "    rules:"]
        for i, e in enumerate(exprs):
            for var, val in GRAFANA_VARS:
                e = e.replace(var, val)
            self.assertNotIn("$", e, "a Grafana variable left in %r" % e)
            lines += ["      - record: grafana:expr_%d" % i, "        expr: %s" % json.dumps(e)]
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            f.write("\n".join(lines) + "\n")
        self.addCleanup(os.unlink, f.name)
        rc, out = run_promtool("check", "rules", f.name)
        self.assertEqual(rc, 0, out)

    def test_grafana_dashboard_shape(self):
        with open(GRAFANA) as f:
            dash = json.load(f)
        self.assertGreaterEqual(dash["schemaVersion"], 36)
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        for p in dash["panels"]:
            if p["type"] != "row":
                self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
        used = set().union(*(metric_names(e) for e in grafana_exprs()))
        for want in ("tenantdel_jobs", "tenantdel_task_attempts_total",
                     "tenantdel_records_deleted_total", "tenantdel_attempt_duration_seconds_bucket",
                     "tenantdel_due_lag_seconds", "tenantdel_breaker_state",
                     "tenantdel_webhook_backlog"):
            self.assertIn(want, used)
        self.assertTrue(any("histogram_quantile" in e for e in grafana_exprs()))

    def test_every_alert_has_summary_description_and_runbook_section(self):
        rules = load_rules()
        names = {r["alert"] for r in rules}
        for want in ("TenantdelJobPastDeadline", "TenantdelJobFailed", "TenantdelBreakerOpen",
                     "TenantdelDueWorkNotStarted", "TenantdelWebhookBacklogGrowing",
                     "TenantdelDown", "TenantdelDownAbsent"):
            self.assertIn(want, names)
        anchors = runbook_anchors()
        for r in rules:
            ann = r["annotations"]
            self.assertTrue(ann.get("summary"), r["alert"])
            self.assertTrue(ann.get("description"), r["alert"])
            url = ann.get("runbook_url", "")
            self.assertTrue(url.startswith("docs/runbook.md#"), r["alert"])
            self.assertIn(url.split("#", 1)[1], anchors, "%s: no such runbook section" % url)
        self.assertTrue(any("absent(" in r["expr"] for r in rules))

    def test_metric_name_extraction(self):
        # The helper the next test relies on: names, not functions or labels.
        self.assertEqual(metric_names(
            'histogram_quantile(0.9, sum by (le, service) (rate(a_bucket{x="y z"}[5m])))'
            ' / on(service) group_left b_total and absent(up{job="tenantdel"}) > bool 0'),
            {"a_bucket", "b_total", "up"})


@unittest.skipIf(text_string_to_metric_families is None, "python3-prometheus-client missing")
class MetricNamesTest(harness.TestCase):
    def test_every_name_used_is_exposed(self):
        fleet = Fleet(token=harness.TOKEN).start()
        self.addCleanup(fleet.stop)
        write_fleet_config(self.w.conf, fleet, self.w.token_file, self.w.db)
        for tenant in ("t1", "t2"):
            fleet.seed(tenant)
            self.assertRc(self.w.run("schedule", tenant, "--now"), 0)
        self.assertRc(self.w.run("schedule", "later", "--after", "30d"), 0)
        self.assertRc(self.w.run("run", "--once"), 0)
        res = self.w.run("metrics")
        self.assertRc(res, 0)
        exposed = exposed_names(res.out)
        self.assertIn("tenantdel_attempt_duration_seconds_bucket", exposed)

        used = {}
        for r in load_rules():
            for n in metric_names(r["expr"]):
                used.setdefault(n, "rule " + r["alert"])
        for e in grafana_exprs():
            names = metric_names(e)
            self.assertTrue(names, "no metric found in %r" % e)
            for n in names:
                used.setdefault(n, "grafana: " + e)
        self.assertGreaterEqual(len(used), 8)
        missing = {n: where for n, where in used.items()
                   if n not in exposed and n not in PROMETHEUS_OWN}
        self.assertEqual(missing, {}, "names not in `tenantdel metrics`")


if __name__ == "__main__":
    unittest.main()
