#!/bin/sh
# Hostile inputs, each answered by one clear line and a non-zero exit:
# configuration files and --set (sizes capped before reading, binary bytes
# escaped, the right line blamed), IDX directories and HDF5 sets (labels
# against a declared class count, absurd headers, wrong types, ranks and
# layouts, shapes that differ between splits), image folders (empty,
# non-image files, hostile names). Small synthetic inputs
# (tests/tools/make_bad_inputs, tests/cli/image_fixtures); under a minute.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
make_bad=${SHIFTNAS_BUILD_DIR:-.}/tests/tools/make_bad_inputs
fixtures=${SHIFTNAS_BUILD_DIR:-.}/tests/cli/image_fixtures
src=${SHIFTNAS_SOURCE_DIR:-.}
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-inputs.XXXXXX")
trap 'chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT
# shellcheck source=tests/cli/common.sh
. "$src/tests/cli/common.sh"
cd "$work" || exit 1
# every run is bounded: a hang is a failure of its own (outcome "hang")
sn="timeout 60 $bin"

# A tiny run: 8x8 images, one block, one epoch.
cat >tiny.ini <<'EOF'
[data]
dataset = fashion-mnist
path = idx-good
validation_size = 2
[model]
type = cnn
[cnn]
channels = 4
strides = 1
[train]
epochs = 1
batch_size = 4
eval_batch_size = 8
warmup_epochs = 0
[distributed]
shards = 2
EOF
"$bin" config defaults >defaults.ini

# --- configuration files and --set --------------------------------------------
reliability_class=config
mkdir cfg-dir
expect_error "config: a directory" 1 "cfg-dir: is a directory, not a configuration file" \
    $sn config show --config cfg-dir
expect_error "config: /dev/zero stops at its first byte" 1 "/dev/zero:1: a NUL byte at column 1" \
    $sn config show --config /dev/zero
expect_error "config: /dev/urandom" 1 "/dev/urandom" $sn config show --config /dev/urandom
awk 'BEGIN { for (i = 0; i < 70000; i++) print "; a comment line" }' >big.ini
expect_error "config: over 1 MiB, refused on its size" 1 "big.ini: [0-9]* bytes: too large for a configuration file (at most 1048576)" \
    $sn config show --config big.ini
expect_error "config: over 1 MiB through a pipe, capped while reading" 1 "/dev/stdin: more than 1048576 bytes" \
    sh -c "cat big.ini | $sn config show --config /dev/stdin"
awk 'BEGIN { printf "[data]\npath = /"; for (i = 0; i < 100000; i++) printf "p"; print "" }' >long-line.ini
expect_error "config: a 100000-character line" 1 "long-line.ini:2: line longer than 1024 characters" \
    $sn config show --config long-line.ini
printf '[train]\nepochs = 3\000\n' >nul.ini
expect_error "config: a NUL byte in a line" 1 "nul.ini:2: a NUL byte at column 11" $sn config show --config nul.ini
printf '[train\nepochs = 1\n' >open-section.ini
expect_error "config: '[train' blames its own line" 1 "open-section.ini:1: section header '\[train' has no closing '\]'" \
    $sn config show --config open-section.ini
printf '[train]\nepochs = \001\377\033[31m\n' >binary.ini
expect_error "config: binary bytes escaped" 1 "binary.ini:2: \[train\] epochs = '\\\\x01\\\\xff\\\\x1b\[31m': not an integer" \
    $sn config show --config binary.ini
printf '[train]\nepochs 3\n' >no-equals.ini
expect_error "config: a line that is no key = value" 1 "no-equals.ini:2: 'epochs 3' is not a \[section\]" \
    $sn config show --config no-equals.ini
printf '[tr\033ain]\n' >escape-section.ini
expect_error "config: an unknown section with ESC" 1 "unknown section \[tr\\\\x1bain\]" \
    $sn config show --config escape-section.ini
printf '[data]\nclasses = -1\n' >classes.ini
expect_error "config: [data] classes out of range" 1 "\[data\] classes = '-1': out of range (allowed: integer 0..16777216)" \
    $sn config show --config classes.ini
expect_error "config: missing file" 1 "no-such.ini: cannot open the configuration" \
    $sn config show --config no-such.ini
