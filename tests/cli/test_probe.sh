#!/bin/sh
# Probe panels and `shiftnas probe`: the committed panels (jobs/probes/) are
# made again byte for byte by the command their header names; probes.csv's
# header, rows and columns; the same file at 1, 2 and 3 ranks; a probe's
# accuracy is `shiftnas eval`'s for the same subnet; a strategy = fixed run
# gives one row, its own subnet; every bad input (a missing or damaged run,
# an empty panel, a malformed line, a subnet of the other space, a
# duplicate, a read-only run directory) is one line and exit 1 on every
# rank, with no probes.csv left behind. Tiny runs on a slice of
# Fashion-MNIST; skipped (77) without the data set or mpirun.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
src=${SHIFTNAS_SOURCE_DIR:-.}
data=/usr/share/datasets/fashion-mnist
mpirun=${MPIRUN:-mpirun}
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
for tool in "$mpirun" timeout; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool not found"; exit 77; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-probe.XXXXXX")
mounted=
trap '[ -n "$mounted" ] && umount "$mounted" 2>/dev/null; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
unset SLURM_PROCID SLURM_NTASKS SLURM_STEP_NUM_TASKS SLURM_STEP_ID SLURM_STEPID
limit=120

# --- the committed panels ------------------------------------------------------------
# made again by the command in their own "# made with:" line (its --config names the
# file in jobs/configs/)
for space in cnn vit; do
    panel=$src/jobs/probes/$space-space.txt
    made_with=$(sed -n 's/^# made with: shiftnas space --config \([^ ]*\) //p' "$panel")
    config=$(sed -n 's/^# made with: shiftnas space --config \([^ ]*\) .*/\1/p' "$panel")
    # shellcheck disable=SC2086
    if [ "$config" = "$space-space.ini" ] &&
       "$bin" space --config "$src/jobs/configs/$config" $made_with >"$work/$space-panel.txt" &&
       cmp -s "$panel" "$work/$space-panel.txt"; then
        pass "$space: jobs/probes/$space-space.txt is made again byte for byte"
    else
        fail "$space: jobs/probes/$space-space.txt differs from its command's output"
        diff "$panel" "$work/$space-panel.txt" | head -20
    fi
    subnets=$(grep -c "^$space:" "$panel")
    distinct=$(grep "^$space:" "$panel" | sort -u | wc -l)
    full=$(grep -c '^# bucket [0-7]: .*probes [0-9]*-[0-9]*$' "$panel")
    if [ "$subnets" -eq 80 ] && [ "$distinct" -eq 80 ] && [ "$full" -eq 8 ] &&
       grep -q '^# every bucket has its 10 subnets$' "$panel"; then
        pass "$space: 80 distinct subnets, 10 in each of 8 buckets"
    else
        fail "$space: $subnets subnets, $distinct distinct, $full buckets listed"
    fi
done
# a bound on the draws leaves buckets short, and the header says which
"$bin" space --config "$src/jobs/configs/cnn-space.ini" probes --per-bucket 3 --seed 5 \
    --max-draws 40 >"$work/short.txt" 2>"$work/short.err"
found=$(grep -c '^cnn:' "$work/short.txt")
short=$(grep -c '^# short: bucket [0-7] has [0-2] of 3 (no more distinct subnets in 40 draws)$' \
        "$work/short.txt")
if [ "$found" -ge 1 ] && [ "$found" -lt 24 ] && [ "$short" -ge 1 ] &&
   [ "$((found + short))" -le 24 ] && [ ! -s "$work/short.err" ]; then
    pass "40 draws: $found subnets, $short short buckets named in the header"
else
    fail "40 draws: $found subnets, $short short buckets"; cat "$work/short.txt" "$work/short.err"
fi
reliability_class=CLI
expect_error "space probes --per-bucket 0" 2 "^shiftnas space: --per-bucket '0' is not a whole" \
    "$bin" space --config "$src/jobs/configs/cnn-space.ini" probes --per-bucket 0
expect_error "space probes with --buckets" 2 "^shiftnas space: probes does not take --buckets" \
    "$bin" space --config "$src/jobs/configs/cnn-space.ini" probes --buckets 4
expect_error "space --per-bucket without probes" 2 "^shiftnas space: --per-bucket and" \
    "$bin" space --config "$src/jobs/configs/cnn-space.ini" --per-bucket 4

