# tests/tools: programs the test scripts use to make their inputs.
# make_image_set: HDF5 image sets with 1-4 channels, sizes other than 28,
# synthetic ImageNet-shaped sets, contiguous or one image per chunk.
check_PROGRAMS += tests/tools/make_image_set
tests_tools_make_image_set_SOURCES = tests/tools/make_image_set.c
tests_tools_make_image_set_CFLAGS = $(TEST_CFLAGS)
tests_tools_make_image_set_LDADD = $(TEST_LIBS)
# make_bad_inputs: small HDF5 sets and IDX directories, each wrong in one
# way, for tests/cli/test_inputs.sh.
check_PROGRAMS += tests/tools/make_bad_inputs
tests_tools_make_bad_inputs_SOURCES = tests/tools/make_bad_inputs.c
tests_tools_make_bad_inputs_CFLAGS = $(AM_CFLAGS)
tests_tools_make_bad_inputs_LDADD = $(SHIFTNAS_DEPENDENCY_LIBS)
# Hostile inputs of every class, one clear line each (uses make_bad_inputs
# and tests/cli/image_fixtures).
TESTS += tests/cli/test_inputs.sh
EXTRA_DIST += tests/cli/test_inputs.sh

# Multi-channel and larger images end to end (uses make_image_set).
TESTS += tests/cli/test_channels.sh
EXTRA_DIST += tests/cli/test_channels.sh

# The paper's AutoFormer-T space at 224x224 on a streamed synthetic set.
TESTS += tests/cli/test_autoformer.sh
EXTRA_DIST += tests/cli/test_autoformer.sh

# Searched subnets leave shiftnas: export, the PyTorch rebuild against eval's
# logits, ONNX (uses make_image_set; skipped without python3-torch/-onnx).
TESTS += tests/cli/test_export.sh
EXTRA_DIST += tests/cli/test_export.sh

# Scripts run by hand: the same-bits check across refactors, and the table of
# doc/reliability.md made from the test logs' "reliability:" lines.
EXTRA_DIST += tests/tools/reference-runs.sh tests/tools/compare-runs.sh tests/tools/compare_h5.py \
	tests/tools/reliability-table.sh

# Storage faults (tests/cli/test_storage.sh): fail_writes.so, an LD_PRELOAD
# shim that fails the N-th write-like call on chosen files with a chosen
# errno. Built for the check only, without the sanitizers (it is preloaded
# into an instrumented program), and never linked into shiftnas.
check_LTLIBRARIES = tests/tools/fail_writes.la
tests_tools_fail_writes_la_SOURCES = tests/tools/fail_writes.c
tests_tools_fail_writes_la_CPPFLAGS =
tests_tools_fail_writes_la_CFLAGS = -Wall -O2
tests_tools_fail_writes_la_LDFLAGS = -module -avoid-version -shared -rpath '$(abs_builddir)/tests/tools'
tests_tools_fail_writes_la_LIBADD = -ldl
TESTS += tests/cli/test_storage.sh
EXTRA_DIST += tests/cli/test_storage.sh
