"""A service that is down must cost only its own work: with its breaker
open and a backlog of its tasks due, every other service's due work is
still claimed and done (DESIGN 3, circuit breaker; DESIGN 8, scale)."""
import time

from test_engine_basic import EngineCase


class FairnessTest(EngineCase):
    def test_open_breaker_backlog_does_not_starve_other_services(self):
        self.conf(extra_scheduler="max_in_flight = 4",
                  retry="base_delay = 100ms\nmax_delay = 200ms\nbreaker_failures = 1\n"
                        "breaker_cooloff = 1h")
        self.fleet.fault(service="orders", op="delete", mode="status", status=503, count=-1)
        tenants = ["t-%03d" % i for i in range(100)]
        r = self.td("schedule", "--from", "-", "--now", input="\n".join(tenants) + "\n")
        self.assertRc(r, 0)
        self.once()
        # Every orders task is now waiting behind the open breaker; once their
        # retry delay has passed they are all due, ahead of any new work.
        time.sleep(0.5)
        job = self.schedule("fresh", "--now")
        self.once()
        tasks = {t["service"]: t for t in self.show(job)["tasks"]}
        for name, t in tasks.items():
            if name in ("orders", "tenant"):
                continue
            self.assertEqual(t["state"], "succeeded", (name, t))
        self.assertIn(tasks["orders"]["state"], ("pending", "waiting"))
        # The down service got at most its one failure plus probes, not one
        # request per waiting tenant after the breaker opened.
        self.assertLess(len(self.deletes("orders")), 10)

    def test_last_phase_waits_while_first_phase_fills_the_slots(self):
        """With every slot taken, a job's last phase (nothing waits for it)
        yields to the first phases of the jobs after it, for up to a second:
        the first-phase requests all go out before any last-phase one, and
        the run ends with the slots full instead of the last jobs' final
        tasks going out alone."""
        names = ["orders", "pos", "tenant"]
        self.conf(services=names, extra_scheduler="max_in_flight = 2",
                  overrides={n: {"preview_url": None} for n in names})
        self.fleet.fault(service="*", op="delete", mode="slow", delay_ms=150, count=-1)
        tenants = ["w-%d" % i for i in range(3)]
        r = self.td("schedule", "--from", "-", "--now", input="\n".join(tenants) + "\n")
        self.assertRc(r, 0)
        self.assertRc(self.once(), 0)
        reqs = sorted(self.deletes(), key=lambda q: q["seq"])
        self.assertEqual(len(reqs), 9, reqs)
        first = [q["seq"] for q in reqs if q["service"] != "tenants"]
        last = [q["seq"] for q in reqs if q["service"] == "tenants"]
        self.assertEqual(len(last), 3)
        # without the wait, w-0's tenant call went out in the second wave
        self.assertLess(max(first), min(last), [(q["service"], q["tenant_id"]) for q in reqs])
