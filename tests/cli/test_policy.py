"""perch policy show / check: discovery of policy files (XDG, the nearest
.perch-policy.yaml up the tree), where each rule comes from, flags shown as
rules, JSON output, and policy_invalid with FILE:LINE:COLUMN."""
import json
import os
import subprocess

from perchtest import PERCH, PerchCase, Result, main


class PolicyCase(PerchCase):
    def setUp(self):
        super().setUp()
        self.home = self.path("home")
        self.work = self.path("repo/sub/dir")
        os.makedirs(os.path.join(self.home, ".config", "perch"))
        os.makedirs(self.work)

    def run_perch(self, *args, cwd=None, env=None):
        e = {k: v for k, v in os.environ.items()
             if k not in ("NO_COLOR", "XDG_CONFIG_HOME", "CI")}
        e["HOME"] = self.home
        if env:
            e.update(env)
        proc = subprocess.run([PERCH, *args], capture_output=True, text=True,
                              env=e, cwd=cwd or self.work, timeout=60)
        return Result(proc)

    def user_policy(self, text):
        return self.write("home/.config/perch/policy.yaml", text)

    def rows(self, r):
        """The rule rows of `policy show` text: (rule, value, from)."""
        lines = r.out.splitlines()
        start = next(i for i, l in enumerate(lines) if l.startswith("rule "))
        out = []
        for l in lines[start + 1:]:
            parts = l.split()
            out.append((parts[0], parts[1], " ".join(parts[2:])))
        return out


class TestShow(PolicyCase):
    def test_no_files(self):
        r = self.run_perch("policy", "show")
        self.assertOk(r)
        self.assertIn("policy files: none (the built-in rules and the flags apply)", r.out)
        rows = self.rows(r)
        self.assertIn(("signatures.unsigned", "allow", "default (CI is not set)"), rows)
        self.assertIn(("high_risk.env", "*SECRET*", "built-in"), rows)
        self.assertIn(("high_risk.net", "*", "built-in"), rows)
        self.assertIn(("high_risk.write", "/", "built-in"), rows)
        self.assertIn(("wildcard_net.signers", "(none:", "net * is refused) built-in wildcard rule"), rows)

    def test_ci_default_is_deny(self):
        r = self.run_perch("policy", "show", env={"CI": "true"})
        self.assertOk(r)
        self.assertIn(("signatures.unsigned", "deny", "default (CI is set)"), self.rows(r))

    def test_user_and_nearest_local_file(self):
        user = self.user_policy('version: 1\ndeny:\n  env: ["*_TOKEN"]\n')
        self.write("repo/.perch-policy.yaml", "version: 1\ndeny: {read: [/far]}\n")
        near = self.write("repo/sub/.perch-policy.yaml",
                          "version: 1\nmemory_max: 65536\ndeny: {read: [/etc]}\n")
        r = self.run_perch("policy", "show")
        self.assertOk(r)
        self.assertIn("policy files (all apply):\n  %s\n  %s\n" % (user, near), r.out)
        rows = self.rows(r)
        self.assertIn(("deny.env", "*_TOKEN", user + ":3:9"), rows)
        self.assertIn(("deny.read", "/etc", near + ":3:15"), rows)
        self.assertIn(("memory_max", "65536", near + ":2:13"), rows)
        self.assertNotIn("/far", r.out)

    def test_xdg_config_home(self):
        self.user_policy("version: 1\ndeny: {env: [FROM_HOME]}\n")
        xdg = self.path("xdg")
        os.makedirs(os.path.join(xdg, "perch"))
        p = self.write("xdg/perch/policy.yaml", "version: 1\ndeny: {env: [FROM_XDG]}\n")
        r = self.run_perch("policy", "show", env={"XDG_CONFIG_HOME": xdg})
        self.assertOk(r)
        self.assertIn(("deny.env", "FROM_XDG", p + ":2:14"), self.rows(r))
        self.assertNotIn("FROM_HOME", r.out)
        # a relative XDG_CONFIG_HOME is ignored (XDG Base Directory)
        r = self.run_perch("policy", "show", env={"XDG_CONFIG_HOME": "xdg"})
        self.assertIn("FROM_HOME", r.out)

    def test_flags_are_rules(self):
        r = self.run_perch("policy", "show", "--no-write", "--no-network", "--untrusted",
                           "--deny", "env:DEBUG", "--deny=read", "--allow-host",
                           "api.example.com", "--memory-max", "1048576", "--unsigned-deny")
        self.assertOk(r)
        rows = self.rows(r)
        for row in [("deny.write", "/", "--no-write"), ("deny.net", "*", "--no-network"),
                    ("deny.env", "*", "--untrusted"), ("deny.env", "DEBUG", "--deny env:DEBUG"),
                    ("deny.read", "/", "--deny read"),
                    ("allow_host", "api.example.com", "--allow-host"),
                    ("memory_max", "1048576", "--memory-max"),
                    ("signatures.unsigned", "deny", "--unsigned-deny")]:
            self.assertIn(row, rows)

    def test_policy_deny_beats_unsigned_allow(self):
        p = self.user_policy("version: 1\nsignatures:\n  unsigned: deny\n")
        r = self.run_perch("policy", "show", "--unsigned-allow")
        self.assertOk(r)
        self.assertIn(("signatures.unsigned", "deny", p + ":3:13"), self.rows(r))

    def test_json(self):
        p = self.user_policy(
            "version: 1\nhigh_risk: {env: [\"*_CREDS\"]}\n"
            "wildcard_net: {signers: [vendor], allow_in_ci: true}\n"
            "signatures: {signers: [vendor], keyrings: [keys.json]}\n")
        r = self.run_perch("policy", "show", "--format", "json", "--no-network")
        self.assertOk(r)
        doc = json.loads(r.out)
        self.assertEqual(doc["files"], [p])
        rules = doc["rules"]
        self.assertIn({"rule": "deny.net", "value": "*", "layer": "flag",
                       "from": "--no-network"}, rules)
        self.assertIn({"rule": "high_risk.env", "value": "*_CREDS", "layer": "policy",
                       "from": p + ":2:19"}, rules)
        self.assertIn({"rule": "wildcard_net.signers", "value": "vendor", "layer": "policy",
                       "from": p + ":3:26"}, rules)
        self.assertIn({"rule": "wildcard_net.allow_in_ci", "value": "true", "layer": "policy",
                       "from": p + ":3:48"}, rules)
        self.assertIn({"rule": "signatures.keyrings",
                       "value": os.path.join(self.home, ".config/perch/keys.json"),
                       "layer": "policy", "from": p + ":4:44"}, rules)
        self.assertIn({"rule": "signatures.unsigned", "value": "allow", "layer": "default",
                       "from": "default (CI is not set)"}, rules)

    def test_broken_file_stops(self):
        p = self.write("repo/.perch-policy.yaml", "version: 1\ndeny:\n  env: [*_TOKEN]\n")
        r = self.run_perch("policy", "show")
        self.assertError(r, "policy_invalid")
        self.assertEqual(
            r.err, "policy_invalid: %s:3:9: aliases (*_TOKEN) are not allowed in a policy "
            "(a pattern starting with '*' must be quoted: \"*_TOKEN\")\n" % p)
        self.assertEqual(r.out, "")

    def test_broken_file_json(self):
        self.user_policy("version: 1\nversion: 1\n")
        r = self.run_perch("policy", "show", "--format", "json")
        self.assertEqual(r.code, 2, r)
        doc = json.loads(r.out)
        self.assertEqual(doc["error"], "policy_invalid")
        self.assertTrue(doc["message"].endswith(
            "policy.yaml:2:1: duplicate key \"version\" (first at line 1)"), doc)

    def test_usage(self):
        for args, msg in [
                (["--deny", "bin:sh"], "usage: --deny: capability \"bin:sh\": expected read"),
                (["--deny"], "usage: option '--deny' needs a value"),
                (["--memory-max", "lots"], "usage: --memory-max needs a number of bytes"),
                (["--memory-max", "4294967297"], "usage: --memory-max needs a number"),
                (["--unsigned-allow", "--unsigned-deny"],
                 "usage: --unsigned-allow and --unsigned-deny exclude each other"),
                (["--format", "yaml"], "usage: unknown --format 'yaml'"),
                (["--bogus"], "usage: unknown option '--bogus'"),
                (["extra"], "usage: unexpected argument 'extra'")]:
            r = self.run_perch("policy", "show", *args)
            self.assertEqual(r.code, 2, r)
            self.assertIn(msg, r.err, r)

    def test_help(self):
        r = self.run_perch("policy", "--help")
        self.assertOk(r)
        self.assertIn("perch policy show", r.out)
        r = self.run_perch("policy", "show", "--help")
        self.assertOk(r)
        r = self.run_perch("policy")
        self.assertEqual(r.code, 2)
        r = self.run_perch("policy", "frobnicate")
        self.assertEqual(r.code, 2)
        self.assertIn("usage: unknown command 'perch policy frobnicate'", r.err)
        r = self.run_perch("policy", "--frobnicate")
        self.assertEqual(r.code, 2)
        self.assertIn("usage: unknown option '--frobnicate'", r.err)
        r = self.run_perch("help")
        self.assertIn("policy", r.out)


