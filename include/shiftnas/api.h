/*
 * shiftnas/api.h — what libshiftnas exports.
 *
 * The library is built with -fvisibility=hidden: a function is visible to
 * programs that link the shared library only if its declaration in a header
 * of include/shiftnas starts with SN_API (and so does an exported variable).
 * What is declared in the headers next to the sources (src/dist/
 * dist_internal.h, the headers in src/train, ...) stays inside the library,
 * free to change; the unit tests that need it link the convenience library
 * libshiftnas_internal.la instead of the shared one.
 * tests/unit/test_exports.sh checks that the exported symbols and the SN_API
 * declarations are the same list.
 */
#ifndef SHIFTNAS_API_H
#define SHIFTNAS_API_H

#if defined(__GNUC__) || defined(__clang__)
#define SN_API __attribute__((visibility("default")))
#else
#define SN_API
#endif

#endif
