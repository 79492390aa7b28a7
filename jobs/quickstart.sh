#!/usr/bin/env bash
# shiftnas quick start, for a fresh Debian 12 machine (run as root, or with sudo
# rights for apt-get).
#
#   jobs/quickstart.sh          install what is missing, build, run the main job
#   jobs/quickstart.sh --test   install what is missing (also what the tests
#                               need), build, run the test suite
#
# The main job trains the CNN supernet of jobs/configs/cnn-space.ini on
# Fashion-MNIST (Debian's dataset-fashion-mnist) the ShiftNAS way (probability
# shift + architecture generator) across 2 MPI ranks for its whole schedule
# (8 epochs, a few minutes), then searches the best subnets for three MACs
# targets across the space's range on the same 2 ranks.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

# The Debian packages, the same as README.md's apt-get line (tests/cli/test_cli.sh
# checks that they agree): to build and run the main job ...
packages=(build-essential autoconf automake libtool pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev
          hdf5-tools libblis-dev libblis-pthread-dev check zlib1g-dev libinih-dev libjpeg-dev libpng-dev
          dataset-fashion-mnist gnuplot-nox git)
# ... and for the tests: make check (h5py, the export's PyTorch and ONNX) and
# make check-slurm (a one-node Slurm cluster; .ci/run runs both).
test_packages=(python3-h5py python3-torch python3-onnx
               slurm-wlm slurmctld slurmd slurm-client munge)

# install_missing PACKAGE...: apt-get install those not installed yet.
install_missing() {
    local missing=()
    for p in "$@"; do
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

# build [--enable-fault-injection]: configure (once) and make. The test
# suite's failure tests need fault injection (SHIFTNAS_INJECT_FAULT): a tree
# configured without it is configured again.
build() {
    echo "== building"
    [ -x configure ] || autoreconf -fi
    if [ ! -f Makefile ] ||
       { [ "${1:-}" = --enable-fault-injection ] &&
         ! grep -q '^#define SHIFTNAS_FAULT_INJECTION 1' config.h; }; then
        ./configure -q "$@"
    fi
    make -j"$(nproc)" -s
}

mode=${1:-run}
case "$mode" in
    --test)
        install_missing "${packages[@]}" "${test_packages[@]}"
        build --enable-fault-injection
        echo "== make check"
        make -j"$(nproc)" check
        ;;
    run|--run)
        install_missing "${packages[@]}"
        build
        run_dir=runs/quickstart-$(date +%Y%m%d-%H%M%S)
        echo "== training the CNN supernet with probability shift (run directory $run_dir)"
        # The configuration's own schedule (8 epochs) on 2 ranks, one core
        # each; the result is the same bits on any number of ranks
        # (doc/distributed.md).
        if [ "$(id -u)" -eq 0 ]; then
            export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
        fi
        oversubscribe=""
        [ "$(nproc)" -ge 2 ] || oversubscribe=--oversubscribe
        mpirun $oversubscribe -np 2 ./shiftnas train --config jobs/configs/cnn-space.ini --out "$run_dir"
        echo "== searching the best subnets for 2.5M, 5M and 8M MACs (on the same 2 ranks)"
        mpirun $oversubscribe -np 2 ./shiftnas search "$run_dir" --targets 2.5M,5M,8M
        echo "== results: $run_dir/search.csv; run log: $run_dir/log.h5"
        ;;
    -h|--help)
        sed -n '2,12p' "$0"
        ;;
    *)
        echo "usage: jobs/quickstart.sh [--test]" >&2
        exit 2
        ;;
esac
