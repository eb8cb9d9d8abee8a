"""perch audit verify|show|checkpoint on logs written by an independent
implementation of docs/audit.md, tampered in every way the issue lists."""
import hashlib
import json
import os
import subprocess
import time

from perchtest import PERCH, PerchCase, main, perch

ZERO = "0" * 64
DIGEST = "sha256:" + "ab" * 32


def record_line(prev, members):
    """One line as docs/audit.md defines it: the hash is SHA-256 of the
    previous hash (64 ASCII hex digits) followed by the line without its
    hash member."""
    body = "{" + ",".join(
        json.dumps(k) + ":" + json.dumps(v, separators=(",", ":"), ensure_ascii=False)
        for k, v in members) + ',"prev":"' + prev + '"}'
    h = hashlib.sha256(prev.encode() + body.encode()).hexdigest()
    return body[:-1] + ',"hash":"' + h + '"}\n', h


def stamp(seq):
    return "2024-05-01T12:00:%02d.%06dZ" % (seq % 60, seq)


class Writer:
    """Writes records the way the runtime's log does, rotating on request."""

    def __init__(self, path, algo="sha256"):
        self.path = path
        self.prev = ZERO
        self.seq = 0
        self.algo = algo
        self.lines = {}  # path -> list of lines
        self.cur = path
        self.lines[path] = []
        self._add("log.open", "demo", "ok", [("algo", algo), ("module", DIGEST),
                                              ("grant", ["read:/in"])])

    def _add(self, kind, obj, outcome, extra=()):
        members = [("seq", self.seq), ("time", stamp(self.seq)), ("kind", kind),
                   ("object", obj), ("outcome", outcome)] + list(extra)
        line, self.prev = record_line(self.prev, members)
        self.seq += 1
        self.lines[self.cur].append(line)

    def event(self, kind="fs.read", obj="/in/a.txt", outcome="ok", **extra):
        self._add(kind, obj, outcome, list(extra.items()))

    def rotate(self, n):
        name = "%s.%d" % (self.path, n)
        self.lines[name] = self.lines.pop(self.path)
        self.lines[self.path] = []
        self._add("log.rotate", "demo", "ok", [("algo", self.algo), ("module", DIGEST),
                                                ("grant", ["read:/in"]),
                                                ("prev_file", os.path.basename(name))])

    def close(self):
        self._add("log.close", "", "ok")

    def save(self):
        for p, lines in self.lines.items():
            with open(p, "w", encoding="utf-8") as f:
                f.write("".join(lines))
        return self.path


class AuditCase(PerchCase):
    def log(self, n=5, name="a.log"):
        w = Writer(self.path(name))
        for i in range(n):
            w.event(bytes=i)
        w.close()
        w.save()
        return w

    def lines(self, p):
        with open(p, "rb") as f:
            return f.read().splitlines(keepends=True)

    def put_lines(self, p, lines):
        with open(p, "wb") as f:
            f.write(b"".join(lines))

    def assertBroken(self, r, where, reason):
        self.assertEqual(r.code, 1, r)
        self.assertTrue(r.out.startswith("BROKEN: "), r)
        self.assertIn(where, r.out, r)
        self.assertIn(": %s: " % reason, r.out, r)


