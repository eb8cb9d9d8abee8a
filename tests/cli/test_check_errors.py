"""perch check: one test per error message of the .perch front end.

Each case is a small file and the exact message perch must print for it
(after "perch_syntax: x.perch:"), followed by the offending line and a caret
under the column the message names.
"""
import json
import os
import unittest

from perchtest import PerchCase, main, perch

H = "sha256:" + "ab" * 32
def cmd(body, pre="", args=""):
    return pre + "command a\n" + args + "    do\n" + body + "    end\nend\n"
def wasm(lines, pre="bundle\n    include \"p.wasm\" as p\nend\n", args=""):
    return cmd("        wasm_run p\n" + lines + "        end\n", pre, args)
# (name, file text, expected message after "perch_syntax: x.perch:")
CASES = [
 # lexer
 ("nul", "command a\0\n",
  '1:10: NUL byte in the file'),
 ("control", "command \x01\n",
  '1:9: control character 0x01 in the file'),
 ("cr", "requires\rend\n",
  '1:9: control character 0x0d in the file'),
 ("utf8", b"# caf\xc3\n",
  '1:6: invalid UTF-8 (byte 0xc3)'),
 ("unterminated", "requires\n    bin \"sh\nend\n",
  '2:9: unterminated string (a string ends on the line it starts)'),
 ("long_line", "#" + "a" * 20000 + "\n",
  '1:1: line is longer than 16384 bytes'),
 # top level
 ("top_unknown", "foo\n",
  "1:1: unexpected 'foo' at the top level (expected bundle, requires or command)"),
 ("top_string", "\"foo\"\n",
  '1:1: unexpected string "foo" at the top level (expected bundle, requires or command)'),
 ("top_wasm_line", "wasm_arg x\n",
  "1:1: wasm_arg is only valid inside a command's do block"),
 ("top_shell", "shell \"x\"\n",
  "1:1: shell is only valid inside a command's do block"),
 ("meta_twice", "name \"a\"\nname \"b\"\n",
  '2:1: name is given twice'),
 ("meta_string", "name a\n",
  '1:6: expected a string after name'),
 ("after_end", "bundle\nend x\n",
  "2:5: unexpected 'x' after end (one statement per line)"),
 # bundle
 ("bundle_junk", "bundle x\nend\n",
  "1:8: unexpected 'x' after bundle (one statement per line)"),
 ("bundle_unexpected", "bundle\n    foo\nend\n",
  "2:5: unexpected 'foo' in bundle (expected include or end)"),
 ("bundle_end", "bundle\n    include \"a.wasm\"\n",
  "3:1: expected 'end' to close bundle opened at line 1"),
 ("include_string", "bundle\n    include a\nend\n",
  '2:13: expected a string after include'),
 ("include_as", "bundle\n    include \"a\" as \"b\"\nend\n",
  '2:20: expected a bundle name after as'),
 ("include_extra", "bundle\n    include \"a\" x\nend\n",
  "2:17: unexpected 'x' after include (one statement per line)"),
 # requires
 ("req_unknown", "requires\n    foo \"x\"\nend\n",
  "2:5: unknown requirement 'foo' (expected bin, env, host, os, arch, hash_file, read, write or end)"),
 ("req_end", "requires\n    bin \"a\"\n",
  "3:1: expected 'end' to close requires opened at line 1"),
 ("bin_string", "requires\n    bin a\nend\n",
  '2:9: expected a string after bin'),
 ("bin_as", "requires\n    bin \"a\" as \"b\"\nend\n",
  '2:16: expected a name after as'),
 ("bin_version", "requires\n    bin \"a\" >= 1.0\nend\n",
  '2:16: expected a version string after >='),
 ("bin_unexpected", "requires\n    bin \"a\" foo\nend\n",
  "2:13: unexpected 'foo' in bin (expected as, optional, a version comparison or hash)"),
 ("bin_hash", "requires\n    bin \"a\" hash x\nend\n",
  '2:18: expected a string after hash'),
 ("bin_hash_twice", "requires\n    bin \"a\" hash \"%s\"\n        hash \"%s\"\n    end\nend\n" % (H, H),
  '3:9: bin "a" has a hash already'),
 ("bin_hash_file_twice", "requires\n    bin \"a\"\n        hash_file \"p\"\n        hash_file \"q\"\n    end\nend\n",
  '4:9: bin "a" has a hash_file already'),
 ("bin_block_unexpected", "requires\n    bin \"a\"\n        hash \"h\"\n        env \"X\"\n    end\nend\n",
  "4:9: unexpected 'env' in a bin block (expected hash, hash_file or end)"),
 ("bin_block_end", "requires\n    bin \"a\"\n        hash \"h\"\n",
  "4:1: expected 'end' to close bin opened at line 2"),
 ("hash_file_digest", "requires\n    hash_file \"bundle:x\"\nend\n",
  '2:25: expected a digest string after hash_file "bundle:x" ("sha256:HEX")'),
 ("env_string", "requires\n    env HOME\nend\n",
  '2:9: expected a string after env'),
 # command
 ("command_name", "command \"x\"\nend\n",
  '1:9: expected a command name after command'),
 ("command_unexpected", "command a\n    foo\nend\n",
  "2:5: unexpected 'foo' in command a (expected arg, description or do)"),
 ("command_end", "command a\n    do\n    end\n",
  "4:1: expected 'end' to close command opened at line 1"),
 ("command_no_do", "command a\nend\n",
  '2:1: command a has no do block'),
 ("command_after_do", "command a\n    do\n    end\n    arg x\nend\n",
  "4:5: expected 'end' to close command opened at line 1"),
 ("arg_name", cmd("", args="    arg \"x\"\n"),
  '2:9: expected an argument name after arg'),
 ("arg_unexpected", cmd("", args="    arg x string \"d\" foo\n"),
  '2:22: unexpected \'foo\' in arg x (expected NAME TYPE "DESCRIPTION" [default VALUE] [optional])'),
 ("arg_default_twice", cmd("", args="    arg x int default 1 default 2\n"),
  '2:25: arg x has a default already'),
 ("arg_default_value", cmd("", args="    arg x int default\n"),
  '2:22: expected a value after default'),
 ("arg_block_unexpected", cmd("", args="    arg x\n        type int\n        foo\n    end\n"),
  "4:9: unexpected 'foo' in arg x (expected type, default, description, optional, index, rest or end; each once)"),
 ("arg_block_end", "command a\n    arg x\n        type int\n",
  "4:1: expected 'end' to close arg opened at line 2"),
 ("arg_type", cmd("", args="    arg x\n        type\n    end\n"),
  '3:13: expected a type after type'),
 ("arg_index", cmd("", args="    arg x\n        index \"1\"\n    end\n"),
  '3:15: expected a number after index'),
 ("arg_description", cmd("", args="    arg x\n        description d\n    end\n"),
  '3:21: expected a string after description'),
 ("do_string", cmd("        \"x\"\n"),
  '3:9: unexpected string "x" in do (expected shell, wasm_run, a command or bin name, or end)'),
 ("do_end", "command a\n    do\n",
  "3:1: expected 'end' to close do opened at line 2"),
 ("do_wasm_line", cmd("        wasm_arg \"x\"\n"),
  '3:9: wasm_arg is only valid inside a wasm_run block'),
 ("shell_string", cmd("        shell echo\n"),
  '3:15: expected a string after shell'),
 ("wasm_run_name", cmd("        wasm_run\n"),
  '3:17: expected a bundle name or a quoted module path after wasm_run'),
 ("wasm_run_end", "command a\n    do\n        wasm_run p\n",
  "4:1: expected 'end' to close wasm_run opened at line 3"),
 ("wasm_arg_value", wasm("            wasm_arg\n"),
  '7:21: expected a string or an argument name after wasm_arg'),
 ("mount_string", wasm("            wasm_mount_read deploys as \"/ro\"\n"),
  '7:29: expected a string after wasm_mount_read'),
 ("mount_as", wasm("            wasm_mount_write \"a\" as b\n"),
  '7:37: expected a string after as'),
 ("wasm_env_string", wasm("            wasm_env X\n"),
  '7:22: expected a string after wasm_env'),
 ("allow_host_string", wasm("            wasm_allow_host x\n"),
  '7:29: expected a string after wasm_allow_host'),
 ("signer_string", wasm("            require_signer x\n"),
  '7:28: expected a string after require_signer ("ed25519:NAME")'),
 ("grant_cap", wasm("            grant wasm_env \"X\"\n"),
  '7:19: expected a capability string after grant ("wasm_allow_host", "wasm_env", "wasm_mount_read" or "wasm_mount_write")'),
 ("grant_value", wasm("            grant \"wasm_env\"\n"),
  '7:29: expected a value after grant "wasm_env"'),
 ("deny_outside", wasm("            deny \"wasm_env\"\n"),
  '7:13: deny is only valid inside an accept_manifest block'),
 ("accept_twice", wasm("            accept_manifest\n            accept_manifest\n"),
  '8:13: accept_manifest appears twice in this wasm_run (first at line 7)'),
 ("accept_unexpected", wasm("            accept_manifest\n                deny \"wasm_env\"\n                grant \"wasm_env\" \"X\"\n            end\n"),
  "9:17: unexpected 'grant' in accept_manifest (expected deny or end)"),
 ("accept_end", "command a\n    do\n        wasm_run p\n            accept_manifest\n                deny \"wasm_env\"\n",
  "6:1: expected 'end' to close accept_manifest opened at line 4"),
 ("wasm_unexpected", wasm("            foo\n"),
  "7:13: unexpected 'foo' in wasm_run (expected wasm_arg, wasm_mount_read, wasm_mount_write, wasm_env, wasm_allow_host, accept_manifest, grant, require_signer or end)"),
 # checker: bundle and requires
 ("include_empty", "bundle\n    include \"\" as a\nend\n",
  '2:13: include path is empty'),
 ("bundle_not_name", "bundle\n    include \"my.plugin.wasm\"\nend\n",
  "2:13: bundle name 'my.plugin' is not a name (letters, digits, '_' and '-', starting with a letter or '_'; give one with as NAME)"),
 ("bundle_twice", "bundle\n    include \"a.wasm\"\n    include \"b/a.wasm\"\nend\n",
  "3:13: bundle name 'a' is already used at line 2"),
 ("bin_name", "requires\n    bin \"a b\"\nend\n",
  '2:9: bin "a b" is not a binary name'),
 ("bin_version_format", "requires\n    bin \"sh\" >= \"abc\"\nend\n",
  '2:17: version "abc" is not a dotted version number (like 1.28.0)'),
 ("bin_hash_format", "requires\n    bin \"sh\" hash \"md5:x\"\nend\n",
  '2:19: hash "md5:x" is not sha256:HEX (64 hexadecimal digits)'),
 ("bin_hash_file_bundle", "requires\n    bin \"sh\"\n        hash_file \"bundle:nope\"\n    end\nend\n",
  '3:19: hash_file "bundle:nope": no bundle named \'nope\''),
 ("hash_file_empty", "requires\n    hash_file \"\" \"%s\"\nend\n" % H,
  '2:15: hash_file needs a path or "bundle:NAME"'),
 ("hash_file_format", "bundle\n    include \"p.wasm\"\nend\nrequires\n    hash_file \"bundle:p\" \"sha256:zz\"\nend\n",
  '5:26: hash "sha256:zz" is not sha256:HEX (64 hexadecimal digits)'),
 ("env_name", "requires\n    env \"1X\"\nend\n",
  '2:9: env "1X": the name must start with a letter or \'_\''),
 ("host_bad", "requires\n    host \"a b\"\nend\n",
  '2:10: host "a b" has a character not allowed in a host name'),
 ("os_unknown", "requires\n    os \"plan9\"\nend\n",
  '2:8: unknown os "plan9" (expected linux, darwin, freebsd, openbsd, netbsd, windows or unix)'),
 ("arch_unknown", "requires\n    arch \"vax\"\nend\n",
  '2:10: unknown arch "vax" (expected amd64, arm64, 386, arm, riscv64, ppc64le or s390x)'),
 ("read_empty", "requires\n    read \"\"\nend\n",
  '2:10: read path is empty'),
 # checker: commands
 ("command_not_name", "command 1a\n    do\n    end\nend\n",
  "1:9: command name '1a' is not a name"),
 ("command_twice", "command a\n    do\n    end\nend\ncommand a\n    do\n    end\nend\n",
  '5:9: command a is already defined at line 1'),
 ("arg_not_name", cmd("", args="    arg 1x\n"),
  "2:9: arg name '1x' is not a name"),
 ("arg_twice", cmd("", args="    arg x\n    arg x int\n"),
  '3:9: arg x is declared twice in command a (first at line 2)'),
 ("arg_type_unknown", cmd("", args="    arg x number\n"),
  "2:11: unknown type 'number' for arg x (expected string, int, bool, path or float)"),
 ("arg_index_number", cmd("", args="    arg x\n        index y\n    end\n"),
  "3:15: index 'y' of arg x is not a number"),
 ("default_int", cmd("", args="    arg n int \"count\" default x\n"),
  '2:31: default "x" of arg n is not an int'),
 ("default_float", cmd("", args="    arg n float default 1.5x\n"),
  '2:25: default "1.5x" of arg n is not a float'),
 ("default_bool", cmd("", args="    arg n bool default yes\n"),
  '2:24: default "yes" of arg n is not a bool (true or false)'),
 ("default_path", cmd("", args="    arg n path default \"\"\n"),
  '2:24: default "" of arg n is not a path'),
 ("interp_unterminated", cmd("        shell \"echo ${x\"\n"),
  '3:21: unterminated ${ (write \\${ for a literal ${)'),
 ("interp_not_name", cmd("        shell \"echo ${1}\"\n"),
  '3:21: ${1} does not hold a name'),
 ("interp_undeclared", cmd("        shell \"echo ${who}\"\n"),
  '3:21: ${who} is not an arg of command a nor an env of requires'),
 ("shell_empty", cmd("        shell \"  \"\n"),
  '3:15: shell step is empty'),
 ("shell_undeclared", cmd("        shell \"kubectl apply -f x\"\n"),
  '3:16: shell step runs \'kubectl\', which requires does not declare (add bin "kubectl" to requires)'),
 ("cap_unknown", wasm("            accept_manifest\n                deny \"wasm_disk\"\n            end\n"),
  '8:22: unknown capability "wasm_disk" in deny (expected wasm_mount_read, wasm_mount_write, wasm_allow_host or wasm_env)'),
 ("grant_path", wasm("            grant \"wasm_mount_read\" \"data\"\n"),
  '7:37: grant "wasm_mount_read": guest path "data" is relative (guest paths must start with \'/\')'),
 ("deny_host", wasm("            accept_manifest\n                deny \"net\" \"a b\"\n            end\n"),
  '8:28: deny "net": host "a b" has a character not allowed in a host name'),
 ("deny_env", wasm("            accept_manifest\n                deny \"env\" \"1\"\n            end\n"),
  '8:28: deny "env": env name "1" must start with a letter or \'_\''),
 ("wasm_path_empty", cmd("        wasm_run \"\"\n        end\n"),
  '3:18: wasm_run needs a module path'),
 ("wasm_no_bundle", cmd("        wasm_run policy\n        end\n"),
  '3:18: wasm_run policy: no bundle named \'policy\' (add include "PATH" as policy to bundle, or quote a module path)'),
 ("wasm_arg_bare", wasm("            wasm_arg deploy\n"),
  "7:22: wasm_arg deploy: command a has no arg 'deploy' (quote it to pass the text itself)"),
 ("mount_host_empty", wasm("            wasm_mount_read \"\"\n"),
  '7:29: wasm_mount_read needs a host directory'),
 ("mount_guest_interp", wasm("            wasm_mount_read \"a\" as \"/x/${n}\"\n", args="    arg n\n"),
  '8:36: guest path "/x/${n}" cannot be interpolated'),
 ("mount_guest_bad", wasm("            wasm_mount_read \"a\" as \"rel\"\n"),
  '7:36: guest path "rel" is relative (guest paths must start with \'/\')'),
 ("mount_guest_derived", wasm("            wasm_mount_read \"/\"\n"),
  '7:29: wasm_mount_read "/": the guest path "/ro/" made from it ends with \'/\' (write it without the trailing slash) (give one with as "/GUEST")'),
 ("mount_twice", wasm("            wasm_mount_read \"x/data\"\n            wasm_mount_read \"y/data\"\n"),
  '8:29: guest path "/ro/data" is mounted twice in this wasm_run (first at line 7)'),
 ("wasm_env_name", wasm("            wasm_env \"A,,B\"\n"),
  '7:25: wasm_env: the name "" is empty'),
 ("host_interp", wasm("            wasm_allow_host \"${n}\"\n", args="    arg n\n"),
  '8:29: wasm_allow_host "${n}" cannot be interpolated (the file must say where a module may connect)'),
 ("host_port", wasm("            wasm_allow_host \"a.com:99999\"\n"),
  '7:29: wasm_allow_host "a.com:99999": host has a port out of range (1 to 65535)'),
 ("signer_prefix", wasm("            require_signer \"rsa:x\"\n"),
  '7:28: require_signer "rsa:x": expected "ed25519:NAME"'),
 ("signer_name", wasm("            require_signer \"ed25519:a b\"\n"),
  '7:28: require_signer "ed25519:a b": the signer name has a character outside [A-Za-z0-9._@-]'),
 ("call_unknown", cmd("        deploy now\n"),
  "3:9: 'deploy' is neither a command of this file nor a bin of requires"),
 ("call_needs_arg", cmd("        b\n") + "command b\n    arg x\n    do\n    end\nend\n",
  '3:9: b needs arg x (it has no default)'),
 ("call_too_many", cmd("        b 1 2\n") + "command b\n    arg x\n    do\n    end\nend\n",
  '3:9: b takes 1 argument, 2 given'),
 ("call_cycle", cmd("        b\n") + "command b\n    do\n        a\n    end\nend\n",
  '8:9: command b calls a, which leads back to b (a cycle)'),
]


