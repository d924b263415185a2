"""End-to-end tests of the job-management commands (issue 2): schedule,
cancel, hold, release, list, show, events, check-config, version, help,
their JSON shapes, exit codes and bad input. No HTTP is made: the services
point at 127.0.0.1:9 and no scheduler runs."""
import json
import os
import sqlite3
import subprocess
import threading
import time

import harness

CONF = """\
[scheduler]
database = tenantdel.db
retention = 30d
deadline = 7d

[http]
token_file = service.token

[service orders]
delete_url = http://127.0.0.1:9/api/v1/orders/tenant/{tenant_id}
preview_url = http://127.0.0.1:9/api/v1/orders/tenant/{tenant_id}/deletion-preview
suspend_url = http://127.0.0.1:9/api/v1/orders/tenant/{tenant_id}/suspend
restore_url = http://127.0.0.1:9/api/v1/orders/tenant/{tenant_id}/restore

[service pos]
delete_url = http://127.0.0.1:9/api/v1/pos/tenant/{tenant_id}

[service tenant]
delete_url = http://127.0.0.1:9/api/v1/tenants/{tenant_id}
phase = 2
"""

JOB_KEYS = {"job_id", "tenant_id", "tenant_name", "state", "requested_by", "reason",
            "created_at", "due_at", "deadline_at", "started_at", "finished_at",
            "total_deleted"}
TASK_KEYS = {"service", "phase", "state", "attempts", "http_status", "deleted_counts",
             "duration_ms", "last_error", "next_attempt_at"}
EVENT_KEYS = {"id", "job_id", "at", "type", "service", "detail", "hash", "chain_ok"}
BAD_TENANTS = ["../x", "a b", "", "a" * 129, "a/b", "x%2e", "caf\u00e9", ".x", "-x"]
COMMANDS = ["schedule", "cancel", "hold", "release", "retry", "list", "show", "preview",
            "events", "certificate", "reapply", "run", "check-config", "metrics",
            "audit", "verify-certificate", "version"]


def rfc3339_ms(s):
    """Epoch ms of an RFC 3339 UTC time as tenantdel prints it."""
    import datetime
    s = s.replace("Z", "+00:00")
    return int(datetime.datetime.fromisoformat(s).timestamp() * 1000)


class CliTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.w.write_conf(CONF)

    def run_td(self, *args, **kw):
        """Runs tenantdel; every output is checked for the service token."""
        r = self.w.run(*args, **kw)
        self.assertNotIn(harness.TOKEN, r.out + r.err)
        return r

    def ok(self, *args, **kw):
        r = self.run_td(*args, **kw)
        self.assertRc(r, 0)
        return r

    def fails(self, rc, *args, **kw):
        """Expects exit rc and one "tenantdel: " line on stderr."""
        r = self.run_td(*args, **kw)
        self.assertRc(r, rc)
        lines = [l for l in r.err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, repr(r))
        self.assertTrue(lines[0].startswith("tenantdel: "), repr(r))
        return r

    def schedule(self, tenant, *args):
        return self.ok("schedule", tenant, *args).out.strip()

    def jobs(self, *args):
        if not self.w.has_store():
            return []  # nothing stored, not even a store (DESIGN 4: only writers create it)
        return self.ok("list", "--json", *args).json()

    def db(self):
        return sqlite3.connect(self.w.db, isolation_level=None)


