# src/dist: the ranks of a run (start-up, failure agreement, collectives,
# logical shards) and the exact data-parallel gradient reduction.
libshiftnas_la_SOURCES += \
	src/dist/communicator.c
shiftnasinclude_HEADERS += include/shiftnas/dist.h
