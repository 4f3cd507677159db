"""Seeded mutation ("fuzz") test of every file kind the blockscope CLI reads.

For each kind — data, partition, gradients, params, checkpoint, spectrum (read
by `report`) and TorchScript — valid base files are made once, then a few
hundred seeded corruptions of them are fed to the commands that read them:

- byte level: truncation, flipped bits, random or zeroed byte ranges (biased
  towards HDF5 metadata, away from raw data), appended/prepended bytes;
- HDF5 structure (h5py on a copy): deleted datasets, groups and attributes;
  extra or duplicated ones; datasets of another dtype (float64/16, big-endian,
  int32/8, uint8/64, bool, strings, compound, enum, opaque, array) or shape
  (scalar, empty, extra/missing/reversed dims, off by one); huge dimensions
  (2^40 elements, chunked and never written, so the file stays small);
  NaN/Inf/extreme values; changed string and numeric attributes (other
  schema, numbers for strings, fixed-length and non-UTF-8 strings, arrays);
  swapped, renamed or dangling/looping links;
- TorchScript zip: byte-level corruption of the archive, and deleted,
  truncated, bit-flipped, renamed, duplicated or edited members (code,
  pickles, tensor storage, version).

The structural mutations walk every dataset, group and attribute of each base
file, so every one is hit. Each case is either rejected — exit code exactly 1,
exactly one non-empty stderr line starting with "blockscope: error:", and no
output file (nor `*.tmp-*` temporary) left behind — or, when the mutation
leaves the file valid, succeeds with exit 0 and its output written. Signals,
aborts, other exit codes, multi-line errors, hangs (timeout) and leftover
files fail the test; one test per kind lists ALL its failing cases.

Every case is named KIND/VARIANT/INDEX; its mutation is a pure function of
that name (random.Random(name)) and the base file, so a failure reproduces:
the message gives the mutation, the command and the case directory, which is
kept (passing cases are deleted). Re-run selected cases with
    BLOCKSCOPE_MUTATION_CASES=checkpoint/adamw/17,data/classes/3 pytest ... test_mutations.py
Other knobs: BLOCKSCOPE_MUTATION_SCALE (multiplies the per-kind counts),
BLOCKSCOPE_MUTATION_WORKERS (parallel processes, default 2),
BLOCKSCOPE_MUTATION_VERBOSE=1 (print every case's outcome; with -s),
BLOCKSCOPE_MUTATION_TIMEOUT (seconds per command, default 60),
BLOCKSCOPE_MUTATION_MEMORY_GIB (address-space limit per command through
prlimit, default 4, so a mutation that makes the tool allocate wildly fails
fast instead of swapping the CI machine; 0 disables it).

The binary is copied once per session (a rebuild during the run does not
change it); reports name the path given with --blockscope.

Counts (cases per kind, two base variants each except params and
TorchScript): data 200 (class / regression targets), partition 200
(adam-mini / per-tensor), gradients 200 ([K, *shape] / [*shape]), params 200,
checkpoint 274 (adamw / gefen state), spectrum 209 (per-tensor with top-k /
adam-mini blocks), TorchScript 200 — 1483 commands. A variant's count grows by
itself when its base file has more sites than structural cases (that is why
checkpoint and spectrum exceed their 250 / 200 defaults). Each command is one
process start of about 0.35 s CPU; run two at a time on a 2-core machine the
whole file needs 10.5 min of CPU, about 5.5 min of wall time when the machine
is otherwise idle (measured: 200 data cases in 43 s idle; the whole file in
11.7 min while other jobs loaded both cores).
"""
import concurrent.futures
import io
import os
import random
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pytest

TIMEOUT = float(os.environ.get("BLOCKSCOPE_MUTATION_TIMEOUT", "60"))
WORKERS = int(os.environ.get("BLOCKSCOPE_MUTATION_WORKERS", "2"))
SCALE = float(os.environ.get("BLOCKSCOPE_MUTATION_SCALE", "1"))
MEMORY_GIB = float(os.environ.get("BLOCKSCOPE_MUTATION_MEMORY_GIB", "4"))
VERBOSE = os.environ.get("BLOCKSCOPE_MUTATION_VERBOSE", "") not in ("", "0")
ONLY = {c.strip() for c in os.environ.get("BLOCKSCOPE_MUTATION_CASES", "").split(",") if c.strip()}

# mlp's parameters (d_in=16 hidden=32 depth=2 classes=4).
MLP_SHAPES = {
    "linear.0.weight": (32, 16), "linear.0.bias": (32,),
    "linear.1.weight": (32, 32), "linear.1.bias": (32,),
    "linear.2.weight": (4, 32), "linear.2.bias": (4,),
}
CHEAP_SPECTRUM = ["--lanczos-steps", "2", "--probes", "1", "--top-k", "0", "--batch-size", "8",
                  "--bootstrap", "0", "--threads", "1"]


def count(n):
    return max(1, int(round(n * SCALE)))


# --------------------------------------------------------------------------------------------
# Running the binary


def child_env():
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    return env


def command_prefix(binary):
    if MEMORY_GIB > 0 and shutil.which("prlimit"):
        return ["prlimit", f"--as={int(MEMORY_GIB * 2**30)}", "--", os.fspath(binary)]
    return [os.fspath(binary)]


@dataclass
class Reader:
    """A command that reads the mutated file. `args(input, base)` gives argv
    (relative to the case directory) and `outputs` the files it writes on
    success (relative); `plots` a directory it may fill."""
    name: str
    args: object
    outputs: tuple = ()
    plots: str = None


@dataclass
class Case:
    name: str            # KIND/VARIANT/INDEX
    mutation: str = ""
    reader: Reader = None
    directory: Path = None
    input_name: str = ""
    argv: list = field(default_factory=list)


