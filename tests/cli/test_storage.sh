#!/bin/sh
# Storage faults (doc/checkpoint.md, "When a write fails"): every file
# shiftnas writes fails in turn — checkpoint data, its creation, its sync,
# its rename, `latest`, model.h5 (mid-run and after the last step), log.h5,
# metrics.csv, config.ini, search.csv, eval --csv and --logits, export,
# report.md and the report's data — with ENOSPC, EROFS, EDQUOT or EIO, on
# 1 and 2 ranks. Each must end with one line naming the file and the real
# cause, exit 1 (75 for EIO, a cause that may pass, when training can be
# resumed), no crash and no hang; afterwards the previous checkpoint must be
# intact and `train --resume` must end with the bits of a run that never
# failed. The failures come from tests/tools/fail_writes.so (LD_PRELOAD);
# then, as root where `mount -t tmpfs` works, from a real full file system
# (7 MB and 1 MB) and a read-only remount in the middle of a run.
# Default: every write point once, every errno, both rank counts, a resume
# to the end for one case of each kind of file (the others: `latest` and its
# checkpoint verified), the tmpfs part. SHIFTNAS_TEST_QUICK=1: five cases
# and no tmpfs. SHIFTNAS_TEST_LONG=1: more cases, each resumed to the end.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
src=${SHIFTNAS_SOURCE_DIR:-.}
shim=${SHIFTNAS_BUILD_DIR:-.}/tests/tools/.libs/fail_writes.so
data=/usr/share/datasets/fashion-mnist
mpirun=${MPIRUN:-mpirun}
if [ ! -r "$data/train-images-idx3-ubyte.gz" ] && [ ! -r "$data/train-images-idx3-ubyte" ]; then
    echo "skip: Fashion-MNIST not found in $data"; exit 77
fi
for tool in "$mpirun" h5diff h5ls timeout; do
    command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool not found"; exit 77; }
done
[ -r "$shim" ] || { echo "skip: $shim not built (make check builds it)"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-storage.XXXXXX")
mounted=
cleanup() {
    [ -n "$mounted" ] && umount -R "$mounted" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
unset SLURM_PROCID SLURM_NTASKS SLURM_STEP_NUM_TASKS SLURM_STEP_ID SLURM_STEPID SHIFTNAS_INJECT_FAULT
quick=${SHIFTNAS_TEST_QUICK:-0}
long=${SHIFTNAS_TEST_LONG:-0}
started=$(date +%s)

# 6 steps per epoch of 24 images, 2 epochs: checkpoints after steps 4 and 8
# and the complete one after 12; epoch ends (evaluation, metrics rows,
# model.h5) after steps 6 and 12; log.h5 saved at each of them.
tiny="--set data.train_limit=264 --set data.validation_size=120 --set data.test_limit=100
      --set train.batch_size=24 --set train.epochs=2 --set train.eval_batch_size=50
      --set search.strategy=shift --set search.shift_interval=4 --set search.shift_warmup=0
      --set search.shift_validation_images=24 --set search.evolution_validation_images=0
      --set search.recalibration_batches=1
      --set checkpoint.interval_steps=4 --set checkpoint.interval_seconds=0
      --set run.progress_seconds=60"
limit=120

# launch (common.sh) passes the shim's settings to every rank
mpi_exports="LD_PRELOAD ASAN_OPTIONS FAIL_WRITES_PATTERN FAIL_WRITES_AT FAIL_WRITES_CALLS
             FAIL_WRITES_ERRNO FAIL_WRITES_LOG"

# faulty PATTERN CALLS AT ERRNO COMMAND...: the command with the shim failing
# the AT-th matching call (and every later one) on files matching PATTERN.
# (A subshell: COMMAND may be a function of this script.)
faulty() {
    (
        export LD_PRELOAD="$shim" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
            FAIL_WRITES_PATTERN="$1" FAIL_WRITES_CALLS="$2" FAIL_WRITES_AT="$3" FAIL_WRITES_ERRNO="$4" \
            FAIL_WRITES_LOG="$work/shim.log"
        shift 4
        "$@"
    )
}

train() { # RANKS RUN [ARGS...]
    train_ranks=$1 train_run=$2
    shift 2
    # shellcheck disable=SC2086
    launch "$train_ranks" train --config "$src/jobs/configs/cnn-space.ini" $tiny "$@" --out "$work/$train_run"
}
train_faulty() { # PATTERN CALLS AT ERRNO RANKS RUN
    rm -rf "$work/$6" "$work/shim.log"
    faulty "$1" "$2" "$3" "$4" train "$5" "$6"
}

cause() {
    case $1 in
      ENOSPC) echo "No space left on device" ;;
      EROFS) echo "Read-only file system" ;;
      EDQUOT) echo "Disk quota exceeded" ;;
      EIO) echo "Input/output error" ;;
    esac
}
status_for() { [ "$1" = EIO ] && echo 75 || echo 1; }

