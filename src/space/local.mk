# src/space: search spaces, architectures and their text form, the FLOPs counter.
libshiftnas_internal_la_SOURCES += \
	src/space/space.c \
	src/space/architecture_text.c \
	src/space/flops.c \
	src/space/macs_text.c
shiftnasinclude_HEADERS += \
	include/shiftnas/space.h