def run_case(binary, case):
    argv = command_prefix(binary) + case.argv
    start = time.monotonic()
    try:
        result = subprocess.run(argv, cwd=case.directory, capture_output=True, timeout=TIMEOUT,
                                env=child_env(), stdin=subprocess.DEVNULL)
        rc, stderr = result.returncode, result.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        rc, stderr = None, (e.stderr or b"").decode("utf-8", "replace")
    elapsed = time.monotonic() - start
    left = sorted(str(p.relative_to(case.directory)) for p in case.directory.rglob("*")
                  if p.is_file() and p.name != case.input_name)
    temporaries = [p for p in left if ".tmp-" in p]
    lines = [line for line in stderr.splitlines() if line.strip()]
    symptom = None
    if rc is None:
        symptom = f"hang (no exit within {TIMEOUT:g} s)"
    elif rc < 0:
        symptom = f"signal {-rc}"
    elif rc not in (0, 1):
        symptom = f"exit code {rc}" + (" (abort)" if rc == 134 or "terminate called" in stderr else "")
    elif rc == 1:
        if len(lines) != 1:
            symptom = f"{len(lines)} stderr lines (want 1)"
        elif not lines[0].startswith("blockscope: error:"):
            symptom = "stderr line without 'blockscope: error:'"
        elif left:
            symptom = f"output left after failure: {left}"
    else:
        missing = [o for o in case.reader.outputs if not (case.directory / o).is_file()]
        if missing:
            symptom = f"exit 0 but no output {missing}"
        elif temporaries:
            symptom = f"exit 0 but temporaries left: {temporaries}"
    return {"case": case, "rc": rc, "lines": lines, "symptom": symptom, "seconds": elapsed}


def shell_quote(words):
    return " ".join(w if re.fullmatch(r"[\w./=:,+-]+", w) else "'" + w.replace("'", "'\\''") + "'"
                    for w in words)


def run_cases(binary, kind, cases):
    """Runs the prepared cases; fails listing every case that misbehaved."""
    started = time.monotonic()
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = [pool.submit(run_case, binary, case) for case in cases]
        for future in futures:
            results.append(future.result())
    failures = [r for r in results if r["symptom"]]
    if VERBOSE:
        for r in results:
            c = r["case"]
            print(f"{c.name} [{c.mutation}] via {c.reader.name}: rc={r['rc']} {r['seconds']:.2f}s "
                  f"{(r['lines'] or [''])[-1][:160]}{' FAIL: ' + r['symptom'] if r['symptom'] else ''}")
    for r in results:
        if not r["symptom"]:
            shutil.rmtree(r["case"].directory, ignore_errors=True)
    accepted = sum(1 for r in results if r["rc"] == 0)
    print(f"\n{kind}: {len(results)} cases in {time.monotonic() - started:.1f} s: {accepted} accepted, "
          f"{len(results) - accepted - len(failures)} rejected cleanly, {len(failures)} failed")
    if not failures:
        return
    by_symptom = {}
    for r in failures:
        key = re.sub(r"\[.*\]", "[...]", r["symptom"])
        by_symptom.setdefault(key, []).append(r)
    report = [f"{len(failures)} of {len(results)} {kind} mutations misbehaved "
              f"(binary {binary}):"]
    for symptom, rs in sorted(by_symptom.items(), key=lambda kv: -len(kv[1])):
        report.append(f"== {symptom}: {len(rs)} cases")
        for r in rs:
            c = r["case"]
            first = " | ".join(line[:200] for line in r["lines"][:3]) or "(empty stderr)"
            report.append(f"- {c.name} [{c.mutation}] via {c.reader.name}: rc={r['rc']}; stderr: {first}\n"
                          f"    reproduce: cd {c.directory} && {shell_quote(command_prefix(binary)[:-1] + [str(binary)] + c.argv)}")
    pytest.fail("\n".join(report), pytrace=False)


# --------------------------------------------------------------------------------------------
# Byte-level mutations (any file)


def raw_data_ranges(path):
    """[start, end) byte ranges of contiguous raw data in an HDF5 file."""
    ranges = []
    with h5py.File(path, "r") as f:
        def visit(_, obj):
            if isinstance(obj, h5py.Dataset) and obj.chunks is None:
                try:
                    offset = obj.id.get_offset()
                except Exception:
                    offset = None
                if offset is not None:
                    ranges.append((offset, offset + obj.id.get_storage_size()))
        f.visititems(visit)
    return sorted(ranges)


def pick_offset(rng, size, metadata):
    """A byte offset, from the metadata offsets 3 times in 4 when known."""
    if metadata and rng.random() < 0.75:
        return rng.choice(metadata)
    return rng.randrange(size)