# same_run_state A B and final_checkpoint RUN_DIR: common.sh

# after_failure NAME RUN EXPECTED_LATEST RANKS RESUME: the fault left
# `latest` naming EXPECTED_LATEST, no temporary, a checkpoint that inspect
# verifies; with RESUME "resume" (or SHIFTNAS_TEST_LONG=1) the resume ends
# with the reference's bits.
after_failure() {
    name=$1 run=$2 expected=$3 ranks=$4 resume=$5
    dir=$work/$run
    latest=none
    [ -f "$dir/checkpoints/latest" ] && latest=$(final_checkpoint "$dir")
    leftovers=$(find "$dir" -name '*.tmp' 2>/dev/null | wc -l)
    if [ "$latest" != "$expected" ]; then
        fail "$name: latest names $latest, expected $expected"; record_data "$name" lost; return
    fi
    if [ "$leftovers" -ne 0 ]; then
        fail "$name: $leftovers temporary file(s) left"; find "$dir" -name '*.tmp'
    fi
    if [ "$latest" != none ] && ! "$bin" inspect "$dir/checkpoints/$latest" >/dev/null 2>&1; then
        fail "$name: $latest does not verify"; record_data "$name" lost; return
    fi
    if [ "$resume" != resume ] && [ "$long" != 1 ]; then
        pass "$name: latest names the previous checkpoint, which verifies"; record_data "$name" intact
        return
    fi
    launch "$ranks" train --resume "$dir" >"$work/resume.out" 2>"$work/resume.err"
    resumed=$?
    if [ "$resumed" -ne 0 ]; then
        fail "$name: resume exited $resumed"; cat "$work/resume.err"; record_data "$name" lost
    elif same_run_state "$work/reference" "$dir"; then
        pass "$name: previous checkpoint intact, resumed to the reference's bits"; record_data "$name" intact
    else
        fail "$name: resumed run differs from the reference"; record_data "$name" lost
    fi
}

# train_case NAME RANKS ERRNO PATTERN CALLS AT FILE_PATTERN LATEST [resume]
train_case() {
    name=$1 ranks=$2 error=$3 pattern=$4 calls=$5 at=$6 file=$7 expected=$8 check=${9:-inspect}
    want=$(status_for "$error")
    message="$file: .*$(cause "$error")"
    if [ "$ranks" -eq 1 ]; then
        expect_error "$name" "$want" "$message" train_faulty "$pattern" "$calls" "$at" "$error" 1 "$name"
    else
        expect_rank_error "$name" "$message" train_faulty "$pattern" "$calls" "$at" "$error" "$ranks" "$name"
        [ "$status" -eq "$want" ] || fail "$name: exit status $status, expected $want"
    fi
    grep -q FAILED "$work/shim.log" 2>/dev/null || fail "$name: the shim failed no call (pattern $pattern)"
    after_failure "$name" "$name" "$expected" "$ranks" "$check"
}

