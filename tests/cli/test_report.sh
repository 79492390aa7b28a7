#!/bin/sh
# shiftnas report end to end: tiny real supernet runs (uniform and shift, two
# seeds each) searched at two targets, then the report: the six PNGs drawn
# by gnuplot, report.md's mean and standard deviation against awk over the
# runs' search.csv files, and the skips (an unfinished run, a run without
# search.csv, a run of another search space), --strict, --no-plots and the
# one-line errors; then --summarize: the report of the summaries equals the
# report of the runs, and an unfinished run is refused. Skipped (77) without Fashion-MNIST; the plot checks need
# gnuplot (gnuplot-nox), without it the rest runs and the test ends with 77.
# SHIFTNAS_TEST_QUICK=1: the other-space run is a copy with an edited
# config.ini instead of a trained one.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
src=${SHIFTNAS_SOURCE_DIR:-.}
data=/usr/share/datasets/fashion-mnist
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-report.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
unset SHIFTNAS_INJECT_FAULT SHIFTNAS_GNUPLOT
started=$(date +%s)
have_gnuplot=1
command -v gnuplot >/dev/null 2>&1 || { have_gnuplot=0; echo "note: gnuplot not found, plots not checked"; }

# 8 steps of 50 images; shift updates after steps 3 and 6.
tiny="--set data.train_limit=600 --set data.validation_size=200 --set data.test_limit=200
      --set train.batch_size=50 --set train.max_steps=8 --set train.eval_batch_size=100
      --set search.shift_interval=3 --set search.shift_warmup=0.25
      --set search.shift_validation_images=32 --set search.recalibration_batches=1
      --set search.evolution_population=4 --set search.evolution_parents=2
      --set search.evolution_evaluations=4 --set search.evolution_validation_images=100"
runs="$work/runs"
mkdir -p "$runs"

# train NAME STRATEGY SEED [ARGS...]: a run into $runs/NAME; status in $status.
train() {
    name=$1 strategy=$2 seed=$3
    shift 3
    # shellcheck disable=SC2086
    "$bin" train --config "$src/jobs/configs/cnn-space.ini" $tiny --set search.strategy="$strategy" \
        --set run.seed="$seed" "$@" --out "$runs/$name" >"$work/$name.log" 2>&1
    status=$?
}

# Two at a time (the machine's two cores): the four runs, then their searches.
train uniform-1 uniform 1 & train uniform-2 uniform 2 & wait
train shift-1 shift 1 & train shift-2 shift 2 & wait
for name in uniform-1 uniform-2 shift-1 shift-2; do
    if [ ! -s "$runs/$name/model.h5" ]; then
        fail "$name: training failed"; cat "$work/$name.log"
    fi
done
search() {
    "$bin" search "$runs/$1" --targets 2M,4M >"$work/$1.search" 2>&1 ||
        { fail "$1: search failed"; cat "$work/$1.search"; }
}
search uniform-1 & search uniform-2 & wait
search shift-1 & search shift-2 & wait

# An unfinished run: stopped by a signal after step 5 of 8 (exit 75). A
# build without fault injection makes it from a finished run whose
# checkpoints/latest is set back to the checkpoint of step 5.
if ! without_fault_injection "a run stopped by a signal (the unfinished run is a finished one set back)"; then
    SHIFTNAS_INJECT_FAULT=0:5:signal
    export SHIFTNAS_INJECT_FAULT
    train unfinished shift 3 --set checkpoint.interval_steps=2
    unset SHIFTNAS_INJECT_FAULT
    if [ "$status" -eq 75 ]; then
        pass "unfinished run stopped with 75"
    else
        fail "unfinished run: status $status, expected 75"; cat "$work/unfinished.log"
    fi
else
    train unfinished shift 3 --set checkpoint.interval_steps=5
    echo step-000000005.h5 >"$runs/unfinished/checkpoints/latest"
fi
cp "$runs/shift-1/search.csv" "$runs/unfinished/" # searched or not, it must not count
# A finished run without search.csv (a copy of uniform-1 without it).
cp -r "$runs/uniform-1" "$runs/nosearch"
rm "$runs/nosearch/search.csv"
# A run of another search space (stages of depth 1 or 2), last in name
# order: the first usable run (shift-1) sets the space.
if [ "${SHIFTNAS_TEST_QUICK:-0}" = 1 ]; then
    cp -r "$runs/shift-2" "$runs/zz-otherspace"
    sed -i 's/^depths = .*/depths = 1,2/' "$runs/zz-otherspace/config.ini"
    sed -i 's/^seed = .*/seed = 7/' "$runs/zz-otherspace/config.ini"
