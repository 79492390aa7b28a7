#!/bin/sh
# Outputs a script can read: --json of search, eval, inspect and space (one
# document that parses, holding the figures the text shows), `config show`
# (the config.ini a train run writes, train's errors), and `space --plot`
# (a 640x360 PNG with ticks, labels and a title). One tiny supernet run of 3
# steps. Skipped (77) without Fashion-MNIST or Debian's python3.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
src=${SHIFTNAS_SOURCE_DIR:-.}
python=${PYTHON_JSON:-/usr/bin/python3}
data=/usr/share/datasets/fashion-mnist
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
if ! "$python" -c 'import json, zlib' >/dev/null 2>&1; then
    echo "skip: no $python to read the JSON and PNG outputs (Debian: python3)"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-json.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
unset SHIFTNAS_INJECT_FAULT
space=$src/jobs/configs/cnn-space.ini

# check NAME PYTHON_CODE FILE...: the code (json and sys imported; the files
# in sys.argv[1:]) raises nothing.
check() {
    name=$1 code=$2
    shift 2
    if "$python" -c "import json, sys
$code" "$@" >"$work/check.out" 2>&1; then
        pass "$name"
    else
        fail "$name"; cat "$work/check.out"
    fi
}

tiny="--set data.train_limit=600 --set data.validation_size=200 --set data.test_limit=200
      --set train.batch_size=50 --set train.max_steps=3 --set train.eval_batch_size=100
      --set search.shift_interval=1 --set search.shift_warmup=0.34
      --set search.recalibration_batches=1 --set search.evolution_population=2
      --set search.evolution_parents=1 --set search.evolution_evaluations=2
      --set search.evolution_validation_images=100 --set search.shift_validation_images=32"

# --- config show: the configuration train would write, without training -----
# shellcheck disable=SC2086
"$bin" config show --config "$space" $tiny >"$work/show.ini" 2>"$work/err"
# shellcheck disable=SC2086
if ! "$bin" train --config "$space" $tiny --out "$work/run" >"$work/train.log" 2>&1; then
    fail "training the tiny supernet"; cat "$work/train.log"
    echo "$passes passed, $failures failed"; exit 1
fi
if cmp -s "$work/show.ini" "$work/run/config.ini"; then
    pass "config show prints the config.ini train writes for the same --config and --set"
else
    fail "config show differs from the run's config.ini"; diff "$work/show.ini" "$work/run/config.ini" | head; cat "$work/err"
fi
"$bin" config show --resume "$work/run" --set checkpoint.keep=2 >"$work/resume.ini" 2>"$work/err"
if sed 's/^keep = .*/keep = 2/' "$work/run/config.ini" | cmp -s - "$work/resume.ini"; then
    pass "config show --resume: the run's configuration with a result-neutral --set"
else
    fail "config show --resume"; diff "$work/run/config.ini" "$work/resume.ini"; cat "$work/err"
fi
# shellcheck disable=SC2086
"$bin" config show --config "$space" $tiny --json >"$work/show.json"
check "config show --json holds config.ini's values, typed" '
config = json.load(open(sys.argv[1]))
ini, section = {}, None
for line in open(sys.argv[2]):
    line = line.strip()
    if line.startswith("["):
        section = line[1:-1]
    elif "=" in line and not line.startswith("#"):
        key, value = (part.strip() for part in line.split("=", 1))
        ini[section, key] = value
assert sorted(ini) == sorted((s, k) for s in config for k in config[s]), "keys differ"
def text(v):
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, list): return ",".join(text(x) for x in v)
    return str(v)
for (s, k), value in ini.items():
    got = config[s][k]
    same = text(got) == value if isinstance(got, (bool, str, int, list)) else float(value) == got
    assert same, (s, k, got, value)
assert config["train"]["batch_size"] == 50 and config["data"]["horizontal_flip"] is False
' "$work/show.json" "$work/run/config.ini"

# errors: the line train gives (after its prefix), exit 1; usage errors exit 2
for assignment in train.batch_size=-4 train.epochz=1 notakey; do
    "$bin" train --config "$space" --set "$assignment" --out "$work/bad" 2>"$work/train.err" >/dev/null
    train_says=$(sed 's/^shiftnas train: //' "$work/train.err")
    expect_error "config show --set $assignment: train's message" 1 "^shiftnas config: .*" \
        "$bin" config show --config "$space" --set "$assignment"
    got=$(sed 's/^shiftnas config: //' "$work/err")
    [ "$got" = "$train_says" ] || fail "config show --set $assignment says '$got', train '$train_says'"