# ---- the reference, and the write points it meets --------------------------------

# counting mode (FAIL_WRITES_AT 0): every write-like call on the run's files
faulty "$work/reference/*" "" 0 ENOSPC train 1 reference >"$work/reference.out" 2>&1 ||
    { cat "$work/reference.out"; echo "FAIL: reference run"; exit 1; }
echo "write points of one run (calls per file):"
sed "s|$work/reference/||" "$work/shim.log" | awk '{ n[$3 " " $2]++ } END { for (k in n) print "  " k ": " n[k] }' | sort
reliability_class=storage

s=$(printf 'step-%09d.h5' 4) e=$(printf 'step-%09d.h5' 8) f=$(printf 'step-%09d.h5' 12)
t8='*/checkpoints/.step-000000008.h5.tmp'
train_case checkpoint-data-ENOSPC 1 ENOSPC "$t8" write 1 '\.step-000000008\.h5\.tmp' "$s" resume
train_case checkpoint-create-EROFS 2 EROFS "$t8" open 1 '\.step-000000008\.h5\.tmp' "$s"
train_case latest-EIO 2 EIO '*/checkpoints/latest.tmp' write 2 'latest\.tmp' "$s"
train_case model-final-EDQUOT 1 EDQUOT '*/model.h5.tmp' write 2 'model\.h5\.tmp' "$f" resume
train_case metrics-EIO 1 EIO '*/metrics.csv' fflush 2 'metrics\.csv' "$s"
if [ "$quick" != 1 ]; then
    train_case checkpoint-sync-EIO 1 EIO "$t8" fsync 1 '\.step-000000008\.h5\.tmp' "$s"
    train_case checkpoint-rename-EDQUOT 2 EDQUOT '*/checkpoints/step-000000008.h5' rename 1 '\.step-000000008\.h5\.tmp' "$s"
    train_case model-mid-run-ENOSPC 2 ENOSPC '*/model.h5.tmp' write 1 'model\.h5\.tmp' "$s" resume
    train_case log-EIO-2ranks 2 EIO '*/log.h5.tmp' write 3 'log\.h5\.tmp' "$s" resume
    train_case metrics-EROFS-2ranks 2 EROFS '*/metrics.csv' fflush 2 'metrics\.csv' "$s"
fi
if [ "$long" = 1 ]; then
    train_case checkpoint-data-EIO-2ranks 2 EIO "$t8" write 1 '\.step-000000008\.h5\.tmp' "$s"
    train_case latest-rename-ENOSPC 1 ENOSPC '*/checkpoints/latest' rename 2 'latest\.tmp' "$s"
    train_case model-final-EROFS-2ranks 2 EROFS '*/model.h5.tmp' write 2 'model\.h5\.tmp' "$f"
    train_case log-ENOSPC 1 ENOSPC '*/log.h5.tmp' write 3 'log\.h5\.tmp' "$s"
    train_case metrics-EDQUOT 1 EDQUOT '*/metrics.csv' fflush 2 'metrics\.csv' "$s"
fi

# config.ini: written before anything else; the same command again starts the run.
if [ "$quick" != 1 ]; then
expect_error config-ENOSPC 1 "config\.ini\.tmp: .*$(cause ENOSPC)" \
    train_faulty '*/config.ini.tmp' fsync 1 ENOSPC 1 config-ENOSPC
if [ ! -e "$work/config-ENOSPC/config.ini" ] && [ ! -e "$work/config-ENOSPC/metrics.csv" ] &&
   train 1 config-ENOSPC >/dev/null 2>&1 && same_run_state "$work/reference" "$work/config-ENOSPC"; then
    pass "config-ENOSPC: nothing half written; the same command trains the run"; record_data config-ENOSPC intact
else
    fail "config-ENOSPC: the run directory is not usable again"; record_data config-ENOSPC lost
