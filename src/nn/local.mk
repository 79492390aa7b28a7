# src/nn

# Transformer parts, linear, losses and the LSTM cell.
libshiftnas_la_SOURCES += \
	src/nn/attention.c \
	src/nn/layernorm.c \
	src/nn/linear.c \
	src/nn/loss.c \
	src/nn/lstm.c \
	src/nn/patch_embed.c
