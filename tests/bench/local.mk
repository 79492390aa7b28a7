# tests/bench: `make bench` (not part of make check: timings live here, never in unit tests).
EXTRA_PROGRAMS = tests/bench/bench_shiftnas
tests_bench_bench_shiftnas_SOURCES = tests/bench/bench_shiftnas.c tests/bench/measure.c \
	tests/bench/measure.h tests/bench/kernel_choice.c tests/bench/kernel_choice.h \
	tests/bench/layer_roofline.c tests/bench/layer_roofline.h tests/bench/layer_ops.c \
	tests/bench/layer_ops.h
tests_bench_bench_shiftnas_LDADD = libshiftnas.la $(SHIFTNAS_DEPENDENCY_LIBS)
CLEANFILES += tests/bench/bench_shiftnas bench-results.md
EXTRA_DIST += tests/bench/run-bench.sh tests/bench/torch_baseline.py
EXTRA_DIST += tests/bench/bench-common.sh tests/bench/distributed-bench.sh tests/bench/scaling_model.py tests/bench/input-bench.sh
EXTRA_DIST += tests/bench/epoch-scaling-bench.sh

bench: tests/bench/bench_shiftnas$(EXEEXT) shiftnas$(EXEEXT) tests/tools/make_image_set$(EXEEXT)
	BUILD_DIR='$(abs_top_builddir)' SOURCE_DIR='$(abs_top_srcdir)' $(SHELL) $(top_srcdir)/tests/bench/run-bench.sh

# Checkpoint writing: the coordinator alone (serial HDF5) against every rank
# collectively (parallel HDF5), at 1 and 2 ranks, and its cost against
# training steps. Runs before the main bench (a prerequisite of `bench`) and
# writes bench-checkpoint.md; BENCH_CHECKPOINT=0 leaves it out.
EXTRA_PROGRAMS += tests/bench/checkpoint_bench
tests_bench_checkpoint_bench_SOURCES = tests/bench/checkpoint_bench.c
tests_bench_checkpoint_bench_LDADD = libshiftnas.la $(SHIFTNAS_DEPENDENCY_LIBS)
CLEANFILES += tests/bench/checkpoint_bench bench-checkpoint.md
EXTRA_DIST += tests/bench/checkpoint-bench.sh

.PHONY: bench-checkpoint
bench: bench-checkpoint
bench-checkpoint: tests/bench/checkpoint_bench$(EXEEXT) tests/bench/bench_shiftnas$(EXEEXT) shiftnas$(EXEEXT)
	@if [ "$${BENCH_CHECKPOINT:-1}" != 0 ]; then \
	  : >bench-checkpoint.md; \
	  BUILD_DIR='$(abs_top_builddir)' SOURCE_DIR='$(abs_top_srcdir)' MPIRUN='$(MPIRUN)' \
	    $(SHELL) $(top_srcdir)/tests/bench/checkpoint-bench.sh bench-checkpoint.md; \
	fi

# The per-image transforms alone, microseconds per image (not part of `make bench`):
# make tests/bench/transform_bench && ./tests/bench/transform_bench
EXTRA_PROGRAMS += tests/bench/transform_bench
tests_bench_transform_bench_SOURCES = tests/bench/transform_bench.c
tests_bench_transform_bench_LDADD = libshiftnas.la $(SHIFTNAS_DEPENDENCY_LIBS)
CLEANFILES += tests/bench/transform_bench

# AutoFormer-T at 224x224 (issue 15): the space's smallest and largest subnet
# (sliced) and the masked step of `shiftnas train` against PyTorch twins of
# the same subnets (tests/bench/torch_autoformer.py, MACs and parameters
# checked against `shiftnas space`); writes bench-autoformer.md.
# BENCH_AUTOFORMER=0 leaves it out. It follows bench-checkpoint so that the
# two timed sections never share the machine under make -j; alone:
# BENCH_CHECKPOINT=0 make bench-autoformer, or the script itself.
EXTRA_DIST += tests/bench/autoformer-bench.sh tests/bench/torch_autoformer.py
CLEANFILES += bench-autoformer.md

.PHONY: bench-autoformer
bench: bench-autoformer
bench-autoformer: bench-checkpoint shiftnas$(EXEEXT) tests/tools/make_image_set$(EXEEXT) tests/bench/bench_shiftnas$(EXEEXT)
	@if [ "$${BENCH_AUTOFORMER:-1}" != 0 ]; then \
	  : >bench-autoformer.md; \
	  BUILD_DIR='$(abs_top_builddir)' SOURCE_DIR='$(abs_top_srcdir)' \
	    $(SHELL) $(top_srcdir)/tests/bench/autoformer-bench.sh bench-autoformer.md; \
	fi

# The depthwise convolutions of the largest cnn-space subnet alone, CPU time
# per call (not part of `make bench`; for A/B runs of the kernels):
# make tests/bench/depthwise_bench && ./tests/bench/depthwise_bench [REPEATS [SHARD]]
EXTRA_PROGRAMS += tests/bench/depthwise_bench
tests_bench_depthwise_bench_SOURCES = tests/bench/depthwise_bench.c
tests_bench_depthwise_bench_LDADD = libshiftnas.la $(SHIFTNAS_DEPENDENCY_LIBS)
CLEANFILES += tests/bench/depthwise_bench
# Supernet subnets against PyTorch twins (issue 18): the smallest, a middle
# and the largest subnet of cnn-space.ini and vit-space.ini, `shiftnas train`
# (search.strategy = fixed) against tests/bench/torch_subnet_twin.py (MACs
# and parameters checked against `shiftnas space`), PyTorch on the BLIS
# kernels it gets by itself and on shiftnas's; then the largest subnets'
# steps layer by layer against a roofline (bench_shiftnas layers) and the
# BLIS configurations measured (bench_shiftnas kernels). Writes
# bench-subnets.md; BENCH_SUBNETS=0 leaves it out. It follows
# bench-autoformer so that timed sections never share the machine under
# make -j; alone: BENCH_CHECKPOINT=0 BENCH_AUTOFORMER=0 make bench-subnets,
# or the script itself.
EXTRA_DIST += tests/bench/subnet-bench.sh tests/bench/torch_subnet_twin.py \
	tests/bench/timed-train.sh
CLEANFILES += bench-subnets.md

.PHONY: bench-subnets
bench: bench-subnets
bench-subnets: bench-autoformer shiftnas$(EXEEXT) tests/bench/bench_shiftnas$(EXEEXT)
	@if [ "$${BENCH_SUBNETS:-1}" != 0 ]; then \
	  : >bench-subnets.md; \
	  BUILD_DIR='$(abs_top_builddir)' SOURCE_DIR='$(abs_top_srcdir)' \
	    $(SHELL) $(top_srcdir)/tests/bench/subnet-bench.sh bench-subnets.md; \
	fi
# How many batch-norm recalibration images keep the search's ranking of
# candidates (not part of `make bench`; doc/algorithm.md has its table):
# make tests/bench/recalibration_ranking && ./tests/bench/recalibration_ranking RUN_DIR
EXTRA_PROGRAMS += tests/bench/recalibration_ranking
tests_bench_recalibration_ranking_SOURCES = tests/bench/recalibration_ranking.c
tests_bench_recalibration_ranking_LDADD = libshiftnas.la $(SHIFTNAS_DEPENDENCY_LIBS)
CLEANFILES += tests/bench/recalibration_ranking
