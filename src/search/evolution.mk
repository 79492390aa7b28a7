# src/search/evolution: the evolutionary search for the best subnet under a
# MAC budget (`shiftnas search`), over a fitness callback.
libshiftnas_internal_la_SOURCES += \
	src/search/evolution.c
shiftnasinclude_HEADERS += \
	include/shiftnas/evolution.h
