"""perch check: golden outputs, Go-form compatibility, requires, --scan badges.

Golden files live beside the samples in tests/lang/ (NAME.perch ->
NAME.scan.txt, NAME.scan.json, NAME.check.txt); set PERCH_UPDATE_GOLDEN=1 to
rewrite them after a deliberate change and review the diff.
"""
import hashlib
import json
import os
import platform
import shutil
import stat

from perchtest import PerchCase, SOURCE, main, module, perch

LANG = os.path.join(SOURCE, "tests", "lang")
SAMPLES = ["seed", "manifest", "go-forms", "pipeline"]
UPDATE = os.environ.get("PERCH_UPDATE_GOLDEN") == "1"


def in_dir(d, *args, env=None):
    old = os.getcwd()
    os.chdir(d)
    try:
        return perch(*args, env=env)
    finally:
        os.chdir(old)


def machine_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


class Golden(PerchCase):
    def golden(self, name, text):
        p = os.path.join(LANG, name)
        if UPDATE:
            with open(p, "w") as f:
                f.write(text)
        with open(p) as f:
            self.assertEqual(text, f.read(), name)

    def test_scan_text_and_json(self):
        for s in SAMPLES:
            with self.subTest(s):
                r = in_dir(LANG, "check", "--scan", s + ".perch")
                self.assertOk(r)
                self.golden(s + ".scan.txt", r.out)
                r = in_dir(LANG, "check", "--scan", "--format", "json", s + ".perch")
                self.assertOk(r)
                json.loads(r.out)
                self.golden(s + ".scan.json", r.out)

    def test_check_with_a_known_machine(self):
        """requires against a PATH holding only the fake tools of tests/lang/bin."""
        env = {"PATH": "bin", "DEPLOY_TARGET": "staging"}
        r = in_dir(LANG, "check", "pipeline.perch", env=env)
        self.golden("pipeline.check.txt", r.out + "--- stderr\n" + r.err + "--- exit %d\n" % r.code)


class GoForms(PerchCase):
    def test_go_forms_parse(self):
        r = in_dir(LANG, "check", "--scan", "--format", "json", "go-forms.perch")
        self.assertOk(r)
        d = json.loads(r.out)
        caps = d["commands"][0]["capabilities"]
        # wasm_mount_read "DIR" without as: /ro/<basename>; write: /rw/<basename>
        self.assertEqual(caps["reads"], ["./data (at /ro/data)"])
        self.assertEqual(caps["writes"], ["./out/ (at /rw/out)"])
        self.assertEqual(caps["env"], ["LANG", "TZ"])

    def test_bin_block_and_one_line_hash_file_are_told_apart(self):
        src = ('bundle\n    include "p.wasm"\nend\nrequires\n    bin "sh"\n'
               '    hash_file "bundle:p" "sha256:' + "0" * 64 + '"\n'
               '    bin "ls"\n        hash_file "pins/ls"\n    end\nend\n')
        p = self.write("x.perch", src)
        r = perch("check", p, "--format", "json", env={"PATH": "/nonexistent"})
        self.assertEqual(r.code, 1, r)
        d = json.loads(r.out)
        self.assertEqual([q["requirement"] for q in d["requires"]],
                         ['bin "sh"', 'hash_file "bundle:p"', 'bin "ls"'])