class ScheduleTest(CliTest):
    def test_schedule_prints_id_and_show_has_the_design_shape(self):
        job = self.schedule("acme", "--name", "Acme Bakery", "--by", "alice",
                            "--reason", "contract ended")
        self.assertRegex(job, r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")
        j = self.ok("show", job, "--json").json()
        self.assertLessEqual(JOB_KEYS | {"tasks"}, set(j))
        self.assertEqual((j["job_id"], j["tenant_id"], j["tenant_name"], j["state"]),
                         (job, "acme", "Acme Bakery", "scheduled"))
        self.assertEqual((j["requested_by"], j["reason"]), ("alice", "contract ended"))
        self.assertIsNone(j["started_at"])
        self.assertEqual(j["total_deleted"], 0)
        tasks = {(t["service"], t.get("kind", "delete")): t for t in j["tasks"]}
        self.assertEqual(set(tasks), {("orders", "suspend"), ("orders", "delete"),
                                      ("pos", "delete"), ("tenant", "delete")})
        for t in j["tasks"]:
            self.assertLessEqual(TASK_KEYS, set(t))
            self.assertEqual((t["state"], t["attempts"]), ("pending", 0))
        self.assertEqual(tasks[("pos", "delete")]["next_attempt_at"], j["due_at"])
        self.assertIsNone(tasks[("tenant", "delete")]["next_attempt_at"])  # phase 2
        self.assertEqual(tasks[("tenant", "delete")]["phase"], 2)

    def test_default_window_and_deadline_come_from_the_config(self):
        before = time.time() * 1000
        j = self.ok("schedule", "acme", "--json").json()
        due, deadline = rfc3339_ms(j["due_at"]), rfc3339_ms(j["deadline_at"])
        self.assertAlmostEqual(due - before, 30 * 86400000, delta=60000)
        self.assertEqual(deadline - due, 7 * 86400000)
        self.assertIn("tasks", j)

    def test_after_at_now_and_deadline(self):
        j = self.ok("schedule", "a1", "--after", "1h30m", "--json").json()
        self.assertAlmostEqual(rfc3339_ms(j["due_at"]) - rfc3339_ms(j["created_at"]),
                               5400000, delta=2000)
        j = self.ok("schedule", "a2", "--at", "2031-02-03T04:05:06Z",
                    "--deadline", "2031-03-01T00:00:00Z", "--json").json()
        self.assertEqual((j["due_at"], j["deadline_at"]),
                         ("2031-02-03T04:05:06Z", "2031-03-01T00:00:00Z"))
        j = self.ok("schedule", "a3", "--now", "--json").json()
        self.assertAlmostEqual(rfc3339_ms(j["due_at"]), rfc3339_ms(j["created_at"]), delta=2000)
        # a time already past means "due now"
        j = self.ok("schedule", "a4", "--at", "2001-01-01T00:00:00Z", "--json").json()
        self.assertAlmostEqual(rfc3339_ms(j["due_at"]), rfc3339_ms(j["created_at"]), delta=2000)

    def test_bad_timing_options_are_usage_errors(self):
        for args in (["--after", "1d", "--now"], ["--at", "2031-01-01T00:00:00Z", "--after", "1d"],
                     ["--after", "soon"], ["--at", "tomorrow"], ["--at", "2031-02-30T00:00:00Z"],
                     ["--at", "2031-02-03T00:00:00Z", "--deadline", "2031-02-02T00:00:00Z"]):
            r = self.fails(2, "schedule", "acme", *args)
        self.assertIn("before the due time", r.err)
        self.assertEqual(self.jobs(), [])

    def test_schedule_is_idempotent_per_tenant(self):
        a = self.schedule("acme")
        r = self.ok("schedule", "acme", "--after", "1d")
        self.assertEqual(r.out.strip(), a)
        self.assertEqual(len(self.jobs()), 1)
        self.ok("cancel", a)
        b = self.schedule("acme")
        self.assertNotEqual(a, b)

    def test_invalid_tenant_ids_are_refused_and_nothing_is_stored(self):
        for bad in BAD_TENANTS:
            r = self.fails(2, "schedule", "--", bad)
            self.assertIn("tenant id", r.err)
        self.assertEqual(self.jobs(), [])

    def test_eight_concurrent_schedules_make_one_job(self):
        cmd = [harness.BIN, "-c", self.w.conf, "schedule", "same-tenant"]
        env = dict(os.environ, TENANTDEL_BUSY_TIMEOUT_MS="30000")
        go = threading.Barrier(8)
        results = [None] * 8

        def one(i):
            go.wait()
            p = subprocess.run(cmd, capture_output=True, text=True, cwd=self.w.path, env=env)
            results[i] = (p.returncode, p.stdout.strip(), p.stderr)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r[0] for r in results], [0] * 8, results)
        self.assertEqual(len({r[1] for r in results}), 1, results)
        self.assertEqual(len(self.jobs()), 1)
        self.assertEqual(self.sql("SELECT count(*) FROM events WHERE type = 'job.scheduled'"),
                         [(1,)])


