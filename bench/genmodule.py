#!/usr/bin/env python3
"""Generate large, valid WebAssembly modules for the inspect/diff benchmark.

Deterministic: the same parameters and seed give the same bytes. Every part
of the module draws from its own random stream (code, data, custom sections),
so two modules that differ only in --body-size differ only in their code
section: the rest is byte-identical. That is what lets the benchmark measure
whether a command's cost grows with the code section.

A module holds: types; imports from wasi_snapshot_preview1 and perch
(http_get and friends); a start-like exported _start plus thousands of worker
functions with valid bodies (arithmetic, loads/stores, blocks, loops, calls);
one memory; a mutable global; exports; a datacount section; thousands of
active data segments; thousands of custom sections spread between the
standard sections. The perch.manifest section is added afterwards, by
`perch wasm manifest set` (see run.py), or by embed_manifest() here.

Standard library only.
"""
import argparse
import json
import random
import shutil
import struct
import subprocess
import sys

# ---- encoding ---------------------------------------------------------------


def uleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        done = (n == 0 and not b & 0x40) or (n == -1 and b & 0x40)
        out.append(b if done else b | 0x80)
        if done:
            return bytes(out)


def name(s):
    b = s.encode()
    return uleb(len(b)) + b


def vec(items):
    return uleb(len(items)) + b"".join(items)


def section(sid, payload):
    return bytes([sid]) + uleb(len(payload)) + payload


def custom(cname, payload):
    return section(0, name(cname) + payload)


I32, I64, F64 = 0x7F, 0x7E, 0x7C

TYPES = [
    ((I32, I32), (I32,)),                    # 0 workers, http_get, environ_get...
    ((I32, I32, I32, I32), (I32,)),          # 1 fd_write, fd_read
    ((I32,), ()),                            # 2 proc_exit
    ((), ()),                                # 3 _start
    ((I32, I32, I32), (I32,)),               # 4 http_read_body
    ((I32,), (I32,)),                        # 5 http_status, http_body_len, http_close, fd_close
    ((I32, I64, I32), (I32,)),               # 6 clock_time_get
    ((I32, I32, I32, I32, I32, I64, I64, I32, I32), (I32,)),  # 7 path_open
]

IMPORTS = [
    ("wasi_snapshot_preview1", "args_get", 0),
    ("wasi_snapshot_preview1", "args_sizes_get", 0),
    ("wasi_snapshot_preview1", "environ_get", 0),
    ("wasi_snapshot_preview1", "environ_sizes_get", 0),
    ("wasi_snapshot_preview1", "clock_time_get", 6),
    ("wasi_snapshot_preview1", "fd_close", 5),
    ("wasi_snapshot_preview1", "fd_read", 1),
    ("wasi_snapshot_preview1", "fd_write", 1),
    ("wasi_snapshot_preview1", "path_open", 7),
    ("wasi_snapshot_preview1", "proc_exit", 2),
    ("perch", "http_get", 0),
    ("perch", "http_status", 5),
    ("perch", "http_body_len", 5),
    ("perch", "http_read_body", 4),
    ("perch", "http_close", 5),
]
HTTP_GET = 10  # function index of perch.http_get (type 0)
STANDARD_ORDER = [1, 2, 3, 5, 6, 7, 12, 10, 11]

# ---- function bodies ----------------------------------------------------------
#
# Workers have type (i32 i32) -> i32 and locals 2,3: i32, 4: f64, 5: i64.
# Every snippet leaves the operand stack as it found it, so any sequence of
# snippets followed by the epilogue is a valid body.


