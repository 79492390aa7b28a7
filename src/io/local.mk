# src/io: the run configuration, image sets (IDX, HDF5), the validation split, batches.
# The run configuration (INI via libinih): key table, parsing, --set,
# validation, writing and the Markdown key reference.
libshiftnas_la_SOURCES += \
	src/io/config.c
shiftnasinclude_HEADERS += include/shiftnas/config.h
libshiftnas_la_SOURCES += \
	src/io/idx.c \
	src/io/hdf5_images.c \
	src/io/dataset.c
shiftnasinclude_HEADERS += include/shiftnas/data.h
# Per-image transforms: random resized crop, evaluation crop, bilinear resampling.
libshiftnas_la_SOURCES += \
	src/io/image_transform.c
shiftnasinclude_HEADERS += include/shiftnas/image_transform.h
# PNG plots (zlib), e.g. `shiftnas space --plot`.
libshiftnas_la_SOURCES += \
	src/io/png.c
shiftnasinclude_HEADERS += include/shiftnas/png.h
