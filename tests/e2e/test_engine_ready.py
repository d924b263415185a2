"""Claims made ahead of free slots (the ready reserve, scheduler/engine.c):
a slot an answer frees is taken again at once from tasks already claimed.
A claim that waits too long for a slot, because every slot is held by a
service that hangs, goes back unsent: its lease must still cover its call.
Then it is as if it had never been claimed: the call it counted is taken
back, it is tried again, no slot limit is ever passed, and the reserve
pauses instead of claiming and giving back again and again."""
from test_engine_basic import EngineCase


class ReadyReserveTest(EngineCase):
    def test_a_claim_no_slot_takes_goes_back_unsent_and_counts_nothing(self):
        # max_in_flight 4: a reserve of one claim beside the four slots
        self.conf(services=["orders"], extra_scheduler="max_in_flight = 4",
                  overrides={"orders": {"timeout": "10s", "verify": "no"}},
                  retry="base_delay = 100ms\nmax_delay = 200ms")
        tenants = ["r-%d" % i for i in range(8)]
        for t in tenants:
            self.fleet.seed(t)
        # the first four deletes hold every slot for 3.5 s, past the 1 s a
        # ready claim may wait
        self.fleet.fault(service="orders", op="delete", mode="hang", delay_ms=3500, count=4)
        jobs = self.schedule_many(tenants, "--now")
        self.assertRc(self.once(), 0)

        unsent = []
        for job in jobs:
            self.assertEqual(self.state(job), "succeeded", job)
            shown = self.show(job)
            orders = [t for t in shown["tasks"] if t["service"] == "orders"][0]
            # attempts count the calls sent: a claim that went back unsent
            # took its count back
            sent = [q for q in self.fleet.requests()
                    if q["op"] == "delete" and q["tenant_id"] == shown["tenant_id"]
                    and q["service"] == "orders"]
            self.assertEqual(orders["attempts"], len(sent), (job, orders))
            ev = self.td("events", job, "--json").json()
            unsent += [e for e in ev if e["type"] == "task.attempt"
                       and "no slot came free" in (e["detail"].get("error") or "")]
        # one reserve claim went back once: then the reserve paused
        self.assertEqual(len(unsent), 1, unsent)
        self.assertLessEqual(self.fleet.stats()["max_in_flight_by_service"]["orders"], 4)