def mutate_bytes(rng, data, metadata=None):
    """Returns (new bytes, description)."""
    size = len(data)
    op = rng.choices(["truncate", "flip", "randomize", "zero", "append", "prepend"],
                     weights=[30, 30, 15, 15, 5, 5])[0]
    buf = bytearray(data)
    if op == "truncate":
        how = rng.random()
        if how < 0.3:
            cut = rng.randrange(0, min(size, 1024))
        elif how < 0.5:
            cut = size - rng.randrange(1, min(size, 256))
        else:
            cut = rng.randrange(0, size)
        return bytes(buf[:cut]), f"truncate to {cut} of {size} bytes"
    if op == "flip":
        n = rng.choice([1, 1, 1, 2, 3, 4, 8, 16, 64])
        spots = []
        for _ in range(n):
            at, bit = pick_offset(rng, size, metadata), rng.randrange(8)
            buf[at] ^= 1 << bit
            spots.append(f"{at}.{bit}")
        shown = ",".join(spots[:6]) + (",..." if n > 6 else "")
        return bytes(buf), f"flip {n} bit(s) at byte.bit {shown}"
    if op == "randomize":
        at = pick_offset(rng, size, metadata)
        n = min(rng.choice([1, 2, 4, 8, 16]), size - at)
        buf[at:at + n] = bytes(rng.randrange(256) for _ in range(n))
        return bytes(buf), f"randomize {n} byte(s) at {at}"
    if op == "zero":
        at = pick_offset(rng, size, metadata)
        n = min(rng.choice([1, 4, 8, 16, 64, 256, 1024]), size - at)
        buf[at:at + n] = bytes(n)
        return bytes(buf), f"zero {n} byte(s) at {at}"
    if op == "append":
        n = rng.choice([1, 7, 512, 4096])
        return bytes(buf) + bytes(rng.randrange(256) for _ in range(n)), f"append {n} random bytes"
    n = rng.choice([1, 512])
    return bytes(n) + bytes(buf), f"prepend {n} zero bytes"


# --------------------------------------------------------------------------------------------
# HDF5 structural mutations (h5py on a copy)


def hdf5_sites(path):
    """Every dataset, group and attribute of a file, in a fixed order."""
    sites = [("group", "/")]
    with h5py.File(path, "r") as f:
        for name, value in f.attrs.items():
            sites.append(("attr", "/", name))

        def visit(name, obj):
            sites.append(("dataset" if isinstance(obj, h5py.Dataset) else "group", "/" + name))
            for attr in obj.attrs:
                sites.append(("attr", "/" + name, attr))
        f.visititems(visit)
    return sites


def parent_of(path):
    parent = path.rsplit("/", 1)[0]
    return parent or "/"


def sibling_name(name):
    """A new name like an existing one: the next number, or a suffix."""
    m = re.search(r"(\d+)(\D*)$", name)
    if m:
        return name[:m.start(1)] + str(int(m.group(1)) + 7) + m.group(2)
    return name + "_extra"


def values_of(dset):
    return dset[()]


def numeric_source(values, shape):
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)


NEW_DTYPES = ["<f8", "<f4", "<f2", ">f4", ">i8", "<i8", "<i4", "<i2", "<i1", "<u1", "<u8", "bool",
              "vlen-str", "fixed-str", "compound", "complex", "enum", "array", "opaque"]


def converted(values, shape, dtype_name):
    """(data, h5py dtype) of `values` converted to another element type."""
    size = int(np.prod(shape, dtype=np.int64))
    flat = np.asarray(values).reshape(-1) if np.ndim(values) else np.asarray([values])
    if dtype_name == "vlen-str":
        strs = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in flat.tolist()]
        return np.array(strs, dtype=object).reshape(shape), h5py.string_dtype()
    if dtype_name == "fixed-str":
        strs = [v if isinstance(v, bytes) else str(v).encode() for v in flat.tolist()]
        return np.array(strs, dtype="S12").reshape(shape), None
    src = numeric_source(values, shape).astype(np.float64, copy=False).reshape(-1)
    with np.errstate(all="ignore"):
        if dtype_name == "compound":
            dt = np.dtype([("re", "<f4"), ("n", "<i4")])
            out = np.zeros(size, dt)
            out["re"], out["n"] = src, np.nan_to_num(src).astype(np.int32)
            return out.reshape(shape), dt
        if dtype_name == "complex":
            return (src + 1j * src).astype(np.complex64).reshape(shape), None
        if dtype_name == "enum":
            dt = h5py.enum_dtype({"A": 0, "B": 1, "C": 2}, basetype="i1")
            return (np.nan_to_num(np.abs(src)).astype(np.int64) % 3).astype(np.int8).reshape(shape), dt
        if dtype_name == "array":
            dt = np.dtype(("<f4", (2,)))
            out = np.repeat(src.astype(np.float32)[:, None], 2, axis=1)
            return out.reshape(tuple(shape) + (2,)), dt
        if dtype_name == "opaque":
            return np.frombuffer(src.astype("<f8").tobytes(), dtype="V8").reshape(shape), None
        if dtype_name == "bool":
            return (np.nan_to_num(src) != 0).reshape(shape), None
        if dtype_name[1] in "iu":
            src = np.nan_to_num(src, nan=0, posinf=0, neginf=0)
        return src.astype(dtype_name).reshape(shape), None


def replace_dataset(f, path, data=None, shape=None, dtype=None, **kw):
    """Replaces a dataset by a new one with its attributes (the old one
    stays when the new one cannot be made)."""
    temporary = path + ".new"
    if data is not None:
        new = f.create_dataset(temporary, data=data, dtype=dtype, **kw)
    else:
        new = f.create_dataset(temporary, shape=shape, dtype=dtype, **kw)
    for k, v in f[path].attrs.items():
        new.attrs[k] = v
    del f[path]
    f.move(temporary, path)
    return f[path]


def set_attribute(obj, name, value):
    if isinstance(value, np.ndarray) and value.dtype == object:
        obj.attrs.create(name, value, dtype=h5py.string_dtype())
    else:
        obj.attrs[name] = value


def new_shapes(shape):
    s = tuple(shape)
    out = [(), (0,), s + (1,), (1,) + s, (2,) + s]
    if s:
        out += [s[:-1], s[1:], s[:-1] + (s[-1] + 1,), s[:-1] + (0,), (0,) + s[1:], (s[0] + 1,) + s[1:]]
        if s[-1] > 1:
            out.append(s[:-1] + (s[-1] - 1,))
        if s[0] > 1:
            out.append((s[0] - 1,) + s[1:])
    if len(s) > 1:
        out += [s[::-1], (int(np.prod(s)),)]
    return [t for t in out if t != s]


