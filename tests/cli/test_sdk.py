"""The C SDK (sdk/c/perch/manifest.h) and the examples built with it.

Every module here is compiled from source with clang --target=wasm32-wasi:
the examples by the build, the small programs by the tests themselves. The
perch.manifest payload is checked byte for byte with a strict decoder that
accepts only the deterministic encoding (RFC 8949 section 4.2.1), then
against perch's own reading of it.
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from perchtest import EXAMPLES, SOURCE, PerchCase, main, perch  # noqa: E402

CLANG = shutil.which("clang")
SDK_INCLUDE = os.path.join(SOURCE, "sdk", "c")
WASI = ["--target=wasm32-wasi", "-std=c11", "-Wall", "-Wextra", "-Wpedantic",
        "-Werror", "-I" + SDK_INCLUDE]


def _wasi_clang_works():
    if not CLANG:
        return False
    try:
        proc = subprocess.run([CLANG, "--target=wasm32-wasi", "-x", "c", "-c",
                               "-o", os.devnull, "-"], input=b"int x;\n",
                              capture_output=True, timeout=60)
    except OSError:
        return False
    return proc.returncode == 0


HAVE_WASI_CLANG = _wasi_clang_works()
needs_wasi_clang = unittest.skipUnless(
    HAVE_WASI_CLANG, "clang cannot compile for wasm32-wasi here")


# ---- module bytes ---------------------------------------------------------

def _uleb(data, pos):
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, pos


def custom_sections(data):
    """[(name, payload)] for every custom section of a module or object."""
    assert data[:8] == b"\0asm\1\0\0\0", "not a wasm module"
    pos, out = 8, []
    while pos < len(data):
        sid = data[pos]
        size, pos = _uleb(data, pos + 1)
        end = pos + size
        if sid == 0:
            nlen, p = _uleb(data, pos)
            out.append((data[p:p + nlen].decode(), data[p + nlen:end]))
        pos = end
    assert pos == len(data), "section runs past the end"
    return out


def manifest_payload(data):
    found = [p for n, p in custom_sections(data) if n == "perch.manifest"]
    assert len(found) == 1, f"{len(found)} perch.manifest sections"
    return found[0]


# ---- a strict CBOR decoder ------------------------------------------------

class NotDeterministic(Exception):
    pass


def _head(data, pos):
    """(major, argument, next) with the shortest-form rule enforced."""
    ib = data[pos]
    major, info = ib >> 5, ib & 0x1F
    pos += 1
    if info < 24:
        return major, info, pos
    widths = {24: 1, 25: 2, 26: 4, 27: 8}
    if info not in widths:
        raise NotDeterministic(f"additional info {info} at {pos - 1}")
    n = widths[info]
    if pos + n > len(data):
        raise NotDeterministic("truncated head")
    arg = int.from_bytes(data[pos:pos + n], "big")
    floor = {1: 24, 2: 0x100, 4: 0x10000, 8: 0x100000000}[n]
    if arg < floor:
        raise NotDeterministic(f"{arg} in a {n}-byte head at {pos - 1}")
    return major, arg, pos + n


def _item(data, pos):
    major, arg, pos = _head(data, pos)
    if major == 0:
        return arg, pos
    if major == 3:
        if pos + arg > len(data):
            raise NotDeterministic("truncated text")
        return data[pos:pos + arg].decode("utf-8"), pos + arg
    if major == 4:
        items = []
        for _ in range(arg):
            v, pos = _item(data, pos)
            items.append(v)
        return items, pos
    if major == 5:
        out, last = {}, None
        for _ in range(arg):
            start = pos
            k, pos = _item(data, pos)
            enc = data[start:pos]
            if not isinstance(k, str) or k in out:
                raise NotDeterministic(f"bad or duplicate key {k!r}")
            if last is not None and enc <= last:
                raise NotDeterministic(f"key {k!r} out of order")
            last = enc
            out[k], pos = _item(data, pos)
        return out, pos
    raise NotDeterministic(f"major type {major}")


def cbor_decode(data):
    value, pos = _item(data, 0)
    if pos != len(data):
        raise NotDeterministic(f"{len(data) - pos} trailing bytes")
    return value


def cbor_texts(data):
    """A sequence of CBOR items, decoded strictly (for raw encoder tests)."""
    out, pos = [], 0
    while pos < len(data):
        v, pos = _item(data, pos)
        out.append(v)
    return out


# ---- what the examples declare ------------------------------------------

HELLO = {"schema": 1, "name": "hello", "version": "1.0.0",
         "needs_env": ["HELLO_NAME"], "memory_max": 1 << 20}
RISK_142 = {"schema": 1, "name": "risk-model", "version": "1.4.2",
            "needs_read": ["/inputs"],
            "needs_net": ["legacy.vendor.com:443", "risk-api.vendor.com:443"],
            "needs_env": ["RISK_THRESHOLD"], "memory_max": 256 << 20}
RISK_150 = {"schema": 1, "name": "risk-model", "version": "1.5.0",
            "needs_read": ["/etc/keys", "/inputs", "/tmp/cache"],
            "needs_net": ["api.openai.com:443", "risk-api.vendor.com:443"],
            "needs_env": ["RISK_THRESHOLD", "STRIPE_SECRET_KEY"],
            "memory_max": 256 << 20}
EXAMPLE_MANIFESTS = {"hello.wasm": HELLO,
                     "risk-model-1.4.2.wasm": RISK_142,
                     "risk-model-1.5.0.wasm": RISK_150}


def example(name):
    return os.path.join(EXAMPLES, name)


class StrictDecoder(unittest.TestCase):
    """The test's own decoder rejects what the SDK must never emit."""

    def test_accepts_shortest_forms(self):
        self.assertEqual(cbor_decode(b"\x77" + b"a" * 23), "a" * 23)
        self.assertEqual(cbor_decode(b"\x78\x18" + b"a" * 24), "a" * 24)
        self.assertEqual(cbor_decode(b"\xa2\x61a\x01\x61b\x02"),
                         {"a": 1, "b": 2})

    def test_rejects_long_forms_order_and_leftovers(self):
        for bad in (b"\x78\x17" + b"a" * 23, b"\x18\x05", b"\x19\x00\xff",
                    b"\x1a\x00\x00\xff\xff", b"\x1b" + bytes(4) + b"\xff" * 4,
                    b"\xa2\x61b\x01\x61a\x02", b"\xa2\x61a\x01\x61a\x02",
                    b"\x01\x02", b"\x7f\xff", b"\x61"):
            with self.subTest(bad=bad):
                self.assertRaises((NotDeterministic, IndexError),
                                  cbor_decode, bad)