class BulkTest(CliTest):
    def test_from_file_skips_comments_and_blank_lines(self):
        path = os.path.join(self.w.path, "tenants.txt")
        with open(path, "w") as f:
            f.write("# tenants leaving\n\nt1\n  t2  \r\n# t3\nt1\nt4\n")
        out = self.ok("schedule", "--from", path).out.split()
        self.assertEqual(len(out), 4)  # t1 twice: the same job
        self.assertEqual(out[0], out[2])
        self.assertEqual(len(set(out)), 3)
        self.assertEqual(sorted(j["tenant_id"] for j in self.jobs()), ["t1", "t2", "t4"])
        again = self.ok("schedule", "--from", path).out.split()
        self.assertEqual(again, out)

    def test_from_stdin_with_json(self):
        r = self.ok("schedule", "--from", "-", "--json", "--after", "2d", input="s1\ns2\n")
        arr = r.json()
        self.assertEqual([j["tenant_id"] for j in arr], ["s1", "s2"])
        for j in arr:
            self.assertLessEqual(JOB_KEYS, set(j))
            self.assertNotIn("tasks", j)

    def test_one_invalid_line_schedules_nothing(self):
        path = os.path.join(self.w.path, "tenants.txt")
        with open(path, "w") as f:
            f.write("ok1\nok2\n# fine\na/b\nok3\n")
        r = self.fails(2, "schedule", "--from", path)
        self.assertIn(":4:", r.err)
        self.assertIn("a/b", r.err)
        self.assertEqual(self.jobs(), [])

    def test_large_stdin_invalid_at_the_end_schedules_nothing(self):
        # several chunks go into the transaction before the bad line
        ids = "".join("b%06d\n" % i for i in range(25000))
        r = self.fails(2, "schedule", "--from", "-", input=ids + "b/x\n")
        self.assertIn("stdin:25001:", r.err)
        self.assertIn("nothing was scheduled", r.err)
        self.assertEqual(self.jobs(), [])

    def test_large_file_duplicates_across_chunks(self):
        path = os.path.join(self.w.path, "tenants.txt")
        with open(path, "w") as f:
            f.write("".join("c%06d\n" % i for i in range(25000)) + "c000001\n")
        out = self.ok("schedule", "--from", path, "--after", "2d").out.split()
        self.assertEqual(len(out), 25001)
        self.assertEqual(out[-1], out[1])
        self.assertEqual(len(set(out)), 25000)

    def test_missing_file_and_bad_combinations(self):
        self.fails(2, "schedule", "--from", os.path.join(self.w.path, "nope.txt"))
        self.fails(2, "schedule", "x", "--from", "-")
        self.fails(2, "schedule", "--from", "-", "--name", "N", input="a\n")
        self.fails(2, "schedule")


