# tests/bench: `make bench` (not part of make check: timings live here, never in unit tests).
EXTRA_PROGRAMS = tests/bench/bench_shiftnas
tests_bench_bench_shiftnas_SOURCES = tests/bench/bench_shiftnas.c
tests_bench_bench_shiftnas_LDADD = libshiftnas.la $(SHIFTNAS_DEPENDENCY_LIBS)
CLEANFILES += tests/bench/bench_shiftnas bench-results.md
EXTRA_DIST += tests/bench/run-bench.sh tests/bench/torch_baseline.py
EXTRA_DIST += tests/bench/distributed-bench.sh tests/bench/scaling_model.py

bench: tests/bench/bench_shiftnas$(EXEEXT) shiftnas$(EXEEXT)
	BUILD_DIR='$(abs_top_builddir)' SOURCE_DIR='$(abs_top_srcdir)' $(SHELL) $(top_srcdir)/tests/bench/run-bench.sh