done
expect_error "config show --resume refuses a key that changes the bits" 1 "epochs cannot change on --resume" \
    "$bin" config show --resume "$work/run" --set train.epochs=3
expect_error "config show needs --config or --resume" 2 "config FILE or --resume" "$bin" config show
expect_error "config show: unknown option" 2 "unknown argument '--bogus'" "$bin" config show --config "$space" --bogus

# --- search and eval ---------------------------------------------------------------
"$bin" search "$work/run" --targets 3M --csv "$work/text.csv" >"$work/search.txt" 2>&1
"$bin" search "$work/run" --targets 3M --json --csv "$work/json.csv" \
    --set run.progress_seconds=0.1 >"$work/search.json" 2>"$work/search.err"
check "search --json: the text table's subnets and figures, the CSV's numbers in full" '
doc = json.load(open(sys.argv[1]))
assert doc["strategy"] == "shift" and doc["steps"] == 3 and doc["csv"] == sys.argv[4], doc
assert doc["evolution"] == {"subnets_per_target": 2, "population": 2, "fitness_images": 100}
rows = [line.split() for line in open(sys.argv[2]) if line.split()[0] in ("generator", "evolution")]
assert len(rows) == len(doc["results"]) == 2
for row, result in zip(rows, doc["results"]):
    assert row[0] == result["method"] and row[6] == result["arch"], (row, result)
    assert row[4] == "%.4f" % result["val_accuracy"] and row[5] == "%.4f" % result["test_accuracy"]
    assert result["target_macs"] == 3000000 and result["macs"] <= 3000000
csv = [line.rstrip("\n").split("\"") for line in open(sys.argv[3])][1:]
for fields, result in zip(csv, doc["results"]):
    numbers = fields[2].split(",")
    assert int(numbers[1]) == result["macs"] and int(numbers[2]) == result["parameters"]
    assert numbers[4] == "%.6f" % result["test_accuracy"]
' "$work/search.json" "$work/search.txt" "$work/json.csv" "$work/json.csv"
# progress lines (every 0.1 s, if the evolution lasts that long) go to stderr
if ! grep -v '^  evolution 3M: [0-9]*/2 subnets' "$work/search.err" | grep -q .; then
    pass "search --json: stderr holds progress lines only"
else
    fail "search --json: stderr"; cat "$work/search.err"
fi
arch=$(awk '$1 == "evolution" { print $7 }' "$work/search.txt")
"$bin" eval "$work/run" --arch "$arch" >"$work/eval.txt" 2>&1
"$bin" eval "$work/run" --arch "$arch" --json >"$work/eval.json" 2>&1
check "eval --json: the text's subnet, MACs, parameters, accuracies and image counts" '
doc = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
assert text.startswith("subnet %s\n" % doc["arch"]), text
assert "MACs %d (" % doc["macs"] in text and "parameters %d\n" % doc["parameters"] in text
assert "val accuracy %.4f (%d images)" % (doc["val_accuracy"], doc["validation_images"]) in text
assert "test accuracy %.4f (%d images)" % (doc["test_accuracy"], doc["test_images"]) in text
assert doc["strategy"] == "shift" and doc["validation_images"] == 200
' "$work/eval.json" "$work/eval.txt"

# --- inspect ---------------------------------------------------------------------------
"$bin" inspect "$work/run" >"$work/inspect.txt" 2>&1
"$bin" inspect "$work/run" --json --datasets >"$work/inspect.json" 2>&1
check "inspect --json: checkpoints, step, strategy, probabilities, sizes, datasets, config" '
doc = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
point = doc["checkpoint"]
assert point["usable"] is True and doc["latest"] == point["file"]
assert [c["name"] for c in doc["checkpoints"]] == ["step-000000003.h5"] and doc["checkpoints"][0]["ok"]
assert "step: %d of %d (epoch %d, position %d of %d); training complete;" % (
    point["step"], point["total_steps"], point["epoch"], point["data_position"],
    point["steps_per_epoch"]) in text and point["training_complete"] is True