class TransitionTest(CliTest):
    def set_state(self, job, state):
        self.sql("UPDATE jobs SET state = ? WHERE id = ?", state, job)

    def test_cancel_then_cancel_again(self):
        job = self.schedule("acme")
        r = self.ok("cancel", job, "--by", "bob", "--reason", "customer stayed")
        self.assertEqual(r.out.strip(), "job %s: cancelled" % job)
        r = self.fails(4, "cancel", job)
        self.assertIn("cancelled", r.err)
        j = self.ok("show", job, "--json").json()
        self.assertEqual(j["state"], "cancelled")
        self.assertIsNotNone(j["finished_at"])

    def test_cancel_of_a_succeeded_or_running_job_is_refused(self):
        a, b = self.schedule("a"), self.schedule("b")
        self.set_state(a, "succeeded")
        self.set_state(b, "running")
        self.fails(4, "cancel", a)
        r = self.fails(4, "cancel", b)
        self.assertIn("running", r.err)

    def test_cancel_json(self):
        job = self.schedule("acme")
        j = self.ok("cancel", job, "--json").json()
        self.assertEqual((j["job_id"], j["state"]), (job, "cancelled"))
        self.assertLessEqual(JOB_KEYS, set(j))

    def test_hold_and_release(self):
        job = self.schedule("acme")
        self.fails(2, "hold", job)  # --reason is required
        r = self.ok("hold", job, "--reason", "litigation")
        self.assertEqual(r.out.strip(), "job %s: held (was scheduled)" % job)
        j = self.ok("show", job, "--json").json()
        self.assertEqual((j["state"], j["held_from"], j["hold_reason"]),
                         ("held", "scheduled", "litigation"))
        self.fails(4, "hold", job, "--reason", "again")
        r = self.fails(4, "cancel", job)
        self.assertIn("release it first", r.err)
        r = self.ok("release", job, "--json")
        self.assertEqual(r.json()["state"], "scheduled")
        self.fails(4, "release", job)
        self.ok("cancel", job)

    def test_hold_of_a_running_job_releases_to_running(self):
        job = self.schedule("acme")
        self.set_state(job, "running")
        self.ok("hold", job, "--reason", "audit")
        r = self.ok("release", job)
        self.assertEqual(r.out.strip(), "job %s: released (running)" % job)

    def test_unknown_job(self):
        ghost = "01900000-0000-7000-8000-000000000000"
        self.schedule("someone")
        for cmd in (["show", ghost], ["cancel", ghost], ["hold", ghost, "--reason", "r"],
                    ["release", ghost], ["events", ghost], ["show", "not-a-job"]):
            r = self.fails(3, *cmd)
            self.assertIn("no job", r.err)

    def test_missing_job_argument(self):
        for cmd in ("show", "cancel", "release", "events"):
            self.fails(2, cmd)


class ListTest(CliTest):
    def test_filters_and_order(self):
        a = self.schedule("a", "--after", "3d")
        b = self.schedule("b", "--after", "1h")
        c = self.schedule("c", "--at", "2001-01-01T00:00:00Z")
        d = self.schedule("d", "--after", "2d")
        self.ok("cancel", d)
        self.sql("UPDATE jobs SET deadline_at = 1000 WHERE id = ?", c)  # c overdue
        ids = [j["job_id"] for j in self.jobs()]
        self.assertEqual(ids, [d, c, b, a])  # newest first
        for j in self.jobs():
            self.assertLessEqual(JOB_KEYS, set(j))
            self.assertNotIn("tasks", j)
        self.assertEqual([j["job_id"] for j in self.jobs("--state", "cancelled")], [d])
        self.assertEqual([j["job_id"] for j in self.jobs("--tenant", "b")], [b])
        self.assertEqual([j["job_id"] for j in self.jobs("--due-within", "24h")], [c, b])
        self.assertEqual([j["job_id"] for j in self.jobs("--overdue")], [c])
        self.assertEqual([j["job_id"] for j in self.jobs("--limit", "2")], [d, c])
        table = self.ok("list").out.splitlines()
        self.assertEqual(len(table), 5)
        self.assertIn("TENANT", table[0])
        self.assertTrue(table[1].startswith(d))

    def test_bad_filters(self):
        self.fails(2, "list", "--state", "sleeping")
        self.fails(2, "list", "--due-within", "soon")
        self.fails(2, "list", "--limit", "0")
        self.fails(2, "list", "--tenant", "a/b")
        self.fails(2, "list", "--frobnicate")
        self.assertEqual(self.jobs(), [])


