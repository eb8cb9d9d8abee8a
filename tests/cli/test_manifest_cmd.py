"""perch wasm manifest set|get."""
import os
import pty
import shutil
import stat
import subprocess

from perchtest import PERCH, PerchCase, main, module, perch

MANIFEST = """{
  "schema": 1,
  "name": "risk-model",
  "version": "1.4.0",
  "needs_read": ["/inputs", "/data"],
  "needs_write": ["/out"],
  "needs_net": ["risk-api.vendor.com:443"],
  "needs_env": ["RISK_THRESHOLD"],
  "memory_max": 268435456
}
"""

EXPECTED_JSON = """{
  "schema": 1,
  "name": "risk-model",
  "version": "1.4.0",
  "needs_read": [
    "/data",
    "/inputs"
  ],
  "needs_write": [
    "/out"
  ],
  "needs_net": [
    "risk-api.vendor.com:443"
  ],
  "needs_env": [
    "RISK_THRESHOLD"
  ],
  "memory_max": 268435456
}
"""


def text(s):
    b = s.encode()
    return bytes([0x60 + len(b)]) + b


# The deterministic CBOR of MANIFEST (RFC 8949 4.2.1), written out by hand.
EXPECTED_CBOR = (
    b"\xa8" + text("name") + text("risk-model") + text("schema") + b"\x01"
    + text("version") + text("1.4.0")
    + text("needs_env") + b"\x81" + text("RISK_THRESHOLD")
    + text("needs_net") + b"\x81" + text("risk-api.vendor.com:443")
    + text("memory_max") + b"\x1a\x10\x00\x00\x00"
    + text("needs_read") + b"\x82" + text("/data") + text("/inputs")
    + text("needs_write") + b"\x81" + text("/out"))


def custom_section(name, payload):
    """A custom section; sizes below 128 bytes only."""
    body = bytes([len(name)]) + name.encode() + payload
    assert len(body) < 128
    return b"\x00" + bytes([len(body)]) + body


MINIMAL_CBOR = (b"\xa3" + text("name") + text("x") + text("schema") + b"\x01"
                + text("version") + text("1.0.0"))


