# src/dist: the ranks of a run (start-up, failure agreement, collectives,
# logical shards) behind the opaque handle of shiftnas/dist.h; the MPI side
# of the handle is in dist_internal.h. The exact sum that makes the gradient
# reduction independent of the rank count is in exact_sum.mk; the reduction
# itself is src/train/data_parallel.c.
libshiftnas_internal_la_SOURCES += \
	src/dist/communicator.c \
	src/dist/dist_internal.h
shiftnasinclude_HEADERS += include/shiftnas/dist.h