fi
expect_rank_error config-EIO-2ranks "config\.ini\.tmp: .*$(cause EIO)" \
    train_faulty '*/config.ini.tmp' fflush 1 EIO 2 config-EIO
[ "$status" -eq 75 ] || fail "config-EIO-2ranks: exit status $status, expected 75"
fi

# ---- the commands that read a finished run ---------------------------------------

run=$work/reference
arch='cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2'
small_search="--set search.evolution_evaluations=8 --set search.evolution_population=4
              --set search.evolution_validation_images=48 --set search.recalibration_batches=1"
# output_case NAME ERRNO PATTERN CALLS AT FILE COMMAND...: the command fails
# with one line naming FILE and the cause, and leaves the run as it was.
output_case() {
    name=$1 error=$2 pattern=$3 calls=$4 at=$5 file=$6
    shift 6
    rm -f "$work/shim.log"
    sum_before=$(cat "$run/model.h5" "$run/checkpoints/latest" | cksum)
    expect_error "$name" 1 "$file: .*$(cause "$error")" faulty "$pattern" "$calls" "$at" "$error" "$@"
    grep -q FAILED "$work/shim.log" 2>/dev/null || fail "$name: the shim failed no call (pattern $pattern)"
    if [ "$(cat "$run/model.h5" "$run/checkpoints/latest" | cksum)" = "$sum_before" ] &&
       [ -z "$(find "$work" -maxdepth 1 -name '*.tmp')" ]; then
        record_data "$name" intact
    else
        fail "$name: the run or a temporary changed"; record_data "$name" lost
    fi
}
output_case eval-csv-EIO EIO '*/eval.csv' fflush 1 'eval\.csv' \
    timeout -k 10 "$limit" "$bin" eval "$run" --arch "$arch" --csv "$work/eval.csv"
if [ "$quick" = 1 ]; then
    echo "storage: $passes passed, $failures failed in $(($(date +%s) - started)) s (quick)"
    [ "$failures" -eq 0 ]
    exit
fi
# shellcheck disable=SC2086
output_case search-csv-EDQUOT EDQUOT '*/out.csv' fflush 1 'out\.csv' \
    timeout -k 10 "$limit" "$bin" search "$run" --targets 5M $small_search --csv "$work/out.csv"
output_case eval-logits-ENOSPC ENOSPC '*/logits.h5.tmp' write 1 'logits\.h5\.tmp' \
    timeout -k 10 "$limit" "$bin" eval "$run" --arch "$arch" --logits "$work/logits.h5"
output_case export-EROFS EROFS '*/subnet.h5.tmp' write 1 'subnet\.h5\.tmp' \
    timeout -k 10 "$limit" "$bin" export "$run" --arch "$arch" --out "$work/subnet.h5"
# report: a searched run
# shellcheck disable=SC2086
timeout -k 10 "$limit" "$bin" search "$run" --targets 5M $small_search >/dev/null 2>&1 || fail "search of the reference run"
output_case report-md-ENOSPC ENOSPC '*/report/report.md' fflush 1 'report\.md' \
    timeout -k 10 "$limit" "$bin" report "$run" --no-plots --out "$work/report"
if [ "$long" = 1 ]; then
    output_case report-data-EDQUOT EDQUOT '*/report/data/*' fflush 1 'report/data/[a-z_]*\.dat' \
        timeout -k 10 "$limit" "$bin" report "$run" --no-plots --out "$work/report"
fi

# ---- a real file system: full, then read-only ------------------------------------

tmpfs_case() { # NAME SIZE: a run on a tmpfs of SIZE
    name=$1 size=$2
    mkdir -p "$work/$name"
    mount -t tmpfs -o "size=$size" tmpfs "$work/$name" || return 1
    mounted=$work/$name
    expect_error "$name" 1 "$(cause ENOSPC)" train 1 "$name/run"
    return 0
}
if [ "$quick" = 1 ]; then
    echo "note: SHIFTNAS_TEST_QUICK=1: the tmpfs cases are skipped"
