# src/nn: layers, networks, optimisers.
libshiftnas_la_SOURCES += \
	src/nn/network.c \
	src/nn/network_internal.h \
	src/nn/network_cnn.c \
	src/nn/network_vit.c
shiftnasinclude_HEADERS += \
	include/shiftnas/network.h
