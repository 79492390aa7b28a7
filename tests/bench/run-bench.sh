#!/bin/sh
# make bench: the engine's figures against BLIS's own peak and against PyTorch,
# on this machine, in one run. Writes bench-results.md in the build directory;
# doc/performance.md records a run's figures. The data-parallel part is
# tests/bench/distributed-bench.sh (its own environment variables there).
set -eu
bench=${BUILD_DIR:-.}/tests/bench/bench_shiftnas
src=${SOURCE_DIR:-.}
out=${BUILD_DIR:-.}/bench-results.md
steps=${BENCH_STEPS:-40}
export OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1
get() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bench" gemm >"$tmp/gemm"
"$bench" gemm-blis-choice >"$tmp/gemm-blis"
"$bench" conv "$src/jobs/configs/cnn-fixed.ini" >"$tmp/conv"
# This kind of virtual machine is noisy (the same run varies by 20-50%
# between processes), so each side runs ${BENCH_ROUNDS:-3} times, interleaved,
# and the best images/s of each side is compared.
best_of() { # FILE...: the file whose images_per_second is highest
    for f in "$@"; do echo "$(get images_per_second "$f") $f"; done | sort -g -r | head -n 1 | cut -d' ' -f2
}
have_torch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && have_torch=1
for net in cnn vit; do
    ours="" theirs=""
    for round in $(seq "${BENCH_ROUNDS:-3}"); do
        "$bench" train "$src/jobs/configs/$net-fixed.ini" "$steps" >"$tmp/$net.$round"
        ours="$ours $tmp/$net.$round"
        if [ "$have_torch" = 1 ]; then
            /usr/bin/python3 "$src/tests/bench/torch_baseline.py" "$src/jobs/configs/$net-fixed.ini" "$steps" >"$tmp/$net.torch.$round"
            theirs="$theirs $tmp/$net.torch.$round"
        fi
    done
    # shellcheck disable=SC2086
    cp "$(best_of $ours)" "$tmp/$net"
    if [ "$have_torch" = 1 ]; then
        # shellcheck disable=SC2086
        cp "$(best_of $theirs)" "$tmp/$net.torch"
    else
        echo "images_per_second n/a (install python3-torch)" >"$tmp/$net.torch"
    fi
done
for space in cnn vit; do
    "$bench" supernet "$src/jobs/configs/$space-space.ini" "${BENCH_SUPERNET_STEPS:-10}" >"$tmp/$space-supernet"
done

peak=$(get gemm_1024x1024x1024_gflops "$tmp/gemm")
conv=$(get conv_total_gflops "$tmp/conv")
{
    echo "# shiftnas benchmark ($(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc --all) cores, 1 thread each)"
    echo
    echo "BLIS kernels: $(get blis_kernels "$tmp/cnn"); torch $(get torch_version "$tmp/cnn.torch")"
    echo
    echo "| figure | value |"
    echo "|---|---|"
    echo "| sgemm kernels selected by shiftnas | $(get gemm_kernels "$tmp/gemm") |"
    grep gflops "$tmp/gemm" | sed 's/^gemm_\([^ ]*\)_gflops \(.*\)$/| sgemm \1, shiftnas kernels (GFLOP\/s) | \2 |/'
    echo "| sgemm kernels BLIS picks by itself | $(get gemm_kernels "$tmp/gemm-blis") |"
    grep gflops "$tmp/gemm-blis" | sed 's/^gemm_\([^ ]*\)_gflops \(.*\)$/| sgemm \1, BLIS'"'"'s own pick (GFLOP\/s) | \2 |/'

    sed 's/^\([^ ]*\) \(.*\)$/| \1 (GFLOP\/s) | \2 |/' "$tmp/conv"
    echo "| convolutions / sgemm peak | $(awk -v c="$conv" -v p="$peak" 'BEGIN { printf "%.0f%%", 100 * c / p }') |"
    for net in cnn vit; do
        ours=$(get images_per_second "$tmp/$net")
        theirs=$(get images_per_second "$tmp/$net.torch")
        echo "| $net: shiftnas training images/s | $ours |"
        echo "| $net: PyTorch training images/s | $theirs |"
        echo "| $net: shiftnas / PyTorch | $(awk -v a="$ours" -v b="$theirs" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }') |"
        echo "| $net: peak RSS (MiB) | $(get peak_rss_mib "$tmp/$net") |"
        echo "| $net: accounted bytes: parameters, gradients, AdamW moments, activations, batch (MiB) | $(get accounted_mib "$tmp/$net") |"
        echo "| $net: peak RSS / accounted | $(awk -v r="$(get peak_rss_mib "$tmp/$net")" -v a="$(get accounted_mib "$tmp/$net")" 'BEGIN { printf "%.2f", r / a }') |"
        echo "| $net: RSS before building the network (MiB) | $(get rss_before_network_mib "$tmp/$net") |"
    done
    for space in cnn vit; do
        f="$tmp/$space-supernet"
        for which in smallest middle largest; do
            echo "| $space-space: $which subnet, training step, batch $(get batch "$f") (ms) | $(get ${which}_ms_per_step "$f") |"
            echo "| $space-space: $which subnet, MACs per image / ps per MAC | $(get ${which}_macs "$f") / $(get ${which}_ps_per_mac "$f") |"
        done
        echo "| $space-space: time per MAC, highest / lowest of the three (target ≤ 1.5) | $(get time_per_mac_spread "$f") |"
        echo "| $space-space: masked mode at the largest one-hot, training step (ms) | $(get masked_ms_per_step "$f") |"
        echo "| $space-space: masked mode / sliced largest | $(get masked_over_largest "$f") |"
    done
    echo
    for space in cnn vit; do
        for which in smallest middle largest; do
            echo "$space-space $which: \`$(get ${which}_arch "$tmp/$space-supernet")\`"
            echo
        done
    done
} >"$out"
cat "$out"
# Data-parallel training over MPI ranks (appends its section to $out;
# BENCH_DISTRIBUTED=0 leaves it out).
if [ "${BENCH_DISTRIBUTED:-1}" != 0 ]; then
    sh "$src/tests/bench/distributed-bench.sh" "$out"
fi
# Whole epochs (training and the epoch's evaluations) on 1 and 2 ranks for
# every strategy on both spaces (appends its section to $out, about 40
# minutes; BENCH_EPOCH_SCALING=0 leaves it out).
if [ "${BENCH_EPOCH_SCALING:-1}" != 0 ]; then
    sh "$src/tests/bench/epoch-scaling-bench.sh" "$out"
fi
# Streamed image sets: memory at 1x and 4x the file, the input stall
# (appends its section to $out; BENCH_INPUT=0 leaves it out).
if [ "${BENCH_INPUT:-1}" != 0 ]; then
    sh "$src/tests/bench/input-bench.sh" "$out"
fi
