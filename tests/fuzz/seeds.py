#!/usr/bin/env python3
"""Write the fuzz targets' seed corpora: OUTDIR/<target>/<name>.

usage: seeds.py OUTDIR [MODULE.wasm...]

The modules built from tests/modules/*.wat seed the module reader, next to
small hand-made inputs that reach each section kind and the edges of the
binary format. The manifest targets get small CBOR and JSON documents. No
seed is stored in the source tree: they are all written here.
"""
import os
import sys

HDR = b"\0asm\1\0\0\0"


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


def name(s):
    b = s.encode() if isinstance(s, str) else s
    return uleb(len(b)) + b


def section(sid, payload):
    return bytes([sid]) + uleb(len(payload)) + payload


def custom(nm, content=b""):
    return section(0, name(nm) + content)


# ---- CBOR, enough for manifests (definite lengths, shortest heads) --------

def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
    raise ValueError(n)


def cbor(v):
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return cbor_head(0, v) if v >= 0 else cbor_head(1, -1 - v)
    if isinstance(v, str):
        b = v.encode()
        return cbor_head(3, len(b)) + b
    if isinstance(v, bytes):
        return cbor_head(2, len(v)) + v
    if isinstance(v, list):
        return cbor_head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        items = sorted((cbor(k), cbor(x)) for k, x in v.items())
        return cbor_head(5, len(items)) + b"".join(k + x for k, x in items)
    raise TypeError(v)


MANIFESTS = [
    {"schema": 1, "name": "m", "version": "1.0.0"},
    {"schema": 1, "name": "fetch", "version": "0.2.1-rc.1+b5",
     "needs_read": ["/inputs"], "needs_write": ["/out"],
     "needs_net": ["api.example.com:443", "*.example.org:80"],
     "needs_env": ["HOME", "API_TOKEN"], "memory_max": 16777216},
    {"schema": 1, "name": "wild", "version": "1.0.0", "needs_net": ["*"],
     "needs_write": ["/"]},
    {"schema": 2, "name": "", "version": "x"},
    {"schema": 1, "name": "a", "version": "1.0.0", "extra": 1},
    {"schema": 1, "name": "a", "version": "1.0.0", "needs_read": ["../etc"]},
    {"schema": 1, "name": "a", "version": "1.0.0", "needs_net": ["h:99999"]},
    {"schema": 1, "name": "a", "version": "1.0.0", "memory_max": 2 ** 64 - 1},
]


