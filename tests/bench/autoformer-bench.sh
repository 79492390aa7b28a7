#!/bin/sh
# make bench, AutoFormer-T part (issue 15): shiftnas training the AutoFormer-T
# space (jobs/configs/vit-autoformer-t.ini, 224x224x3, 1000 classes) against
# a PyTorch twin of the same subnets (tests/bench/torch_autoformer.py), in
# one run, one thread each, batch 16 per rank:
#
#   - shiftnas, sliced: the space's smallest and largest subnet trained with
#     search.strategy = fixed (`shiftnas train`, the HDF5 image set streamed
#     and random-resized-cropped from 256x256 to 224x224, prefetch on);
#   - shiftnas, masked: strategy shift with search.generator_task_interval = 1,
#     every step the largest network with the generator's architecture masks
#     (plus the generator's own forward and backward);
#   - PyTorch: the same two subnets as nn.Modules, their MACs and parameters
#     checked against `shiftnas space` (the bench fails when they differ),
#     on one batch of random images.
#
# Step time: every step of a run prints a progress line (run.progress_seconds
# = 0.1 is shorter than a step); the lines are time-stamped as they arrive,
# together with the process's CPU time from /proc, and a step's time is the
# time between two lines: the mean over BENCH_AF_STEPS steps after
# BENCH_AF_WARMUP warm-up steps. Setup, the epoch-end evaluation and the
# final checkpoint come after the last line and are not counted. The phases
# line (whole run, warm-up included) is kept in the detail lines. PyTorch
# times its steps itself, the same way. CPU ms per step is printed next to
# the wall-clock figure: on a loaded machine it is the steadier of the two.
#
# Appends a markdown section to the file named by $1 (make bench:
# bench-autoformer.md); prints it too. Exits non-zero, with the failing
# run's output, when shiftnas or PyTorch fails or the twins differ.
#
# Environment: BUILD_DIR, SOURCE_DIR (.), BENCH_AF_WARMUP (2),
# BENCH_AF_STEPS (6), PYTHON (/usr/bin/python3).
set -eu
build=${BUILD_DIR:-.}
src=${SOURCE_DIR:-.}
out=${1:-/dev/null}
shiftnas=$build/shiftnas
make_set=$build/tests/tools/make_image_set
config=$src/jobs/configs/vit-autoformer-t.ini
twin=$src/tests/bench/torch_autoformer.py
python=${PYTHON:-/usr/bin/python3}
warm=${BENCH_AF_WARMUP:-2}
steps=${BENCH_AF_STEPS:-6}
batch=16
export OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1

# shellcheck source=tests/bench/timed-train.sh
. "$src/tests/bench/timed-train.sh"
get() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }
die() {
    echo "autoformer bench: $*" >&2
    exit 1
}
[ -x "$shiftnas" ] || die "$shiftnas is not built (make shiftnas)"
[ -x "$build/tests/bench/bench_shiftnas" ] || die "$build/tests/bench/bench_shiftnas is not built (make tests/bench/bench_shiftnas)"
[ -x "$make_set" ] || die "$make_set is not built (make tests/tools/make_image_set)"
[ -r "$config" ] || die "no $config"
perl -MTime::HiRes -e 1 2>/dev/null || die "perl with Time::HiRes is needed to time the steps"
"$python" -c 'import torch' 2>/dev/null ||
    die "$python cannot import torch (apt-get install python3-torch); BENCH_AUTOFORMER=0 leaves this section out"
case "$warm$steps" in *[!0-9]*) die "BENCH_AF_WARMUP and BENCH_AF_STEPS must be integers" ;; esac
{ [ "$warm" -ge 1 ] && [ "$steps" -ge 1 ]; } || die "BENCH_AF_WARMUP and BENCH_AF_STEPS must be at least 1"

tmp=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || :; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The space's smallest and largest subnet, MACs and parameters (shiftnas's counter).
"$shiftnas" space --config "$config" --samples 1 >"$tmp/space" 2>&1 ||
    { cat "$tmp/space" >&2; die "shiftnas space failed"; }
space_field() { # smallest|largest arch|macs|params
    awk -v w="$1:" -v f="$2" '$1 == w { m = $2; p = $5; getline; a = $1
        print (f == "arch" ? a : f == "macs" ? m : p); exit }' "$tmp/space"
}
for which in smallest largest; do
    [ -n "$(space_field "$which" arch)" ] || { cat "$tmp/space" >&2; die "no $which subnet in shiftnas space's output"; }