def huge_shapes(shape):
    s = tuple(shape)
    out = [(2**40,), (2**63,), (2**21, 2**21, 2**21), (2**40, 2**40)]
    if s:
        out += [(2**31,) + s[1:], s[:-1] + (2**33,), (s[0] * 2**30,) + s[1:]]
    return out


def resized(values, shape):
    arr = np.asarray(values)
    size = int(np.prod(shape, dtype=np.int64))
    if size == 0:
        return np.empty(shape, dtype=arr.dtype)
    return np.resize(arr.reshape(-1) if arr.ndim else arr.reshape(1), size).reshape(shape)


def odd_values(rng, dset):
    """A description and the dataset's data with a few values made extreme."""
    arr = np.array(dset[()])
    if arr.size == 0:
        return None
    flat = arr.reshape(-1)
    kind = arr.dtype.kind
    whole = rng.random() < 0.2
    idx = list(range(flat.size)) if whole else [rng.randrange(flat.size) for _ in range(rng.choice([1, 1, 3]))]
    if kind == "f":
        value = rng.choice([np.nan, np.inf, -np.inf, 3.0e38, -3.0e38, -0.0, 1e-45, 0.0, 1e30])
    elif kind in "iu":
        info = np.iinfo(arr.dtype)
        value = rng.choice([-1, info.max, info.min, 2**31 - 1, 4, 1000, 0, 7] if kind == "i"
                           else [info.max, 0, 1000, 2**31])
        value = max(info.min, min(info.max, value))
    elif kind == "b":
        flat[idx] = ~flat[idx]
        return f"negate {'all' if whole else len(idx)} bool value(s)", arr
    elif kind == "O":
        value = rng.choice(["", "x" * 5000, "linear.0.weight", "ü—名前", "a/b", " ", "../x", "0"])
        arr = np.array([v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in flat.tolist()],
                       dtype=object).reshape(arr.shape)
        flat = arr.reshape(-1)
    else:
        return None
    flat[idx] = value
    return f"set {'all' if whole else 'elements ' + str(sorted(set(idx)))} to {value!r:.40}", arr


def odd_attribute(rng, value):
    """Another value for an attribute (possibly of another type)."""
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        options = ["", "blockscope.spectrum/1", "blockscope.partition/1", "blockscope.checkpoint/1",
                   "blockscope.params/1", "blockscope.run/1", re.sub(r"/\d+$", "/2", value) or "x/2",
                   value + "x", value.upper(), "x" * 5000, 7, 3.5, np.array([value, value], dtype=object),
                   np.bytes_(value.encode()[:64] or b"x"), np.bytes_(b"\xff\xfe\xfa"), "ü—名前",
                   "{not json", "[]", "-1", "1e999", "nan"]
    elif isinstance(value, (bool, np.bool_)):
        options = [not value, 2, "true", np.array([True, False])]
    elif isinstance(value, (int, np.integer, float, np.floating)):
        v = float(value)
        options = [-1, 0, 2**62, 2**31, np.nan, np.inf, -np.inf, int(v) + 1 if np.isfinite(v) else 1,
                   2.5, "12", np.array([v, v]), True, np.uint64(2**64 - 1), np.int8(-128),
                   np.float64(v), np.int32(int(v) if np.isfinite(v) and abs(v) < 2**31 else 3),
                   -(2**63), 1e300]
    else:
        options = ["x", 1, np.array([], dtype=np.float64), np.zeros((2, 2))]
    new = rng.choice(options)
    return new, f"{new!r:.60}" if not isinstance(new, np.ndarray) else f"array {new.dtype}{list(new.shape)}"


def mutate_hdf5(rng, path, site):
    """Applies one structural mutation at `site` to the file at `path` in
    place. Returns the description, or None when it does not apply."""
    with h5py.File(path, "r+") as f:
        if site[0] == "attr":
            obj_path, name = site[1], site[2]
            obj = f[obj_path]
            op = rng.choice(["delete", "change", "change", "change"])
            if op == "delete":
                del obj.attrs[name]
                return f"delete attribute {obj_path}@{name}"
            new, text = odd_attribute(rng, obj.attrs[name])
            del obj.attrs[name]
            set_attribute(obj, name, new)
            return f"set attribute {obj_path}@{name} = {text}"
        path_ = site[1]
        if site[0] == "group":
            ops = ["extra-dataset", "extra-group", "extra-attr", "cycle"]
            if path_ != "/":
                ops += ["delete", "delete", "as-dataset", "rename", "dangling", "copy", "copy"]
            siblings = [k for k in f[parent_of(path_)].keys()] if path_ != "/" else []
            if len(siblings) > 1:
                ops.append("swap")
            op = rng.choice(ops)
            return apply_object_op(rng, f, path_, op, siblings, is_group=True)
        dset = f[path_]
        ops = ["delete", "delete", "retype", "retype", "retype", "reshape", "reshape", "reshape", "huge",
               "huge", "values", "values", "values", "as-group", "rename", "dangling", "extra-attr", "copy",
               "alias"]
        siblings = list(f[parent_of(path_)].keys())
        if len(siblings) > 1:
            ops.append("swap")
        op = rng.choice(ops)
        if op == "retype":
            dtype_name = rng.choice(NEW_DTYPES)
            values, shape = values_of(dset), dset.shape
            old = str(dset.dtype)
            data, dt = converted(values, shape, dtype_name)
            replace_dataset(f, path_, data=data, dtype=dt)
            return f"retype dataset {path_} {old}{list(shape)} -> {dtype_name}"
        if op == "reshape":
            shape = rng.choice(new_shapes(dset.shape))
            data = resized(values_of(dset), shape)
            old = list(dset.shape)
            if data.dtype == object:
                new = replace_dataset(f, path_, shape=shape, dtype=dset.dtype)
                if data.size:
                    new[...] = data
            else:
                replace_dataset(f, path_, data=data)
            return f"reshape dataset {path_} {old} -> {list(shape)}"
        if op == "huge":
            for shape in rng.sample(huge_shapes(dset.shape), len(huge_shapes(dset.shape))):
                chunks = tuple(max(1, min(d, 16)) for d in shape)
                try:
                    dt = dset.dtype
                    old = list(dset.shape)
                    replace_dataset(f, path_, shape=shape, dtype=dt, chunks=chunks)
                    return f"huge dataset {path_} {old} -> {list(shape)} (chunked, unwritten)"
                except Exception:
                    continue
            return None
        if op == "values":
            got = odd_values(rng, dset)
            if got is None:
                return None
            text, data = got
            dset[...] = data
            return f"values of {path_}: {text}"
        return apply_object_op(rng, f, path_, op, siblings, is_group=False)


