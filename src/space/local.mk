# src/space: search spaces, architectures and their text form, the FLOPs counter.
libshiftnas_la_SOURCES += \
	src/space/space.c \
	src/space/scaffold.c
shiftnasinclude_HEADERS += \
	include/shiftnas/space.h