done

# An ImageNet-shaped synthetic set stored at 256x256: exactly one epoch of
# warm-up + timed steps (no epoch-end evaluation in between), 16 held out.
total=$((warm + steps))
"$make_set" synthetic "$tmp/set.h5" 3 256 1000 $((batch * total + 16)) 16 1 chunked >"$tmp/set.log" 2>&1 ||
    { cat "$tmp/set.log" >&2; die "make_image_set failed"; }

# NAME --set ...: one `shiftnas train` run, its output time-stamped line by
# line ("wall-seconds cpu-ticks line") into $tmp/NAME.log (timed-train.sh).
train() {
    name=$1
    shift
    if timestamp_lines "$tmp/$name.log" "$shiftnas" train --config "$config" --set data.path="$tmp/set.h5" \
        --set data.validation_size=16 --set data.test_limit=16 --set train.batch_size=$batch \
        --set train.max_steps=$total --set train.eval_batch_size=8 --set distributed.shards=1 \
        --set train.warmup_epochs=0 --set run.progress_seconds=0.1 \
        --set search.shift_validation_images=8 --set search.evolution_validation_images=0 \
        "$@" --out "$tmp/run-$name"; then status=0; else status=$?; fi
    if [ "$status" != 0 ]; then
        cut -d' ' -f3- "$tmp/$name.log" >&2
        die "shiftnas train ($name) failed with status $status"
    fi
    # The timed window: from the progress line of step $warm to that of step $total.
    step_window "$tmp/$name.log" "$warm" "$total" $batch >"$tmp/$name" ||
        { cut -d' ' -f3- "$tmp/$name.log" >&2; exit 1; }
    log() { cut -d' ' -f3- "$tmp/$name.log" | grep -m1 "$1" || echo "$1 n/a"; }
    {
        log '^phases per step' | sed 's/^/phases /'
        log '^input:' | sed 's/^/input /'
        echo "peak_rss_mib $(log '^memory: peak resident' | sed -n 's/.*peak resident \([0-9.]*\) MB.*/\1/p')"
        echo "blis_kernels $(log 'BLIS kernels' | sed -n 's/.*BLIS kernels \([^,]*\),.*/\1/p')"
    } >>"$tmp/$name"
}

# WHICH NAME [BLIS_ARCH_TYPE]: the PyTorch twin of the smallest or largest
# subnet into $tmp/NAME (with that BLIS_ARCH_TYPE in its environment when
# given); its MACs and parameters must be shiftnas's.
twin() {
    which=$1 name=$2
    if [ -n "${3:-}" ]; then set -- env BLIS_ARCH_TYPE="$3"; else set -- env; fi
    if ! "$@" "$python" "$twin" "$(space_field "$which" arch)" --warmup "$warm" --steps "$steps" \
        --batch $batch >"$tmp/$name" 2>"$tmp/$name.err"; then
        cat "$tmp/$name" "$tmp/$name.err" >&2
        die "the PyTorch twin of the $which subnet failed"
    fi
    for field in macs:macs params:parameters; do
        ours=$(space_field "$which" "${field%%:*}")
        theirs=$(get "${field#*:}" "$tmp/$name")
        [ "$ours" = "$theirs" ] ||
            die "the PyTorch twin of the $which subnet has ${field#*:} $theirs, shiftnas space says $ours: the twins differ"
    done
}

# PyTorch multiplies its matrices with the system BLAS, on Debian the same
# BLIS, which on some CPUs picks slow kernels by itself; shiftnas then
# chooses its own (BLIS_ARCH_TYPE, src/core/tensor.c). PyTorch runs twice:
# as installed, and with shiftnas's choice in its environment.
"$build/tests/bench/bench_shiftnas" blis-arch "$config" >"$tmp/blis-arch" 2>&1 ||
    { cat "$tmp/blis-arch" >&2; die "bench_shiftnas blis-arch failed"; }
arch_type=$(get blis_arch_type "$tmp/blis-arch")
[ -n "$arch_type" ] || die "bench_shiftnas blis-arch printed no blis_arch_type"

# Interleaved, so that a change of load hits both sides alike.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for which in smallest largest; do
    train "$which" --set search.strategy=fixed --set search.subnet="$(space_field "$which" arch)"
    twin "$which" "torch-$which"
    if [ "$arch_type" != none ]; then
        twin "$which" "torch-$which-same" "$arch_type"
    else
        cp "$tmp/torch-$which" "$tmp/torch-$which-same"
    fi