def _snippet(rng, nfuncs, first_worker):
    k = rng.randrange(13)
    if k == 0:   # local0 += K
        return b"\x20\x00\x41" + sleb(rng.randrange(-5000, 5000)) + b"\x6a\x21\x00"
    if k == 1:   # local2 ^= local1
        return b"\x20\x01\x20\x02\x73\x21\x02"
    if k == 2:   # local0 += i32.load[A]
        return (b"\x41" + sleb(rng.randrange(0, 60000) & ~3) + b"\x28\x02" +
                uleb(rng.randrange(0, 64) * 4) + b"\x20\x00\x6a\x21\x00")
    if k == 3:   # i32.store[A] = local1
        return (b"\x41" + sleb(rng.randrange(0, 60000) & ~3) + b"\x20\x01\x36\x02" +
                uleb(rng.randrange(0, 64) * 4))
    if k == 4:   # block; br_if 0 on local0; end
        return b"\x02\x40\x20\x00\x0d\x00\x0b"
    if k == 5:   # local3 = worker(local0, local1)
        f = rng.randrange(first_worker, nfuncs)
        return b"\x20\x00\x20\x01\x10" + uleb(f) + b"\x21\x03"
    if k == 6:   # local3 = perch.http_get(local0, local1)
        return b"\x20\x00\x20\x01\x10" + uleb(HTTP_GET) + b"\x21\x03"
    if k == 7:   # local4 *= X
        return b"\x20\x04\x44" + struct.pack("<d", rng.uniform(0.5, 2.0)) + b"\xa2\x21\x04"
    if k == 8:   # local5 += K
        return b"\x20\x05\x42" + sleb(rng.randrange(-(1 << 40), 1 << 40)) + b"\x7c\x21\x05"
    if k == 9:   # loop: local2 -= 1; br_if 0 on local2
        return b"\x03\x40\x20\x02\x41\x01\x6b\x22\x02\x0d\x00\x0b"
    if k == 10:  # if local0 { local3 = local1 } else { local1 = local3 }
        return b"\x20\x00\x04\x40\x20\x01\x21\x03\x05\x20\x03\x21\x01\x0b"
    if k == 11:  # local2 = memory.size
        return b"\x3f\x00\x21\x02"
    # local0 = select(local0, local1, local2)
    return b"\x20\x00\x20\x01\x20\x02\x1b\x21\x00"


WORKER_LOCALS = vec([uleb(2) + bytes([I32]), uleb(1) + bytes([F64]), uleb(1) + bytes([I64])])
WORKER_EPILOGUE = b"\x20\x00\x20\x03\x6a\x0b"  # local0 + local3; end


def _code_section(rng, nworkers, body_size, first_worker):
    nfuncs = first_worker + nworkers
    # A pool of stack-neutral chunks (~64 bytes of snippets each); bodies are
    # sequences of chunks, so tens of MB of code generate in seconds.
    pool = []
    for _ in range(512):
        c = bytearray()
        while len(c) < 64:
            c += _snippet(rng, nfuncs, first_worker)
        pool.append(bytes(c))
    chunk = sum(map(len, pool)) / len(pool)
    bodies = []
    # _start: drop(worker0(0, 0))
    start = b"\x00\x41\x00\x41\x00\x10" + uleb(first_worker) + b"\x1a\x0b"
    bodies.append(uleb(len(start)) + start)
    choose = rng.choices
    for _ in range(nworkers):
        target = int(body_size * rng.uniform(0.5, 1.5))
        n = max(1, round(target / chunk))
        body = WORKER_LOCALS + b"".join(choose(pool, k=n)) + WORKER_EPILOGUE
        bodies.append(uleb(len(body)) + body)
    return section(10, vec(bodies))


