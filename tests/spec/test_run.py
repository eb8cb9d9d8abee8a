"""`perch wasm run` on a WASI command built from guest_wasi.c."""
import os
import subprocess
import sys
import unittest

PERCH = os.environ["PERCH"]
GUEST = os.environ["PERCH_GUEST"]


def run(*args, env=None):
    return subprocess.run([PERCH, "wasm", "run", *args], capture_output=True, text=True,
                          timeout=60, env=env)


class Run(unittest.TestCase):
    def test_arguments(self):
        p = run(GUEST, "--", "hello", "a b", "--x")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "hello argc=4 [hello] [a b] [--x]\n")

    def test_arguments_without_separator(self):
        p = run(GUEST, "hello", "z")
        self.assertEqual(p.stdout, "hello argc=3 [hello] [z]\n")

    def test_environment_only_as_granted(self):
        env = dict(os.environ, PERCH_TEST_SECRET="s3cret")
        p = run(GUEST, "env", "PERCH_TEST_SECRET", env=env)
        self.assertEqual(p.stdout, "(unset)\n")
        p = run("--env", "PERCH_TEST_SECRET", GUEST, "env", "PERCH_TEST_SECRET", env=env)
        self.assertEqual(p.stdout, "s3cret\n")
        p = run("--env", "GREETING=hi there", GUEST, "env", "GREETING")
        self.assertEqual(p.stdout, "hi there\n")

    def test_exit_status(self):
        p = run(GUEST, "exit", "7")
        self.assertEqual(p.returncode, 7)
        self.assertEqual(p.stderr, "")

    def test_stderr_and_clock(self):
        p = run(GUEST, "stderr")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "", "to stderr\n"))
        p = run(GUEST, "clock")
        self.assertEqual(p.stdout, "monotonic\n")

    def test_compute(self):
        p = run(GUEST, "fib", "25")
        self.assertEqual(p.stdout, "75025\n")

    def test_trap(self):
        p = run(GUEST, "trap")
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr.startswith("wasm_trap: integer divide by zero"), p.stderr)

    def test_fuel_and_timeout(self):
        p = run("--fuel", "100000", GUEST, "spin")
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr.startswith("wasm_exhausted: out of fuel"), p.stderr)
        p = run("--timeout", "1", GUEST, "spin")
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr.startswith("wasm_exhausted: deadline exceeded"), p.stderr)

    def test_memory_cap(self):
        p = run("--memory-max", str(8 << 20), GUEST, "alloc")
        self.assertEqual(p.returncode, 0, p.stderr)
        mib = int(p.stdout.split()[1])
        self.assertTrue(0 < mib < 8, p.stdout)

    def test_errors(self):
        p = run()
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage: missing MODULE", p.stderr)
        p = run("--bogus", GUEST)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option '--bogus'", p.stderr)
        p = run(__file__)
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr.startswith("wasm_malformed: "), p.stderr)
        p = run("/nonexistent/x.wasm")
        self.assertTrue(p.stderr.startswith("io: "), p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
