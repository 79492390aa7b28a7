#!/bin/sh
# `shiftnas search` on several ranks (mpirun -np N): the same table, JSON and
# search.csv (but its seconds) at 1, 2 and 3 ranks, for the CNN and the ViT
# space; rank 0 alone prints and writes; a failure on one rank gives one line
# and a non-zero exit on every rank, no hang. Tiny runs on a slice of
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
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-search-ranks.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
unset SLURM_PROCID SLURM_NTASKS SLURM_STEP_NUM_TASKS SLURM_STEP_ID SLURM_STEPID
limit=120

# 6 steps of 24 images (the search needs weights and a generator, not
# accuracy: about 5 s of training); the search: generations of 6 subnets
# (2+2+2 on 3 ranks), 12 per target, fitness on 200 images, the answers'
# 400 validation and 300 test images in 14 chunks of 50 shared over the ranks.
tiny="--set data.train_limit=1000 --set data.validation_size=400 --set data.test_limit=300
      --set train.batch_size=24 --set train.max_steps=6 --set train.eval_batch_size=50
      --set search.shift_interval=2 --set search.shift_warmup=0
      --set search.shift_validation_images=50 --set search.evolution_validation_images=200
      --set search.recalibration_batches=2"
searching="--set search.evolution_population=6 --set search.evolution_parents=2
           --set search.evolution_evaluations=12 --set search.evolution_validation_images=200
           --set run.progress_seconds=3600"
for space in cnn vit; do
    # shellcheck disable=SC2086
    "$bin" train --config "$src/jobs/configs/$space-space.ini" $tiny --out "$work/$space" \
        >"$work/$space.train" 2>&1 || { fail "$space: training failed"; cat "$work/$space.train"; }
done

# search_of RANKS SPACE NAME ARGS...: a search of $work/SPACE on RANKS ranks,
# its CSV into $work/NAME.csv; search_on also puts stdout and stderr into
# NAME.out and NAME.err.
search_of() {
    search_ranks=$1 search_space=$2 search_name=$3
    shift 3
    # shellcheck disable=SC2086
    launch "$search_ranks" search "$work/$search_space" $searching \
        --csv "$work/$search_name.csv" "$@"
}
search_on() {
    search_of "$@" >"$work/$3.out" 2>"$work/$3.err"
}

# --- the same answer at 1, 2 and 3 ranks ------------------------------------------
targets_cnn=1.5M,4M
targets_vit=2M,3M
# (the ViT space at 1 and 3 ranks only, for time)
ranks_cnn="1 2 3"
ranks_vit="1 3"
for space in cnn vit; do
    eval "targets=\$targets_$space ranks_list=\$ranks_$space"
    for ranks in $ranks_list; do
        name=$space-$ranks
        if ! search_on "$ranks" "$space" "$name" --targets "$targets"; then
            fail "$space: search on $ranks rank(s) failed"; cat "$work/$name.err"; continue
        fi
        sed 's/,[^,]*$//' "$work/$name.csv" >"$work/$name.rows"
        sed "s|$work/$name.csv|CSV|" "$work/$name.out" >"$work/$name.table"
        [ "$ranks" = 1 ] && continue
        if cmp -s "$work/$space-1.table" "$work/$name.table" &&
           cmp -s "$work/$space-1.rows" "$work/$name.rows" && [ ! -s "$work/$name.err" ]; then
            pass "$space: $ranks ranks print the same table and write the same rows as 1"
        else
            fail "$space: $ranks ranks differ from 1"
            diff "$work/$space-1.table" "$work/$name.table"
            diff "$work/$space-1.rows" "$work/$name.rows"; cat "$work/$name.err"
        fi
    done
    # the comparison is not vacuous: a generator and an evolution row per target
    if [ "$(grep -c '^generator,shift,' "$work/$space-1.csv")" -eq 2 ] &&
       [ "$(grep -c '^evolution,shift,.*,12,[0-9.]*$' "$work/$space-1.csv")" -eq 2 ]; then
        pass "$space: 2 targets, generator and evolution rows (12 subnets each)"
    else
        fail "$space: search.csv rows"; cat "$work/$space-1.csv"
    fi
done
if search_on 2 cnn json-2 --targets 4M --json && search_on 1 cnn json-1 --targets 4M --json &&
   [ "$(sed 's/"seconds": *[0-9.e+-]*//g; s|json-[12].csv|CSV|' "$work/json-1.out")" = \
     "$(sed 's/"seconds": *[0-9.e+-]*//g; s|json-[12].csv|CSV|' "$work/json-2.out")" ] &&
   grep -q '"results"' "$work/json-2.out"; then
    pass "--json: the same document on 2 ranks (but the seconds)"
