"""Hostile module files through the commands that read modules.

Every malformed module is an error of kind wasm_malformed, exit status 2,
one line on stderr ending in the byte offset the reader stopped at; never a
crash, a hang or a partial report on stdout.
"""
import json
import os
import random
import re
import time

from perchtest import PerchCase, main, perch

HDR = b"\0asm\x01\0\0\0"


def section(sid, payload):
    assert len(payload) < 128
    return bytes([sid, len(payload)]) + payload


TYPE = section(1, b"\x01\x60\x00\x00")  # 6 bytes: 8..13
FUNC = section(3, b"\x01\x00")          # 4 bytes

# name -> (file bytes, byte offset of the error, what the message says)
MALFORMED = {
    "empty": (b"", 0, "magic header not detected"),
    "three_bytes": (b"\0as", 0, "magic header not detected"),
    "wrong_magic": (b"\0asn\x01\0\0\0", 0, "magic header not detected"),
    "elf": (b"\x7fELF\x02\x01\x01\0" + bytes(56), 0, "magic header not detected"),
    "text_file": (b"(module)\n", 0, "magic header not detected"),
    "magic_only": (b"\0asm", 4, "unexpected end"),
    "wrong_version": (b"\0asm\x02\0\0\0", 4, "unknown binary version"),
    "component_version": (b"\0asm\x0d\0\x01\0", 4, "unknown binary version"),
    "truncated_section_size": (HDR + b"\x01", 9, "unexpected end: expected section size"),
    "truncated_section_size_leb": (HDR + b"\x01\x80\x80", 11,
                                   "unexpected end: expected section size"),
    "overlong_section_size": (HDR + b"\x00\x83\x80\x80\x80\x80\x00\x01" + b"12", 9,
                              "integer representation too long"),
    "section_overruns_by_one": (HDR + b"\x01\x05\x01\x60\x00\x00", 8,
                                "type section size overruns the file: declares 5 bytes, 4 remain"),
    "second_section_overruns": (HDR + TYPE + b"\x03\x03\x01\x00", 14,
                                "function section size overruns the file"),
    "out_of_order": (HDR + FUNC + TYPE, 12, "type section out of order"),
    "datacount_after_code": (HDR + section(10, b"\x00") + section(12, b"\x00"), 11,
                             "datacount section out of order"),
    "duplicate": (HDR + TYPE + TYPE, 14, "duplicate type section"),
    "unknown_section_id": (HDR + b"\x0d\x00", 8, "malformed section id: 13"),
    "unknown_section_id_after_valid": (HDR + TYPE + b"\xff\x00", 14,
                                       "malformed section id: 255"),
    "custom_name_overlong_utf8": (HDR + b"\x00\x03\x02\xc0\x80", 11, "malformed UTF-8"),
    "custom_name_surrogate": (HDR + b"\x00\x04\x03\xed\xa0\x80", 11, "malformed UTF-8"),
    "custom_name_truncated_utf8": (HDR + b"\x00\x04\x02\xe2\x82\xac", 11, "malformed UTF-8"),
    "custom_zero_length": (HDR + b"\x00\x00", 10, "unexpected end"),
    "custom_name_overruns_section": (HDR + b"\x00\x02\x05a" + TYPE, 11, "unexpected end"),
}

# Section contents that only inspect decodes (manifest get reads the layout).
CONTENT_MALFORMED = {
    "import_kind": (HDR + TYPE + section(2, b"\x01\x01m\x01f\x04\x00"), 21,
                    "malformed import kind 0x04"),
    "import_count_too_large": (HDR + section(2, b"\x05\x01m\x01f\x00\x00"), 11,
                               "import count 5 exceeds the section size"),
    "memory_limits_flag": (HDR + section(5, b"\x01\x02\x00"), 11, "limits flag 0x02"),
    "export_section_size_mismatch": (HDR + section(7, b"\x01\x01f\x00\x00\x00"), 15,
                                     "section size mismatch"),
}

COMMANDS = (("wasm", "inspect"), ("wasm", "manifest", "get"))


