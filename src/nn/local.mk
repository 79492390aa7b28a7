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
