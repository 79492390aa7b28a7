#!/bin/sh
# The shiftnas program end to end: a short real run, determinism of a rerun,
# HDF5 conversion, and the one-line errors for bad input.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
src=${SHIFTNAS_SOURCE_DIR:-.}
data=/usr/share/datasets/fashion-mnist
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"

small="--set data.train_limit=3000 --set data.test_limit=1000 --set data.validation_size=500 --set train.epochs=2 --set train.batch_size=100"

# --- a short real run on Fashion-MNIST -------------------------------------
if "$bin" train --config "$src/jobs/configs/cnn-fixed.ini" $small --out "$work/run1" >"$work/run1.log" 2>&1; then
    pass "short run exits 0"
else
    fail "short run failed"; cat "$work/run1.log"
fi
if [ "$(head -n 1 "$work/run1/metrics.csv")" = "step,epoch,split,loss,accuracy,images,seconds" ] &&
   [ "$(grep -c ',val,' "$work/run1/metrics.csv")" -eq 2 ] &&
   [ "$(grep -c ',test,' "$work/run1/metrics.csv")" -eq 2 ]; then
    pass "metrics.csv has a header and a val and a test row per epoch"
else
    fail "metrics.csv malformed"; cat "$work/run1/metrics.csv"
fi
# Accuracy after two short epochs on 2500 images is well above chance (0.1).
if awk -F, '$3 == "test" { last = $5 } END { exit !(last > 0.6) }' "$work/run1/metrics.csv"; then
    pass "test accuracy above 0.6 after 2 short epochs"
else
    fail "test accuracy too low"; cat "$work/run1/metrics.csv"
fi
if grep -q '^epoch 2/2 done' "$work/run1.log" && grep -q 'img/s' "$work/run1.log"; then
    pass "progress and epoch lines printed"
else
    fail "progress lines missing"; cat "$work/run1.log"
fi

cut -d, -f1-6 "$work/run1/metrics.csv" >"$work/m1-all"
# --- a fixed network's model.h5: its weights, as its last checkpoint holds them
if h5diff "$work/run1/model.h5" "$work/run1/checkpoints/step-000000050.h5" /network /network \
       >/dev/null 2>&1 &&
   h5dump -a /step "$work/run1/model.h5" 2>/dev/null | grep -q '(0): 50$' &&
   h5dump -a /format "$work/run1/model.h5" 2>/dev/null | grep -q '"shiftnas-model"'; then
    pass "a fixed network's model.h5 holds its final weights (part network, step 50)"
else
    fail "fixed network model.h5"; ls -l "$work/run1"; h5ls -r "$work/run1/model.h5" | head -n 5
fi

# --- [run] metrics_interval_steps: training rows for live curves ----------
# Off by default: no training rows (run1). Every 5 steps: rows at 5, 10,
# ..., 50, each the mean loss of its 5 steps (the 5 rows of epoch 1 average
# to its "train loss"), and the evaluation rows as without them.
if [ "$(grep -c ',train,' "$work/run1/metrics.csv")" -eq 0 ]; then
    pass "metrics_interval_steps = 0 (the default): evaluation rows only"
else
    fail "training rows without metrics_interval_steps"; cat "$work/run1/metrics.csv"
fi
"$bin" train --config "$src/jobs/configs/cnn-fixed.ini" $small --set run.metrics_interval_steps=5 \
    --out "$work/rows" >"$work/rows.log" 2>&1 || { fail "run with training rows"; cat "$work/rows.log"; }
epoch1=$(sed -n 's/^epoch 1\/2 done: train loss \([0-9.]*\) .*/\1/p' "$work/rows.log")
if [ "$(awk -F, '$3 == "train" { printf "%s:%s ", $1, $2 }' "$work/rows/metrics.csv")" = \
     "5:1 10:1 15:1 20:1 25:1 30:2 35:2 40:2 45:2 50:2 " ] &&
   awk -F, '$3 == "train" && ($4 <= 0 || $5 != "" || $6 != 100 * $1) { exit 1 }' \
       "$work/rows/metrics.csv" &&
   awk -F, -v want="$epoch1" '$3 == "train" && $2 == 1 { sum += $4; n++ }
       END { d = sum / n - want; exit !(n == 5 && d < 1e-4 && d > -1e-4) }' "$work/rows/metrics.csv" &&
   grep -v ',train,' "$work/rows/metrics.csv" | cut -d, -f1-6 | cmp -s - "$work/m1-all"; then
    pass "metrics_interval_steps = 5: a training row every 5 steps, the mean loss of its steps"
else
    fail "training rows (epoch 1 train loss $epoch1)"; cat "$work/rows/metrics.csv"
fi