class TestCheck(PolicyCase):
    def test_ok(self):
        p = self.write("p.yaml", "version: 1\ndeny: {net: [\"*\"]}\n")
        r = self.run_perch("policy", "check", p)
        self.assertOk(r)
        self.assertEqual(r.out, "ok: %s\n" % p)

    def test_errors(self):
        for text, msg in [
                ("version: 1\ndeny: {raed: []}\n",
                 ":2:8: unknown key \"raed\" in deny (expected one of: read, write, net, env)"),
                ("version: 1\nmemory_max: 4294967297\n",
                 ":2:13: memory_max: 4294967297 is out of range (at most 4294967296)"),
                ("version: 1\ndeny: &x {}\n", ":2:7: anchors (&x) are not allowed in a policy"),
                ("version: 1\n---\nversion: 1\n", ":2:1: a second YAML document"),
                ("deny: {}\n", ":1:1: missing key \"version\"")]:
            p = self.write("bad.yaml", text)
            r = self.run_perch("policy", "check", p)
            self.assertError(r, "policy_invalid")
            self.assertIn("policy_invalid: " + p + msg, r.err)

    def test_billion_laughs(self):
        lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in range(1, 10):
            lines.append("a%d: &a%d [%s]" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10)))
        p = self.write("laughs.yaml", "\n".join(lines) + "\n")
        r = self.run_perch("policy", "check", p)
        self.assertError(r, "policy_invalid")
        self.assertIn(":2:5: anchors (&a0) are not allowed", r.err)

    def test_huge_file(self):
        p = self.write("huge.yaml", "version: 1\n" + "#" * 300000 + "\n")
        r = self.run_perch("policy", "check", p)
        self.assertError(r, "policy_invalid")
        self.assertIn("the file is too large for a policy (more than 262144 bytes)", r.err)

    def test_missing_and_usage(self):
        r = self.run_perch("policy", "check", self.path("nope.yaml"))
        self.assertError(r, "io")
        r = self.run_perch("policy", "check")
        self.assertEqual(r.code, 2)
        self.assertIn("usage: missing FILE", r.err)


if __name__ == "__main__":
    main()
