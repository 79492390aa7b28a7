# src/io run files: the model file (trained weights, written atomically) and
# the run log (subnet and probability-update rows), both HDF5.
libshiftnas_internal_la_SOURCES += \
	src/io/model_file.c \
	src/io/run_log.c
shiftnasinclude_HEADERS += include/shiftnas/runfiles.h
