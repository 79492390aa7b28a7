# src/cli: the shiftnas program.
shiftnas_SOURCES += \
	src/cli/main.c