def apply_object_op(rng, f, path_, op, siblings, is_group):
    what = "group" if is_group else "dataset"
    parent = parent_of(path_)
    name = path_.rsplit("/", 1)[-1]
    base = "" if parent == "/" else parent
    if op == "delete":
        del f[path_]
        return f"delete {what} {path_}"
    if op == "as-dataset":
        del f[path_]
        f[path_] = np.arange(3, dtype=np.int64)
        return f"replace group {path_} by an int64[3] dataset"
    if op == "as-group":
        del f[path_]
        f.create_group(path_)
        return f"replace dataset {path_} by an empty group"
    if op == "rename":
        new = path_ + rng.choice(["_moved", " ", "X"])
        f.move(path_, new)
        return f"rename {what} {path_} -> {new!r}"
    if op == "dangling":
        del f[path_]
        if rng.random() < 0.3:
            f[path_] = h5py.ExternalLink("no-such-file.h5", "/x")
            return f"replace {what} {path_} by an external link to a missing file"
        if rng.random() < 0.5:
            f[path_] = h5py.SoftLink(path_)
            return f"replace {what} {path_} by a soft link to itself"
        f[path_] = h5py.SoftLink("/no/such/object")
        return f"replace {what} {path_} by a dangling soft link"
    if op == "copy":
        new = f"{base}/{sibling_name(name)}"
        if new in f:
            new = f"{base}/{name}_copy"
        f.copy(path_, new)
        return f"duplicate {what} {path_} as {new}"
    if op == "alias":
        others = [s for s in siblings if s != name]
        if not others:
            return None
        other = f"{base}/{rng.choice(others)}"
        del f[path_]
        f[path_] = f[other]
        return f"replace {what} {path_} by a hard link to {other}"
    if op == "swap":
        other = f"{base}/{rng.choice([s for s in siblings if s != name])}"
        f.move(path_, path_ + ".swap")
        f.move(other, path_)
        f.move(path_ + ".swap", other)
        return f"swap {path_} and {other}"
    if op == "cycle":
        f[f"{base}/loop"] = f[path_]
        return f"hard link {base}/loop -> its own group {path_}"
    if op == "extra-attr":
        obj = f[path_]
        attr = rng.choice(["extra", "schema", "minibatches", "dtype", "name", "step", "zzz"])
        if attr in obj.attrs:
            attr = "extra"
        value = rng.choice([1, -1, 2.5, "x", np.arange(3), "blockscope.spectrum/1", 2**40])
        set_attribute(obj, attr, value)
        return f"add attribute {path_}@{attr} = {value!r:.40}"
    if op in ("extra-dataset", "extra-group"):
        group = f[path_]
        names = list(group.keys())
        new = rng.choice(["extra", "zzz", "0", "6", "7", "names", "inputs_", "minibatches"] +
                         [sibling_name(n) for n in names])
        if new in group:
            new = new + "_extra"
        if op == "extra-group":
            group.create_group(new)
            return f"add empty group {path_.rstrip('/')}/{new}"
        value = rng.choice([np.zeros(4, np.float32), np.arange(6, dtype=np.int64).reshape(2, 3),
                            np.float64(1.5), np.array(["a", "b"], dtype=object), np.zeros((0,), np.float32)])
        if isinstance(value, np.ndarray) and value.dtype == object:
            group.create_dataset(new, data=value, dtype=h5py.string_dtype())
        else:
            group[new] = value
        return f"add dataset {path_.rstrip('/')}/{new} {np.asarray(value).dtype}{list(np.shape(value))}"
    raise AssertionError(op)


# --------------------------------------------------------------------------------------------
# TorchScript (zip) mutations


def zip_members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(info, z.read(info.filename)) for info in z.infolist()]