class EventsTest(CliTest):
    def test_events_json_shape_and_chain(self):
        job = self.schedule("acme", "--reason", "r")
        self.ok("hold", job, "--reason", "legal")
        self.ok("release", job)
        self.ok("cancel", job)
        evs = self.ok("events", job, "--json").json()
        self.assertEqual([e["type"] for e in evs],
                         ["job.scheduled", "job.held", "job.released", "job.cancelled"])
        for e in evs:
            self.assertLessEqual(EVENT_KEYS, set(e))
            self.assertTrue(e["chain_ok"])
            self.assertRegex(e["hash"], r"^[0-9a-f]{64}$")
        d = evs[0]["detail"]
        self.assertEqual(d["tenant_id"], "acme")
        self.assertEqual(d["services"], ["orders", "pos", "tenant"])
        self.assertIn("due_at", d)
        table = self.ok("events", job).out
        self.assertIn("job.held", table)

    @harness.sqlite_only("the sqlite3 shell's tampering (test_pg_store: PostgreSQL's)")
    def test_tampered_event_is_detected_and_named(self):
        a = self.schedule("a")
        b = self.schedule("b")               # event 2
        self.ok("hold", b, "--reason", "x")  # event 3
        with self.db() as c:
            c.execute("DROP TRIGGER events_no_update")
            c.execute("UPDATE events SET detail = '{\"tenant_id\":\"zzz\"}' WHERE id = 2")
        r = self.fails(1, "events", b)
        self.assertIn("event 2", r.err)
        self.assertIn("!", r.out)
        r = self.run_td("events", b, "--json")
        self.assertRc(r, 1)
        self.assertEqual([e["chain_ok"] for e in r.json()], [False, True])
        self.ok("events", a)  # the other job's trail is intact

    @harness.sqlite_only("SQLite's triggers (test_store_contract: PostgreSQL's)")
    def test_events_cannot_be_edited_or_deleted(self):
        self.schedule("a")
        with self.db() as c:
            for sql in ("UPDATE events SET detail = '{}'", "DELETE FROM events"):
                with self.assertRaises(sqlite3.DatabaseError) as cm:
                    c.execute(sql)
                self.assertIn("append-only", str(cm.exception))


