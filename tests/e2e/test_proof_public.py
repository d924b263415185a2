"""Proof anyone can check (DESIGN 7): a certificate signed with an Ed25519
[certificate] signing_key verifies with the public key alone
(`certificate-key --public`, `verify-certificate FILE --public-key PEM`, no
config, no secret) and fails when one byte changes or another key is given;
a signing_key that is not an Ed25519 private key is a config error at its
line. A chain cut short after a certificate was issued still passes
`audit verify` but fails `audit verify --certificates`, naming the missing
head and the certificate."""
import json
import os
import re

import harness
from fleet import Fleet, write_fleet_config

# Test keys only (openssl genpkey -algorithm ed25519).
ED_KEY = ("-----BEGIN PRIVATE KEY-----\n"
          "MC4CAQAwBQYDK2VwBCIEICCiwqVkN1/RBgs5x2anHESYlyrhPyElasVEdCPXLcWB\n"
          "-----END PRIVATE KEY-----\n")
ED_OTHER_KEY = ("-----BEGIN PRIVATE KEY-----\n"
                "MC4CAQAwBQYDK2VwBCIEIEDOnDZrukSSvbRZcAkDu3/xr08tILhwU4LzEP9VbJ94\n"
                "-----END PRIVATE KEY-----\n")
ED_KEY_ID = "6977c29155b8c603"  # sha256 of the public key (DER), 16 hex digits
HMAC_KEY = "certificate-hmac-key-e2e"


class PublicProofTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.fleet = Fleet(token=harness.TOKEN).start()
        self.addCleanup(self.fleet.stop)
        self.signing_key = self.file("signing.pem", ED_KEY)
        self.hmac_key = self.file("hmac.key", HMAC_KEY + "\n")

    def file(self, name, text):
        path = os.path.join(self.w.path, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def write_conf(self, certificate):
        write_fleet_config(self.w.conf, self.fleet, self.w.token_file, self.w.db,
                           services=["orders", "pos"])
        with open(self.w.conf, "a") as f:
            f.write("\n[certificate]\n" + certificate)

    def td(self, *args, rc=0, **kw):
        res = self.w.run(*args, **kw)
        if rc is not None:
            self.assertRc(res, rc)
        return res

    def purge(self, tenant):
        self.fleet.seed(tenant)
        job = self.td("schedule", tenant, "--now", "--by", "dpo@example.com").out.strip()
        self.td("run", "--once")
        self.assertEqual(self.td("show", job, "--json").json()["state"], "succeeded")
        return job

    def test_ed25519_certificate_verifies_with_the_public_key_only(self):
        # both keys configured: Ed25519 signs
        self.write_conf("key_file = %s\nsigning_key = %s\n" % (self.hmac_key, self.signing_key))
        job = self.purge("acme")
        text = self.td("certificate", job).out
        sig = json.loads(text)["signature"]
        self.assertEqual(sig["alg"], "Ed25519")
        self.assertEqual(sig["key_id"], ED_KEY_ID)
        self.assertRegex(sig["value"], r"^[A-Za-z0-9+/]{86}==$")
        pub = self.td("certificate-key", "--public").out
        self.assertRegex(pub, r"^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+"
                              r"-----END PUBLIC KEY-----\n$")
        self.assertNotIn("PRIVATE", pub)
        pub_file = self.file("public.pem", pub)
        cert = self.file("cert.json", text)

        # no config at all: the public key is enough
        res = self.td("verify-certificate", cert, "--public-key", pub_file, conf=False)
        self.assertEqual(res.out, "certificate verified\n")
        self.td("verify-certificate", "--public-key", pub_file, "-", input=text, conf=False)
        # and with the config, the signing key's public half
        self.td("verify-certificate", cert)

        # one byte changed: a count, a letter of the tenant id, the signature
        i = re.search(r'"deleted":\s*', text).end()
        edits = [text[:i] + chr(ord(text[i]) ^ 1) + text[i + 1:],
                 text.replace('"acme"', '"acmf"', 1),
                 text.replace(sig["value"], sig["value"][:10] +
                              ("A" if sig["value"][10] != "A" else "B") + sig["value"][11:])]
        for n, edited in enumerate(edits):
            self.assertNotEqual(edited, text)
            self.file("cert.json", edited)
            res = self.td("verify-certificate", cert, "--public-key", pub_file, rc=1,
                          conf=False)
            self.assertIn("certificate NOT verified: the signature", res.err, "edit %d" % n)
            self.td("verify-certificate", cert, rc=1)

        # another key's public half: named
        self.file("cert.json", text)
        self.file("other.pem", ED_OTHER_KEY)
        self.write_conf("signing_key = %s\n" % os.path.join(self.w.path, "other.pem"))
        other_pub = self.file("other-public.pem", self.td("certificate-key", "--public").out)
        res = self.td("verify-certificate", cert, "--public-key", other_pub, rc=1, conf=False)
        self.assertIn("NOT verified: it was signed with another key (key_id %s" % ED_KEY_ID,
                      res.err)
        # not a public key
        self.td("verify-certificate", cert, "--public-key", cert, rc=2, conf=False)

    def test_hmac_alone_is_unchanged(self):
        self.write_conf("key_file = %s\n" % self.hmac_key)
        job = self.purge("acme")
        text = self.td("certificate", job).out
        self.assertEqual(json.loads(text)["signature"]["alg"], "HMAC-SHA256")
        self.td("verify-certificate", "-", input=text)
        # no signing_key: nothing public to print; a public key cannot verify HMAC
        self.assertIn("no [certificate] signing_key",
                      self.td("certificate-key", "--public", rc=2).err)
        pub_file = self.file("public.pem", "")
        self.write_conf("signing_key = %s\n" % self.signing_key)
        self.file("public.pem", self.td("certificate-key", "--public").out)
        res = self.td("verify-certificate", "-", "--public-key", pub_file, input=text, rc=1,
                      conf=False)
        self.assertIn("signed with HMAC-SHA256, not Ed25519", res.err)
        self.td("certificate-key", rc=2)

    def test_bad_signing_key_is_a_config_error_at_its_line(self):
        rsa_like = self.file("not-ed.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                          "-----END PRIVATE KEY-----\n")
        for path, why in ((os.path.join(self.w.path, "missing.pem"), "cannot be read"),
                          (rsa_like, "is not"),
                          (self.w.token_file, "is not")):
            self.write_conf("signing_key = %s\n" % path)
            with open(self.w.conf) as f:
                line = f.read().splitlines().index("signing_key = %s" % path) + 1
            for cmd in (("check-config",), ("list",)):
                res = self.td(*cmd, rc=2)
                self.assertIn("%s:%d: signing_key %s %s" % (self.w.conf, line, path, why),
                              res.err)

    def test_chain_cut_short_is_caught_by_the_certificates(self):
        self.write_conf("signing_key = %s\n" % self.signing_key)
        first = self.purge("acme")
        early = self.file("early.json", self.td("certificate", first).out)
        self.td("schedule", "globex", "--after", "1d")
        second = self.purge("initech")
        late_text = self.td("certificate", second).out
        late = self.file("late.json", late_text)
        head_id = json.loads(late_text)["chain_head_id"]
        chain = self.td("audit", "verify").out
        self.assertIn("chain verified: %d events" % head_id, chain)
        self.assertIn("head %s" % json.loads(late_text)["chain_head"], chain)
        res = self.td("audit", "verify", "--certificates", early, late)
        self.assertIn("certificate %s: chain head event %d still in the chain" % (late, head_id),
                      res.out)

        # the last job's events are deleted from the end, behind tenantdel's back
        (first_of_last,), = self.sql("SELECT MIN(id) FROM events WHERE job_id = ?", second)
        self.tamper("DELETE FROM events WHERE id >= %d" % first_of_last)
        # what is left is a chain that verifies...
        self.assertIn("chain verified: %d events" % (first_of_last - 1),
                      self.td("audit", "verify").out)
        # ...but not the one the late certificate was issued over
        res = self.td("audit", "verify", "--certificates", early, late, rc=1)
        self.assertIn("certificate %s: chain head event %d is missing (%s): the chain was cut "
                      "short" % (late, head_id, json.loads(late_text)["chain_head"]), res.out)
        self.assertIn("certificate %s: chain head event" % early, res.out)
        self.assertNotIn("%s: chain head event %d is missing" % (early, head_id), res.out)
        self.td("audit", "verify", "--certificates", early)

        # a chain rebuilt from there on has other hashes: caught too
        with open(early) as f:
            early_head = json.load(f)["chain_head_id"]
        # another first hex digit, whatever the hash was
        self.tamper("UPDATE events SET hash = (CASE substr(hash, 1, 1) WHEN 'f'"
                    " THEN '0' ELSE 'f' END) || substr(hash, 2) WHERE id = %d" % early_head)
        res = self.td("audit", "verify", "--certificates", early, rc=1)
        self.assertIn("certificate %s: chain head event %d has another hash" % (early, early_head),
                      res.out)

        # a certificate that names no head cannot vouch for anything
        old = json.loads(late_text)
        del old["chain_head_id"]
        legacy = self.file("legacy.json", json.dumps(old))
        res = self.td("audit", "verify", "--certificates", legacy, rc=1)
        self.assertIn("certificate %s cannot be checked: it names no chain_head_id" % legacy,
                      res.out)
        self.td("audit", "verify", "--certificates", rc=2)


if __name__ == "__main__":
    import unittest
    unittest.main()