class VerifyTest(AuditCase):
    def test_ok_names_count_and_last_hash(self):
        w = self.log()
        r = perch("audit", "verify", w.path)
        self.assertOk(r)
        self.assertEqual(r.out, "OK: 7 records, last hash %s\n" % w.prev)
        r = perch("audit", "verify", "--format", "json", w.path)
        self.assertOk(r)
        self.assertEqual(json.loads(r.out), {"status": "ok", "count": 7, "last": w.prev,
                                             "closed": True, "anchored": False})

    def test_not_closed_is_said(self):
        w = Writer(self.path("open.log"))
        w.event()
        w.save()
        r = perch("audit", "verify", w.path)
        self.assertOk(r)
        self.assertIn("(not closed", r.out)

    def test_edit_a_byte(self):
        w = self.log()
        lines = self.lines(w.path)
        lines[3] = lines[3].replace(b'"bytes":2', b'"bytes":3')
        self.put_lines(w.path, lines)
        r = perch("audit", "verify", w.path)
        self.assertBroken(r, "a.log:4: seq 3", "edited")
        self.assertIn("content does not match its hash", r.out)
        self.assertIn("intact before it: 3 records", r.out)

    def test_edit_the_hash_itself(self):
        w = self.log()
        lines = self.lines(w.path)
        lines[2] = lines[2][:-4] + (b"0" if lines[2][-4:-3] != b"0" else b"1") + lines[2][-3:]
        self.put_lines(w.path, lines)
        self.assertBroken(perch("audit", "verify", w.path), "a.log:3: seq 2", "edited")

    def test_delete_a_line(self):
        w = self.log()
        lines = self.lines(w.path)
        del lines[2]
        self.put_lines(w.path, lines)
        r = perch("audit", "verify", w.path)
        self.assertBroken(r, "a.log:3: seq 3", "deleted")
        self.assertIn("record seq 2 is missing", r.out)

    def test_swap_two_lines(self):
        w = self.log()
        lines = self.lines(w.path)
        lines[2], lines[3] = lines[3], lines[2]
        self.put_lines(w.path, lines)
        r = perch("audit", "verify", w.path)
        self.assertBroken(r, "a.log:3: seq 3", "reordered")

    def test_insert_forged_line_with_recomputed_hash(self):
        w = self.log()
        lines = self.lines(w.path)
        forged, _ = record_line("f" * 64, [("seq", 3), ("time", stamp(3)), ("kind", "fs.read"),
                                           ("object", "/in/innocent"), ("outcome", "ok")])
        lines.insert(3, forged.encode())
        self.put_lines(w.path, lines)
        r = perch("audit", "verify", w.path)
        self.assertBroken(r, "a.log:4: seq 3", "inserted")

    def test_rewritten_tail_with_valid_hashes_breaks_at_the_seam(self):
        w = self.log()
        lines = self.lines(w.path)
        # Replace record 4 with a self-consistent one chained to record 3.
        prev = json.loads(lines[3])["hash"]
        forged, _ = record_line(prev, [("seq", 4), ("time", stamp(4)), ("kind", "fs.read"),
                                       ("object", "/in/other"), ("outcome", "ok")])
        lines[4] = forged.encode()
        self.put_lines(w.path, lines)
        r = perch("audit", "verify", w.path)
        self.assertBroken(r, "a.log:6: seq 5", "inserted")
        self.assertIn("does not chain", r.out)

    def test_truncated_mid_line_is_truncation_not_tampering(self):
        w = self.log()
        data = self.read(w.path)
        with open(w.path, "wb") as f:
            f.write(data[:-50])
        r = perch("audit", "verify", w.path)
        self.assertEqual(r.code, 1, r)
        self.assertTrue(r.out.startswith("TRUNCATED: "), r)
        self.assertIn("a.log:7: truncated: the last line stops after", r.out)
        self.assertIn("intact before it: 6 records", r.out)
        r = perch("audit", "verify", "--allow-torn", w.path)
        self.assertOk(r)
        r = perch("audit", "verify", "--format", "json", w.path)
        self.assertEqual(json.loads(r.out)["status"], "truncated")

    def test_whole_record_truncation_caught_by_anchor(self):
        w = self.log()
        r = perch("audit", "verify", "--expect-last", w.prev, "--expect-count", "7", w.path)
        self.assertOk(r)
        self.assertIn("anchor holds", r.out)
        lines = self.lines(w.path)
        self.put_lines(w.path, lines[:-1])
        self.assertOk(perch("audit", "verify", w.path))
        r = perch("audit", "verify", "--expect-count", "7", w.path)
        self.assertBroken(r, "a.log", "anchor")
        self.assertIn("holds 6 records but the anchor says at least 7", r.out)
        r = perch("audit", "verify", "--expect-last", w.prev.upper(), w.path)
        self.assertBroken(r, "a.log", "anchor")
        # An anchor taken earlier still holds after more records.
        self.assertOk(perch("audit", "verify", "--expect-count", "3", w.path))

    def test_anchor_usage_errors(self):
        w = self.log()
        self.assertError(perch("audit", "verify", "--expect-last", "abc", w.path), "usage")
        self.assertError(perch("audit", "verify", "--expect-count", "-1", w.path), "usage")
        self.assertError(perch("audit", "verify", "--expect-count", "0", w.path), "usage")
        self.assertError(perch("audit", "verify", "--checkpoint", w.path, w.path), "usage")
        self.assertError(perch("audit", "verify"), "usage")
        self.assertError(perch("audit", "verify", "--format", "yaml", w.path), "usage")

    def test_missing_file_is_io(self):
        r = perch("audit", "verify", self.path("nope.log"))
        self.assertError(r, "io")
        self.assertIn("cannot open", r.err)

    def test_rotation_across_files(self):
        w = Writer(self.path("r.log"))
        for i in range(3):
            w.event(bytes=i)
        w.rotate(1)
        for i in range(3):
            w.event(bytes=i)
        w.rotate(2)
        w.event()
        w.close()
        w.save()
        files = [w.path + ".1", w.path + ".2", w.path]
        r = perch("audit", "verify", *files)
        self.assertOk(r)
        self.assertIn("OK: 11 records", r.out)
        # Only the newest file: the chain starts elsewhere.
        r = perch("audit", "verify", w.path)
        self.assertBroken(r, "r.log:1: seq 8", "start")
        self.assertIn("continuing from r.log.2", r.out)
        # A middle file missing.
        r = perch("audit", "verify", files[0], files[2])
        self.assertBroken(r, "r.log:1: seq 8", "deleted")
        # Out of order.
        r = perch("audit", "verify", files[1], files[0], files[2])
        self.assertBroken(r, "r.log.2:1", "start")
        # Tamper in the oldest file, then in the middle one.
        lines = self.lines(files[0])
        lines[2] = lines[2].replace(b"/in/a.txt", b"/in/b.txt")
        self.put_lines(files[0], lines)
        self.assertBroken(perch("audit", "verify", *files), "r.log.1:3: seq 2", "edited")
        w.save()
        lines = self.lines(files[1])
        del lines[-1]
        self.put_lines(files[1], lines)
        self.assertBroken(perch("audit", "verify", *files), "r.log:1: seq 8", "deleted")

    def test_unknown_algorithm(self):
        w = Writer(self.path("algo.log"), algo="sha3-256")
        w.event()
        w.save()
        r = perch("audit", "verify", w.path)
        self.assertBroken(r, "algo.log:1: seq 0", "algorithm")
        self.assertIn("sha3-256", r.out)

    def test_hostile_logs_are_tagged_not_crashes(self):
        cases = {
            "huge": b"x" * (1 << 20) + b"\n",
            "json": b"{not json" + b'","hash":"' + b"0" * 64 + b'"}\n',
            "utf8": b'{"seq":0,"o":"\xc3\x28"}\n',
            "deep": b'{"a":' + b"[" * 200000 + b'],"hash":"' + b"0" * 64 + b'"}\n',
            "nul": b"\x00" * 100 + b"\n",
        }
        for name, data in cases.items():
            p = self.write(name + ".log", data)
            r = perch("audit", "verify", p)
            self.assertBroken(r, name + ".log:1", "edited")
            r = perch("audit", "show", p)
            self.assertError(r, "io")
            self.assertIn(name + ".log:1", r.err)