class ConfigAndUsageTest(CliTest):
    def test_check_config_of_the_example_lists_13_services(self):
        example = os.path.join(harness.SRCDIR, "tenantdel.conf.example")
        r = self.run_td("-c", example, "check-config", conf=False)
        self.assertRc(r, 0)
        names = ["orders", "inventory", "recipes", "sales", "production", "suppliers", "pos",
                 "external", "forecasting", "alert_processor", "training", "notification",
                 "tenant"]
        rows = [l.split()[0] for l in r.out.splitlines() if l.startswith("  ")]
        self.assertEqual(rows[1:], names)  # after the header row
        self.assertIn("13", r.out)

    def test_check_config_never_prints_the_secret_and_warns_when_unreadable(self):
        r = self.ok("check-config")
        self.assertIn("pos", r.out)
        self.assertEqual(r.err, "")
        os.unlink(self.w.token_file)
        r = self.ok("check-config")
        self.assertIn("warning", r.err)
        self.assertIn("service.token", r.err)

    def test_config_errors(self):
        r = self.fails(2, "-c", os.path.join(self.w.path, "missing.conf"), "list", conf=False)
        self.assertIn("missing.conf", r.err)
        r = self.fails(2, "-c", self.w.path, "list", conf=False)  # a folder: unreadable
        with open(self.w.conf, "a") as f:
            f.write("[bogus]\nx = 1\n")
        r = self.fails(2, "list")
        self.assertIn("tenantdel.conf:", r.err)

    @harness.sqlite_only("writes its own [store] sections")
    def test_store_backend_is_chosen_in_the_config(self):
        with open(self.w.conf) as f:
            text = f.read()
        with open(self.w.conf, "a") as f:
            f.write("\n[store]\nbackend = sqlite\n")
        self.ok("schedule", "acme", "--now")
        self.assertIn("acme", self.ok("list").out)
        with open(self.w.conf, "w") as f:
            f.write(text + "\n[store]\nbackend = postgresql\n")
        r = self.fails(2, "list")
        self.assertIn("tenantdel.conf:", r.err)
        self.assertIn("backend = postgresql in [store] needs dsn_file or dsn_env", r.err)
        r = self.fails(2, "check-config")
        self.assertIn("backend = postgresql in [store] needs dsn_file or dsn_env", r.err)

    def test_config_lookup_order(self):
        other = os.path.join(self.w.path, "other.conf")
        with open(other, "w") as f:
            f.write(CONF.replace("tenantdel.db", "other.db"))
        # ./tenantdel.conf (the harness runs in the workdir)
        self.ok("schedule", "cwd-tenant", conf=False)
        # $TENANTDEL_CONFIG beats ./tenantdel.conf
        self.ok("schedule", "env-tenant", conf=False, env={"TENANTDEL_CONFIG": other})
        # -c beats $TENANTDEL_CONFIG
        r = self.ok("list", "--json", env={"TENANTDEL_CONFIG": other})
        self.assertEqual([j["tenant_id"] for j in r.json()], ["cwd-tenant"])
        r = self.ok("list", "--json", conf=False, env={"TENANTDEL_CONFIG": other})
        self.assertEqual([j["tenant_id"] for j in r.json()], ["env-tenant"])

    def test_unknown_command_and_options(self):
        self.fails(2, "frobnicate")
        self.fails(2, "--frobnicate", "list")
        self.fails(2, "schedule", "acme", "--frobnicate")
        self.fails(2, "show", "--bogus", "x")
        r = self.run_td(conf=False)
        self.assertRc(r, 2)

    def test_help_and_version(self):
        r = self.ok("--help", conf=False)
        for cmd in COMMANDS:
            self.assertIn(cmd, r.out)
        for cmd in COMMANDS:
            r = self.ok(cmd, "--help", conf=False)
            self.assertIn("usage: tenantdel " + cmd.split()[0], r.out)
        self.ok("help", "schedule", conf=False)
        self.fails(2, "help", "frobnicate", conf=False)
        r = self.ok("version", conf=False)
        self.assertRegex(r.out, r"^tenantdel \d+\.\d+")
        self.assertEqual(self.ok("--version", conf=False).out, r.out)


@harness.sqlite_only("SQLite's file: not a database, unwritable, locked")
class DatabaseProblemsTest(CliTest):
    def use_db(self, path):
        self.w.write_conf(CONF.replace("database = tenantdel.db", "database = " + path))

    def test_a_file_that_is_not_a_database(self):
        with open(self.w.db, "wb") as f:
            f.write(b"this is not sqlite\n" * 300)
        r = self.fails(2, "list")
        self.assertIn("not a tenantdel store", r.err)
        r = self.fails(2, "schedule", "acme")
        with open(self.w.db, "rb") as f:
            self.assertTrue(f.read().startswith(b"this is not sqlite"))

    def test_a_folder_where_the_database_cannot_be_written(self):
        # root ignores permissions: a path under a regular file cannot be created
        self.use_db(os.path.join(self.w.token_file, "tenantdel.db"))
        r = self.fails(2, "schedule", "acme")
        self.assertIn("Not a directory", r.err)
        self.use_db("/dev/null/tenantdel.db")
        self.fails(2, "list")

    def test_a_database_locked_by_another_writer(self):
        self.schedule("first")
        c = self.db()
        c.execute("BEGIN IMMEDIATE")
        try:
            t0 = time.monotonic()
            r = self.fails(1, "schedule", "second", env={"TENANTDEL_BUSY_TIMEOUT_MS": "300"})
            waited = time.monotonic() - t0
            self.assertIn("locked", r.err)
            self.assertGreaterEqual(waited, 0.25)
            r = self.fails(1, "cancel", self.jobs()[0]["job_id"],
                           env={"TENANTDEL_BUSY_TIMEOUT_MS": "100"})
            self.assertIn("locked", r.err)
        finally:
            c.execute("ROLLBACK")
            c.close()
        self.assertEqual([j["tenant_id"] for j in self.jobs()], ["first"])
        self.schedule("second")  # and it works once the lock is gone
