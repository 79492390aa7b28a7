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
AC_DEFUN([SHIFTNAS_REQUIRE_BLIS], [
  AC_ARG_VAR([BLIS_CFLAGS], [C compiler flags for BLIS])
  AC_ARG_VAR([BLIS_LIBS], [linker flags for BLIS (default: -lblis -lm)])
  AS_IF([test -z "$BLIS_LIBS"], [BLIS_LIBS="-lblis -lm"])
  shiftnas_save_CPPFLAGS=$CPPFLAGS
  shiftnas_save_LIBS=$LIBS
  CPPFLAGS="$CPPFLAGS $BLIS_CFLAGS"
  AC_CHECK_HEADER([blis.h], [],
    [AC_MSG_ERROR([blis.h not found: install the Debian package libblis-dev (apt-get install libblis-dev)])])
  LIBS="$BLIS_LIBS $LIBS"
  AC_MSG_CHECKING([for bli_sgemm in BLIS])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <blis.h>]], [[bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no]); AC_MSG_ERROR([cannot link BLIS: install the Debian package libblis-dev])])
  CPPFLAGS=$shiftnas_save_CPPFLAGS
  LIBS=$shiftnas_save_LIBS
  AC_SUBST([BLIS_CFLAGS])
  AC_SUBST([BLIS_LIBS])
])