def reader_seeds(modules):
    seeds = {}
    for path in modules:
        with open(path, "rb") as f:
            seeds["module_" + os.path.basename(path)] = f.read()
    type_sec = section(1, b"\x02\x60\x00\x00\x60\x02\x7f\x7e\x01\x7f")
    imports = section(2, b"\x04"
                      + name("wasi_snapshot_preview1") + name("fd_write") + b"\x00\x00"
                      + name("env") + name("table") + b"\x01\x70\x00\x01"
                      + name("env") + name("memory") + b"\x02\x01\x01\x10"
                      + name("env") + name("g") + b"\x03\x7f\x01")
    func = section(3, b"\x01\x00")
    table = section(4, b"\x01\x70\x01\x00\x10")
    memory = section(5, b"\x02\x00\x01\x01\x01\x82\x80\x80\x80\x00")
    glob = section(6, b"\x01\x7f\x00\x41\x00\x0b")
    exports = section(7, b"\x03" + name("_start") + b"\x00\x01"
                      + name("memory") + b"\x02\x00" + name("") + b"\x03\x00")
    start = section(8, b"\x01")
    elem = section(9, b"\x01\x00\x41\x00\x0b\x01\x00")
    datacount = section(12, b"\x01")
    code = section(10, b"\x02\x02\x00\x0b\x04\x01\x01\x7f\x0b")
    data = section(11, b"\x01\x00\x41\x00\x0b\x02hi")
    full = (HDR + type_sec + imports + func + table + memory + glob + exports
            + start + elem + datacount + code + data)
    seeds.update({
        "empty": b"",
        "magic": b"\0asm",
        "header": HDR,
        "full": full,
        "full_customs": HDR + custom("name") + type_sec + custom("") + imports
        + custom("perch.manifest", cbor(MANIFESTS[1])) + func + code
        + custom("perch.signature", b'{"algo":"ed25519"}'),
        "imports": HDR + type_sec + imports,
        "exports": HDR + exports,
        "memory": HDR + memory,
        "custom_empty_payload": HDR + b"\x00\x00",
        "custom_utf8": HDR + custom("\u00e9\u20ac\U0001f426"),
        "custom_bad_utf8": HDR + section(0, b"\x02\xc0\x80"),
        "custom_surrogate": HDR + section(0, b"\x03\xed\xa0\x80"),
        "size_padded": HDR + b"\x00\x8a\x00\x01" + b"1" + b"23456789",
        "size_too_long": HDR + b"\x00\x83\x80\x80\x80\x80\x00\x01" + b"12",
        "size_overrun": HDR + b"\x01\x05\x01\x60\x00\x00",
        "unknown_id": HDR + b"\x0d\x00",
        "out_of_order": HDR + section(3, b"\x00") + section(1, b"\x00"),
        "duplicate": HDR + section(1, b"\x00") + section(1, b"\x00"),
        "datacount_order": HDR + section(9, b"\x00") + section(12, b"\x00")
        + section(10, b"\x00"),
        "import_kind": HDR + section(2, b"\x01\x01m\x01f\x04\x00"),
        "limits_flag": HDR + section(5, b"\x01\x02\x00"),
        "count_huge": HDR + section(7, b"\xff\xff\xff\xff\x0f\x00"),
        "size_mismatch": HDR + section(5, b"\x01\x00\x00\x00"),
        "many_sections": HDR + custom("c") * 40,
    })
    return seeds


def cbor_seeds():
    seeds = {"m%d" % i: cbor(m) for i, m in enumerate(MANIFESTS)}
    seeds.update({
        "empty": b"",
        "empty_map": b"\xa0",
        "indefinite_map": b"\xbf\x66schema\x01\xff",
        "dup_key": b"\xa2\x66schema\x01\x66schema\x01",
        "non_shortest": b"\xa1\x66schema\x18\x01",
        "text_key_bytes": b"\xa1\x46schema\x01",
        "truncated": cbor(MANIFESTS[1])[:-3],
        "nested": b"\x81" * 64 + b"\x00",
        "tag": b"\xc0\x74" + b"2020-01-01T00:00:00Z",
        "float": b"\xa1\x6amemory_max\xfb\x41\x70\x00\x00\x00\x00\x00\x00",
    })
    return seeds


def json_seeds():
    return {
        "minimal": b'{"schema":1,"name":"m","version":"1.0.0"}',
        "full": b'{"name":"fetch","version":"0.2.1","needs_read":["/inputs"],'
                b'"needs_write":["/out"],"needs_net":["api.example.com:443","*"],'
                b'"needs_env":["HOME"],"memory_max":16777216}',
        "empty": b"",
        "empty_object": b"{}",
        "array": b"[]",
        "dup_key": b'{"name":"a","name":"b","version":"1.0.0"}',
        "unknown_key": b'{"name":"a","version":"1.0.0","needs_gpu":true}',
        "bad_types": b'{"name":1,"version":[],"needs_read":"/x","memory_max":-1}',
        "big_number": b'{"name":"a","version":"1.0.0","memory_max":1e400}',
        "escapes": b'{"name":"\\u0000\\ud800","version":"1.0.0"}',
        "deep": b"[" * 200 + b"]" * 200,
        "bad_utf8": b'{"name":"\xc0\x80","version":"1.0.0"}',
    }


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    out = sys.argv[1]
    corpora = {
        "fuzz_reader": reader_seeds(sys.argv[2:]),
        "fuzz_manifest_cbor": cbor_seeds(),
        "fuzz_manifest_json": json_seeds(),
    }
    for target, seeds in corpora.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for nm, data in seeds.items():
            with open(os.path.join(d, nm), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
