# src/nn: layers, networks, optimisers.
libshiftnas_la_SOURCES += \
	src/nn/network.c \
	src/nn/network_internal.h \
	src/nn/network_cnn.c \
	src/nn/network_vit.c
shiftnasinclude_HEADERS += \
	include/shiftnas/network.h

# Transformer parts, linear, losses and the LSTM cell.
libshiftnas_la_SOURCES += \
	src/nn/attention.c \
	src/nn/layernorm.c \
	src/nn/linear.c \
	src/nn/loss.c \
	src/nn/lstm.c \
	src/nn/patch_embed.c
# src/nn

# Optimisers, learning-rate schedule, gradient clipping and the NaN/Inf guard.
libshiftnas_la_SOURCES += \
	src/nn/optimizer.c \
	src/nn/schedule.c \
	src/nn/gradient.c
shiftnasinclude_HEADERS += include/shiftnas/optim.h
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