class Requires(PerchCase):
    def setUp(self):
        super().setUp()
        self.bin = self.path("bin")
        os.mkdir(self.bin)
        self.tool("kubectl", "Client Version: v1.28.3\nKustomize Version: v5.0.4\n")

    def tool(self, name, output, extra=""):
        p = os.path.join(self.bin, name)
        with open(p, "w") as f:
            f.write("#!/bin/sh\n%scat <<'X'\n%sX\n" % (extra, output))
        os.chmod(p, 0o755)
        return p

    def sha(self, p):
        with open(p, "rb") as f:
            return "sha256:" + hashlib.sha256(f.read()).hexdigest()

    def check(self, reqs, env=None, fmt=None):
        p = self.write("x.perch", "bundle\n    include \"mod.wasm\" as mod\nend\n"
                       "requires\n" + reqs + "end\n")
        e = {"PATH": self.bin + ":/usr/bin:/bin"}
        e.update(env or {})
        args = ["check", p] + (["--format", fmt] if fmt else [])
        return perch(*args, env=e)

    def test_versions(self):
        cases = [(">=", "1.28.0", True), (">", "1.28.3", False), ("=", "1.28.3", True),
                 ("=", "1.28.3.0", True), ("<", "1.3", False), ("<=", "1.28.10", True),
                 (">", "1.9", True), (">=", "2", False)]
        for op, v, ok in cases:
            with self.subTest(op + v):
                r = self.check('    bin "kubectl" %s "%s"\n' % (op, v))
                self.assertEqual(r.code, 0 if ok else 1, r)
                line = [l for l in r.out.splitlines() if "kubectl" in l][0]
                self.assertEqual(line, '  %-6s bin "kubectl" %s "%s": version 1.28.3 %s %s %s (%s)'
                                 % ("ok" if ok else "unmet", op, v, "is" if ok else "is not",
                                    op, v, os.path.join(self.bin, "kubectl")))
                if not ok:
                    self.assertEqual(r.err, 'requires_unmet: bin "kubectl" %s "%s": version 1.28.3 '
                                     'is not %s %s (%s)\n' % (op, v, op, v,
                                                              os.path.join(self.bin, "kubectl")))

    def test_no_version_in_output(self):
        self.tool("quiet", "hello\n")
        r = self.check('    bin "quiet" >= "1.0"\n')
        self.assertEqual(r.code, 1, r)
        self.assertIn("no version number in the output of %s --version"
                      % os.path.join(self.bin, "quiet"), r.err)

    def test_missing_bin(self):
        r = self.check('    bin "nope"\n')
        self.assertEqual(r.code, 1, r)
        self.assertEqual(r.err, 'requires_unmet: bin "nope": not found on PATH\n')
        r = self.check('    bin "nope" optional\n')
        self.assertOk(r)
        self.assertIn('  -      bin "nope": not found on PATH', r.out)

    def test_hash_pins(self):
        k = os.path.join(self.bin, "kubectl")
        r = self.check('    bin "kubectl" hash "%s"\n' % self.sha(k))
        self.assertOk(r)
        self.assertIn("(sha256 matches)", r.out)
        r = self.check('    bin "kubectl" hash "sha256:%s"\n' % ("0" * 64))
        self.assertEqual(r.code, 1, r)
        self.assertEqual(r.err, 'requires_unmet: bin "kubectl": hash mismatch: expected sha256:%s, '
                         'got %s (%s)\n' % ("0" * 64, self.sha(k), k))

    def test_hash_file_block(self):
        k = os.path.join(self.bin, "kubectl")
        pin = self.write("kubectl.sha256", self.sha(k)[7:] + "  kubectl\n")
        r = self.check('    bin "kubectl"\n        hash_file "kubectl.sha256"\n    end\n')
        self.assertOk(r)
        self.write("kubectl.sha256", "0" * 64 + "\n")
        r = self.check('    bin "kubectl"\n        hash_file "kubectl.sha256"\n    end\n')
        self.assertEqual(r.code, 1, r)
        self.assertIn("hash mismatch", r.err)
        r = self.check('    bin "kubectl"\n        hash "%s"\n        hash_file "kubectl.sha256"\n'
                       '    end\n' % self.sha(k))
        self.assertEqual(r.code, 1, r)
        self.assertIn("hash and hash_file disagree", r.err)
        self.write("kubectl.sha256", "not a digest\n")
        r = self.check('    bin "kubectl"\n        hash_file "kubectl.sha256"\n    end\n')
        self.assertEqual(r.code, 1, r)
        self.assertIn("does not start with a SHA-256 digest", r.err)
        self.assertTrue(os.path.exists(pin))

    def test_bundle_hash_file(self):
        data = self.read(module("empty.wasm"))
        self.write("mod.wasm", data)
        good = "sha256:" + hashlib.sha256(data).hexdigest()
        r = self.check('    hash_file "bundle:mod" "%s"\n' % good)
        self.assertOk(r)
        r = self.check('    hash_file "bundle:mod" "sha256:%s"\n' % ("1" * 64))
        self.assertEqual(r.code, 1, r)
        self.assertIn('requires_unmet: hash_file "bundle:mod": hash mismatch', r.err)
        os.remove(self.path("mod.wasm"))
        r = self.check('    hash_file "bundle:mod" "%s"\n' % good)
        self.assertEqual(r.code, 1, r)
        self.assertIn("mod.wasm", r.err)

    def test_env_os_arch(self):
        r = self.check('    env "DEPLOY_TARGET"\n', env={"DEPLOY_TARGET": "prod"})
        self.assertOk(r)
        self.assertIn('  ok     env "DEPLOY_TARGET": set', r.out)
        self.assertNotIn("prod", r.out)
        r = self.check('    env "DEPLOY_TARGET"\n', env={"DEPLOY_TARGET": ""})
        self.assertEqual(r.code, 1)
        self.assertEqual(r.err, 'requires_unmet: env "DEPLOY_TARGET": is empty\n')
        r = self.check('    os "linux"\n    os "unix"\n    arch "%s"\n' % machine_arch())
        self.assertOk(r)
        r = self.check('    os "windows"\n')
        self.assertEqual(r.err, 'requires_unmet: os "windows": this machine runs linux\n')
        r = self.check('    arch "s390x"\n' if machine_arch() != "s390x" else '    arch "arm"\n')
        self.assertEqual(r.code, 1)

    def test_all_unmet_are_listed(self):
        r = self.check('    bin "nope"\n    env "NOPE_NOT_SET"\n    host "api.github.com"\n', fmt="json")
        self.assertEqual(r.code, 1, r)
        d = json.loads(r.out)
        self.assertFalse(d["ok"])
        self.assertEqual(d["error"], "requires_unmet")
        self.assertEqual(d["message"], 'bin "nope": not found on PATH (and 1 more unmet)')
        self.assertEqual([q["status"] for q in d["requires"]], ["unmet", "unmet", "not_checked"])


