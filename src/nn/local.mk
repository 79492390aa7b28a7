# src/nn: layers as explicit forward and backward functions.
# (conv / norm / activation / elementwise / regularisers)
libshiftnas_la_SOURCES += \
	src/nn/conv_window.h \
	src/nn/simd.h \
	src/nn/conv2d.c \
	src/nn/depthwise_conv2d.c \
	src/nn/batchnorm.c \
	src/nn/activation.c \
	src/nn/elementwise.c \
	src/nn/regularizer.c
shiftnasinclude_HEADERS += include/shiftnas/nn.h
