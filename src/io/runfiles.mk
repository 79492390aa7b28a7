# src/io run files: the model file (trained weights, written atomically),
# the run log (subnet and probability-update rows), both HDF5, and the search
# table (search.csv); each with its reader.
libshiftnas_internal_la_SOURCES += \
	src/io/model_file.c \
	src/io/run_log.c \
	src/io/search_table.c \
	src/io/text_table.c \
	src/io/text_table.h
shiftnasinclude_HEADERS += include/shiftnas/runfiles.h
# Exported subnets and evaluation logits: HDF5 files of named tensors.
libshiftnas_internal_la_SOURCES += \
	src/io/export_file.c
shiftnasinclude_HEADERS += include/shiftnas/export.h
# One writer per run directory: the advisory lock on DIR/.shiftnas.lock.
libshiftnas_internal_la_SOURCES += \
	src/io/run_lock.c
shiftnasinclude_HEADERS += include/shiftnas/run_lock.h
# probes.csv: the inherited-weight figures of a probe panel's subnets
# (`shiftnas probe`), written whole and atomically.
libshiftnas_internal_la_SOURCES += \
	src/io/probe_table.c
