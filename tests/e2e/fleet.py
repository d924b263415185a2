"""The fake service fleet (tdfleet) from Python: start it on a free port of
127.0.0.1, seed tenants, inject faults, read the request log; and write a
tenantdel.conf that points every service at it. Standard library only.

    with Fleet(token=TOKEN).start() as fleet:
        fleet.seed("t1")                      # default rows in all 13 services
        fleet.fault(service="orders", op="delete", mode="status", status=503)
        write_fleet_config(conf, fleet, token_file, db)
        ...
        assert fleet.tenant("t1")["total"] == 0
        assert not find_overlaps(fleet.requests())

Users for data-subject erasure (tenantdel erase-user):

        ids = fleet.seed_subject_scenario()   # the standard erasure scenario
        fleet.add_user("u9", [{"tenant_id": "t1", "role": "admin"}])
        assert fleet.user(ids["user"])["total"] == 0

Fault keywords (POST /_fleet/fault): service (path segment or config name,
"*" for all; the user routes are "user_tenants", "admins", "memberships"
and "auth"), op ("delete" | "preview" | "suspend" | "restore" | "discover"
(the two GETs of the user routes) | "any"), tenant_id (the id in the path:
a user id on the user routes; user_id is the same filter), mode ("status" | "hang" | "slow" | "garbage" | "success_false" |
"underdelete" | "notfound" | "empty204" | "toplevel" | "big" | "down" |
"raw": body is the whole HTTP answer, written verbatim), count (default 1,
-1 until cleared), status, retry_after, delay_ms, remaining, body,
body_pct (percent-encoded bytes, e.g. invalid UTF-8).
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import backend

# (name in tenantdel.conf, URL path segment, phase), in the order of
# tenantdel.conf.example. The fleet names services by path segment.
SERVICES = [
    ("orders", "orders", 1),
    ("inventory", "inventory", 1),
    ("recipes", "recipes", 1),
    ("sales", "sales", 1),
    ("production", "production", 1),
    ("suppliers", "suppliers", 1),
    ("pos", "pos", 1),
    ("external", "external", 1),
    ("forecasting", "forecasting", 1),
    ("alert_processor", "alerts", 1),
    ("training", "training", 1),
    ("notification", "notifications", 1),
    ("tenant", "tenants", 2),
]
SEGMENT = {name: seg for name, seg, _ in SERVICES}

# Rows POST /_fleet/seed adds when given no "rows" (fleet_state.c).
DEFAULT_TOTAL = 446
# Auth-service rows POST /_fleet/users gives a new user without "auth".
DEFAULT_AUTH = {"users": 1, "user_sessions": 2, "refresh_tokens": 3,
                "login_attempts": 6, "user_consents": 4}

FLEET_BIN = os.environ.get("TENANTDEL_FLEET") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "release", "tdfleet")


class FleetError(Exception):
    pass


class Fleet:
    """One tdfleet process. token None: the fleet asks for no token."""

    def __init__(self, token=None, binary=None, quiet=True, extra_args=()):
        self.token = token
        self.binary = binary or FLEET_BIN
        self.quiet = quiet
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.dir = None

    # ---- process

    def start(self, timeout=10.0):
        """Spawns the fleet on a free port and waits for its port file.
        Returns self. Raises FleetError if it does not come up."""
        self.dir = tempfile.mkdtemp(prefix="tdfleet-")
        port_file = os.path.join(self.dir, "port")
        args = [self.binary, "--port", "0", "--port-file", port_file]
        if self.token is not None:
            token_file = os.path.join(self.dir, "token")
            with open(token_file, "w") as f:
                f.write(self.token + "\n")
            args += ["--token-file", token_file]
        if self.quiet:
            args.append("--quiet")
        self.log_path = os.path.join(self.dir, "fleet.log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args + self.extra_args, stdout=subprocess.DEVNULL,
                                     stderr=self._log)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    return self
            except FileNotFoundError:
                pass
            if self.proc.poll() is not None:
                raise FleetError("tdfleet exited with %d: %s" % (self.proc.returncode, self._log_tail()))
            if time.monotonic() > deadline:
                self.stop()
                raise FleetError("tdfleet did not write its port file within %.0fs" % timeout)
            time.sleep(0.02)

    def stop(self, timeout=10.0):
        """SIGTERM, wait, SIGKILL if needed. Returns the exit status (None
        if it was not running). Idempotent."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            rc = self.proc.returncode
            self.proc = None
            self._log.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        return rc

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _log_tail(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    # ---- URLs

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def delete_url(self, name, tenant_id="{tenant_id}"):
        """The delete URL of a service (config name or segment); with the
        placeholder by default, as a config wants it."""
        seg = SEGMENT.get(name, name)
        if seg == "tenants":
            return "%s/api/v1/tenants/%s" % (self.base_url, tenant_id)
        return "%s/api/v1/%s/tenant/%s" % (self.base_url, seg, tenant_id)

    def preview_url(self, name, tenant_id="{tenant_id}"):
        return self.delete_url(name, tenant_id) + "/deletion-preview"

    def suspend_url(self, name, tenant_id="{tenant_id}"):
        return self.delete_url(name, tenant_id) + "/suspend"

    def restore_url(self, name, tenant_id="{tenant_id}"):
        return self.delete_url(name, tenant_id) + "/restore"

    def tenants_url(self, user_id="{user_id}"):
        """The user's tenants at the tenant service ([subject] tenants_url)."""
        return "%s/api/v1/tenants/user/%s" % (self.base_url, user_id)

    def admins_url(self, tenant_id="{tenant_id}"):
        """A tenant's owners and admins ([subject] admins_url)."""
        return "%s/api/v1/tenants/%s/admins" % (self.base_url, tenant_id)

    def memberships_url(self, user_id="{user_id}"):
        """Deletes the user's memberships ([subject] memberships_url); its
        preview is + "/deletion-preview"."""
        return self.tenants_url(user_id) + "/memberships"

    def user_url(self, user_id="{user_id}"):
        """Deletes the user at the auth service ([subject] user_url); its
        preview is + "/deletion-preview"."""
        return "%s/api/v1/auth/users/%s" % (self.base_url, user_id)

    # ---- control API

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            raise FleetError("%s %s: %d %s" % (method, path, e.code, e.read().decode(errors="replace")))

    @staticmethod
    def _q(tenant_id):
        return urllib.parse.quote(tenant_id, safe="")

    def seed(self, tenant, rows=None):
        """Adds rows for a tenant: rows {service: {table: n}} (config names
        or segments), or None for the defaults in all 13 services. Returns
        the tenant's state."""
        body = {"tenant_id": tenant}
        if rows is not None:
            body["rows"] = rows
        return self._call("POST", "/_fleet/seed", body)

    def tenant(self, tenant):
        """{"tenant_id", "known", "services": {seg: {table: n}}, "total",
        "suspended": {seg: bool}}."""
        return self._call("GET", "/_fleet/tenants/" + self._q(tenant))

    def add_user(self, user_id, memberships=(), auth=None):
        """Creates or extends a user: memberships [{"tenant_id", "role":
        "owner" | "admin" | "member"}] (an existing one changes role; a new
        one is one more tenant_members row of its tenant), auth {table: n}
        added to the user's auth rows (a new user without auth gets
        DEFAULT_AUTH). Returns the user's state (see user())."""
        body = {"user_id": user_id, "memberships": list(memberships)}
        if auth is not None:
            body["auth"] = auth
        return self._call("POST", "/_fleet/users", body)

    def user(self, user_id):
        """{"user_id", "known", "memberships": [{"tenant_id", "role"}],
        "auth": {table: n}, "total"} (total: memberships + auth rows)."""
        return self._call("GET", "/_fleet/users/" + self._q(user_id))

    def seed_subject_scenario(self, prefix="s"):
        """Seeds the standard erasure scenario (each tenant with the default
        rows): user PREFIX-user owns PREFIX-solo1 and PREFIX-solo2 alone, owns
        PREFIX-shared with PREFIX-coadmin (admin), and is a plain member of
        PREFIX-member1 and PREFIX-member2 (owned by PREFIX-owner). Returns
        {"user", "solo": [2 ids], "shared", "member": [2 ids], "tenants":
        all 5 in the user's order, "co_admin", "other_owner"}."""
        p = prefix + "-"
        ids = {"user": p + "user", "solo": [p + "solo1", p + "solo2"], "shared": p + "shared",
               "member": [p + "member1", p + "member2"], "co_admin": p + "coadmin",
               "other_owner": p + "owner"}
        ids["tenants"] = ids["solo"] + [ids["shared"]] + ids["member"]
        for t in ids["tenants"]:
            self.seed(t)
        self.add_user(ids["user"], [{"tenant_id": t, "role": "owner"}
                                    for t in ids["solo"] + [ids["shared"]]] +
                      [{"tenant_id": t, "role": "member"} for t in ids["member"]])
        self.add_user(ids["co_admin"], [{"tenant_id": ids["shared"], "role": "admin"}])
        self.add_user(ids["other_owner"], [{"tenant_id": t, "role": "owner"}
                                           for t in ids["member"]])
        return ids

    def fault(self, **kw):
        """Queues a fault (see the module docstring). Returns {"ok", "id"}."""
        return self._call("POST", "/_fleet/fault", kw)

    def faults(self):
        return self._call("GET", "/_fleet/faults")

    def clear_faults(self):
        return self._call("POST", "/_fleet/faults/clear", {})

    def reset(self):
        """Clears faults, rows, users, the request log and the counters."""
        return self._call("POST", "/_fleet/reset", {})

    def reset_log(self):
        return self._call("POST", "/_fleet/reset-log", {})

    def requests(self, since=0):
        """The request log in arrival order: [{"seq", "method", "path",
        "service", "op", "tenant_id", "start_ms", "end_ms", "status",
        "auth_ok", "authorization_seen", "task", "attempt", "owner",
        "idempotency_key"}]; status 0 = closed unanswered, end_ms 0 = still
        in flight; the last four are tenantdel's headers verbatim (None when
        absent): parse_owner reads the owner."""
        return self._call("GET", "/_fleet/requests" + ("?since=%d" % since if since else ""))

    def stats(self):
        """{"requests", "in_flight", "max_in_flight", "max_in_flight_by_service",
        "in_flight_by_service", "log_dropped"}."""
        return self._call("GET", "/_fleet/stats")


def parse_owner(owner):
    """(host, boot_id, pid, start) of a Tenantdel-Owner value (the lease
    owner, "host/boot_id/pid/start"; neither host nor boot id holds a
    "/"), or None when it is not one."""
    parts = (owner or "").split("/")
    if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit():
        return None
    return parts[0], parts[1], int(parts[2]), int(parts[3])


def find_overlaps(requests):
    """Pairs of logged requests of one task whose [start_ms, end_ms]
    intervals overlap (an in-flight request counts as open-ended): each
    request that starts while another is open, with the open one that
    ends last. A task is the Tenantdel-Task header (its preview, call
    and verification go one after the other), else the service, tenant
    and op. tenantdel must never cause one. Note: a request the client
    abandoned (time-out) stays open in the fleet until its handler ends,
    so tests with hang faults should look only at answered requests or at
    requests made after the hang."""
    by_key = {}
    for r in requests:
        if r.get("op"):
            key = r.get("task") or (r["service"], r["tenant_id"], r["op"])
            by_key.setdefault(key, []).append(r)
    out = []
    end = lambda r: r["end_ms"] or float("inf")
    for rs in by_key.values():
        rs.sort(key=lambda r: r["start_ms"])
        last = rs[0]  # of those started so far, the one that ends last
        for b in rs[1:]:
            if b["start_ms"] < end(last):
                out.append((last, b))
            if end(b) > end(last):
                last = b
    return out


def _lines(extra):
    if not extra:
        return []
    if isinstance(extra, str):
        return [l for l in extra.splitlines() if l.strip()]
    return list(extra)


def write_fleet_config(path, fleet, token_file, db_path, extra_scheduler="",
                       services=None, overrides=None, retry=None, http="",
                       suspend=False, subject=False):
    """Writes a tenantdel.conf (DESIGN §5) whose services all point at the
    fleet: the 12 data services in phase 1 and [service tenant] in phase 2,
    each with delete_url and preview_url (suspend_url/restore_url only with
    suspend=True).

    fleet: a Fleet, or a base URL. services: config names to include
    (default all 13). overrides: {name: {key: value}} (value None removes
    the key, e.g. {"orders": {"preview_url": None}}) or {name: "key = v\\n..."}
    to append lines. subject: True adds a [subject] section with the four
    URLs of the fleet, or a dict {key: value} to add to them (None removes
    a key). extra_scheduler / http: lines added to [scheduler] / [http].
    retry: the [retry] body; default quick delays for tests
    (base_delay 100ms, max_delay 2s); pass "" for tenantdel's defaults.
    Returns the text written."""
    if not isinstance(fleet, Fleet):
        base = fleet.rstrip("/")
        fleet = Fleet()
        fleet.port = int(base.rsplit(":", 1)[1])
    overrides = overrides or {}
    wanted = list(services) if services is not None else [s[0] for s in SERVICES]
    unknown = [n for n in list(wanted) + list(overrides) if n not in SEGMENT]
    if unknown:
        raise ValueError("not a fleet service: %s" % ", ".join(unknown))
    if retry is None:
        retry = "base_delay = 100ms\nmax_delay = 2s"
    out = ["[scheduler]", "database = %s" % db_path] + _lines(extra_scheduler)
    out += ["", "[retry]"] + _lines(retry)
    out += ["", "[http]", "token_file = %s" % token_file] + _lines(http)
    for name, _, phase in SERVICES:
        if name not in wanted:
            continue
        keys = {"delete_url": fleet.delete_url(name), "preview_url": fleet.preview_url(name),
                "phase": str(phase)}
        if suspend:
            keys["suspend_url"] = fleet.suspend_url(name)
            keys["restore_url"] = fleet.restore_url(name)
        extra = []
        ov = overrides.get(name)
        if isinstance(ov, dict):
            for k, v in ov.items():
                if v is None:
                    keys.pop(k, None)
                else:
                    keys[k] = str(v)
        else:
            extra = _lines(ov)
        out += ["", "[service %s]" % name] + ["%s = %s" % kv for kv in keys.items()] + extra
    if subject:
        keys = {"tenants_url": fleet.tenants_url(), "admins_url": fleet.admins_url(),
                "memberships_url": fleet.memberships_url(), "user_url": fleet.user_url()}
        for k, v in (subject.items() if isinstance(subject, dict) else ()):
            if v is None:
                keys.pop(k, None)
            else:
                keys[k] = str(v)
        out += ["", "[subject]"] + ["%s = %s" % kv for kv in keys.items()]
    # the backend under test's [store] section (none for SQLite): the
    # database of the workdir that holds db_path
    text = backend.with_store("\n".join(out) + "\n", os.path.dirname(os.path.abspath(db_path)))
    with open(path, "w") as f:
        f.write(text)
    return text
