# src/train: the training loop, progress lines, metrics.
libshiftnas_la_SOURCES += \
	src/train/trainer.c \
	src/train/progress.c \
	src/train/metrics.c \
	src/train/recalibrate.c
shiftnasinclude_HEADERS += \
	include/shiftnas/train.h
