#!/usr/bin/env python3
"""Time `perch wasm inspect` and `perch wasm diff` against `wasm-objdump -h`.

Builds perch (release, in build-bench/) unless --perch is given, generates
large modules in a temporary directory (genmodule.py), times every command in
the same run (hyperfine when installed, else an internal loop), and prints
what it measured: the modules, the times, perch/wabt ratios and how the cost
grows when only the code section grows (4x). Exit status: 0 when everything
ran (whether or not the targets were met), 2 when something failed to run.
"""
import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, HERE)
import genmodule  # noqa: E402

# Module shapes. body_size is the 1x mean; the 4x module multiplies it only.
SHAPES = {
    "full": dict(functions=4000, body_size=2048, segments=4000, segment_size=1536,
                 customs=3000, custom_size=512),
    "quick": dict(functions=1000, body_size=1024, segments=1000, segment_size=1024,
                  customs=1000, custom_size=256),
}
SCALE = 4
# Growth beyond the floor allowed before "does not grow with the code
# section" counts as missed: a quarter of the 1x cost, at least this much.
SCALING_SLACK_S = 0.0005


class BenchError(Exception):
    """Something failed to run: the benchmark cannot report."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_checked(cmd, what, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise BenchError(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n"
                         f"{p.stdout}{p.stderr}".rstrip())
    return p


# ---- building -------------------------------------------------------------------


# The benchmark's build: optimised as users get it. Warnings are the test
# builds' business (they use -Werror); here a warning that only the release
# optimiser raises must not stop a measurement.
BUILD_OPTIONS = {"buildtype": "release", "werror": False}


def build(build_dir):
    """Configure (BUILD_OPTIONS) and build perch and the floor program; their paths."""
    meson = shutil.which("meson")
    if meson is None:
        raise BenchError("meson not found (needed to build perch; or pass --perch and --floor)")
    want = [f"-D{k}={str(v).lower()}" for k, v in BUILD_OPTIONS.items()]
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        log(f"configuring {build_dir} (release)...")
        run_checked([meson, "setup", build_dir, SOURCE, *want], "meson setup")
    else:
        opts = json.loads(run_checked([meson, "introspect", "--buildoptions", build_dir],
                                      "meson introspect").stdout)
        have = {o["name"]: o["value"] for o in opts}
        if any(have.get(k) != v for k, v in BUILD_OPTIONS.items()):
            log(f"reconfiguring {build_dir} with {' '.join(want)}...")
            run_checked([meson, "configure", build_dir, *want], "meson configure")
    log(f"building perch in {build_dir}...")
    run_checked([meson, "compile", "-C", build_dir, "perch:executable",
                 "perch-bench-floor:executable"], "meson compile")
    targets = json.loads(run_checked([meson, "introspect", "--targets", build_dir],
                                     "meson introspect").stdout)

    def exe(name):
        for t in targets:
            if t["name"] == name and t["type"] == "executable":
                return t["filename"][0]
        raise BenchError(f"no executable {name} in {build_dir}")
    return exe("perch"), exe("perch-bench-floor")


# ---- timing ---------------------------------------------------------------------


# Each timer returns (wall time of each timed run, CPU time of all of them):
# CPU time (user + system) is what a loaded machine disturbs least, since
# waiting for a processor is wall time only.


def hyperfine_times(hf, cmd, name, runs, warmup, ok_codes, out_json):
    args = [hf, "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs),
            "--export-json", out_json, "--command-name", name]
    if ok_codes != {0}:
        args.append("--ignore-failure")
    run_checked(args + [shlex.join(cmd)], f"hyperfine ({name})")
    with open(out_json) as f:
        result = json.load(f)["results"][0]
    times = list(result["times"])
    return times, (result["user"] + result["system"]) * len(times)


def loop_times(cmd, runs, warmup, ok_codes):
    """Wall time: posix_spawn to wait4, output to /dev/null; CPU time from
    the rusage wait4 returns."""
    times, cpu = [], 0.0
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=actions)
            _, status, usage = os.wait4(pid, 0)
            t1 = time.perf_counter()
            code = os.waitstatus_to_exitcode(status)
            if code not in ok_codes:
                raise BenchError(f"{' '.join(cmd)} exited {code} during timing")
            if i >= warmup:
                times.append(t1 - t0)
                cpu += usage.ru_utime + usage.ru_stime
    finally:
        os.close(devnull)
    return times, cpu


def summarize(times, cpu):
    """Median and minimum wall time, mean CPU time, of one command's runs."""
    return {"median": statistics.median(times), "min": min(times),
            "cpu": cpu / len(times), "runs": len(times), "times": times}