def _data_section(rng, nsegments, seg_size):
    segs = []
    offset = 1024
    for _ in range(nsegments):
        n = max(1, int(seg_size * rng.uniform(0.25, 1.75)))
        if rng.random() < 0.3:  # text-like, as strings tables are
            chunk = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz _-/.:0123456789")
                          for _ in range(min(n, 64)))
            payload = (chunk * (n // len(chunk) + 1))[:n]
        else:
            payload = rng.randbytes(n)
        segs.append(b"\x00\x41" + sleb(offset) + b"\x0b" + uleb(n) + payload)
        offset = (offset + n + 7) & ~7
    return section(11, vec(segs)), offset


CUSTOM_PREFIXES = ["bench.meta", "vendor.build", "x.attest", "tool.trace", "lib.notes"]


def _custom_sections(rng, ncustom, custom_size, nslots):
    """ncustom custom sections, each assigned to a slot (0 = before the type
    section, i = after the i-th standard section)."""
    slots = [[] for _ in range(nslots)]
    for i in range(ncustom):
        prefix = CUSTOM_PREFIXES[i % len(CUSTOM_PREFIXES)]
        n = max(0, int(custom_size * rng.uniform(0.1, 1.9)))
        s = custom(f"{prefix}.{i:05d}", rng.randbytes(n))
        slots[rng.randrange(nslots)].append(s)
    return slots


def generate(seed=1, functions=4000, body_size=2048, segments=4000,
             segment_size=1536, customs=3000, custom_size=512):
    """The module bytes (no perch.manifest). functions counts the workers;
    body_size and segment_size and custom_size are mean sizes in bytes."""
    code_rng = random.Random(f"{seed}:code")
    data_rng = random.Random(f"{seed}:data")
    custom_rng = random.Random(f"{seed}:custom")
    meta_rng = random.Random(f"{seed}:meta")

    first_worker = len(IMPORTS) + 1  # after the imports and _start
    nfuncs_defined = 1 + functions

    data, data_end = _data_section(data_rng, segments, segment_size)
    pages = data_end // 65536 + 2

    sec = {}
    sec[1] = section(1, vec([b"\x60" + vec([bytes([p]) for p in ps]) +
                             vec([bytes([r]) for r in rs]) for ps, rs in TYPES]))
    sec[2] = section(2, vec([name(m) + name(f) + b"\x00" + uleb(t) for m, f, t in IMPORTS]))
    sec[3] = section(3, vec([uleb(3)] + [uleb(0)] * functions))
    sec[5] = section(5, vec([b"\x01" + uleb(pages) + uleb(max(pages, 4096))]))
    sec[6] = section(6, vec([bytes([I32, 1]) + b"\x41" + sleb(65536) + b"\x0b"]))
    exports = [name("memory") + b"\x02\x00",
               name("_start") + b"\x00" + uleb(len(IMPORTS)),
               name("__stack_pointer") + b"\x03\x00"]
    for i in sorted(meta_rng.sample(range(functions), min(functions, max(1, functions // 20)))):
        exports.append(name(f"worker_{i}") + b"\x00" + uleb(first_worker + i))
    sec[7] = section(7, vec(exports))
    sec[12] = section(12, uleb(segments))
    sec[10] = _code_section(code_rng, functions, body_size, first_worker)
    sec[11] = data
    assert nfuncs_defined == functions + 1

    slots = _custom_sections(custom_rng, customs, custom_size, len(STANDARD_ORDER) + 1)
    out = bytearray(b"\x00asm\x01\x00\x00\x00")
    out += b"".join(slots[0])
    for i, sid in enumerate(STANDARD_ORDER):
        out += sec[sid]
        out += b"".join(slots[i + 1])
    return bytes(out)


# ---- the manifests ------------------------------------------------------------


def manifest(version):
    """The JSON form of the benchmark module's manifest: "old" or "new".
    new elevates old (a new host, a wildcard domain, a secret-looking env
    name, a write path) and drops one read path, so diff has work to show."""
    m = {
        "schema": 1,
        "name": "bench-module",
        "version": "1.4.2",
        "needs_read": ["/inputs", "/config", "/usr/share/zoneinfo"],
        "needs_write": ["/outputs"],
        "needs_net": ["api.example.com:443", "telemetry.example.net:443"],
        "needs_env": ["LANG", "TZ", "LOG_LEVEL"],
        "memory_max": 268435456,
    }
    if version == "new":
        m["version"] = "1.5.0"
        m["needs_read"] = ["/inputs", "/config"]
        m["needs_write"] = ["/outputs", "/cache"]
        m["needs_net"] = ["api.example.com:443", "*.cdn.example.org:443",
                          "telemetry.example.net:443"]
        m["needs_env"] = ["LANG", "TZ", "LOG_LEVEL", "API_TOKEN"]
        m["memory_max"] = 536870912
    elif version != "old":
        raise ValueError(version)
    return m


def _cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | extra]) + struct.pack(fmt, n)
    raise ValueError(n)


def cbor(v):
    """Deterministic CBOR (RFC 8949 4.2.1) of the JSON types a manifest uses."""
    if isinstance(v, bool) or v is None:
        raise TypeError(v)
    if isinstance(v, int):
        if v < 0:
            raise ValueError(v)
        return _cbor_head(0, v)
    if isinstance(v, str):
        b = v.encode()
        return _cbor_head(3, len(b)) + b
    if isinstance(v, list):
        return _cbor_head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        items = sorted((cbor(k), cbor(x)) for k, x in v.items())
        return _cbor_head(5, len(items)) + b"".join(k + x for k, x in items)
    raise TypeError(v)


def embed_manifest(module, m):
    """module with a perch.manifest custom section (CBOR of m, lists sorted,
    empty lists and an absent memory_max omitted) appended at the end. Used
    only when `perch wasm manifest set` is not available."""
    norm = {}
    for k, v in m.items():
        if isinstance(v, list):
            if v:
                norm[k] = sorted(v, key=lambda s: s.encode())
        elif v is not None:
            norm[k] = v
    return module + custom("perch.manifest", cbor(norm))


# ---- reading back ---------------------------------------------------------------


def _read_uleb(b, i):
    n = shift = 0
    while True:
        byte = b[i]
        i += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, i


def describe(b):
    """What a module holds, read from its bytes: section sizes and counts."""
    if b[:8] != b"\x00asm\x01\x00\x00\x00":
        raise ValueError("not a wasm module")
    d = {"size": len(b), "sections": 0, "custom_sections": 0, "functions": 0,
         "data_segments": 0, "code_section": 0, "data_section": 0,
         "manifest_sections": 0}
    i = 8
    while i < len(b):
        sid = b[i]
        size, p = _read_uleb(b, i + 1)
        d["sections"] += 1
        if sid == 0:
            d["custom_sections"] += 1
            nlen, q = _read_uleb(b, p)
            if b[q:q + nlen] == b"perch.manifest":
                d["manifest_sections"] += 1
        elif sid == 10:
            d["code_section"] = size
            d["functions"], _ = _read_uleb(b, p)
        elif sid == 11:
            d["data_section"] = size
            d["data_segments"], _ = _read_uleb(b, p)
        i = p + size
    if i != len(b):
        raise ValueError("section overruns the file")
    return d


def validate(path):
    """Run wasm-validate on path; raise with its message when it refuses.
    Returns False (nothing checked) when wabt is not installed."""
    tool = shutil.which("wasm-validate")
    if tool is None:
        return False
    p = subprocess.run([tool, path], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"wasm-validate {path}: {p.stderr.strip() or p.stdout.strip()}")
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", required=True, help="module to write")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--functions", type=int, default=4000)
    ap.add_argument("--body-size", type=int, default=2048, help="mean bytes per body")
    ap.add_argument("--segments", type=int, default=4000)
    ap.add_argument("--segment-size", type=int, default=1536)
    ap.add_argument("--customs", type=int, default=3000)
    ap.add_argument("--custom-size", type=int, default=512)
    ap.add_argument("--manifest", choices=["old", "new"],
                    help="also embed this manifest (generator's own CBOR encoder)")
    ap.add_argument("--manifest-json", metavar="FILE",
                    help="write the JSON form of --manifest (default old) to FILE")
    ap.add_argument("--no-validate", action="store_true")
    a = ap.parse_args(argv)
    mod = generate(a.seed, a.functions, a.body_size, a.segments, a.segment_size,
                   a.customs, a.custom_size)
    if a.manifest:
        mod = embed_manifest(mod, manifest(a.manifest))
    with open(a.output, "wb") as f:
        f.write(mod)
    if a.manifest_json:
        with open(a.manifest_json, "w") as f:
            json.dump(manifest(a.manifest or "old"), f, indent=2)
            f.write("\n")
    if not a.no_validate and not validate(a.output):
        print("note: wasm-validate not found; module not validated", file=sys.stderr)
    print(json.dumps(describe(mod)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
