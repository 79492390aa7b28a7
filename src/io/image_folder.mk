# src/io image folders: JPEG/PNG decoding (libjpeg-turbo, libpng), the
# shorter-side resampler, and `shiftnas data convert FOLDER` into a chunked
# HDF5 image set on one or many ranks.
libshiftnas_internal_la_SOURCES += \
	src/io/image_decode.c \
	src/io/image_resize.c \
	src/io/image_folder.c
shiftnasinclude_HEADERS += include/shiftnas/image_folder.h
AM_CFLAGS += $(JPEG_CFLAGS) $(PNG_CFLAGS)
SHIFTNAS_DEPENDENCY_LIBS += $(JPEG_LIBS) $(PNG_LIBS)
