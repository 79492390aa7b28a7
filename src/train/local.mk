# src/train: the training loop, progress lines, metrics.
libshiftnas_internal_la_SOURCES += \
	src/train/trainer.c \
	src/train/run_data.c \
	src/train/progress.c \
	src/train/metrics.c \
	src/train/recalibrate.c \
	src/train/supernet_training.c \
	src/train/supernet_training.h \
	src/train/data_parallel.c \
	src/train/data_parallel.h \
	src/train/subnet_evaluation.c \
	src/train/trained_run.c \
	src/train/checkpointing.c \
	src/train/checkpointing.h \
	src/train/stop_request.c \
	src/train/stop_request.h
shiftnasinclude_HEADERS += \
	include/shiftnas/train.h