# --- the resolved configuration reproduces the run bit for bit ------------
if "$bin" train --config "$work/run1/config.ini" --out "$work/run2" >/dev/null 2>&1 &&
   cut -d, -f1-6 "$work/run1/metrics.csv" >"$work/m1" && cut -d, -f1-6 "$work/run2/metrics.csv" >"$work/m2" &&
   cmp -s "$work/m1" "$work/m2"; then
    pass "rerun from RUN_DIR/config.ini gives identical losses and accuracies"
else
    fail "rerun differs"; diff "$work/m1" "$work/m2"
fi

# --- HDF5 conversion, and training from it gives the same numbers ---------
if "$bin" data convert "$data" "$work/fmnist.h5" >/dev/null 2>"$work/err"; then
    pass "data convert"
else
    fail "data convert"; cat "$work/err"
fi
if "$bin" train --config "$src/jobs/configs/cnn-fixed.ini" $small --set data.dataset=hdf5 \
        --set "data.path=$work/fmnist.h5" --out "$work/run3" >/dev/null 2>&1 &&
   cut -d, -f1-6 "$work/run3/metrics.csv" >"$work/m3" && cmp -s "$work/m1" "$work/m3"; then
    pass "training from the HDF5 copy equals training from IDX"
else
    fail "HDF5 run differs from IDX run"; diff "$work/m1" "$work/m3"
fi

# --- errors: one line, non-zero exit, the file or key named ---------------
reliability_class=config
expect_error "missing config file" 1 "$work/nope.ini" "$bin" train --config "$work/nope.ini" --out "$work/e1"
printf '[train]\nepochz = 3\n' >"$work/unknown.ini"
expect_error "unknown key" 1 "epochz" "$bin" train --config "$work/unknown.ini" --out "$work/e2"
expect_error "out-of-range override" 1 "batch_size" "$bin" train --config "$src/jobs/configs/cnn-fixed.ini" --set train.batch_size=-4 --out "$work/e3"
reliability_class=IDX
expect_error "missing data directory" 1 "$work/no-data" "$bin" train --config "$src/jobs/configs/cnn-fixed.ini" --set "data.path=$work/no-data" --out "$work/e4"
mkdir -p "$work/bad-idx"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    cp "$data/$f.gz" "$work/bad-idx/$f.gz"
done
head -c 5000 "$data/train-images-idx3-ubyte.gz" >"$work/bad-idx/train-images-idx3-ubyte.gz"
expect_error "truncated gzip IDX" 1 "train-images-idx3-ubyte" "$bin" train --config "$src/jobs/configs/cnn-fixed.ini" --set "data.path=$work/bad-idx" --out "$work/e5"
printf 'not hdf5' >"$work/bad.h5"
reliability_class=HDF5
expect_error "not an HDF5 file" 1 "$work/bad.h5" "$bin" train --config "$src/jobs/configs/cnn-fixed.ini" --set data.dataset=hdf5 --set "data.path=$work/bad.h5" --out "$work/e6"
reliability_class=config
expect_error "patch does not divide image" 1 "patch" "$bin" train --config "$src/jobs/configs/vit-fixed.ini" --set vit.patch=5 --out "$work/e7"
# SGD at learning rate 10 with momentum 0.99 blows the ViT up within a few steps.
reliability_class=numeric
expect_error "NaN guard names the step" 1 "step [0-9]*: training loss of shard [0-9]* is" "$bin" train --config "$src/jobs/configs/vit-fixed.ini" \
    --set data.train_limit=3000 --set data.validation_size=500 --set data.test_limit=500 --set train.optimizer=sgd \
    --set train.learning_rate=10 --set train.momentum=0.99 --set train.weight_decay=0 --set train.warmup_epochs=0 \
    --set train.epochs=3 --out "$work/e8"
reliability_class=writers
expect_error "run directory in use" 1 "already holds a run" "$bin" train --config "$work/run1/config.ini" --out "$work/run1"
reliability_class=CLI
expect_error "convert onto an existing file" 1 "exists" "$bin" data convert "$data" "$work/fmnist.h5"
expect_error "unknown command" 2 "unknown command" "$bin" trian
expect_error "train without --config" 2 "config" "$bin" train
if "$bin" --version | grep -q '^shiftnas ' && "$bin" train --help | grep -q -- '--config'; then
    pass "--version and train --help"
else
    fail "--version or --help"
fi

# --- shiftnas space: the search spaces, without loading data ---------------
if "$bin" space --config "$src/jobs/configs/vit-autoformer-t.ini" --samples 300 >"$work/space.out" 2>"$work/err" &&
   grep -q '^smallest: 1166536704 MACs' "$work/space.out" && grep -q '^largest: 2263242112 MACs' "$work/space.out" &&
   grep -q '^  vit:e=192;d=12;h=3,3,3,3,3,3,3,3,3,3,3,3;m=3.5,' "$work/space.out"; then
    pass "space: AutoFormer-T smallest and largest"