else
    train zz-otherspace shift 7 --set space.depths=1,2
    cp "$runs/shift-2/search.csv" "$runs/zz-otherspace/" # the refusal comes from the configuration
fi

# --- the report -------------------------------------------------------------
out="$work/report"
plots_flag=
[ "$have_gnuplot" = 1 ] || plots_flag=--no-plots
# shellcheck disable=SC2086
"$bin" report "$runs" --out "$out" $plots_flag >"$work/report.out" 2>"$work/report.err"
status=$?
if [ "$status" -eq 0 ] && [ -s "$out/report.md" ] && [ -s "$out/plots.gp" ]; then
    pass "report exits 0 and writes report.md and plots.gp"
else
    fail "report: status $status"; cat "$work/report.out" "$work/report.err"
fi
if [ "$have_gnuplot" = 1 ]; then
    bad=
    for png in accuracy_vs_macs probabilities macs_histogram bucket_loss convergence final_probabilities; do
        # the PNG signature: \211 P N G
        magic=$(head -c 4 "$out/$png.png" 2>/dev/null | od -An -c | tr -d ' ')
        [ -s "$out/$png.png" ] && [ "$magic" = '211PNG' ] || bad="$bad $png"
    done
    if [ -z "$bad" ]; then
        pass "gnuplot drew the six PNGs"
    else
        fail "PNGs missing or not PNG:$bad"; cat "$work/report.err"
    fi
