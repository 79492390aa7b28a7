#!/bin/sh
# The command line's messages (issue 17): every option value that is missing
# or is another option, every --targets list that is too long, too many,
# empty, out of range or malformed, architecture texts too long or with
# garbage, counts with trailing garbage, a file given for a run directory, a
# --set that would change the trained supernet, and what inspect says of
# model.h5 and of the probability updates (the same count as log.h5). Each is
# one line on stderr with the usage (2) or failure (1) status. One tiny shift
# run of 6 steps (about 5 s). Skipped (77) without Fashion-MNIST.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
src=${SHIFTNAS_SOURCE_DIR:-.}
data=/usr/share/datasets/fashion-mnist
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-messages.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
unset SHIFTNAS_INJECT_FAULT
space=$src/jobs/configs/cnn-space.ini
esc=$(printf '\033')

# rows FILE DATASET: the length of a 1-D dataset of an HDF5 file (h5ls).
rows() {
    h5ls "$1/$2" 2>/dev/null | sed -n 's/.*Dataset {\([0-9]*\).*/\1/p'
}

# A tiny shift run: probability updates after steps 2 and 4 (log.h5 rows 2).
run=$work/run
if ! timeout 300 "$bin" train --config "$space" --set space.stem_channels=8 \
        --set space.stage_channels=8,16,24 --set data.train_limit=600 \
        --set data.validation_size=200 --set data.test_limit=100 --set train.batch_size=32 \
        --set train.max_steps=6 --set train.eval_batch_size=100 --set search.shift_interval=2 \
        --set search.shift_warmup=0.3 --set search.shift_validation_images=32 \
        --set search.evolution_validation_images=0 \
        --set checkpoint.interval_steps=3 --out "$run" >"$work/train.log" 2>&1; then
    cat "$work/train.log"; echo "FAIL: the tiny run did not train"; exit 1
fi

reliability_class=CLI
# --- an option's value: missing, or another option ---------------------------
expect_error "search --set --set x=y" 2 "search: --set needs SECTION.KEY=VALUE and got '--set', another option" \
    timeout 60 "$bin" search "$run" --set --set x=y --targets 2M
expect_error "train --set --set x=y" 2 "train: --set needs SECTION.KEY=VALUE and got '--set', another option" \
    timeout 60 "$bin" train --set --set x=y
expect_error "train --config at the end" 2 "train: --config needs a FILE (nothing follows it)" \
    timeout 60 "$bin" train --config
expect_error "search --targets at the end" 2 "search: --targets needs a list of MACs targets.*(nothing follows it)" \
    timeout 60 "$bin" search "$run" --targets
expect_error "search --targets --csv" 2 "search: --targets needs .* and got '--csv', another option" \
    timeout 60 "$bin" search "$run" --targets --csv x.csv
expect_error "eval --arch --json" 2 "eval: --arch needs an architecture text .* and got '--json'" \
    timeout 60 "$bin" eval "$run" --arch --json
expect_error "eval --logits at the end" 2 "eval: --logits needs a FILE.h5 (nothing follows it)" \
    timeout 60 "$bin" eval "$run" --arch x --logits
expect_error "export --out --set" 2 "export: --out needs a FILE and got '--set'" \
    timeout 60 "$bin" export "$run" --arch x --out --set a.b=c
expect_error "config show --config --json" 2 "config: --config needs a FILE and got '--json'" \
    timeout 60 "$bin" config show --config --json
expect_error "space --samples --json" 2 "space: --samples needs a count N and got '--json'" \
    timeout 60 "$bin" space --config "$space" --samples --json
expect_error "report --out --targets" 2 "report: --out needs a DIR and got '--targets'" \
    timeout 60 "$bin" report "$run" --out --targets 2M
expect_error "search: a second RUN_DIR" 2 "one RUN_DIR only" \
    timeout 60 "$bin" search "$run" "$run" --targets 2M
expect_error "unknown argument, escaped" 2 "unknown argument '--x\\\\x1b\\[2J'" \
    timeout 60 "$bin" search "$run" "--x$esc[2J" --targets 2M
if grep -q "$esc" "$work/err"; then fail "an escape byte reached stderr"; else pass "no raw escape byte on stderr"; fi

# --- --targets: checked whole before it is parsed -----------------------------
long=$(awk 'BEGIN { for (i = 0; i < 400; i++) printf "1M,"; printf "1M" }')
expect_error "targets: 1203 characters" 2 "search: --targets: the list is longer than 1023 characters" \
    timeout 60 "$bin" search "$run" --targets "$long"
expect_error "targets: 1e308G" 2 "item 1, '1e308G', is out of range: a target is more than 0 and at most 1000000G MACs" \
    timeout 60 "$bin" search "$run" --targets 1e308G
expect_error "targets: 1.1e15" 2 "item 2, '1.1e15', is out of range" \
    timeout 60 "$bin" search "$run" --targets 2M,1.1e15
