#!/bin/sh
# `shiftnas data convert FOLDER`: an image folder of mixed kinds (JPEG RGB,
# grey, CMYK; PNG RGBA, palette, 16-bit, interlaced) into HDF5 on 1 and 2
# ranks (the same images and labels), damaged files with stop and skip, a
# test split with an unknown class, refusals that leave nothing behind, and
# a short training run on the converted set.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
fixtures=${SHIFTNAS_BUILD_DIR:-.}/tests/cli/image_fixtures
src=${SHIFTNAS_SOURCE_DIR:-.}
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-convert.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe
# Under the sanitizer build, leak checking is off for MPI processes (Open
# MPI's own allocations live until exit), as in tests/run-mpi.sh.
mpirun="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 ${MPIRUN:-mpirun} -np 2"


"$fixtures" folder "$work/images" || { echo "FAIL: image_fixtures"; exit 1; }
cd "$work" || exit 1

# --- one rank; progress lines; data info --------------------------------------
if "$bin" data convert images one.h5 --size 32 >out1 2>err1 && [ ! -s err1 ]; then
    pass "convert on one rank"
else
    fail "convert on one rank"; cat err1
fi
if grep -q '^train 15/15 images (100.0%) .* img/s' out1 && grep -q '^test 6/6 images' out1 &&
   ! grep -q "$(printf '\r')" out1; then
    pass "progress: plain lines with counts and rate, no carriage return in a log"
else
    fail "progress lines"; cat out1
fi
"$bin" data info one.h5 >info1 2>&1
if grep -q '^train: 15 images of 3x32x32 (channels x height x width), 3 classes; per class: 5 5 5$' info1 &&
   grep -q '^test: 6 images of 3x32x32 .* per class: 2 2 2$' info1 && grep -q '^class names: cat dog emu$' info1; then
    pass "data info: shapes, classes, per-class counts, class names"
else
    fail "data info"; cat info1
fi
if h5dump -p -H -d /train/images one.h5 | grep -q 'CHUNKED ( 1, 32, 32, 3 )'; then
    pass "one image per chunk"
else
    fail "chunk layout"; h5dump -p -H -d /train/images one.h5
fi

# --- two ranks, small rounds: the same images and labels --------------------
if $mpirun "$bin" data convert images two.h5 --size 32 --batch 2 >out2 2>err2 &&
   h5diff one.h5 two.h5 >diff2 2>&1; then
    pass "2 ranks (rounds of 2 x 2 files) write the same set as 1 rank"
else
    fail "2 ranks differ from 1"; cat err2 diff2
fi
if grep -q '^train 15/15 images' out2 && ! grep -q "$(printf '\r')" out2; then
    pass "progress under mpirun: plain lines (mpirun's pseudo-terminal is not a terminal to write to)"
else
    fail "progress under mpirun"; od -c out2 | head
fi
if "$bin" data convert images one-gray.h5 --size 20 --channels 1 --deflate 6 >/dev/null 2>&1 &&
   "$bin" data info one-gray.h5 | grep -q '^train: 15 images of 1x20x20' &&
   $mpirun "$bin" data convert images two-gray.h5 --size 20 --channels 1 --deflate 6 --batch 3 >/dev/null 2>&1 &&
   h5diff one-gray.h5 two-gray.h5 >/dev/null 2>&1; then
    pass "--channels 1 --deflate 6: N x S x S, the same on 2 ranks"
else
    fail "--channels 1 --deflate 6"
fi

