# src/nn

# Optimisers, learning-rate schedule, gradient clipping and the NaN/Inf guard.
libshiftnas_la_SOURCES += \
	src/nn/optimizer.c \
	src/nn/schedule.c \
	src/nn/gradient.c
shiftnasinclude_HEADERS += include/shiftnas/optim.h