expect_error "--set: a value with newlines is one line" 1 "epochs = '1\\\\x0a2\\\\x0a3\\\\x0a4\\\\x0a5': not an integer" \
    $sn config show --config defaults.ini --set "$(printf 'train.epochs=1\n2\n3\n4\n5')"
expect_error "--set: over 1024 characters" 1 "longer than 1024 characters" \
    $sn config show --config defaults.ini --set "data.path=/$(awk 'BEGIN { for (i = 0; i < 5000; i++) printf "p" }')"
# shellcheck disable=SC2046
expect_error "--set: 300 of them" 1 "given 300 times (at most 256)" \
    $sn config show --config defaults.ini $(awk 'BEGIN { for (i = 0; i < 300; i++) printf "--set train.epochs=2 " }')
expect_error "--set: a control byte in the section" 1 "unknown section \[tr\\\\x01ain\]" \
    $sn config show --config defaults.ini --set "$(printf 'tr\001ain.epochs=1')"
expect_error "--set --set x=y" 2 "--set needs SECTION.KEY=VALUE and got '--set', another option" \
    $sn config show --config defaults.ini --set --set x=y
expect_error "--resume: a directory name with a newline" 1 "no\\\\x0arun: not a run directory" \
    $sn config show --resume "$(printf 'no\nrun')"
expect_error "train: --config /dev/zero" 1 "/dev/zero:1: a NUL byte" $sn train --config /dev/zero --out run-zero
if [ ! -e run-zero ]; then pass "nothing written for a refused configuration"; else fail "run-zero exists"; fi
if printf '[train]\nepochs = 3\n' | $sn config show --config /dev/stdin 2>err | grep -q '^epochs = 3$'; then
    pass "a configuration through a pipe still reads"
else
    fail "configuration through a pipe"; cat err
fi

# --- IDX directories ---------------------------------------------------------------
reliability_class=IDX
for kind in good label-200 test-label-10 shape-mismatch absurd-dimensions wrong-magic element-type \
            labels-short truncated trailing images-2d empty no-test; do
    "$make_bad" idx "$kind" "idx-$kind" || fail "make_bad_inputs idx $kind"
done
expect_error "IDX: label 200 at index 17 (train)" 1 "idx-label-200/train-labels-idx1-ubyte: label 200 at index 17 is not below the 10 classes of an IDX directory" \
    $sn train --config tiny.ini --set data.path=idx-label-200 --out run-200
if [ ! -e run-200 ]; then pass "no 201-class network was trained"; else fail "run-200 exists"; fi
expect_error "IDX: label 200 (data info)" 1 "label 200 at index 17 is not below the 10 classes" \
    $sn data info idx-label-200
expect_error "IDX: test label 10" 1 "idx-test-label-10/t10k-labels-idx1-ubyte: label 10 at index 3 is not below the 10 classes" \
    $sn data info idx-test-label-10
expect_error "IDX: [data] classes below a label" 1 "train-labels-idx1-ubyte: label 5 at index 5 is not below the 5 classes of \[data\] classes" \
    $sn train --config tiny.ini --set data.classes=5 --out run-5
expect_error "IDX: test images of another size (train)" 1 "t10k-images-idx3-ubyte: test images are 10x10, but the training images of .*train-images-idx3-ubyte are 8x8" \
    $sn train --config tiny.ini --set data.path=idx-shape-mismatch --out run-shape
expect_error "IDX: test images of another size (data info)" 1 "test images are 10x10, but the training images" \
    $sn data info idx-shape-mismatch
expect_error "IDX: a header claiming 4294967295^3 bytes" 1 "train-images-idx3-ubyte: too large: header says 4294967295 x 4294967295 x 4294967295" \
    $sn data info idx-absurd-dimensions
expect_error "IDX: wrong magic" 1 "train-images-idx3-ubyte: bad magic" $sn data info idx-wrong-magic
expect_error "IDX: float elements" 1 "unsupported element type 0x0d" $sn data info idx-element-type
expect_error "IDX: a label file shorter than the images" 1 "train-labels-idx1-ubyte: count mismatch: 19 labels, but .* holds 20 images" \
    $sn data info idx-labels-short
