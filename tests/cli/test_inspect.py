"""perch wasm inspect: declared capabilities, imports, warnings, JSON, errors."""
import hashlib
import json
import os

from perchtest import PerchCase, main, module, perch


def manifest(**over):
    m = {"schema": 1, "name": "plugin", "version": "1.0.0"}
    m.update(over)
    return m


class Inspect(PerchCase):
    def embed(self, src, m, name="mod.wasm"):
        """Copy module src, embed manifest m (a dict), return the new path."""
        out = self.path(name)
        j = self.write(name + ".json", json.dumps(m))
        r = perch("wasm", "manifest", "set", module(src), j, "-o", out)
        self.assertOk(r)
        return out

    def inspect_json(self, path):
        r = perch("wasm", "inspect", path, "--format", "json")
        self.assertOk(r)
        return json.loads(r.out)

    def test_no_manifest_is_said_plainly(self):
        r = perch("wasm", "inspect", module("empty.wasm"))
        self.assertOk(r)
        self.assertIn("manifest: none", r.out)
        self.assertIn("declares nothing", r.out)
        self.assertIn("signer: (none)", r.out)
        self.assertIn("imports: (none)", r.out)
        d = self.inspect_json(module("empty.wasm"))
        self.assertFalse(d["manifest"])
        self.assertIsNone(d["name"])
        self.assertEqual(d["capabilities"], [])

    def test_declared_capabilities_in_order_with_memory(self):
        p = self.embed("imports.wasm", manifest(
            needs_read=["/inputs"], needs_write=["/out"],
            needs_net=["api.example.com:443"], needs_env=["LANG"],
            memory_max=256 << 20))
        r = perch("wasm", "inspect", p)
        self.assertOk(r)
        lines = r.out.splitlines()
        self.assertIn("name: plugin", lines)
        self.assertIn("version: 1.0.0", lines)
        caps = [l.split() for l in lines if l.startswith("  ") and len(l.split()) >= 2
                and l.split()[0] in ("read", "write", "net", "env", "memory")]
        self.assertEqual(caps, [["read", "/inputs"], ["write", "/out"],
                                ["net", "api.example.com:443"], ["env", "LANG"],
                                ["memory", "256", "MiB"]])

    def test_size_and_digest_are_the_files(self):
        p = module("imports.wasm")
        data = self.read(p)
        d = self.inspect_json(p)
        self.assertEqual(d["size"], len(data))
        self.assertEqual(d["sha256"], hashlib.sha256(data).hexdigest())
        r = perch("wasm", "inspect", p)
        self.assertIn("sha256: " + hashlib.sha256(data).hexdigest(), r.out)
        self.assertIn(f"size: {len(data)} bytes", r.out)

    def test_imports_grouped_by_host_module(self):
        r = perch("wasm", "inspect", module("imports.wasm"))
        self.assertIn("  wasi_snapshot_preview1: fd_write, path_open, environ_get", r.out)
        self.assertIn("  perch: http_get", r.out)
        d = self.inspect_json(module("imports.wasm"))
        self.assertEqual([(i["module"], i["name"], i["kind"]) for i in d["imports"]], [
            ("wasi_snapshot_preview1", "fd_write", "func"),
            ("wasi_snapshot_preview1", "path_open", "func"),
            ("wasi_snapshot_preview1", "environ_get", "func"),
            ("perch", "http_get", "func")])
        self.assertEqual(d["memories"], [{"min_pages": 2, "max_pages": 16}])
        self.assertEqual(d["exports"], [{"name": "memory", "kind": "memory"},
                                        {"name": "_start", "kind": "func"}])

    def test_warns_http_import_without_network(self):
        p = self.embed("http_client.wasm", manifest())
        r = perch("wasm", "inspect", p)
        self.assertOk(r)
        self.assertIn("warning: imports perch.http_get but declares no network access", r.out)
        d = self.inspect_json(p)
        self.assertEqual(len(d["warnings"]), 1)
        self.assertIn("perch.http_get", d["warnings"][0])

    def test_no_warning_when_network_declared(self):
        p = self.embed("http_client.wasm", manifest(needs_net=["api.example.com:443"]))
        d = self.inspect_json(p)
        self.assertEqual(d["warnings"], [])

    def test_warns_path_functions_without_paths(self):
        p = self.embed("files.wasm", manifest())
        d = self.inspect_json(p)
        self.assertEqual(len(d["warnings"]), 1)
        self.assertIn("WASI path functions but declares no paths", d["warnings"][0])
        p = self.embed("files.wasm", manifest(needs_read=["/data"]), "ok.wasm")
        self.assertEqual(self.inspect_json(p)["warnings"], [])

    def test_notes_declaration_wider_than_imports(self):
        p = self.embed("empty.wasm", manifest(needs_net=["a.example.com:443"],
                                              needs_read=["/x"]))
        d = self.inspect_json(p)
        self.assertEqual(d["warnings"], [])
        self.assertTrue(any("imports no perch.http_*" in n for n in d["notes"]), d)
        self.assertTrue(any("imports no WASI path function" in n for n in d["notes"]), d)

    def test_warns_initial_memory_over_memory_max(self):
        # imports.wasm starts with 2 pages (128 KiB)
        p = self.embed("imports.wasm", manifest(needs_net=["a.example.com:443"],
                                                needs_read=["/d"], needs_env=["A"],
                                                memory_max=65536))
        d = self.inspect_json(p)
        self.assertEqual(len(d["warnings"]), 1, d)
        self.assertIn("initial memory (131072 bytes) exceeds its declared memory_max", d["warnings"][0])

    def test_high_risk_marked(self):
        p = self.embed("imports.wasm", manifest(needs_env=["AWS_SECRET_ACCESS_KEY", "LANG"],
                                                needs_net=["*"], needs_write=["/"]))
        r = perch("wasm", "inspect", p)
        self.assertIn("AWS_SECRET_ACCESS_KEY  HIGH RISK", r.out)
        self.assertNotIn("LANG  HIGH RISK", r.out)
        d = self.inspect_json(p)
        risky = {(c["cap"], c["value"]) for c in d["capabilities"] if c["high_risk"]}
        self.assertEqual(risky, {("env", "AWS_SECRET_ACCESS_KEY"), ("net", "*"), ("write", "/")})

    def test_foreign_import_noted(self):
        wat = self.write("f.wat", '(module (import "env" "abort" (func)))')
        out = self.path("f.wasm")
        os.system(f"wat2wasm {wat} -o {out}")
        d = self.inspect_json(out)
        self.assertTrue(any("env.abort" in n and "will not link" in n for n in d["notes"]), d)

    def test_control_characters_from_module_are_escaped(self):
        # an import name carrying an ANSI escape must not reach the terminal raw
        wat = self.write("esc.wat", '(module (import "perch" "x\\1b[31mred" (func)))')
        out = self.path("esc.wasm")
        os.system(f"wat2wasm {wat} -o {out}")
        r = perch("wasm", "inspect", out)
        self.assertOk(r)
        self.assertNotIn("\x1b", r.out)
        self.assertIn("x\\x1b[31mred", r.out)

    def test_no_color_without_terminal(self):
        r = perch("wasm", "inspect", module("imports.wasm"))
        self.assertNotIn("\x1b[", r.out)

    def test_errors(self):
        r = perch("wasm", "inspect")
        self.assertEqual(r.code, 2)
        self.assertIn("usage:", r.err)
        r = perch("wasm", "inspect", self.path("missing.wasm"))
        self.assertError(r, "io")
        r = perch("wasm", "inspect", module("empty.wasm"), "--format", "yaml")
        self.assertEqual(r.code, 2)
        self.assertIn("unknown --format", r.err)
        bad = self.write("bad.wasm", b"\0asm\1\0\0\0\x01\x05\x01")
        r = perch("wasm", "inspect", bad)
        self.assertError(r, "wasm_malformed")
        self.assertIn("at byte 8", r.err)
        r = perch("wasm", "inspect", bad, "--format", "json")
        self.assertEqual(r.code, 2)
        e = json.loads(r.out)
        self.assertEqual(e["error"], "wasm_malformed")
        self.assertEqual(e["offset"], 8)

    def test_malformed_manifest_is_an_error(self):
        # a perch.manifest section whose payload is not CBOR of the schema
        name = b"perch.manifest"
        payload = bytes([len(name)]) + name + b"\xa1\x61x\x01"
        data = b"\0asm\1\0\0\0" + b"\x00" + bytes([len(payload)]) + payload
        p = self.write("m.wasm", data)
        r = perch("wasm", "inspect", p)
        self.assertError(r, "manifest_malformed")

    def test_help(self):
        r = perch("wasm", "inspect", "--help")
        self.assertOk(r)
        self.assertIn("usage: perch wasm inspect MODULE [--format json]", r.out)


if __name__ == "__main__":
    main()