# --- tiny trained runs ---------------------------------------------------------------
# 6 steps of 24 images; probes recalibrated on 2 batches, then 300 test
# images in chunks of 50
tiny="--set data.train_limit=1000 --set data.validation_size=400 --set data.test_limit=300
      --set train.batch_size=24 --set train.max_steps=6 --set train.eval_batch_size=50
      --set search.shift_interval=2 --set search.shift_warmup=0
      --set search.shift_validation_images=50 --set search.recalibration_batches=2"
# the panel: the first two probes of each bucket of the committed one (16)
awk '/^# bucket/ { n = 0 } /^cnn:/ && n < 2 { print; n++ }' "$src/jobs/probes/cnn-space.txt" \
    >"$work/panel.txt"
fixed_arch=$(sed -n 4p "$work/panel.txt") # probe 3
# shellcheck disable=SC2086
"$bin" train --config "$src/jobs/configs/cnn-space.ini" $tiny --out "$work/run" \
    >"$work/run.train" 2>&1 || { fail "training failed"; cat "$work/run.train"; }
# shellcheck disable=SC2086
"$bin" train --config "$src/jobs/configs/cnn-space.ini" $tiny --set search.strategy=fixed \
    --set "search.subnet=$fixed_arch" --out "$work/fixed" >"$work/fixed.train" 2>&1 ||
    { fail "training the fixed run failed"; cat "$work/fixed.train"; }

# probe_on RANKS NAME RUN ARGS...: probes.csv kept as NAME.csv, stdout and
# stderr in NAME.out and NAME.err
probe_on() {
    probe_ranks=$1 probe_name=$2 probe_run=$3
    shift 3
    rm -f "$work/$probe_run/probes.csv"
    launch "$probe_ranks" probe "$work/$probe_run" --probes "$work/panel.txt" "$@" \
        >"$work/$probe_name.out" 2>"$work/$probe_name.err"
    probe_status=$?
    cp "$work/$probe_run/probes.csv" "$work/$probe_name.csv" 2>/dev/null
    return $probe_status
}

# --- rows and columns ----------------------------------------------------------------
if probe_on 1 one run --set run.progress_seconds=0.1; then
    pass "probe on 1 rank"
else
    fail "probe on 1 rank: exit $probe_status"; cat "$work/one.err"
fi
header=$(head -1 "$work/one.csv")
rows=$(tail -n +2 "$work/one.csv" | wc -l)
# the subnet (quoted, with commas) as one field: 7 fields a row
columns=$(tail -n +2 "$work/one.csv" | sed 's/"[^"]*"/S/' | awk -F, 'NF != 7' | wc -l)
if [ "$header" = "probe,bucket,macs,params,subnet,test_loss,test_accuracy" ] &&
   [ "$rows" -eq 16 ] && [ "$columns" -eq 0 ]; then
    pass "probes.csv: the header and 16 rows of 7 columns"
else
    fail "probes.csv: header '$header', $rows rows, $columns rows of another width"
    cat "$work/one.csv"
fi
# probe i is the panel's i-th line; the panel has two per bucket, in order
expected=$(awk '{ print NR - 1 "," int((NR - 1) / 2) "," $0 }' "$work/panel.txt")
got=$(tail -n +2 "$work/one.csv" | sed 's/^\([^,]*\),\([^,]*\),[^"]*"\([^"]*\)".*/\1,\2,\3/')
if [ "$expected" = "$got" ] &&
   tail -n +2 "$work/one.csv" | awk -F, '{ if ($NF < 0 || $NF > 1 || $(NF - 1) <= 0) bad = 1 }
                                          END { exit bad }'; then
    pass "rows: probe numbers, buckets and subnets of the panel; accuracies in [0, 1]"
else
    fail "rows"; echo "$expected" | head -3; echo "$got" | head -3
fi
if grep -q '^  probe 8/16, elapsed [0-9hms]*, eta [0-9hms]*$' "$work/one.out" &&
   grep -q '^probes written to ' "$work/one.out"; then
    pass "progress lines (probe i/N, elapsed, eta) and the summary"
else
    fail "progress lines"; cat "$work/one.out"
fi
[ -e "$work/run/probes.csv.tmp" ] && fail "probes.csv.tmp left behind"

# --- the same file at 2 and 3 ranks ----------------------------------------------------
for ranks in 2 3; do
    if probe_on "$ranks" "ranks-$ranks" run && cmp -s "$work/one.csv" "$work/ranks-$ranks.csv"; then
        pass "$ranks ranks write the same probes.csv as 1"
    else
        fail "$ranks ranks: exit $probe_status or another probes.csv"
        diff "$work/one.csv" "$work/ranks-$ranks.csv"; cat "$work/ranks-$ranks.err"
    fi
