"""perch wasm diff: classification, verdict, text and JSON output, exit codes, errors."""
import hashlib
import json
import os
import pty
import select
import shutil
import subprocess

from perchtest import PERCH, PerchCase, main, module, perch

RULE = "\u2501" * 64

SEED_OLD = {
    "schema": 1, "name": "risk-model", "version": "1.4.2",
    "needs_read": ["/inputs"],
    "needs_net": ["risk-api.vendor.com:443", "legacy.vendor.com:443"],
    "needs_env": ["RISK_THRESHOLD"],
    "memory_max": 256 << 20,
}
SEED_NEW = {
    "schema": 1, "name": "risk-model", "version": "1.5.0",
    "needs_read": ["/inputs", "/etc/keys", "/tmp/cache"],
    "needs_net": ["risk-api.vendor.com:443", "api.openai.com:443"],
    "needs_env": ["RISK_THRESHOLD", "STRIPE_SECRET_KEY"],
    "memory_max": 256 << 20,
}

SEED_GOLDEN = f"""\
manifest diff: risk-model
  OLD  {{old}}
  NEW  {{new}}
{RULE}
name      risk-model (unchanged)
version   1.4.2 \u2192 1.5.0
memory    256 MiB (unchanged)

needs_read
    /inputs
  + /etc/keys                NEW
  + /tmp/cache               NEW

needs_write
    (none)

needs_net
    risk-api.vendor.com:443
  + api.openai.com:443       NEW
  - legacy.vendor.com:443    removed

needs_env
    RISK_THRESHOLD
  + STRIPE_SECRET_KEY        NEW  HIGH RISK (env name matches *SECRET*)
{RULE}
summary   4 new, 0 narrowed, 1 removed, 3 unchanged
VERDICT   ELEVATED: 4 new capability requests, 1 marked HIGH RISK
          review required before deployment
"""


def manifest(**kw):
    m = {"schema": 1, "name": "mod", "version": "1.0.0"}
    m.update(kw)
    return m


class DiffCase(PerchCase):
    def build(self, name, m, base="http_client.wasm"):
        """A module with manifest m embedded (None: the base module as is)."""
        out = self.path(name)
        if m is None:
            shutil.copyfile(module(base), out)
            return out
        src = self.write(name + ".json", json.dumps(m))
        r = perch("wasm", "manifest", "set", module(base), src, "-o", out)
        self.assertOk(r)
        return out

    def pair(self, old, new):
        return self.build("old.wasm", old), self.build("new.wasm", new)

    def diff_json(self, old, new, *extra, code=0):
        a, b = self.pair(old, new)
        r = perch("wasm", "diff", a, b, "--format", "json", *extra)
        self.assertEqual(r.code, code, r)
        self.assertEqual(r.err, "", r)
        return json.loads(r.out)

    def change(self, doc, cap, value):
        found = [c for c in doc["changes"] if c["cap"] == cap and c["value"] == value]
        self.assertEqual(len(found), 1, doc["changes"])
        return found[0]