assert "strategy: %s; model: %s; seed %d" % (point["strategy"], point["model_type"], point["seed"]) in text
assert "probabilities: " + " ".join("%.4f" % p for p in point["probabilities"]) + "\n" in text
assert "%d datasets)" % point["dataset_count"] in text and len(point["datasets"]) == point["dataset_count"]
assert sum(g["arrays"] for g in point["sizes"]) == point["dataset_count"]
assert text.endswith("configuration:\n" + point["config"])
' "$work/inspect.json" "$work/inspect.txt"
cp -r "$work/run" "$work/broken"
head -c 3000 "$work/run/checkpoints/step-000000003.h5" >"$work/broken/checkpoints/step-000000003.h5"
"$bin" inspect "$work/broken" --json >"$work/broken.json" 2>"$work/err"
status=$?
check "inspect --json of a damaged checkpoint: usable false and the reason (exit $status)" '
doc = json.load(open(sys.argv[1]))
assert int(sys.argv[2]) == 1 and doc["checkpoint"]["usable"] is False
assert "truncated" in doc["checkpoint"]["error"] and doc["checkpoints"][0]["ok"] is False
' "$work/broken.json" "$status"

# --- space ------------------------------------------------------------------------------
opts="--samples 500 --buckets 6 --arch cnn:d=1,2,3;w=12,30,64;k=3,5,3,5,5,3;e=2,3,4,4,2,3"
# shellcheck disable=SC2086
"$bin" space --config "$space" $opts >"$work/space.txt" 2>&1
# shellcheck disable=SC2086
"$bin" space --config "$space" $opts --json --plot "$work/hist.png" >"$work/space.json" 2>&1
check "space --json: the text's extremes, buckets, histogram and moments" '
doc = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
for name in ("smallest", "largest", "arch"):
    part = doc[name]
    assert "%s: %d MACs" % (name, part["macs"]) in text and "\n  %s\n" % part["arch"] in text
assert "buckets: 6, edges (MACs): " + ", ".join("%.0f" % e for e in doc["bucket_edges"]) in text
import re
counts = [int(re.search(r"[)\]] +([0-9]+) ", line).group(1)) for line in text.splitlines()
          if line.startswith("  [")]
assert counts == [b["count"] for b in doc["histogram"]["buckets"]] and sum(counts) == 500
assert "mean %.0f" % doc["sample_macs"]["mean"] in text and doc["space"] == "cnn"
assert len(doc["dimensions"]) == 24 and doc["dimensions"][0] == {"kind": "depth", "stage": 1, "choices": [1, 2, 3]}
assert "architectures: %.6g\n" % doc["architectures"] in text and doc["plot"] == sys.argv[3]
' "$work/space.json" "$work/space.txt" "$work/hist.png"

# The plot: 640x360 RGB; dark pixels left of the y axis (tick labels, the
# turned label), below the x axis (tick labels, the label) and in the title
# row: regions where the plot before labels (axis lines and bars only) had none.
check "space --plot: 640x360 with tick labels, axis labels and a title" '
import struct, zlib
png = open(sys.argv[1], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n"
width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
assert (width, height, depth, colour) == (640, 360, 8, 2), (width, height, depth, colour)
data, at = b"", 8
while at < len(png):
    length, kind = struct.unpack(">I4s", png[at:at + 8])
    if kind == b"IDAT":
        data += png[at + 8:at + 8 + length]
    at += 12 + length
raw = zlib.decompress(data)
stride = 1 + 3 * width
assert all(raw[y * stride] == 0 for y in range(height))  # filter 0: bytes are pixels
def ink(x0, y0, x1, y1):  # dark pixels (not the blue bars) in [x0, x1) x [y0, y1)
    return sum(1 for y in range(y0, y1) for x in range(x0, x1)
               if max(raw[y * stride + 1 + 3 * x:y * stride + 4 + 3 * x]) < 128)
assert ink(0, 40, 30, 300) > 100, "the turned y label"
assert ink(40, 36, 84, 310) > 100, "y tick labels"
assert ink(90, 312, 620, 329) > 100, "x tick labels"
assert ink(90, 336, 620, 360) > 100, "x label"
assert ink(0, 0, 640, 20) > 100, "title"
' "$work/hist.png"
expect_error "space --json: errors stay on stderr, stdout empty" 1 "not a choice" \
    "$bin" space --config "$space" --json --arch 'cnn:d=1,2,3;w=12,31,64;k=3,5,3,5,5,3;e=2,3,4,4,2,3'
[ -s "$work/out" ] && fail "space --json printed on stdout after an error"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
