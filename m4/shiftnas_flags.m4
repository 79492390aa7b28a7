# Hand-written macros for compiler flags and build options.

# SHIFTNAS_CHECK_CFLAGS(VARIABLE, FLAGS): append each flag the compiler accepts.
AC_DEFUN([SHIFTNAS_CHECK_CFLAGS], [
  for shiftnas_flag in $2; do
    AC_MSG_CHECKING([whether $CC accepts $shiftnas_flag])
    shiftnas_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -Werror $shiftnas_flag"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
      [AC_MSG_RESULT([yes]); $1="$$1 $shiftnas_flag"], [AC_MSG_RESULT([no])])
    CFLAGS=$shiftnas_save_CFLAGS
  done
])

# --enable-sanitizers: AddressSanitizer + UndefinedBehaviorSanitizer for the whole build.
AC_DEFUN([SHIFTNAS_ENABLE_SANITIZERS], [
  AC_ARG_ENABLE([sanitizers],
    [AS_HELP_STRING([--enable-sanitizers], [build with AddressSanitizer and UBSan])],
    [], [enable_sanitizers=no])
  SANITIZER_CFLAGS=
  AS_IF([test "x$enable_sanitizers" = xyes], [
    SHIFTNAS_CHECK_CFLAGS([SANITIZER_CFLAGS], [-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined])
    AS_IF([test -z "$SANITIZER_CFLAGS"], [AC_MSG_ERROR([$CC does not support -fsanitize=address,undefined])])
  ])
  AC_SUBST([SANITIZER_CFLAGS])
])

# --enable-fuzzers: libFuzzer targets for the data readers (needs clang).
# The whole build is instrumented for coverage, ASan and UBSan (appended to
# SANITIZER_CFLAGS, which AM_CFLAGS and AM_LDFLAGS carry); only the fuzz
# targets link libFuzzer's main (FUZZER_LDFLAGS).
AC_DEFUN([SHIFTNAS_ENABLE_FUZZERS], [
  AC_ARG_ENABLE([fuzzers],
    [AS_HELP_STRING([--enable-fuzzers], [build libFuzzer targets for the IDX and HDF5 readers (CC=clang)])],
    [], [enable_fuzzers=no])
  FUZZER_CFLAGS=
  FUZZER_LDFLAGS=
  AS_IF([test "x$enable_fuzzers" = xyes], [
    SHIFTNAS_CHECK_CFLAGS([FUZZER_CFLAGS], [-fsanitize=fuzzer-no-link,address,undefined])
    AS_IF([test -z "$FUZZER_CFLAGS"], [AC_MSG_ERROR([--enable-fuzzers needs clang with libFuzzer (apt-get install clang libclang-rt-14-dev; CC=clang)])])
    SHIFTNAS_CHECK_CFLAGS([FUZZER_CFLAGS], [-fno-omit-frame-pointer -fno-sanitize-recover=undefined -g])
    AC_MSG_CHECKING([whether $CC links with -fsanitize=fuzzer])
    shiftnas_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -fsanitize=fuzzer"
    AC_LINK_IFELSE([AC_LANG_SOURCE([[#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { (void)data; (void)size; return 0; }]])],
      [AC_MSG_RESULT([yes]); FUZZER_LDFLAGS=-fsanitize=fuzzer],
      [AC_MSG_RESULT([no]); AC_MSG_ERROR([$CC cannot link libFuzzer: apt-get install libclang-rt-14-dev])])
    CFLAGS=$shiftnas_save_CFLAGS
    SANITIZER_CFLAGS="$SANITIZER_CFLAGS $FUZZER_CFLAGS"
  ])
  AM_CONDITIONAL([ENABLE_FUZZERS], [test "x$enable_fuzzers" = xyes])
  AC_SUBST([FUZZER_CFLAGS])
  AC_SUBST([FUZZER_LDFLAGS])
])

# --enable-native: -march=native, for a binary that runs only on CPUs like the
# build machine's (a cluster's own nodes). Off by default: a portable build.
AC_DEFUN([SHIFTNAS_ENABLE_NATIVE], [
  AC_ARG_ENABLE([native],
    [AS_HELP_STRING([--enable-native], [optimise for this machine's CPU (-march=native)])],
    [], [enable_native=no])
  NATIVE_CFLAGS=
  AS_IF([test "x$enable_native" = xyes], [
    SHIFTNAS_CHECK_CFLAGS([NATIVE_CFLAGS], [-march=native])
  ])
  AC_SUBST([NATIVE_CFLAGS])
])

# --enable-fault-injection: honour SHIFTNAS_INJECT_FAULT=RANK:STEP:KIND, the
# failures the tests inject into a training run (a killed rank, a stop
# request, a checkpoint write killed half way, an I/O error, a NaN loss).
# Off by default, so a user's build holds no such code; the test builds turn
# it on (.ci/run, jobs/quickstart.sh --test, make distcheck), and `shiftnas
# --version` then says "fault injection: on" (how the tests know).
AC_DEFUN([SHIFTNAS_ENABLE_FAULT_INJECTION], [
  AC_ARG_ENABLE([fault-injection],
    [AS_HELP_STRING([--enable-fault-injection], [honour SHIFTNAS_INJECT_FAULT (for the failure tests)])],
    [], [enable_fault_injection=no])
  AS_IF([test "x$enable_fault_injection" = xyes],
    [AC_DEFINE([SHIFTNAS_FAULT_INJECTION], [1],
               [Define to honour SHIFTNAS_INJECT_FAULT (--enable-fault-injection: the failure tests).])])
  AM_CONDITIONAL([FAULT_INJECTION], [test "x$enable_fault_injection" = xyes])
])