class TextOutput(DiffCase):
    def test_seed_pair_golden(self):
        a, b = self.pair(SEED_OLD, SEED_NEW)
        r = perch("wasm", "diff", a, b, env={"NO_COLOR": "1"})
        self.assertOk(r)
        self.assertEqual(r.err, "")
        self.assertEqual(r.out, SEED_GOLDEN.format(old=a, new=b))

    def test_no_colour_off_a_terminal(self):
        a, b = self.pair(SEED_OLD, SEED_NEW)
        r = perch("wasm", "diff", a, b)  # NO_COLOR unset, stdout a pipe
        self.assertOk(r)
        self.assertNotIn("\x1b", r.out)
        self.assertEqual(r.out, SEED_GOLDEN.format(old=a, new=b))

    def run_in_pty(self, args, env):
        e = dict(os.environ)
        e.pop("NO_COLOR", None)
        e.update(env)
        master, slave = pty.openpty()
        proc = subprocess.Popen([PERCH, *args], stdout=slave, stderr=slave, env=e)
        os.close(slave)
        out = b""
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        self.assertEqual(proc.wait(timeout=30), 0)
        return out.decode()

    def test_colour_on_a_terminal_only_without_no_color(self):
        a, b = self.pair(SEED_OLD, SEED_NEW)
        coloured = self.run_in_pty(["wasm", "diff", a, b], {})
        self.assertIn("\x1b[1;31mELEVATED\x1b[0m", coloured)
        self.assertIn("\x1b[1;31mHIGH RISK\x1b[0m", coloured)
        plain = self.run_in_pty(["wasm", "diff", a, b], {"NO_COLOR": "1"})
        self.assertNotIn("\x1b", plain)
        self.assertIn("VERDICT   ELEVATED: 4 new capability requests", plain)

    def test_output_is_deterministic(self):
        shuffled = dict(reversed(list(SEED_NEW.items())))
        shuffled["needs_read"] = list(reversed(SEED_NEW["needs_read"]))
        a, b = self.pair(SEED_OLD, SEED_NEW)
        c = self.build("shuffled.wasm", shuffled)
        r1 = perch("wasm", "diff", a, b)
        r2 = perch("wasm", "diff", a, c)
        self.assertOk(r1)
        self.assertEqual(r1.out, r2.out.replace(c, b))

    def test_broadening_and_notes(self):
        old = manifest(needs_read=["/data"], needs_net=["api.example.com:443"])
        new = manifest(needs_write=["/data"], needs_net=["*.example.com:443"])
        a, b = self.pair(old, new)
        r = perch("wasm", "diff", a, b)
        self.assertOk(r)
        self.assertIn("  + *.example.com:443    NEW (broadens api.example.com:443)\n", r.out)
        self.assertIn("  - api.example.com:443  removed (still granted by *.example.com:443)\n",
                      r.out)
        self.assertIn("  + /data                NEW (was read-only)\n", r.out)
        self.assertIn("  - /data                removed (still granted by write /data)\n", r.out)
        self.assertIn("VERDICT   ELEVATED: 2 new capability requests\n", r.out)

    def test_narrowed_and_reduced(self):
        old = manifest(needs_read=["/data"], needs_net=["*.example.com:443"],
                       needs_env=["HOME"], memory_max=1 << 30)
        new = manifest(needs_read=["/data/in"], needs_net=["api.example.com:443"],
                       memory_max=64 << 20)
        a, b = self.pair(old, new)
        r = perch("wasm", "diff", a, b, "--fail-on-elevated")
        self.assertEqual(r.code, 0, r)
        self.assertIn("needs_read\n"
                      "  + /data/in             narrowed (within /data)\n"
                      "  - /data                removed\n", r.out)
        self.assertIn("  + api.example.com:443  narrowed (within *.example.com:443)\n", r.out)
        self.assertIn("  - HOME                 removed\n", r.out)
        self.assertIn("memory    1 GiB \u2192 64 MiB  lowered\n", r.out)
        self.assertIn("summary   0 new, 2 narrowed, 3 removed, 0 unchanged\n", r.out)
        self.assertIn("VERDICT   REDUCED: 3 capabilities no longer granted, memory limit "
                      "lowered, nothing new\n          nothing new to review\n", r.out)

    def test_memory_raised_and_unlimited(self):
        a, b = self.pair(manifest(memory_max=65536), manifest())
        r = perch("wasm", "diff", a, b)
        self.assertOk(r)
        self.assertIn("memory    64 KiB \u2192 no limit  RAISED\n", r.out)
        self.assertIn("VERDICT   ELEVATED: memory limit raised\n", r.out)

    def test_high_risk_marks(self):
        old = manifest()
        new = manifest(needs_env=["api_key", "KEYBOARD", "GITHUB_TOKEN"],
                       needs_write=["/"], needs_net=["*"])
        a, b = self.pair(old, new)
        r = perch("wasm", "diff", a, b)
        self.assertOk(r)
        self.assertIn("  + api_key       NEW  HIGH RISK (env name matches *_KEY)\n", r.out)
        self.assertIn("  + GITHUB_TOKEN  NEW  HIGH RISK (env name matches *TOKEN*)\n", r.out)
        self.assertIn("  + KEYBOARD      NEW\n", r.out)
        self.assertIn("  + /             NEW  HIGH RISK (write to /)\n", r.out)
        self.assertIn("  + *             NEW  HIGH RISK (net *)\n", r.out)
        self.assertIn("VERDICT   ELEVATED: 5 new capability requests, 4 marked HIGH RISK\n",
                      r.out)

    def test_unchanged(self):
        a, b = self.pair(SEED_OLD, SEED_OLD)
        r = perch("wasm", "diff", a, b, "--fail-on-elevated")
        self.assertOk(r)
        self.assertIn("version   1.4.2 (unchanged)\n", r.out)
        self.assertIn("VERDICT   UNCHANGED: no capability gained or lost\n", r.out)

    def test_renamed(self):
        a, b = self.pair(manifest(), manifest(name="mod-pro"))
        r = perch("wasm", "diff", a, b)
        self.assertOk(r)
        self.assertTrue(r.out.startswith("manifest diff: mod \u2192 mod-pro\n"), r)
        self.assertIn("name      mod \u2192 mod-pro (renamed)\n", r.out)
        self.assertIn("VERDICT   UNCHANGED", r.out)

    def test_manifest_lost(self):
        a, b = self.pair(SEED_OLD, None)
        r = perch("wasm", "diff", a, b)
        self.assertOk(r)
        self.assertIn("name      risk-model \u2192 (no manifest)\n", r.out)
        self.assertIn("note      NEW has no perch.manifest section: what it needs is no longer\n"
                      "          declared", r.out)
        self.assertIn("what it may be granted (OLD declared 4\n"
                      "          capabilities and a memory limit)\n", r.out)
        self.assertNotIn("needs_read", r.out)
        self.assertIn("VERDICT   ELEVATED: NEW no longer declares what it needs\n", r.out)
        r = perch("wasm", "diff", a, b, "--fail-on-elevated")
        self.assertEqual(r.code, 1, r)

    def test_manifest_gained(self):
        a, b = self.pair(None, SEED_NEW)
        r = perch("wasm", "diff", a, b)
        self.assertOk(r)
        self.assertIn("note      OLD has no perch.manifest section: NEW's declarations are "
                      "compared\n          as if OLD declared nothing\n", r.out)
        self.assertIn("  + /inputs                  NEW\n", r.out)
        self.assertIn("VERDICT   ELEVATED: 7 new capability requests, 1 marked HIGH RISK\n",
                      r.out)

    def test_no_manifest_on_either_side(self):
        a, b = self.pair(None, None)
        r = perch("wasm", "diff", a, b, "--fail-on-elevated")
        self.assertOk(r)
        self.assertTrue(r.out.startswith("manifest diff: no manifest on either side\n"), r)
        self.assertIn("nothing is declared", r.out)
        self.assertIn("VERDICT   UNCHANGED: neither module declares anything\n", r.out)

    def test_file_names_are_printed_safely(self):
        a, b = self.pair(manifest(), manifest())
        evil = self.path("evil\x1b[2J.wasm")
        shutil.copyfile(b, evil)
        r = perch("wasm", "diff", a, evil)
        self.assertOk(r)
        self.assertNotIn("\x1b", r.out)
        self.assertIn("evil\\x1b[2J.wasm", r.out)


