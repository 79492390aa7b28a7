#!/bin/bash
# jobs/study.sh - the reproduction study of doc/results.md, submitted to
# Slurm: does probability shift beat uniform sampling on cnn-space.ini?
#
#   jobs/study.sh train   RESULTS   # the supernet runs and their searches
#   jobs/study.sh retrain RESULTS   # shift's searched subnets from scratch
#   jobs/study.sh report  RESULTS OUT
#
# train submits (run from the build directory, or set SHIFTNAS):
#   - jobs/ablation.sbatch over shift, shift-variance, uniform, flops-uniform
#     and attentive x seeds 1 2 3, one epoch each (429 steps of 128 images),
#   - the same for sandwich with a quarter of the steps: it trains four
#     subnets per step, so every strategy trains the same number of
#     subnet-images (55k images x 1 subnet),
#   - one jobs/search.sbatch per run, after its training task, for the
#     targets below with the same evolution settings for every strategy.
# retrain (after train's searches): for each shift run, every subnet its
# generator returned is trained from scratch for the same budget with
#   [search] strategy = fixed, subnet = <the subnet>
# (the same training and evaluation code path), then evaluated by search.
# report runs `shiftnas report` over every run.
#
# The budget is cut from cnn-space.ini's 8 epochs to 1 to fit 18 runs on a
# 2-core machine (doc/results.md); the schedule is scaled with it: warm-up
# 6.25% of the steps as in the 8-epoch config, and probability updates
# every 25 steps instead of 100 (14 updates instead of 29).
#
# Settings (environment): SHIFTNAS_SEEDS [1 2 3], SHIFTNAS_TARGETS
# [2M,4M,6M,8M], STUDY_CONFIG [jobs/configs/cnn-space.ini], STUDY_EPOCHS [1],
# STUDY_PARALLEL (array tasks at a time) [2], STUDY_SBATCH (extra sbatch
# options, e.g. a partition).
set -eu