done
if probe_on 2 json run --json && [ "$(grep -c '"probe":' "$work/json.out")" -eq 16 ] &&
   grep -q '"csv":' "$work/json.out" && cmp -s "$work/one.csv" "$work/json.csv"; then
    pass "--json on 2 ranks: 16 rows, the same probes.csv"
else
    fail "--json"; cat "$work/json.out" "$work/json.err"
fi

# --- the accuracy is eval's for the same subnet ------------------------------------------
arch=$(sed -n 11p "$work/panel.txt") # probe 10
eval_accuracy=$("$bin" eval "$work/run" --arch "$arch" --json |
                sed -n 's/.*"test_accuracy": *\([0-9.e-]*\).*/\1/p')
probe_accuracy=$(awk -F, 'NR == 12 { print $NF }' "$work/one.csv")
if [ -n "$eval_accuracy" ] &&
   [ "$(awk -v x="$eval_accuracy" 'BEGIN { printf "%.6f", x }')" = "$probe_accuracy" ]; then
    pass "probe 10's test accuracy ($probe_accuracy) is eval's"
else
    fail "probe 10: $probe_accuracy, eval: '$eval_accuracy'"
fi

# --- a fixed run: one row, its own subnet --------------------------------------------------
if probe_on 1 fixed fixed && [ "$(wc -l <"$work/fixed.csv")" -eq 2 ] &&
   [ "$(awk -F, 'NR == 2 { print $1 }' "$work/fixed.csv")" = 3 ] &&
   grep -q "^3,[0-9]*,[0-9]*,[0-9]*,\"$fixed_arch\"," "$work/fixed.csv"; then
    pass "fixed run: one row, its own subnet as probe 3"
else
    fail "fixed run"; cat "$work/fixed.csv" "$work/fixed.err"
fi
sed 4d "$work/panel.txt" >"$work/panel-without.txt"
rm -f "$work/fixed/probes.csv"
launch 2 probe "$work/fixed" --probes "$work/panel-without.txt" >"$work/out" 2>"$work/err"
if [ "$(tail -n +2 "$work/fixed/probes.csv" 2>/dev/null | cut -d, -f1)" = -1 ]; then
    pass "fixed run, subnet not on the panel (2 ranks): probe -1"
else
    fail "fixed run, subnet not on the panel"; cat "$work/fixed/probes.csv" "$work/err"
fi

# --- bad inputs: one line, exit 1, no probes.csv ----------------------------------------------
reliability_class=probes
printf '# only comments\n\n   # and blanks\n' >"$work/empty.txt"
{ echo "# a panel"; sed -n 1p "$work/panel.txt"; echo "cnn:d=1,1,1;w=12,20"; } >"$work/malformed.txt"
{ sed -n 1,2p "$work/panel.txt"; echo "   "; sed -n 2p "$work/panel.txt"; } >"$work/duplicate.txt"
{ echo "# a panel"; echo "cnn-d=1,1,1"; } >"$work/garbage.txt"
{ sed -n 1p "$work/panel.txt"; echo "cnn:d=1,1,1;w=99,20,32;k=3,3,3;e=2,2,2"; } >"$work/outside.txt"
cp -r "$work/run" "$work/corrupt"
head -c 2000 "$work/run/model.h5" >"$work/corrupt/model.h5"
rm -f "$work/run/probes.csv" "$work/corrupt/probes.csv"
bad() { # bad RANKS RUN PANEL
    launch "$1" probe "$work/$2" --probes "$3"
}
expect_error "no such run" 1 "^shiftnas probe: $work/none: not a run directory" \
    bad 1 none "$work/panel.txt"
expect_error "damaged model.h5" 1 "^shiftnas probe: .*corrupt/model.h5" bad 1 corrupt "$work/panel.txt"
expect_error "no such panel" 1 "^shiftnas probe: $work/nothing.txt: cannot open the probe panel" \
    bad 1 run "$work/nothing.txt"
expect_error "empty panel" 1 "^shiftnas probe: $work/empty.txt: no subnets" bad 1 run "$work/empty.txt"
expect_error "malformed line" 1 "^shiftnas probe: $work/malformed.txt:3: not a subnet of the cnn space" \
    bad 1 run "$work/malformed.txt"
