# src/search (sampling side): FLOPs buckets, subnet samplers, probability shift.
libshiftnas_internal_la_SOURCES += \
	src/search/buckets.c \
	src/search/bucket_search.c \
	src/search/samplers.c \
	src/search/search_internal.h \
	src/search/shift.c \
	src/search/shift_gradient.c \
	src/search/shift_state.c \
	src/search/shift_internal.h
shiftnasinclude_HEADERS += \
	include/shiftnas/sampler.h
