"""perch wasm keygen, sign, verify: the perch.signature format, tampering,
keyrings, keys made by OpenSSL, and interoperability with openssl pkeyutl."""
import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess

from perchtest import PerchCase, main, perch

OPENSSL = shutil.which("openssl")


# ---- module bytes, built here so every section kind is present ------------

def uleb(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def section(sid, payload):
    return bytes([sid]) + uleb(len(payload)) + payload


def custom(name, content):
    n = name.encode()
    return section(0, uleb(len(n)) + n + content)


HEADER = b"\0asm\x01\0\0\0"
TYPE = section(1, b"\x01\x60\x00\x00")
FUNC = section(3, b"\x01\x00")
MEMORY = section(5, b"\x01\x00\x01")
EXPORT = section(7, b"\x01\x06_start\x00\x00")
CODE = section(10, b"\x01\x04\x00\x41\x07\x1a\x0b"[:1] + b"\x05\x00\x41\x07\x1a\x0b")
DATA = section(11, b"\x01\x00\x41\x00\x0b\x05hello")
NOTE = custom("vendor.note", b"built by the vendor")


def plain_module():
    return HEADER + TYPE + FUNC + MEMORY + EXPORT + CODE + DATA + NOTE


def read_uleb(b, i):
    n = shift = 0
    while True:
        byte = b[i]
        i += 1
        n |= (byte & 0x7f) << shift
        shift += 7
        if byte < 0x80:
            return n, i


def sections(b):
    """[(id, start, content_start, end, name)] in file order."""
    out, i = [], 8
    while i < len(b):
        start = i
        sid = b[i]
        size, i = read_uleb(b, i + 1)
        end = i + size
        name, content = None, i
        if sid == 0:
            nlen, j = read_uleb(b, i)
            name = b[j:j + nlen].decode()
            content = j + nlen
        out.append((sid, start, content, end, name))
        i = end
    return out


def strip_signatures(b):
    """The bytes a perch signature covers, computed without perch."""
    out, pos = bytearray(), 0
    for sid, start, _, end, name in sections(b):
        if sid == 0 and name == "perch.signature":
            out += b[pos:start]
            pos = end
    out += b[pos:]
    return bytes(out)


def jload(path, raw=False):
    with open(path) as f:
        return f.read() if raw else json.load(f)


def find(b, sid, name=None):
    for s in sections(b):
        if s[0] == sid and (name is None or s[4] == name):
            return s
    raise KeyError((sid, name))


def signature_payload(b):
    _, _, content, end, _ = find(b, 0, "perch.signature")
    return b[content:end]


MANIFEST = {"schema": 1, "name": "plugin", "version": "1.0.0",
            "needs_read": ["/inputs"], "needs_net": ["api.example.com:443"]}


class SigningCase(PerchCase):
    """A module with a manifest, keys in a folder, and ways to sign and verify."""

    def setUp(self):
        super().setUp()
        self.mod = self.write("plugin.wasm", plain_module())
        self.assertOk(perch("wasm", "manifest", "set", self.mod,
                            self.write("m.json", json.dumps(MANIFEST))))
        self.keys = self.path("keys")
        os.mkdir(self.keys)

    def keygen(self, signer):
        r = perch("wasm", "keygen", "--signer", signer, "-o", self.keys)
        self.assertOk(r)
        return (os.path.join(self.keys, signer + ".key"),
                os.path.join(self.keys, signer + ".pub.json"))

    def sign(self, key, path=None, *extra):
        r = perch("wasm", "sign", "--key", key, path or self.mod, *extra)
        self.assertOk(r)
        return r

    def verify(self, ring, path=None, code=None):
        r = perch("wasm", "verify", "--trust-keys", ring, path or self.mod,
                  "--format", "json")
        if code is not None:
            self.assertEqual(r.code, code, r)
        return json.loads(r.out) if r.out else None

    def signed(self, signer="alice"):
        key, ring = self.keygen(signer)
        self.sign(key)
        return key, ring, self.read(self.mod)

    def checks(self, report):
        return {c["check"]: c for c in report["checks"]}

    def assertCaught(self, data, check, kind, ring):
        """The tampered bytes fail verification at check, with kind."""
        p = self.write("tampered.wasm", data)
        r = perch("wasm", "verify", "--trust-keys", ring, p)
        self.assertEqual(r.code, 1, r)
        self.assertIn("NOT VERIFIED", r.out)
        d = self.verify(ring, p, code=1)
        c = self.checks(d)[check]
        self.assertEqual((c["status"], c["kind"]), ("fail", kind), d)
        self.assertFalse(d["verified"])
        return d

    def flip(self, data, offset):
        b = bytearray(data)
        b[offset] ^= 0x01
        return bytes(b)


class Signing(SigningCase):
    # ---- keygen ----------------------------------------------------------

    def test_keygen_writes_a_secret_0600_and_a_keyring(self):
        r = perch("wasm", "keygen", "--signer", "alice", "-o", self.keys)
        self.assertOk(r)
        key = os.path.join(self.keys, "alice.key")
        pub = os.path.join(self.keys, "alice.pub.json")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        text = jload(key, raw=True)
        self.assertTrue(text.startswith("perch-signer: alice\n-----BEGIN PRIVATE KEY-----\n"))
        # never printed: no line of the PEM body appears in the output
        body = text.splitlines()[2]
        self.assertNotIn(body, r.out + r.err)
        ring = jload(pub)
        self.assertEqual(list(ring), ["keys"])
        self.assertEqual(len(ring["keys"]), 1)
        e = ring["keys"][0]
        self.assertEqual((e["signer"], e["algo"]), ("alice", "ed25519"))
        self.assertEqual(len(base64.b64decode(e["pubkey"], validate=True)), 32)
        self.assertIn("public key: " + e["pubkey"], r.out)

    def test_keygen_never_overwrites_without_force(self):
        key, pub = self.keygen("alice")
        before = self.read(key)
        r = perch("wasm", "keygen", "--signer", "alice", "-o", self.keys)
        self.assertError(r, "io")
        self.assertIn("already exists; not overwriting it (--force replaces it)", r.err)
        self.assertEqual(self.read(key), before)
        os.unlink(pub)  # the public half alone missing still refuses
        r = perch("wasm", "keygen", "--signer", "alice", "-o", self.keys)
        self.assertError(r, "io")
        self.assertEqual(self.read(key), before)
        r = perch("wasm", "keygen", "--signer", "alice", "-o", self.keys, "--force")
        self.assertOk(r)
        self.assertNotEqual(self.read(key), before)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)

    def test_keygen_refuses_bad_signer_names(self):
        for name in ["a/b", "a b", "../x", ".hidden", "é", "x" * 129, ""]:
            r = perch("wasm", "keygen", "--signer", name, "-o", self.keys)
            self.assertError(r, "usage")
            self.assertIn("--signer: the signer name", r.err)
        self.assertEqual(os.listdir(self.keys), [])
        self.keygen("x" * 128)
        self.keygen("release-bot@example.com")
        r = perch("wasm", "keygen", "-o", self.keys)
        self.assertError(r, "usage")
        self.assertIn("--signer NAME is required", r.err)

    # ---- sign ------------------------------------------------------------

    def test_signature_section_is_the_frozen_format(self):
        key, ring, data = self.signed()
        secs = sections(data)
        last = secs[-1]
        self.assertEqual((last[0], last[4]), (0, "perch.signature"))
        self.assertEqual(last[3], len(data))
        self.assertEqual(data[:last[1]], self.read(self.mod)[:last[1]])
        payload = signature_payload(data)
        obj = json.loads(payload)
        self.assertEqual(list(obj), ["algo", "signer", "pubkey", "sig"])
        self.assertEqual(payload, json.dumps(obj, separators=(",", ":")).encode())
        self.assertEqual(obj["algo"], "ed25519")
        self.assertEqual(obj["signer"], "alice")
        self.assertEqual(obj["pubkey"], jload(ring)["keys"][0]["pubkey"])
        self.assertEqual(len(base64.b64decode(obj["sig"], validate=True)), 64)
        # the unsigned bytes are kept exactly, the section appended
        self.assertEqual(strip_signatures(data), data[:last[1]])

    def test_sign_then_verify_passes_every_check(self):
        key, ring, data = self.signed()
        r = perch("wasm", "verify", "--trust-keys", ring, self.mod)
        self.assertOk(r)
        digest = hashlib.sha256(strip_signatures(data)).hexdigest()
        self.assertIn("signer: alice\n", r.out)
        self.assertIn("sha256: " + digest, r.out)
        for check in ["section", "format", "signature", "manifest", "signer"]:
            self.assertRegex(r.out, r"\n  pass +%s " % check)
        self.assertIn("  not checked policy     not checked: host policy files are "
                      "not supported yet\n", r.out)
        self.assertIn("VERIFIED: every check passed", r.out)
        d = self.verify(ring, code=0)
        self.assertTrue(d["verified"])
        self.assertEqual(d["signer"], "alice")
        self.assertEqual(d["sha256"], digest)
        self.assertEqual([c["check"] for c in d["checks"]],
                         ["section", "format", "signature", "manifest", "signer", "policy"])
        self.assertEqual(self.checks(d)["policy"]["status"], "not checked")

    def test_sign_replaces_every_signature_section(self):
        akey, aring = self.keygen("alice")
        bkey, bring = self.keygen("bob")
        data = self.read(self.mod)
        # two stale signature sections, one in the middle
        pos = find(data, 11)[1]
        junk = custom("perch.signature", b"{}")
        self.write("plugin.wasm", data[:pos] + junk + data[pos:] + junk)
        self.sign(akey)
        self.sign(bkey)
        data = self.read(self.mod)
        self.assertEqual([s[4] for s in sections(data)].count("perch.signature"), 1)
        self.assertEqual(json.loads(signature_payload(data))["signer"], "bob")
        self.verify(bring, code=0)
        d = self.verify(aring, code=1)
        self.assertEqual(self.checks(d)["signer"]["message"], "bob is not in the keyring")

    def test_sign_to_output_leaves_the_module(self):
        key, _ = self.keygen("alice")
        before = self.read(self.mod)
        out = self.path("signed.wasm")
        r = perch("wasm", "sign", "--key", key, self.mod, "-o", out)
        self.assertOk(r)
        self.assertEqual(self.read(self.mod), before)
        self.assertEqual(strip_signatures(self.read(out)), before)

    def test_sign_refuses_a_module_without_manifest(self):
        key, ring = self.keygen("alice")
        bare = self.write("bare.wasm", plain_module())
        r = perch("wasm", "sign", "--key", key, bare)
        self.assertError(r, "manifest_missing")
        self.assertIn("has no perch.manifest section; refusing to sign a module that "
                      "declares nothing (--allow-no-manifest signs it anyway)", r.err)
        self.assertEqual(self.read(bare), plain_module())
        self.sign(key, bare, "--allow-no-manifest")
        d = self.verify(ring, bare, code=1)
        c = self.checks(d)
        self.assertEqual(c["signature"]["status"], "pass")
        self.assertEqual((c["manifest"]["status"], c["manifest"]["kind"]),
                         ("fail", "manifest_missing"))

    def test_sign_refuses_a_malformed_manifest(self):
        key, _ = self.keygen("alice")
        data = plain_module() + custom("perch.manifest", b"\xa1\x61x\x01")
        p = self.write("badm.wasm", data)
        r = perch("wasm", "sign", "--key", key, p, "--allow-no-manifest")
        self.assertError(r, "manifest_malformed")
        self.assertEqual(self.read(p), data)

    def test_sign_usage_and_key_errors(self):
        key, _ = self.keygen("alice")
        r = perch("wasm", "sign", self.mod)
        self.assertError(r, "usage")
        self.assertIn("--key KEY is required", r.err)
        r = perch("wasm", "sign", "--key", key, "--signer", "bob", self.mod)
        self.assertError(r, "usage")
        self.assertIn("--signer bob does not match the key file's signer alice", r.err)
        for text, msg in [("hello\n", "not a PEM secret key"),
                          ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                           "not a PEM secret key"),
                          ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                           "-----END ENCRYPTED PRIVATE KEY-----\n", "the key is encrypted")]:
            p = self.write("bad.key", text)
            os.chmod(p, 0o600)
            r = perch("wasm", "sign", "--key", p, self.mod)
            self.assertError(r, "usage")
            self.assertIn(msg, r.err)
        before = self.read(self.mod)
        r = perch("wasm", "sign", "--key", self.path("missing.key"), self.mod)
        self.assertError(r, "io")
        fifo = self.path("fifo.key")
        os.mkfifo(fifo)
        r = perch("wasm", "sign", "--key", fifo, self.mod)
        self.assertError(r, "io")
        self.assertIn("fifo.key is not a regular file", r.err)
        self.assertEqual(self.read(self.mod), before)
        r = perch("wasm", "sign", "--key", key, self.write("x.wasm", b"\0asm\x01\0\0"))
        self.assertError(r, "wasm_malformed")

    def test_sign_warns_about_a_readable_key(self):
        key, _ = self.keygen("alice")
        os.chmod(key, 0o644)
        r = perch("wasm", "sign", "--key", key, self.mod)
        self.assertOk(r)
        self.assertIn("is readable by other users (mode 0644); chmod 600 it", r.err)

    # ---- keyrings and keys -----------------------------------------------

    def test_wrong_key_unknown_signer_and_same_name_other_key(self):
        akey, aring = self.keygen("alice")
        self.sign(akey)
        _, bring = self.keygen("bob")
        d = self.verify(bring, code=1)
        self.assertEqual(self.checks(d)["signer"]["message"], "alice is not in the keyring")
        # a keyring entry with the right name and another key
        other = self.path("other")
        os.mkdir(other)
        self.assertOk(perch("wasm", "keygen", "--signer", "alice", "-o", other))
        d = self.verify(os.path.join(other, "alice.pub.json"), code=1)
        c = self.checks(d)["signer"]
        self.assertEqual((c["status"], c["kind"]), ("fail", "manifest_signer_untrusted"))
        self.assertIn("alice is in the keyring with another key; this module was signed "
                      "with key " + jload(aring)["keys"][0]["pubkey"], c["message"])
        self.assertEqual(self.checks(d)["signature"]["status"], "pass")

    def test_keygen_from_an_existing_key(self):
        key, ring = self.keygen("alice")
        out = self.path("again")
        os.mkdir(out)
        r = perch("wasm", "keygen", "--signer", "alice", "--from", key, "-o", out)
        self.assertOk(r)
        self.assertEqual(os.listdir(out), ["alice.pub.json"])
        self.assertEqual(jload(os.path.join(out, "alice.pub.json")),
                         jload(ring))
        self.assertNotIn("secret key", r.out)
        r = perch("wasm", "keygen", "--signer", "alice", "--from",
                  self.write("junk.pem", "junk"), "-o", self.path("keys"))
        self.assertError(r, "usage")
        self.assertIn("junk.pem: not a PEM Ed25519 key", r.err)

    # ---- OpenSSL ---------------------------------------------------------

    def openssl(self, *args, **kw):
        return subprocess.run([OPENSSL, *args], capture_output=True, timeout=60, **kw)

    def test_openssl_verifies_perchs_signature(self):
        if not OPENSSL:
            self.skipTest("openssl not installed")
        key, ring, data = self.signed()
        digest = hashlib.sha256(strip_signatures(data)).digest()
        obj = json.loads(signature_payload(data))
        dpath = self.write("digest.bin", digest)
        spath = self.write("sig.bin", base64.b64decode(obj["sig"]))
        pem = self.path("alice.pub.pem")
        p = self.openssl("pkey", "-in", key, "-pubout", "-out", pem)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.openssl("pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", pem,
                         "-in", dpath, "-sigfile", spath)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"Signature Verified Successfully", p.stdout)
        # and the raw public key in the section is the key's
        der = self.openssl("pkey", "-in", key, "-pubout", "-outform", "DER").stdout
        self.assertEqual(der[-32:], base64.b64decode(obj["pubkey"]))
        # a digest one bit off is refused by openssl as well
        self.write("digest.bin", self.flip(digest, 0))
        p = self.openssl("pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", pem,
                         "-in", dpath, "-sigfile", spath)
        self.assertNotEqual(p.returncode, 0)

    def test_a_module_signed_with_an_openssl_key_verifies(self):
        if not OPENSSL:
            self.skipTest("openssl not installed")
        key = self.path("carol.pem")
        p = self.openssl("genpkey", "-algorithm", "ed25519", "-out", key)
        self.assertEqual(p.returncode, 0, p.stderr)
        os.chmod(key, 0o600)
        r = perch("wasm", "sign", "--key", key, self.mod)
        self.assertError(r, "usage")
        self.assertIn("names no signer (no perch-signer line); give --signer NAME", r.err)
        self.sign(key, None, "--signer", "carol")
        # the keyring from the public half openssl writes
        pub = self.path("carol.pub.pem")
        self.assertEqual(self.openssl("pkey", "-in", key, "-pubout", "-out", pub).returncode, 0)
        self.assertOk(perch("wasm", "keygen", "--signer", "carol", "--from", pub,
                            "-o", self.keys))
        ring = os.path.join(self.keys, "carol.pub.json")
        d = self.verify(ring, code=0)
        self.assertEqual(d["signer"], "carol")
        # and the same by the documented openssl recipe
        der = self.openssl("pkey", "-in", key, "-pubout", "-outform", "DER").stdout
        self.assertEqual(jload(ring)["keys"][0]["pubkey"],
                         base64.b64encode(der[-32:]).decode())
        # perch's own key files are read by openssl as they are
        pkey, _ = self.keygen("dave")
        p = self.openssl("pkey", "-in", pkey, "-noout")
        self.assertEqual(p.returncode, 0, p.stderr)
        # a non-Ed25519 key is refused
        ec = self.path("ec.pem")
        self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-out", ec)
        r = perch("wasm", "sign", "--key", ec, "--signer", "x", self.mod)
        self.assertError(r, "usage")
        self.assertIn("not an Ed25519 key", r.err)

    # ---- inspect and diff -------------------------------------------------

    def inspect(self, *args):
        r = perch("wasm", "inspect", self.mod, *args)
        self.assertOk(r)
        line = [l for l in r.out.splitlines() if l.startswith("signer: ")]
        self.assertEqual(len(line), 1, r)
        d = json.loads(perch("wasm", "inspect", self.mod, *args, "--format", "json").out)
        return line[0], d

    def test_inspect_shows_the_signer_and_whether_it_verifies(self):
        line, d = self.inspect()
        self.assertEqual(line, "signer: (none)")
        self.assertEqual((d["signer"], d["signature_present"], d["signature_valid"],
                          d["signature_error"]), (None, False, None, None))
        akey, aring = self.keygen("alice")
        _, bring = self.keygen("bob")
        line, _ = self.inspect("--trust-keys", aring)
        self.assertEqual(line, "signer: (none) (NOT VERIFIED: manifest_unsigned: the module "
                               "has no perch.signature section)")
        self.sign(akey)
        line, d = self.inspect()
        self.assertEqual(line, "signer: alice (not verified: --trust-keys KEYRING checks it)")
        self.assertEqual((d["signer"], d["signature_present"], d["signature_valid"]),
                         ("alice", True, None))
        line, d = self.inspect("--trust-keys", aring)
        self.assertEqual(line, "signer: alice (verified: the signature is valid and alice "
                               "is trusted with this key)")
        self.assertIs(d["signature_valid"], True)
        self.assertIsNone(d["signature_error"])
        line, d = self.inspect("--trust-keys", bring)
        self.assertEqual(line, "signer: alice (NOT VERIFIED: manifest_signer_untrusted: "
                               "signer alice is not in the trusted keyring)")
        self.assertIs(d["signature_valid"], False)
        self.assertEqual(d["signature_error"], {
            "kind": "manifest_signer_untrusted",
            "message": "signer alice is not in the trusted keyring"})
        data = self.read(self.mod)
        self.write("plugin.wasm", self.flip(data, find(data, 10)[3] - 1))
        line, d = self.inspect("--trust-keys", aring)
        self.assertIn("signer: alice (NOT VERIFIED: manifest_signature_invalid: the "
                      "signature by alice does not match the module", line)
        self.assertIs(d["signature_valid"], False)
        self.write("plugin.wasm", data + custom("perch.signature", b"{}"))
        line, d = self.inspect()
        self.assertEqual(line, "signer: (unreadable perch.signature section) (NOT VERIFIED: "
                               "manifest_signature_invalid: 2 perch.signature sections; a "
                               "signed module has exactly one)")
        r = perch("wasm", "inspect", self.mod, "--trust-keys", self.write("r.json", "{"))
        self.assertError(r, "policy_invalid")

    def diff(self, old, new):
        r = perch("wasm", "diff", old, new)
        self.assertOk(r)
        j = perch("wasm", "diff", old, new, "--format", "json")
        self.assertOk(j)
        return r.out, json.loads(j.out)

    def test_diff_speaks_about_signatures(self):
        akey, _ = self.keygen("alice")
        bkey, _ = self.keygen("bob")
        old = self.mod
        new = self.path("new.wasm")
        more = dict(MANIFEST, needs_env=["HOME"], version="1.1.0")
        self.assertOk(perch("wasm", "manifest", "set", old,
                            self.write("m2.json", json.dumps(more)), "-o", new))
        # neither signed: nothing said, no key
        out, d = self.diff(old, new)
        self.assertNotIn("signature", out)
        self.assertNotIn("signature", d)
        # OLD signed, NEW not: MISSING, and re-signing is needed
        self.sign(akey, old)
        out, d = self.diff(old, new)
        self.assertIn("\nsignature alice \u2192 (none)  MISSING\n", out)
        self.assertIn("NEW is not signed, OLD was", out)
        self.assertIn("the declared capabilities changed: NEW must be signed again", out)
        self.assertEqual(d["signature"], {
            "old": {"signer": "alice", "status": "valid", "problem": None},
            "new": {"signer": None, "status": "none", "problem": None},
            "other_signer": False, "resign_needed": True})
        self.assertEqual(list(d)[-1], "signature")
        # a signed module whose manifest was changed afterwards: INVALID
        stale = self.path("stale.wasm")
        self.assertOk(perch("wasm", "manifest", "set", old,
                            self.write("m3.json", json.dumps(more)), "-o", stale))
        out, d = self.diff(old, stale)
        self.assertIn("\nsignature alice \u2192 alice (invalid)  INVALID\n", out)
        self.assertIn("NEW's signature does not verify: the signature by alice does not", out)
        self.assertIn("must be signed again", out)
        self.assertEqual(d["signature"]["new"]["status"], "invalid")
        self.assertTrue(d["signature"]["resign_needed"])
        # re-signed by another signer: said, no re-signing needed
        self.sign(bkey, new)
        out, d = self.diff(old, new)
        self.assertIn("\nsignature alice \u2192 bob  ANOTHER SIGNER\n", out)
        self.assertIn("NEW is signed by bob, OLD by alice", out)
        self.assertNotIn("must be signed again", out)
        self.assertEqual((d["signature"]["other_signer"], d["signature"]["resign_needed"]),
                         (True, False))
        # the same signer on both
        self.sign(akey, new, "--signer", "alice")
        out, d = self.diff(old, new)
        self.assertIn("\nsignature alice (unchanged signer)\n", out)
        self.assertNotIn("note      NEW", out)

    # ---- help --------------------------------------------------------------

    def test_help(self):
        for cmd in ["keygen", "sign", "verify"]:
            r = perch("wasm", cmd, "--help")
            self.assertOk(r)
            self.assertTrue(r.out.startswith("usage: perch wasm " + cmd), r.out)
            r2 = perch("help", "wasm", cmd)
            self.assertEqual(r2.out, r.out)
        r = perch("wasm", "--help")
        for cmd in ["keygen", "sign", "verify"]:
            self.assertIn("  " + cmd + " ", r.out)


if __name__ == "__main__":
    main()