class ShowTest(AuditCase):
    def test_text_escapes_control_characters(self):
        w = Writer(self.path("s.log"))
        w.event(kind="refused.fs.open", obj="/in/\x1b[31mred\u009b\x7f", outcome="refused",
                reason="not granted")
        w.save()
        r = perch("audit", "show", w.path)
        self.assertOk(r)
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertIn("log.open  demo  ok algo=sha256 module=" + DIGEST +
                      ' grant=["read:/in"]', lines[0])
        self.assertIn("refused.fs.open  /in/\\x1b[31mred\\u009b\\x7f  refused "
                      "reason=not granted", lines[1])
        self.assertNotIn("\x1b", r.out)
        self.assertNotIn("\u009b", r.out)

    def test_json_lines(self):
        w = self.log(2)
        r = perch("audit", "show", "--format", "json", w.path)
        self.assertOk(r)
        got = [json.loads(x) for x in r.out.splitlines()]
        want = [json.loads(x) for x in self.lines(w.path)]
        self.assertEqual(got, want)
        self.assertTrue(all(c < "\x7f" for c in r.out))

    def test_marks_a_changed_record(self):
        w = self.log(2)
        lines = self.lines(w.path)
        lines[1] = lines[1].replace(b"/in/a.txt", b"/in/z.txt")
        self.put_lines(w.path, lines)
        r = perch("audit", "show", w.path)
        self.assertOk(r)
        self.assertIn("/in/z.txt  ok bytes=0  [hash mismatch]", r.out)

    def test_torn_last_line(self):
        w = self.log(2)
        data = self.read(w.path)
        with open(w.path, "wb") as f:
            f.write(data[:-10])
        r = perch("audit", "show", w.path)
        self.assertError(r, "io")
        self.assertEqual(len(r.out.splitlines()), 3)
        self.assertIn("torn record", r.err)

    def test_usage(self):
        self.assertError(perch("audit", "show"), "usage")
        self.assertError(perch("audit", "show", "a", "b"), "usage")
        self.assertError(perch("audit", "frobnicate"), "usage")
        self.assertEqual(perch("audit").code, 2)
        r = perch("audit", "--help")
        self.assertOk(r)
        self.assertIn("perch audit verify LOG...", r.out)
        for verb in ("verify", "show", "checkpoint"):
            r = perch("audit", verb, "--help")
            self.assertOk(r)
            self.assertTrue(r.out.startswith("usage: perch audit " + verb), r)
        self.assertIn("audit", perch("help").out)

    def test_follow_across_rotation(self):
        w = Writer(self.path("f.log"))
        w.event(obj="/in/first")
        w.save()
        proc = subprocess.Popen([PERCH, "audit", "show", "--follow", w.path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertIn("log.open", proc.stdout.readline())
            self.assertIn("/in/first", proc.stdout.readline())
            w.event(obj="/in/second")
            w.save()
            self.assertIn("/in/second", proc.stdout.readline())
            # Rotate the way the writer does: rename, then a new file.
            os.rename(w.path, w.path + ".1")
            time.sleep(0.3)
            w.lines[w.path + ".1"] = w.lines.pop(w.path)
            w.lines[w.path] = []
            w._add("log.rotate", "demo", "ok", [("algo", "sha256"), ("module", DIGEST),
                                                 ("grant", []), ("prev_file", "f.log.1")])
            w.event(obj="/in/third")
            with open(w.path, "w") as f:
                f.write("".join(w.lines[w.path]))
            self.assertIn("log.rotate", proc.stdout.readline())
            self.assertIn("/in/third", proc.stdout.readline())
        finally:
            proc.kill()
            proc.wait()


class CheckpointTest(AuditCase):
    def keys(self):
        r = perch("wasm", "keygen", "--signer", "auditor", "-o", self.tmp)
        self.assertOk(r)
        return self.path("auditor.key"), self.path("auditor.pub.json")

    def test_sign_then_verify_against_it(self):
        key, ring = self.keys()
        w = self.log()
        cp = self.path("cp.json")
        r = perch("audit", "checkpoint", "--key", key, "-o", cp, w.path)
        self.assertOk(r)
        c = json.loads(self.read(cp))
        self.assertEqual((c["type"], c["count"], c["last"], c["signer"]),
                         ("perch.audit.checkpoint", 7, w.prev, "auditor"))
        r = perch("audit", "verify", "--checkpoint", cp, "--trust-keys", ring, w.path)
        self.assertOk(r)
        self.assertIn("anchor holds", r.out)
        # More records later: the checkpoint still holds.
        w.event()
        w.save()
        self.assertOk(perch("audit", "verify", "--checkpoint", cp, "--trust-keys", ring, w.path))
        # Records removed from the end: caught.
        lines = self.lines(w.path)
        self.put_lines(w.path, lines[:-2])
        r = perch("audit", "verify", "--checkpoint", cp, "--trust-keys", ring, w.path)
        self.assertBroken(r, "a.log", "anchor")

    def test_tampered_or_untrusted_checkpoint(self):
        key, ring = self.keys()
        w = self.log()
        cp = self.path("cp.json")
        self.assertOk(perch("audit", "checkpoint", "--key", key, "-o", cp, w.path))
        data = self.read(cp).replace(b'"count":7', b'"count":6')
        self.write("bad.json", data)
        r = perch("audit", "verify", "--checkpoint", self.path("bad.json"), "--trust-keys",
                  ring, w.path)
        self.assertError(r, "manifest_signature_invalid", code=1)
        other = self.write("other.json", '{"keys":[]}')
        r = perch("audit", "verify", "--checkpoint", cp, "--trust-keys", other, w.path)
        self.assertError(r, "manifest_signer_untrusted", code=1)
        self.write("junk.json", "[1,2]")
        r = perch("audit", "verify", "--checkpoint", self.path("junk.json"), "--trust-keys",
                  ring, w.path)
        self.assertError(r, "usage")

    def test_refuses_to_sign_a_broken_log(self):
        key, _ = self.keys()
        w = self.log()
        lines = self.lines(w.path)
        del lines[1]
        self.put_lines(w.path, lines)
        r = perch("audit", "checkpoint", "--key", key, w.path)
        self.assertEqual(r.code, 1, r)
        self.assertIn("nothing signed", r.err)
        self.assertEqual(r.out.split(":")[0], "BROKEN")

    def test_usage(self):
        w = self.log()
        self.assertError(perch("audit", "checkpoint", w.path), "usage")
        self.assertError(perch("audit", "checkpoint", "--key", self.path("nokey"), w.path), "io")


if __name__ == "__main__":
    main()