elif [ "$(id -u)" -ne 0 ]; then
    echo "note: not root: the tmpfs cases (a full and a read-only file system) are skipped"
elif tmpfs_case tmpfs-7M 7M; then
    # Room for two checkpoints and the run files, not a third: the
    # previous checkpoint is whole, and with room again the run resumes.
    dir=$work/tmpfs-7M/run
    if [ -f "$dir/checkpoints/latest" ] && "$bin" inspect "$dir/checkpoints/$(final_checkpoint "$dir")" >/dev/null 2>&1 &&
       mount -o remount,size=64M "$work/tmpfs-7M" && train_resumed=$(launch 1 train --resume "$dir" 2>&1) &&
       same_run_state "$work/reference" "$dir"; then
        pass "tmpfs-7M: the previous checkpoint intact; resumed with room to the reference's bits"
        record_data tmpfs-7M intact
    else
        fail "tmpfs-7M: not resumable"; echo "$train_resumed" | tail -3; record_data tmpfs-7M lost
    fi
    umount "$work/tmpfs-7M"; mounted=
    # 1 MB: not even the first checkpoint fits; the failure is one line
    if tmpfs_case tmpfs-1M 1M; then
        umount "$work/tmpfs-1M"; mounted=
    fi
    # read-only in the middle of a run, once it has a checkpoint. (The run
    # directory is bind-mounted over itself and that mount made read-only:
    # a remount of the tmpfs itself is refused while the run holds
    # metrics.csv open for writing.)
    mkdir -p "$work/tmpfs-ro"
    if mount -t tmpfs -o size=64M tmpfs "$work/tmpfs-ro"; then
        mounted=$work/tmpfs-ro
        dir=$work/tmpfs-ro/run
        train 1 tmpfs-ro/run --set train.epochs=4 --set checkpoint.interval_steps=1 \
            >"$work/ro.out" 2>"$work/ro.err" &
        pid=$!
        waited=0
        while [ ! -f "$dir/checkpoints/latest" ] && [ "$waited" -lt 600 ] && kill -0 "$pid" 2>/dev/null; do
            sleep 0.1; waited=$((waited + 1))
        done
        # (The remount is refused while the run has a file of the new mount
        # open for writing: try again until it falls between two writes.)
        made_ro=0
        if mount --bind "$dir" "$dir"; then
            for try in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
                mount -o remount,bind,ro "$dir" 2>/dev/null && { made_ro=1; break; }
                sleep 0.05
            done
        fi
        [ "$made_ro" = 1 ] || echo "note: the run directory could not be made read-only"
        wait "$pid"
        status=$?
        lines=$(wc -l <"$work/ro.err")
        if [ "$status" -eq 1 ] && [ "$lines" -eq 1 ] && grep -q "$(cause EROFS)" "$work/ro.err"; then
            pass "tmpfs-read-only: one line naming the cause, exit 1"; reliability clear tmpfs-read-only
        else
            fail "tmpfs-read-only: exit $status, $lines line(s)"; cat "$work/ro.err"
            reliability "$( [ "$status" -ge 128 ] && echo crash || echo unclear)" tmpfs-read-only
        fi
        if "$bin" inspect "$dir/checkpoints/$(final_checkpoint "$dir")" >/dev/null 2>&1; then
            pass "tmpfs-read-only: the latest checkpoint verifies"; record_data tmpfs-read-only intact
        else
            fail "tmpfs-read-only: the latest checkpoint does not verify"; record_data tmpfs-read-only lost
        fi
        umount -R "$work/tmpfs-ro"; mounted=
    fi
else
    echo "note: mount -t tmpfs failed: the tmpfs cases are skipped"
fi

echo "storage: $passes passed, $failures failed in $(($(date +%s) - started)) s"
[ "$failures" -eq 0 ]
