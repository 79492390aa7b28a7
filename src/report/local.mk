# src/report: `shiftnas report` — finished runs (or their summaries) into
# tables (report.md) and gnuplot plots, arms compared seed by seed
# (doc/report.md).
libshiftnas_internal_la_SOURCES += \
	src/report/report_internal.h \
	src/report/statistics.c \
	src/report/inference.c \
	src/report/targets.c \
	src/report/fields.c \
	src/report/probes.c \
	src/report/run_metrics.c \
	src/report/run_summary.c \
	src/report/runs.c \
	src/report/aggregate.c \
	src/report/paired.c \
	src/report/standalone.c \
	src/report/training.c \
	src/report/shift_signal.c \
	src/report/arm_variants.c \
	src/report/tables.c \
	src/report/plots.c
shiftnasinclude_HEADERS += include/shiftnas/report.h
