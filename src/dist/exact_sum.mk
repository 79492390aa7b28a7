# src/dist/exact_sum: the order-independent float sum behind the gradient
# all-reduce (binned fixed point; bitwise the same for any rank count).
libshiftnas_internal_la_SOURCES += \
	src/dist/exact_sum.c
shiftnasinclude_HEADERS += \
	include/shiftnas/exact_sum.h

check_PROGRAMS += tests/unit/test_exact_sum
TESTS += tests/unit/test_exact_sum
tests_unit_test_exact_sum_SOURCES = tests/unit/test_exact_sum.c
tests_unit_test_exact_sum_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_exact_sum_LDADD = $(TEST_LIBS)
