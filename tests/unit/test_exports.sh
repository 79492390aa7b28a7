#!/bin/sh
# The library's boundary: the shared libshiftnas exports exactly the symbols
# the public headers declare with SN_API (include/shiftnas/api.h), and every
# one of them. Everything else is built with -fvisibility=hidden.
# Skips (77) when only a static library was built (configure --disable-shared).
set -u
src=${SHIFTNAS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${SHIFTNAS_BUILD_DIR:-.}
nm=${NM:-nm}

dlname=$(sed -n "s/^dlname='\(.*\)'$/\1/p" "$build/libshiftnas.la" 2>/dev/null)
library=$build/.libs/$dlname
if [ -z "$dlname" ] || [ ! -f "$library" ]; then
    echo "skip: no shared libshiftnas in $build/.libs"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Exported: defined dynamic symbols. Left out: the symbols the linker defines
# in every shared object on some toolchains, the resolvers GCC adds for a
# function with target clones (sn_x.resolver beside sn_x), and the
# one-definition-rule markers AddressSanitizer adds beside an exported
# variable (__odr_asan.sn_x).
"$nm" -D --defined-only "$library" | awk '{ print $NF }' |
    grep -v -x -e _init -e _fini -e _edata -e _end -e __bss_start |
    grep -v -e '\.resolver$' -e '^__odr_asan\.' | sort -u >"$work/exported"
if [ ! -s "$work/exported" ]; then
    echo "FAIL: $nm -D lists no symbol in $library"
    exit 1
fi

# Declared: in each public header without its comments and preprocessor
# lines, every text from SN_API to the next ';'; its name is the last word
# before the first '(' (a function) or '[' (an array).
# A build configured --enable-fault-injection also exports the hook the
# program installs (src/train/fault_injection.h); only then.
headers="$src/include/shiftnas/*.h"
grep -q '^#define SHIFTNAS_FAULT_INJECTION 1' "$build/config.h" 2>/dev/null &&
    headers="$headers $src/src/train/fault_injection.h"
# shellcheck disable=SC2086
for header in $headers; do
    awk '
        FNR == 1 { in_comment = 0 }
        {
            line = $0; code = ""
            while (line != "") {
                if (in_comment) {
                    i = index(line, "*/")
                    if (i == 0) line = ""
                    else { line = substr(line, i + 2); in_comment = 0 }
                } else {
                    i = index(line, "/*")
                    if (i == 0) { code = code line; line = "" }
                    else { code = code substr(line, 1, i - 1); line = substr(line, i + 2); in_comment = 1 }
                }
            }
            if (code !~ /^[ \t]*#/) printf "%s ", code
        }
        END { print "" }' "$header"
done | grep -o 'SN_API[^;]*' | sed 's/[[(].*//' | awk '{ sub(/^\**/, "", $NF); print $NF }' |
    sort -u >"$work/declared"

status=0
comm -23 "$work/exported" "$work/declared" >"$work/extra"
comm -13 "$work/exported" "$work/declared" >"$work/missing"
if [ -s "$work/extra" ]; then
    echo "FAIL: exported by $library but not declared with SN_API in include/shiftnas:"
    sed 's/^/    /' "$work/extra"
    status=1
fi
if [ -s "$work/missing" ]; then
    echo "FAIL: declared with SN_API in include/shiftnas but not exported by $library:"
    sed 's/^/    /' "$work/missing"
    status=1
fi
[ "$status" -eq 0 ] &&
    echo "ok: $(wc -l <"$work/exported") symbols exported, each declared with SN_API, none missing"

# The public headers need no MPI: a program using the library is built
# without it (tests/unit/test_public_api compiles them that way too).
if grep -l '^[ \t]*#[ \t]*include[ \t]*<mpi\.h>' "$src"/include/shiftnas/*.h >"$work/mpi"; then
    echo "FAIL: public headers include <mpi.h>:"
    sed 's/^/    /' "$work/mpi"
    status=1
else
    echo "ok: no public header includes <mpi.h>"
fi
exit $status
