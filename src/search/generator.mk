# src/search/generator: the architecture generator (LSTM, straight-through
# Gumbel-softmax, resource loss on the exact MAC counter).
libshiftnas_internal_la_SOURCES += \
	src/search/generator.c
shiftnasinclude_HEADERS += \
	include/shiftnas/generator.h