def time_all(cmds, runs, warmup, rounds, hf, tmp):
    """Time every command runs times, in rounds: each round gives every
    command its share of the runs (after warmup runs), so a change in the
    machine's load during the run falls on all commands alike."""
    times = {key: [] for key in cmds}
    cpu = dict.fromkeys(cmds, 0.0)
    rounds = max(1, min(rounds, runs))
    for rnd in range(rounds):
        n = runs // rounds + (1 if rnd < runs % rounds else 0)
        for key, (label, cmd, codes) in cmds.items():
            if hf:
                t, c = hyperfine_times(hf, cmd, label, n, warmup, codes,
                                       os.path.join(tmp, f"hyperfine-{key}.json"))
            else:
                t, c = loop_times(cmd, n, warmup, codes)
            times[key] += t
            cpu[key] += c
        log(f"  round {rnd + 1}/{rounds} done")
    return {key: dict(summarize(t, cpu[key]), label=cmds[key][0], argv=cmds[key][1])
            for key, t in times.items()}


# ---- the report -----------------------------------------------------------------


def fmt_ms(s):
    return f"{s * 1000:.2f} ms"


def fmt_mb(n):
    return f"{n / 1e6:.2f} MB"


def ratio(a, b):
    return a / b if b > 0 else float("inf")


def beyond(cmd_s, floor_s):
    """Time of a command beyond its floor, never below zero."""
    return max(0.0, cmd_s - floor_s)


def scaling_met(b1, b4):
    """The cost beyond the floor did not grow with the code section: it grew
    by at most a quarter of its 1x value (or by noise, SCALING_SLACK_S)."""
    return b4 - b1 <= max(0.25 * b1, SCALING_SLACK_S)


def verdict(met):
    return "met" if met else "MISSED"


STATS = ("median", "min", "cpu")


