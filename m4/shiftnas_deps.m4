# Hand-written checks for shiftnas's dependencies.

# SHIFTNAS_REQUIRE_PKG(VARIABLE-PREFIX, PKG-CONFIG-MODULE, DEBIAN-PACKAGE)
# pkg-config lookup whose failure names the Debian package to install.
AC_DEFUN([SHIFTNAS_REQUIRE_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [],
    [AC_MSG_ERROR([pkg-config module '$2' not found: install the Debian package $3 (apt-get install $3)])])
])

# The checkpoint and data code writes collectively, so a serial HDF5 is refused.
AC_DEFUN([SHIFTNAS_REQUIRE_PARALLEL_HDF5], [
  AC_CACHE_CHECK([whether HDF5 is built with parallel (MPI-IO) support], [shiftnas_cv_hdf5_parallel], [
    shiftnas_save_CPPFLAGS=$CPPFLAGS
    CPPFLAGS="$CPPFLAGS $HDF5_CFLAGS $MPI_CFLAGS"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[#include <hdf5.h>
#if !defined(H5_HAVE_PARALLEL) || !H5_HAVE_PARALLEL
#error serial HDF5
#endif]], [[]])], [shiftnas_cv_hdf5_parallel=yes], [shiftnas_cv_hdf5_parallel=no])
    CPPFLAGS=$shiftnas_save_CPPFLAGS])
  AS_IF([test "x$shiftnas_cv_hdf5_parallel" != xyes],
    [AC_MSG_ERROR([HDF5 lacks parallel support (H5_HAVE_PARALLEL): install the Debian package libhdf5-openmpi-dev])])
])

# BLIS ships no pkg-config file: look for blis.h and libblis directly.
# Debian ships BLIS in three threading flavours side by side (openmp, pthread,
# serial) and points the plain libblis.so at one of them (openmp, by
# priority). The openmp flavour enters an OpenMP region on every product, even
# with one thread: about three futex calls per product, which the attention
# layer's thousands of small products per step turn into a ~30% slowdown
# (doc/performance.md). So the pthread flavour is linked by default when it is
# installed, with an rpath so that the loader does not pick the other one.
AC_DEFUN([SHIFTNAS_REQUIRE_BLIS], [
  AC_ARG_VAR([BLIS_CFLAGS], [C compiler flags for BLIS])
  AC_ARG_VAR([BLIS_LIBS], [linker flags for BLIS (default: -lblis -lm)])
  AC_ARG_WITH([blis-threading],
    [AS_HELP_STRING([--with-blis-threading=FLAVOUR],
      [Debian BLIS flavour to link: pthread, openmp, serial, or system (whatever libblis.so is);
       default: pthread when libblis-pthread-dev is installed, else system])],
    [], [with_blis_threading=auto])
  shiftnas_multiarch=`$CC -print-multiarch 2>/dev/null`
  AS_IF([test "x$with_blis_threading" = xauto], [
    AS_IF([test -n "$shiftnas_multiarch" && test -f "/usr/include/$shiftnas_multiarch/blis-pthread/blis.h"],
      [with_blis_threading=pthread], [with_blis_threading=system])
  ])
  AS_IF([test -z "$BLIS_CFLAGS$BLIS_LIBS" && test "x$with_blis_threading" != xsystem], [
    shiftnas_blis_include="/usr/include/$shiftnas_multiarch/blis-$with_blis_threading"
    shiftnas_blis_lib="/usr/lib/$shiftnas_multiarch/blis-$with_blis_threading"
    AS_IF([test ! -f "$shiftnas_blis_include/blis.h" || test ! -f "$shiftnas_blis_lib/libblis.so"],
      [AC_MSG_ERROR([BLIS flavour '$with_blis_threading' not found: install the Debian package libblis-$with_blis_threading-dev])])
    BLIS_CFLAGS="-isystem $shiftnas_blis_include"
    BLIS_LIBS="-L$shiftnas_blis_lib -Wl,-rpath,$shiftnas_blis_lib -lblis -lm"
  ])
  AS_IF([test -z "$BLIS_LIBS"], [BLIS_LIBS="-lblis -lm"])
  AC_MSG_CHECKING([which BLIS threading flavour to link])
  AC_MSG_RESULT([$with_blis_threading])
  shiftnas_save_CPPFLAGS=$CPPFLAGS
  shiftnas_save_LIBS=$LIBS
  CPPFLAGS="$CPPFLAGS $BLIS_CFLAGS"
  AC_CHECK_HEADER([blis.h], [],
    [AC_MSG_ERROR([blis.h not found: install the Debian package libblis-pthread-dev (or libblis-dev)])])
  LIBS="$BLIS_LIBS $LIBS"
  AC_MSG_CHECKING([for bli_sgemm in BLIS])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <blis.h>]], [[bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no]); AC_MSG_ERROR([cannot link BLIS: install the Debian package libblis-pthread-dev (or libblis-dev)])])
  CPPFLAGS=$shiftnas_save_CPPFLAGS
  LIBS=$shiftnas_save_LIBS
  AC_SUBST([BLIS_CFLAGS])
  AC_SUBST([BLIS_LIBS])
])
