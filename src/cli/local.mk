# src/cli: the shiftnas program.
shiftnas_SOURCES += \
	src/cli/main.c \
	src/cli/commands.h \
	src/cli/bitmap_font.c \
	src/cli/bitmap_font.h \
	src/cli/canvas.c \
	src/cli/canvas.h \
	src/cli/config_resolve.c \
	src/cli/config_resolve.h \
	src/cli/directory_lock.c \
	src/cli/directory_lock.h \
	src/cli/json_writer.c \
	src/cli/json_writer.h \
	src/cli/option_values.c \
	src/cli/option_values.h \
	src/cli/command_train.c \
	src/cli/command_data.c \
	src/cli/command_config.c \
	src/cli/command_space.c \
	src/cli/histogram_plot.c \
	src/cli/histogram_plot.h \
	src/cli/command_search.c \
	src/cli/search_ranks.c \
	src/cli/search_ranks.h \
	src/cli/command_probe.c \
	src/cli/space_probes.c \
	src/cli/space_probes.h \
	src/cli/command_export.c \
	src/cli/command_inspect.c \
	src/cli/command_report.c \
	src/cli/gnuplot.c \
	src/cli/gnuplot.h
# SHIFTNAS_INJECT_FAULT, in a build configured with --enable-fault-injection.
if FAULT_INJECTION
shiftnas_SOURCES += src/cli/fault_injection.c
endif