expect_error "not a subnet at all" 1 "^shiftnas probe: $work/garbage.txt:2: malformed: 'cnn-d=1,1,1'" \
    bad 1 run "$work/garbage.txt"
expect_error "a choice outside the space" 1 "^shiftnas probe: $work/outside.txt:2: .*width 99 is not a choice" \
    bad 1 run "$work/outside.txt"
expect_error "the other space's panel" 1 \
    "^shiftnas probe: .*jobs/probes/vit-space.txt:[0-9]*: wrong space: a vit subnet, but the space is cnn" \
    bad 1 run "$src/jobs/probes/vit-space.txt"
expect_error "duplicate" 1 \
    "^shiftnas probe: $work/duplicate.txt:4: duplicate: the same subnet as line 2 (probe 1)" \
    bad 1 run "$work/duplicate.txt"
expect_error "no --probes" 2 "^shiftnas probe: --probes FILE is required" "$bin" probe "$work/run"
expect_rank_error "2 ranks, no such run: one line" "^shiftnas probe: rank 0: .*none: not a run directory" \
    bad 2 none "$work/panel.txt"
expect_rank_error "2 ranks, empty panel: one line" "^shiftnas probe: rank 0: .*empty.txt: no subnets" \
    bad 2 run "$work/empty.txt"
expect_rank_error "3 ranks, the other space's panel: one line" "^shiftnas probe: rank 0: .*wrong space" \
    bad 3 run "$src/jobs/probes/vit-space.txt"
# rank 1 cannot open the run (its data moved, say): rank 1 names it, the others stop too
rank1_cannot() {
    timeout -k 10 "$limit" "$mpirun" --allow-run-as-root --oversubscribe \
        -np 1 "$bin" probe "$work/run" --probes "$work/panel.txt" : \
        -np 1 "$bin" probe "$work/run" --probes "$work/panel.txt" --set "data.path=$work/no-data"
}
expect_rank_error "rank 1 cannot open the run: one line from rank 1" \
    "^shiftnas probe: rank 1: .*$work/no-data" rank1_cannot
if without_fault_injection "a failure inside an evaluation on one rank"; then
    :
else
    # rank 1's second evaluation fails (an I/O error there alone)
    mpi_exports=SHIFTNAS_INJECT_FAULT
    export SHIFTNAS_INJECT_FAULT=1:2:io
    expect_rank_error "rank 1 fails in an evaluation: one line from rank 1" \
        '^shiftnas probe: rank 1: fitness evaluation 2 of this rank: injected I/O error' \
        bad 2 run "$work/panel.txt"
    unset SHIFTNAS_INJECT_FAULT
    mpi_exports=
fi
if [ -e "$work/run/probes.csv" ] || [ -e "$work/run/probes.csv.tmp" ]; then
    fail "a failed probe left probes.csv or its temporary"
else
    pass "the failures left no probes.csv and no temporary"
fi

# a --csv that cannot be written fails before the evaluations
expect_error "unwritable --csv" 1 "^shiftnas probe: $work/nodir/x.csv.tmp: cannot create" \
    launch 1 probe "$work/run" --probes "$work/panel.txt" --csv "$work/nodir/x.csv"

# --- a read-only run directory ---------------------------------------------------------------
cp -r "$work/run" "$work/readonly"
made_ro=0
if [ "$(id -u)" -ne 0 ]; then
    chmod -R a-w "$work/readonly" && made_ro=1
elif mount --bind "$work/readonly" "$work/readonly" 2>/dev/null; then
    mounted=$work/readonly
    mount -o remount,bind,ro "$work/readonly" 2>/dev/null && made_ro=1
fi
if [ "$made_ro" = 1 ]; then
    expect_error "read-only run directory" 1 \
        "^shiftnas probe: .*readonly/.shiftnas.lock: cannot open the lock file: \(Permission denied\|Read-only file system\)" \
        bad 1 readonly "$work/panel.txt"
    # --csv elsewhere reads the run without writing into it
    if launch 1 probe "$work/readonly" --probes "$work/panel.txt" --csv "$work/elsewhere.csv" \
           >"$work/out" 2>"$work/err" && cmp -s "$work/one.csv" "$work/elsewhere.csv"; then
        pass "read-only run directory, --csv elsewhere: the same table"
    else
        fail "read-only run directory, --csv elsewhere"; cat "$work/err"
    fi
else
    echo "note: the run directory could not be made read-only (root without mount): not tried"
fi
[ -n "$mounted" ] && umount "$mounted" && mounted=

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
