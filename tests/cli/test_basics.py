"""perch's own surface: version, help, dispatch and usage errors."""
import os
import re

from perchtest import SOURCE, PerchCase, main, perch


def project_version():
    with open(os.path.join(SOURCE, "meson.build")) as f:
        m = re.search(r"version:\s*'([^']+)'", f.read())
    return m.group(1)


def listed_commands(help_text):
    """(path, synopsis) of each command in `perch help`, except help itself."""
    lines = help_text.splitlines()
    start = lines.index("commands:") + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        m = re.match(r"^  (\S+(?: \S+)*?)  +(\S.*)$", line)
        assert m, line
        if m.group(1) != "help":
            out.append((m.group(1), m.group(2)))
    return out


def all_commands():
    """Every command path `perch help` lists, and the subcommands that a
    listed command's own help lists under "commands:" (wasm manifest set)."""
    out = []
    for path, _ in listed_commands(perch("help").out):
        out.append(path)
        text = perch(*path.split(), "--help").out
        if "\ncommands:\n" in text:
            out += [path + " " + sub for sub, _ in listed_commands(text)]
    return out


class Version(PerchCase):
    def test_version(self):
        r = perch("--version")
        self.assertOk(r)
        self.assertEqual(r.out, "perch %s\n" % project_version())
        self.assertEqual(r.err, "")

    def test_version_is_semver(self):
        r = perch("--version")
        self.assertRegex(r.out, r"^perch \d+\.\d+\.\d+\n$")


class Help(PerchCase):
    def test_help(self):
        r = perch("help")
        self.assertOk(r)
        self.assertEqual(r.err, "")
        self.assertIn("usage: perch COMMAND", r.out)
        self.assertIn("perch %s" % project_version(), r.out)
        self.assertNotIn("\x1b", r.out)  # not a terminal: no colour

    def test_help_lists_commands(self):
        cmds = listed_commands(perch("help").out)
        paths = [p for p, _ in cmds]
        for want in ("wasm inspect", "wasm diff", "wasm manifest"):
            self.assertIn(want, paths)
        for path, synopsis in cmds:
            self.assertTrue(len(synopsis) > 10, (path, synopsis))

    def test_long_and_short_help_flags(self):
        want = perch("help").out
        for flag in ("--help", "-h"):
            r = perch(flag)
            self.assertOk(r)
            self.assertEqual(r.out, want)

    def test_no_arguments(self):
        r = perch()
        self.assertEqual(r.code, 2, r)
        self.assertEqual(r.out, "")
        self.assertIn("usage: perch COMMAND", r.err)
        self.assertIn("commands:", r.err)

    def test_every_command_has_help(self):
        cmds = all_commands()
        self.assertIn("wasm inspect", cmds)
        for path in cmds:
            with self.subTest(command=path):
                r = perch(*path.split(), "--help")
                self.assertOk(r)
                self.assertEqual(r.err, "")
                first = r.out.splitlines()[0]
                self.assertTrue(first.startswith("usage: perch %s" % path), r)
                self.assertGreater(len(r.out.splitlines()), 3, r)
                short = perch(*path.split(), "-h")
                self.assertOk(short)
                self.assertEqual(short.out, r.out)

    def test_help_command_form(self):
        for path, _ in listed_commands(perch("help").out):
            with self.subTest(command=path):
                r = perch("help", *path.split())
                self.assertOk(r)
                self.assertEqual(r.out, perch(*path.split(), "--help").out)

    def test_help_wasm_inspect(self):
        r = perch("help", "wasm", "inspect")
        self.assertOk(r)
        self.assertTrue(r.out.startswith("usage: perch wasm inspect MODULE [--format json]\n"), r)
        self.assertIn("--format json", r.out)

    def test_help_unknown_command(self):
        r = perch("help", "wasm", "frobnicate")
        self.assertEqual(r.code, 2, r)
        self.assertTrue(r.err.startswith("usage: "), r)
        self.assertIn("wasm frobnicate", r.err)
        self.assertEqual(r.out, "")

    def test_wasm_group_help(self):
        r = perch("wasm", "--help")
        self.assertOk(r)
        self.assertIn("usage: perch wasm COMMAND", r.out)
        for name in ("inspect", "diff", "manifest"):
            self.assertRegex(r.out, r"(?m)^  %s " % name)

    def test_wasm_alone(self):
        r = perch("wasm")
        self.assertEqual(r.code, 2, r)
        self.assertIn("usage: perch wasm COMMAND", r.err)
        self.assertEqual(r.out, "")


class UsageErrors(PerchCase):
    def assertUsage(self, r, *needles):
        self.assertEqual(r.code, 2, r)
        self.assertTrue(r.err.startswith("usage: "), r)
        self.assertEqual(r.out, "")
        for n in needles:
            self.assertIn(n, r.err)

    def test_unknown_command(self):
        self.assertUsage(perch("frobnicate"), "unknown command 'frobnicate'")

    def test_unknown_wasm_command(self):
        self.assertUsage(perch("wasm", "frobnicate"), "unknown command 'perch wasm frobnicate'")

    def test_unknown_top_level_option(self):
        self.assertUsage(perch("--frobnicate"), "--frobnicate")

    def test_unknown_command_option(self):
        for path in all_commands():
            with self.subTest(command=path):
                self.assertUsage(perch(*path.split(), "--frobnicate", "x.wasm"),
                                 "'--frobnicate'", "perch %s --help" % path)

    def test_unknown_short_option(self):
        self.assertUsage(perch("wasm", "inspect", "-Z", "x.wasm"), "unknown option '-Z'")

    def test_option_missing_value(self):
        self.assertUsage(perch("wasm", "inspect", "x.wasm", "--format"),
                         "option '--format' needs a value")

    def test_unknown_format(self):
        self.assertUsage(perch("wasm", "inspect", "x.wasm", "--format", "yaml"),
                         "unknown --format 'yaml'")

    def test_inspect_needs_one_module(self):
        self.assertUsage(perch("wasm", "inspect"), "expected one MODULE")
        self.assertUsage(perch("wasm", "inspect", "a.wasm", "b.wasm"), "expected one MODULE")

    def test_double_dash_not_accepted(self):
        self.assertUsage(perch("wasm", "inspect", "x.wasm", "--", "y"), "'--'")

    def test_usage_names_the_command_help(self):
        r = perch("wasm", "inspect", "--nope")
        self.assertIn("(see 'perch wasm inspect --help')", r.err)


if __name__ == "__main__":
    main()
