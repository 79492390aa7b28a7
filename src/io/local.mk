# src/io: image sets (IDX, HDF5), the validation split, batches.
libshiftnas_la_SOURCES += \
	src/io/idx.c \
	src/io/hdf5_images.c \
	src/io/dataset.c
shiftnasinclude_HEADERS += include/shiftnas/data.h
