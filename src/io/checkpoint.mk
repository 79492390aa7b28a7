# src/io checkpoint files: HDF5 behind a size-and-CRC header in the user
# block (checkpoint_header.c), datasets and attributes (checkpoint.c), and the
# run's checkpoints directory: atomic publication, latest, pruning.
libshiftnas_internal_la_SOURCES += \
	src/io/checkpoint.c \
	src/io/checkpoint_header.c \
	src/io/checkpoint_header.h \
	src/io/checkpoint_directory.c
shiftnasinclude_HEADERS += include/shiftnas/checkpoint.h
