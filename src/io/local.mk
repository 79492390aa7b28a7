# src/io

# The run configuration (INI via libinih): key table, parsing, --set,
# validation, writing and the Markdown key reference.
libshiftnas_la_SOURCES += \
	src/io/config.c
shiftnasinclude_HEADERS += include/shiftnas/config.h