class JsonOutput(DiffCase):
    def test_seed_pair_fields(self):
        a, b = self.pair(SEED_OLD, SEED_NEW)
        r = perch("wasm", "diff", a, b, "--format", "json")
        self.assertOk(r)
        doc = json.loads(r.out)
        self.assertEqual(list(doc), ["schema", "old", "new", "changes", "memory", "verdict",
                                     "counts", "explanation"])
        self.assertEqual(doc["schema"], 1)
        for side, path, version in (("old", a, "1.4.2"), ("new", b, "1.5.0")):
            self.assertEqual(doc[side], {
                "file": path,
                "sha256": hashlib.sha256(self.read(path)).hexdigest(),
                "manifest": True,
                "name": "risk-model",
                "version": version,
                "memory_max": 256 << 20,
            })
            self.assertEqual(list(doc[side]), ["file", "sha256", "manifest", "name",
                                               "version", "memory_max"])
        self.assertEqual([(c["cap"], c["value"], c["change"]) for c in doc["changes"]], [
            ("read", "/etc/keys", "new"),
            ("read", "/inputs", "unchanged"),
            ("read", "/tmp/cache", "new"),
            ("net", "api.openai.com:443", "new"),
            ("net", "legacy.vendor.com:443", "removed"),
            ("net", "risk-api.vendor.com:443", "unchanged"),
            ("env", "RISK_THRESHOLD", "unchanged"),
            ("env", "STRIPE_SECRET_KEY", "new"),
        ])
        self.assertEqual(doc["changes"][-1], {
            "cap": "env", "value": "STRIPE_SECRET_KEY", "change": "new",
            "high_risk": True, "risk_rule": "*SECRET*", "note": None,
        })
        for c in doc["changes"][:-1]:
            self.assertEqual(list(c), ["cap", "value", "change", "high_risk", "risk_rule",
                                       "note"])
            self.assertIs(c["high_risk"], False)
            self.assertIsNone(c["risk_rule"])
            self.assertIsNone(c["note"])
        self.assertEqual(doc["memory"], {"old": 256 << 20, "new": 256 << 20,
                                         "change": "unchanged"})
        self.assertEqual(doc["verdict"], "ELEVATED")
        self.assertEqual(doc["counts"], {"new": 4, "removed": 1, "narrowed": 0, "unchanged": 3,
                                         "high_risk": 1, "no_longer_granted": 1})
        self.assertIsNone(doc["explanation"])

    def test_notes_and_narrowing(self):
        old = manifest(needs_read=["/data", "/logs"], needs_net=["api.example.com:443"])
        new = manifest(needs_read=["/logs/app"], needs_write=["/data"],
                       needs_net=["*.example.com:443"])
        doc = self.diff_json(old, new)
        self.assertEqual(self.change(doc, "write", "/data")["note"], "was read-only")
        self.assertEqual(self.change(doc, "read", "/data")["note"],
                         "still granted by write /data")
        self.assertEqual(self.change(doc, "read", "/logs/app"),
                         {"cap": "read", "value": "/logs/app", "change": "narrowed",
                          "high_risk": False, "risk_rule": None, "note": "within /logs"})
        self.assertEqual(self.change(doc, "net", "*.example.com:443")["note"],
                         "broadens api.example.com:443")
        self.assertEqual(doc["counts"], {"new": 2, "removed": 3, "narrowed": 1, "unchanged": 0,
                                         "high_risk": 0, "no_longer_granted": 1})
        self.assertEqual(doc["verdict"], "ELEVATED")

    def test_memory(self):
        doc = self.diff_json(manifest(memory_max=1 << 20), manifest(memory_max=2 << 20))
        self.assertEqual(doc["memory"], {"old": 1 << 20, "new": 2 << 20, "change": "new"})
        self.assertEqual(doc["verdict"], "ELEVATED")
        doc = self.diff_json(manifest(memory_max=1 << 20), manifest())
        self.assertEqual(doc["memory"], {"old": 1 << 20, "new": None, "change": "new"})
        self.assertIsNone(doc["new"]["memory_max"])
        doc = self.diff_json(manifest(), manifest(memory_max=1 << 20))
        self.assertEqual(doc["memory"], {"old": None, "new": 1 << 20, "change": "narrowed"})
        self.assertEqual(doc["verdict"], "REDUCED")

    def test_manifest_lost_gained_none(self):
        doc = self.diff_json(SEED_OLD, None)
        self.assertIs(doc["new"]["manifest"], False)
        self.assertIsNone(doc["new"]["name"])
        self.assertIsNone(doc["new"]["version"])
        self.assertEqual(doc["changes"], [])
        self.assertEqual(doc["verdict"], "ELEVATED")
        self.assertTrue(doc["explanation"].startswith("NEW has no perch.manifest section"))

        doc = self.diff_json(None, SEED_NEW)
        self.assertIs(doc["old"]["manifest"], False)
        self.assertEqual({c["change"] for c in doc["changes"]}, {"new"})
        self.assertEqual(doc["counts"]["new"], 7)
        self.assertEqual(doc["verdict"], "ELEVATED")
        self.assertTrue(doc["explanation"].startswith("OLD has no perch.manifest section"))

        doc = self.diff_json(None, None)
        self.assertEqual(doc["verdict"], "UNCHANGED")
        self.assertEqual(doc["memory"], {"old": None, "new": None, "change": "unchanged"})
        self.assertTrue(doc["explanation"].startswith("neither module"))

    def test_fail_on_elevated_with_json(self):
        doc = self.diff_json(SEED_OLD, SEED_NEW, "--fail-on-elevated", code=1)
        self.assertEqual(doc["verdict"], "ELEVATED")


