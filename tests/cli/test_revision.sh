#!/bin/sh
# The source revision a binary names (--version, checkpoints, reports) is
# the one it was built from: read at build time from git, or from the
# tarball's .tarball-revision, or SHIFTNAS_REVISION.  The build rule's
# shell is exercised through `make dist-revision` on a scratch repository,
# so a commit after configure must change the revision it reports.
set -u
bin=${SHIFTNAS_BUILD_DIR:-.}/shiftnas
build=${SHIFTNAS_BUILD_DIR:-.}
src=${SHIFTNAS_SOURCE_DIR:-.}
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftnas-revision.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
pass() { echo "ok: $1"; }
fail() { failures=$((failures + 1)); echo "FAIL: $1"; }

reported=$("$bin" --version | sed -n 's/^shiftnas .* (revision \([^)]*\))$/\1/p')
if [ -e "$src/.git" ] && command -v git >/dev/null 2>&1; then
    expected=$(cd "$src" && git describe --always --dirty)
    origin="git describe in $src"
elif [ -f "$src/.tarball-revision" ]; then
    expected=$(sed -n 1p "$src/.tarball-revision")
    origin="$src/.tarball-revision"
else
    expected=unknown
    origin="no .git and no .tarball-revision"
fi
if [ -n "$reported" ] && [ "$reported" = "$expected" ]; then
    pass "--version names revision $reported ($origin)"
else
    fail "--version names '$reported', $origin gives '$expected'"
fi

# revision_of TOP [MAKE-ARGS...]: what the build rule's shell reads for a
# source tree at TOP (written by dist-revision into a scratch distdir).
revision_of() {
    top=$1
    shift
    mkdir -p "$work/dist"
    rm -f "$work/dist/.tarball-revision"
    make -s -C "$build" dist-revision SHIFTNAS_REVISION_SOURCE="$top" distdir="$work/dist" "$@" >/dev/null 2>&1 \
        && sed -n 1p "$work/dist/.tarball-revision"
}

if command -v git >/dev/null 2>&1; then
    repo=$work/repo
    git init -q "$repo" && cd "$repo" \
        && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m one && cd - >/dev/null
    first=$(revision_of "$repo")
    cd "$repo" && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m two && cd - >/dev/null
    second=$(revision_of "$repo")
    head=$(cd "$repo" && git rev-parse --short HEAD)
    if [ -n "$first" ] && [ "$second" = "$head" ] && [ "$first" != "$second" ]; then
        pass "a commit after configure changes the revision ($first -> $second)"
    else
        fail "revision after a second commit: '$first' then '$second' (HEAD $head)"
    fi
    echo change > "$repo/file" && (cd "$repo" && git add file)
    dirty=$(revision_of "$repo")
    [ "$dirty" = "$head-dirty" ] && pass "uncommitted changes read as $dirty" \
        || fail "uncommitted changes read as '$dirty', not $head-dirty"
    # a tarball unpacked inside a checkout names the tarball, not the checkout
    mkdir -p "$repo/sub" && echo 1234abc > "$repo/sub/.tarball-revision"
    inner=$(revision_of "$repo/sub")
    [ "$inner" = 1234abc ] && pass "a tarball inside a checkout names its own revision" \
        || fail "a tarball inside a checkout names '$inner', not 1234abc"
else
    echo "note: no git; the git cases are not run"
fi
mkdir -p "$work/bare"
[ "$(revision_of "$work/bare")" = unknown ] && pass "no .git and no tarball file: unknown" \
    || fail "no .git and no tarball file: '$(revision_of "$work/bare")', not unknown"
given=$(revision_of "$work/bare" SHIFTNAS_REVISION='v1.2"; rm -rf x')
[ "$given" = 'v1.2rm-rfx' ] && pass "SHIFTNAS_REVISION is used, stripped to safe characters ($given)" \
    || fail "SHIFTNAS_REVISION='v1.2\"; rm -rf x' read as '$given'"
[ "$failures" -eq 0 ]
