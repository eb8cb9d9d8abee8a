"""Tests of the benchmark's own parts: the module generator, the floor
program, the timing loop and the report's arithmetic and verdicts."""
import contextlib
import hashlib
import io
import re
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genmodule  # noqa: E402
import run  # noqa: E402

FLOOR = os.environ.get("PERCH_BENCH_FLOOR")
SMALL = dict(functions=120, body_size=200, segments=90, segment_size=100,
             customs=70, custom_size=40)


def without_code(b):
    """The module's bytes with the code section cut out."""
    i = 8
    while i < len(b):
        size, p = genmodule._read_uleb(b, i + 1)
        if b[i] == 10:
            return b[:i] + b[p + size:]
        i = p + size
    raise AssertionError("no code section")


class Encoding(unittest.TestCase):
    def test_uleb(self):
        self.assertEqual(genmodule.uleb(0), b"\x00")
        self.assertEqual(genmodule.uleb(127), b"\x7f")
        self.assertEqual(genmodule.uleb(128), b"\x80\x01")
        self.assertEqual(genmodule.uleb(624485), b"\xe5\x8e\x26")

    def test_sleb(self):
        self.assertEqual(genmodule.sleb(-1), b"\x7f")
        self.assertEqual(genmodule.sleb(63), b"\x3f")
        self.assertEqual(genmodule.sleb(64), b"\xc0\x00")
        self.assertEqual(genmodule.sleb(-64), b"\x40")
        self.assertEqual(genmodule.sleb(-65), b"\xbf\x7f")
        self.assertEqual(genmodule.sleb(-123456), b"\xc0\xbb\x78")

    def test_cbor_shortest_integers(self):
        self.assertEqual(genmodule.cbor(23), b"\x17")
        self.assertEqual(genmodule.cbor(24), b"\x18\x18")
        self.assertEqual(genmodule.cbor(256), b"\x19\x01\x00")
        self.assertEqual(genmodule.cbor(268435456), b"\x1a\x10\x00\x00\x00")
        self.assertEqual(genmodule.cbor(1 << 32), b"\x1b\x00\x00\x00\x01\x00\x00\x00\x00")

    def test_cbor_keys_in_bytewise_order_of_their_encoding(self):
        # "b" encodes shorter than "aa", so it sorts first.
        self.assertEqual(genmodule.cbor({"aa": 1, "b": [2, "x"]}),
                         b"\xa2\x61b\x82\x02\x61x\x62aa\x01")

    def test_cbor_refuses_what_a_manifest_cannot_hold(self):
        for v in (-1, True, None, 1.5):
            with self.assertRaises((TypeError, ValueError)):
                genmodule.cbor(v)