jobs_dir=$(cd "$(dirname "$0")" && pwd)
die() { echo "study.sh: $*" >&2; exit 1; }
[ $# -ge 2 ] || { sed -n '2,31p' "$0"; exit 2; }
phase=$1
results=$2
given_results=$2 # as given: the report names runs by these paths
config=${STUDY_CONFIG:-$jobs_dir/configs/cnn-space.ini}
seeds=${SHIFTNAS_SEEDS:-1 2 3}
targets=${SHIFTNAS_TARGETS:-2M,4M,6M,8M}
epochs=${STUDY_EPOCHS:-1}
parallel=${STUDY_PARALLEL:-2}
read -r -a extra <<<"${STUDY_SBATCH:-}"
read -r -a seed_list <<<"$(echo "$seeds" | tr ',' ' ')"
nseeds=${#seed_list[@]}
mkdir -p "$results/logs" || die "cannot create $results/logs"
results=$(cd "$results" && pwd)
[ "$phase" = report ] || command -v sbatch >/dev/null ||
    die "sbatch not found (is SLURM_CONF set? tests/slurm/cluster.sh start)"

# What every search uses, for every strategy.
# the study's own search (doc/results.md): its fitness recalibrated on 8 batches
search_sets=(--set search.evolution_evaluations=32 --set search.evolution_validation_images=1000
             --set search.evolution_recalibration_batches=8)

submit() { # sbatch args... -> prints the job id
    sbatch --parsable "${extra[@]}" "$@" | cut -d';' -f1
}

# The steps of one epoch of cnn-space.ini's training split, from the
# program itself (validation_size and batch size of the config).
steps_per_epoch() {
    local train validation batch
    train=60000
    validation=$(sed -n 's/^validation_size *= *//p' "$config" | head -1)
    batch=$(sed -n 's/^batch_size *= *//p' "$config" | head -1)
    echo $(((train - ${validation:-5000}) / ${batch:-128}))
}

case $phase in
    train)
        steps=$(($(steps_per_epoch) * epochs))
        common=(--set "train.epochs=$epochs" --set "search.shift_interval=25")
        strategies="shift shift-variance uniform flops-uniform attentive"
        n=$((5 * nseeds))
        main=$(SHIFTNAS_STRATEGIES=$strategies SHIFTNAS_SEEDS=$seeds \
            submit --array=0-$((n - 1))%$parallel -n 1 -o "$results/logs/train-%A_%a.out" \
            "$jobs_dir/ablation.sbatch" "$config" "$results/runs" "${common[@]}" \
            --set "train.warmup_epochs=$(echo "0.0625 * $epochs" | bc -l)")
        echo "training array $main: $n runs ($strategies x seeds $seeds), $steps steps each"
        sandwich=$(SHIFTNAS_STRATEGIES=sandwich SHIFTNAS_SEEDS=$seeds \
            submit --array=0-$((nseeds - 1))%$parallel -n 1 -o "$results/logs/train-%A_%a.out" \
            "$jobs_dir/ablation.sbatch" "$config" "$results/runs" "${common[@]}" \
            --set "train.max_steps=$((steps / 4))" \
            --set "train.warmup_epochs=$(echo "0.0625 * $epochs / 4" | bc -l)")
        echo "training array $sandwich: sandwich x seeds $seeds, $((steps / 4)) steps each (4 subnets per step)"
        i=0
        for s in $strategies; do
            for seed in "${seed_list[@]}"; do
                id=$(submit --dependency=afterok:${main}_$i -n 1 -o "$results/logs/search-%j.out" \
                    "$jobs_dir/search.sbatch" --targets "$targets" "${search_sets[@]}" \
                    "$results/runs/$s-seed$seed")
                echo "search $id: $s-seed$seed"
                i=$((i + 1))
            done
        done
        i=0
        for seed in "${seed_list[@]}"; do
            id=$(submit --dependency=afterok:${sandwich}_$i -n 1 -o "$results/logs/search-%j.out" \
                "$jobs_dir/search.sbatch" --targets "$targets" "${search_sets[@]}" \
                "$results/runs/sandwich-seed$seed")
            echo "search $id: sandwich-seed$seed"
            i=$((i + 1))
        done
        ;;
    retrain)
        steps=$(($(steps_per_epoch) * epochs))
        mkdir -p "$results/retrained"
        for seed in "${seed_list[@]}"; do
            run=$results/runs/shift-seed$seed
            [ -f "$run/search.csv" ] || die "$run/search.csv missing: run the train phase's searches first"
            # The generator's answer per target (the last search's row wins),
            # each distinct subnet once.
            awk -F'"' '$1 ~ /^generator,shift,[0-9]/ { split($1, a, ","); subnet[a[3]] = $2 }
                       END { for (t in subnet) print t, subnet[t] }' "$run/search.csv" |
                sort -n | awk '!seen[$2]++' >"$results/retrained/shift-seed$seed.subnets"
            while read -r target subnet; do
                dir=$results/retrained/shift-seed$seed-$(printf '%.1fM' "$(echo "$target / 1000000" | bc -l)")
                id=$(submit -n 1 -o "$results/logs/retrain-%j.out" "$jobs_dir/train.sbatch" "$config" "$dir" \
                    --set "train.epochs=$epochs" --set "train.warmup_epochs=$(echo "0.0625 * $epochs" | bc -l)" \
                    --set "search.strategy=fixed" --set "search.subnet=$subnet" --set "run.seed=$seed")
                # The same measurement as search's (batch norm recalibrated on
                # training batches, then the whole test set), recorded in the
                # run's search.csv for `shiftnas report`.
                eval_id=$(submit --dependency=afterok:$id -n 1 -o "$results/logs/eval-%j.out" \
                    --wrap "'${SHIFTNAS:-$PWD/shiftnas}' eval '$dir' --arch '$subnet' --csv '$dir/search.csv'")
                echo "retrain $id (+ eval $eval_id): seed $seed, target $target, $subnet, $steps steps"
            done <"$results/retrained/shift-seed$seed.subnets"
        done
        ;;
    report)
        [ $# -ge 3 ] || die "usage: jobs/study.sh report RESULTS OUT"
        "${SHIFTNAS:-$PWD/shiftnas}" report "$given_results/runs" "$given_results/retrained" --out "$3"
        ;;
    *) die "unknown phase '$phase' (train, retrain, report)" ;;
esac