else
    fail "space: AutoFormer-T figures"; cat "$work/space.out" "$work/err"
fi
if "$bin" space --config "$src/jobs/configs/cnn-space.ini" --samples 500 --buckets 5 --plot "$work/hist.png" \
        --arch 'cnn:d=1,2,3;w=12,30,64;k=3,5,3,5,5,3;e=2,3,4,4,2,3' >"$work/space.out" 2>"$work/err" &&
   [ "$(grep -c '^  \[' "$work/space.out")" -eq 5 ] && grep -q '^arch: [0-9]* MACs' "$work/space.out" &&
   grep -q 'skewness' "$work/space.out" &&
   [ "$(od -An -tx1 -N8 "$work/hist.png" | tr -d ' \n')" = "89504e470d0a1a0a" ]; then
    pass "space: histogram of 5 buckets, --arch, --plot writes a PNG"
else
    fail "space: cnn histogram or plot"; cat "$work/space.out" "$work/err"
fi
if "$bin" space --config "$src/jobs/configs/vit-space.ini" --samples 100 --bucket-step 1000000 >"$work/space.out" 2>&1 &&
   grep -q '^buckets: 6,' "$work/space.out"; then
    pass "space: --bucket-step sets the bucket count"
else
    fail "space: --bucket-step"; cat "$work/space.out"
fi
expect_error "space: arch value not a choice" 1 "stage 2 width 31 is not a choice (20, 30, 40)" "$bin" space \
    --config "$src/jobs/configs/cnn-space.ini" --samples 10 --arch 'cnn:d=1,2,3;w=12,31,64;k=3,5,3,5,5,3;e=2,3,4,4,2,3'
expect_error "space: bad [space] value" 1 "space.*depths" "$bin" space --config "$src/jobs/configs/cnn-space.ini" --set space.depths=0,1
expect_error "space: impossible space" 1 "patch" "$bin" space --config "$src/jobs/configs/vit-space.ini" --set space.patch=5
expect_error "space: bad bucket count" 2 "buckets" "$bin" space --config "$src/jobs/configs/cnn-space.ini" --buckets 0
expect_error "space: buckets and step" 2 "not both" "$bin" space --config "$src/jobs/configs/cnn-space.ini" --buckets 4 --bucket-step 1000
expect_error "space without --config" 2 "config" "$bin" space

# A supernet configuration trains with its [search] strategy (test_search.sh
# covers every strategy) and is refused when its [space] does not fit the data set.
if "$bin" train --config "$src/jobs/configs/cnn-space.ini" --set train.max_steps=3 --set data.train_limit=2000 \
        --set data.validation_size=200 --set data.test_limit=200 --set search.shift_validation_images=64 \
        --set search.evolution_validation_images=0 --out "$work/super1" >"$work/super.out" 2>&1 &&
   grep -q '^supernet: strategy shift; 8 buckets over 0.802M..8.48M MACs' "$work/super.out" &&
   [ "$(wc -l <"$work/super1/metrics.csv")" -ge 3 ]; then
    pass "supernet configuration trains with its strategy and says so"
else
    fail "supernet training"; cat "$work/super.out"
fi
expect_error "supernet: [space] image size against the data" 1 "space.*32x32.*data set has 1x28x28" "$bin" train \
    --config "$src/jobs/configs/cnn-space.ini" --set space.image_size=32 --out "$work/super2"

# --- the packages: README's apt-get line is what quickstart.sh installs ----
readme=$(awk '/^apt-get install/ { on = 1 } on { print; if ($0 !~ /\\$/) exit }' "$src/README.md" |
         sed 's/apt-get install//; s/\\//g' | tr ' ' '\n' | grep -v '^$' | sort)
script=$(awk '/^(test_)?packages=\(/ { on = 1 } on { print; if ($0 ~ /\)/) on = 0 }' "$src/jobs/quickstart.sh" |
         sed 's/^.*=(//; s/).*$//' | tr ' ' '\n' | grep -v '^$' | sort)
slurm=$(sed -n 's/^packages=(\(.*\))$/\1/p' "$src/tests/slurm/test_jobs.sh" | tr ' ' '\n' | sort)
if [ -n "$readme" ] && [ "$readme" = "$script" ] &&
   [ -z "$(echo "$slurm" | grep -v -x -F "$readme")" ] && echo "$readme" | grep -q -x python3-h5py; then
    pass "README's apt-get line, quickstart.sh and the Slurm test name the same packages"
else
    fail "package lists differ"; echo "README: $readme" | tr '\n' ' '; echo; echo "quickstart.sh: $script" | tr '\n' ' '; echo
fi

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
