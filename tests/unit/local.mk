# tests/unit: one Check program per part of the library.
# Add a suite: name it tests/unit/test_PART.c and add three lines below.
gradcheck_sources = tests/unit/gradcheck.c tests/unit/gradcheck.h

check_PROGRAMS += tests/unit/test_core
TESTS += tests/unit/test_core
tests_unit_test_core_SOURCES = tests/unit/test_core.c
tests_unit_test_core_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_core_LDADD = $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_nn_conv
TESTS += tests/unit/test_nn_conv
tests_unit_test_nn_conv_SOURCES = tests/unit/test_nn_conv.c $(gradcheck_sources)
tests_unit_test_nn_conv_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_nn_conv_LDADD = $(TEST_LIBS)