def report(r):
    """The text report of a run's results r; sets r["targets"]."""
    out = []
    p = out.append
    m = r["modules"]
    t = r["timings"]

    def head(title, cols, w=10, lw=44):
        p(f"  {title:<{lw + 2}}" + "".join(f"{c:>{w}}" for c in cols))

    def row(label, cells, w=10, tail="", lw=44):
        p(f"    {label:<{lw}}" + "".join(f"{c:>{w}}" for c in cells) + tail)

    p("perch inspect/diff benchmark (one run)")
    p(f"  machine:  {r['machine']}")
    p(f"  perch:    {r['perch_version']} ({r['perch_build']})")
    p(f"  wabt:     wasm-objdump {r['wabt_version']}")
    p(f"  timer:    {r['timer']}; per command {r['runs']} timed runs in {r['rounds']} "
      f"round(s),")
    p(f"            each round after {r['warmup']} warmup run(s); commands interleaved "
      f"round by round")
    p("            median and min: wall time; cpu: mean user + system time")
    p(f"  modules:  seed {r['seed']}, shape '{r['shape']}', {r['validated']};")
    p(f"            manifests embedded by {r['embedded_by']}")
    p("")
    head("module (old; new differs only in its manifest)", ("1x", "4x"), 12)
    rows = [("file size", "size", fmt_mb), ("code section", "code_section", fmt_mb),
            ("data section", "data_section", fmt_mb),
            ("function bodies", "functions", str), ("data segments", "data_segments", str),
            ("custom sections (with perch.manifest)", "custom_sections", str),
            ("sections in all", "sections", str)]
    for label, key, f in rows:
        row(label, (f(m["1x"]["old"][key]), f(m["4x"]["old"][key])), 12)
    p("")
    head("command", STATS, 12)
    for key in r["order"]:
        row(t[key]["label"], [fmt_ms(t[key][s]) for s in STATS], 12)
    p("")
    head("perch / wasm-objdump -h, same module", STATS)
    speed = []
    for size in ("1x", "4x"):
        for cmd in ("inspect", "diff"):
            v = [ratio(t[f"{cmd}-{size}"][s], t[f"objdump-{size}"][s]) for s in STATS]
            speed.append(v[0] <= 1.0)
            row(f"perch wasm {cmd} {size}", [f"{x:.3f}" for x in v],
                tail=f"   {verdict(v[0] <= 1.0)}")
    p("    (target: median at or below 1; diff reads two modules, wasm-objdump -h one)")
    p("")
    code_x = ratio(m["4x"]["old"]["code_section"], m["1x"]["old"]["code_section"])
    file_x = ratio(m["4x"]["old"]["size"], m["1x"]["old"]["size"])
    head("time 4x / time 1x", STATS)
    p(f"    (code section {code_x:.2f}x, file {file_x:.2f}x)")
    for key in ("inspect", "diff", "objdump", "floor-inspect", "floor-diff", "floor-mmap"):
        e1, e4 = t[f"{key}-1x"], t[f"{key}-4x"]
        row(e1["label"].replace("-1x", ""), [f"{ratio(e4[s], e1[s]):.3f}" for s in STATS])
    p("")
    head("time beyond the floor (ms)", STATS, 16, 26)
    p("    1x -> 4x")
    scaling = []
    for cmd in ("inspect", "diff"):
        cells = []
        for s in STATS:
            b1 = beyond(t[f"{cmd}-1x"][s], t[f"floor-{cmd}-1x"][s])
            b4 = beyond(t[f"{cmd}-4x"][s], t[f"floor-{cmd}-4x"][s])
            cells.append(f"{b1 * 1000:.1f} -> {b4 * 1000:.1f}")
            if s == "median":
                scaling.append(scaling_met(b1, b4))
        row(f"perch wasm {cmd}", cells, 16, f"   {verdict(scaling[-1])}", 26)
    p("    (target: the median grows by at most 25% of its 1x value, or by "
      f"{SCALING_SLACK_S * 1000:.1f} ms)")
    p("")
    p(f"  targets: at or below wabt {verdict(all(speed))} ({sum(speed)}/{len(speed)}); "
      f"no growth with the code section {verdict(all(scaling))} "
      f"({sum(scaling)}/{len(scaling)})")
    r["targets"] = {"speed": all(speed), "scaling": all(scaling)}
    return "\n".join(out)


# ---- the run --------------------------------------------------------------------


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores{', ' + model if model else ''}, " \
           f"{platform.system()} {platform.release()}"


