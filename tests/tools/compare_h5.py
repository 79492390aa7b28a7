# /usr/bin/python3 compare_h5.py BEFORE.h5 AFTER.h5: every object and attribute of
# two shiftnas HDF5 files (models, logs, checkpoints) holds the same bits, except
# what records time or the build: attributes named source_revision and datasets
# whose name ends in _seconds; a `config` attribute may gain keys. A checkpoint embeds the run files as bytes: an
# embedded log.h5 is compared by content (its raw bytes hold HDF5 object times),
# an embedded metrics.csv without its seconds column. Prints each difference;
# exits 1 if there is one.
import os, subprocess, sys, tempfile
import h5py
import numpy as np

TIMING_ATTRIBUTES = {"source_revision"}


def same_embedded_log(a, b):
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, n) for n in ("a.h5", "b.h5")]
        for path, data in zip(paths, (a, b)):
            with open(path, "wb") as f:
                f.write(data.tobytes())
        return subprocess.run(["h5diff"] + paths, capture_output=True).returncode == 0


def same_metrics(a, b):
    cut = lambda d: [",".join(l.split(",")[:6]) for l in d.tobytes().decode().splitlines()]
    return cut(a) == cut(b)


def config_lines(value):
    text = value.decode() if isinstance(value, bytes) else str(value)
    return {l for l in text.splitlines() if l.strip() and not l.startswith("#")}


def same_attribute(key, a, b):
    """A later build may add configuration keys: the config text of AFTER
    holds every line of BEFORE's."""
    if key == "config":
        return config_lines(a) <= config_lines(b)
    return np.array_equal(np.asarray(a), np.asarray(b))


def differences(before, after):
    found = []
    names = [""]
    before.visit(names.append)
    after_names = [""]
    after.visit(after_names.append)
    found += ["missing " + n for n in sorted(set(names) - set(after_names))]
    for name in names:
        if name not in after_names:
            continue
        x, y = (before[name], after[name]) if name else (before, after)
        for key in x.attrs:
            if key in TIMING_ATTRIBUTES:
                continue
            if key not in y.attrs or not same_attribute(key, x.attrs[key], y.attrs[key]):
                found.append(f"{name}@{key}")
        if not isinstance(x, h5py.Dataset) or name.endswith("_seconds"):
            continue
        a, b = x[()], y[()]
        if isinstance(a, bytes) or isinstance(b, bytes):
            a, b = np.frombuffer(bytes(a), np.uint8), np.frombuffer(bytes(b), np.uint8)
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes():
            continue
        if name.endswith("log.h5") and same_embedded_log(a, b):
            continue
        if name.endswith("metrics.csv") and same_metrics(a, b):
            continue
        found.append(name)
    return found


with h5py.File(sys.argv[1], "r") as before, h5py.File(sys.argv[2], "r") as after:
    found = differences(before, after)
for item in found:
    print("  " + item)
sys.exit(1 if found else 0)