class ManifestSetGet(PerchCase):
    def setUp(self):
        super().setUp()
        self.mod = self.path("files.wasm")
        shutil.copy(module("files.wasm"), self.mod)
        self.original = self.read(self.mod)
        self.json = self.write("m.json", MANIFEST)

    def test_set_then_get_json(self):
        self.assertOk(perch("wasm", "manifest", "set", self.mod, self.json))
        r = perch("wasm", "manifest", "get", self.mod)
        self.assertOk(r)
        self.assertEqual(r.out, EXPECTED_JSON)
        self.assertEqual(r.err, "")
        r = perch("wasm", "manifest", "get", self.mod, "--format", "json")
        self.assertEqual(r.out, EXPECTED_JSON)

    def test_set_appends_and_keeps_every_byte(self):
        self.assertOk(perch("wasm", "manifest", "set", self.mod, self.json))
        new = self.read(self.mod)
        section = b"\x00" + bytes([0x80 | ((15 + len(EXPECTED_CBOR)) & 0x7f),
                                   (15 + len(EXPECTED_CBOR)) >> 7])
        self.assertEqual(new, self.original + section + b"\x0eperch.manifest" + EXPECTED_CBOR)

    def test_get_cbor_is_the_stored_payload(self):
        self.assertOk(perch("wasm", "manifest", "set", self.mod, self.json))
        proc = subprocess.run([PERCH, "wasm", "manifest", "get", self.mod, "--format", "cbor"],
                              capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, EXPECTED_CBOR)

    def test_get_cbor_refuses_a_terminal(self):
        self.assertOk(perch("wasm", "manifest", "set", self.mod, self.json))
        master, slave = pty.openpty()
        try:
            proc = subprocess.run([PERCH, "wasm", "manifest", "get", self.mod, "--format=cbor"],
                                  stdout=slave, stderr=subprocess.PIPE, timeout=60)
        finally:
            os.close(slave)
            os.close(master)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"usage: refusing to write binary CBOR to a terminal", proc.stderr)

    def test_set_replaces_in_place(self):
        self.assertOk(perch("wasm", "manifest", "set", self.mod, self.json))
        first = self.read(self.mod)
        other = self.write("other.json", '{"schema": 1, "name": "x", "version": "1.0.0"}')
        self.assertOk(perch("wasm", "manifest", "set", self.mod, other))
        new = self.read(self.mod)
        self.assertEqual(new, self.original + custom_section("perch.manifest", MINIMAL_CBOR))
        self.assertNotEqual(new, first)
        # a section in the middle stays in the middle
        trailer = custom_section("after", b"\x2a")
        self.write("mid.wasm", self.original + custom_section("perch.manifest", MINIMAL_CBOR)
                   + trailer)
        out = self.path("mid-out.wasm")
        self.assertOk(perch("wasm", "manifest", "set", self.path("mid.wasm"), self.json,
                            "-o", out))
        data = self.read(out)
        self.assertTrue(data.startswith(self.original))
        self.assertTrue(data.endswith(EXPECTED_CBOR + trailer))

    def test_set_output_leaves_input(self):
        out = self.path("out.wasm")
        self.assertOk(perch("wasm", "manifest", "set", self.mod, self.json, "-o", out))
        self.assertEqual(self.read(self.mod), self.original)
        self.assertEqual(perch("wasm", "manifest", "get", out).out, EXPECTED_JSON)
        out2 = self.path("out2.wasm")
        self.assertOk(perch("wasm", "manifest", "set", self.mod, self.json, "--output", out2))
        self.assertEqual(self.read(out2), self.read(out))

    def test_set_keeps_mode(self):
        os.chmod(self.mod, 0o751)
        self.assertOk(perch("wasm", "manifest", "set", self.mod, self.json))
        self.assertEqual(stat.S_IMODE(os.stat(self.mod).st_mode), 0o751)

    def test_set_from_stdin(self):
        self.assertOk(perch("wasm", "manifest", "set", self.mod, "-", input=MANIFEST))
        self.assertEqual(perch("wasm", "manifest", "get", self.mod).out, EXPECTED_JSON)
        r = perch("wasm", "manifest", "set", self.mod, "-", input='{"schema": 1}')
        self.assertError(r, "manifest_malformed")
        self.assertIn('standard input: missing required key "name"', r.err)

    def test_no_section(self):
        r = perch("wasm", "manifest", "get", self.mod)
        self.assertError(r, "manifest_missing")
        self.assertEqual(r.err, f"manifest_missing: {self.mod} has no perch.manifest section\n")
        self.assertEqual(r.out, "")

    def assertUnchanged(self):
        self.assertEqual(self.read(self.mod), self.original)
        self.assertEqual(sorted(os.listdir(self.tmp)), sorted(self.files_before))

    def failing_set(self, json_text, *extra):
        j = self.write("bad.json", json_text)
        self.files_before = os.listdir(self.tmp)
        r = perch("wasm", "manifest", "set", self.mod, j, *extra)
        self.assertUnchanged()
        return r

    def test_rule_failures_leave_input_identical(self):
        cases = [
            ('{"schema": 1, "name": "a", "version": "1.0.0", "needs_read": ["/a", "/b", "/a/../b"]}',
             'needs_read[2] "/a/../b": contains a \'..\' component'),
            ('{"schema": 1, "name": "a", "version": "1.0.0", "needs_write": ["out"]}',
             'needs_write[0] "out": is relative (guest paths must start with \'/\')'),
            ('{"schema": 1, "name": "a", "version": "1.0.0", "needs_net": ["a.com:70000"]}',
             'needs_net[0] "a.com:70000": has a port out of range (1 to 65535)'),
            ('{"schema": 1, "name": "a", "version": "1.0.0", "needs_env": ["A", "A"]}',
             'needs_env[1] "A": duplicate entry (same as needs_env[0])'),
            ('{"schema": 1, "name": "a", "version": "1.0.0", "nedds_env": []}',
             'unknown key "nedds_env" (the keys of schema 1 are schema, name, version, '
             'needs_read, needs_write, needs_net, needs_env, memory_max)'),
            ('{"schema": 1, "name": ["a"], "version": "1.0.0"}',
             'key "name": expected text, found array'),
            ('{"schema": 2, "name": "a", "version": "1.0.0"}',
             'schema 2: is not a supported schema (this perch reads schema 1)'),
            ('{"schema": 1, "name": "a", "version": "1.0.0", "memory_max": 8589934592}',
             'memory_max 8589934592: is above 4 GiB (4294967296 bytes), the most a wasm32 '
             'memory can address'),
            ('{"schema": 1, "name": "a", "name": "b", "version": "1.0.0"}',
             'line 1, column 33: duplicate key "name"'),
            ('{"schema": 1,\n "name": "a",\n "version": 1.0.0}',
             "line 3, column 16: '}' expected near '.'"),
        ]
        for json_text, message in cases:
            with self.subTest(message=message):
                r = self.failing_set(json_text)
                self.assertError(r, "manifest_malformed")
                self.assertIn(f"manifest_malformed: {self.path('bad.json')}: {message}", r.err)
                self.assertEqual(r.out, "")
                r = self.failing_set(json_text, "-o", self.path("never.wasm"))
                self.assertError(r, "manifest_malformed")

    def test_control_characters_are_escaped(self):
        r = self.failing_set('{"schema": 1, "name": "evil\\u001b[2J", "version": "1.0.0"}')
        self.assertError(r, "manifest_malformed")
        self.assertIn('name "evil\\x1b[2J": contains a control character', r.err)
        self.assertNotIn("\x1b", r.err)

    def test_malformed_module(self):
        bad = self.write("bad.wasm", b"\x00asm\x02\x00\x00\x00")
        r = perch("wasm", "manifest", "set", bad, self.json)
        self.assertError(r, "wasm_malformed")
        self.assertEqual(r.err, f"wasm_malformed: {bad}: unknown binary version: expected 01 00 "
                                f"00 00 (version 1) (at byte 4 (0x4))\n")
        self.assertEqual(self.read(bad), b"\x00asm\x02\x00\x00\x00")
        trunc = self.write("trunc.wasm", self.original + b"\x00\x10\x01x")
        r = perch("wasm", "manifest", "set", trunc, self.json)
        self.assertError(r, "wasm_malformed")
        self.assertIn(f"(at byte {len(self.original)} ", r.err)
        r = perch("wasm", "manifest", "get", trunc)
        self.assertError(r, "wasm_malformed")
        notwasm = self.write("text.wasm", "hello")
        r = perch("wasm", "manifest", "get", notwasm)
        self.assertError(r, "wasm_malformed")
        self.assertIn("magic header not detected", r.err)

    def test_two_sections(self):
        sec = custom_section("perch.manifest", MINIMAL_CBOR)
        data = self.original + sec + sec
        two = self.write("two.wasm", data)
        r = perch("wasm", "manifest", "set", two, self.json)
        self.assertError(r, "manifest_malformed")
        first = len(self.original)
        second = first + len(sec)
        self.assertEqual(r.err, f"manifest_malformed: {two}: two perch.manifest sections (at bytes "
                                f"{first} and {second}); a module declares its needs in exactly "
                                f"one (at byte {second} (0x{second:x}))\n")
        self.assertEqual(self.read(two), data)
        r = perch("wasm", "manifest", "get", two)
        self.assertError(r, "manifest_malformed")
        self.assertIn("two perch.manifest sections", r.err)

    def test_get_malformed_payload(self):
        payload = MINIMAL_CBOR[:-6] + text("1.0")
        bad = self.write("badpayload.wasm", self.original + custom_section("perch.manifest", payload))
        r = perch("wasm", "manifest", "get", bad)
        self.assertError(r, "manifest_malformed")
        self.assertIn(f'{bad}: version "1.0": is not a semantic version', r.err)
        proc = subprocess.run([PERCH, "wasm", "manifest", "get", bad, "--format", "cbor"],
                              capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stdout, b"")

    def test_io_errors_leave_nothing_behind(self):
        r = perch("wasm", "manifest", "set", self.path("missing.wasm"), self.json)
        self.assertError(r, "io")
        self.assertIn("missing.wasm", r.err)
        r = perch("wasm", "manifest", "set", self.mod, self.path("missing.json"))
        self.assertError(r, "io")
        self.assertEqual(self.read(self.mod), self.original)
        r = perch("wasm", "manifest", "get", self.path("missing.wasm"))
        self.assertError(r, "io")
        before = os.listdir(self.tmp)
        r = perch("wasm", "manifest", "set", self.mod, self.json, "-o",
                  self.path("no-such-dir/out.wasm"))
        self.assertError(r, "io")
        self.assertEqual(os.listdir(self.tmp), before)

    def test_read_only_directory(self):
        """A set into a directory perch may not write fails with io, leaving nothing."""
        prefix = []
        if os.geteuid() == 0:
            # root writes anywhere: run perch as nobody instead
            setpriv = shutil.which("setpriv")
            if not setpriv:
                self.skipTest("running as root without setpriv")
            prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
            if subprocess.run(prefix + [PERCH, "--version"], capture_output=True).returncode:
                self.skipTest("nobody cannot run " + PERCH)
            os.chmod(self.tmp, 0o755)
        ro = self.path("ro")
        os.mkdir(ro)
        target = os.path.join(ro, "m.wasm")
        shutil.copy(self.mod, target)
        os.chmod(target, 0o644)
        os.chmod(self.json, 0o644)
        os.chmod(ro, 0o555)
        try:
            proc = subprocess.run(prefix + [PERCH, "wasm", "manifest", "set", target, self.json],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertTrue(proc.stderr.startswith("io: cannot create a temporary file beside "
                                                   + target), proc.stderr)
            self.assertEqual(os.listdir(ro), ["m.wasm"])
            self.assertEqual(self.read(target), self.original)
        finally:
            os.chmod(ro, 0o755)

    def test_usage(self):
        cases = [
            (["wasm", "manifest", "frob"], "usage: unknown command 'frob' (expected set or get)"),
            (["wasm", "manifest", "set", self.mod], "usage: expected MODULE and MANIFEST.json"),
            (["wasm", "manifest", "set", self.mod, self.json, "x"], "usage: too many arguments"),
            (["wasm", "manifest", "set", self.mod, self.json, "-o"],
             "usage: option '--output' needs a value"),
            (["wasm", "manifest", "get"], "usage: expected MODULE"),
            (["wasm", "manifest", "get", self.mod, self.mod], "usage: too many arguments"),
            (["wasm", "manifest", "get", self.mod, "--format", "xml"], "usage: unknown --format 'xml'"),
            (["wasm", "manifest", "get", self.mod, "--frob"], "usage: unknown option '--frob'"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                r = perch(*args)
                self.assertEqual(r.code, 2, r)
                self.assertIn(message, r.err)
        r = perch("wasm", "manifest")
        self.assertEqual(r.code, 2, r)
        self.assertIn("usage: perch wasm manifest set", r.err)
        self.assertEqual(self.read(self.mod), self.original)

    def test_help(self):
        r = perch("wasm", "manifest", "--help")
        self.assertOk(r)
        for word in ["set MODULE MANIFEST.json [-o OUT]", "get MODULE [--format json|cbor]",
                     "needs_read", "memory_max"]:
            self.assertIn(word, r.out)
        r = perch("wasm", "manifest", "set", "--help")
        self.assertOk(r)
        for word in ["-o, --output OUT", "'-'", "atomically", "wasm_malformed",
                     "manifest_malformed", "two perch.manifest sections", "appended"]:
            self.assertIn(word, r.out)
        r = perch("wasm", "manifest", "get", "-h")
        self.assertOk(r)
        for word in ["--format json", "--format cbor", "terminal", "manifest_missing"]:
            self.assertIn(word, r.out)
        self.assertEqual(perch("help", "wasm", "manifest").out,
                         perch("wasm", "manifest", "--help").out)


if __name__ == "__main__":
    main()