class Limits(DiffCase):
    def test_largest_lists(self):
        """4096 entries a list (the manifest limit) on both sides: correct, and quick."""
        n = 4096
        old = manifest(needs_net=["h%d.example.com:443" % i for i in range(n)],
                       needs_read=["/d/%d/x" % i for i in range(n)],
                       needs_write=["/w/%d" % i for i in range(n)])
        new = manifest(needs_net=["*.h%d.example.com:443" % i for i in range(n)],
                       needs_read=["/d/%d" % i for i in range(n)],
                       needs_write=["/w/%d/y" % i for i in range(n)])
        doc = self.diff_json(old, new)
        self.assertEqual(doc["counts"], {"new": 2 * n, "removed": 3 * n, "narrowed": n,
                                         "unchanged": 0, "high_risk": 0,
                                         "no_longer_granted": 2 * n})
        self.assertEqual(self.change(doc, "read", "/d/7")["note"], "broadens /d/7/x")
        self.assertEqual(self.change(doc, "write", "/w/7/y")["note"], "within /w/7")
        self.assertEqual(self.change(doc, "read", "/d/7/x")["note"], "still granted by /d/7")


class ExitCodes(DiffCase):
    def test_elevated(self):
        a, b = self.pair(SEED_OLD, SEED_NEW)
        self.assertEqual(perch("wasm", "diff", a, b).code, 0)
        self.assertEqual(perch("wasm", "diff", a, b, "--fail-on-elevated").code, 1)
        self.assertEqual(perch("wasm", "diff", "--fail-on-elevated", a, b).code, 1)

    def test_reduced_and_unchanged_pass(self):
        a, b = self.pair(SEED_NEW, SEED_OLD)
        # SEED_OLD has legacy.vendor.com, which SEED_NEW lacks: still ELEVATED
        self.assertEqual(perch("wasm", "diff", a, b, "--fail-on-elevated").code, 1)
        a, b = self.pair(SEED_OLD, manifest(needs_read=["/inputs"], memory_max=256 << 20))
        r = perch("wasm", "diff", a, b, "--fail-on-elevated")
        self.assertEqual(r.code, 0, r)
        self.assertIn("VERDICT   REDUCED", r.out)
        r = perch("wasm", "diff", a, a, "--fail-on-elevated")
        self.assertEqual(r.code, 0, r)


