#!/usr/bin/env bash
# shiftnas quick start, for a fresh Debian 12 machine (run as root, or with sudo
# rights for apt-get).
#
#   jobs/quickstart.sh          install what is missing, build, run the main job
#   jobs/quickstart.sh --test   install what is missing, build, run the test suite
#
# The main job trains the fixed CNN of jobs/configs/cnn-fixed.ini on
# Fashion-MNIST (Debian's dataset-fashion-mnist) and prints its test accuracy.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

packages=(build-essential autoconf automake libtool pkg-config libopenmpi-dev openmpi-bin
          libhdf5-openmpi-dev hdf5-tools libblis-dev libblis-pthread-dev check zlib1g-dev libinih-dev
          dataset-fashion-mnist git)

install_missing() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "== installing: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

build() {
    echo "== building"
    [ -x configure ] || autoreconf -fi
    [ -f Makefile ] || ./configure -q
    make -j"$(nproc)" -s
}

mode=${1:-run}
case "$mode" in
    --test)
        install_missing
        build
        echo "== make check"
        make -j"$(nproc)" check
        ;;
    run|--run)
        install_missing
        build
        run_dir=runs/quickstart-$(date +%Y%m%d-%H%M%S)
        echo "== training the fixed CNN on Fashion-MNIST (run directory $run_dir)"
        ./shiftnas train --config jobs/configs/cnn-fixed.ini --out "$run_dir"
        echo "== metrics: $run_dir/metrics.csv"
        ;;
    -h|--help)
        sed -n '2,9p' "$0"
        ;;
    *)
        echo "usage: jobs/quickstart.sh [--test]" >&2
        exit 2
        ;;
esac