# --- damaged files: stop and skip ----------------------------------------------
cp -r images bad
victim=$(ls bad/train/dog/*.img | head -n 1)
size=$(wc -c <"$victim")
head -c $((size / 2)) "$victim" >"$victim.cut" && mv "$victim.cut" "$victim"
reliability_class=image-folder
expect_error "stop: one line naming the damaged file" 1 "$victim: truncated" \
    "$bin" data convert bad stop.h5 --size 32
if [ ! -e stop.h5 ] && [ -z "$(ls -A | grep partial)" ]; then
    pass "stop leaves neither the output nor a partial file"
else
    fail "stop left files behind"; ls -A
fi
$mpirun "$bin" data convert bad stop2.h5 --size 32 --batch 1 >out3 2>err3
status=$?
if [ "$status" -eq 1 ] && [ "$(grep -c "$victim: truncated" err3)" -eq 1 ] && [ ! -e stop2.h5 ] &&
   [ ! -e .stop2.h5.partial ]; then
    pass "stop on 2 ranks: exit 1, the message once, nothing left"
else
    fail "stop on 2 ranks (status $status)"; cat err3
fi
if "$bin" data convert bad skip1.h5 --size 32 --on-error skip >out4 2>err4 &&
   [ "$(wc -l <err4)" -eq 1 ] && grep -q "$victim: truncated" err4 &&
   grep -q '^skipped 1 unreadable files (train 1, test 0)' out4 &&
   "$bin" data info skip1.h5 | grep -q '^train: 14 images .* per class: 5 4 5$'; then
    pass "skip: named on stderr, counted, left out"
else
    fail "skip"; cat out4 err4
fi
if $mpirun "$bin" data convert bad skip2.h5 --size 32 --on-error skip --batch 2 >/dev/null 2>&1 &&
   h5diff skip1.h5 skip2.h5 >/dev/null 2>&1; then
    pass "skip on 2 ranks gives the same set"
else
    fail "skip on 2 ranks differs"
fi
printf 'GIF89a not a photo' >bad/train/cat/zz.jpg
expect_error "unknown type (by magic bytes, not the name)" 1 "bad/train/cat/zz.jpg: unknown image type" \
    "$bin" data convert bad unknown.h5 --size 32

# --- refusals -----------------------------------------------------------------
cp -r images zoo
mkdir zoo/val/zebra
expect_error "test split with a class train lacks" 1 "zoo/val/zebra: class 'zebra' is not a class of zoo/train" \
    "$bin" data convert zoo zoo.h5 --size 32
mv zoo/val zoo/holdout
rmdir zoo/holdout/zebra
expect_error "no val/ or test/" 1 "no val/ or test/" "$bin" data convert zoo zoo.h5 --size 32
if "$bin" data convert zoo zoo.h5 --size 32 --test-split holdout >/dev/null 2>&1 && h5diff one.h5 zoo.h5 >/dev/null; then
    pass "--test-split names the test folder"
else
    fail "--test-split"
fi
cp one.h5 keep.h5
reliability_class=storage
expect_error "existing output refused" 1 "keep.h5: already exists" "$bin" data convert images keep.h5 --size 32
if cmp -s one.h5 keep.h5; then pass "existing output untouched"; else fail "existing output changed"; fi
expect_error "output directory missing" 1 "nodir/.out.h5.partial: cannot create" \
    "$bin" data convert images nodir/out.h5 --size 32
: >afile
expect_error "output directory is a file" 1 "afile/.out.h5.partial: cannot create" \
    "$bin" data convert images afile/out.h5 --size 32
mkdir locked
chmod 555 locked
if [ "$(id -u)" -ne 0 ]; then
    expect_error "unwritable output directory" 1 "locked/.out.h5.partial" "$bin" data convert images locked/out.h5 --size 32
    if [ -z "$(ls -A locked)" ]; then pass "nothing left in the unwritable directory"; else fail "files left in locked/"; fi
fi
chmod 755 locked
reliability_class=CLI
expect_error "--size is required for a folder" 2 "needs --size" "$bin" data convert images x.h5
expect_error "bad --on-error" 2 "expected stop or skip" "$bin" data convert images x.h5 --size 8 --on-error maybe

# --- a short training run on the converted set --------------------------------
if "$bin" train --config "$src/jobs/configs/cnn-fixed.ini" --set data.dataset=hdf5 --set data.path=two.h5 \
        --set train.max_steps=3 --set data.validation_size=3 --set train.batch_size=4 --set distributed.shards=2 \
        --out run >run.log 2>&1 && [ "$(grep -c ',test,' run/metrics.csv)" -ge 1 ]; then
    pass "training runs on the converted set"
else
    fail "training on the converted set"; tail -5 run.log
fi

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
