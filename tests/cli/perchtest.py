"""Shared helpers for the CLI tests: run the built perch, find modules."""
import os
import subprocess
import tempfile
import unittest

PERCH = os.environ.get("PERCH", "perch")
MODULES = os.environ.get("PERCH_MODULES", ".")
EXAMPLES = os.environ.get("PERCH_EXAMPLES", ".")
SOURCE = os.environ.get("PERCH_SOURCE", ".")


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return f"<exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}>"


def perch(*args, env=None, input=None):
    """Run perch with args; NO_COLOR unset unless env says otherwise."""
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    if env:
        e.update(env)
    proc = subprocess.run([PERCH, *map(str, args)], capture_output=True,
                          text=True, env=e, input=input, timeout=60)
    return Result(proc)


def module(name):
    return os.path.join(MODULES, name)


class PerchCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, data):
        p = self.path(name)
        mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
        with open(p, mode) as f:
            f.write(data)
        return p

    def read(self, p):
        with open(p, "rb") as f:
            return f.read()

    def assertOk(self, r):
        self.assertEqual(r.code, 0, r)

    def assertError(self, r, kind, code=2):
        """The command failed with the tagged error kind on stderr."""
        self.assertEqual(r.code, code, r)
        self.assertIn(kind + ": ", r.err, r)


def main():
    unittest.main(verbosity=2)