class Errors(PerchCase):
    def check(self, name, src):
        """Write src as x.perch in the temporary directory and check it there."""
        self.write("x.perch", src if isinstance(src, bytes) else src.encode())
        old = os.getcwd()
        os.chdir(self.tmp)
        try:
            return perch("check", "x.perch")
        finally:
            os.chdir(old)

    def test_every_message(self):
        self.assertEqual(len({c[0] for c in CASES}), len(CASES))
        for name, src, want in CASES:
            with self.subTest(name):
                r = self.check(name, src)
                self.assertEqual(r.code, 2, r)
                lines = r.err.splitlines()
                self.assertEqual(lines[0], "perch_syntax: x.perch:" + want)
                self.assertEqual(r.out, "")

    def test_caret_points_at_the_column(self):
        for name, src, want in CASES:
            if isinstance(src, bytes) or "\0" in src or "\x01" in src or len(src) > 10000:
                continue
            with self.subTest(name):
                r = self.check(name, src)
                line, col = (int(x) for x in want.split(":")[:2])
                text = src.replace("\r", "\n").split("\n")[line - 1]
                lines = r.err.splitlines()
                self.assertEqual(lines[1], "    " + text)
                self.assertEqual(lines[2], "    " + " " * (col - 1) + "^")

    def test_the_example_of_the_language_issue(self):
        src = ("bundle\n    include \"p.wasm\" as p\nend\ncommand deploy\n    do\n"
               "        wasm_run p\n        wasm_mount_read deploys as \"/ro\"\n"
               "        end\n    end\nend\n")
        self.write("deploy.perch", src)
        old = os.getcwd()
        os.chdir(self.tmp)
        try:
            r = perch("check", "deploy.perch")
        finally:
            os.chdir(old)
        self.assertEqual(r.code, 2)
        self.assertEqual(r.err,
                         "perch_syntax: deploy.perch:7:25: expected a string after wasm_mount_read\n"
                         "            wasm_mount_read deploys as \"/ro\"\n"
                         "                            ^\n")

    def test_json_error_has_line_column_and_source(self):
        p = self.write("x.perch", "requires\n    bin kubectl\nend\n")
        r = perch("check", p, "--format", "json")
        self.assertEqual(r.code, 2, r)
        d = json.loads(r.out)
        self.assertEqual(d["error"], "perch_syntax")
        self.assertEqual(d["message"], p + ":2:9: expected a string after bin")
        self.assertEqual(d["line"], 2)
        self.assertEqual(d["column"], 9)
        self.assertEqual(d["source"], "        bin kubectl\n            ^\n")

    def test_invalid_utf8_is_shown_escaped(self):
        r = self.check("utf8", b"command caf\xc3 x\n")
        self.assertEqual(r.code, 2)
        self.assertEqual(r.err.splitlines()[1:], ["    command caf\\xc3 x", "               ^"])

    def test_tabs_keep_the_caret_aligned(self):
        r = self.check("tab", "requires\n\tbin\tkubectl\nend\n")
        self.assertEqual(r.err.splitlines()[1:], ["    \tbin\tkubectl", "    \t   \t^"])

    def test_long_lines_are_cut_around_the_caret(self):
        src = "requires\n    env \"" + "A" * 300 + "\" x\nend\n"
        r = self.check("long", src)
        self.assertEqual(r.code, 2, r)
        shown, caret = r.err.splitlines()[1:3]
        self.assertTrue(shown.startswith("    ...") and shown.endswith(" x"), shown)
        self.assertLess(len(shown), 200)
        self.assertEqual(shown[caret.index("^")], "x")

    def test_missing_file_is_io(self):
        r = perch("check", self.path("nope.perch"))
        self.assertError(r, "io")

    def test_huge_file_is_refused_before_reading(self):
        p = self.path("big.perch")
        with open(p, "wb") as f:
            f.write(b"#" * ((1 << 20) + 1))
        r = perch("check", p)
        self.assertEqual(r.code, 2)
        self.assertIn(":1:1: file is larger than 1048576 bytes", r.err)

    def test_usage(self):
        self.assertError(perch("check"), "usage")
        self.assertError(perch("check", "a", "b"), "usage")
        self.assertError(perch("check", "--format", "xml", "a.perch"), "usage")
        r = perch("check", "--help")
        self.assertOk(r)
        self.assertIn("usage: perch check FILE.perch", r.out)


if __name__ == "__main__":
    main()
