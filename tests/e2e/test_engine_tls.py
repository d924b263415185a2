"""HTTPS to the services (docs/tenantdel.1, [http] ca_file): the real
binary against a small HTTPS service of this file on 127.0.0.1, its
certificate (IP SAN 127.0.0.1) signed by a CA made for the test with the
openssl command. A job's calls carry the token over a verified connection;
a service whose certificate the configured CA did not sign is never sent
a request; and every easy handle's new connection resumes a TLS session
another handle made (one curl share of TLS sessions for the client)."""
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time

import harness

ANSWER = {"message": "ok", "summary": {"success": True, "deleted_counts": {"rows": 3},
                                       "errors": []}}
# How long the server holds a request or a handshake for the others of its
# group (TlsServer.hold_group, hold_hellos) before going on anyway.
HOLD_S = 10.0


def openssl(folder, *args):
    subprocess.run(["openssl"] + list(args), cwd=folder, check=True, capture_output=True,
                   timeout=30)


def make_ca(folder, name):
    """A self-signed CA: name.pem and name.key in folder; returns (cert, key)."""
    openssl(folder, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
            "-subj", "/CN=tenantdel e2e " + name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return os.path.join(folder, name + ".pem"), os.path.join(folder, name + ".key")


def make_server_cert(folder, ca):
    """A certificate for 127.0.0.1 (IP SAN) signed by ca; returns (cert, key)."""
    openssl(folder, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    ext = os.path.join(folder, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl(folder, "x509", "-req", "-in", "server.csr", "-CA", ca[0], "-CAkey", ca[1],
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", ext)
    return os.path.join(folder, "server.pem"), os.path.join(folder, "server.key")


class Handler(http.server.BaseHTTPRequestHandler):
    """DELETE /api/v1/{service}/tenant/{id}: the success answer (401 without
    the test token), keep-alive HTTP/1.1."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_DELETE(self):
        srv = self.server
        srv.record(self)
        srv.hold(self.path)
        ok = self.headers.get("Authorization") == "Bearer " + harness.TOKEN
        body = json.dumps(ANSWER if ok else {"detail": "unauthorized"}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class TlsServer(http.server.ThreadingHTTPServer):
    """An HTTPS server on 127.0.0.1 (TLS 1.2 at most with tls12), the TLS
    handshake in each connection's own thread. Remembers each connection
    (its handshake resumed a session or not, or the handshake's error) and
    each request (path, headers, the number of its connection).

    hold_group(part, n): requests whose path contains part are answered
    only once n of them have arrived, so that n connections are open at
    once. hold_hellos(n): the handshake of every connection but the first
    waits until n connections have sent their first bytes (the client's
    hello, which names the session it resumes). Each wait ends after
    HOLD_S at most (then the test's premise failed, which its counts show)."""
    daemon_threads = True

    def __init__(self, cert, key, tls12=False):
        super().__init__(("127.0.0.1", 0), Handler)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        if tls12:
            self.ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.cond = threading.Condition()
        self.connections = []
        self.requests = []
        self.group = None
        self.hellos_wanted = 0
        self.hellos = 0
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def url(self, service):
        return "https://127.0.0.1:%d/api/v1/%s/tenant/{tenant_id}" % (
            self.server_address[1], service)

    def wait(self, pred):
        """Waits (self.cond held) until pred() or HOLD_S have passed."""
        deadline = time.monotonic() + HOLD_S
        while not pred() and time.monotonic() < deadline:
            self.cond.wait(deadline - time.monotonic())

    def finish_request(self, request, client_address):
        request.settimeout(HOLD_S + 5)
        try:
            if self.hellos_wanted:
                request.recv(1, socket.MSG_PEEK)
                with self.cond:
                    self.hellos += 1
                    self.cond.notify_all()
                    if self.hellos > 1:
                        self.wait(lambda: self.hellos >= self.hellos_wanted)
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.cond:
                self.connections.append({"error": str(e)})
            return
        try:
            with self.cond:
                self.connections.append({"reused": tls.session_reused,
                                         "version": tls.version()})
                tls.conn_no = len(self.connections) - 1
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()

    def record(self, handler):
        with self.cond:
            self.requests.append({"path": handler.path, "headers": dict(handler.headers),
                                  "conn": handler.request.conn_no})
            self.cond.notify_all()

    def hold_group(self, part, n):
        self.group = (part, n)

    def hold_hellos(self, n):
        self.hellos_wanted = n

    def hold(self, path):
        if self.group is None or self.group[0] not in path:
            return
        part, n = self.group
        with self.cond:
            self.wait(lambda: sum(part in r["path"] for r in self.requests) >= n)

    def snapshot(self):
        with self.cond:
            return list(self.connections), list(self.requests)

    def stop(self):
        self.shutdown()
        self.server_close()


class TestEngineTls(harness.TestCase):

    def setUp(self):
        super().setUp()
        self.ca = make_ca(self.w.path, "ca")
        self.cert = make_server_cert(self.w.path, self.ca)
        self.srv = None

    def serve(self, tls12=False):
        self.srv = TlsServer(*self.cert, tls12=tls12)
        self.addCleanup(self.srv.stop)
        return self.srv

    def conf(self, phases, ca_file, max_attempts=20):
        """tenantdel.conf: a service of the test server for each name of
        phases[i], in phase i + 1; [http] ca_file."""
        text = ("[scheduler]\ndatabase = %s\nmax_in_flight = 16\n\n"
                "[retry]\nbase_delay = 100ms\nmax_delay = 1s\nmax_attempts = %d\n\n"
                "[http]\ntoken_file = %s\nca_file = %s\ntimeout = 15s\n"
                % (self.w.db, max_attempts, self.w.token_file, ca_file))
        for phase, names in enumerate(phases, 1):
            for name in names:
                text += "\n[service %s]\ndelete_url = %s\nphase = %d\n" % (
                    name, self.srv.url(name), phase)
        self.w.write_conf(text)

    def schedule(self, tenant):
        return self.td("schedule", tenant, "--now").out.strip()

    def show(self, job):
        return self.td("show", job, "--json").json()

    def test_https_call_with_ca_file_succeeds_with_the_token(self):
        self.serve()
        self.conf([["orders", "pos", "sales"], ["tenants"]], self.ca[0])
        job = self.schedule("acme")
        r = self.td("run", "--once", timeout=30)
        j = self.show(job)
        self.assertEqual(j["state"], "succeeded", (j, r))
        for t in j["tasks"]:
            self.assertEqual((t["state"], t["attempts"]), ("succeeded", 1), t)
        conns, reqs = self.srv.snapshot()
        self.assertEqual(sorted(q["path"] for q in reqs),
                         ["/api/v1/%s/tenant/acme" % s for s in ("orders", "pos", "sales",
                                                                 "tenants")])
        for q in reqs:
            self.assertEqual(q["headers"].get("Authorization"), "Bearer " + harness.TOKEN, q)
            self.assertTrue(q["headers"].get("Tenantdel-Task", "").startswith(job + ":"), q)
        self.assertTrue(conns and all("version" in c for c in conns), conns)
        types = [e["type"] for e in self.td("events", job, "--json").json()]
        self.assertIn("job.succeeded", types)

    def test_certificate_of_another_ca_is_refused_and_no_request_is_sent(self):
        self.serve()
        other = make_ca(self.w.path, "other-ca")
        self.conf([["orders"]], other[0], max_attempts=2)
        job = self.schedule("acme")
        self.td("run", "--once", timeout=30, rc=1)
        # one refused handshake an attempt (the server notes it in a thread)
        harness.wait_for(lambda: len(self.srv.snapshot()[0]) == 2,
                         what="2 handshakes at the server")
        conns, reqs = self.srv.snapshot()
        self.assertTrue(all("error" in c for c in conns), conns)
        self.assertEqual(reqs, [], "a request reached the service over an unverified connection")
        j = self.show(job)
        self.assertEqual(j["state"], "failed", j)
        orders = j["tasks"][0]
        self.assertEqual((orders["state"], orders["attempts"]), ("dead", 2), orders)
        self.assertIn("SSL certificate problem", orders["last_error"])
        errors = [e["detail"].get("error") or "" for e in self.td("events", job, "--json").json()
                  if e["type"] == "task.attempt"]
        self.assertEqual(len(errors), 2, errors)
        self.assertTrue(all("SSL certificate problem" in e for e in errors), errors)

    def check_new_handles_resume(self, hold_hellos):
        # phase 1: one request, one full handshake; its easy handle goes back
        # to the idle pool, its connection to curl's connection cache. Phase
        # 2: 8 requests held open together, so 8 connections: one may be the
        # kept-alive one, the others are new, made by new easy handles (at
        # most one handle is a reused one). With the client's one share of
        # TLS sessions each resumes phase 1's session; with a session cache
        # a handle, the new handles have none and make full handshakes.
        many = ["b%d" % i for i in range(1, 9)]
        self.conf([["a"], many], self.ca[0])
        self.srv.hold_group("/b", len(many))
        if hold_hellos:
            self.srv.hold_hellos(len(many))  # the first and 7 new ones
        job = self.schedule("acme")
        r = self.td("run", "--once", timeout=30)
        self.assertEqual(self.show(job)["state"], "succeeded", r)
        conns, reqs = self.srv.snapshot()
        self.assertEqual(len(reqs), 1 + len(many), reqs)
        self.assertTrue(all("version" in c for c in conns), conns)
        first = reqs[0]
        self.assertEqual((first["path"], first["conn"]), ("/api/v1/a/tenant/acme", 0), reqs)
        self.assertFalse(conns[0]["reused"], "the first handshake is a full one")
        # the 8 held requests were on 8 connections at once
        self.assertEqual(len({q["conn"] for q in reqs[1:]}), len(many), reqs)
        self.assertGreaterEqual(len(conns), len(many), conns)
        self.assertEqual([c["reused"] for c in conns[1:]], [True] * (len(conns) - 1),
                         "new connections after the first that did not resume: %s" % conns)

    def test_new_connections_of_new_handles_resume_the_first_session_tls12(self):
        # TLS 1.2 (curl asks for no tickets: session ids, the server's cache):
        # a session resumes any number of times, whatever the timing.
        self.serve(tls12=True)
        self.check_new_handles_resume(hold_hellos=False)

    def test_new_connections_of_new_handles_resume_the_first_session_tls13(self):
        # TLS 1.3: OpenSSL marks a client session not resumable once a
        # handshake that used it completes (tickets are meant for one use),
        # and the share keeps one session a host; a hello sent after another
        # connection's resumed handshake finished carries no session until a
        # new ticket arrives. So the server lets no handshake on until all 8
        # hellos were sent: each then names phase 1's session.
        self.serve()
        self.check_new_handles_resume(hold_hellos=True)

if __name__ == "__main__":
    import unittest
    unittest.main()
