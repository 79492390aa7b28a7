# tests/fuzz: libFuzzer targets for the data readers (configure --enable-fuzzers,
# CC=clang). Each binary compiles the reader sources itself so it runs without
# libtool's wrapper (per-target CFLAGS keep its objects apart from the library's). Run, e.g.:
#   tests/fuzz/fuzz_idx -max_total_time=600 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
#       /tmp/idx-corpus $(srcdir)/tests/fuzz/corpus/idx
# The seed corpora and the crash regressions (replayed by tests/unit/test_data)
# ship with the sources.
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/regressions tests/fuzz/lsan.supp

if ENABLE_FUZZERS
fuzz_reader_sources = \
	src/core/error.c \
	src/core/rng.c \
	src/io/idx.c \
	src/io/hdf5_images.c \
	src/io/hdf5_file.c \
	src/io/hdf5_lock.c \
	src/io/dataset.c

check_PROGRAMS += tests/fuzz/fuzz_idx tests/fuzz/fuzz_hdf5
tests_fuzz_fuzz_idx_SOURCES = tests/fuzz/fuzz_idx.c $(fuzz_reader_sources)
tests_fuzz_fuzz_idx_CFLAGS = $(AM_CFLAGS)
tests_fuzz_fuzz_idx_LDFLAGS = $(AM_LDFLAGS) $(FUZZER_LDFLAGS)
tests_fuzz_fuzz_idx_LDADD = $(SHIFTNAS_DEPENDENCY_LIBS)
tests_fuzz_fuzz_hdf5_SOURCES = tests/fuzz/fuzz_hdf5.c $(fuzz_reader_sources)
tests_fuzz_fuzz_hdf5_CFLAGS = $(AM_CFLAGS)
tests_fuzz_fuzz_hdf5_LDFLAGS = $(AM_LDFLAGS) $(FUZZER_LDFLAGS)
tests_fuzz_fuzz_hdf5_LDADD = $(SHIFTNAS_DEPENDENCY_LIBS)

# `make fuzzers` builds just the two targets.
fuzzers: tests/fuzz/fuzz_idx$(EXEEXT) tests/fuzz/fuzz_hdf5$(EXEEXT)
endif