def make_modules(perch, tmp, shape, seed, validate):
    """Write base, old and new modules for 1x and 4x; their descriptions."""
    files, desc = {}, {}
    embedded = set()
    validated = False
    for name in ("old", "new"):
        with open(os.path.join(tmp, f"{name}.json"), "w") as f:
            json.dump(genmodule.manifest(name), f, indent=2)
            f.write("\n")
    for size, mult in (("1x", 1), ("4x", SCALE)):
        params = dict(SHAPES[shape])
        params["body_size"] *= mult
        log(f"generating the {size} module...")
        base = genmodule.generate(seed=seed, **params)
        base_path = os.path.join(tmp, f"base-{size}.wasm")
        with open(base_path, "wb") as f:
            f.write(base)
        if validate:
            log(f"validating the {size} module with wasm-validate...")
            validated = genmodule.validate(base_path) or validated
        base_desc = genmodule.describe(base)
        files[size], desc[size] = {}, {}
        for name in ("old", "new"):
            path = os.path.join(tmp, f"{name}-{size}.wasm")
            p = subprocess.run([perch, "wasm", "manifest", "set", base_path,
                                os.path.join(tmp, f"{name}.json"), "-o", path],
                               capture_output=True, text=True)
            if p.returncode == 0:
                embedded.add("perch wasm manifest set")
            else:
                log(f"warning: perch wasm manifest set failed (exit {p.returncode}): "
                    f"{p.stderr.strip()}; using the generator's encoder")
                with open(path, "wb") as f:
                    f.write(genmodule.embed_manifest(base, genmodule.manifest(name)))
                embedded.add("the generator's CBOR encoder")
            with open(path, "rb") as f:
                d = genmodule.describe(f.read())
            # Everything but the manifest must be what was generated.
            for k in ("functions", "data_segments", "code_section", "data_section"):
                if d[k] != base_desc[k]:
                    raise BenchError(f"{path}: {k} is {d[k]}, generated {base_desc[k]}")
            if d["manifest_sections"] != 1:
                raise BenchError(f"{path}: {d['manifest_sections']} perch.manifest sections")
            files[size][name], desc[size][name] = path, d
    if validated:
        checked = "validated with wasm-validate"
    else:
        checked = "NOT validated (" + ("--no-validate" if not validate
                                       else "wasm-validate not installed") + ")"
    return files, desc, " and ".join(sorted(embedded)), checked


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_once(label, argv, codes):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode not in codes:
        raise BenchError(f"{label} failed (exit {p.returncode}):\n{p.stdout}{p.stderr}".rstrip())
    return p.stdout


def commands(perch, floor, objdump, files, diff_hashes):
    """Every timed command: key -> (label, argv, accepted exit codes).
    A floor is the part of a command's work that reading and hashing whole
    files costs: read + SHA-256 of the module for inspect; for diff the same
    of both modules when it reports both digests, else reading both. The
    mmap floor hashes the module through a mapping instead of a copy."""
    cmds = {}
    for size in ("1x", "4x"):
        old, new = files[size]["old"], files[size]["new"]
        o, n = f"old-{size}", f"new-{size}"
        cmds[f"inspect-{size}"] = (f"perch wasm inspect {o}", [perch, "wasm", "inspect", old], {0})
        cmds[f"diff-{size}"] = (f"perch wasm diff {o} {n}", [perch, "wasm", "diff", old, new], {0})
        cmds[f"objdump-{size}"] = (f"wasm-objdump -h {o}", [objdump, "-h", old], {0})
        cmds[f"floor-inspect-{size}"] = (f"floor: read + SHA-256 {o}",
                                         [floor, "sha256", old], {0})
        cmds[f"floor-mmap-{size}"] = (f"floor: mmap + SHA-256 {o}",
                                      [floor, "mmap-sha256", old], {0})
        if diff_hashes:
            cmds[f"floor-diff-{size}"] = (f"floor: read + SHA-256 {o} {n}",
                                          [floor, "sha256", old, new], {0})
        else:
            cmds[f"floor-diff-{size}"] = (f"floor: read {o} {n}", [floor, "read", old, new], {0})
    return cmds


def check_outputs(cmds, files):
    """Run each command once and check it did the work being timed, so a
    fast failure is never reported as a fast success."""
    for key, (label, argv, codes) in cmds.items():
        out = run_once(label, argv, codes)
        size = key.rsplit("-", 1)[1]
        digest = sha256_file(files[size]["old"])
        if key.startswith("inspect-"):
            if "bench-module" not in out:
                raise BenchError(f"{label} did not report the manifest's name:\n{out}")
            if digest not in out:
                raise BenchError(f"{label} did not print the module's SHA-256 {digest}:\n{out}")
        elif key.startswith("diff-"):
            if "ELEVATED" not in out.upper():
                raise BenchError(f"{label} did not find the elevation:\n{out}")
        elif key.startswith("floor-") and argv[1] in ("sha256", "mmap-sha256"):
            if not out.startswith(digest):
                raise BenchError(f"{label} printed a wrong digest: {out}")


