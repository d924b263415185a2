"""Operator packaging: `make install DESTDIR=... PREFIX=...` lays out the
binary, the man page, the systemd unit, the cron example and the example
config; the man page renders without a warning and covers every command
and config key; the unit has the hardening the operator relies on."""
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

import harness

MAN = os.path.join(harness.SRCDIR, "docs", "tenantdel.1")
UNIT = os.path.join(harness.SRCDIR, "dist", "tenantdel.service")
CRON = os.path.join(harness.SRCDIR, "dist", "tenantdel.cron")

COMMANDS = ["schedule", "cancel", "hold", "release", "retry", "list", "show", "preview",
            "events", "certificate", "verify-certificate", "audit", "reapply", "run",
            "check-config", "metrics", "version"]
CONFIG_KEYS = {
    "scheduler": ["database", "retention", "deadline", "max_in_flight", "shutdown_grace"],
    "retry": ["base_delay", "max_delay", "max_attempts", "give_up_after",
              "breaker_failures", "breaker_cooloff"],
    "http": ["timeout", "connect_timeout", "token_file", "token_env", "ca_file",
             "client_cert", "client_key"],
    "api": ["listen", "token_file", "token_env"],
    "webhook": ["url", "secret_file", "secret_env"],
    "certificate": ["key_file"],
    "service NAME": ["delete_url", "preview_url", "suspend_url", "restore_url", "phase",
                     "timeout", "max_in_flight", "verify", "on_404", "enabled"],
}


def render_man(path, width="80"):
    env = dict(os.environ, MANWIDTH=width, MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8")
    p = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                       env=env, timeout=60)
    p.stdout = re.sub(".\x08", "", p.stdout)  # overstrike bold/underline
    return p


@unittest.skipUnless(shutil.which("man"), "man-db is not installed")
class ManPageTest(unittest.TestCase):
    def test_renders_without_warnings(self):
        p = render_man(MAN)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.strip(), "", "man --warnings complained:\n" + p.stderr)
        self.assertIn("TENANTDEL(1)", p.stdout)

    def test_covers_every_command_key_and_exit_code(self):
        text = render_man(MAN).stdout
        # man may hyphenate words at line ends; join them back.
        flat = re.sub(r"[\u2010]\n?\s*", "", text)
        flat = re.sub(r"\s+", " ", flat)
        for c in COMMANDS:
            self.assertRegex(flat, r"(^|\s)%s(\s|$)" % re.escape(c), "command %s" % c)
        for sec, keys in CONFIG_KEYS.items():
            self.assertIn("[%s]" % sec, flat)
            for k in keys:
                self.assertIn(k, flat, "config key %s of [%s]" % (k, sec))
        for heading in ("EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "HTTP API",
                        "WEBHOOKS", "METRICS", "SIGNALS"):
            self.assertIn(heading, text)
        for code in ("0", "1", "2", "3", "4"):
            self.assertRegex(text, r"\n\s+%s\s+[A-Z]" % code, "exit code %s" % code)
        self.assertIn("TENANTDEL_CONFIG", flat)


class SystemdUnitTest(unittest.TestCase):
    def unit(self):
        """{section: {key: [values]}} (systemd keys may repeat)."""
        out, sec = {}, None
        with open(UNIT) as f:
            for line in f:
                line = line.strip()
                if not line or line[0] in "#;":
                    continue
                if line.startswith("["):
                    sec = out.setdefault(line.strip("[]"), {})
                    continue
                k, v = line.split("=", 1)
                sec.setdefault(k, []).append(v)
        return out

    def test_hardened_daemon_unit(self):
        unit = self.unit()
        svc = {k: v[-1] for k, v in unit["Service"].items()}
        self.assertEqual(svc["Type"], "simple")
        self.assertEqual(svc["User"], "tenantdel")
        self.assertEqual(svc["StateDirectory"], "tenantdel")
        self.assertEqual(svc["ExecStart"],
                         "/usr/local/bin/tenantdel -c /etc/tenantdel/tenantdel.conf run")
        self.assertEqual(svc["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertEqual(svc["KillSignal"], "SIGTERM")
        for key, want in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                          ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                          ("PrivateDevices", "yes")):
            self.assertEqual(svc[key], want, key)
        self.assertIn("AF_INET", svc["RestrictAddressFamilies"])
        self.assertIn("@system-service", unit["Service"]["SystemCallFilter"])
        # Longer than the default shutdown_grace (30s) so in-flight attempts
        # are recorded before systemd kills the process.
        m = re.fullmatch(r"(\d+)s?", svc["TimeoutStopSec"])
        self.assertTrue(m and int(m.group(1)) > 30, svc["TimeoutStopSec"])
        self.assertEqual(unit["Install"]["WantedBy"], ["multi-user.target"])

    @unittest.skipUnless(shutil.which("systemd-analyze"), "no systemd-analyze")
    def test_systemd_analyze_accepts_it(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        with open(UNIT) as f:
            text = f.read().replace("/usr/local/bin/tenantdel", "/bin/true")
        path = os.path.join(d, "tenantdel.service")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                           text=True, timeout=60)
        # Only the Documentation= man page lookup may complain (not installed here).
        problems = [l for l in p.stderr.splitlines()
                    if l.strip() and "man tenantdel(1)" not in l and "Documentation" not in l]
        self.assertEqual(problems, [], p.stderr)

    def test_cron_example_runs_once(self):
        with open(CRON) as f:
            lines = [l for l in f if l.strip() and not l.startswith("#")]
        jobs = [l for l in lines if re.match(r"^[\d*/,-]+\s", l)]
        self.assertEqual(len(jobs), 1, lines)
        fields = jobs[0].split()
        self.assertEqual(fields[5], "tenantdel", "runs as the tenantdel user")
        self.assertIn("run --once", jobs[0])


class InstallTest(unittest.TestCase):
    def test_make_install_lays_out_the_files(self):
        dest = tempfile.mkdtemp(prefix="tenantdel-install-")
        self.addCleanup(shutil.rmtree, dest, True)
        p = subprocess.run(["make", "-s", "-C", harness.SRCDIR, "install",
                            "DESTDIR=" + dest, "PREFIX=/usr"],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        want = {
            "usr/bin/tenantdel": 0o755,
            "usr/share/man/man1/tenantdel.1": 0o644,
            "usr/lib/systemd/system/tenantdel.service": 0o644,
            "usr/share/doc/tenantdel/tenantdel.cron": 0o644,
            "usr/share/doc/tenantdel/tenantdel.conf.example": 0o644,
        }
        for rel, mode in want.items():
            path = os.path.join(dest, rel)
            self.assertTrue(os.path.isfile(path), rel)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), mode, rel)
        with open(os.path.join(dest, "usr/share/man/man1/tenantdel.1"), "rb") as f, \
                open(MAN, "rb") as g:
            self.assertEqual(f.read(), g.read())
        # The installed binary runs.
        v = subprocess.run([os.path.join(dest, "usr/bin/tenantdel"), "version"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(v.returncode, 0, v.stderr)
        # The example config installed is one the binary accepts.
        conf = os.path.join(dest, "usr/share/doc/tenantdel/tenantdel.conf.example")
        c = subprocess.run([os.path.join(dest, "usr/bin/tenantdel"), "-c", conf,
                            "check-config"], capture_output=True, text=True, timeout=30)
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        if shutil.which("man"):
            self.assertEqual(render_man(os.path.join(
                dest, "usr/share/man/man1/tenantdel.1")).returncode, 0)


if __name__ == "__main__":
    unittest.main()
