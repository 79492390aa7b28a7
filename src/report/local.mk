# src/report: `shiftnas report` — finished runs into tables (report.md) and
# gnuplot plots (doc/report.md).
libshiftnas_internal_la_SOURCES += \
	src/report/report_internal.h \
	src/report/statistics.c \
	src/report/targets.c \
	src/report/runs.c \
	src/report/aggregate.c \
	src/report/tables.c \
	src/report/plots.c
shiftnasinclude_HEADERS += include/shiftnas/report.h
