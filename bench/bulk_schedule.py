#!/usr/bin/env python3
"""Measures bulk scheduling: `tenantdel schedule --from FILE` of N tenants
(default 100000) against the 13 services of tenantdel.conf.example, on a
fresh database in a temporary folder. Prints jobs/s and the command's peak
RSS (/usr/bin/time); asserts nothing.

    bench/bulk_schedule.py [N]        (TENANTDEL_BIN picks the binary)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BIN = os.environ.get("TENANTDEL_BIN") or os.path.join(ROOT, "tenantdel")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    d = tempfile.mkdtemp(prefix="tenantdel-bench-")
    try:
        with open(os.path.join(ROOT, "tenantdel.conf.example")) as f:
            conf = re.sub(r"(?m)^database *=.*$", "database = bench.db", f.read())
        services = len(re.findall(r"(?m)^\[service ", conf))
        with open(os.path.join(d, "tenantdel.conf"), "w") as f:
            f.write(conf)
        with open(os.path.join(d, "tenants.txt"), "w") as f:
            for i in range(n):
                f.write("tenant-%07d\n" % i)
        cmd = [BIN, "-c", os.path.join(d, "tenantdel.conf"), "schedule", "--from",
               os.path.join(d, "tenants.txt")]
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        dt = time.monotonic() - t0
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            return 1
        ids = p.stdout.split()
        assert len(ids) == n and len(set(ids)) == n
        rss = int(p.stderr.split()[-1]) / 1024
        print("bulk schedule: %d jobs x %d services in %.2fs: %.0f jobs/s, peak RSS %.1f MiB"
              % (n, services, dt, n / dt, rss))
        t0 = time.monotonic()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        dt = time.monotonic() - t0
        print("again (all already active): %.2fs: %.0f jobs/s" % (dt, n / dt))
        return 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
