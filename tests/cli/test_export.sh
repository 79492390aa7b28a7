#!/bin/sh
# Searched subnets leave shiftnas: tiny CNN-space (3 channels, 32x32, the
# evaluation's centre crop resampled) and ViT-space (Fashion-MNIST IDX)
# supernets are trained, a subnet that is not the largest is exported with
# `shiftnas export`, and doc/export_torch.py rebuilds it in PyTorch from that
# file alone: its test logits must be those of `shiftnas eval --logits`
# within 1e-4, and its ONNX must pass onnx.checker. A changed weight makes
# the script fail naming the difference; the command's errors are one line.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
tool=${SHIFTNAS_BUILD_DIR:-.}/tests/tools/make_image_set
src=${SHIFTNAS_SOURCE_DIR:-.}
data=/usr/share/datasets/fashion-mnist
python=${SHIFTNAS_PYTHON:-/usr/bin/python3}  # Debian's, with python3-torch and python3-onnx
script=$src/doc/export_torch.py
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
if ! "$python" -c 'import torch, onnx, h5py' 2>/dev/null; then
    echo "skip: $python cannot import torch, onnx and h5py (apt-get install python3-torch python3-onnx python3-h5py)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-export.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
unset SLURM_PROCID SLURM_NTASKS SLURM_STEP_NUM_TASKS SLURM_STEP_ID SLURM_STEPID

steps=12
[ "${SHIFTNAS_TEST_QUICK:-0}" = 1 ] && steps=4
tiny="--set data.validation_size=400 --set data.test_limit=300 --set train.batch_size=50
      --set train.max_steps=$steps --set train.eval_batch_size=100 --set search.strategy=uniform
      --set search.recalibration_batches=2"
"$tool" colour "$data" "$work/rgb32.h5" 3 32 1400 300 >/dev/null ||
    { fail "make_image_set"; echo "$passes passed, $failures failed"; exit 1; }

# shellcheck disable=SC2086
"$bin" train --config "$src/jobs/configs/cnn-space.ini" $tiny --set data.dataset=hdf5 \
    --set "data.path=$work/rgb32.h5" --set data.eval_crop_fraction=0.875 \
    --out "$work/cnn" >"$work/cnn.log" 2>&1 || { fail "cnn-space training"; cat "$work/cnn.log"; }
# shellcheck disable=SC2086
"$bin" train --config "$src/jobs/configs/vit-space.ini" $tiny --set data.train_limit=1400 \
    --out "$work/vit" >"$work/vit.log" 2>&1 || { fail "vit-space training"; cat "$work/vit.log"; }

# roundtrip NAME RUN ARCH DATASETS...: export, eval --logits, the PyTorch
# rebuild and its ONNX; the named datasets must be in the file.
roundtrip() {
    name=$1 run=$2 arch=$3
    shift 3
    out=$work/$name
    if ! "$bin" export "$run" --arch "$arch" --out "$out.h5" >"$out.export" 2>&1; then
        fail "$name: export failed"; cat "$out.export"; return
    fi
    for dataset in "$@"; do
        h5ls "$out.h5/$dataset" >/dev/null 2>&1 || fail "$name: no dataset $dataset in the file"
    done
    if ! "$bin" eval "$run" --arch "$arch" --logits "$out-logits.h5" >"$out.eval" 2>&1; then
        fail "$name: eval --logits failed"; cat "$out.eval"; return
    fi
    if "$python" "$script" "$out.h5" --logits "$out-logits.h5" --onnx "$out.onnx" \
            >"$out.torch" 2>&1; then
        pass "$name: $(grep '^logits:' "$out.torch" | cut -d';' -f1); ONNX accepted by onnx.checker"
    else
        fail "$name: the PyTorch rebuild"; cat "$out.torch"; return
    fi
    # the logits are the numbers eval's test accuracy comes from
    accuracy=$(sed -n 's/.*test accuracy \([0-9.]*\) (.*/\1/p' "$out.eval")
    if grep -q "(shiftnas eval $accuracy)" "$out.torch" && [ -s "$out.onnx" ]; then
        pass "$name: the logits file gives eval's test accuracy $accuracy"
    else
        fail "$name: eval printed test accuracy '$accuracy'"; cat "$out.torch"
    fi
}