done
train masked --set search.strategy=shift --set search.generator_task_interval=1
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", b / a; else print "n/a" }'; }
millions() { awk -v v="$1" 'BEGIN { printf "%.2fM", v / 1e6 }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
avx512=$(grep -q -m1 avx512f /proc/cpuinfo && echo "AVX-512F" || echo "no AVX-512F")
{
    echo
    echo "## AutoFormer-T at 224x224 (issue 15) ($(date -u +%Y-%m-%d), $cpu, $(nproc --all) cores, $avx512, BLIS kernels $(get blis_kernels "$tmp/smallest"), torch $(get torch_version "$tmp/torch-smallest"))"
    echo
    echo "\`shiftnas train\` on jobs/configs/vit-autoformer-t.ini (HDF5 set of 256x256 synthetic images streamed,"
    echo "random-resized crop to 224, prefetch thread) against tests/bench/torch_autoformer.py (one batch of random"
    echo "images); batch $batch, 1 rank, 1 thread each; ms per step = mean wall clock of $steps steps after $warm warm-up"
    echo "steps (CPU ms of the process in brackets); images/s per core. shiftnas / PyTorch = PyTorch ms / shiftnas ms"
    echo "(above 1: shiftnas faster). PyTorch runs on the system BLAS (Debian: BLIS) twice: with the kernels BLIS"
    echo "picks by itself ($(get torch_blis "$tmp/torch-smallest")), and with shiftnas's choice, BLIS_ARCH_TYPE=$arch_type ($(get blis_kernels "$tmp/blis-arch"))."
    echo "Load average (1/5/15 min) before: $load_before, after: $load_after."
    echo
    echo "| subnet | MACs / image | params | shiftnas sliced ms/step | shiftnas sliced img/s | shiftnas masked ms/step | PyTorch ms/step | PyTorch img/s | shiftnas / PyTorch | PyTorch on shiftnas's BLIS kernels ms/step | img/s | shiftnas / PyTorch | peak RSS shiftnas / PyTorch (MiB) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for which in smallest largest; do
        if [ "$which" = largest ]; then
            masked="$(get ms_per_step "$tmp/masked") ($(get cpu_ms_per_step "$tmp/masked"))"
        else
            masked="-"
        fi
        row="| $which | $(millions "$(space_field "$which" macs)") | $(millions "$(space_field "$which" params)")"
        row="$row | $(get ms_per_step "$tmp/$which") ($(get cpu_ms_per_step "$tmp/$which")) | $(get images_per_second "$tmp/$which") | $masked"
        for t in "torch-$which" "torch-$which-same"; do
            row="$row | $(get ms_per_step "$tmp/$t") ($(get cpu_ms_per_step "$tmp/$t")) | $(get images_per_second "$tmp/$t")"
            row="$row | $(ratio "$(get ms_per_step "$tmp/$which")" "$(get ms_per_step "$tmp/$t")") ($(ratio "$(get cpu_ms_per_step "$tmp/$which")" "$(get cpu_ms_per_step "$tmp/$t")") CPU)"
        done
        echo "$row | $(get peak_rss_mib "$tmp/$which") / $(get peak_rss_mib "$tmp/torch-$which") |"
    done
    echo
    echo "Masked / sliced largest: $(awk -v a="$(get ms_per_step "$tmp/masked")" -v b="$(get ms_per_step "$tmp/largest")" 'BEGIN { if (b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }') (wall clock); masked peak RSS $(get peak_rss_mib "$tmp/masked") MiB."
    echo "MACs and parameters: \`shiftnas space\` and the PyTorch modules agree (checked)."
    echo
    for which in smallest largest; do
        echo "- $which: \`$(space_field "$which" arch)\`"
    done
    for run in smallest largest masked; do
        echo "- shiftnas $run, ms per timed step: $(sed -n 's/^step_ms //p' "$tmp/$run")"
        echo "  - \`$(sed -n 's/^phases //p' "$tmp/$run")\`"
        echo "  - \`$(sed -n 's/^input //p' "$tmp/$run")\`"
    done
    for which in smallest largest; do
        echo "- PyTorch $which, ms per timed step: $(sed -n 's/^step_ms //p' "$tmp/torch-$which");" \
            "on shiftnas's kernels: $(sed -n 's/^step_ms //p' "$tmp/torch-$which-same")"
    done
} | tee -a "$out"