expect_error "targets: inf" 2 "item 1, 'inf', is out of range" timeout 60 "$bin" search "$run" --targets inf
expect_error "targets: -3M" 2 "item 1, '-3M', is out of range" timeout 60 "$bin" search "$run" --targets -3M
expect_error "targets: 0" 2 "item 1, '0', is out of range" timeout 60 "$bin" search "$run" --targets 0
expect_error "targets: nan" 2 "item 1, 'nan', is not a MACs count like 2.5M" \
    timeout 60 "$bin" search "$run" --targets nan
expect_error "targets: 2M5" 2 "item 1, '2M5', is not a MACs count like 2.5M" \
    timeout 60 "$bin" search "$run" --targets 2M5
many=$(awk 'BEGIN { for (i = 0; i < 64; i++) printf "5M,"; printf "5M" }')
expect_error "targets: 65" 2 "search: --targets: at most 64 targets, got 65" \
    timeout 60 "$bin" search "$run" --targets "$many"
expect_error "targets: 2.5M,,5M" 2 "item 2 of 3 is empty" timeout 60 "$bin" search "$run" --targets 2.5M,,5M
expect_error "targets: 2.5M," 2 "item 2 of 2 is empty" timeout 60 "$bin" search "$run" --targets 2.5M,
expect_error "targets: empty" 2 "the list is empty" timeout 60 "$bin" search "$run" --targets ""
expect_error "report --targets 1e308G" 2 "report: --targets: item 1, '1e308G', is out of range" \
    timeout 60 "$bin" report "$run" --out "$work/report" --targets 1e308G --no-plots
if [ ! -e "$run/search.csv" ]; then
    pass "no refused target reached search.csv"
else
    fail "search.csv written by a refused command"; cat "$run/search.csv"
fi

# An older search.csv with an inf target: report names the row and leaves
# the run out (beside a good run, so that the report is written).
header="method,strategy,target_flops,arch,flops,params,val_accuracy,test_accuracy,evaluations,seconds"
row='"cnn:d=1,1,1;w=4,8,12;k=3,3,3;e=2,2,2",222272,1394,0.110000,0.130000,0,0.13'
cp -r "$run" "$work/good"
cp -r "$run" "$work/old"
printf '%s\ngenerator,shift,1000000,%s\n' "$header" "$row" >"$work/good/search.csv"
printf '%s\ngenerator,shift,inf,%s\n' "$header" "$row" >"$work/old/search.csv"
expect_error "report: an inf target of an old search.csv" 0 "skipped .*old/search.csv:2: malformed row: target_flops is out of range" \
    timeout 60 "$bin" report "$work/good" "$work/old" --out "$work/report-old" --no-plots
if [ -s "$work/report-old/report.md" ] && ! grep -q 'inf' "$work/report-old/report.md"; then
    pass "report shows no inf target"
else
    fail "report shows an inf target (or none was written)"; cat "$work/report-old/report.md"
fi

# --- counts and architecture texts ----------------------------------------------
expect_error "space --samples 12x" 2 "space: --samples '12x' is not a whole number in 1..100000000" \
    timeout 60 "$bin" space --config "$space" --samples 12x
expect_error "space --seed -1" 2 "space: --seed '-1' is not a whole number" \
    timeout 60 "$bin" space --config "$space" --seed -1
expect_error "space --buckets 1e3" 2 "space: --buckets '1e3' is not a whole number" \
    timeout 60 "$bin" space --config "$space" --buckets 1e3
expect_error "space --buckets beyond long long" 2 "is not a whole number in 1..1000" \
    timeout 60 "$bin" space --config "$space" --buckets 99999999999999999999999
long_arch="cnn:$(awk 'BEGIN { for (i = 0; i < 8200; i++) printf " " }')d=1"
expect_error "arch: over 8192 characters" 1 "architecture text longer than 8192 characters" \
    timeout 60 "$bin" space --config "$space" --samples 10 --arch "$long_arch"
expect_error "arch: a number with trailing garbage" 1 "section 'd': '1x' is not a number" \
    timeout 60 "$bin" space --config "$space" --samples 10 --arch "cnn:d=1x,2,3;w=12,30,64;k=3;e=2"
expect_error "arch: a negative depth" 1 "stage 1 depth -1 is not a choice" \
    timeout 60 "$bin" space --config "$space" --samples 10 --arch "cnn:d=-1,2,3;w=12,30,64;k=3;e=2"
expect_error "arch: an absurd depth" 1 "'1e400' is not a number" \
    timeout 60 "$bin" space --config "$space" --samples 10 --arch "cnn:d=1e400,2,3;w=12,30,64;k=3;e=2"
expect_error "arch: control bytes escaped" 1 "architecture text 'cnn\\\\x1b\\[2J:d=1'" \
    timeout 60 "$bin" space --config "$space" --samples 10 --arch "cnn$esc[2J:d=1"
if grep -q "$esc" "$work/err"; then fail "arch: a raw escape byte on stderr"; else pass "arch: no raw escape byte"; fi
expect_error "eval --arch: too long" 1 "eval: --arch: architecture text longer than 8192" \
    timeout 60 "$bin" eval "$run" --arch "$long_arch"