def tool_version(argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    return (p.stdout.strip() or p.stderr.strip()).splitlines()[0] if p.returncode == 0 else "?"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="small modules (a few MB) and few runs: a smoke test")
    ap.add_argument("--runs", type=int, help="timed runs per command (default 20, quick 6)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="warmup runs per command in each round (default 1)")
    ap.add_argument("--rounds", type=int,
                    help="rounds the runs are spread over (default 10, quick 3)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--build-dir", default=os.path.join(SOURCE, "build-bench"))
    ap.add_argument("--perch", help="use this perch instead of building one (needs --floor)")
    ap.add_argument("--floor", help="use this perch-bench-floor (with --perch)")
    ap.add_argument("--no-hyperfine", action="store_true", help="use the internal loop")
    ap.add_argument("--no-validate", action="store_true", help="skip wasm-validate")
    ap.add_argument("--keep", metavar="DIR", help="write the modules to DIR and keep them")
    ap.add_argument("--json", metavar="FILE", help="also write every measurement to FILE")
    a = ap.parse_args(argv)
    shape = "quick" if a.quick else "full"
    runs = a.runs or (6 if a.quick else 20)
    rounds = min(runs, a.rounds or (3 if a.quick else 10))
    if runs < 1 or a.warmup < 0 or rounds < 1:
        ap.error("--runs and --rounds must be at least 1, --warmup at least 0")
    if bool(a.perch) != bool(a.floor):
        ap.error("--perch and --floor go together")

    try:
        objdump = shutil.which("wasm-objdump")
        if objdump is None:
            raise BenchError("wasm-objdump not found (Debian package wabt): nothing to compare with")
        if a.perch:
            perch, floor = os.path.abspath(a.perch), os.path.abspath(a.floor)
            perch_build = "given with --perch"
        else:
            perch, floor = build(os.path.abspath(a.build_dir))
            perch_build = f"release build in {os.path.basename(os.path.abspath(a.build_dir))}/"
        hf = None if a.no_hyperfine else shutil.which("hyperfine")

        with tempfile.TemporaryDirectory(prefix="perch-bench-") as tmpdir:
            tmp = a.keep or tmpdir
            os.makedirs(tmp, exist_ok=True)
            files, desc, embedded_by, validated = make_modules(
                perch, tmp, shape, a.seed, not a.no_validate)
            # diff's digests, if it reports them, are in its JSON form.
            diff_out = run_once("perch wasm diff", [perch, "wasm", "diff", "--format", "json",
                                                    files["1x"]["old"], files["1x"]["new"]], {0})
            diff_hashes = all(sha256_file(files["1x"][v]) in diff_out for v in ("old", "new"))
            cmds = commands(perch, floor, objdump, files, diff_hashes)
            log("checking every command's output once...")
            check_outputs(cmds, files)
            log(f"timing {len(cmds)} commands...")
            timings = time_all(cmds, runs, a.warmup, rounds, hf, tmp)
        r = {
            "machine": machine(),
            "perch_version": tool_version([perch, "--version"]),
            "perch_build": perch_build,
            "wabt_version": tool_version([objdump, "--version"]),
            "timer": (f"{tool_version([hf, '--version'])} (-N: no shell)" if hf
                      else "internal loop (posix_spawn to waitpid, wall clock)"),
            "runs": runs, "warmup": a.warmup, "rounds": rounds, "seed": a.seed, "shape": shape,
            "validated": validated, "embedded_by": embedded_by,
            "modules": desc, "timings": timings, "order": list(cmds),
        }
        print(report(r))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(r, f, indent=2)
                f.write("\n")
    except (BenchError, OSError) as e:
        log(f"bench: {e}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