fi
# Each skip: one stderr line naming the run and the reason, and in report.md.
for case in "unfinished:unfinished (step 5 of 8)" "nosearch:no search.csv" \
            "zz-otherspace:different search space: \[space\] depths = 1,2"; do
    name=${case%%:*} reason=${case#*:}
    if grep -q "skipped $runs/$name: $reason" "$work/report.err" &&
       grep -q "^- $runs/$name: $reason" "$out/report.md"; then
        pass "$name: skipped by name ($reason)"
    else
        fail "$name: not skipped with '$reason'"; cat "$work/report.err"
    fi
done
if [ "$(wc -l <"$work/report.err")" -eq 3 ]; then
    pass "one stderr line per skipped run"
else
    fail "stderr has $(wc -l <"$work/report.err") lines, expected 3"; cat "$work/report.err"
fi

# report.md's cell of (arm, method) at target 2M: "n|mean ± std" of the test
# accuracy column, bold marks removed.
cell() {
    awk -v arm="$1" '/^### Target 2M MACs/ { on = 1; next } /^### / { on = 0 }
        on && index($0, "| " arm " |") || on && index($0, "| **" arm "** |") {
            gsub(/\*\*/, ""); split($0, c, "|"); gsub(/^ +| +$/, "", c[3]); gsub(/^ +| +$/, "", c[7])
            print c[3] "|" c[7] }' "$out/report.md"
}
# The same from the search.csv files: mean and sample std (n - 1) of the
# method's test accuracy at 2M over the given runs, in %, 2 decimals.
expected() {
    method=$1
    shift
    for run in "$@"; do cat "$runs/$run/search.csv"; done |
        awk -F'"' -v m="$method" '{ split($1, a, ","); split($3, b, ",") }
            a[1] == m && a[3] == 2000000 { n++; x[n] = 100 * b[5]; s += x[n] }
            END { mean = s / n; for (i = 1; i <= n; i++) q += (x[i] - mean) ^ 2
                  printf "%d|%.2f ± %.2f\n", n, mean, sqrt(q / (n - 1)) }'
}
for group in "uniform:evolution:uniform-1 uniform-2" "shift:generator:shift-1 shift-2" \
             "shift:evolution:shift-1 shift-2"; do
    arm=${group%%:*} rest=${group#*:}
    method=${rest%%:*} members=${rest#*:}
    # shellcheck disable=SC2086
    want=$(expected "$method" $members)
    got=$(cell "$arm ($method)")
    if [ -n "$got" ] && [ "$got" = "$want" ]; then
        pass "$arm ($method) at 2M: n, mean ± std as awk computes them ($got)"
    else
        fail "$arm ($method) at 2M: report.md has '$got', awk says '$want'"
    fi
done
# The unfinished run (shift, seed 3) is not averaged: n stays 2.
case "$(cell "shift (evolution)")" in
    2\|*) pass "the unfinished run is not averaged (n = 2)" ;;
    *) fail "shift (evolution) n is not 2: $(cell "shift (evolution)")" ;;
esac
# Probabilities of the shift runs in the runs table; the four plots linked.
if grep -q "^| \`$runs/shift-1\` | shift | 1 | 8 | 400 | .* | 0\.[0-9]* 0\.[0-9]*" "$out/report.md" &&
   grep -q '](accuracy_vs_macs.png)' "$out/report.md" && grep -q '](bucket_loss.png)' "$out/report.md"; then
    pass "runs table (steps, images, probabilities) and plot links"
else
    fail "runs table or plot links"; cat "$out/report.md"
fi

# --- refusals ---------------------------------------------------------------
"$bin" report "$runs" --out "$work/strict" --strict --no-plots >/dev/null 2>"$work/strict.err"
status=$?
if [ "$status" -eq 1 ] && tail -n 1 "$work/strict.err" | grep -q -- "--strict" &&
   [ ! -e "$work/strict/report.md" ]; then
    pass "--strict: a skip is an error, nothing written"
else
    fail "--strict: status $status"; cat "$work/strict.err"
fi
expect_error "report: a missing directory" 1 "no-such-runs" \
    "$bin" report "$work/no-such-runs" --out "$work/x"
# Nothing usable: the skip's line, then the error.
"$bin" report "$runs/unfinished" --out "$work/x" --no-plots >/dev/null 2>"$work/none.err"
status=$?
if [ "$status" -eq 1 ] && [ "$(wc -l <"$work/none.err")" -eq 2 ] &&
   tail -n 1 "$work/none.err" | grep -q "^shiftnas report: no usable run$"; then
    pass "report: no usable run is an error"
else
    fail "report: no usable run: status $status"; cat "$work/none.err"
fi
expect_error "report: gnuplot missing" 1 "report: gnuplot not found (install gnuplot-nox, or use --no-plots)" \
    env SHIFTNAS_GNUPLOT=/nonexistent "$bin" report "$runs/uniform-1" "$runs/shift-1" --out "$work/x"
expect_error "report: no --out" 2 "out" "$bin" report "$runs"
if SHIFTNAS_GNUPLOT=/nonexistent "$bin" report "$runs/uniform-1" "$runs/uniform-2" "$runs/shift-1" \
       --targets 4M --out "$work/noplots" --no-plots >/dev/null 2>"$work/noplots.err" &&
   [ -s "$work/noplots/report.md" ] && [ -s "$work/noplots/plots.gp" ] &&
   [ -s "$work/noplots/data/pareto.dat" ] && [ ! -e "$work/noplots/accuracy_vs_macs.png" ] &&
   grep -q '^### Target 4M MACs' "$work/noplots/report.md" &&
   ! grep -q '^### Target 2M MACs' "$work/noplots/report.md"; then
    pass "--no-plots without gnuplot: data, script and report.md; --targets restricts"
else
    fail "--no-plots"; cat "$work/noplots.err"
fi
# The kept script redraws the plots by itself.
if [ "$have_gnuplot" = 1 ]; then
    if (cd "$work/noplots" && gnuplot plots.gp 2>/dev/null) && [ -s "$work/noplots/macs_histogram.png" ]; then
        pass "plots.gp redraws the plots in its directory"
    else
        fail "plots.gp does not run on its own"
    fi
fi

# --- retrained subnets: [search] strategy = fixed ------------------------------
# shift-1's generator answer at 2M and its evolution answer at 4M (a tiny
# run's generator may give one subnet for both), each trained from scratch with
# the same seed and evaluated into its search.csv (as jobs/study.sh does); a
# copy of one of them is a duplicate (same seed, same subnet).
retrained="$work/retrained"
mkdir -p "$retrained"
for target in 2000000 4000000; do
    method=generator
    [ $target = 4000000 ] && method=evolution
    subnet=$(awk -F'"' -v t="$target" -v m="$method" '$1 == m ",shift," t "," { a = $2 } END { print a }' \
             "$runs/shift-1/search.csv")
    # shellcheck disable=SC2086
    if "$bin" train --config "$src/jobs/configs/cnn-space.ini" $tiny --set search.strategy=fixed \
            --set "search.subnet=$subnet" --set run.seed=1 --out "$retrained/r$target" \
            >"$work/r$target.log" 2>&1 &&
       "$bin" eval "$retrained/r$target" --arch "$subnet" --csv "$retrained/r$target/search.csv" $tiny \
            >>"$work/r$target.log" 2>&1; then
        :
    else
        fail "retrained $target: training or eval failed"; cat "$work/r$target.log"
    fi
done
cp -r "$retrained/r2000000" "$retrained/r2000000-copy"
"$bin" report "$runs/shift-1" "$runs/shift-2" "$retrained" --out "$work/gap" --no-plots \
    >/dev/null 2>"$work/gap.err"
# gap row: | target | seed | MACs | inherited | retrained | gap | from |
gap_row() {
    awk -v t="$1" '/^## Inherited vs retrained/ { on = 1; next } /^## / { on = 0 }
        on && index($0, "| " t " | 1 |") == 1 { split($0, c, "|"); gsub(/ /, "", c[5]); gsub(/ /, "", c[6]);
                                               gsub(/ /, "", c[7]); print c[5] "|" c[6] "|" c[7] }' "$work/gap/report.md"
}
gap_expected() {
    inherited=$(awk -F'"' -v t="$2" -v m="$3" '$1 == m ",shift," t "," { split($3, b, ","); a = 100 * b[5] }
                END { printf "%.2f", a }' "$runs/shift-1/search.csv")
    again=$(awk -F'"' '$1 == "eval,fixed,," { split($3, b, ","); a = 100 * b[5] } END { printf "%.2f", a }' \
            "$retrained/r$2/search.csv")
    echo "$inherited|$again|$(awk -v a="$again" -v i="$inherited" 'BEGIN { printf "%+.2f", a - i }')"
}
bad=
for pair in 2M:2000000:generator 4M:4000000:evolution; do
    label=${pair%%:*} rest=${pair#*:}
    got=$(gap_row "$label") want=$(gap_expected "$label" "${rest%%:*}" "${rest#*:}")
    [ -n "$got" ] && [ "$got" = "$want" ] || bad="$bad $label: report '$got', search.csv '$want';"
done
if [ -z "$bad" ] && grep -q "skipped $retrained/r2000000-copy: duplicate: retrained already has seed 1 and this subnet" "$work/gap.err" &&
   [ "$(wc -l <"$work/gap.err")" -eq 1 ]; then
    pass "retrained runs: one row per (seed, subnet) with the gap from the search.csv files; a repeated subnet is a duplicate"
else
    fail "retrained table:$bad"; cat "$work/gap.err"; sed -n '/^## Inherited/,/^## Plots/p' "$work/gap/report.md"
fi

# Retrained runs alone: no sampling arm for the training plots, which still
# exist (a note instead of curves), and no inherited runs to match.
if [ "$have_gnuplot" = 1 ]; then
    if "$bin" report "$retrained" --out "$work/only-retrained" >/dev/null 2>"$work/only.err" &&
       [ -s "$work/only-retrained/macs_histogram.png" ] && [ -s "$work/only-retrained/bucket_loss.png" ] &&
       grep -q "retrained already has seed 1" "$work/only.err"; then
        pass "retrained runs alone: the report and its six plots are drawn"
    else
        fail "retrained runs alone"; cat "$work/only.err" "$work/only-retrained/data/gnuplot.log" 2>/dev/null
    fi
fi

# --- summaries: a directory of summaries reports like the runs ----------------
# Each run gets a probe panel's results (written here: `shiftnas probe` is
# not what is tested) and shift-1 the study script's timing.txt; then the
# four runs are summarized and both are reported. The runs are reached
# through a directory of links, so the two reports differ only in that
# directory and --out.
full="$work/fullset" sums="$work/summaries"
mkdir -p "$full"
for name in uniform-1 uniform-2 shift-1 shift-2; do
    seed=${name#*-} shifted=0
    case $name in shift-*) shifted=1 ;; esac
    printf 'probe,bucket,macs,params,subnet,test_loss,test_accuracy\n0,0,1000000,900,"cnn:p0",1.5,0.5%d%d000\n1,7,8000000,9000,"cnn:p1",0.9,0.7%d%d000\n' \
        "$seed" "$shifted" "$seed" "$shifted" >"$runs/$name/probes.csv"
    ln -s "$runs/$name" "$full/$name"
done
printf 'wall_seconds 12.5\nranks 1\ncpu test cpu\nblis_kernels generic\ndate 2026-12-07\n' >"$runs/shift-1/timing.txt"
bad=
for name in uniform-1 uniform-2 shift-1 shift-2; do
    "$bin" report --summarize "$runs/$name" "$sums/$name" >"$work/summarize.out" 2>&1 || bad="$bad $name"
done
if [ -z "$bad" ] && [ -s "$sums/shift-1/summary.txt" ] && [ -s "$sums/shift-1/log-updates.csv" ] &&
   [ -s "$sums/shift-1/probes.csv" ] && [ -s "$sums/shift-1/timing.txt" ] &&
   [ ! -e "$sums/shift-1/log.h5" ] && [ ! -e "$sums/shift-1/checkpoints" ] &&
   [ "$(du -sk "$sums" | cut -f1)" -lt 200 ]; then
    pass "--summarize writes small text summaries ($(du -sk "$sums" | cut -f1) kB for 4 runs)"
else
    fail "--summarize:$bad"; cat "$work/summarize.out"
fi
"$bin" report "$full" --out "$work/out-full" --no-plots >/dev/null 2>"$work/full.err" &&
    "$bin" report "$sums" --out "$work/out-sum" --no-plots >/dev/null 2>"$work/sum.err"
status=$?
sed -e "s|$full|SET|g" -e "s|$work/out-full|OUT|g" "$work/out-full/report.md" >"$work/full.md"
sed -e "s|$sums|SET|g" -e "s|$work/out-sum|OUT|g" "$work/out-sum/report.md" >"$work/sum.md"
if [ "$status" -eq 0 ] && cmp -s "$work/full.md" "$work/sum.md" &&
   diff -r "$work/out-full/data" "$work/out-sum/data" >"$work/data.diff" &&
   cmp -s "$work/out-full/plots.gp" "$work/out-sum/plots.gp" &&
   grep -q '^## Primary endpoint' "$work/sum.md" && grep -q '^### shift − uniform' "$work/sum.md"; then
    pass "the report of the summaries equals the report of the runs (report.md but paths, data/, plots.gp)"
else
    fail "reports of runs and summaries differ (status $status)"
    diff "$work/full.md" "$work/sum.md" | head -20; head -20 "$work/data.diff"; cat "$work/full.err" "$work/sum.err"
fi
# Without a shift-frozen arm the endpoint says so; shift - uniform is paired.
if grep -q '^\*\*Cannot be computed:\*\* no shift-frozen runs' "$work/sum.md" &&
   grep -q '^Seeds with a run of both arms: 1, 2 (2)\.' "$work/sum.md" &&
   grep -q '^| 7 | .* | 2 | +0\.10 | ' "$work/sum.md"; then
    pass "the endpoint says what is missing; shift − uniform per bucket over 2 pairs"
else
    fail "endpoint or bucket comparison"; sed -n '/^## Primary/,/^## Probe panel/p' "$work/sum.md"
fi
expect_error "report --summarize: an unfinished run is refused" 1 "unfinished (step 5 of 8)" \
    "$bin" report --summarize "$runs/unfinished" "$work/sum-unfinished"
if [ ! -e "$work/sum-unfinished/summary.txt" ]; then
    pass "no summary of the unfinished run"
else
    fail "a summary of the unfinished run was written"
fi
expect_error "report --summarize: one directory" 2 "exactly RUN_DIR DEST_DIR" \
    "$bin" report --summarize "$runs/shift-1"
expect_error "report --compare: not two arms" 2 "expected two arms" \
    "$bin" report "$sums" --out "$work/x" --compare shift

echo "$passes passed, $failures failed ($(($(date +%s) - started)) s)"
[ "$failures" -eq 0 ] || exit 1
[ "$have_gnuplot" = 1 ] || exit 77
exit 0
