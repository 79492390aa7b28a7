#!/bin/sh
# compare-runs.sh BEFORE AFTER: the outputs of two reference-runs.sh runs
# hold the same bits: every HDF5 file (models, logs, checkpoints) object by object,
# metrics.csv without its seconds column, config.ini, search.csv without
# its timing column (tests/tools/compare_h5.py
# says what HDF5 content records time and is skipped). Prints each difference;
# exits 1 if there is one.
set -u
before=$1 after=$2
status=0
differs() { echo "differs: $1"; status=1; }
for file in $(cd "$before" && find . -name '*.h5' | sort); do
    if [ ! -f "$after/$file" ]; then differs "$file (missing)"; continue; fi
    /usr/bin/python3 "$(dirname "$0")/compare_h5.py" "$before/$file" "$after/$file" || differs "$file"
done
for file in $(cd "$before" && find . -name metrics.csv | sort); do
    cut -d, -f1-6 "$before/$file" >"$before/.cut"
    cut -d, -f1-6 "$after/$file" >"$after/.cut" 2>/dev/null || true
    cmp -s "$before/.cut" "$after/.cut" || differs "$file"
done
rm -f "$before/.cut" "$after/.cut"
# config.ini: every key of BEFORE with the same value (AFTER may add keys)
for file in $(cd "$before" && find . -name config.ini | sort); do
    grep -v '^#' "$before/$file" | grep -v '^$' >"$before/.ini"
    grep -v -x -F -f "$after/$file" "$before/.ini" >/dev/null 2>&1 && differs "$file"
    [ -f "$after/$file" ] || differs "$file (missing)"
done
rm -f "$before/.ini" "$after/.ini"
# the search's results (search.csv without its seconds column; the printed
# table's number format may change)
sed 's/,[^,]*$//' "$before/cnn-shift/search.csv" >"$before/.search"
sed 's/,[^,]*$//' "$after/cnn-shift/search.csv" >"$after/.search" 2>/dev/null || true
cmp -s "$before/.search" "$after/.search" || differs search.csv
rm -f "$before/.search" "$after/.search"
[ $status -eq 0 ] && echo "same bits: $(cd "$before" && find . -name '*.h5' | wc -l) HDF5 files, metrics, configs, search"
exit $status