else
    fail "--json on 2 ranks"; cat "$work/json-2.out" "$work/json-2.err"
fi

# --- the fitness images never overlap the shift's -----------------------------------
# The run's shift used the last 50 of its 400 held-out images: a search asking
# for more than the 350 others takes those 350 (said in its header line), on
# any rank count, and gives the same rows as asking for exactly 350.
if search_on 1 cnn capped-1 --targets 4M --set search.evolution_validation_images=351 &&
   search_on 2 cnn capped-2 --targets 4M --set search.evolution_validation_images=351 &&
   search_on 1 cnn exact --targets 4M --set search.evolution_validation_images=350 &&
   grep -q 'fitness on 350 validation images' "$work/capped-1.out" &&
   [ "$(sed 's/,[^,]*$//' "$work/capped-1.csv")" = "$(sed 's/,[^,]*$//' "$work/capped-2.csv")" ] &&
   [ "$(sed 's/,[^,]*$//' "$work/capped-1.csv")" = "$(sed 's/,[^,]*$//' "$work/exact.csv")" ]; then
    pass "search: more fitness images than the shift left: capped at 350, 1 and 2 ranks alike"
else
    fail "search capped at the shift's images"; cat "$work/capped-1.out" "$work/capped-1.err"
fi
# 0: every image the shift did not use (350), said in the header line
if search_on 1 cnn rest --targets 4M --set search.evolution_validation_images=0 &&
   grep -q 'fitness on 350 validation images' "$work/rest.out"; then
    pass "search: evolution_validation_images = 0 takes the 350 images the shift did not use"
else
    fail "search with evolution_validation_images = 0"; cat "$work/rest.out" "$work/rest.err"
fi

# --- failures: one line, every rank exits non-zero --------------------------------
reliability_class=ranks
# every rank meets it: printed once
# shellcheck disable=SC2086
expect_rank_error "2 ranks, target below the smallest subnet: one line" \
    '^shiftnas search: rank 0: target 500k is below the smallest' \
    search_of 2 cnn below --targets 0.5M
expect_rank_error "2 ranks, malformed --targets: one line" '^shiftnas search: --targets' \
    search_of 2 cnn malformed --targets 2X
# rank 1 cannot read the data (its file system, say): rank 1 names it, rank 0 stops too
bad_data() {
    # shellcheck disable=SC2086
    timeout -k 10 "$limit" "$mpirun" --allow-run-as-root --oversubscribe \
        -np 1 "$bin" search "$work/cnn" $searching --targets 4M --csv "$work/bad-data.csv" : \
        -np 1 "$bin" search "$work/cnn" $searching --targets 4M --csv "$work/bad-data.csv" \
        --set "data.path=$work/no-data"
}
expect_rank_error "rank 1 cannot open the run: one line from rank 1" \
    "^shiftnas search: rank 1: .*$work/no-data" bad_data
if fault_injection; then
    # rank 1's third fitness evaluation fails (an I/O error there alone)
    mpi_exports=SHIFTNAS_INJECT_FAULT
    export SHIFTNAS_INJECT_FAULT=1:3:io
    expect_rank_error "rank 1 fails in an evaluation: one line from rank 1" \
        '^shiftnas search: rank 1: fitness evaluation 3 of this rank: injected I/O error' \
        search_of 2 cnn injected --targets 4M
    unset SHIFTNAS_INJECT_FAULT
    mpi_exports=
    # the generator's row was done before the evolution failed
    if [ "$(grep -c '^generator,' "$work/injected.csv")" -eq 1 ] &&
       [ "$(grep -c '^evolution,' "$work/injected.csv")" -eq 0 ]; then
        pass "the failed evolution appended no row"
    else
        fail "the failed search's rows"; cat "$work/injected.csv"
    fi
else
    echo "note: built without --enable-fault-injection: the failure inside an evaluation is not tried"
fi

# eval still runs on one process
launch 2 eval "$work/cnn" --arch 'cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2' >"$work/out" 2>"$work/err"
status=$?
if [ "$status" -eq 2 ] && [ "$(grep -c 'eval runs on one process' "$work/err")" -eq 1 ]; then
    pass "eval under mpirun -np 2: refused once"
else
    fail "eval under mpirun -np 2: exit $status"; cat "$work/err"
fi
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