class Generator(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def test_deterministic_per_seed(self):
        a = genmodule.generate(seed=7, **SMALL)
        self.assertEqual(a, genmodule.generate(seed=7, **SMALL))
        self.assertNotEqual(a, genmodule.generate(seed=8, **SMALL))

    def test_holds_what_was_asked(self):
        d = genmodule.describe(genmodule.generate(seed=3, **SMALL))
        self.assertEqual(d["functions"], SMALL["functions"] + 1)  # + _start
        self.assertEqual(d["data_segments"], SMALL["segments"])
        self.assertEqual(d["custom_sections"], SMALL["customs"])
        self.assertEqual(d["sections"], SMALL["customs"] + len(genmodule.STANDARD_ORDER))
        self.assertEqual(d["manifest_sections"], 0)

    def test_valid(self):
        if shutil.which("wasm-validate") is None:
            self.skipTest("wasm-validate not installed")
        for seed in (1, 2, 3):
            path = os.path.join(self.tmp, f"m{seed}.wasm")
            with open(path, "wb") as f:
                f.write(genmodule.generate(seed=seed, **SMALL))
            self.assertTrue(genmodule.validate(path))

    def test_validate_reports_an_invalid_module(self):
        if shutil.which("wasm-validate") is None:
            self.skipTest("wasm-validate not installed")
        b = bytearray(genmodule.generate(seed=1, **SMALL))
        # The last body's final "end" becomes "nop": its expression never ends.
        i = 8
        while b[i] != 10:
            size, p = genmodule._read_uleb(b, i + 1)
            i = p + size
        size, p = genmodule._read_uleb(b, i + 1)
        end = p + size - 1
        self.assertEqual(b[end], 0x0B)
        b[end] = 0x01
        path = os.path.join(self.tmp, "bad.wasm")
        with open(path, "wb") as f:
            f.write(b)
        with self.assertRaises(RuntimeError) as cm:
            genmodule.validate(path)
        self.assertIn("wasm-validate", str(cm.exception))

    def test_only_the_code_section_grows(self):
        small = genmodule.generate(seed=5, **SMALL)
        big = genmodule.generate(seed=5, **dict(SMALL, body_size=4 * SMALL["body_size"]))
        self.assertEqual(without_code(small), without_code(big))
        ds, db = genmodule.describe(small), genmodule.describe(big)
        self.assertGreater(db["code_section"] / ds["code_section"], 3.5)
        self.assertLess(db["code_section"] / ds["code_section"], 4.5)
        self.assertEqual(db["size"] - db["code_section"], ds["size"] - ds["code_section"])

    def test_embedded_manifest(self):
        mod = genmodule.embed_manifest(genmodule.generate(seed=1, **SMALL),
                                       genmodule.manifest("old"))
        self.assertEqual(genmodule.describe(mod)["manifest_sections"], 1)
        payload = genmodule.cbor({
            "schema": 1, "name": "bench-module", "version": "1.4.2",
            "needs_read": ["/config", "/inputs", "/usr/share/zoneinfo"],
            "needs_write": ["/outputs"],
            "needs_net": ["api.example.com:443", "telemetry.example.net:443"],
            "needs_env": ["LANG", "LOG_LEVEL", "TZ"], "memory_max": 268435456})
        self.assertTrue(mod.endswith(genmodule.name("perch.manifest") + payload))
        if shutil.which("wasm-validate"):
            path = os.path.join(self.tmp, "m.wasm")
            with open(path, "wb") as f:
                f.write(mod)
            self.assertTrue(genmodule.validate(path))

    def test_new_manifest_elevates_old(self):
        old, new = genmodule.manifest("old"), genmodule.manifest("new")
        self.assertIn("API_TOKEN", new["needs_env"])
        self.assertNotIn("API_TOKEN", old["needs_env"])
        self.assertIn("*.cdn.example.org:443", new["needs_net"])
        with self.assertRaises(ValueError):
            genmodule.manifest("newer")

    def test_describe_refuses_bad_bytes(self):
        with self.assertRaises(ValueError):
            genmodule.describe(b"\x00asm\x02\x00\x00\x00")
        with self.assertRaises(ValueError):  # section claims more than the file holds
            genmodule.describe(b"\x00asm\x01\x00\x00\x00\x01\x05\x00")

    def test_command_line(self):
        out = os.path.join(self.tmp, "cli.wasm")
        js = os.path.join(self.tmp, "m.json")
        p = subprocess.run([sys.executable, genmodule.__file__, "-o", out, "--seed", "4",
                            "--functions", "50", "--body-size", "100", "--segments", "20",
                            "--segment-size", "50", "--customs", "30", "--custom-size", "10",
                            "--manifest", "new", "--manifest-json", js],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as f:
            d = genmodule.describe(f.read())
        self.assertEqual((d["functions"], d["data_segments"], d["custom_sections"],
                          d["manifest_sections"]), (51, 20, 31, 1))
        with open(js) as f:
            self.assertIn('"version": "1.5.0"', f.read())


@unittest.skipUnless(FLOOR, "PERCH_BENCH_FLOOR not set")
class Floor(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.file = os.path.join(self._tmp.name, "f.bin")
        self.data = bytes(range(256)) * 4099
        with open(self.file, "wb") as f:
            f.write(self.data)

    def tearDown(self):
        self._tmp.cleanup()

    def floor(self, *args):
        return subprocess.run([FLOOR, *args], capture_output=True, text=True)

    def test_sha256(self):
        empty = os.path.join(self._tmp.name, "empty")
        open(empty, "wb").close()
        p = self.floor("sha256", self.file, empty)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, f"{hashlib.sha256(self.data).hexdigest()}  {self.file}\n"
                         f"{hashlib.sha256(b'').hexdigest()}  {empty}\n")

    def test_mmap_sha256(self):
        empty = os.path.join(self._tmp.name, "empty")
        open(empty, "wb").close()
        p = self.floor("mmap-sha256", self.file, empty)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, f"{hashlib.sha256(self.data).hexdigest()}  {self.file}\n"
                         f"{hashlib.sha256(b'').hexdigest()}  {empty}\n")

    def test_mmap_refuses_what_is_not_a_file(self):
        p = self.floor("mmap-sha256", self._tmp.name)
        self.assertEqual((p.returncode, p.stderr),
                         (2, f"perch-bench-floor: {self._tmp.name}: not a regular file\n"))
        p = self.floor("mmap-sha256", self.file + ".missing")
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr, f"perch-bench-floor: {self.file}.missing: cannot open: "
                         "No such file or directory\n")

    def test_read(self):
        p = self.floor("read", self.file, self.file)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, f"{len(self.data)}  {self.file}\n" * 2)

    def test_missing_file(self):
        p = self.floor("read", self.file, self.file + ".missing")
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr.startswith(f"perch-bench-floor: {self.file}.missing: cannot open"),
                        p.stderr)

    def test_usage(self):
        for args in ((), ("sha256",), ("read",), ("mmap-sha256",), ("md5", self.file)):
            p = self.floor(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(p.stderr, "usage: perch-bench-floor sha256|read|mmap-sha256 FILE...\n")


class Timing(unittest.TestCase):
    def test_loop_counts_runs_not_warmup(self):
        times, cpu = run.loop_times(["/bin/true"], 4, 2, {0})
        self.assertEqual(len(times), 4)
        self.assertGreaterEqual(cpu, 0.0)
        self.assertLess(cpu, sum(times) * 2 + 0.01)

    def test_loop_refuses_a_failing_command(self):
        with self.assertRaises(run.BenchError) as cm:
            run.loop_times(["/bin/false"], 2, 0, {0})
        self.assertIn("exited 1", str(cm.exception))
        self.assertEqual(len(run.loop_times(["/bin/false"], 2, 0, {1})[0]), 2)

    def test_summary(self):
        s = run.summarize([0.3, 0.1, 0.2, 0.5], 0.2)
        self.assertEqual((s["median"], s["min"], s["cpu"], s["runs"]), (0.25, 0.1, 0.05, 4))

    @unittest.skipUnless(shutil.which("hyperfine"), "hyperfine not installed")
    def test_hyperfine(self):
        with tempfile.TemporaryDirectory() as tmp:
            t, cpu = run.hyperfine_times(shutil.which("hyperfine"), ["/bin/true"], "true",
                                         3, 0, {0}, os.path.join(tmp, "h.json"))
            self.assertEqual(len(t), 3)
            self.assertGreaterEqual(cpu, 0.0)
            with self.assertRaises(run.BenchError):
                run.hyperfine_times(shutil.which("hyperfine"), ["/bin/false"], "false",
                                    2, 0, {0}, os.path.join(tmp, "h.json"))


class Guards(unittest.TestCase):
    """A command that fails or skips the work is never timed as a success."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        self.mod = os.path.join(self.tmp, "m.wasm")
        with open(self.mod, "wb") as f:
            f.write(genmodule.embed_manifest(genmodule.generate(seed=1, **SMALL),
                                             genmodule.manifest("old")))
        self.files = {s: {"old": self.mod, "new": self.mod} for s in ("1x", "4x")}
        self.digest = run.sha256_file(self.mod)

    def tearDown(self):
        self._tmp.cleanup()

    def check(self, key, script):
        fake = os.path.join(self.tmp, "fake")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\n" + script + "\n")
        os.chmod(fake, 0o755)
        cmds = run.commands(fake, fake, fake, self.files, True)
        run.check_outputs({key: cmds[key]}, self.files)

    def refused(self, key, script, message):
        with self.assertRaises(run.BenchError) as cm:
            self.check(key, script)
        self.assertIn(message, str(cm.exception))

    def test_inspect(self):
        self.check("inspect-1x", f"echo 'name: bench-module'; echo 'sha256: {self.digest}'")
        self.refused("inspect-1x", "exit 0", "did not report the manifest's name")
        self.refused("inspect-1x", "echo bench-module", "did not print the module's SHA-256")
        self.refused("inspect-4x", "echo bench-module; exit 2", "failed (exit 2)")

    def test_diff(self):
        self.check("diff-1x", "echo 'VERDICT   ELEVATED'")
        self.refused("diff-1x", "echo 'VERDICT   UNCHANGED'", "did not find the elevation")

    def test_floors(self):
        self.check("floor-inspect-1x", f"echo '{self.digest}  x'")
        self.check("floor-mmap-4x", f"echo '{self.digest}  x'")
        self.refused("floor-diff-1x", "echo 0000", "printed a wrong digest")

    def test_sha256_file(self):
        with open(self.mod, "rb") as f:
            self.assertEqual(self.digest, hashlib.sha256(f.read()).hexdigest())

    def test_main_reports_what_could_not_run(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = run.main(["--quick", "--no-validate", "--perch", self.tmp + "/missing",
                             "--floor", self.tmp + "/missing", "--keep", self.tmp])
        self.assertEqual(code, 2)
        self.assertIn(f"bench: [Errno 2] No such file or directory: '{self.tmp}/missing'",
                      err.getvalue())


def fake_result(times):
    """A run's results with the given medians (seconds) per command key;
    mins are 90% of the medians, cpu times 50%."""
    mod = {"size": 10_000_000, "code_section": 4_000_000, "data_section": 3_000_000,
           "functions": 4001, "data_segments": 4000, "custom_sections": 3001,
           "sections": 3010, "manifest_sections": 1}
    big = dict(mod, size=22_000_000, code_section=16_000_000)
    return {
        "machine": "m", "perch_version": "perch 0", "perch_build": "b",
        "wabt_version": "1", "timer": "t", "runs": 1, "warmup": 0, "rounds": 1, "seed": 1,
        "shape": "quick", "validated": "v", "embedded_by": "e",
        "modules": {"1x": {"old": mod, "new": mod}, "4x": {"old": big, "new": big}},
        "timings": {k: {"median": v, "min": 0.9 * v, "cpu": 0.5 * v,
                        "label": k.replace("-1x", " old-1x").replace("-4x", " old-4x")}
                    for k, v in times.items()},
        "order": list(times),
    }


BASE = {"inspect-1x": 0.004, "diff-1x": 0.006, "objdump-1x": 0.010,
        "floor-inspect-1x": 0.003, "floor-diff-1x": 0.004, "floor-mmap-1x": 0.002,
        "inspect-4x": 0.008, "diff-4x": 0.012, "objdump-4x": 0.020,
        "floor-inspect-4x": 0.007, "floor-diff-4x": 0.010, "floor-mmap-4x": 0.003}


class Report(unittest.TestCase):
    def test_scaling_rule(self):
        self.assertTrue(run.scaling_met(0.004, 0.005))      # +25%
        self.assertFalse(run.scaling_met(0.004, 0.0051))
        self.assertTrue(run.scaling_met(0.0001, 0.0006))    # within the noise slack
        self.assertFalse(run.scaling_met(0.0001, 0.0007))
        self.assertEqual(run.beyond(0.002, 0.003), 0.0)

    def line(self, text, label):
        """The cells of the report's one line whose label is label."""
        lines = [ln.strip() for ln in text.splitlines()
                 if re.match(re.escape(label) + r"\s{2,}", ln.strip())]
        self.assertEqual(len(lines), 1, (label, text))
        return lines[0][len(label):].split()

    def test_all_met(self):
        r = fake_result(BASE)
        text = run.report(r)
        self.assertEqual(self.line(text, "perch wasm inspect 1x"),
                         ["0.400", "0.400", "0.400", "met"])
        self.assertEqual(self.line(text, "perch wasm diff 4x"),
                         ["0.600", "0.600", "0.600", "met"])
        self.assertIn("(code section 4.00x, file 2.20x)", text)
        self.assertEqual(self.line(text, "inspect old"), ["2.000"] * 3)
        self.assertEqual(self.line(text, "floor-diff old"), ["2.500"] * 3)
        self.assertEqual(self.line(text, "floor-mmap old"), ["1.500"] * 3)
        self.assertEqual(self.line(text, "perch wasm inspect"),
                         "1.0 -> 1.0 0.9 -> 0.9 0.5 -> 0.5 met".split())
        self.assertEqual(self.line(text, "inspect old-1x"), ["4.00", "ms", "3.60", "ms", "2.00", "ms"])
        self.assertEqual(self.line(text, "perch wasm diff"),
                         "2.0 -> 2.0 1.8 -> 1.8 1.0 -> 1.0 met".split())
        self.assertIn("targets: at or below wabt met (4/4); "
                      "no growth with the code section met (2/2)", text)
        self.assertEqual(r["targets"], {"speed": True, "scaling": True})

    def test_slower_than_wabt_is_missed(self):
        r = fake_result(dict(BASE, **{"diff-4x": 0.021}))
        text = run.report(r)
        self.assertEqual(self.line(text, "perch wasm diff 4x"),
                         ["1.050", "1.050", "1.050", "MISSED"])
        self.assertIn("at or below wabt MISSED (3/4); "
                      "no growth with the code section MISSED (1/2)", text)
        self.assertEqual(r["targets"], {"speed": False, "scaling": False})

    def test_decoding_bodies_is_missed(self):
        # inspect beyond its floor: 1 ms at 1x, 4 ms at 4x.
        r = fake_result(dict(BASE, **{"inspect-4x": 0.011}))
        text = run.report(r)
        self.assertEqual(self.line(text, "perch wasm inspect"),
                         "1.0 -> 4.0 0.9 -> 3.6 0.5 -> 2.0 MISSED".split())
        self.assertEqual(r["targets"], {"speed": True, "scaling": False})


if __name__ == "__main__":
    unittest.main(verbosity=2)
