# src/core: errors, random numbers, matrix views and slabs, numbers as text.
libshiftnas_internal_la_SOURCES += \
	src/core/error.c \
	src/core/format.c \
	src/core/rng.c \
	src/core/tensor.c
shiftnasinclude_HEADERS += \
	include/shiftnas/error.h \
	include/shiftnas/format.h \
	include/shiftnas/rng.h \
	include/shiftnas/tensor.h
