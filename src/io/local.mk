# src/io: the run configuration, image sets (IDX, HDF5), the validation split, batches.
# The run configuration (INI via libinih): key table, parsing, --set,
# validation, writing and the Markdown key reference.
libshiftnas_internal_la_SOURCES += \
	src/io/config.c
shiftnasinclude_HEADERS += include/shiftnas/config.h
libshiftnas_internal_la_SOURCES += \
	src/io/idx.c \
	src/io/hdf5_images.c \
	src/io/dataset.c \
	src/io/load_datasets.c
shiftnasinclude_HEADERS += include/shiftnas/data.h
# Image sources (in memory or streamed from HDF5), the input pipeline and
# the batch prefetcher; the HDF5 lock they share with every HDF5 writer, and
# the one way every HDF5 file is opened or created.
libshiftnas_internal_la_SOURCES += \
	src/io/hdf5_images_internal.h \
	src/io/hdf5_file.c \
	src/io/hdf5_file.h \
	src/io/hdf5_lock.c \
	src/io/hdf5_lock.h \
	src/io/hdf5_stream.c \
	src/io/hdf5_stream.h \
	src/io/write_failure.c \
	src/io/write_failure.h \
	src/io/image_source.c \
	src/io/prefetch.c
shiftnasinclude_HEADERS += include/shiftnas/input.h
# Per-image transforms: random resized crop, evaluation crop, bilinear resampling.
libshiftnas_internal_la_SOURCES += \
	src/io/image_transform.c
shiftnasinclude_HEADERS += include/shiftnas/image_transform.h
# PNG plots (zlib), e.g. `shiftnas space --plot`.
libshiftnas_internal_la_SOURCES += \
	src/io/png.c
shiftnasinclude_HEADERS += include/shiftnas/png.h
