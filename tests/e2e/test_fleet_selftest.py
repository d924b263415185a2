"""The fake fleet is test infrastructure that the other end-to-end tests
trust: its own self-test (tests/fleet/selftest.sh) runs as part of the suite
so that a fleet regression shows up as itself, not as a puzzling failure
elsewhere."""
import os
import subprocess
import unittest

import harness


class FleetSelfTest(unittest.TestCase):
    def test_fleet_selftest_passes(self):
        fleet = os.environ.get("TENANTDEL_FLEET")
        if not fleet:
            self.skipTest("TENANTDEL_FLEET not set")
        script = os.path.join(harness.SRCDIR, "tests", "fleet", "selftest.sh")
        p = subprocess.run(["bash", script, fleet], capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-2000:])
