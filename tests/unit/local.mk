# tests/unit: one Check program per part of the library.
# Add a suite: name it tests/unit/test_PART.c and add three lines below.
gradcheck_sources = tests/unit/gradcheck.c tests/unit/gradcheck.h

check_PROGRAMS += tests/unit/test_core
TESTS += tests/unit/test_core
tests_unit_test_core_SOURCES = tests/unit/test_core.c
tests_unit_test_core_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_core_LDADD = $(TEST_LIBS)

# tests/unit/test_data: IDX/HDF5 readers, split, batches, fuzz regression replay.
check_PROGRAMS += tests/unit/test_data
TESTS += tests/unit/test_data
tests_unit_test_data_SOURCES = tests/unit/test_data.c
tests_unit_test_data_CPPFLAGS = $(AM_CPPFLAGS) -DTEST_SOURCE_DIR='"$(abs_top_srcdir)"'
tests_unit_test_data_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_data_LDADD = $(TEST_LIBS)