class Malformed(PerchCase):
    def assertMalformed(self, r, offset, needle):
        self.assertEqual(r.code, 2, r)
        self.assertEqual(r.out, "", r)
        lines = r.err.splitlines()
        self.assertEqual(len(lines), 1, r)
        self.assertTrue(lines[0].startswith("wasm_malformed: "), r)
        self.assertTrue(lines[0].endswith("(at byte %d (0x%x))" % (offset, offset)), r)
        self.assertIn(needle, lines[0])

    def test_malformed_modules(self):
        for name, (data, offset, needle) in MALFORMED.items():
            p = self.write(name + ".wasm", data)
            for cmd in COMMANDS:
                with self.subTest(module=name, command=" ".join(cmd)):
                    self.assertMalformed(perch(*cmd, p), offset, needle)

    def test_malformed_contents(self):
        for name, (data, offset, needle) in CONTENT_MALFORMED.items():
            with self.subTest(module=name):
                p = self.write(name + ".wasm", data)
                self.assertMalformed(perch("wasm", "inspect", p), offset, needle)

    def test_message_names_the_file(self):
        p = self.write("bad.wasm", b"\0asm\x02\0\0\0")
        for cmd in COMMANDS:
            with self.subTest(command=" ".join(cmd)):
                self.assertIn("bad.wasm", perch(*cmd, p).err)

    def test_json_error(self):
        p = self.write("dup.wasm", HDR + TYPE + TYPE)
        r = perch("wasm", "inspect", p, "--format", "json")
        self.assertEqual(r.code, 2, r)
        obj = json.loads(r.out)
        self.assertEqual(obj["error"], "wasm_malformed")
        self.assertEqual(obj["offset"], 14)
        self.assertIn("duplicate type section", obj["message"])
        self.assertEqual(obj["detail"], "at byte 14 (0xe)")


class NotAModuleFile(PerchCase):
    def assertIo(self, r, needle):
        self.assertEqual(r.code, 2, r)
        self.assertEqual(r.out, "", r)
        self.assertEqual(len(r.err.splitlines()), 1, r)
        self.assertTrue(r.err.startswith("io: "), r)
        self.assertIn(needle, r.err)

    def test_directory(self):
        d = self.path("dir.wasm")
        os.mkdir(d)
        for cmd in COMMANDS:
            with self.subTest(command=" ".join(cmd)):
                self.assertIo(perch(*cmd, d), "is a directory")

    def test_missing_file(self):
        p = self.path("missing.wasm")
        for cmd in COMMANDS:
            with self.subTest(command=" ".join(cmd)):
                self.assertIo(perch(*cmd, p), "No such file or directory")

    def test_unreadable_file(self):
        if os.geteuid() == 0:
            self.skipTest("root reads any file")
        p = self.write("locked.wasm", HDR)
        os.chmod(p, 0)
        self.assertIo(perch("wasm", "inspect", p), "Permission denied")

    def test_control_characters_in_path_are_escaped(self):
        p = self.path("a\x1b[2Jb.wasm")
        r = perch("wasm", "inspect", p)
        self.assertEqual(r.code, 2, r)
        self.assertNotIn("\x1b", r.err)
        self.assertIn("\\x1b[2Jb.wasm", r.err)


class Random(PerchCase):
    """Large inputs of random bytes: a tagged error, quickly."""

    def check_fast_error(self, data, kinds=("wasm_malformed",)):
        p = self.write("random.wasm", data)
        for cmd in COMMANDS:
            with self.subTest(command=" ".join(cmd)):
                t = time.monotonic()
                r = perch(*cmd, p)
                elapsed = time.monotonic() - t
                self.assertEqual(r.code, 2, r)
                self.assertRegex(r.err, r"^(%s): .*\n$" % "|".join(kinds))
                self.assertLess(elapsed, 5.0)

    def test_big_random_file(self):
        rng = random.Random(20240611)
        data = bytes(rng.getrandbits(8) for _ in range(1 << 16)) * 64  # 4 MiB
        if data.startswith(b"\0asm"):
            data = b"\xff" + data[1:]
        self.check_fast_error(data)

    def test_random_after_header(self):
        rng = random.Random(7)
        for i in range(20):
            body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 4096)))
            p = self.write("r%d.wasm" % i, HDR + body)
            r = perch("wasm", "inspect", p)
            with self.subTest(seed=i):
                self.assertIn(r.code, (0, 2), r)
                if r.code == 2:
                    self.assertRegex(r.err, r"^wasm_malformed: .*\(at byte (\d+) \(0x[0-9a-f]+\)\)\n$")
                    at = int(re.search(r"at byte (\d+)", r.err).group(1))
                    self.assertLessEqual(at, len(HDR) + len(body))

    def test_many_sections(self):
        # 200 000 empty-named custom sections: read in linear time.
        data = HDR + b"\x00\x01\x00" * 200000
        p = self.write("many.wasm", data)
        t = time.monotonic()
        r = perch("wasm", "inspect", p)
        self.assertLess(time.monotonic() - t, 5.0)
        self.assertEqual(r.code, 0, r)

    def test_huge_declared_counts(self):
        # Counts of 2^32-1 in tiny sections must not allocate for them.
        data = HDR + section(2, b"\xff\xff\xff\xff\x0f") + section(7, b"\xff\xff\xff\xff\x0f")
        p = self.write("counts.wasm", data)
        r = perch("wasm", "inspect", p)
        self.assertEqual(r.code, 2, r)
        self.assertIn("import count 4294967295 exceeds the section size", r.err)
        self.assertTrue(r.err.endswith("(at byte 15 (0xf))\n"), r)


if __name__ == "__main__":
    main()