@needs_wasi_clang
class Examples(PerchCase):
    def test_objdump_lists_one_manifest_section(self):
        for name in EXAMPLE_MANIFESTS:
            with self.subTest(module=name):
                out = subprocess.run(["wasm-objdump", "-h", example(name)],
                                     capture_output=True, text=True,
                                     check=True).stdout
                lines = [ln for ln in out.splitlines()
                         if '"perch.manifest"' in ln]
                self.assertEqual(len(lines), 1, out)
                self.assertIn("Custom", lines[0])

    def test_payload_is_exactly_what_the_source_declares(self):
        for name, want in EXAMPLE_MANIFESTS.items():
            with self.subTest(module=name):
                got = cbor_decode(manifest_payload(self.read(example(name))))
                self.assertEqual(got, want)
                self.assertEqual(list(got), sorted(
                    got, key=lambda k: (len(k), k.encode())))

    def test_payload_is_the_bytes_perch_writes(self):
        for name in EXAMPLE_MANIFESTS:
            with self.subTest(module=name):
                r = subprocess.run([os.environ.get("PERCH", "perch"), "wasm",
                                    "manifest", "get", example(name),
                                    "--format", "cbor"], capture_output=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(manifest_payload(self.read(example(name))),
                                 r.stdout)

    def test_manifest_get_prints_the_declared_values(self):
        for name, want in EXAMPLE_MANIFESTS.items():
            with self.subTest(module=name):
                r = perch("wasm", "manifest", "get", example(name))
                self.assertOk(r)
                full = {"needs_read": [], "needs_write": [], "needs_net": [],
                        "needs_env": [], "memory_max": None, **want}
                self.assertEqual(json.loads(r.out), full)

    def test_inspect_shows_the_declared_values(self):
        r = perch("wasm", "inspect", example("risk-model-1.5.0.wasm"))
        self.assertOk(r)
        self.assertIn("name: risk-model\n", r.out)
        self.assertIn("version: 1.5.0\n", r.out)
        for kind, entry in [("read", "/etc/keys"), ("read", "/inputs"),
                            ("read", "/tmp/cache"),
                            ("net", "api.openai.com:443"),
                            ("net", "risk-api.vendor.com:443"),
                            ("env", "RISK_THRESHOLD"),
                            ("env", "STRIPE_SECRET_KEY"),
                            ("memory", "256 MiB")]:
            self.assertRegex(r.out, rf"\n  {kind} +{entry}")
        self.assertNotIn("legacy.vendor.com", r.out)

    def test_diff_of_the_two_releases_is_elevated(self):
        r = perch("wasm", "diff", example("risk-model-1.4.2.wasm"),
                  example("risk-model-1.5.0.wasm"), "--format", "json")
        self.assertOk(r)
        self.assertIn("elevated", r.out.lower())
        for entry in ("/etc/keys", "/tmp/cache", "api.openai.com:443",
                      "legacy.vendor.com:443", "STRIPE_SECRET_KEY"):
            self.assertIn(entry, r.out)


@needs_wasi_clang
class Sdk(PerchCase):
    """Small programs compiled here, one per rule of the header."""

    def compile(self, src, *extra, link=False, name="m"):
        """Compile src; (returncode, stderr, output path)."""
        c = self.write(name + ".c", src)
        out = self.path(name + (".wasm" if link else ".o"))
        cmd = [CLANG, *WASI, *extra, c, "-o", out]
        if not link:
            cmd.insert(1, "-c")
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=120)
        return proc.returncode, proc.stderr, out

    def payload(self, manifest, *extra, prefix=""):
        code, err, out = self.compile(
            f"#include <perch/manifest.h>\n{prefix}PERCH_MANIFEST({manifest});\n",
            *extra)
        self.assertEqual(code, 0, err)
        return manifest_payload(self.read(out))

    def refused(self, manifest, *needles, prefix=""):
        code, err, _ = self.compile(
            f"#include <perch/manifest.h>\n{prefix}PERCH_MANIFEST({manifest});\n",
            "-Wno-overlength-strings")
        self.assertNotEqual(code, 0, f"compiled: {manifest}")
        for needle in needles:
            self.assertIn(needle, err)

    # -- encoding -----------------------------------------------------------

    def test_minimal_manifest_bytes(self):
        self.assertEqual(
            self.payload('PERCH_NAME("a"), PERCH_VERSION("1.0.0")'),
            b"\xa3\x64name\x61a\x66schema\x01\x67version\x651.0.0")

    def test_every_key_in_canonical_order_whatever_the_source_order(self):
        items = ['PERCH_NEEDS_WRITE("/out")', 'PERCH_MEMORY_MAX(65536)',
                 'PERCH_NEEDS_READ("/in")', 'PERCH_NEEDS_ENV("HOME")',
                 'PERCH_VERSION("2.0.0")', 'PERCH_NEEDS_NET("a.b:1")',
                 'PERCH_NAME("n")']
        want = (b"\xa8\x64name\x61n\x66schema\x01\x67version\x652.0.0"
                b"\x69needs_env\x81\x64HOME\x69needs_net\x81\x65a.b:1"
                b"\x6amemory_max\x1a\x00\x01\x00\x00"
                b"\x6aneeds_read\x81\x63/in\x6bneeds_write\x81\x64/out")
        self.assertEqual(self.payload(", ".join(items)), want)
        self.assertEqual(self.payload(", ".join(reversed(items))), want)

    def test_text_headers_are_shortest_through_the_api(self):
        for n, head in [(1, b"\x61"), (23, b"\x77"), (24, b"\x78\x18"),
                        (255, b"\x78\xff"), (256, b"\x79\x01\x00")]:
            with self.subTest(length=n):
                name = "n" * n
                p = self.payload(f'PERCH_NAME("{name}"), PERCH_VERSION("1")')
                self.assertEqual(p[:6], b"\xa3\x64name")
                self.assertEqual(p[6:6 + len(head) + n],
                                 head + name.encode())
                self.assertEqual(cbor_decode(p)["name"], name)
        for n in (257, 511, 512, 4095, 4096):
            with self.subTest(length=n):
                path = "/" + "p" * (n - 1)
                p = self.payload('PERCH_NAME("a"), PERCH_VERSION("1"), '
                                 f'PERCH_NEEDS_READ("{path}")',
                                 "-Wno-overlength-strings")
                i = p.index(b"needs_read") + len(b"needs_read")
                self.assertEqual(p[i:i + 4], b"\x81\x79" + n.to_bytes(2, "big"))
                self.assertEqual(cbor_decode(p)["needs_read"], [path])

    def test_text_encoder_for_every_header_width(self):
        """The encoder itself, for lengths the API refuses (0) or allows."""
        lengths = [0, 1, 23, 24, 25, 255, 256, 257, 511, 512, 3840, 4096]
        lines = "".join(f'"perch_manifest_text \\"{"x" * n}\\"\\n"\n'
                        for n in lengths if n < 2000)
        long_ones = [n for n in lengths if n >= 2000]
        src = ("#include <perch/manifest.h>\n"
               "__asm__(PERCH__ASM_PRELUDE);\n"
               f"__asm__({lines});\n"
               + "".join(f'__asm__("perch_manifest_text \\"{"x" * n}\\"\\n");\n'
                         for n in long_ones)
               + '__asm__(".text\\n");\n')
        code, err, out = self.compile(src, "-Wno-overlength-strings")
        self.assertEqual(code, 0, err)
        data = manifest_payload(self.read(out))
        self.assertEqual(cbor_texts(data), ["x" * n for n in lengths])
        want = b"".join((bytes([0x60 + n]) if n < 24 else
                         b"\x78" + bytes([n]) if n < 256 else
                         b"\x79" + n.to_bytes(2, "big")) + b"x" * n
                        for n in lengths)
        self.assertEqual(data, want)

    def test_escapes_and_utf8_reach_the_section_as_c_reads_them(self):
        p = self.payload('PERCH_NAME("caf\\xc3\\xa9 \\"q\\" \\\\ \\101\\t"), '
                         'PERCH_VERSION("1")')
        self.assertEqual(cbor_decode(p)["name"], 'café "q" \\ A\t')

    def test_names_may_come_from_macros(self):
        p = self.payload("PERCH_NAME(N), PERCH_VERSION(V)",
                         prefix='#define N "tool"\n#define V "0.1.0"\n')
        self.assertEqual(cbor_decode(p)["version"], "0.1.0")

    def test_memory_max_is_the_shortest_uint(self):
        for value, enc in [
                ("0", b"\x00"), ("23", b"\x17"), ("24", b"\x18\x18"),
                ("255", b"\x18\xff"), ("256", b"\x19\x01\x00"),
                ("65535", b"\x19\xff\xff"), ("65536", b"\x1a\x00\x01\x00\x00"),
                ("PERCH_MIB(256)", b"\x1a\x10\x00\x00\x00"),
                ("256 << 20", b"\x1a\x10\x00\x00\x00"),
                ("PERCH_KIB(64)", b"\x1a\x00\x01\x00\x00"),
                ("0xffffffff", b"\x1a\xff\xff\xff\xff"),
                ("PERCH_GIB(4)", b"\x1b\x00\x00\x00\x01\x00\x00\x00\x00")]:
            with self.subTest(value=value):
                p = self.payload('PERCH_NAME("a"), PERCH_VERSION("1"), '
                                 f"PERCH_MEMORY_MAX({value})")
                self.assertTrue(p.endswith(b"\x6amemory_max" + enc), p)
                cbor_decode(p)

    def test_list_headers_and_counts(self):
        for n, head in [(1, b"\x81"), (23, b"\x97"), (24, b"\x98\x18"),
                        (64, b"\x98\x40")]:
            with self.subTest(count=n):
                names = [f"V{i:02d}" for i in range(n)]
                args = ", ".join(f'"{v}"' for v in names)
                p = self.payload('PERCH_NAME("a"), PERCH_VERSION("1"), '
                                 f"PERCH_NEEDS_ENV({args})")
                i = p.index(b"needs_env") + len(b"needs_env")
                self.assertEqual(p[i:i + len(head)], head)
                self.assertEqual(cbor_decode(p)["needs_env"], names)

    def test_perch_reads_what_the_sdk_writes(self):
        code, err, out = self.compile(
            "#include <perch/manifest.h>\n"
            'PERCH_MANIFEST(PERCH_NAME("tool"), PERCH_VERSION("0.3.0-rc.1"),\n'
            '    PERCH_NEEDS_WRITE("/out"), PERCH_NEEDS_NET("*.example.com:443"),\n'
            "    PERCH_MEMORY_MAX(PERCH_GIB(4)));\n"
            "int main(void) { return 0; }\n", link=True)
        self.assertEqual(code, 0, err)
        r = perch("wasm", "manifest", "get", out)
        self.assertOk(r)
        self.assertEqual(json.loads(r.out), {
            "schema": 1, "name": "tool", "version": "0.3.0-rc.1",
            "needs_read": [], "needs_write": ["/out"],
            "needs_net": ["*.example.com:443"], "needs_env": [],
            "memory_max": 1 << 32})

    # -- compile-time errors --------------------------------------------------

    def test_name_and_version_are_required(self):
        self.refused('PERCH_VERSION("1")',
                     "perch_manifest_declares_PERCH_NAME")
        self.refused('PERCH_NAME("a"), PERCH_NEEDS_ENV("X")',
                     "perch_manifest_declares_PERCH_VERSION")

    def test_an_item_given_twice_is_refused(self):
        self.refused('PERCH_NAME("a"), PERCH_VERSION("1"), PERCH_NAME("b")',
                     "redefinition of enumerator",
                     "perch_manifest_declares_PERCH_NAME")
        self.refused('PERCH_NAME("a"), PERCH_VERSION("1"), '
                     'PERCH_NEEDS_READ("/a"), PERCH_NEEDS_READ("/b")',
                     "perch_manifest_declares_PERCH_NEEDS_READ")

    def test_string_lengths_are_checked(self):
        self.refused('PERCH_NAME(""), PERCH_VERSION("1")',
                     "PERCH_NAME: a string literal of 1 to 256 bytes")
        self.refused(f'PERCH_NAME("{"n" * 257}"), PERCH_VERSION("1")',
                     "PERCH_NAME: a string literal of 1 to 256 bytes")
        self.refused(f'PERCH_NAME("a"), PERCH_VERSION("{"1" * 257}")',
                     "PERCH_VERSION: a string literal of 1 to 256 bytes")
        self.refused(f'PERCH_NAME("a"), PERCH_VERSION("1"), '
                     f'PERCH_NEEDS_ENV("{"E" * 257}")', "is not 1 to 256 bytes")
        self.refused(f'PERCH_NAME("a"), PERCH_VERSION("1"), '
                     f'PERCH_NEEDS_READ("/{"p" * 4096}")',
                     "is not 1 to 4096 bytes")
        self.refused('PERCH_NAME("a"), PERCH_VERSION("1"), PERCH_NEEDS_NET()',
                     "is not 1 to 4096 bytes")

    def test_only_string_literals_are_accepted(self):
        self.refused('PERCH_NAME(name), PERCH_VERSION("1")',
                     "PERCH_NAME: a string literal of 1 to 256 bytes",
                     prefix='const char name[] = "a";\n')

    def test_memory_max_range_is_checked(self):
        for value in ("0x100000001", "-1", "PERCH_GIB(5)"):
            with self.subTest(value=value):
                self.refused('PERCH_NAME("a"), PERCH_VERSION("1"), '
                             f"PERCH_MEMORY_MAX({value})",
                             "PERCH_MEMORY_MAX: 0 to 4 GiB")

    def test_integer_suffixes_are_refused_with_a_hint(self):
        self.refused('PERCH_NAME("a"), PERCH_VERSION("1"), '
                     "PERCH_MEMORY_MAX(256u << 20)", "no integer suffixes")

    def test_more_than_64_entries_do_not_compile(self):
        args = ", ".join(f'"V{i}"' for i in range(65))
        self.refused(f'PERCH_NAME("a"), PERCH_VERSION("1"), '
                     f"PERCH_NEEDS_ENV({args})", "error:")

    def test_two_manifests_in_one_module_fail_to_link(self):
        a = self.write("a.c", "#include <perch/manifest.h>\n"
                       'PERCH_MANIFEST(PERCH_NAME("a"), PERCH_VERSION("1"));\n'
                       "int main(void) { return 0; }\n")
        b = self.write("b.c", "#include <perch/manifest.h>\n"
                       'PERCH_MANIFEST(PERCH_NAME("b"), PERCH_VERSION("1"));\n'
                       "int b(void);\nint b(void) { return 1; }\n")
        proc = subprocess.run([CLANG, *WASI, a, b, "-o", self.path("ab.wasm")],
                              capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("duplicate symbol: perch_manifest_one_per_module",
                      proc.stderr)

    # -- other targets -------------------------------------------------------

    def test_native_builds_keep_the_checks_and_emit_nothing(self):
        src = ("#include <perch/manifest.h>\n"
               'PERCH_MANIFEST(PERCH_NAME("a"), PERCH_VERSION("1"),\n'
               '    PERCH_NEEDS_READ("/in"), PERCH_MEMORY_MAX(256u << 20));\n'
               "int main(void) { return 0; }\n")
        c = self.write("native.c", src)
        bad = self.write("bad.c", "#include <perch/manifest.h>\n"
                         'PERCH_MANIFEST(PERCH_NAME("a"));\n')
        for cc in filter(None, (shutil.which("gcc"), CLANG)):
            with self.subTest(cc=cc):
                exe = self.path("native")
                flags = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic",
                         "-Werror", "-I" + SDK_INCLUDE]
                proc = subprocess.run([cc, *flags, c, "-o", exe],
                                      capture_output=True, text=True)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(subprocess.run([exe]).returncode, 0)
                image = self.read(exe)
                self.assertNotIn(b"perch.manifest", image)
                self.assertNotIn(b"perch_manifest", image)
                proc = subprocess.run([cc, *flags, "-c", bad, "-o",
                                       self.path("bad.o")],
                                      capture_output=True, text=True)
                self.assertNotEqual(proc.returncode, 0)
                self.assertIn("perch_manifest_declares_PERCH_VERSION",
                              proc.stderr)

    def test_cxx_lto_and_debug_builds_carry_the_same_payload(self):
        manifest = 'PERCH_NAME("a"), PERCH_VERSION("1"), PERCH_NEEDS_READ("/in")'
        want = self.payload(manifest)
        for extra in (["-x", "c++", "-std=c++17"], ["-flto"], ["-O0", "-g"]):
            with self.subTest(flags=extra):
                code, err, out = self.compile(
                    "#include <perch/manifest.h>\n"
                    f"PERCH_MANIFEST({manifest});\n"
                    "int main(void) { return 0; }\n", *extra, link=True)
                self.assertEqual(code, 0, err)
                self.assertEqual(manifest_payload(self.read(out)), want)


if __name__ == "__main__":
    main()