expect_error "IDX: truncated images" 1 "truncated: header says 20 x 8 x 8 = 1280 pixel bytes, file holds 1270" \
    $sn data info idx-truncated
expect_error "IDX: trailing bytes" 1 "trailing bytes: .* (3 extra)" $sn data info idx-trailing
expect_error "IDX: 2-D images" 1 "images must have 3 dimensions" $sn data info idx-images-2d
expect_error "IDX: an empty file" 1 "truncated header: 0 bytes" $sn data info idx-empty
expect_error "IDX: no test split" 1 "t10k-images-idx3-ubyte: cannot open (nor .*\.gz)" $sn data info idx-no-test
mkdir idx-gzip
cp idx-good/* idx-gzip/
gzip idx-gzip/train-images-idx3-ubyte
head -c 200 idx-gzip/train-images-idx3-ubyte.gz >cut.gz && mv cut.gz idx-gzip/train-images-idx3-ubyte.gz
expect_error "IDX: truncated gzip" 1 "train-images-idx3-ubyte.gz: truncated gzip stream" $sn data info idx-gzip
cp idx-good/train-images-idx3-ubyte idx-gzip/ && rm idx-gzip/train-images-idx3-ubyte.gz
gzip idx-gzip/train-images-idx3-ubyte
printf 'garbage' >>idx-gzip/train-images-idx3-ubyte.gz
expect_error "IDX: bytes after the gzip stream" 1 "trailing bytes: 7 bytes after the gzip stream" $sn data info idx-gzip
expect_error "IDX: a file as the directory" 1 "tiny.ini/train-images-idx3-ubyte: cannot open" \
    $sn train --config tiny.ini --set data.path=tiny.ini --out run-file
if $sn train --config tiny.ini --out run-good >run-good.log 2>&1 &&
   $sn train --config tiny.ini --set data.path=idx-label-200 --set data.classes=201 --out run-201 >run-201.log 2>&1 &&
   [ -s run-good/model.h5 ] && [ -s run-201/model.h5 ]; then
    pass "IDX: a good directory trains; [data] classes = 201 admits label 200"
else
    fail "IDX: training on the good directory or with [data] classes = 201"; tail -3 run-good.log run-201.log
fi

# --- HDF5 sets --------------------------------------------------------------------
reliability_class=HDF5
for kind in good no-attribute shape-mismatch float-images int16-images channels-first five-channels \
            rank-2 rank-5 huge-label huge-unsigned negative-label beyond-attribute zero-classes \
            float-labels string-labels label-count labels-2d no-test no-labels scalar-images huge-shape; do
    "$make_bad" hdf5 "$kind" "$kind.h5" || fail "make_bad_inputs hdf5 $kind"
done
# h5 FILE ARGS...: a tiny training run on an HDF5 set
h5() {
    h5_path=$1
    shift
    $sn train --config tiny.ini --set data.dataset=hdf5 --set "data.path=$h5_path" "$@"
}
for stream in off on; do
    expect_error "HDF5: test images of another shape (train, stream $stream)" 1 "shape-mismatch.h5: /train/images are 1x8x8 but /test/images are 1x10x10" \
        h5 shape-mismatch.h5 --set data.stream=$stream --out "run-shape-$stream"
done
expect_error "HDF5: test images of another shape (data info)" 1 "/train/images are 1x8x8 but /test/images are 1x10x10" \
    $sn data info shape-mismatch.h5
expect_error "HDF5: float images" 1 "/train/images: holds 4-byte floating point numbers; shiftnas reads 8-bit unsigned images .*astype('uint8')" \
    h5 float-images.h5 --out run-float
expect_error "HDF5: 16-bit images" 1 "/train/images: holds 2-byte signed integers; shiftnas reads 8-bit unsigned images" \
    $sn data info int16-images.h5
expect_error "HDF5: channels-first images" 1 "shape 6x3x8x8 looks channels-first (N x C x H x W); shiftnas reads N x H x W x C" \
    h5 channels-first.h5 --out run-first
expect_error "HDF5: 5 channels" 1 "shape 6x8x8x5 has 5 channels in its last axis" $sn data info five-channels.h5
expect_error "HDF5: rank-2 images" 1 "/train/images: wrong rank 2 (shape 6x64), expected 3 or 4" $sn data info rank-2.h5
expect_error "HDF5: rank-5 images" 1 "/train/images: wrong rank 5 (shape 6x1x8x8x1)" $sn data info rank-5.h5
expect_error "HDF5: a label of 2^40, at its true value" 1 "/train/labels: label 1099511627776 at index 4 is not below the 3 classes of the attribute /classes" \
    h5 huge-label.h5 --out run-huge
expect_error "HDF5: a uint64 label of 2^64 - 1" 1 "label 18446744073709551615 at index 1" $sn data info huge-unsigned.h5
expect_error "HDF5: a negative label" 1 "/train/labels: label -3 at index 2 is out of range (negative)" \
    $sn data info negative-label.h5
expect_error "HDF5: a label beyond the classes attribute" 1 "label 7 at index 5 is not below the 3 classes of the attribute /classes" \
    h5 beyond-attribute.h5 --set data.stream=on --out run-beyond
expect_error "HDF5: classes attribute 0" 1 "attribute /classes: 0 is out of range" $sn data info zero-classes.h5
expect_error "HDF5: float labels" 1 "/train/labels: holds 8-byte floating point numbers; labels are integers" \
    $sn data info float-labels.h5
expect_error "HDF5: string labels" 1 "/train/labels: holds strings; labels are integers" $sn data info string-labels.h5
expect_error "HDF5: fewer labels than images" 1 "count mismatch: 5 labels for 6 images" $sn data info label-count.h5
expect_error "HDF5: 2-D labels" 1 "/train/labels: wrong rank 2 (shape 6x1), expected 1" $sn data info labels-2d.h5
expect_error "HDF5: no test split" 1 "/test/images: missing" h5 no-test.h5 --out run-no-test
expect_error "HDF5: no labels" 1 "/train/labels: missing" $sn data info no-labels.h5
expect_error "HDF5: scalar images" 1 "not a simple array" $sn data info scalar-images.h5
expect_error "HDF5: a shape of 10^18 pixels, never written" 1 "/train/images: too large" h5 huge-shape.h5 --out run-huge-shape
for stream in off on; do
    expect_error "HDF5: [data] classes below a label (stream $stream)" 1 "good.h5: dataset /train/labels: label 2 at index 2 is not below the 2 classes of \[data\] classes" \
        h5 good.h5 --set data.classes=2 --set data.stream=$stream --out "run-classes-$stream"
done
expect_error "HDF5: a text file" 1 "tiny.ini: HDF5 cannot open it: not an HDF5 file" h5 tiny.ini --out run-text
head -c 1500 good.h5 >cut.h5
expect_error "HDF5: a truncated file" 1 "cut.h5" $sn data info cut.h5
expect_error "HDF5: /dev/zero" 1 "/dev/zero: cannot open: not a regular file" h5 /dev/zero --out run-dev
expect_error "HDF5: a path with a newline and ESC, escaped" 1 "a\\\\x0ab\\\\x1b: cannot open" \
    $sn data info "$(printf 'a\nb\033')"
if h5 good.h5 --set data.classes=7 --set data.stream=on --out run-7 >run-7.log 2>&1 &&
   h5dump -H -d /network/classifier.bias run-7/model.h5 2>/dev/null | grep -q '( 7 )'; then
    pass "HDF5: [data] classes = 7 wins over the attribute's 3 (a 7-class classifier)"
else
    fail "HDF5: [data] classes = 7"; tail -3 run-7.log
fi
if $sn data info no-attribute.h5 2>err | grep -q '^train: 6 images of 1x8x8 .*, 5 classes'; then
    pass "HDF5: without the attribute, the largest label + 1"
else
    fail "HDF5: classes without the attribute"; cat err
fi

# --- image folders ------------------------------------------------------------------
reliability_class=image-folder
"$fixtures" folder images >/dev/null || fail "image_fixtures folder"
image=$(find images/train -type f | head -n 1)
mkdir -p empty-folder
expect_error "image folder: empty" 2 "empty-folder: no train/ folder, so not an image folder" \
    $sn data convert empty-folder out.h5 --size 8
mkdir -p no-classes/train no-classes/val
expect_error "image folder: no class folders" 1 "no-classes/train: no class folders" \
    $sn data convert no-classes out.h5 --size 8
mkdir -p no-test/train/a && cp "$image" no-test/train/a/
expect_error "image folder: no test split" 1 "no val/ or test/ folder" $sn data convert no-test out.h5 --size 8
expect_error "image folder: train as the test split" 1 "'train' cannot be the test split's folder" \
    $sn data convert no-test out.h5 --size 8 --test-split train
mkdir -p text/train/a text/val/a && cp "$image" text/train/a/ && cp "$image" text/val/a/
echo "not an image" >text/train/a/readme.txt
expect_error "image folder: a text file among the images" 1 "text/train/a/readme.txt: unknown image type" \
    $sn data convert text out.h5 --size 8
mkdir -p cut/train/a cut/val/a && cp "$image" cut/val/a/ && head -c 100 "$image" >cut/train/a/x.img
expect_error "image folder: a truncated image" 1 "cut/train/a/x.img: " $sn data convert cut out.h5 --size 8
mkdir -p zero/train/a zero/val/a && cp "$image" zero/val/a/ && : >zero/train/a/x.jpg
expect_error "image folder: a zero-byte image" 1 "zero/train/a/x.jpg: empty file" $sn data convert zero out.h5 --size 8
mkdir -p unknown/train/a unknown/val/b && cp "$image" unknown/train/a/ && cp "$image" unknown/val/b/
expect_error "image folder: a test class unknown to train" 1 "class 'b' is not a class of" \
    $sn data convert unknown out.h5 --size 8
esc=$(printf 'a\033[31m')
mkdir -p "names/train/$esc" "names/val/$esc" && cp "$image" "names/train/$esc/" && cp "$image" "names/val/$esc/"
printf 'x' >"names/train/$esc/$(printf 'bad\nname').jpg"
expect_error "image folder: ESC and a newline in names, escaped" 1 "names/train/a\\\\x1b\[31m/bad\\\\x0aname.jpg: unknown image type" \
    $sn data convert names out.h5 --size 8
mkdir -p loop/train/a loop/val/a && cp "$image" loop/val/a/ && ln -s loop.jpg loop/train/a/loop.jpg
expect_error "image folder: a symbolic link loop" 1 "loop/train/a/loop.jpg: cannot stat" $sn data convert loop out.h5 --size 8
expect_error "image folder: data info on a folder" 1 "images: an image folder: convert it first" $sn data info images
expect_error "image folder: folder options on an IDX directory" 2 "idx-good: no train/ folder, so not an image folder" \
    $sn data convert idx-good out.h5 --size 8
expect_error "image folder: convert a file" 1 "tiny.ini: not a directory" $sn data convert tiny.ini out.h5
if [ "$(id -u)" -ne 0 ]; then
    mkdir -p locked/train/a locked/val/a && cp "$image" locked/train/a/ && cp "$image" locked/val/a/
    chmod 000 locked/train/a
    expect_error "image folder: an unreadable class folder" 1 "locked/train/a: cannot open the folder: Permission denied" \
        $sn data convert locked out.h5 --size 8
    chmod 755 locked/train/a
else
    echo "note: running as root: the unreadable class folder is not tried"
fi
if [ ! -e out.h5 ]; then pass "image folder: no output left by a refused conversion"; else fail "out.h5 left behind"; fi
mkdir -p fifo/train/a fifo/val/a && cp "$image" fifo/train/a/ && cp "$image" fifo/val/a/ && mkfifo fifo/train/a/pipe.jpg
if $sn data convert fifo fifo.h5 --size 8 >fifo.log 2>&1 && $sn data info fifo.h5 2>&1 | grep -q '^train: 1 images'; then
    pass "image folder: a FIFO among the images is passed over, not waited on"
else
    fail "image folder: a FIFO"; cat fifo.log
fi
rm -f "names/train/$esc/$(printf 'bad\nname').jpg"
if $sn data convert names names.h5 --size 8 >/dev/null 2>&1 &&
   $sn data info names.h5 | grep -q '^class names: a\\x1b\[31m$'; then
    pass "image folder: class names printed escaped"
else
    fail "image folder: class names"; $sn data info names.h5
fi

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