roundtrip cnn "$work/cnn" 'cnn:d=2,3,2;w=18,30,48;k=5,3,5,3,5,3,5;e=3,2,4,3,2,4,3' \
    stem/conv/weight stem/norm/running_var stage1/block2/expand/weight \
    stage2/block1/depthwise_norm/running_mean head/weight
roundtrip vit "$work/vit" 'vit:e=64;d=4;h=3,2,4,3;m=3,2,4,2' \
    patch_embed/weight position blocks/3/attention/qkv/weight blocks/0/mlp/fc2/bias norm/weight \
    head/bias

# a largest subnet is not what was exported
if "$python" -c 'import h5py, sys
f = h5py.File(sys.argv[1], "r")
sys.exit(not (f["stage0/block0/expand/weight"].shape == (48, 16, 1, 1) and
              f["stem/conv/weight"].shape == (16, 3, 3, 3) and f.attrs["input_width"] == 32 and
              f["head/weight"].shape == (10, 48) and f.attrs["eval_crop_fraction"] == 0.875))' \
        "$work/cnn.h5"; then
    pass "the cnn file holds the subnet's slices (3 input channels, 48 of 64 channels) and the crop"
else
    fail "the cnn file's shapes or attributes"
fi

# one weight changed by 0.01: the script names the difference and fails
cp "$work/cnn.h5" "$work/changed.h5"
"$python" -c 'import h5py, sys
with h5py.File(sys.argv[1], "r+") as f:
    f["head/bias"][0] += 0.01' "$work/changed.h5"
if "$python" "$script" "$work/changed.h5" --logits "$work/cnn-logits.h5" >"$work/changed.out" 2>&1; then
    fail "a changed weight passes the comparison"; cat "$work/changed.out"
elif grep -q "logits differ from shiftnas eval's by 0.01" "$work/changed.out"; then
    pass "a changed weight fails the comparison, naming the difference"
else
    fail "a changed weight: unexpected output"; cat "$work/changed.out"
fi

# --- errors: one line, exit 1 (2 for usage) ------------------------------------
arch='cnn:d=2,3,2;w=18,30,48;k=5,3,5,3,5,3,5;e=3,2,4,3,2,4,3'
expect_error "export: a missing run" 1 "nothing: not a run directory" \
    "$bin" export "$work/nothing" --arch "$arch" --out "$work/x.h5"
expect_error "export: an arch not in the space" 1 "--arch: stage 1 width 20 is not a choice" \
    "$bin" export "$work/cnn" --arch 'cnn:d=2,3,2;w=20,30,48;k=5,3,5,3,5,3,5;e=3,2,4,3,2,4,3' \
    --out "$work/x.h5"
expect_error "export: another space's arch" 1 "does not start with 'vit:'" \
    "$bin" export "$work/vit" --arch "$arch" --out "$work/x.h5"
expect_error "export: an unwritable output" 1 "no-such-dir/x.h5: cannot create it in .*no-such-dir: No such file" \
    "$bin" export "$work/cnn" --arch "$arch" --out "$work/no-such-dir/x.h5"
expect_error "export: a directory as output" 1 "cannot write: it is a directory" \
    "$bin" export "$work/cnn" --arch "$arch" --out "$work"
expect_error "export: no --out" 2 "--out FILE is required" "$bin" export "$work/cnn" --arch "$arch"
expect_error "eval: an unwritable --logits" 1 "no-such-dir/l.h5: cannot create" \
    "$bin" eval "$work/cnn" --arch "$arch" --logits "$work/no-such-dir/l.h5"
if [ ! -e "$work/x.h5" ] && [ -z "$(find "$work" -maxdepth 1 -name '*.tmp')" ]; then
    pass "failed exports leave no file behind"
else
    fail "a failed export left a file"; ls "$work"
fi

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
