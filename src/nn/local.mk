# src/nn: layers as explicit forward and backward functions, the fixed
# networks, optimisers.
libshiftnas_internal_la_SOURCES += \
	src/nn/conv_window.h \
	src/nn/simd.h \
	src/nn/conv2d.c \
	src/nn/depthwise_conv2d.c \
	src/nn/depthwise_planes.h \
	src/nn/depthwise_planes.c \
	src/nn/batchnorm.c \
	src/nn/layernorm.c \
	src/nn/masked_layernorm.c \
	src/nn/linear.c \
	src/nn/activation.c \
	src/nn/elementwise.c \
	src/nn/regularizer.c \
	src/nn/patch_embed.c \
	src/nn/attention.c \
	src/nn/loss.c \
	src/nn/lstm.c \
	src/nn/network_internal.h \
	src/nn/network.c \
	src/nn/network_cnn.c \
	src/nn/supernet_cnn.h \
	src/nn/supernet_cnn.c \
	src/nn/supernet_cnn_masks.c \
	src/nn/supernet_cnn_subnet.c \
	src/nn/supernet_vit.c \
	src/nn/optimizer.c \
	src/nn/schedule.c \
	src/nn/gradient.c
shiftnasinclude_HEADERS += \
	include/shiftnas/nn.h \
	include/shiftnas/network.h \
	include/shiftnas/optim.h