# --- a file for a run directory; --set of what was trained ---------------------------
expect_error "eval FILE" 1 "eval: .*/model.h5: is a file, not a run directory" \
    timeout 60 "$bin" eval "$run/model.h5" --arch "cnn:d=1,1,1;w=4,8,12;k=3,3,3;e=2,2,2"
expect_error "search FILE" 1 "search: .*/config.ini: is a file, not a run directory" \
    timeout 60 "$bin" search "$run/config.ini" --targets 1M
expect_error "search --set space.depths=1,2" 1 "search: --set 'space.depths=1,2': \\[space\\] depths is fixed by training (.*config.ini has depths = 1,2,3" \
    timeout 60 "$bin" search "$run" --set space.depths=1,2 --targets 1M
expect_error "eval --set search.strategy=uniform" 1 "eval: --set 'search.strategy=uniform': \\[search\\] strategy is fixed by training" \
    timeout 60 "$bin" eval "$run" --set search.strategy=uniform --arch "cnn:d=1,1,1;w=4,8,12;k=3,3,3;e=2,2,2"
expect_error "export --set model.type=cnn" 1 "export: --set 'model.type=cnn': \\[model\\] type is fixed by training" \
    timeout 60 "$bin" export "$run" --set model.type=cnn --arch x --out "$work/x.h5"

# --- inspect ----------------------------------------------------------------------------
logged=$(rows "$run/log.h5" updates/step)
timeout 60 "$bin" inspect "$run" --no-config >"$work/inspect.txt" 2>&1
counted=$(sed -n 's/^probability updates so far: \([0-9]*\).*/\1/p' "$work/inspect.txt")
timeout 60 "$bin" inspect "$run" --json >"$work/inspect.json" 2>&1
json_count=$(sed -n 's/.*"probability_updates": \([0-9]*\).*/\1/p' "$work/inspect.json")
if [ -n "$logged" ] && [ "$logged" -gt 0 ] && [ "$counted" = "$logged" ] && [ "$json_count" = "$logged" ]; then
    pass "inspect counts the $logged probability updates log.h5 holds"
else
    fail "inspect: '$counted' (json '$json_count') probability updates, log.h5 has '$logged'"
    cat "$work/inspect.txt"
fi
if timeout 60 "$bin" inspect "$run/model.h5" --no-config >"$work/model.txt" 2>"$work/model.err" &&
   [ ! -s "$work/model.err" ] && ! grep -q "NOT USABLE" "$work/model.txt" &&
   grep -q "^status: a trained model, not a checkpoint" "$work/model.txt" &&
   grep -q "trained 6 steps" "$work/model.txt" && grep -q "^model: supernet; strategy: shift" "$work/model.txt" &&
   grep -q "^  supernet .* arrays" "$work/model.txt" && grep -q "^  generator .* arrays" "$work/model.txt"; then
    pass "inspect model.h5: a trained model, its steps, model, strategy and sizes (exit 0)"
else
    fail "inspect model.h5"; cat "$work/model.txt" "$work/model.err"
fi
if timeout 60 "$bin" inspect "$run/model.h5" --json --no-config >"$work/model.json" 2>"$work/model.err" &&
   grep -q '"kind": "model"' "$work/model.json" && grep -q '"usable": true' "$work/model.json" &&
   grep -q '"step": 6' "$work/model.json"; then
    pass "inspect model.h5 --json: kind model, usable, step 6"
else
    fail "inspect model.h5 --json"; cat "$work/model.json" "$work/model.err"
fi
expect_error "inspect log.h5" 1 "inspect: .*log.h5: neither a checkpoint nor a model file .*inspect reads a run directory" \
    timeout 60 "$bin" inspect "$run/log.h5" --no-config
expect_error "inspect: two files" 2 "one file or run directory only" \
    timeout 60 "$bin" inspect "$run" "$run/model.h5"

# --- the summary of a stopped run ---------------------------------------------
# A supernet's test set is evaluated after its last step: a run stopped at
# step 3 of 6 must not print a test accuracy (it used to print 0.0000).
if ! without_fault_injection "the summary of a stopped run"; then
    SHIFTNAS_INJECT_FAULT=0:3:signal timeout 300 "$bin" train --config "$space" \
        --set space.stem_channels=8 --set space.stage_channels=8,16,24 --set data.train_limit=600 \
        --set data.validation_size=200 --set data.test_limit=100 --set train.batch_size=32 \
        --set train.max_steps=6 --set train.eval_batch_size=100 --set search.shift_interval=2 \
        --set search.shift_warmup=0.3 --set search.shift_validation_images=32 \
        --set search.evolution_validation_images=0 \
        --out "$work/stopped" >"$work/stopped.log" 2>&1
    status=$?
    if [ "$status" -eq 75 ] && grep -q "^stopped: 3 steps.*; test set not evaluated yet" "$work/stopped.log" &&
       ! grep -q "test accuracy" "$work/stopped.log"; then
        pass "a stopped run's summary says its test set was not evaluated yet (no 0.0000)"
    else
        fail "the summary of a run stopped at step 3: exit $status"; grep -E "^(stopped|done)" "$work/stopped.log"
    fi
fi

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
