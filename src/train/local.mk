# src/train: the training loop, progress lines, metrics, and the settings of
# every part of the library made from the configuration (settings.c).
libshiftnas_internal_la_SOURCES += \
	src/train/trainer.c \
	src/train/trainer_internal.h \
	src/train/trainer_setup.c \
	src/train/trainer_start.c \
	src/train/trainer_step.c \
	src/train/trainer_epoch.c \
	src/train/trainer_checkpoint.c \
	src/train/trainer_summary.c \
	src/train/run_directory.c \
	src/train/run_directory.h \
	src/train/run_data.c \
	src/train/progress.c \
	src/train/metrics.c \
	src/train/recalibrate.c \
	src/train/supernet_training.c \
	src/train/supernet_training.h \
	src/train/shift_target_input.c \
	src/train/shift_target_input.h \
	src/train/data_parallel.c \
	src/train/data_parallel.h \
	src/train/subnet_evaluation.c \
	src/train/subnet_evaluation.h \
	src/train/trained_run.c \
	src/train/held_out.c \
	src/train/subnet_export.c \
	src/train/checkpointing.c \
	src/train/checkpointing.h \
	src/train/stop_request.c \
	src/train/stop_request.h \
	src/train/settings.c
# Fault points for the failure tests, with --enable-fault-injection only.
libshiftnas_internal_la_SOURCES += src/train/fault_injection.h
if FAULT_INJECTION
libshiftnas_internal_la_SOURCES += src/train/fault_injection.c
endif
shiftnasinclude_HEADERS += \
	include/shiftnas/settings.h \
	include/shiftnas/train.h