def build_zip(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info, content in members:
            new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            new.compress_type = info.compress_type
            new.external_attr = info.external_attr
            z.writestr(new, content)
    return out.getvalue()


def mutate_text(rng, text):
    lines = text.split("\n")
    op = rng.choice(["delete-line", "garbage-line", "token", "digits", "truncate", "indent"])
    i = rng.randrange(len(lines))
    if op == "delete-line":
        del lines[i]
        return "\n".join(lines), f"delete line {i}"
    if op == "garbage-line":
        junk = rng.choice(["@@@ ???", "def (", "  return torch.zeros([1000000000000])",
                           "  raise Exception('boom')", "\x00\x01", "import os", "  x = 1/0"])
        lines.insert(i, junk)
        return "\n".join(lines), f"insert line {i}: {junk!r}"
    if op == "token":
        words = re.findall(r"[A-Za-z_]+", text)
        if not words:
            return text + "!", "append '!'"
        a = rng.choice(words)
        b = rng.choice(["Tensor", "int", "None", "self", "forward", "torch", "zz", "List[int]", ""])
        return text.replace(a, b, 1), f"replace first {a!r} by {b!r}"
    if op == "digits":
        digits = [m.start() for m in re.finditer(r"\d", text)]
        if not digits:
            return text + "9", "append '9'"
        at = rng.choice(digits)
        new = rng.choice(["0", "9", "99999999999", "-1"])
        return text[:at] + new + text[at + 1:], f"digit at {at} -> {new}"
    if op == "truncate":
        cut = rng.randrange(len(text) + 1)
        return text[:cut], f"truncate to {cut} chars"
    lines[i] = " " + lines[i]
    return "\n".join(lines), f"indent line {i}"


def mutate_torchscript(rng, data, index, ordinal):
    """A mutated archive and its description; `ordinal` None for a
    byte-level mutation of the archive, else the number of the member-level
    mutation (they walk the members in turn so each is hit)."""
    members = zip_members(data)
    if ordinal is None:
        new, text = mutate_bytes(rng, data)
        return new, f"archive: {text}"
    m = ordinal % len(members)
    info, content = members[m]
    name = info.filename
    ops = ["delete", "truncate", "flip", "random", "empty", "rename", "duplicate", "extra"]
    if name.endswith((".py", "version")):
        ops += ["text", "text", "text"]
    if "/data/" in name:
        ops += ["grow", "truncate"]
    op = rng.choice(ops)
    members = list(members)
    if op == "delete":
        del members[m]
        desc = "delete"
    elif op == "truncate":
        cut = rng.randrange(len(content)) if content else 0
        members[m] = (info, content[:cut])
        desc = f"truncate to {cut} of {len(content)} bytes"
    elif op == "grow":
        members[m] = (info, content + bytes(rng.choice([1, 4, 64])))
        desc = f"append zero bytes (now {len(members[m][1])})"
    elif op == "flip":
        buf = bytearray(content or b"\0")
        spots = []
        for _ in range(rng.choice([1, 1, 2, 4])):
            at, bit = rng.randrange(len(buf)), rng.randrange(8)
            buf[at] ^= 1 << bit
            spots.append(f"{at}.{bit}")
        members[m] = (info, bytes(buf))
        desc = f"flip bits {','.join(spots)}"
    elif op == "random":
        members[m] = (info, bytes(rng.randrange(256) for _ in range(max(1, len(content)))))
        desc = "replace content by random bytes"
    elif op == "empty":
        members[m] = (info, b"")
        desc = "empty content"
    elif op == "rename":
        renamed = zipfile.ZipInfo(name + rng.choice(["_", ".bak"]), date_time=info.date_time)
        renamed.compress_type = info.compress_type
        members[m] = (renamed, content)
        desc = f"rename to {renamed.filename}"
    elif op == "duplicate":
        members.insert(m + 1, (info, content[: len(content) // 2]))
        desc = "duplicate entry (second copy half as long)"
    elif op == "extra":
        extra = zipfile.ZipInfo(name.split("/")[0] + "/" + rng.choice(["extra", "data/99", "code/x.py", "extra.pkl"]))
        members.insert(m, (extra, b"\x80\x02junk"))
        desc = f"add member {extra.filename} before it"
    else:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            text = content.decode("latin-1")
        new_text, desc = mutate_text(rng, text)
        members[m] = (info, new_text.encode("utf-8", "surrogateescape"))
    with _quiet():  # zipfile warns about duplicate names
        archive = build_zip(members)
    return archive, f"member {name}: {desc}"


class _quiet:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


# --------------------------------------------------------------------------------------------
# Base files and readers


@dataclass
class Variant:
    name: str
    path: Path
    count: int
    readers: list                   # [(weight, Reader)]
    byte_level: int = 2             # cases per 5 that mutate bytes (the others: structure)
    sites: list = None
    metadata: list = None           # byte offsets of HDF5 metadata (not raw data)

    def structural_ordinal(self, index):
        """None for a byte-level case, else its number among the structural ones."""
        if index % 5 < self.byte_level:
            return None
        return (index // 5) * (5 - self.byte_level) + index % 5 - self.byte_level


def metadata_offsets(path):
    size = path.stat().st_size
    raw = raw_data_ranges(path)
    keep = bytearray(b"\1" * size)
    for a, b in raw:
        keep[a:min(b, size)] = bytes(min(b, size) - a)
    return [i for i in range(size) if keep[i]]


def run_ok(binary, args, cwd):
    # argv[0] "blockscope": the command line the file records (and so its byte layout) does not
    # depend on where the binary lies.
    result = subprocess.run(["blockscope", *map(str, args)], executable=os.fspath(binary), cwd=cwd,
                            capture_output=True, text=True, env=child_env(), timeout=300)
    assert result.returncode == 0, f"making a base file: blockscope {' '.join(map(str, args))}:\n{result.stderr}"


class Binary(os.PathLike):
    """The binary under test: a private copy (so a rebuild while the test
    runs does not change or break it), named by the given path in reports."""

    def __init__(self, given, copy):
        self.given, self.copy = given, copy

    def __fspath__(self):
        return str(self.copy)

    def __str__(self):
        return str(self.given)


@pytest.fixture(scope="module")
def binary(request, tmp_path_factory):
    path = Path(request.config.getoption("--blockscope")).resolve()
    assert path.exists(), f"{path} does not exist: build the project first"
    copy = tmp_path_factory.mktemp("mutation-binary") / "blockscope"
    for attempt in range(30):  # the file may be being relinked
        try:
            shutil.copy2(path, copy)
            if subprocess.run([copy, "--version"], capture_output=True, timeout=60).returncode == 0:
                break
        except (OSError, subprocess.SubprocessError):
            pass
        time.sleep(2)
    else:
        pytest.fail(f"{path} does not run (--version)")
    return Binary(path, copy)


@pytest.fixture(scope="module")
def bases(binary, tmp_path_factory):
    d = tmp_path_factory.mktemp("mutation-bases")
    rng = np.random.default_rng(0)
    with h5py.File(d / "data.h5", "w") as f:
        f["inputs"] = rng.standard_normal((64, 16)).astype(np.float32)
        f["targets"] = rng.integers(0, 4, size=64).astype(np.int64)
    with h5py.File(d / "regression.h5", "w") as f:
        f["inputs"] = rng.standard_normal((48, 16)).astype(np.float32)
        f["targets"] = rng.standard_normal((48, 4)).astype(np.float32)
    with h5py.File(d / "gradients.h5", "w") as f:
        f.attrs["minibatches"] = 3
        for name, shape in MLP_SHAPES.items():
            f[name] = rng.standard_normal((3,) + shape).astype(np.float32)
    with h5py.File(d / "gradient.h5", "w") as f:
        for name, shape in MLP_SHAPES.items():
            f[name] = rng.standard_normal(shape).astype(np.float64)
    run_ok(binary, ["partition", "--strategy", "adam-mini", "--model", "mlp", "--out", "adam_mini.h5"], d)
    run_ok(binary, ["partition", "--strategy", "per-tensor", "--model", "mlp", "--out", "per_tensor.h5"], d)
    run_ok(binary, ["train", "--model", "mlp", "--steps", "2", "--batch-size", "8", "--checkpoint", "ck_adamw.h5",
                    "--save-params", "params.h5", "--out", "run.h5"], d)
    run_ok(binary, ["train", "--model", "mlp", "--optimizer", "gefen", "--steps", "2", "--batch-size", "8",
                    "--checkpoint", "ck_gefen.h5", "--out", "run_gefen.h5"], d)
    run_ok(binary, ["spectrum", "--model", "mlp", "--lanczos-steps", "6", "--probes", "2", "--top-k", "2",
                    "--batch-size", "8", "--threads", "1", "--out", "spectrum.h5"], d)
    run_ok(binary, ["spectrum", "--model", "mlp", "--blocks", "adam_mini.h5", "--max-blocks", "5",
                    "--lanczos-steps", "4", "--probes", "2", "--top-k", "0", "--batch-size", "8", "--threads", "1",
                    "--out", "spectrum_blocks.h5"], d)
    shutil.copy(d / "spectrum.h5", d / "other_spectrum.h5")
    script = ("import sys, torch\n"
              "torch.manual_seed(0)\n"
              "m = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4))\n"
              "torch.jit.save(torch.jit.script(m), sys.argv[1])\n")
    made = subprocess.run([sys.executable, "-c", script, str(d / "model.pt")], capture_output=True, text=True)
    if made.returncode != 0:
        (d / "model.pt").unlink(missing_ok=True)
    return d


def variants(kind, d, binary):
    """The base files of a kind, how many cases each, and its readers."""
    out = ("out.h5",)
    if kind == "data":
        readers = [(2, Reader("info", lambda i, b: ["info", "--model", "mlp", "--data", i])),
                   (1, Reader("train", lambda i, b: ["train", "--model", "mlp", "--data", i, "--steps", "1",
                                                     "--batch-size", "8", "--out", "out.h5"], out))]
        return [Variant("classes", d / "data.h5", count(130), readers),
                Variant("regression", d / "regression.h5", count(70), readers)]
    if kind == "partition":
        readers = [(3, Reader("train", lambda i, b: ["train", "--model", "mlp", "--optimizer", "adam-mini",
                                                     "--partition", i, "--steps", "1", "--batch-size", "8",
                                                     "--out", "out.h5"], out)),
                   (1, Reader("spectrum", lambda i, b: ["spectrum", "--model", "mlp", "--blocks", i,
                                                        "--max-blocks", "4", *CHEAP_SPECTRUM, "--out", "out.h5"],
                              out)),
                   (1, Reader("diagnose", lambda i, b: ["diagnose", "-p", i, "--model", "mlp", "-k", "1",
                                                        "--batch-size", "8", "--out", "out.h5"], out))]
        return [Variant("adam-mini", d / "adam_mini.h5", count(120), readers),
                Variant("per-tensor", d / "per_tensor.h5", count(80), readers)]
    if kind == "gradients":
        readers = [(1, Reader("partition-gefen", lambda i, b: ["partition", "--strategy", "gefen", "--gradients", i,
                                                               "--out", "out.h5"], out)),
                   (1, Reader("partition-gefen-model", lambda i, b: ["partition", "--strategy", "gefen", "--model",
                                                                     "mlp", "--gradients", i, "--out", "out.h5"], out)),
                   (1, Reader("diagnose", lambda i, b: ["diagnose", "-p", b / "per_tensor.h5", "--gradients", i,
                                                        "--out", "out.h5"], out))]
        return [Variant("stacked", d / "gradients.h5", count(130), readers),
                Variant("single", d / "gradient.h5", count(70), readers)]
    if kind == "params":
        readers = [(2, Reader("partition", lambda i, b: ["partition", "--strategy", "per-tensor", "--model", "mlp",
                                                         "--params", i, "--out", "out.h5"], out)),
                   (1, Reader("spectrum", lambda i, b: ["spectrum", "--model", "mlp", "--params", i,
                                                        *CHEAP_SPECTRUM, "--out", "out.h5"], out)),
                   (1, Reader("diagnose", lambda i, b: ["diagnose", "-p", b / "per_tensor.h5", "--model", "mlp",
                                                        "--params", i, "-k", "1", "--batch-size", "8",
                                                        "--out", "out.h5"], out))]
        return [Variant("train", d / "params.h5", count(200), readers)]
    if kind == "checkpoint":
        def resume(optimizer):
            return Reader("train-resume", lambda i, b: ["train", "--model", "mlp", "--optimizer", optimizer,
                                                        "--batch-size", "8", "--steps", "3", "--resume", i,
                                                        "--out", "out.h5"], out)
        as_params = Reader("partition-params", lambda i, b: ["partition", "--strategy", "per-tensor", "--model",
                                                             "mlp", "--params", i, "--out", "out.h5"], out)
        return [Variant("adamw", d / "ck_adamw.h5", count(150), [(3, resume("adamw")), (1, as_params)], 1),
                Variant("gefen", d / "ck_gefen.h5", count(100), [(3, resume("gefen")), (1, as_params)], 1)]
    if kind == "spectrum":
        readers = [(7, Reader("report", lambda i, b: ["report", i, b / "other_spectrum.h5"])),
                   (1, Reader("report-plots", lambda i, b: ["report", i, b / "other_spectrum.h5", "--plots",
                                                            "plots"], (), "plots"))]
        return [Variant("top-k", d / "spectrum.h5", count(110), readers),
                Variant("blocks", d / "spectrum_blocks.h5", count(90), readers)]
    if kind == "torchscript":
        readers = [(3, Reader("info", lambda i, b: ["info", "--model", i, "--data", b / "data.h5"])),
                   (1, Reader("train", lambda i, b: ["train", "--model", i, "--data", b / "data.h5", "--steps", "1",
                                                     "--batch-size", "8", "--out", "out.h5"], out))]
        return [Variant("sequential", d / "model.pt", count(200), readers)]
    raise AssertionError(kind)


def prepare(kind, variant, index, work, base_dir):
    name = f"{kind}/{variant.name}/{index}"
    rng = random.Random(name)
    weights, readers = zip(*variant.readers)
    reader = rng.choices(readers, weights=weights)[0]
    directory = work / f"{variant.name}-{index}"
    directory.mkdir()
    input_name = "input" + variant.path.suffix
    target = directory / input_name
    data = variant.path.read_bytes()
    if kind == "torchscript":
        new, mutation = mutate_torchscript(rng, data, index, variant.structural_ordinal(index))
        target.write_bytes(new)
    elif variant.structural_ordinal(index) is None:
        new, mutation = mutate_bytes(rng, data, variant.metadata)
        target.write_bytes(new)
    else:
        ordinal = variant.structural_ordinal(index)
        mutation, last_error = None, None
        for attempt in range(len(variant.sites)):
            site = variant.sites[(ordinal + (attempt // 4) * 7) % len(variant.sites)]  # 4 tries per site
            shutil.copy(variant.path, target)
            try:
                with _quiet():
                    mutation = mutate_hdf5(rng, target, site)
            except Exception as e:  # the mutation itself is not possible: try the next site
                mutation = None
                last_error = e
            if mutation:
                break
        assert mutation, f"{name}: no structural mutation applied ({last_error!r})"
    case = Case(name=name, mutation=mutation, reader=reader, directory=directory, input_name=input_name)
    case.argv = [str(a) for a in reader.args(input_name, base_dir)]
    return case


def mutation_test(kind, bases, binary, tmp_path):
    vs = variants(kind, bases, binary)
    seen = set()  # sites of the earlier variants
    for v in vs:
        if not v.path.exists():
            pytest.skip(f"no base file {v.path.name} (could not be made)")
        if v.path.suffix == ".h5":
            sites = hdf5_sites(v.path)
            new = [s for s in sites if s not in seen]
            # Sites no earlier variant has come first; with SCALE ≥ 1 the variant has at least
            # enough structural cases to hit each of them (so every dataset, group and
            # attribute of every base file is hit), and the others after them.
            v.sites = new + [s for s in sites if s in seen]
            seen.update(sites)
            v.metadata = metadata_offsets(v.path)
            if SCALE >= 1:
                while sum(1 for i in range(v.count) if v.structural_ordinal(i) is not None) < len(new):
                    v.count += 1
        # The base file itself must pass every reader, or the mutations test nothing.
        for _, reader in v.readers:
            check = tmp_path / f"base-{v.name}-{reader.name}"
            check.mkdir()
            shutil.copy(v.path, check / ("input" + v.path.suffix))
            case = Case(name=f"{kind}/{v.name}/base", mutation="none", reader=reader, directory=check,
                        input_name="input" + v.path.suffix)
            case.argv = [str(a) for a in reader.args(case.input_name, bases)]
            r = run_case(binary, case)
            assert r["rc"] == 0 and not r["symptom"], \
                f"unmutated {v.path.name} fails {reader.name}: rc={r['rc']} {r['symptom']}: {r['lines'][:3]}"
    cases = []
    for v in vs:
        for index in range(v.count):
            if ONLY and f"{kind}/{v.name}/{index}" not in ONLY:
                continue
            cases.append(prepare(kind, v, index, tmp_path, bases))
    if not cases:
        pytest.skip("no case selected by BLOCKSCOPE_MUTATION_CASES")
    run_cases(binary, kind, cases)


@pytest.mark.parametrize("kind", ["data", "partition", "gradients", "params", "checkpoint", "spectrum",
                                  "torchscript"])
def test_file_mutations(kind, bases, binary, tmp_path):
    if kind == "torchscript" and not (bases / "model.pt").exists():
        pytest.skip(f"{sys.executable} could not script a model with torch")
    mutation_test(kind, bases, binary, tmp_path)
