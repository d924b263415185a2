"""Chaos (issue 8, DESIGN 3 "Crash safety"): a daemon and `run --once`
side by side over 600 jobs, each killed with SIGKILL at random instants and
started again, against a fleet with latency on every request and 503 on
about 5 % of them. At the end nothing is lost (every job succeeded, every
tenant's data gone at the fleet), no task ever had two requests in flight,
no service more than its max_in_flight (each request is its sender's, named
by its Tenantdel-Owner header: as_lived), the audit chain verifies, and
each task's `attempts` is what this design can promise under kill -9 (see
check_attempts). Without kills, `attempts` equals the DELETEs the fleet saw,
exactly, waits asked by the service included.

The random seed is fixed (TENANTDEL_CHAOS_SEED overrides it) and printed in
every failure message, so a failing run can be replayed."""
import collections
import os
import random
import signal
import subprocess
import sys
import time

import harness
from fleet import SEGMENT, SERVICES, find_overlaps, parse_owner
from test_engine_basic import EngineCase

SEED = int(os.environ.get("TENANTDEL_CHAOS_SEED") or 20240808)
N_JOBS = 600
N_CALM = 100         # jobs of the run without kills
LIMIT = 4            # each service's max_in_flight
CHAOS_S = 40.0       # killing stops after this long, or when every job is done
KILL_EVERY = (0.05, 0.5)  # seconds between kills, uniform


def strangers(reqs, started):
    """The requests whose Tenantdel-Owner names no process of started
    ({pid: its host, or None for any host}): only the test's own
    processes talk to the fleet, and every request of theirs says whose
    it is."""
    out = []
    for r in reqs:
        o = parse_owner(r["owner"])
        if o is None or o[2] not in started or started[o[2]] not in (None, o[0]):
            out.append(r)
    return out


def as_lived(reqs, killed):
    """reqs as their senders lived them: a request of a process killed with
    SIGKILL (killed: {pid: epoch ms of the signal}, the sender read from
    its Tenantdel-Owner) ends at the kill. The fleet goes on with it
    and answers to a closed socket, and the process that takes the task
    over sends its next request at once (DESIGN 3): two requests of one
    task at the fleet then, but not two attempts of tenantdel in flight.
    A dead process's request the fleet read only after the kill (under
    load it can) is left out: it went before the kill, when is unknown."""
    out = []
    for r in reqs:
        k = killed.get(parse_owner(r["owner"])[2])
        if k is not None and (r["end_ms"] == 0 or r["end_ms"] > k):
            if r["start_ms"] >= k:
                continue
            r = dict(r, end_ms=k)
        out.append(r)
    return out


def orphans(reqs, alive):
    """In words: how many of reqs as_lived ended at their sender's kill
    (alive: what it returned), how many it left out."""
    ends = {r["seq"]: r["end_ms"] for r in alive}
    cut = sum(1 for r in reqs if r["seq"] in ends and ends[r["seq"]] != r["end_ms"])
    return "%d ended at their process's kill, %d read after it" % (cut, len(reqs) - len(ends))


def max_concurrency(reqs):
    """{service: most requests open at once} over reqs."""
    edges = {}
    for r in reqs:
        e = edges.setdefault(r["service"], [])
        e.append((r["start_ms"], 1))
        e.append((r["end_ms"] or float("inf"), -1))
    out = {}
    for svc, e in edges.items():
        n = top = 0
        for _, d in sorted(e, key=lambda x: (x[0], x[1])):  # an end before a start
            n += d
            top = max(top, n)
        out[svc] = top
    return out


def fleet_deletes(reqs):
    """{(tenant_id, fleet segment): DELETEs the fleet saw}."""
    return collections.Counter((q["tenant_id"], q["service"]) for q in reqs
                               if q["op"] == "delete")