class Errors(DiffCase):
    def test_missing_files(self):
        a = self.build("a.wasm", manifest())
        r = perch("wasm", "diff", self.path("nope.wasm"), a)
        self.assertError(r, "io")
        self.assertIn("io: OLD module: cannot open " + self.path("nope.wasm"), r.err)
        self.assertEqual(r.out, "")
        r = perch("wasm", "diff", a, self.path("nope.wasm"))
        self.assertError(r, "io")
        self.assertIn("io: NEW module: cannot open", r.err)
        r = perch("wasm", "diff", a, self.tmp)
        self.assertError(r, "io")
        self.assertIn("NEW module: ", r.err)

    def test_malformed_module(self):
        a = self.build("a.wasm", manifest())
        bad = self.write("bad.wasm", b"\0asm\x02\0\0\0")
        r = perch("wasm", "diff", a, bad, "--fail-on-elevated")
        self.assertError(r, "wasm_malformed")
        self.assertIn("wasm_malformed: NEW module " + bad + ": ", r.err)
        r = perch("wasm", "diff", self.write("junk.wasm", b"junk"), a)
        self.assertError(r, "wasm_malformed")
        self.assertIn("OLD module", r.err)

    def test_malformed_manifest(self):
        base = self.read(module("empty.wasm"))
        name = b"perch.manifest"
        payload = b"\xa1\x63foo\x01"  # {"foo": 1}
        body = bytes([len(name)]) + name + payload
        bad = self.write("bad.wasm", base + bytes([0, len(body)]) + body)
        a = self.build("a.wasm", manifest())
        r = perch("wasm", "diff", bad, a)
        self.assertError(r, "manifest_malformed")
        self.assertIn("manifest_malformed: OLD module " + bad + ": ", r.err)
        self.assertIn('"foo"', r.err)

    def test_error_as_json(self):
        a = self.build("a.wasm", manifest())
        r = perch("wasm", "diff", a, self.path("nope.wasm"), "--format", "json")
        self.assertEqual(r.code, 2, r)
        doc = json.loads(r.out)
        self.assertEqual(doc["error"], "io")
        self.assertTrue(doc["message"].startswith("NEW module: cannot open"), doc)

    def test_usage(self):
        a = self.build("a.wasm", manifest())
        for args, msg in (
            ((a,), "usage: expected two modules, OLD and NEW"),
            ((), "usage: expected two modules, OLD and NEW"),
            ((a, a, a), "usage: expected two modules, OLD and NEW, not 3 arguments"),
            ((a, a, "--format", "yaml"), "usage: unknown --format 'yaml'"),
            ((a, a, "--format"), "usage: option '--format' needs a value"),
            ((a, a, "--fail-on-elevated=yes"), "usage: option '--fail-on-elevated' takes no value"),
            ((a, a, "--strict"), "usage: unknown option '--strict'"),
        ):
            r = perch("wasm", "diff", *args)
            self.assertError(r, "usage")
            self.assertIn(msg, r.err)
            self.assertIn("perch wasm diff --help", r.err)
            self.assertEqual(r.out, "")


class Help(DiffCase):
    def test_help(self):
        r = perch("wasm", "diff", "--help")
        self.assertOk(r)
        for needle in ("usage: perch wasm diff OLD NEW [--fail-on-elevated] [--format text|json]",
                       "--fail-on-elevated", "ELEVATED", "REDUCED", "UNCHANGED", "narrowed",
                       "broadens", "was read-only", "*SECRET*", "*TOKEN*", "*PASSWORD*",
                       "*_KEY", "net *", "write /", "exit codes:", "  1  --fail-on-elevated",
                       "wasm_malformed", "manifest_malformed", "NO_COLOR", "docs/diff.md"):
            self.assertIn(needle, r.out)
        self.assertEqual(perch("help", "wasm", "diff").out, r.out)


if __name__ == "__main__":
    main()