class Scan(PerchCase):
    def scan(self, body, pre="", reqs=""):
        src = pre + ("requires\n" + reqs + "end\n" if reqs else "") + \
            "command a\n    arg x\n    do\n" + body + "    end\nend\n"
        p = self.write("x.perch", src)
        r = perch("check", "--scan", "--format", "json", p)
        self.assertOk(r)
        return json.loads(r.out)

    def wasm(self, lines, manifest=None, reqs=""):
        if manifest is not None:
            j = self.write("m.json", json.dumps(dict({"schema": 1, "name": "plugin",
                                                      "version": "1.0.0"}, **manifest)))
            self.assertOk(perch("wasm", "manifest", "set", module("empty.wasm"), j,
                                "-o", self.path("p.wasm")))
        return self.scan("        wasm_run p\n" + lines + "        end\n",
                         pre='bundle\n    include "p.wasm" as p\nend\n', reqs=reqs)

    def levels(self, d):
        return [(f["level"], f["text"]) for f in d["commands"][0]["findings"]]

    def test_safe(self):
        d = self.wasm('            wasm_mount_read "./in" as "/in"\n')
        self.assertEqual(d["risk"], "SAFE")
        self.assertEqual(d["recommended"],
                         "perch run %s --no-shell --no-network --no-write --timeout 600 "
                         "--audit-log /var/log/perch-x.ndjson" % self.path("x.perch"))

    def test_low_one_host(self):
        d = self.wasm('            wasm_allow_host "api.github.com"\n')
        self.assertEqual(d["risk"], "LOW")
        self.assertEqual(d["capabilities"]["hosts"], ["api.github.com:443"])
        self.assertIn("--allow-host api.github.com:443", d["recommended"])

    def test_med_two_categories(self):
        d = self.scan('        wasm_run "m.wasm"\n            wasm_allow_host "a.com"\n'
                      '        end\n        git status\n', reqs='    bin "git"\n')
        self.assertEqual(d["risk"], "MED")
        self.assertEqual(d["commands"][0]["reasons"], ["subprocess", "network"])
        self.assertIn("--allow-bin git", d["recommended"])

    def test_high_cases(self):
        cases = [
            ('            wasm_allow_host "*"\n', "may reach any host (net *)"),
            ('            wasm_allow_host "*.example.com"\n', "wildcard *.example.com:443"),
            ('            wasm_env "AWS_SECRET_KEY"\n', "secret-looking env AWS_SECRET_KEY"),
            ('            wasm_mount_write "./out" as "/out"\n', "may write ./out (at /out)"),
        ]
        for line, text in cases:
            with self.subTest(text):
                d = self.wasm(line)
                self.assertEqual(d["risk"], "HIGH")
                self.assertTrue(any(l == "high" and text in t for l, t in self.levels(d)),
                                self.levels(d))

    def test_shell_is_high_and_metachars_noted(self):
        d = self.scan('        shell "echo ${x} | tr a b"\n', reqs='    bin "tr"\n')
        self.assertEqual(d["risk"], "HIGH")
        self.assertTrue(d["capabilities"]["shell"])
        self.assertIn(("med", 'shell "echo ${x} | tr a b": uses shell metacharacters'),
                      self.levels(d))
        self.assertIn("--allow-bin echo", d["recommended"])
        self.assertNotIn("--no-shell", d["recommended"])

    def test_accepted_manifest_is_read_and_narrowed(self):
        d = self.wasm("            accept_manifest\n", manifest={
            "needs_net": ["*"], "needs_env": ["GITHUB_TOKEN"], "needs_read": ["/inputs"]})
        self.assertEqual(d["risk"], "HIGH")
        lv = self.levels(d)
        self.assertIn(("info", "wasm_run p: accepts the manifest of plugin 1.0.0"), lv)
        self.assertIn(("high", "wasm_run p: may reach any host (net *)"), lv)
        self.assertIn(("high", "wasm_run p: sees secret-looking env GITHUB_TOKEN (matches *TOKEN*)"), lv)
        self.assertIn(("low", "wasm_run p: accepts a manifest without require_signer"), lv)
        d = self.wasm('            accept_manifest\n                deny "wasm_allow_host"\n'
                      '                deny "wasm_env" "GITHUB_TOKEN"\n            end\n'
                      '            require_signer "ed25519:vendor"\n',
                      manifest={"needs_net": ["*"], "needs_env": ["GITHUB_TOKEN"],
                                "needs_read": ["/inputs"]})
        self.assertEqual(d["risk"], "SAFE", self.levels(d))
        self.assertEqual(d["capabilities"]["hosts"], [])
        self.assertIn(("info", "wasm_run p: denies net (all)"), self.levels(d))

    def test_unreadable_manifest_is_a_finding(self):
        d = self.wasm("            accept_manifest\n")
        self.assertEqual(d["risk"], "MED")
        d = self.wasm("            accept_manifest\n", manifest={})
        self.assertEqual(d["risk"], "LOW")
        shutil.copy(module("empty.wasm"), self.path("p.wasm"))
        d = self.wasm("            accept_manifest\n")
        self.assertTrue(any("no perch.manifest section" in t for _, t in self.levels(d)))

    def test_grant_is_med(self):
        d = self.wasm('            grant "wasm_env" "LANG"\n')
        self.assertEqual(d["risk"], "MED")
        self.assertIn(("med", "wasm_run p: grant broadens the module's manifest with env LANG "
                       "(needs --untrusted-allow-broaden)"), self.levels(d))

    def test_called_commands_count(self):
        src = ('requires\n    bin "git"\nend\ncommand a\n    do\n        b\n    end\nend\n'
               'command b\n    do\n        shell "git push"\n    end\nend\n')
        r = perch("check", "--scan", "--format", "json", self.write("x.perch", src))
        d = json.loads(r.out)
        self.assertEqual([c["risk"] for c in d["commands"]], ["HIGH", "HIGH"])


if __name__ == "__main__":
    main()
