# src/cli: the shiftnas program.
shiftnas_SOURCES += \
	src/cli/main.c \
	src/cli/commands.h \
	src/cli/command_train.c \
	src/cli/command_data.c \
	src/cli/command_config.c \
	src/cli/command_space.c \
	src/cli/command_search.c \
	src/cli/command_inspect.c \
	src/cli/command_report.c \
	src/cli/gnuplot.c \
	src/cli/gnuplot.h
# SHIFTNAS_INJECT_FAULT, in a build configured with --enable-fault-injection.
if FAULT_INJECTION
shiftnas_SOURCES += src/cli/fault_injection.c
endif