def chaos_fleet(fleet, rnd, tenants, latency, hangs=0, hang_ms=0):
    """Seeds tenants at fleet; about 5 % of the requests (a preview before,
    the DELETE, a verification: ~3 a task) get a 503, once each; `hangs`
    DELETEs answer only after hang_ms; every request of a service waits
    its delay, drawn from latency (min, max) ms. rnd: a random.Random."""
    for t in tenants:
        fleet.seed(t)
    n_requests = 3 * len(tenants) * len(SERVICES)
    for _ in range(n_requests // 20):
        fleet.fault(service=rnd.choice(SERVICES)[1], tenant_id=rnd.choice(tenants),
                    op=rnd.choice(["preview", "delete"]), mode="status", status=503, count=1)
    for _ in range(hangs):
        fleet.fault(service=rnd.choice(SERVICES)[1], tenant_id=rnd.choice(tenants),
                    op="delete", mode="hang", delay_ms=hang_ms, count=1)
    # queued last: the first fault that matches wins
    for _, seg, _ in SERVICES:
        fleet.fault(service=seg, op="any", mode="slow", delay_ms=rnd.randint(*latency),
                    count=-1)


class Killer:
    """A test's processes by role (self.procs {role: Popen}) and each one
    killed, by pid, with the epoch ms of its SIGKILL (self.kills)."""

    def kill(self, role):
        p = self.procs[role]
        if p.poll() is None:
            self.kills[p.pid] = time.time() * 1000.0
            p.send_signal(signal.SIGKILL)
        p.wait()

    def check_senders(self, reqs, started):
        """Every request at the fleet is one of started's ({pid: host or
        None}), and no pid served twice: a request's sender is exact."""
        self.assertEqual(len(started), len(self.w.daemons),
                         self.msg("a pid was reused by the test's processes"))
        bad = strangers(reqs, started)
        self.assertEqual(bad[:3], [], self.msg("%d requests of no process of the test" %
                                               len(bad)))

    def kill_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


class TestChaos(Killer, EngineCase):

    def setUp(self):
        super().setUp()
        self.rnd = random.Random(SEED)
        self.procs = {}   # "daemon" / "once" -> Popen
        self.kills = {}   # pid -> epoch ms of its SIGKILL
        self.addCleanup(self.kill_all)

    def msg(self, text):
        return "%s (chaos seed %d: TENANTDEL_CHAOS_SEED=%d replays it; %d kills)" % (
            text, SEED, SEED, len(self.kills))

    # ---- processes

    def spawn(self, role):
        if role == "daemon":
            p = self.w.start()
        else:
            log = open(os.path.join(self.w.path, "once-%d.log" % len(self.kills)), "w")
            p = subprocess.Popen([harness.BIN, "-c", self.w.conf, "run", "--once"],
                                 stdout=log, stderr=log, cwd=self.w.path)
            log.close()
            self.w.daemons.append(p)  # killed at cleanup if still running
        self.procs[role] = p

    # ---- the world

    def arrange_fleet(self, tenants):
        chaos_fleet(self.fleet, self.rnd, tenants, latency=(1, 40))

    def wait_all_succeeded(self, stuck_s=30.0, cap_s=300.0):
        """Waits until every job succeeded, for as long as jobs keep
        finishing: fails when none has for stuck_s seconds (what is left is
        stuck, not slow: a loaded machine takes longer, not forever), or
        after cap_s in all, naming what is left."""
        t0 = last = time.monotonic()
        best = None
        while True:
            left = self.unfinished()
            if not left:
                return
            now = time.monotonic()
            if best is None or len(left) < best:
                best, last = len(left), now
            if now - last > stuck_s or now - t0 > cap_s:
                states = collections.Counter(j["state"] for j in left)
                self.fail(self.msg("%d jobs not succeeded after %.0f s, none finished in the"
                                   " last %.0f s: %s" % (len(left), now - t0, now - last,
                                                         dict(states))))
            time.sleep(0.5)

    def unfinished(self):
        r = self.td("list", "--json", "--limit", str(2 * N_JOBS))
        self.assertRc(r, 0)
        return [j for j in r.json() if j["state"] != "succeeded"]

    def reclaims(self, job):
        """{service: attempts of its delete task taken back from a dead or
        expired lease owner}: the task.attempt events a reclaim writes
        (they name the lease_owner that lost the attempt)."""
        r = self.td("events", job, "--json")
        self.assertRc(r, 0)
        return collections.Counter(e["service"] for e in r.json()
                                   if e["type"] == "task.attempt"
                                   and "lease_owner" in e["detail"]
                                   and e["detail"].get("kind") == "delete")

    def check_attempts(self, jobs, reqs, exact):
        """`attempts` counts requests actually sent (DESIGN 3), counted in
        the store before the request goes: a process killed after that
        commit and before its bytes left counts one the fleet never saw
        (never the reverse), and that attempt's lease is then taken back.
        So for every task: DELETEs seen <= attempts <= DELETEs seen + its
        reclaims; exact (no kill): attempts == DELETEs seen. Returns the
        sum of attempts."""
        seen = fleet_deletes(reqs)
        bad, attempts = [], 0
        for j in jobs:
            shown = self.show(j)
            back = None  # its reclaims, read only where a task needs them
            for t in shown["tasks"]:
                if t.get("kind", "delete") != "delete":
                    continue
                n = seen[(shown["tenant_id"], SEGMENT[t["service"]])]
                attempts += t["attempts"]
                if t["attempts"] > n and not exact and back is None:
                    back = self.reclaims(j)
                more = 0 if back is None else back[t["service"]]
                if not n <= t["attempts"] <= n + more:
                    bad.append("%s %s: attempts %d, DELETEs seen %d, reclaimed %d" % (
                        j, t["service"], t["attempts"], n, more))
        self.assertEqual(bad[:5], [], self.msg("%d tasks whose attempts are not the DELETEs"
                                               " sent" % len(bad)))
        return attempts

    def test_kill_9_at_random_instants_loses_nothing_and_never_overlaps(self):
        tenants = ["chaos-%03d" % i for i in range(N_JOBS)]
        self.conf(extra_scheduler="max_in_flight = 32",
                  overrides={name: {"max_in_flight": LIMIT} for name, _, _ in SERVICES},
                  retry="base_delay = 50ms\nmax_delay = 1s\nbreaker_cooloff = 1s")
        self.arrange_fleet(tenants)
        jobs = self.schedule_many(tenants, "--now")
        self.assertEqual(len(jobs), N_JOBS)

        self.spawn("daemon")
        self.spawn("once")
        t0 = time.monotonic()
        next_check = t0 + 2.0
        while time.monotonic() - t0 < CHAOS_S:
            # A random instant: this sleep is the chaos, not a wait for a condition.
            time.sleep(self.rnd.uniform(*KILL_EVERY))
            role = self.rnd.choice(["daemon", "once"])
            self.kill(role)
            self.spawn(role)
            if self.procs["once"].poll() is not None:
                self.spawn("once")  # it finished: another one alongside
            if time.monotonic() > next_check:
                next_check = time.monotonic() + 2.0
                if not self.unfinished():
                    break
        self.assertGreaterEqual(len(self.kills), 10, self.msg("too few kills"))

        # Calm: the last daemon finishes what the kills left.
        if self.procs["daemon"].poll() is not None:
            self.spawn("daemon")
        self.wait_all_succeeded()
        # A daemon respawned by the last kill may still be starting: a SIGTERM
        # before its handler is set kills it (-15) instead of stopping it.
        daemon = self.procs["daemon"]
        harness.wait_for(lambda: any(l.get("event") == "engine.started"
                                     for l in self.w.log_lines(daemon)),
                         what=self.msg("the last daemon started"))
        self.assertEqual(self.w.stop(daemon), 0, self.msg("daemon exit"))
        self.procs["once"].wait(timeout=30)

        # Nothing lost.
        states = {j["job_id"]: j["state"] for j in
                  self.td("list", "--json", "--limit", str(2 * N_JOBS)).json()}
        self.assertEqual({j: states.get(j) for j in jobs}, {j: "succeeded" for j in jobs},
                         self.msg("a job did not succeed"))
        left = {t: self.fleet.tenant(t)["total"] for t in tenants}
        self.assertEqual({t: n for t, n in left.items() if n}, {},
                         self.msg("rows left at the fleet"))

        # No overlap, no service past its limit, each request taken as its
        # sender lived it (a killed process's ends at its kill: as_lived).
        reqs = self.fleet.requests()
        self.check_senders(reqs, {p.pid: None for p in self.w.daemons})
        alive = as_lived(reqs, self.kills)
        sys.stderr.write("\nchaos: %d kills, %d requests, %s\n" % (
            len(self.kills), len(reqs), orphans(reqs, alive)))
        overlaps = find_overlaps(alive)
        self.assertEqual(overlaps[:3], [], self.msg("%d overlapping requests" % len(overlaps)))
        stats = self.fleet.stats()
        top = max_concurrency([r for r in alive if r.get("op")])
        self.assertLessEqual(max(top.values()), LIMIT,
                             self.msg("in flight by service %s (fleet: %s)" %
                                      (top, stats["max_in_flight_by_service"])))

        # The chain verifies; attempts are the DELETEs sent, give or take
        # what kill -9 can hide (check_attempts).
        r = self.td("audit", "verify")
        self.assertRc(r, 0)
        attempts = self.check_attempts(jobs, reqs, exact=False)
        self.assertLessEqual(sum(fleet_deletes(reqs).values()), attempts,
                             self.msg("attempts vs DELETEs"))

    def test_without_kills_attempts_equal_the_deletes_exactly(self):
        # A daemon and a run --once side by side, no kill: every DELETE is
        # an attempt, waits the service asked for (429/503 + Retry-After)
        # included, and a verification preview is none.
        tenants = ["calm-%03d" % i for i in range(N_CALM)]
        self.conf(extra_scheduler="max_in_flight = 32",
                  overrides={name: {"max_in_flight": LIMIT} for name, _, _ in SERVICES},
                  retry="base_delay = 50ms\nmax_delay = 1s")
        for t in tenants:
            self.fleet.seed(t)
        asked = [dict(status=429, retry_after="1"), dict(status=503, retry_after="0"),
                 dict(status=503)]
        for _ in range(len(tenants) * len(SERVICES) // 10):
            self.fleet.fault(service=self.rnd.choice(SERVICES)[1],
                             tenant_id=self.rnd.choice(tenants),
                             op=self.rnd.choice(["preview", "delete", "delete"]),
                             mode="status", count=1, **self.rnd.choice(asked))
        jobs = self.schedule_many(tenants, "--now")
        self.spawn("daemon")
        self.spawn("once")
        self.wait_all_succeeded()
        self.assertEqual(self.procs["once"].wait(timeout=30), 0)
        self.assertEqual(self.w.stop(self.procs["daemon"]), 0)

        reqs = self.fleet.requests()
        self.check_senders(reqs, {p.pid: None for p in self.w.daemons})
        refused = [q for q in reqs if q["op"] == "delete" and q["status"] in (429, 503)]
        self.assertGreater(len(refused), len(tenants) // 2, "the faults were met")
        attempts = self.check_attempts(jobs, reqs, exact=True)
        self.assertEqual(attempts, sum(fleet_deletes(reqs).values()),
                         self.msg("attempts (show --json) vs DELETEs"))
        self.assertRc(self.td("audit", "verify"), 0)
